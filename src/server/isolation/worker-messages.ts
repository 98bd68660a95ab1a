// The messages between a server and the workers of an isolated service.
// Everything in them survives structured cloning.

import type { ErrorDetail } from "../../gen/strata/v1/frame_pb.ts";
import type { MetadataEntry } from "../../wire/index.ts";
import type { HandlerContext } from "../handler-context.ts";

/** What the worker needs to build its handler context: the plain fields of the server's, and the time left. */
export interface CallInfo extends Pick<HandlerContext, "requestId" | "service" | "method" | "metadata" | "keys" | "peer" | "connection"> {
  /** Milliseconds left when the call was handed over, or undefined without a deadline. */
  readonly remainingMs: number | undefined;
}

/** A handler failure, as far as it can cross a thread boundary. */
export interface SerializedError {
  /** Set when the handler threw an RpcError. */
  readonly rpc?: { layer: "transport" | "dispatch" | "application"; code: string | number; message: string; details: ErrorDetail[] };
  readonly message: string;
}

/** Server to worker. */
export type ToWorker =
  | { readonly type: "call"; readonly id: number; readonly method: string; readonly input: unknown; readonly info: CallInfo }
  | { readonly type: "abort"; readonly id: number; readonly reason: { name: string; message: string } };

/** Worker to server. */
export type FromWorker =
  | { readonly type: "ready"; readonly methods: string[] }
  | { readonly type: "load-failed"; readonly message: string }
  | { readonly type: "result"; readonly id: number; readonly output: unknown; readonly metadata: MetadataEntry[] }
  | { readonly type: "error"; readonly id: number; readonly error: SerializedError; readonly metadata: MetadataEntry[] }
  | { readonly type: "drain"; readonly id: number; readonly graceMs: number };
