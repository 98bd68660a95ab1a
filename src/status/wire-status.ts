// How a status travels in a RESPONSE header, both ways: the server turns
// what a handler threw into dispatch or application fields, the client
// turns those fields back into an RpcError. One file, so the two sides
// cannot drift apart [STATUS-4] [STATUS-6] [STATUS-8] [STATUS-9].

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DispatchCode, ErrorDetailsSchema } from "../gen/strata/v1/frame_pb.ts";
import type { FrameHeader, MetadataEntry } from "../wire/index.ts";
import { dispatchCodeByName, dispatchCodeName, dispatchProcessed } from "./codes.ts";
import { RpcError } from "./rpc-error.ts";

/** The status fields of a RESPONSE header. */
export type ResponseStatus = Partial<Pick<FrameHeader, "dispatchCode" | "dispatchMessage" | "appCode" | "appMessage" | "metadata">>;

const EMPTY = new Uint8Array(0);

/**
 * Dispatch codes a handler may choose: those that admit it ran
 * ([STATUS-6]), except RESPONSE_TOO_LARGE, whose form [LIMIT-4] fixes.
 */
const HANDLER_DISPATCH_CODES: ReadonlySet<number> = new Set([
  DispatchCode.DEADLINE_EXCEEDED,
  DispatchCode.CANCELLED,
  DispatchCode.HANDLER_ERROR,
  DispatchCode.HANDLER_CRASHED,
  DispatchCode.INTERNAL,
]);

/** An application code a RESPONSE can carry: 1 to 2^32-1 (0 would read as success) [STATUS-8]. */
function isAppCode(code: unknown): code is number {
  return typeof code === "number" && Number.isInteger(code) && code >= 1 && code <= 0xffffffff;
}

/** The dispatch code an RpcError of the dispatch layer names, if this version knows it. */
function namedDispatchCode(error: unknown): DispatchCode | undefined {
  if (!RpcError.is(error) || error.layer !== "dispatch" || typeof error.code !== "string") return undefined;
  return dispatchCodeByName(error.code);
}

/**
 * The RESPONSE status for a handler failure: the application error it
 * chose, a dispatch code it chose that admits it ran (processed maybe or
 * yes), or HANDLER_ERROR with the error's message only when `expose` is on
 * [STATUS-5] [STATUS-6] [STATUS-8] [STATUS-11].
 */
export function handlerFailureStatus(error: unknown, expose: boolean, metadata: MetadataEntry[]): ResponseStatus {
  if (isHandlerStatus(error)) {
    const chosen = error as RpcError;
    return chosen.layer === "application"
      ? { appCode: chosen.code as number, appMessage: chosen.rawMessage, metadata }
      : { dispatchCode: namedDispatchCode(chosen)!, dispatchMessage: chosen.rawMessage, metadata };
  }
  const message = expose && error instanceof Error ? `handler failed: ${error.message}` : "handler failed";
  return { dispatchCode: DispatchCode.HANDLER_ERROR, dispatchMessage: message };
}

/**
 * Whether a handler's `error` is a status it can answer with, sent as it is
 * by handlerFailureStatus: an application error, or a dispatch code that
 * admits it ran (DEADLINE_EXCEEDED, CANCELLED, HANDLER_ERROR, ...); anything
 * else it threw becomes HANDLER_ERROR [STATUS-8] [STATUS-11].
 */
export function isHandlerStatus(error: unknown): boolean {
  if (!RpcError.is(error)) return false;
  if (error.layer === "application") return isAppCode(error.code);
  const code = namedDispatchCode(error);
  return code !== undefined && HANDLER_DISPATCH_CODES.has(code);
}

/** The RESPONSE body for a handler failure: its application error details, if any [STATUS-9]. */
export function handlerFailureBody(error: unknown): Uint8Array {
  if (RpcError.is(error) && error.layer === "application" && error.details.length > 0) {
    return toBinary(ErrorDetailsSchema, create(ErrorDetailsSchema, { details: error.details }));
  }
  return EMPTY;
}

/** The not-processed dispatch code an error names (e.g. OVERLOADED from a full worker queue), or undefined [STATUS-6]. */
export function notProcessedCode(error: unknown): DispatchCode | undefined {
  const code = namedDispatchCode(error);
  return code !== undefined && dispatchProcessed(code) === "no" ? code : undefined;
}

/**
 * The error a RESPONSE reports, or undefined when it reports success: a
 * dispatch code other than OK (processed as its table says, unknown codes
 * maybe), else a non-zero application code with its details; undecodable
 * details are dropped and the status still counts [STATUS-4] [STATUS-7]
 * [STATUS-9] [STATUS-10].
 */
export function responseError(header: FrameHeader, body: Uint8Array): RpcError | undefined {
  if (header.dispatchCode !== DispatchCode.OK) {
    return new RpcError({
      layer: "dispatch",
      code: dispatchCodeName(header.dispatchCode),
      message: header.dispatchMessage,
      processed: dispatchProcessed(header.dispatchCode),
      metadata: header.metadata,
    });
  }
  if (header.appCode === 0) return undefined;
  let details: RpcError["details"] = [];
  try {
    if (body.length > 0) details = fromBinary(ErrorDetailsSchema, body).details;
  } catch {
    // dropped [STATUS-9]
  }
  return new RpcError({ layer: "application", code: header.appCode, message: header.appMessage, processed: "yes", details, metadata: header.metadata });
}
