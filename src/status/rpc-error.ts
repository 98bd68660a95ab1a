import type { ErrorDetail } from "../gen/strata/v1/frame_pb.ts";
import type { MetadataEntry } from "../wire/index.ts";
import { TransportCode, type Layer, type Processed } from "./codes.ts";

const brand = Symbol.for("strata-rpc.RpcError");

/** What an RpcError is made of. */
export interface RpcErrorInit {
  layer: Layer;
  /** Transport: a TransportCode; dispatch: a code name such as "UNKNOWN_METHOD"; application: the handler's number. */
  code: string | number;
  message: string;
  processed?: Processed;
  details?: ErrorDetail[];
  metadata?: MetadataEntry[];
  cause?: unknown;
}

/**
 * The one error type of Strata calls: where the call failed (`layer`), the
 * layer's `code` and `message`, whether the server ran the request
 * (`processed`), typed `details` and response `metadata`. Implements the
 * three-layer status of [STATUS-1] on the caller's side.
 */
export class RpcError extends Error {
  override name = "RpcError";
  readonly layer: Layer;
  readonly code: string | number;
  /** The message as the layer gave it, byte for byte [STATUS-8]. */
  readonly rawMessage: string;
  readonly processed: Processed;
  readonly details: ErrorDetail[];
  readonly metadata: MetadataEntry[];

  constructor(init: RpcErrorInit) {
    super(`[${init.layer} ${init.code}] ${init.message}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.layer = init.layer;
    this.code = init.code;
    this.rawMessage = init.message;
    this.processed = init.processed ?? (init.layer === "application" ? "yes" : "maybe");
    this.details = init.details ?? [];
    this.metadata = init.metadata ?? [];
    Object.defineProperty(this, brand, { value: true });
  }

  /**
   * An application error for a handler to throw: it reaches the caller as
   * the application layer with this code (non-zero), message and details
   * [STATUS-8] [STATUS-9].
   */
  static application(code: number, message: string, details?: ErrorDetail[]): RpcError {
    if (!Number.isInteger(code) || code < 1 || code > 0xffffffff) {
      throw new RangeError(`application code must be an integer from 1 to 4294967295, got ${code}`);
    }
    return new RpcError({ layer: "application", code, message, processed: "yes", ...(details ? { details } : {}) });
  }

  /** A transport error, produced by the client only [STATUS-2]. */
  static transport(code: TransportCode, message: string, processed: Processed, cause?: unknown): RpcError {
    return new RpcError({ layer: "transport", code, message, processed, cause });
  }

  /** Whether `value` is an RpcError, also from another copy of this package. */
  static is(value: unknown): value is RpcError {
    return typeof value === "object" && value !== null && brand in value;
  }

  /**
   * Normalizes anything thrown: an RpcError as is; an abort as transport
   * CANCELLED (or TIMEOUT for a timeout); anything else as dispatch INTERNAL,
   * processed "maybe", with the original as `cause`. (The client itself
   * reports its local failures as transport errors; this default is for
   * errors of unknown origin.)
   */
  static from(reason: unknown): RpcError {
    if (RpcError.is(reason)) return reason;
    const name = (reason as { name?: unknown } | null)?.name;
    const message = reason instanceof Error ? reason.message : String(reason);
    if (name === "TimeoutError") return RpcError.transport(TransportCode.TIMEOUT, message, "maybe", reason);
    if (name === "AbortError") return RpcError.transport(TransportCode.CANCELLED, message, "maybe", reason);
    return new RpcError({ layer: "dispatch", code: "INTERNAL", message, processed: "maybe", cause: reason });
  }
}
