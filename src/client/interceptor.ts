// Client interceptors, in the shape connect-es users know: a function that
// takes the next step of the call and returns one that wraps it. They see
// the decoded request and response, set request metadata, pass values
// along, and can answer in the server's place by returning a response or
// throwing an RpcError without calling `next`.

import type { CallMode, MetadataEntry } from "../wire/index.ts";
import type { ContextValues } from "../util/context-values.ts";

/** A call as a client interceptor sees it; metadata and keys may be changed before `next`. */
export interface ClientRequest {
  readonly service: string;
  readonly method: string;
  readonly callMode: CallMode;
  /** The input message (or its init shape); an interceptor may replace it. */
  message: unknown;
  /** Request metadata, in order; an interceptor may add entries (e.g. `authorization`) [META-1]. */
  metadata: MetadataEntry[];
  /** Keys for keyed dispatch [KEYS-1]. */
  keys: string[];
  /** The call's timeout; the deadline runs from the moment the call was made [DEADLINE-1]. */
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  /** Values the caller passed in CallOptions.values, shared by the interceptors of this call. */
  readonly values: ContextValues;
}

/** What a call resolves with: the output message (undefined for oneway) and the response metadata [META-1]. */
export interface ClientResponse {
  readonly message: unknown;
  readonly metadata: MetadataEntry[];
}

/** The rest of a call: resolves with its response, rejects with an RpcError. */
export type ClientCallStep = (request: ClientRequest) => Promise<ClientResponse>;

/** Wraps the next step of a call. */
export type ClientInterceptor = (next: ClientCallStep) => ClientCallStep;

/** How the innermost step sends the request: a property that a spread of the request keeps. */
export const SEND_REQUEST: unique symbol = Symbol("strata.sendRequest");

/** A request as the client builds it: it knows how to send itself. */
export interface OutgoingRequest extends ClientRequest {
  readonly [SEND_REQUEST]: (request: ClientRequest) => Promise<ClientResponse>;
}

/** The chain of `interceptors` around sending, first one outermost; built once per client. */
export function chainClientInterceptors(interceptors: readonly ClientInterceptor[]): ClientCallStep {
  const innermost: ClientCallStep = (request) => (request as OutgoingRequest)[SEND_REQUEST](request);
  return interceptors.reduceRight<ClientCallStep>((next, interceptor) => interceptor(next), innermost);
}
