// What a call hands to the connection it is written on, and what it hears
// back: the seam between one call (outgoing-call.ts) and whichever
// connection a router chose for it.

import type { RpcError } from "../status/index.ts";
import type { CallMode, Frame, MetadataEntry } from "../wire/index.ts";

/** What the owner of a call hears back from its connection [CALL-3]. */
export interface CallHandlers {
  /** The request was written; a oneway call is complete now [CALL-4]. */
  written(): void;
  /** The server accepted an acked call [CALL-6]. */
  ack(): void;
  /** The RESPONSE arrived. */
  response(frame: Frame): void;
  /**
   * The RESPONSE arrived and is still being read (decompressed): response()
   * or fail() follows, and settles the call even past its deadline [DEADLINE-8].
   */
  arrived?(): void;
  /** The call failed on this connection; `error.processed` says whether it may have run [STATUS-3]. */
  fail(error: RpcError): void;
}

/**
 * The header fields of a REQUEST that a call chooses; the connection adds
 * the type, id and timeout_ms. Also what a router sees of the call [KEYS-9].
 */
export interface RequestHead {
  readonly service: string;
  readonly method: string;
  readonly callMode: CallMode;
  readonly metadata: MetadataEntry[];
  readonly keys: string[];
  /** The service group the call asks for; undefined: the client's own [CLUSTER-4]. */
  readonly group: string | undefined;
  /** A routing key the call sticks to, besides its keys' [CLUSTER-7]. */
  readonly routingKey: string | undefined;
  /** `service` and `method` as encoded header fields (encodeRoute), when the caller has them; else the connection encodes the names [FRAME-1]. */
  readonly route?: Uint8Array;
}

/** A call handed to a connection: queued until it may be written, then sent. */
export interface CallTicket {
  /** The request id once written; 0 while queued. */
  id: number;
  readonly head: RequestHead;
  /** The call's deadline on performance.now()'s clock; timeout_ms is computed when it is written [DEADLINE-1]. */
  readonly deadline: number;
  readonly body: Uint8Array;
  /** Oneway calls expect no reply and are not held for one [CALL-4]. */
  readonly oneway: boolean;
  readonly handlers: CallHandlers;
}

/** A connection calls can be written on; what a router hands out. */
export interface CallConnection {
  /** False once it takes no new calls (GOAWAY received, closing, closed) [DRAIN-3]. */
  readonly usable: boolean;
  /**
   * Writes the call now, or queues it until the server has room and the
   * transport takes more [LIMIT-5]; throws (not processed) when the call
   * cannot be sent here at all.
   */
  submit(ticket: CallTicket): void;
  /** Gives up on a call: dropped from the queue, or CANCEL sent [CANCEL-1]. */
  cancel(ticket: CallTicket): void;
}
