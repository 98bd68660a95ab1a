// What a handler's failure becomes: the RESPONSE status and body the client
// is owed (an application error with its details, or HANDLER_ERROR), and
// for anything the handler threw that is not an RpcError, one log line.

import { RpcError } from "../status/index.ts";
import { handlerFailureBody, handlerFailureStatus, type ResponseStatus } from "../status/wire-status.ts";
import type { Logger } from "../util/logger.ts";
import type { MetadataEntry } from "../wire/index.ts";

/** Who failed, for the log line: never metadata values [SEC-2]. */
export interface FailedCall {
  readonly name: string;
  readonly id: number;
  readonly peer: string;
}

/**
 * The status and body answering a handler that threw `error` [STATUS-8]
 * [STATUS-9] [STATUS-11]; logs `error` first unless it is an RpcError, a
 * status the handler chose. Details that do not encode are dropped.
 */
export function handlerFailureAnswer(error: unknown, call: FailedCall, responseMetadata: MetadataEntry[], exposeHandlerErrors: boolean, logger: Logger): { status: ResponseStatus; body: Uint8Array } {
  let body: Uint8Array;
  try {
    body = handlerFailureBody(error);
  } catch {
    body = new Uint8Array(0); // the status still goes out [STATUS-9]
  }
  const status = handlerFailureStatus(error, exposeHandlerErrors, responseMetadata);
  if (!RpcError.is(error)) {
    try {
      logger.error(`${call.name} failed`, { method: call.name, requestId: call.id, peer: call.peer, error });
    } catch {
      // A logger that throws must not cost the caller its answer.
    }
  }
  return { status, body };
}
