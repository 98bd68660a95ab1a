// A server interceptor that authenticates calls by a bearer token in the
// `authorization` metadata entry: a call without a token the verifier
// accepts is refused UNAUTHENTICATED before its handler runs, so the
// caller knows it was not processed [STATUS-13] [STATUS-6]; an accepted
// call carries the verifier's identity to its handler in context.values.

import { RpcError } from "../status/index.ts";
import type { ContextKey } from "../util/context-values.ts";
import type { ServerInterceptor, ServerRequest } from "./interceptor.ts";

/** Options of bearerAuth. */
export interface BearerAuthOptions<T> {
  /** The identity of a valid token, or undefined when the token is not valid. */
  verify(token: string, request: ServerRequest): T | undefined | Promise<T | undefined>;
  /** Where the handler finds the identity: `context.values.get(identity)`. */
  identity: ContextKey<T | undefined>;
  /** Which calls need a token; all by default. */
  appliesTo?(request: ServerRequest): boolean;
}

const PREFIX = "bearer ";
const text = new TextDecoder("utf-8", { fatal: true });

/** The token of the first `authorization: Bearer <token>` entry, or undefined [META-1]. */
function bearerToken(request: ServerRequest): string | undefined {
  const entry = request.context.metadata.find((e) => e.key === "authorization");
  if (entry === undefined) return undefined;
  let value: string;
  try {
    value = text.decode(entry.value);
  } catch {
    return undefined;
  }
  return value.slice(0, PREFIX.length).toLowerCase() === PREFIX ? value.slice(PREFIX.length).trim() || undefined : undefined;
}

/** Refuses calls without a valid bearer token UNAUTHENTICATED, not processed; the token is never echoed [STATUS-13] [SEC-2]. */
export function bearerAuth<T>(options: BearerAuthOptions<T>): ServerInterceptor {
  return (next) => async (request) => {
    if (options.appliesTo !== undefined && !options.appliesTo(request)) return next(request);
    const token = bearerToken(request);
    const identity = token === undefined ? undefined : await options.verify(token, request);
    if (identity === undefined || identity === null) {
      const reason = token === undefined ? "the call carries no bearer token" : "the bearer token is not valid";
      throw new RpcError({ layer: "dispatch", code: "UNAUTHENTICATED", message: `${reason} [STATUS-13]`, processed: "no" });
    }
    request.context.values.set(options.identity, identity);
    return next(request);
  };
}
