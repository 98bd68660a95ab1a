// The conformance suite as a command: `strata conformance server …` from an
// install, `npm run conformance -- server …` in this repository. Both parse
// their arguments with commander through addServerCommand, and print
// replay lines that rerun a failed case with the same program.
import { readFileSync, writeFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { checkedPem } from "../src/transport/pem.ts";
import { FrameType } from "../src/wire/index.ts";
import { allCases } from "./cases/index.ts";
import type { ConformanceCase } from "./runner/case.ts";
import { CaseContext } from "./runner/context.ts";
import { formatReport, jsonReport, progressLine } from "./runner/report.ts";
import { DEFAULT_RUNS, runCases, type CaseResult } from "./runner/run-cases.ts";
import { HarnessError, spawnServer, spawnSettings, type SpawnedServer } from "./runner/spawn-server.ts";
import { junitReport } from "./runner/junit.ts";
import { certificatesProblem, testCertificates } from "./runner/certificates.ts";
import type { SuiteTls } from "./runner/suite-tls.ts";
import { DEFAULT_CASE_TIMEOUT_MS, replayCommand, type Invocation } from "./runner/replay.ts";

/** What one run of the suite does, from the command line [CONF-1]. */
export interface SuiteOptions {
  /** How a replay line starts, e.g. "npx strata conformance" or "npm run conformance --". */
  program: string;
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
  /** Spawn mode: start the server listening with TLS, with certificates the suite makes (section 19); with `websocket`, on wss://. */
  tls?: boolean;
  /** Spawn mode: start the server listening on WebSocket (section 18), ws:// (wss:// with `tls`). */
  websocket?: boolean;
  /** Target mode over TLS (tls: or wss://): the CA file to trust, a client certificate and key, the name to expect. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
}

function readList(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (error) {
    throw new InvalidArgumentError(`cannot read ${file}: ${(error as Error).message}`);
  }
  if (text.startsWith("[")) return (JSON.parse(text) as unknown[]).map(String);
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

function wholeNumber(flag: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${flag} takes a whole number of at least ${min}`);
    return n;
  };
}

const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * Adds the `server` command to `parent`: run the suite against a server at
 * --target HOST:PORT, or one it starts with the command after `--`; `done`
 * gets the exit code (0 passed, 1 failures, 2 usage, 3 harness error).
 * `program` starts the replay lines it prints [CONF-1].
 */
export function addServerCommand(parent: Command, program: string, done: (code: number) => void): Command {
  return parent
    .command("server")
    .description("check a server: one at --target HOST:PORT, or one the suite starts with the command after --")
    .usage("--target HOST:PORT [options]\n       server [options] -- COMMAND [ARGS...]")
    // The descriptions say the defaults that matter; commander's "(default: [])" says nothing.
    .configureHelp({ optionDescription: (option) => option.description })
    .option("--target <address>", "a running server: HOST:PORT, tls:HOST:PORT (also tls://HOST:PORT) over TLS, ws://HOST:PORT/PATH over WebSocket, or wss://HOST:PORT/PATH over WebSocket and TLS")
    .option("--tls", "spawn mode: tell the server to listen with TLS, with certificates the suite makes (needs openssl); with --websocket, on wss://", false)
    .option("--websocket", "spawn mode: tell the server to listen on WebSocket, ws://127.0.0.1:0/strata (wss:// with --tls)", false)
    .option("--ca <file>", "TLS target (tls: or wss://): the CA certificates (PEM) the server's certificate verifies against (default: public CAs)")
    .option("--cert <file>", "TLS target (tls: or wss://): a client certificate (PEM) the server trusts, presented on every connection")
    .option("--key <file>", "TLS target (tls: or wss://): the private key of --cert (PEM)")
    .option("--server-name <name>", "TLS target (tls: or wss://): the name the server's certificate carries, when it is not the target's host")
    .option("--run <pattern>", "run only cases whose name matches (substring, or * wildcards); repeatable", collect, [])
    .option("--skip <pattern>", "skip cases whose name matches; repeatable", collect, [])
    .option("--features <file>", "optional features the implementation declares (JSON array or one per line)")
    .option("--known-failing <file>", "case names expected to fail (one per line); one that passes is an error")
    .option("--seed <n>", "seed for property-based cases (default: random, printed)", wholeNumber("--seed", 0))
    .option("--runs <n>", `runs per property (default ${DEFAULT_RUNS})`, wholeNumber("--runs", 1), DEFAULT_RUNS)
    .option("--path <path>", "replay one property counterexample (with its --seed), from a failure report")
    .option("--report-json <file>", "write the results as JSON")
    .option("--junit <file>", "write the results as JUnit XML")
    .option("--trace", "show the annotated frames sent and received for each failure", false)
    .option("--list", "list the cases and exit", false)
    .option("--case-timeout-ms <n>", `time limit per case at 20 runs, growing with --runs (default ${DEFAULT_CASE_TIMEOUT_MS})`, wholeNumber("--case-timeout-ms", 1), DEFAULT_CASE_TIMEOUT_MS)
    .argument("[command...]", "the server to start, after --")
    .action(async (serverCommand: string[], flags: Record<string, unknown>, self: Command) => {
      const target = flags["target"] as string | undefined;
      const list = flags["list"] as boolean;
      if (!list && (target === undefined) === (serverCommand.length === 0)) self.error("give exactly one of --target HOST:PORT or -- COMMAND", { exitCode: 2 });
      if (target !== undefined && !/^(tls:(\/\/)?)?(\[[^\]]+\]|[^:\s/]+):\d+$/.test(target) && !/^wss?:\/\/(\[[^\]]+\]|[^:\s/]+):\d+(\/\S*)?$/.test(target)) {
        self.error(`--target must be HOST:PORT, tls:HOST:PORT, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH, got "${target}"`, { exitCode: 2 });
      }
      if (flags["websocket"] === true && target !== undefined) self.error("--websocket is for spawn mode; for a running server give --target ws://HOST:PORT/PATH (wss://HOST:PORT/PATH over TLS)", { exitCode: 2 });
      const overTls = isTlsTarget(target);
      const tlsFile = (name: string) => flags[name] as string | undefined;
      for (const name of ["ca", "cert", "key", "serverName"]) {
        if (tlsFile(name) !== undefined && !overTls) self.error(`--${name === "serverName" ? "server-name" : name} is for a TLS target (--target tls:HOST:PORT or wss://HOST:PORT/PATH)`, { exitCode: 2 });
      }
      if ((tlsFile("cert") === undefined) !== (tlsFile("key") === undefined)) self.error("--cert and --key go together", { exitCode: 2 });
      if (flags["tls"] === true && target !== undefined) self.error("--tls is for spawn mode; for a running TLS server give --target tls:HOST:PORT (wss://HOST:PORT/PATH over WebSocket)", { exitCode: 2 });
      const featuresFile = flags["features"] as string | undefined;
      const options: SuiteOptions = {
        program,
        run: flags["run"] as string[],
        skip: flags["skip"] as string[],
        features: new Set(featuresFile === undefined ? [] : readList(featuresFile)),
        knownFailing: new Set(flags["knownFailing"] === undefined ? [] : readList(flags["knownFailing"] as string)),
        seed: (flags["seed"] as number | undefined) ?? Math.floor(Math.random() * 2 ** 31),
        runs: flags["runs"] as number,
        trace: flags["trace"] as boolean,
        list,
        caseTimeoutMs: flags["caseTimeoutMs"] as number,
        ...(target !== undefined ? { target } : {}),
        ...(serverCommand.length > 0 ? { command: serverCommand } : {}),
        ...(featuresFile !== undefined ? { featuresFile } : {}),
        ...(flags["path"] !== undefined ? { path: flags["path"] as string } : {}),
        ...(flags["reportJson"] !== undefined ? { reportJson: flags["reportJson"] as string } : {}),
        ...(flags["junit"] !== undefined ? { junit: flags["junit"] as string } : {}),
        ...(flags["tls"] === true ? { tls: true } : {}),
        ...(flags["websocket"] === true ? { websocket: true } : {}),
        ...(tlsFile("ca") !== undefined ? { caFile: tlsFile("ca")! } : {}),
        ...(tlsFile("cert") !== undefined ? { certFile: tlsFile("cert")!, keyFile: tlsFile("key")! } : {}),
        ...(tlsFile("serverName") !== undefined ? { serverName: tlsFile("serverName")! } : {}),
      };
      done(await runSuite(options));
    });
}

function matches(name: string, pattern: string): boolean {
  if (!pattern.includes("*")) return name.includes(pattern);
  const regex = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return regex.test(name);
}

function select(cases: ConformanceCase[], options: SuiteOptions): ConformanceCase[] {
  return cases.filter((c) => (options.run.length === 0 || options.run.some((p) => matches(c.name, p))) && !options.skip.some((p) => matches(c.name, p)));
}

/**
 * Checks that the server completes a handshake (else a harness error), and
 * whether it offers ConformanceService [CONF-1]. Any RESPONSE counts as the
 * answer: getting its id wrong is for the cases to report, not the probe.
 */
async function probeConformanceService(address: string, tls: SuiteTls | undefined): Promise<boolean> {
  const context = new CaseContext(address, 0, 1, undefined, tls);
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

/** Runs the suite as `options` say, printing progress and the report; resolves to the exit code [CONF-1]. */
export async function runSuite(options: SuiteOptions): Promise<number> {
  const cases = select(allCases, options);
  if (options.list) {
    for (const c of cases) console.log(`${c.name.padEnd(52)} [${c.requirements.join("] [")}]${c.usesConformanceService ? " (S*)" : ""}`);
    return 0;
  }
  let main: SpawnedServer | undefined;
  try {
    let address = options.target;
    const tls = suiteTls(options);
    if (options.command) {
      main = await spawnServer(options.command, spawnSettings({}, tls, options.websocket));
      address = main.address;
    }
    const hasConformanceService = await probeConformanceService(address!, tls);
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
      ...(command ? { startWith: (settings: NonNullable<ConformanceCase["settings"]>) => spawnServer(command, spawnSettings(settings, tls, options.websocket)) } : {}),
      ...(tls !== undefined ? { tls } : {}),
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
      ...(tlsFlags(options).length > 0 ? { tlsFlags: tlsFlags(options) } : {}),
    };
    process.stdout.write(`${formatReport(results, (r: CaseResult) => replayCommand(invocation, r, options.program))}\n`);
    const meta = { target: command ? { command } : { address }, seed: options.seed, runs: options.runs };
    if (options.reportJson) writeFileSync(options.reportJson, jsonReport(results, meta));
    if (options.junit) writeFileSync(options.junit, junitReport(results));
    return results.some((r) => r.status === "fail") ? 1 : 0;
  } catch (error) {
    if (error instanceof FileFlagError) {
      process.stderr.write(`${options.program}: ${error.message}\n`);
      return 2;
    }
    if (error instanceof HarnessError) {
      process.stderr.write(`${options.program}: harness error: ${error.message}\n`);
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


/** The TLS flags of `options`, for replay lines. */
function tlsFlags(options: SuiteOptions): string[] {
  return [
    ...(options.tls ? ["--tls"] : []),
    ...(options.websocket ? ["--websocket"] : []),
    ...(options.caFile !== undefined ? ["--ca", options.caFile] : []),
    ...(options.certFile !== undefined ? ["--cert", options.certFile, "--key", options.keyFile!] : []),
    ...(options.serverName !== undefined ? ["--server-name", options.serverName] : []),
  ];
}

/** A flag names a file that cannot serve: exit 2, as for any usage error, not 3 (the server is not at fault). */
class FileFlagError extends Error {}

function readPem(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new FileFlagError(`cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return checkedPem(file, text);
  } catch (error) {
    throw new FileFlagError((error as Error).message);
  }
}

/** Whether `target` speaks TLS: tls:HOST:PORT, or wss:// (WebSocket over TLS, section 18). */
function isTlsTarget(target: string | undefined): boolean {
  return target !== undefined && /^(tls:|wss:\/\/)/.test(target);
}

/**
 * How the suite speaks TLS, if at all: in spawn mode with --tls (also with
 * --websocket), with certificates it makes for the server and for itself;
 * against a tls: or wss:// target, with the files given and a foreign
 * client certificate of its own where openssl can make one (section 19).
 */
function suiteTls(options: SuiteOptions): SuiteTls | undefined {
  if (options.tls) {
    const problem = certificatesProblem();
    if (problem !== undefined) throw new HarnessError(`--tls needs ${problem} to make the certificates`);
    const certs = testCertificates();
    return { ca: certs.ca, serverName: undefined, client: certs.client, foreignClient: certs.otherClient, server: { pair: certs.server, clientCa: certs.ca } };
  }
  if (!isTlsTarget(options.target)) return undefined;
  return {
    ca: options.caFile === undefined ? undefined : readPem(options.caFile),
    serverName: options.serverName,
    client: options.certFile === undefined ? undefined : { cert: readPem(options.certFile), key: readPem(options.keyFile!) },
    foreignClient: certificatesProblem() === undefined ? testCertificates().otherClient : undefined,
    server: undefined,
  };
}
