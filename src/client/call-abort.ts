// What an aborted call reports: the caller cancelled it (CANCELLED), unless
// the signal says it timed out (AbortSignal.timeout() aborts with a
// DOMException named "TimeoutError"), which is the caller's own deadline
// and is reported as TIMEOUT [CANCEL-1] [DEADLINE-6].

import { RpcError, TransportCode, type Processed } from "../status/index.ts";

/** Whether `signal` was aborted by a timeout, as AbortSignal.timeout() does [DEADLINE-6]. */
export function abortedByTimeout(signal: AbortSignal | undefined): boolean {
  return (signal?.reason as { name?: unknown } | null | undefined)?.name === "TimeoutError";
}

/**
 * The error of a call whose signal fired: transport TIMEOUT for a timeout
 * signal, CANCELLED otherwise, with the signal's reason as its cause
 * [CANCEL-1] [DEADLINE-6].
 */
export function abortedCallError(signal: AbortSignal | undefined, processed: Processed, when: "before it was sent" | "while connecting; nothing was sent" | ""): RpcError {
  const timedOut = abortedByTimeout(signal);
  const what = timedOut ? "the call's signal timed out" : "the call was cancelled";
  const message = when === "" ? what : `${what} ${when}`;
  return RpcError.transport(timedOut ? TransportCode.TIMEOUT : TransportCode.CANCELLED, message, processed, signal?.reason);
}
