// The command a failure report prints to rerun one failed case exactly:
// the same server, seed, runs, counterexample path and time limit. The
// suite's options come first and the server's command last, after `--`,
// because everything after `--` is the server's.

import type { CaseResult } from "./run-cases.ts";

/** How the suite was invoked, as far as a replay needs it. */
export interface Invocation {
  /** --target HOST:PORT, or else the server's command (spawn mode). */
  readonly target?: string;
  readonly command?: readonly string[];
  readonly seed: number;
  readonly runs: number;
  readonly caseTimeoutMs: number;
  /** The --features file, when one was given. */
  readonly featuresFile?: string;
  /** The TLS flags given (--tls, --ca, --cert, --key, --server-name), as words. */
  readonly tlsFlags?: readonly string[];
}

/** The time limit the suite uses unless --case-timeout-ms says otherwise. */
export const DEFAULT_CASE_TIMEOUT_MS = 30_000;

/** A shell word: left bare when it is made only of characters no shell treats specially. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The command that reruns `result`'s case alone, with --trace; `program` is how the suite was started, e.g. "npx strata conformance". */
export function replayCommand(invocation: Invocation, result: CaseResult, program = "npm run conformance --"): string {
  const args = ["server"];
  if (invocation.target !== undefined) args.push("--target", invocation.target);
  args.push("--run", result.case.name, "--seed", String(invocation.seed), "--runs", String(invocation.runs));
  if (result.path !== undefined) args.push("--path", result.path);
  if (invocation.caseTimeoutMs !== DEFAULT_CASE_TIMEOUT_MS) args.push("--case-timeout-ms", String(invocation.caseTimeoutMs));
  if (invocation.featuresFile !== undefined) args.push("--features", invocation.featuresFile);
  if (invocation.tlsFlags !== undefined) args.push(...invocation.tlsFlags);
  args.push("--trace");
  if (invocation.command !== undefined) args.push("--", ...invocation.command);
  return `${program} ${args.map(shellQuote).join(" ")}`;
}
