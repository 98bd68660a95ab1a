// What a handler's failure becomes: the RESPONSE status and body the client
// is owed (an application error with its details, or HANDLER_ERROR), and
// for anything the handler threw that is not a status it can answer with,
// one log line; a response that could not be sent is logged the same way.

import { RpcError } from "../status/index.ts";
import { handlerFailureBody, handlerFailureStatus, isHandlerStatus, type ResponseStatus } from "../status/wire-status.ts";
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
 * [STATUS-9] [STATUS-11]; logs `error` first unless it is a status the
 * handler chose. Details that do not encode are dropped.
 */
export function handlerFailureAnswer(error: unknown, call: FailedCall, responseMetadata: MetadataEntry[], exposeHandlerErrors: boolean, logger: Logger): { status: ResponseStatus; body: Uint8Array } {
  let body: Uint8Array;
  try {
    body = handlerFailureBody(error);
  } catch {
    body = new Uint8Array(0); // the status still goes out [STATUS-9]
  }
  const status = handlerFailureStatus(error, exposeHandlerErrors, responseMetadata);
  if (!isHandlerStatus(error)) {
    // A transport or not-processed RpcError (say, from a call the handler made) is no answer a handler can give.
    const why = RpcError.is(error) ? `: it threw a ${error.layer} error (${error.code}), which is not a status a handler answers with; the caller gets HANDLER_ERROR` : "";
    logFailure(logger, `${call.name} failed${why}`, call, error);
  }
  return { status, body };
}

/** Logs that the RESPONSE of `call` could not be sent as its handler gave it (e.g. its metadata does not encode), and went out as HANDLER_ERROR [STATUS-11]. */
export function logUnsendableResponse(logger: Logger, call: FailedCall, error: unknown): void {
  logFailure(logger, `${call.name}: its response could not be sent (${(error as Error)?.message ?? String(error)}); the caller gets HANDLER_ERROR`, call, error);
}

function logFailure(logger: Logger, message: string, call: FailedCall, error: unknown): void {
  try {
    logger.error(message, { method: call.name, requestId: call.id, peer: call.peer, error });
  } catch {
    // A logger that throws must not cost the caller its answer.
  }
}
