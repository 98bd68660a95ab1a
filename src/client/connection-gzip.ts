// One client connection's gzip [COMP-1]: request bodies from a threshold up
// are compressed off the event loop before they are written, and gzip
// responses are inflated within the client's own max_body_size [COMP-8].

import { Compression, gunzip, gzip, type Frame, type RawDeflater, type RawInflater } from "../wire/index.ts";
import { RpcError, TransportCode } from "../status/index.ts";
import type { CallHandlers, CallTicket } from "./call-ticket.ts";

/** The gzip settings of a client's connections [COMP-2] [COMP-7]. */
export interface GzipSettings {
  /** Offer gzip in the HELLO and decompress gzip responses; off: identity only [COMP-2]. Default false. */
  readonly gzip?: boolean;
  /** Request bodies of at least this many bytes are sent gzip, where the server lists it and `deflateRaw` is given; default none [COMP-7]. */
  readonly gzipMinBytes?: number;
  /** Compresses request bodies; without it, none is compressed [COMP-3]. */
  readonly deflateRaw?: RawDeflater;
  /** Inflates gzip responses natively; without it, DecompressionStream does [COMP-8]. */
  readonly inflateRaw?: RawInflater;
}

/** A queued request's gzip body while it is being made. */
const COMPRESSING = "compressing";

/** Compresses one connection's request bodies and inflates its gzip responses [COMP-3] [COMP-7] [COMP-8]. */
export class ConnectionGzip {
  /** Whether our HELLO listed gzip, so that gzip responses are ours to decompress [COMP-2]. */
  private readonly acceptsResponses: boolean;
  private readonly inflate: RawInflater | undefined;
  private readonly deflate: RawDeflater | undefined;
  /** Bodies from this size up are sent gzip; Infinity when the server did not list gzip or nothing compresses [COMP-2] [COMP-7]. */
  private readonly from: number;
  /** The largest body the server takes: one past it is refused before anything is compressed [LIMIT-4]. */
  private readonly serverMaxBody: number;
  /** Our max_body_size, which a response may not inflate past [COMP-8]. */
  private readonly maxResponseBody: number;
  /** Queued requests' gzip bodies, or COMPRESSING while they are being made; the request's own body when gzip did not make it smaller. */
  private readonly made = new Map<CallTicket, Uint8Array | typeof COMPRESSING>();
  /** Called when a body is made, so that the connection writes what waited for it. */
  private readonly onMade: () => void;

  constructor(settings: GzipSettings, serverListsGzip: boolean, limits: { serverMaxBody: number; maxResponseBody: number }, onMade: () => void) {
    this.acceptsResponses = settings.gzip === true;
    this.inflate = settings.inflateRaw;
    this.deflate = settings.deflateRaw;
    this.from = this.acceptsResponses && serverListsGzip && this.deflate !== undefined ? Math.max(1, settings.gzipMinBytes ?? Infinity) : Infinity;
    this.serverMaxBody = limits.serverMaxBody;
    this.maxResponseBody = limits.maxResponseBody;
    this.onMade = onMade;
  }

  /**
   * Whether a ticket's body can be written as it will go out: at once below
   * the threshold, else once its gzip body is made (started here, off the
   * event loop where the runtime's zlib is) [COMP-7].
   */
  ready(ticket: CallTicket): boolean {
    if (ticket.body.length < this.from || ticket.body.length > this.serverMaxBody) return true;
    const made = this.made.get(ticket);
    if (made === undefined) {
      this.made.set(ticket, COMPRESSING);
      const done = (body: Uint8Array) => {
        if (this.made.get(ticket) !== COMPRESSING) return; // no longer queued
        this.made.set(ticket, body.length < ticket.body.length ? body : ticket.body);
        this.onMade();
      };
      // A body that does not compress, or a deflate that fails, goes out as it is. A call that
      // settles meanwhile gives its body back to the pool while zlib may still read it: what that
      // deflate makes is dropped (`done` finds the ticket forgotten), never written.
      gzip(ticket.body, this.deflate!).then(done, () => done(ticket.body));
      return false;
    }
    return made !== COMPRESSING;
  }

  /** Whether any of `tickets` still waits for its gzip body: no call may overtake it [KEYS-4]. */
  anyCompressing(tickets: readonly CallTicket[]): boolean {
    if (this.made.size === 0) return false;
    return tickets.some((ticket) => this.made.get(ticket) === COMPRESSING);
  }

  /** The body to write for a ready ticket, gzip or its own (compare with ticket.body), forgetting it here [COMP-1]. */
  take(ticket: CallTicket): Uint8Array {
    if (this.made.size === 0) return ticket.body;
    const made = this.made.get(ticket);
    this.made.delete(ticket);
    return made !== undefined && made !== COMPRESSING ? made : ticket.body;
  }

  /** Forgets a ticket that leaves the queue unwritten; true if it had a body here (calls behind it may go now). */
  forget(ticket: CallTicket): boolean {
    return this.made.delete(ticket);
  }

  /** Forgets every ticket: the queue was failed. */
  clear(): void {
    this.made.clear();
  }

  /** Whether a RESPONSE's body is gzip for us to inflate [COMP-2]. */
  inflates(frame: Frame): boolean {
    return frame.header.compression === Compression.GZIP && this.acceptsResponses && frame.body.length > 0;
  }

  /**
   * Decompresses a gzip RESPONSE within our max_body_size, then hands it
   * over as identity; a body that does not decompress or is too large fails
   * only its call, with PROTOCOL_ERROR (processed maybe, whatever its
   * dispatch code), and the connection goes on [COMP-8]. The call knows at
   * once that its answer has arrived [DEADLINE-8].
   */
  decompress(pending: CallHandlers, frame: Frame): void {
    pending.arrived?.();
    // The frame's body is a view of the read buffer: copied, since zlib reads it later.
    const body = frame.body.slice();
    void gunzip(body, this.maxResponseBody, this.inflate).then((result) => {
      if (result.ok) {
        pending.response({ header: { ...frame.header, compression: Compression.IDENTITY, bodySize: result.bytes.length }, body: result.bytes });
        return;
      }
      const what = result.failure === "too-large" ? `exceeds this client's max_body_size of ${this.maxResponseBody} bytes` : "does not decompress";
      pending.fail(RpcError.transport(TransportCode.PROTOCOL_ERROR, `the gzip response body ${what}: ${result.detail} [COMP-8]`, "maybe"));
    });
  }
}
