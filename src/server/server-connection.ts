// One accepted connection, server side: preface, hello, frames, pings,
// timers, drain and close (spec sections 3, 4, 10 and 11). Its requests
// are the RequestPipeline's (request-pipeline.ts), its backpressure the
// ReadFlow's (read-flow.ts).

import {
  createFrameDecoder,
  decodeGoaway,
  decodeHello,
  encodeFrame,
  encodeGoaway,
  encodePreface,
  FrameType,
  GoawayCode,
  httpRefusal,
  PREFACE_SIZE,
  PROTOCOL_VERSION,
  ProtocolError,
  readPreface,
  resolveFrameLimits,
  type Frame,
  type FrameDecoder,
  type FrameLimits,
} from "../wire/index.ts";
import { lingeringClose, type ConnectionInfo, type Transport } from "../transport/index.ts";
import { setTimer, type Timer } from "../util/timer.ts";
import type { ConnectionHost, ConnectionSettings } from "./connection-host.ts";
import { armConnectionAge, CONNECTION_AGE_MESSAGE } from "./connection-age.ts";
import { PartialFrameWatch, type FrameTimeoutListener } from "./partial-frame-watch.ts";
import { pingTooSoon, type PingRecord } from "./ping-policy.ts";
import { ReadFlow, type FlowOwner } from "./read-flow.ts";
import { RequestPipeline, type Ending, type PipelineConnection } from "./request-pipeline.ts";
import { now } from "../util/clock.ts";

export type { ConnectionHost, ConnectionSettings } from "./connection-host.ts";

const State = { preface: 0, hello: 1, open: 2, draining: 3, closed: 4 } as const;
type State = (typeof State)[keyof typeof State];

const EMPTY = new Uint8Array(0);

/**
 * The input a connection keeps while its frames wait, at most: twice its
 * largest frame, and 8 MiB at least. A transport that pauses delivers little
 * more than the read it was in [SEC-6].
 */
function keptInputBound(limits: FrameLimits): number {
  return Math.max(8 * 1024 * 1024, 2 * (4 + limits.maxHeaderSize + limits.maxBodySize));
}

/** The server side of one connection [PREFACE-2] [HELLO-1] [FRAME-14] [DRAIN-2]. */
export class ServerConnection implements PipelineConnection, FlowOwner, FrameTimeoutListener, PingRecord {
  private state: State = State.preface;
  private readonly transport: Transport;
  private readonly settings: ConnectionSettings;
  private readonly host: ConnectionHost;
  private prefaceBytes = EMPTY;
  private readonly decoder: FrameDecoder;
  private limitsOfClient: FrameLimits | undefined;
  /** The highest request id received [ID-3] [FRAME-14]. */
  private lastRequestId = 0;
  private lastIdOfGoaway: number | undefined;
  private clientSentGoaway = false;
  private readonly requests: RequestPipeline;
  private readonly flow: ReadFlow;
  /** When the last PING arrived, and how many came in a row too soon after the one before [PING-7]. */
  lastPingAt = -Infinity;
  pingStrikes = 0;
  private lastByteAt = now();
  /** When the chunk being decoded arrived: the time of frames read from it [DEADLINE-2]. */
  private chunkAt = this.lastByteAt;
  /** When the header of the frame whose body is arriving was read [DEADLINE-2]. */
  private headerReadAt: number | undefined;
  /** When the peer last took some of our output (or had none pending), and how much was pending then [IDLE-3]. */
  private lastOutputAt = now();
  private lastBuffered = 0;
  private readonly partialFrame: PartialFrameWatch;
  private idleTimer: Timer | undefined;
  private handshakeTimer: Timer | undefined;
  private graceTimer: Timer | undefined;
  private graceEndsAt = Infinity;
  private ageTimer: Timer | undefined;
  /** Ended with requests that have not started, which the server keeps it for [DRAIN-15]. */
  lingering = false;

  constructor(transport: Transport, settings: ConnectionSettings, host: ConnectionHost) {
    this.transport = transport;
    this.settings = settings;
    this.host = host;
    this.decoder = createFrameDecoder({ limits: settings.limits, onFrame: (frame) => this.onFrame(frame) });
    this.requests = new RequestPipeline(this, settings, host);
    this.flow = new ReadFlow(transport, this, host, settings.maxConnectionOutputBytes, keptInputBound(settings.limits));
    this.partialFrame = new PartialFrameWatch(this.decoder, host, settings.frameTransferTimeoutMs, this);
  }

  /** Who the peer is and how the connection is protected. */
  get info(): ConnectionInfo {
    return this.transport.info;
  }

  get closed(): boolean {
    return this.state === State.closed;
  }

  get clientLimits(): FrameLimits {
    return this.limitsOfClient!;
  }

  get goawayLastId(): number | undefined {
    return this.lastIdOfGoaway;
  }

  /** Starts reading; one handshake timer and the age timer run from here [PREFACE-6] [HELLO-5] [DRAIN-18]. */
  start(): void {
    this.handshakeTimer = setTimer(() => this.onHandshakeTimeout(), this.settings.handshakeTimeoutMs);
    this.ageTimer = armConnectionAge(this.settings, (graceMs) => this.drain(graceMs, CONNECTION_AGE_MESSAGE));
    this.transport.start({
      data: (chunk) => this.onData(chunk),
      closed: (error) => this.onTransportClosed(error),
      drain: () => this.onDrain(),
    });
  }

  /**
   * Starts a drain: GOAWAY(NO_ERROR) with the highest received id, finish
   * what was received, close when nothing is owed or the grace period ends
   * [DRAIN-2] [DRAIN-4] [DRAIN-10]. A connection already draining keeps its
   * GOAWAY, and the grace period that ends first.
   */
  drain(graceMs: number, message = "server is shutting down"): void {
    if (this.state === State.preface || this.state === State.hello) {
      this.finish();
      return;
    }
    if (this.state === State.draining) {
      // Another drain (the server closing during an age drain) may only shorten the grace period.
      if (now() + graceMs >= this.graceEndsAt) return;
      this.graceTimer?.clear();
    } else if (this.state === State.open) {
      this.state = State.draining;
      this.lastIdOfGoaway = this.lastRequestId;
      this.sendGoaway(GoawayCode.NO_ERROR, message);
    } else {
      return;
    }
    this.graceEndsAt = now() + graceMs;
    // Any grace period, 2^31 ms and more included, lasts as long as it says [DRAIN-10].
    this.graceTimer = setTimer(() => {
      this.endRequests("the drain grace period ended", "grace");
      this.finish();
    }, graceMs);
    this.closeIfDrained();
  }

  /** Whether requests of this connection still wait to start (after EOF: oneway requests waiting for keys) [DRAIN-15]. */
  hasUnstarted(): boolean {
    return this.requests.hasUnstarted();
  }

  /** Drops the requests that have not started, without answering: the server's grace period is over [DRAIN-15]. */
  dropUnstarted(): void {
    this.requests.dropUnstarted();
  }

  /** Closes at once: running handlers are signalled, nothing more is sent. */
  destroy(): void {
    this.endRequests("server closed the connection", "error");
    this.finish(false);
  }

  private onData(chunk: Uint8Array): void {
    if (this.state === State.closed) return;
    this.lastByteAt = now();
    this.flow.chunkArrived();
    this.requests.runs.readingChunk();
    try {
      if (this.state === State.preface) {
        const rest = this.readPreface(chunk);
        if (rest === undefined || rest.length === 0) return;
        chunk = rest;
      }
      // While frames wait, what arrives is kept as it came, behind what was kept before [SEC-6].
      if (this.flow.holding) this.flow.hold(chunk, this.lastByteAt);
      else this.decodeChunk(chunk, this.lastByteAt);
    } catch (error) {
      this.onProtocolError(error);
    } finally {
      this.requests.runs.chunkRead();
    }
  }

  /** Decodes input received at `receivedAt`; what a stop left of it is kept first, for when frames can be handled again [SEC-6]. */
  private decodeChunk(chunk: Uint8Array, receivedAt: number): void {
    this.chunkAt = receivedAt;
    this.decoder.push(chunk);
    const rest = this.decoder.takeRest();
    if (rest !== undefined) this.flow.hold(rest, receivedAt, true);
    // A header read in this chunk whose body is still to come: its frame was received now [DEADLINE-2].
    if (this.headerReadAt === undefined && this.decoder.readingBody) this.headerReadAt = receivedAt;
    // From the HELLO on: a handshake whose HELLO declares a large body holds memory too [FRAME-20].
    if (this.state === State.hello || this.state === State.open || this.state === State.draining) this.partialFrame.afterChunk();
  }

  /** Input kept while frames waited can be decoded now (called by the read flow) [SEC-6]. */
  decodeHeld(bytes: Uint8Array, receivedAt: number): void {
    if (this.state !== State.closed) this.decodeChunk(bytes, receivedAt);
  }

  /** The frame just read must wait: the rest of its chunk is kept undecoded (called by the read flow) [SEC-6]. */
  stopDecoding(): void {
    this.decoder.stop();
  }

  /** The peer sent more than is kept while frames wait [SEC-6]. */
  inputOverflow(): void {
    this.endRequests("the peer sent more than the server keeps while it cannot read", "error");
    this.finish(false);
  }

  /** A frame took longer than the frame transfer timeout to arrive: GOAWAY(IDLE_TIMEOUT) and close [FRAME-19]. */
  frameTransferTimedOut(limit: number): void {
    if (this.state === State.closed) return;
    // The rest of the frame may be here already, kept undecoded while frames wait: our delay, not the
    // peer's. Its decoding starts the clock again [FRAME-22] [SEC-6].
    if (this.flow.holding) return;
    this.sendGoaway(GoawayCode.IDLE_TIMEOUT, `[FRAME-19] a frame took more than ${limit} ms to arrive`);
    this.endRequests("frame transfer timeout", "eof");
    this.finish();
  }

  /** Handles preface bytes; returns the bytes after the preface, or undefined to wait or stop [PREFACE-2]. */
  private readPreface(chunk: Uint8Array): Uint8Array | undefined {
    const needed = PREFACE_SIZE - this.prefaceBytes.length;
    const joined = new Uint8Array(this.prefaceBytes.length + Math.min(needed, chunk.length));
    joined.set(this.prefaceBytes);
    joined.set(chunk.subarray(0, needed), this.prefaceBytes.length);
    const result = readPreface(joined);
    switch (result.kind) {
      case "incomplete":
        this.prefaceBytes = joined;
        return undefined;
      case "http":
        this.transport.write(httpRefusal());
        this.finish();
        return undefined;
      case "tls":
      case "foreign":
        this.finish();
        return undefined;
      case "preface":
        if (result.version !== PROTOCOL_VERSION) {
          // Our highest version, then close [PREFACE-4].
          this.transport.write(encodePreface(PROTOCOL_VERSION));
          this.finish();
          return undefined;
        }
        this.prefaceBytes = EMPTY;
        this.state = State.hello;
        this.transport.write(this.settings.greeting);
        return chunk.subarray(needed);
    }
  }

  private onFrame(frame: Frame): void {
    if (this.state === State.closed) return;
    // Stamped with the time its header was read (the chunk that completed
    // it), however long its body took or the frame then waits [DEADLINE-2].
    const receivedAt = this.headerReadAt ?? this.chunkAt;
    this.headerReadAt = undefined;
    this.flow.frameRead(frame, receivedAt);
  }

  /** Acts on one frame, in the order frames arrived (called by the read flow) [FRAME-9] [FRAME-17]. */
  handleFrame(frame: Frame, receivedAt: number): void {
    const { header, body } = frame;
    if (this.state === State.hello) {
      if (header.type !== FrameType.HELLO) {
        throw new ProtocolError("HELLO-2", "the first frame after the preface must be HELLO");
      }
      const hello = decodeHello(body);
      this.limitsOfClient = resolveFrameLimits(hello);
      this.handshakeTimer?.clear();
      this.state = State.open;
      this.armIdleTimer();
      return;
    }
    switch (header.type) {
      case FrameType.REQUEST:
        this.onRequest(frame, receivedAt);
        return;
      case FrameType.CANCEL:
        this.requests.cancel(header.requestId);
        return;
      case FrameType.PING:
        if (pingTooSoon(this, receivedAt, this.settings.minPingIntervalMs)) return this.onTooManyPings();
        // Echo the payload; the body may be a view into the chunk, so copy [PING-2].
        this.write(encodeFrame({ type: FrameType.PONG }, body.slice()));
        return;
      case FrameType.PONG:
        return; // no PING of ours is outstanding [PING-3]
      case FrameType.GOAWAY:
        decodeGoaway(body); // checked, then its last id is ignored [DRAIN-13]
        this.clientSentGoaway = true;
        return;
      case FrameType.HELLO:
        throw new ProtocolError("HELLO-2", "a second HELLO");
      case FrameType.RESPONSE:
      case FrameType.ACK:
        throw new ProtocolError("FRAME-17", `a client does not send ${header.type === FrameType.ACK ? "ACK" : "RESPONSE"}`);
      default:
        return; // unknown type: skipped [FRAME-9]
    }
  }

  /** The third PING in a row too soon after the one before: GOAWAY(TOO_MANY_PINGS) and close [PING-7]. */
  private onTooManyPings(): void {
    this.sendGoaway(GoawayCode.TOO_MANY_PINGS, `[PING-7] PINGs more often than every ${this.settings.minPingIntervalMs} ms`);
    this.endRequests("too many pings", "error");
    this.finish();
  }

  /** A REQUEST: its id is checked here, the request itself goes to the pipeline [ID-3] [DRAIN-13]. */
  private onRequest(frame: Frame, receivedAt: number): void {
    const id = frame.header.requestId;
    if (id <= this.lastRequestId) {
      throw new ProtocolError("ID-3", `request id ${id} is not above the previous one, ${this.lastRequestId}`);
    }
    if (this.clientSentGoaway) throw new ProtocolError("DRAIN-13", "REQUEST after the client's GOAWAY");
    this.lastRequestId = id;
    this.requests.request(frame.header, frame.body, receivedAt);
  }

  /**
   * Writes bytes unless the connection is closed; the read flow applies
   * backpressure [SEC-1]. `owned` (the default): a frame encoded for this
   * write alone, which nothing else keeps (see Transport.write).
   */
  write(bytes: Uint8Array, owned = true): void {
    if (this.state === State.closed) return;
    this.flow.write(bytes, owned);
  }

  /** The frame of a backlog broke the protocol. */
  protocolError(error: unknown): void {
    this.onProtocolError(error);
  }

  /** The peer left too much output unread [SEC-3]. */
  outputOverflow(): void {
    this.endRequests("the peer left too much output unread", "error");
    this.finish(false);
  }

  private onDrain(): void {
    this.lastOutputAt = now();
    this.flow.drained();
  }

  /**
   * The last sign of life from the peer: a byte received, or, while we do
   * not read because our output waits, the peer taking some of that output.
   * Our own pause is not the peer's silence, and a peer that reads nothing
   * while output waits is idle however long we have stopped reading [IDLE-3].
   */
  private lastActivity(): number {
    const buffered = this.transport.bufferedAmount;
    if (buffered === 0 || buffered < this.lastBuffered) this.lastOutputAt = now();
    this.lastBuffered = buffered;
    // Yielding to the event loop is ours alone and lasts one turn.
    if (this.flow.yielding) this.lastByteAt = now();
    return this.flow.paused ? Math.max(this.lastByteAt, this.lastOutputAt) : this.lastByteAt;
  }

  private armIdleTimer(): void {
    const idle = this.settings.idleTimeoutMs;
    if (idle <= 0) return;
    const wait = Math.max(0, this.lastActivity() + idle - now());
    this.idleTimer = setTimer(() => {
      if (this.state === State.closed) return;
      if (now() - this.lastActivity() >= idle) {
        this.sendGoaway(GoawayCode.IDLE_TIMEOUT, `[IDLE-1] no bytes received for ${idle} ms`);
        this.endRequests("idle timeout", "eof");
        this.finish();
      } else {
        this.armIdleTimer();
      }
    }, wait + 1);
  }

  private onHandshakeTimeout(): void {
    if (this.state === State.preface) {
      this.finish(); // nothing written [PREFACE-6]
    } else if (this.state === State.hello) {
      this.sendGoaway(GoawayCode.HANDSHAKE_TIMEOUT, `[HELLO-5] no HELLO within ${this.settings.handshakeTimeoutMs} ms`);
      this.finish();
    }
  }

  /** Connection error: GOAWAY with the code and id, then close [FRAME-14]. */
  private onProtocolError(error: unknown): void {
    if (this.state === State.closed) return;
    if (!ProtocolError.is(error)) {
      this.sendGoaway(GoawayCode.INTERNAL_ERROR, "internal error");
    } else if (error.goawayCode !== undefined) {
      this.sendGoaway(error.goawayCode, error.message);
    }
    this.endRequests("connection error", "error");
    this.finish();
  }

  private sendGoaway(code: GoawayCode, message: string): void {
    const lastRequestId = this.goawayLastId ?? this.lastRequestId;
    this.write(encodeFrame({ type: FrameType.GOAWAY }, encodeGoaway({ lastRequestId, code, message })));
  }

  private onTransportClosed(_error?: Error): void {
    // EOF or reset: unary and acked handlers are signalled; oneway ones run on [DRAIN-9] [DRAIN-15].
    this.endRequests("the connection closed", "eof");
    this.finish(false);
  }

  /** Ends the connection's requests the way `ending` says [DRAIN-9] [DRAIN-10] [DRAIN-14] [DRAIN-15]. */
  private endRequests(reason: string, ending: Ending): void {
    this.requests.end(reason, ending);
  }

  /** Closes a draining connection once no RESPONSE is owed [DRAIN-4]. */
  closeIfDrained(): void {
    if (this.state === State.draining && this.requests.owed === 0) this.finish();
    // Ended, kept for its oneway requests that wait [DRAIN-15]: the server lets go once none does.
    else if (this.state === State.closed && this.lingering && !this.requests.hasUnstarted()) {
      this.lingering = false;
      this.host.settled(this);
    }
  }

  /** Ends the connection once: linger-closes (or destroys) and tells the server. */
  private finish(linger = true): void {
    if (this.state === State.closed) return;
    this.state = State.closed;
    this.flow.close();
    this.partialFrame.close();
    // Oneway requests may keep this connection alive after it ends [DRAIN-15]: not its partial frame.
    this.decoder.discard();
    this.idleTimer?.clear();
    this.handshakeTimer?.clear();
    this.graceTimer?.clear();
    this.ageTimer?.clear();
    if (linger) lingeringClose(this.transport);
    else this.transport.destroy();
    this.lingering = this.requests.hasUnstarted();
    this.host.closed(this);
  }}
