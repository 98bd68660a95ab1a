// `npm test`: type-checks, lints the proto, checks the generated code is
// current, packs and installs the package in a scratch project, then runs
// the test suite on Node, Bun and Deno. Ends with one line "N passed, N
// failed" counting every test on every runtime plus each check above.
import { spawn } from "node:child_process";

interface Step {
  name: string;
  command: string[];
  /** Parses uvu's totals from the output when the step is a test run. */
  counts?: boolean;
}

const bin = (name: string) => `node_modules/.bin/${name}`;
/** Longer than test/run.ts's own watchdog, which reports the hung suite first. */
const STEP_TIMEOUT_MS = 840_000;
const only = process.argv.slice(2);

/**
 * The steps in stages: a stage's steps run at the same time, and the next
 * stage starts when all of them have ended. The machine has two cores and
 * most of a test run waits on sockets and timers, so pairs run together;
 * the output of a stage with several steps is printed step by step as each
 * one ends, not interleaved.
 */
const stages: Step[][] = [
  [
    { name: "typecheck src (no runtime types)", command: [bin("tsc"), "-p", "tsconfig.json"] },
    { name: "typecheck tests, benchmarks, scripts", command: [bin("tsc"), "-p", "tsconfig.tools.json"] },
  ],
  [{ name: "buf lint", command: [bin("buf"), "lint"] }],
  [{ name: "generated code is current", command: [bin("tsx"), "scripts/check-generated.ts"] }],
  [{ name: "src/version.ts is package.json's version", command: [bin("tsx"), "scripts/sync-version.ts", "--check"] }],
  [{ name: "every MUST traced to a conformance case or untestable.md", command: [bin("tsx"), "conformance/trace.ts"] }],
  [
    { name: "tests on Node", command: [bin("tsx"), "test/run.ts"], counts: true },
    { name: "the packed package installs and runs (Node, Bun, Deno, tsc nodenext, esbuild, npx strata)", command: [bin("tsx"), "scripts/check-installed-package.ts"] },
  ],
  [
    { name: "tests on Bun", command: [bin("bun"), "test/run.ts"], counts: true },
    { name: "tests on Deno", command: [bin("deno"), "run", "-A", "test/run.ts"], counts: true },
  ],
];

/** Runs `step`; with `live`, its output goes to ours as it comes, else it is only collected. */
function run(step: Step, live: boolean): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(step.command[0]!, step.command.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let output = "";
    const forward = (chunk: Buffer, to: NodeJS.WriteStream) => {
      output += chunk.toString();
      if (live) to.write(chunk);
    };
    child.stdout.on("data", (c: Buffer) => forward(c, process.stdout));
    child.stderr.on("data", (c: Buffer) => forward(c, process.stderr));
    // A step that hangs is killed and fails, so CI always ends.
    const timer = setTimeout(() => {
      output += `\n${step.name}: killed after ${STEP_TIMEOUT_MS / 1000} s\n`;
      process.stderr.write(`\n${step.name}: killed after ${STEP_TIMEOUT_MS / 1000} s\n`);
      child.kill("SIGKILL");
    }, STEP_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: 127, output: String(error) });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

function uvuTotals(output: string): { total: number; passed: number; skipped: number } | undefined {
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const total = /Total:\s+(\d+)/.exec(plain);
  const passed = /Passed:\s+(\d+)/.exec(plain);
  const skipped = /Skipped:\s+(\d+)/.exec(plain);
  if (!total || !passed) return undefined;
  return { total: Number(total[1]), passed: Number(passed[1]), skipped: Number(skipped?.[1] ?? 0) };
}

let passed = 0;
let failed = 0;
let skipped = 0;
const summary: string[] = [];
/** Adds a finished step's outcome to the totals and the summary. */
function record(step: Step, code: number, output: string): void {
  if (!step.counts) {
    if (code === 0) passed++;
    else failed++;
    summary.push(`${code === 0 ? "ok  " : "FAIL"} ${step.name}`);
    return;
  }
  const totals = uvuTotals(output);
  if (totals === undefined || totals.total === 0) {
    failed++;
    summary.push(`FAIL ${step.name}: no test totals (exit ${code})`);
    return;
  }
  const stepFailed = totals.total - totals.passed - totals.skipped;
  passed += totals.passed;
  skipped += totals.skipped;
  // A runner that died after printing totals still counts as a failure.
  const extra = stepFailed === 0 && code !== 0 ? 1 : 0;
  failed += stepFailed + extra;
  summary.push(`${stepFailed + extra === 0 ? "ok  " : "FAIL"} ${step.name}: ${totals.passed} passed, ${stepFailed} failed${extra ? `, exit ${code}` : ""}`);
}

const started = performance.now();
for (const stage of stages) {
  const chosen = stage.filter((step) => only.length === 0 || only.some((o) => step.name.toLowerCase().includes(o.toLowerCase())));
  if (chosen.length === 0) continue;
  const live = chosen.length === 1;
  if (!live) process.stdout.write(`\n=== at the same time: ${chosen.map((step) => step.name).join("; ")} (each one's output follows when it ends)\n`);
  await Promise.all(
    chosen.map(async (step) => {
      const at = performance.now();
      if (live) process.stdout.write(`\n=== ${step.name}: ${step.command.join(" ")}\n`);
      const { code, output } = await run(step, live);
      if (!live) process.stdout.write(`\n=== ${step.name}: ${step.command.join(" ")}\n${output}`);
      process.stdout.write(`=== ${step.name}: exit ${code} after ${((performance.now() - at) / 1000).toFixed(0)} s\n`);
      record(step, code, output);
    }),
  );
}
summary.push(`(${((performance.now() - started) / 1000 / 60).toFixed(1)} min)`);

process.stdout.write(`\n${summary.join("\n")}\n\n`);
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}\n`);
process.exitCode = failed === 0 ? 0 : 1;
