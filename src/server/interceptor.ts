// Server interceptors, in the shape connect-es users know: a function that
// takes the next handler and returns one that wraps it. They see the
// decoded request and the handler's output, read the request metadata and
// add response metadata through the context, pass values to the handler
// (context.values), and can answer in the handler's place by returning an
// output or throwing any status — a not-processed dispatch code thrown
// before `next` runs the handler is a refusal, and the handler never runs
// [STATUS-6] [STATUS-13].

import type { CallMode } from "../wire/index.ts";
import type { HandlerContext } from "./handler-context.ts";

/** A call as a server interceptor sees it. */
export interface ServerRequest {
  readonly service: string;
  readonly method: string;
  readonly callMode: CallMode;
  /** The decoded input: a message of the method's input type, or the body of a raw method. */
  readonly message: unknown;
  /** The handler's context: metadata, keys, connection, signal, values, response metadata. */
  readonly context: HandlerContext;
}

/** Runs a call: resolves with the handler's output (a message or its init shape; bytes for a raw method). */
export type ServerCallHandler = (request: ServerRequest) => Promise<unknown>;

/** Wraps the next handler of the chain. */
export type ServerInterceptor = (next: ServerCallHandler) => ServerCallHandler;

/** How the innermost handler reaches the method: a property that a spread of the request keeps. */
export const RUN_HANDLER: unique symbol = Symbol("strata.runHandler");

/** A request as the server builds it: it knows how to run its own handler. */
export interface InterceptedRequest extends ServerRequest {
  readonly [RUN_HANDLER]: (message: unknown) => unknown;
}

/** The chain of `interceptors` around the handler, first one outermost; built once per server. */
export function chainServerInterceptors(interceptors: readonly ServerInterceptor[]): ServerCallHandler {
  const innermost: ServerCallHandler = async (request) => (request as InterceptedRequest)[RUN_HANDLER](request.message);
  return interceptors.reduceRight<ServerCallHandler>((next, interceptor) => interceptor(next), innermost);
}
