// `npm run bench:instructions`: CPU instructions per call, which unlike
// wall-clock time repeat from run to run on a shared machine. Bundles
// workload.ts with esbuild, runs it under `valgrind --tool=callgrind` twice
// per scenario with different call counts, and prints the difference in
// instructions divided by the difference in calls (start-up cancels out).
// Needs valgrind (apt-get install -y valgrind). Compare two commits by
// running it on each.
//
//   npm run bench:instructions [-- --cluster [--policy p2c|round-robin]]
//
// `--cluster` counts, besides the client of one address, a cluster client
// over one server and over three (all in the workload's process), and
// prints each against the client of one address of the same run; all three
// with a 60 s call timeout (see workload.ts).
import { spawnSync } from "node:child_process";
import { build } from "esbuild";
import { benchOptions } from "../options.ts";

const here = new URL(".", import.meta.url).pathname;
const bundle = `${here}../results/instructions-workload.mjs`;
await build({ entryPoints: [`${here}workload.ts`], outfile: bundle, bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "warning" });

const options = benchOptions(["cluster"], [], ["policy"]);
const cluster = options.flag("cluster");
const policy = options.string("policy") ?? "p2c";

/**
 * The instructions of one run. Under valgrind everything is some 50x slower,
 * and on a busy machine an early call can pass its 3 s deadline while the
 * code is still being compiled: such a run is repeated, up to 3 times.
 */
function instructions(calls: number, inFlight: number, target = "address"): number {
  const args = [String(calls), String(inFlight), ...(cluster ? [target, policy, "60000"] : [])];
  for (let attempt = 1; ; attempt++) {
    const run = spawnSync("valgrind", ["--tool=callgrind", "--callgrind-out-file=/dev/null", process.execPath, bundle, ...args], { encoding: "utf8" });
    if (run.error !== undefined) throw new Error(`valgrind: ${run.error.message} (apt-get install -y valgrind)`);
    const collected = /Collected : (\d+)/.exec(run.stderr);
    if (run.status === 0 && collected !== null) return Number(collected[1]);
    const output = run.stderr.split("\n").filter((line) => !line.startsWith("==")).join("\n");
    if (attempt === 3) throw new Error(`the workload failed under valgrind:\n${output.slice(-2000)}`);
    process.stderr.write(`the workload (${args.join(" ")}) failed under valgrind, running it again: ${/RpcError: (.*)/.exec(output)?.[1] ?? output.slice(-200)}\n`);
  }
}

// Long enough that the optimizing compiler's work, which lands in the difference too, is a small
// part of it: with 1,000 to 12,000 calls, identical runs differed by up to 10%.
const SCENARIOS = [[100, 10_000, 50_000], [1, 5_000, 25_000]] as const;
const perCall = (inFlight: number, short: number, long: number, target?: string) => (instructions(long, inFlight, target) - instructions(short, inFlight, target)) / (long - short);
const count = (n: number) => Math.round(n).toLocaleString("en-US");

if (!cluster) {
  console.log("| In flight | calls (short, long run) | instructions per call |\n|---|---|---|");
  for (const [inFlight, short, long] of SCENARIOS) console.log(`| ${inFlight} | ${short}, ${long} | ${count(perCall(inFlight, short, long))} |`);
} else {
  const targets = [
    ["address", "one address"],
    ["cluster-1", `cluster over 1 server (${policy})`],
    ["cluster-3", `cluster over 3 servers (${policy})`],
  ] as const;
  console.log("| Client | In flight | calls (short, long run) | instructions per call | vs one address |\n|---|---|---|---|---|");
  for (const [inFlight, short, long] of SCENARIOS) {
    let anchor = NaN;
    for (const [target, name] of targets) {
      const figure = perCall(inFlight, short, long, target);
      if (target === "address") anchor = figure;
      console.log(`| ${name} | ${inFlight} | ${short}, ${long} | ${count(figure)} | ${target === "address" ? "" : `${figure >= anchor ? "+" : "−"}${(Math.abs(figure / anchor - 1) * 100).toFixed(1)}%`} |`);
    }
  }
}
