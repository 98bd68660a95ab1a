// Runs the selected cases one after another against one server and
// collects a result per case.

import type { ConformanceCase } from "./case.ts";
import { CaseFailure, CaseSkip } from "./case-outcome.ts";
import type { SuiteTls } from "./suite-tls.ts";
import { CaseContext } from "./context.ts";
import { formatTrace } from "./trace-format.ts";

/** The outcome of one case. */
export interface CaseResult {
  case: ConformanceCase;
  status: "pass" | "fail" | "skip";
  durationMs: number;
  /** For a skip: why. */
  reason?: string;
  expected?: string;
  actual?: string;
  /** The requirement the failing check names, when it names one. */
  failedRequirement?: string;
  /** The annotated frames, with --trace. */
  trace?: string;
  /** A property's counterexample path, for replay. */
  path?: string;
}

/** How to reach the server, and what it can do. */
export interface RunOptions {
  address: string;
  seed: number;
  runs: number;
  /** A property counterexample path to replay. */
  path?: string;
  trace: boolean;
  /** Whether the server offers ConformanceService (probed once). */
  hasConformanceService: boolean;
  /** Optional features the implementation declared. */
  features: ReadonlySet<string>;
  /** Starts a server with other settings (spawn mode); undefined in target mode. */
  startWith?: (settings: NonNullable<ConformanceCase["settings"]>) => Promise<{ address: string; stop(): Promise<void> }>;
  /** How to speak TLS to a `tls:` or `wss:` target (section 19); undefined for plaintext. */
  tls?: SuiteTls;
  /** Longest time one case may take at DEFAULT_RUNS runs per property; it grows in proportion with `runs`. */
  caseTimeoutMs: number;
  onResult?: (result: CaseResult, index: number, total: number) => void;
}

function skipReason(testCase: ConformanceCase, options: RunOptions): string | undefined {
  if (testCase.usesConformanceService && !options.hasConformanceService) return "needs strata.conformance.v1.ConformanceService (spec Appendix C), which the server does not offer";
  const missing = (testCase.features ?? []).filter((f) => !options.features.has(f));
  if (missing.length > 0) return `needs feature ${missing.join(", ")}, not declared (--features)`;
  if (testCase.websocket === "only" && !/^wss?:\/\//.test(options.address)) return "needs a WebSocket server: --target ws://HOST:PORT/PATH or wss://HOST:PORT/PATH, or --websocket in spawn mode (section 18)";
  if (testCase.tls === "only" && options.tls === undefined) return "needs a TLS server: --target tls:HOST:PORT or wss://HOST:PORT/PATH, or --tls in spawn mode (section 19)";
  if (testCase.settings && !options.startWith) return "needs the server started with other settings: run in spawn mode (server -- <command>)";
  return undefined;
}

/** Runs per property unless --runs says otherwise. */
export const DEFAULT_RUNS = 20;

/** The time limit of one case: properties take time in proportion to their runs. */
export function caseTimeLimitMs(caseTimeoutMs: number, runs: number): number {
  return Math.ceil(caseTimeoutMs * Math.max(1, runs / DEFAULT_RUNS));
}

/** Runs one case to completion or to its time limit. */
async function runOne(testCase: ConformanceCase, options: RunOptions): Promise<CaseResult> {
  const started = performance.now();
  const reason = skipReason(testCase, options);
  if (reason !== undefined) return { case: testCase, status: "skip", durationMs: 0, reason };
  let spawned: { address: string; stop(): Promise<void> } | undefined;
  let context: CaseContext | undefined;
  try {
    if (testCase.settings && options.startWith) spawned = await options.startWith(testCase.settings);
    context = new CaseContext(spawned?.address ?? options.address, options.seed, options.runs, options.path, options.tls);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limitMs = caseTimeLimitMs(options.caseTimeoutMs, options.runs);
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CaseFailure(`the case to finish within ${limitMs} ms`, "it did not (the server stopped answering?)")), limitMs);
    });
    try {
      await Promise.race([testCase.run(context), limit]);
    } finally {
      clearTimeout(timer);
    }
    return { case: testCase, status: "pass", durationMs: performance.now() - started };
  } catch (error) {
    if (error instanceof CaseSkip) return { case: testCase, status: "skip", durationMs: performance.now() - started, reason: error.message };
    const failure = error instanceof CaseFailure ? error : new CaseFailure("the case to run", `it threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    return {
      case: testCase,
      status: "fail",
      durationMs: performance.now() - started,
      expected: failure.expected,
      actual: failure.actual,
      ...(failure.requirement !== undefined ? { failedRequirement: failure.requirement } : {}),
      ...(options.trace && context ? { trace: formatTrace(context.trace) } : {}),
      ...(context?.counterexamplePath ? { path: context.counterexamplePath } : {}),
    };
  } finally {
    context?.dispose();
    await spawned?.stop();
  }
}

/** Runs `cases` in order; each result is reported as soon as it is known. */
export async function runCases(cases: ConformanceCase[], options: RunOptions): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const [index, testCase] of cases.entries()) {
    const result = await runOne(testCase, options);
    results.push(result);
    options.onResult?.(result, index, cases.length);
  }
  return results;
}
