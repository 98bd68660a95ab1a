// The code tables of the three status layers and whether each code means
// the request was processed [STATUS-2] [STATUS-4].

import { DispatchCode } from "../gen/strata/v1/frame_pb.ts";

/** Where a call failed [STATUS-1]. */
export type Layer = "transport" | "dispatch" | "application";

/** Whether the server ran the request: only "no" makes a retry safe [STATUS-3]. */
export type Processed = "no" | "maybe" | "yes";

/** Transport codes: produced by the client, never sent on the wire [STATUS-2]. */
export const TransportCode = {
  CONNECT_FAILED: "CONNECT_FAILED",
  VERSION_MISMATCH: "VERSION_MISMATCH",
  LIMIT_EXCEEDED: "LIMIT_EXCEEDED",
  INVALID_INPUT: "INVALID_INPUT",
  UNAVAILABLE: "UNAVAILABLE",
  TIMEOUT: "TIMEOUT",
  CANCELLED: "CANCELLED",
  CONNECTION_LOST: "CONNECTION_LOST",
  PROTOCOL_ERROR: "PROTOCOL_ERROR",
} as const;

/** A transport code [STATUS-2]. */
export type TransportCode = (typeof TransportCode)[keyof typeof TransportCode];

const dispatchNames: ReadonlyMap<number, string> = new Map(Object.entries(DispatchCode).map(([name, value]) => [value, name]));

/** The name of a dispatch code, e.g. "UNKNOWN_METHOD", or "CODE_42" for one this version does not know [STATUS-7]. */
export function dispatchCodeName(code: number): string {
  return dispatchNames.get(code) ?? `CODE_${code}`;
}

/** The dispatch code with the given name, e.g. "HANDLER_CRASHED", or undefined [STATUS-4]. */
export function dispatchCodeByName(name: string): DispatchCode | undefined {
  return Object.hasOwn(DispatchCode, name) ? (DispatchCode as Record<string, DispatchCode>)[name] : undefined;
}

/** Whether a request answered with `code` was processed; unknown codes are "maybe" [STATUS-4] [STATUS-7] [STATUS-13]. */
export function dispatchProcessed(code: number): Processed {
  if (code === DispatchCode.OK || code === DispatchCode.RESPONSE_TOO_LARGE) return "yes";
  if (code >= DispatchCode.UNKNOWN_SERVICE && code <= DispatchCode.SHUTTING_DOWN) return "no";
  if (code === DispatchCode.UNAUTHENTICATED) return "no";
  return "maybe";
}
