// strata-conformance: runs the conformance suite against a Strata server.
//
//   strata-conformance server --target HOST:PORT [options]
//   strata-conformance server [options] -- COMMAND [ARGS...]
//
// Exit codes: 0 all cases passed, 1 failures, 2 usage error, 3 harness
// error (the server did not start or answer).
import { readFileSync, writeFileSync } from "node:fs";
import { FrameType } from "../src/wire/index.ts";
import { allCases } from "./cases/index.ts";
import type { ConformanceCase } from "./runner/case.ts";
import { CaseContext } from "./runner/context.ts";
import { formatReport, jsonReport, progressLine } from "./runner/report.ts";
import { DEFAULT_RUNS, runCases, type CaseResult } from "./runner/run-cases.ts";
import { HarnessError, spawnServer, type SpawnedServer } from "./runner/spawn-server.ts";
import { junitReport } from "./runner/junit.ts";
import { DEFAULT_CASE_TIMEOUT_MS, replayCommand, type Invocation } from "./runner/replay.ts";

const USAGE = `Usage:
  strata-conformance server --target HOST:PORT [options]
  strata-conformance server [options] -- COMMAND [ARGS...]

Options:
  --run PATTERN          run only cases whose name matches (substring, or * wildcards); repeatable
  --skip PATTERN         skip cases whose name matches; repeatable
  --features FILE        optional features the implementation declares (JSON array or one per line)
  --known-failing FILE   case names expected to fail (one per line); one that passes is an error
  --seed N               seed for property-based cases (default: random, printed)
  --runs N               runs per property (default 20)
  --path PATH            replay one property counterexample (with its --seed), from a failure report
  --report-json FILE     write the results as JSON
  --junit FILE           write the results as JUnit XML
  --trace                show the annotated frames sent and received for each failure
  --list                 list the cases and exit
  --case-timeout-ms N    time limit per case at 20 runs, growing with --runs (default 30000)
`;

class UsageError extends Error {}

interface Options {
  target?: string;
  command?: string[];
  run: string[];
  skip: string[];
  features: Set<string>;
  featuresFile?: string;
  knownFailing: Set<string>;
  seed: number;
  runs: number;
  path?: string;
  reportJson?: string;
  junit?: string;
  trace: boolean;
  list: boolean;
  caseTimeoutMs: number;
}

function readList(file: string): string[] {
  const text = readFileSync(file, "utf8").trim();
  if (text.startsWith("[")) return (JSON.parse(text) as unknown[]).map(String);
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

function parse(argv: string[]): Options {
  const dashdash = argv.indexOf("--");
  const args = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const options: Options = { run: [], skip: [], features: new Set(), knownFailing: new Set(), seed: Math.floor(Math.random() * 2 ** 31), runs: DEFAULT_RUNS, trace: false, list: false, caseTimeoutMs: DEFAULT_CASE_TIMEOUT_MS };
  if (dashdash >= 0) options.command = argv.slice(dashdash + 1);
  if (args[0] !== "server") throw new UsageError(args[0] === undefined ? "missing the subject: server" : `unknown subject "${args[0]}" (only "server" exists so far)`);
  const value = (i: number, flag: string) => {
    const v = args[i + 1];
    if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  const number = (i: number, flag: string) => {
    const n = Number(value(i, flag));
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} needs a non-negative integer`);
    return n;
  };
  for (let i = 1; i < args.length; i++) {
    const flag = args[i]!;
    switch (flag) {
      case "--target": options.target = value(i++, flag); break;
      case "--run": options.run.push(value(i++, flag)); break;
      case "--skip": options.skip.push(value(i++, flag)); break;
      case "--features": options.featuresFile = value(i++, flag); options.features = new Set(readList(options.featuresFile)); break;
      case "--known-failing": options.knownFailing = new Set(readList(value(i++, flag))); break;
      case "--seed": options.seed = number(i++, flag); break;
      case "--runs": options.runs = Math.max(1, number(i++, flag)); break;
      case "--path": options.path = value(i++, flag); break;
      case "--report-json": options.reportJson = value(i++, flag); break;
      case "--junit": options.junit = value(i++, flag); break;
      case "--case-timeout-ms": options.caseTimeoutMs = Math.max(1, number(i++, flag)); break;
      case "--trace": options.trace = true; break;
      case "--list": options.list = true; break;
      default: throw new UsageError(`unknown option ${flag}`);
    }
  }
  if (!options.list && (options.target === undefined) === (options.command === undefined || options.command.length === 0)) {
    throw new UsageError("give exactly one of --target HOST:PORT or -- COMMAND");
  }
  if (options.target !== undefined && !/^(\[[^\]]+\]|[^:\s]+):\d+$/.test(options.target)) throw new UsageError(`--target must be HOST:PORT, got "${options.target}"`);
  return options;
}

function matches(name: string, pattern: string): boolean {
  if (!pattern.includes("*")) return name.includes(pattern);
  const regex = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return regex.test(name);
}

function select(cases: ConformanceCase[], options: Options): ConformanceCase[] {
  return cases.filter((c) => (options.run.length === 0 || options.run.some((p) => matches(c.name, p))) && !options.skip.some((p) => matches(c.name, p)));
}

/**
 * Checks that the server completes a handshake (else a harness error), and
 * whether it offers ConformanceService [CONF-1]. Any RESPONSE counts as the
 * answer: getting its id wrong is for the cases to report, not the probe.
 */
async function probeConformanceService(address: string): Promise<boolean> {
  const context = new CaseContext(address, 0, 1);
  try {
    let peer;
    try {
      peer = await context.connect();
    } catch (error) {
      throw new HarnessError(`the server at ${address} did not complete a handshake: ${error instanceof Error ? error.message : String(error)}`);
    }
    context.sendCall(peer, "info", {}, { id: 1 });
    const response = await peer.waitFor((f) => f.header.type === FrameType.RESPONSE, "a RESPONSE to an Info call").catch(() => undefined);
    return response !== undefined && response.header.dispatchCode === 0;
  } finally {
    context.dispose();
  }
}

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    options = parse(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`strata-conformance: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  const cases = select(allCases, options);
  if (options.list) {
    for (const c of cases) console.log(`${c.name.padEnd(52)} [${c.requirements.join("] [")}]${c.usesConformanceService ? " (S*)" : ""}`);
    return 0;
  }
  let main: SpawnedServer | undefined;
  try {
    let address = options.target;
    if (options.command) {
      main = await spawnServer(options.command, {});
      address = main.address;
    }
    const hasConformanceService = await probeConformanceService(address!);
    const command = options.command;
    process.stdout.write(`Strata conformance: ${cases.length} cases against ${command ? `${command.join(" ")} (${address})` : address}, seed ${options.seed}\n`);
    if (!hasConformanceService) process.stdout.write("The server does not offer strata.conformance.v1.ConformanceService: cases that need it are skipped (spec Appendix C).\n");
    const results = await runCases(cases, {
      address: address!,
      seed: options.seed,
      runs: options.runs,
      ...(options.path ? { path: options.path } : {}),
      trace: options.trace,
      hasConformanceService,
      features: options.features,
      ...(command ? { startWith: (settings: NonNullable<ConformanceCase["settings"]>) => spawnServer(command, settings) } : {}),
      caseTimeoutMs: options.caseTimeoutMs,
      onResult: (result, index, total) => process.stdout.write(`${progressLine(result, index, total)}\n`),
    });
    applyKnownFailing(results, options.knownFailing);
    const invocation: Invocation = {
      ...(command ? { command } : { target: address! }),
      seed: options.seed,
      runs: options.runs,
      caseTimeoutMs: options.caseTimeoutMs,
      ...(options.featuresFile !== undefined ? { featuresFile: options.featuresFile } : {}),
    };
    process.stdout.write(`${formatReport(results, (r: CaseResult) => replayCommand(invocation, r))}\n`);
    const meta = { target: command ? { command } : { address }, seed: options.seed, runs: options.runs };
    if (options.reportJson) writeFileSync(options.reportJson, jsonReport(results, meta));
    if (options.junit) writeFileSync(options.junit, junitReport(results));
    return results.some((r) => r.status === "fail") ? 1 : 0;
  } catch (error) {
    if (error instanceof HarnessError) {
      process.stderr.write(`strata-conformance: harness error: ${error.message}\n`);
      return 3;
    }
    throw error;
  } finally {
    await main?.stop();
  }
}

/** A known-failing case must fail; one that passes becomes a failure, so the list stays true. */
function applyKnownFailing(results: CaseResult[], knownFailing: ReadonlySet<string>): void {
  for (const result of results) {
    if (!knownFailing.has(result.case.name)) continue;
    if (result.status === "fail") {
      result.status = "skip";
      result.reason = `known to fail (--known-failing): expected ${result.expected}, got ${result.actual}`;
    } else if (result.status === "pass") {
      result.status = "fail";
      result.expected = "this case to fail, as --known-failing says";
      result.actual = "it passed: remove it from the known-failing list";
    }
  }
}

process.exitCode = await main(process.argv.slice(2));
