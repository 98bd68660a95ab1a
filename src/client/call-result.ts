import type { ErrorDetail } from "../gen/strata/v1/frame_pb.ts";
import type { Processed, RpcError } from "../status/index.ts";
import type { MetadataEntry } from "../wire/index.ts";

/** One layer's status as a result reports it [STATUS-1]. */
export interface LayerStatus<C> {
  code: C;
  message: string;
}

/**
 * The outcome of a call as a value instead of an exception: the status of
 * each layer the call reached, whether it was processed, and the output.
 * Implements the three-layer status of [STATUS-1] for callers that prefer
 * results; also what each call of a batch reports [CALL-9].
 */
export type CallResult<T> = CallSucceeded<T> | CallFailed;

/** A call that succeeded: `if (result.ok)` narrows a CallResult to it [STATUS-1]. */
export interface CallSucceeded<T> extends CallLayers {
  ok: true;
  value: T;
  error: undefined;
}

/** A call that failed, with the same failure as an RpcError [STATUS-1]. */
export interface CallFailed extends CallLayers {
  ok: false;
  value: undefined;
  error: RpcError;
}

/** What every CallResult reports, success or not: how far the call got in each layer [STATUS-1]. */
export interface CallLayers {
  processed: Processed;
  /** Set when the client failed the call (the request may not have reached the server) [STATUS-2]. */
  transport: LayerStatus<string> | undefined;
  /** Set when a RESPONSE arrived: "OK" or the dispatch code's name [STATUS-4]. */
  dispatch: LayerStatus<string> | undefined;
  /** Set when the handler ran and answered: 0 or its own code [STATUS-8]. */
  application: (LayerStatus<number> & { details: ErrorDetail[] }) | undefined;
  /** The response's metadata, in the order sent; empty when no RESPONSE arrived [META-1]. */
  metadata: MetadataEntry[];
}

/** The result of a successful call [STATUS-1]. */
export function successResult<T>(value: T, metadata: MetadataEntry[] = []): CallResult<T> {
  return {
    ok: true,
    value,
    error: undefined,
    processed: "yes",
    transport: undefined,
    dispatch: { code: "OK", message: "" },
    application: { code: 0, message: "", details: [] },
    metadata,
  };
}

/** The result of a failed call, each layer filled as far as the call got [STATUS-1]. */
export function failureResult<T>(error: RpcError): CallResult<T> {
  const status = { code: error.code, message: error.rawMessage };
  return {
    ok: false,
    value: undefined,
    error,
    processed: error.processed,
    transport: error.layer === "transport" ? (status as LayerStatus<string>) : undefined,
    dispatch: error.layer === "transport" ? undefined : error.layer === "dispatch" ? (status as LayerStatus<string>) : { code: "OK", message: "" },
    application: error.layer === "application" ? { ...(status as LayerStatus<number>), details: error.details } : undefined,
    metadata: error.metadata,
  };
}
