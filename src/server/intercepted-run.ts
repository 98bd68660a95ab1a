// A request's run through the server's interceptors: the handler is the
// innermost step, reached only if every interceptor calls `next`. A
// not-processed dispatch code thrown before it was reached is a refusal:
// the handler never ran [STATUS-6] [STATUS-13].

import type { DispatchCode, FrameHeader } from "../wire/index.ts";
import { notProcessedCode } from "../status/wire-status.ts";
import type { RpcError } from "../status/index.ts";
import { RUN_HANDLER, type InterceptedRequest, type ServerCallHandler } from "./interceptor.ts";
import type { RequestContext } from "./request-context.ts";
import { Phase, type ServerCall } from "./server-call.ts";
import type { RegisteredMethod } from "./service-registry.ts";

/** A refusal an interceptor made before the handler ran: answered with its not-processed code [STATUS-6] [STATUS-13]. */
export class InterceptorRefusal {
  readonly code: DispatchCode;
  readonly message: string;

  constructor(code: DispatchCode, message: string) {
    this.code = code;
    this.message = message;
  }
}

/**
 * Runs the request through the server's interceptors; resolves with the
 * encoded output, rejects with what the handler or an interceptor threw, or
 * an InterceptorRefusal [STATUS-6] [STATUS-13].
 */
export function runIntercepted(
  intercept: ServerCallHandler,
  header: FrameHeader,
  input: unknown,
  method: RegisteredMethod,
  context: RequestContext<ServerCall>,
  call: ServerCall,
): Promise<Uint8Array> {
  let reached = false;
  const request: InterceptedRequest = {
    service: header.service,
    method: header.method,
    callMode: header.callMode,
    message: input,
    context,
    [RUN_HANDLER]: (message: unknown) => {
      reached = true;
      return method.handle(message, context);
    },
  };
  let outcome: Promise<unknown>;
  try {
    outcome = intercept(request);
  } catch (error) {
    // An interceptor that is not async throws instead of rejecting: the same refusal rule applies.
    outcome = Promise.reject(error);
  }
  return outcome.then(
    (output) => {
      // An interceptor that answered in a queueing handler's place started the request itself.
      if (!reached && call.phase === Phase.queued) call.moveTo(Phase.running);
      return method.encode(output);
    },
    (error: unknown) => {
      const code = reached ? undefined : notProcessedCode(error);
      if (code !== undefined) {
        // A request still in a queueing handler's queue is refused as unstarted (finishUnstarted).
        if (call.phase === Phase.queued) throw error;
        throw new InterceptorRefusal(code, (error as RpcError).rawMessage);
      }
      if (!reached && call.phase === Phase.queued) call.moveTo(Phase.running);
      throw error;
    },
  );
}
