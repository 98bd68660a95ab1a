// One client connection once its handshake is done (client-handshake.ts):
// multiplexed calls matched by request id, a queue for calls the server or
// the transport has no room for yet, GOAWAY handling; its heartbeat, which
// finds a dead or half-open peer, is client-heartbeat.ts.

import {
  Compression,
  decodeGoaway,
  encodeFrame,
  encodeGoaway,
  FrameType,
  GoawayCode,
  ProtocolError,
  resolveFrameLimits,
  type Frame,
  type FrameDecoder,
  type FrameHeader,
  type FrameLimits,
  type Hello,
} from "../wire/index.ts";
import { RpcError, TransportCode, type Processed } from "../status/index.ts";
import { lingeringClose, type Transport } from "../transport/index.ts";
import { METHOD_REFS_FEATURE, timeoutField } from "../wire/request-rules.ts";
import { RequestTable } from "../util/request-table.ts";
import type { CallConnection, CallHandlers, CallTicket, RequestHead } from "./call-ticket.ts";
import { ConnectionGzip, type GzipSettings } from "./connection-gzip.ts";
import { ClientHeartbeat, pingInterval } from "./client-heartbeat.ts";
import { RequestEncoder } from "./request-encoder.ts";
import { now } from "../util/clock.ts";

/** Settings of a client's connections. */
export interface ClientConnectionSettings extends GzipSettings {
  readonly limits: FrameLimits;
  /** The ping interval the client declares (non-zero) [PING-4]. */
  readonly pingIntervalMs: number;
  /** Connect and handshake must finish within this [HELLO-5]. */
  readonly connectTimeoutMs: number;
}

const State = { open: 0, draining: 1, closed: 2 } as const;
type State = (typeof State)[keyof typeof State];

/** The client side of one connection [HELLO-3] [ID-1] [PING-5] [DRAIN-3]. */
export class ClientConnection implements CallConnection {
  private state: State = State.open;
  private endedLost = false;
  private readonly transport: Transport;
  private readonly decoder: FrameDecoder;
  /** Calls written and not yet answered, by request id. */
  private readonly pending = new RequestTable<CallHandlers>();
  /** Calls waiting for the server's max_concurrent_requests to leave room [LIMIT-5]. */
  private readonly queued: CallTicket[] = [];
  private nextId = 1;
  /** Limits and offers from the server's HELLO [HELLO-7]. */
  readonly serverLimits: FrameLimits;
  readonly serverHello: Hello;
  private readonly heartbeat: ClientHeartbeat;
  private goawayLastId: number | undefined;
  private closedListeners: Array<() => void> = [];
  /** False after the transport's buffer passed its high-water mark, until it drains: calls wait in the queue. */
  private writable = true;
  /** Whether the transport keeps the process alive: exactly while calls are pending or queued here. */
  private referenced = true;
  private readonly gzip: ConnectionGzip;
  /** This connection's REQUEST frames, with the method references bound here [REF-2]. */
  private readonly requests: RequestEncoder;

  /** Takes over a transport whose handshake is done; `decoder` already read the server's HELLO [HELLO-3]. */
  constructor(transport: Transport, settings: ClientConnectionSettings, hello: Hello, decoder: FrameDecoder) {
    this.transport = transport;
    this.serverHello = hello;
    this.serverLimits = resolveFrameLimits(hello);
    this.decoder = decoder;
    this.requests = new RequestEncoder(this.serverLimits, hello.features.includes(METHOD_REFS_FEATURE));
    const limits = { serverMaxBody: this.serverLimits.maxBodySize, maxResponseBody: settings.limits.maxBodySize };
    this.gzip = new ConnectionGzip(settings, hello.compression.includes(Compression.GZIP), limits, () => this.sendQueued());
    const pending = this.pending;
    this.heartbeat = new ClientHeartbeat(
      {
        get hasPending() {
          return pending.size > 0;
        },
        write: (bytes) => this.write(bytes),
        dead: (message) => this.shutdown(TransportCode.CONNECTION_LOST, message, undefined),
      },
      pingInterval(settings.pingIntervalMs, hello),
      hello.idleTimeoutMs,
    );
    this.holdProcess();
  }

  /**
   * Lets the process exit while no call is pending or queued here: the
   * transport is unreferenced then, and referenced again by the next call.
   * The heartbeat timer never holds the process [PING-4].
   */
  private holdProcess(): void {
    const busy = this.pending.size > 0 || this.queued.length > 0;
    if (busy === this.referenced) return;
    this.referenced = busy;
    if (busy) this.transport.ref?.();
    else this.transport.unref?.();
  }

  /** True while new calls may use this connection (no GOAWAY, not closed). */
  get usable(): boolean {
    return this.state === State.open;
  }

  /** Calls waiting for a RESPONSE. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Calls written and not answered, or queued here: what least-outstanding balancing compares [CLUSTER-4]. */
  get outstanding(): number {
    return this.pending.size + this.queued.length;
  }

  /** Whether it ended by failing (reset, EOF before a drain, no PONG): CONNECTION_LOST, not a drain or close [PING-5]. */
  get lost(): boolean {
    return this.endedLost;
  }

  /** Runs `listener` once when the connection is gone. */
  onceClosed(listener: () => void): void {
    if (this.state === State.closed) listener();
    else this.closedListeners.push(listener);
  }

  /**
   * Writes a REQUEST with the next request id [ID-1], its body as given
   * (gzip or identity, as `compression` says) [COMP-1]. Throws a transport
   * LIMIT_EXCEEDED error (not processed) when the frame exceeds the server's
   * limits [LIMIT-4]. Oneway calls register no handlers.
   * `at` is the current time when the caller has just read the clock.
   */
  private send(head: RequestHead, timeoutMs: number | undefined, body: Uint8Array, compression: Compression, size: number, handlers: CallHandlers | undefined, at: number): number {
    const id = this.nextId;
    const frame = this.requests.encode(head, id, timeoutMs, body, compression, size);
    // The id is used up only once the request is written [ID-7].
    this.nextId++;
    if (handlers !== undefined) this.pending.set(id, handlers);
    this.requests.writing(head);
    this.write(frame);
    // A large body follows its head as is (the transport sends both in one write), and stays the
    // ticket's: never given back to the output pool.
    if (RequestEncoder.separate(body) && !this.transport.write(body)) this.writable = false;
    this.heartbeat.sent(at);
    return id;
  }

  /**
   * Writes a call now, or queues it while the server's
   * max_concurrent_requests calls are pending (so a client never provokes
   * OVERLOADED by itself) or the transport is over its high-water mark
   * [LIMIT-5]. A queued call was not written: if it fails there, it was not
   * processed. Throws UNAVAILABLE (not processed) once the connection
   * takes no new calls.
   */
  submit(ticket: CallTicket): void {
    if (this.state !== State.open) throw RpcError.transport(TransportCode.UNAVAILABLE, "the connection is draining or closed", "no");
    const ready = this.gzip.ready(ticket);
    // A oneway call needs no room at the server: only a transport that takes more [CALL-4]. No call
    // overtakes one whose gzip body is still being made: requests go out in the order they were made [KEYS-4].
    const sendNow = this.writable && ready && (ticket.oneway ? !this.gzip.anyCompressing(this.queued) : this.queued.length === 0 && this.hasRoom());
    if (sendNow) this.sendTicket(ticket);
    else this.queued.push(ticket);
    if (!this.referenced) this.holdProcess();
  }

  private hasRoom(): boolean {
    const max = this.serverHello.maxConcurrentRequests;
    return max === 0 || this.pending.size < max;
  }

  /**
   * Writes queued calls in order while the transport takes more; a oneway
   * call needs no room at the server, but no call passes one whose gzip
   * body is still being made.
   */
  private sendQueued(): void {
    let i = 0;
    let waitingForBody = false;
    while (i < this.queued.length && this.state === State.open && this.writable) {
      const ticket = this.queued[i]!;
      if (!this.gzip.ready(ticket) || waitingForBody) {
        waitingForBody = true;
        i++;
        continue;
      }
      if (!ticket.oneway && !this.hasRoom()) {
        i++;
        continue;
      }
      this.queued.splice(i, 1);
      try {
        this.sendTicket(ticket);
      } catch (error) {
        ticket.handlers.fail(RpcError.from(error));
      }
    }
  }

  /** Writes a ticket's request with the time left until its deadline [DEADLINE-1] [DEADLINE-5]. */
  private sendTicket(ticket: CallTicket): void {
    const at = now();
    const body = this.gzip.take(ticket);
    const remaining = ticket.deadline - at;
    if (remaining <= 0) throw RpcError.transport(TransportCode.TIMEOUT, "the deadline passed before the request was sent [DEADLINE-5]", "no");
    const compression = body === ticket.body ? Compression.IDENTITY : Compression.GZIP;
    ticket.id = this.send(ticket.head, timeoutField(remaining), body, compression, ticket.body.length, ticket.oneway ? undefined : ticket.handlers, at);
    ticket.handlers.written();
  }

  /**
   * Writes a frame encoded for this write alone (the transport may reuse its
   * memory once written); past the transport's high-water mark, calls wait
   * until it drains.
   */
  private write(frame: Uint8Array): void {
    if (!this.transport.write(frame, true)) this.writable = false;
  }

  /** The transport's buffer drained: queued calls go out [LIMIT-5]. */
  onDrain(): void {
    this.writable = true;
    this.sendQueued();
  }

  /** Gives up on a call: drops it from the queue, or forgets its id and tells the server [CANCEL-1] [DEADLINE-6]. */
  cancel(ticket: CallTicket): void {
    if (ticket.id === 0) {
      const index = this.queued.indexOf(ticket);
      if (index >= 0) this.queued.splice(index, 1);
      if (this.gzip.forget(ticket)) this.sendQueued(); // calls behind it may go now
      this.closeIfDrained();
      this.holdProcess();
      return;
    }
    if (!this.pending.delete(ticket.id)) return;
    if (this.state !== State.closed) this.write(encodeFrame({ type: FrameType.CANCEL, requestId: ticket.id }));
    this.sendQueued();
    this.closeIfDrained();
    this.holdProcess();
  }

  /**
   * Closes once the pending calls have their answers; calls still queued
   * were never sent and fail at once, not processed [DRAIN-9].
   */
  close(): void {
    if (this.state === State.open) this.state = State.draining;
    this.failQueued();
    this.closeIfDrained();
  }

  /** Bytes from the server, after the handshake. */
  onData(chunk: Uint8Array): void {
    this.heartbeat.received();
    try {
      this.decoder.push(chunk);
    } catch (error) {
      this.onProtocolError(error);
    }
  }

  /** A frame from the server, after its HELLO. */
  onFrame(frame: Frame): void {
    if (this.state === State.closed) return;
    const { header } = frame;
    switch (header.type) {
      case FrameType.RESPONSE:
      case FrameType.ACK:
        this.onReply(header, frame);
        return;
      case FrameType.PING:
        this.write(encodeFrame({ type: FrameType.PONG }, frame.body.slice())); // [PING-2]
        return;
      case FrameType.PONG:
        return; // liveness is tracked by bytes received
      case FrameType.GOAWAY:
        this.onGoaway(decodeGoaway(frame.body));
        return;
      case FrameType.HELLO:
        throw new ProtocolError("HELLO-2", "a second HELLO");
      case FrameType.REQUEST:
      case FrameType.CANCEL:
        throw new ProtocolError("FRAME-17", "a server does not send REQUEST or CANCEL");
      default:
        return; // unknown type: skipped [FRAME-9]
    }
  }

  private onReply(header: FrameHeader, frame: Frame): void {
    const id = header.requestId;
    if (id >= this.nextId) throw new ProtocolError("ID-7", `reply for request id ${id}, which was never sent`);
    // An ACK leaves the call pending; a RESPONSE ends it.
    const ack = header.type === FrameType.ACK;
    const pending = ack ? this.pending.get(id) : this.pending.take(id);
    if (pending === undefined) return; // cancelled, timed out or answered: discarded [ID-6] [ID-8]
    if (ack) {
      pending.ack?.();
      return;
    }
    if (this.gzip.inflates(frame)) this.gzip.decompress(pending, frame);
    else pending.response(frame);
    this.sendQueued();
    this.closeIfDrained();
    this.holdProcess();
  }

  /** After a GOAWAY: no new calls here; calls above its last id were not processed [DRAIN-3] [DRAIN-16]. */
  private onGoaway(goaway: { lastRequestId: number; code: GoawayCode; message: string }): void {
    if (this.goawayLastId !== undefined && goaway.lastRequestId > this.goawayLastId) {
      throw new ProtocolError("DRAIN-12", "a GOAWAY raised last_request_id");
    }
    this.goawayLastId = goaway.lastRequestId;
    if (this.state === State.open) this.state = State.draining;
    this.failQueued();
    for (const [id, pending] of this.pending.entries()) {
      if (id <= goaway.lastRequestId) continue;
      this.pending.delete(id);
      pending.fail(RpcError.transport(TransportCode.UNAVAILABLE, `the server is going away and did not process request ${id} [DRAIN-16]`, "no"));
    }
    this.closeIfDrained();
    this.holdProcess();
  }

  /** A violation by the server: GOAWAY, close, fail what is pending [FRAME-14] [STATUS-12]. */
  onProtocolError(error: unknown): void {
    if (this.state === State.closed) return;
    const protocolError = ProtocolError.is(error) ? error : undefined;
    if (protocolError?.goawayCode === undefined && protocolError !== undefined) {
      this.shutdown(TransportCode.CONNECTION_LOST, protocolError.message, undefined); // EOF inside a frame [FRAME-12]
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    this.write(encodeFrame({ type: FrameType.GOAWAY }, encodeGoawayBody(protocolError?.goawayCode ?? GoawayCode.INTERNAL_ERROR, message)));
    this.shutdown(TransportCode.PROTOCOL_ERROR, `the server broke the protocol: ${message}`, error, true);
  }

  /** The transport ended. */
  onClosed(error?: Error): void {
    this.shutdown(TransportCode.CONNECTION_LOST, error ? `connection lost: ${error.message}` : "the server closed the connection", error);
  }

  /** Fails every pending call at once with one transport code, then closes [STATUS-12]. */
  private shutdown(code: TransportCode, message: string, cause: unknown, linger = false): void {
    if (this.state === State.closed) return;
    // A connection that ends while draining after a GOAWAY was leaving, not failing.
    this.endedLost = code === TransportCode.CONNECTION_LOST && this.state === State.open;
    this.state = State.closed;
    this.heartbeat.stop();
    if (linger) lingeringClose(this.transport);
    else this.transport.destroy();
    this.failQueued();
    const failures = this.pending.entries();
    this.pending.clear();
    for (const [id, pending] of failures) {
      const processed: Processed = this.goawayLastId !== undefined && id > this.goawayLastId ? "no" : "maybe";
      pending.fail(RpcError.transport(code, message, processed, cause));
    }
    for (const listener of this.closedListeners.splice(0)) listener();
  }

  /** Queued calls were never written: they fail as not processed, and the caller may retry them [STATUS-3]. */
  private failQueued(): void {
    this.gzip.clear();
    for (const ticket of this.queued.splice(0)) {
      ticket.handlers.fail(RpcError.transport(TransportCode.UNAVAILABLE, "the connection ended before the request was sent", "no"));
    }
  }

  private closeIfDrained(): void {
    if (this.state === State.draining && this.pending.size === 0 && this.queued.length === 0) {
      this.state = State.closed;
      this.heartbeat.stop();
      lingeringClose(this.transport);
      for (const listener of this.closedListeners.splice(0)) listener();
    }
  }
}

function encodeGoawayBody(code: GoawayCode, message: string): Uint8Array {
  // The client's GOAWAY carries last_request_id 0 [FRAME-14].
  return encodeGoaway({ lastRequestId: 0, code, message });
}
