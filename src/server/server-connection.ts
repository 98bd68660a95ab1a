// One accepted connection, server side: preface, hello, requests, pings,
// drain and close, exactly as spec/protocol.md sections 3 to 11 say.

import { toBinary, create } from "@bufbuild/protobuf";
import {
  CallMode,
  Compression,
  createFrameDecoder,
  decodeGoaway,
  decodeHello,
  gunzip,
  DispatchCode,
  encodeFrame,
  encodeFrameHead,
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
  SEPARATE_BODY_BYTES,
  type Frame,
  type FrameDecoder,
  type FrameHeader,
  type FrameHeaderInit,
  type FrameLimits,
  type MetadataEntry,
  type RawInflater,
} from "../wire/index.ts";
import { TaskLimiter } from "./task-limiter.ts";
import { ErrorDetailsSchema } from "../gen/strata/v1/frame_pb.ts";
import { dispatchCodeByName, dispatchCodeName, dispatchProcessed, RpcError } from "../status/index.ts";
import { lingeringClose, type ConnectionInfo, type Transport } from "../transport/index.ts";
import { setDeadlineAt, type LongTimeout } from "../util/deadline-timers.ts";
import { setTimer, type Timer } from "../util/timer.ts";
import { RequestAbort, RequestContext } from "./request-context.ts";
import type { KeyDispatch, KeyTicket } from "./key-scheduler.ts";
import type { RegisteredMethod, ServiceRegistry } from "./service-registry.ts";
import { UNOFFERED_METHODS, type StatsCollector } from "./server-stats.ts";
import { IdTable } from "../util/id-table.ts";

/** Settings every connection of a server shares. */
export interface ConnectionSettings {
  /** What this server declared in its HELLO. */
  readonly limits: FrameLimits;
  readonly idleTimeoutMs: number;
  /** Clients may ping no more often than this [PING-6]. */
  readonly minPingIntervalMs: number;
  readonly maxConcurrentRequests: number;
  readonly handshakeTimeoutMs: number;
  /** Put handler error messages in dispatch_message (off: a fixed safe message) [STATUS-5]. */
  readonly exposeHandlerErrors: boolean;
  /** The preface and HELLO frame the server sends, encoded once. */
  readonly greeting: Uint8Array;
  /** Unwritten output a connection may hold before it is closed; 0 = no bound [SEC-3]. */
  readonly maxConnectionOutputBytes: number;
  /** The longest one frame may take to arrive, from its first byte to its last; 0 = no bound [FRAME-19]. */
  readonly frameTransferTimeoutMs: number;
}

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly registry: ServiceRegistry;
  readonly stats: StatsCollector;
  /** The server-wide key queues, or undefined when the server does not offer keyed dispatch [KEYS-2] [KEYS-9]. */
  readonly keys: KeyDispatch | undefined;
  /** Native raw inflate for gzip bodies; undefined where the runtime has none [COMP-6]. */
  inflate: RawInflater | undefined;
  /** Bounds the decompressions in progress across the server [COMP-9]. */
  readonly decompressions: TaskLimiter;
  /**
   * Tells the server that this connection's unwritten output changed by
   * `delta` bytes; false when the server's total is over its bound and the
   * connection must give its output up [SEC-3].
   */
  holdOutput(delta: number): boolean;
  /**
   * Tells the server that the buffers of this connection's partial frame
   * changed by `delta` bytes; false when all connections together are over
   * the server's bound [FRAME-20].
   */
  holdPartialFrame(delta: number): boolean;
  /** Takes a server-wide request slot; false when the server is at its limit [LIMIT-5]. */
  acquireSlot(): boolean;
  releaseSlot(): void;
  /** Called once when the connection is gone. */
  closed(connection: ServerConnection): void;
}

const State = { preface: 0, hello: 1, open: 2, draining: 3, closed: 4 } as const;
type State = (typeof State)[keyof typeof State];

/**
 * How the requests of a connection end with it: at EOF (queued oneway
 * requests still run), at the end of a drain's grace period (queued unary
 * and acked requests are answered SHUTTING_DOWN), or at a connection error
 * [DRAIN-10] [DRAIN-14] [DRAIN-15].
 */
type Ending = "eof" | "grace" | "error";

const METADATA_KEY = /^[a-z0-9._-]{1,128}$/;

/**
 * Dispatch codes a handler may choose: those that admit it ran
 * ([STATUS-6]), except RESPONSE_TOO_LARGE, whose form [LIMIT-4] fixes.
 */
const HANDLER_DISPATCH_CODES: ReadonlySet<number> = new Set([
  DispatchCode.DEADLINE_EXCEEDED,
  DispatchCode.CANCELLED,
  DispatchCode.HANDLER_ERROR,
  DispatchCode.HANDLER_CRASHED,
  DispatchCode.INTERNAL,
]);

/** An application code a RESPONSE can carry: 1 to 2^32-1 (0 would read as success) [STATUS-8]. */
function isAppCode(code: unknown): code is number {
  return typeof code === "number" && Number.isInteger(code) && code >= 1 && code <= 0xffffffff;
}

/** Whether handler-supplied response metadata is valid to send [META-2] [META-6]. */
function validMetadata(metadata: readonly MetadataEntry[]): boolean {
  return metadata.every((e) => typeof e.key === "string" && METADATA_KEY.test(e.key) && e.value instanceof Uint8Array);
}
/** A refusal's message is cut to this many bytes when the whole answer would not fit the client's header limit [LIMIT-7]. */
const MAX_REFUSAL_MESSAGE = 256;
/** Names from the peer are quoted in messages up to this many UTF-16 units. */
const MAX_QUOTED = 128;

/** A name the peer sent, quoted for a dispatch message and cut to MAX_QUOTED units [STATUS-5]. */
function quoted(name: string): string {
  return name.length <= MAX_QUOTED ? JSON.stringify(name) : `${JSON.stringify(name.slice(0, MAX_QUOTED))}...`;
}

/** `text` cut to at most `maxBytes` bytes of UTF-8, at a character boundary. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const bytes = utf8.encode(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // not inside a character
  return new TextDecoder().decode(bytes.subarray(0, end));
}
const MAX_KEYS = 16;
const MAX_KEY_BYTES = 256;
const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);
const EMPTY_METADATA: MetadataEntry[] = [];

/** One request between admission and its end: waiting for its keys, then running. */
interface InFlight {
  /** Fires the handler's signal, if it asked for one [DEADLINE-4] [CANCEL-2]. */
  readonly abort: RequestAbort;
  readonly oneway: boolean;
  /** "service/method", for the stats. */
  readonly name: string;
  /** Its place in the key queues, held until the handler returns [KEYS-3]. */
  ticket: KeyTicket | undefined;
  /** Starts the request once admitted; the key queues call it when they grant the keys [KEYS-5]. */
  start: (() => void) | undefined;
  /** False while the request waits for its keys, or in its handler's own queue (a worker pool's). */
  started: boolean;
  /** Handed to a queueing handler that has not begun it yet [DEADLINE-3]. */
  queuedInHandler: boolean;
  /** Set when the request was removed before it started [KEYS-6] [DRAIN-14]. */
  dropped: boolean;
  /** Set once a RESPONSE was sent or the caller no longer wants one. */
  answered: boolean;
  /** Counts toward the concurrency limits from admission until answered or finished [LIMIT-5]. */
  counted: boolean;
  /** A drain the handler asked for, started once this request is answered. */
  drainAfterMs: number | undefined;
  timer: LongTimeout | undefined;
}

function now(): number {
  return performance.now();
}

/** The server side of one connection [PREFACE-2] [HELLO-1] [FRAME-14] [DRAIN-2]. */
export class ServerConnection {
  private state: State = State.preface;
  private readonly transport: Transport;
  private readonly settings: ConnectionSettings;
  private readonly host: ConnectionHost;
  private prefaceBytes = EMPTY;
  private readonly decoder: FrameDecoder;
  private clientLimits: FrameLimits | undefined;
  /** The highest request id received [ID-3] [FRAME-14]. */
  private lastRequestId = 0;
  private goawayLastId: number | undefined;
  private clientSentGoaway = false;
  private readonly inFlight = new IdTable<InFlight>();
  /** How the connection's requests ended, once they have [DRAIN-15]. */
  private ending: Ending | undefined;
  /** Requests counting toward max_concurrent_requests [LIMIT-5]. */
  private active = 0;
  /** Unary and acked requests still owed a RESPONSE. */
  private owed = 0;
  private lastByteAt = now();
  /** When the header of the frame whose body is arriving was read [DEADLINE-2]. */
  private headerReadAt: number | undefined;
  /** When the peer last took some of our output (or had none pending), and how much was pending then [IDLE-3]. */
  private lastOutputAt = now();
  private lastBuffered = 0;
  /** The unwritten output last reported to the server [SEC-3]. */
  private heldOutput = 0;
  /** Runs while a frame is arriving; `timedFrame` is the decoder's frame count when it started [FRAME-19]. */
  private frameTimer: Timer | undefined;
  private timedFrame = -1;
  /** The partial-frame buffer last reported to the server [FRAME-20]. */
  private heldPartial = 0;
  private idleTimer: Timer | undefined;
  private handshakeTimer: Timer | undefined;
  private graceTimer: Timer | undefined;
  private readingPaused = false;
  /**
   * Frames read but not yet handled because output is over the high-water
   * mark: one chunk can hold a thousand small requests, so pausing the
   * socket alone would not bound the work admitted [SEC-1].
   */
  private backlog: Array<{ frame: Frame; receivedAt: number }> = [];
  /**
   * Requests handled in this turn of the event loop. Handlers answer
   * asynchronously, so the high-water mark cannot be seen while one chunk is
   * being handled; after REQUESTS_PER_TURN requests, reading yields for their
   * responses to be written (and the mark to be checked) first [SEC-1].
   */
  private requestsThisTurn = 0;
  private yieldTimer: Timer | undefined;
  /** Gzip bodies of this connection are inflated one at a time, in order [COMP-9]. */
  private readonly decompressing = new TaskLimiter(1);
  /** When the last PING arrived, and how many came in a row too soon after the one before [PING-7]. */
  private lastPingAt = -Infinity;
  private pingStrikes = 0;

  constructor(transport: Transport, settings: ConnectionSettings, host: ConnectionHost) {
    this.transport = transport;
    this.settings = settings;
    this.host = host;
    this.decoder = createFrameDecoder({ limits: settings.limits, onFrame: (frame) => this.onFrame(frame) });
  }

  /** Who the peer is and how the connection is protected. */
  get info(): ConnectionInfo {
    return this.transport.info;
  }

  /** Starts reading; one handshake timer runs from here [PREFACE-6] [HELLO-5]. */
  start(): void {
    this.handshakeTimer = setTimer(() => this.onHandshakeTimeout(), this.settings.handshakeTimeoutMs);
    this.transport.start({
      data: (chunk) => this.onData(chunk),
      closed: (error) => this.onTransportClosed(error),
      drain: () => this.onDrain(),
    });
  }

  /**
   * Starts a drain: GOAWAY(NO_ERROR) with the highest received id, finish
   * what was received, close when nothing is owed or the grace period ends
   * [DRAIN-2] [DRAIN-4] [DRAIN-10].
   */
  drain(graceMs: number): void {
    if (this.state === State.preface || this.state === State.hello) {
      this.finish();
      return;
    }
    if (this.state !== State.open) return;
    this.state = State.draining;
    this.goawayLastId = this.lastRequestId;
    this.sendGoaway(GoawayCode.NO_ERROR, "server is shutting down");
    // Any grace period, 2^31 ms and more included, lasts as long as it says [DRAIN-10].
    this.graceTimer = setTimer(() => {
      this.endRequests("the drain grace period ended", "grace");
      this.finish();
    }, graceMs);
    this.closeIfDrained();
  }

  /** Whether requests of this connection still wait to start (after EOF: oneway requests waiting for keys) [DRAIN-15]. */
  hasUnstarted(): boolean {
    for (const entry of this.inFlight.valueList()) if (!entry.started) return true;
    return false;
  }

  /** Drops the requests that have not started, without answering: the server's grace period is over [DRAIN-15]. */
  dropUnstarted(): void {
    this.dropQueued(this.inFlight.entries().filter(([, entry]) => !entry.started));
  }

  /** Closes at once: running handlers are signalled, nothing more is sent. */
  destroy(): void {
    this.endRequests("server closed the connection", "error");
    this.finish(false);
  }

  private onData(chunk: Uint8Array): void {
    if (this.state === State.closed) return;
    this.lastByteAt = now();
    if (this.yieldTimer === undefined) this.requestsThisTurn = 0;
    try {
      if (this.state === State.preface) {
        const rest = this.readPreface(chunk);
        if (rest === undefined || rest.length === 0) return;
        chunk = rest;
      }
      this.decoder.push(chunk);
      // A header read in this chunk whose body is still to come: its frame was received now [DEADLINE-2].
      if (this.headerReadAt === undefined && this.decoder.readingBody) this.headerReadAt = this.lastByteAt;
      if (this.state === State.open || this.state === State.draining) this.watchPartialFrame();
    } catch (error) {
      this.onProtocolError(error);
    }
  }

  /**
   * After each chunk: a frame still arriving must finish within the frame
   * transfer timeout, however slowly its bytes come (each byte resets the
   * idle timer, not this one) [FRAME-19]; and its buffer counts toward the
   * server's bound on partial frames [FRAME-20].
   */
  private watchPartialFrame(): void {
    const decoder = this.decoder;
    const reserved = decoder.reserved;
    if (reserved !== this.heldPartial) {
      const within = this.host.holdPartialFrame(reserved - this.heldPartial);
      this.heldPartial = reserved;
      if (!within) {
        throw new ProtocolError("FRAME-20", "the server holds as many partial frames as it can; try again later", GoawayCode.INTERNAL_ERROR);
      }
    }
    const limit = this.settings.frameTransferTimeoutMs;
    if (limit <= 0) return;
    if (decoder.buffered === 0) {
      this.frameTimer?.clear();
      this.frameTimer = undefined;
      return;
    }
    if (this.frameTimer !== undefined && decoder.frames === this.timedFrame) return;
    this.frameTimer?.clear();
    this.timedFrame = decoder.frames;
    this.frameTimer = setTimer(() => {
      this.frameTimer = undefined;
      if (this.state === State.closed) return;
      this.sendGoaway(GoawayCode.IDLE_TIMEOUT, `[FRAME-19] a frame took more than ${limit} ms to arrive`);
      this.endRequests("frame transfer timeout", "eof");
      this.finish();
    }, limit);
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
    const receivedAt = this.headerReadAt ?? this.lastByteAt;
    this.headerReadAt = undefined;
    if (this.readingPaused || this.yieldTimer !== undefined || this.backlog.length > 0) {
      this.backlog.push({ frame, receivedAt });
      return;
    }
    this.handleCounted(frame, receivedAt);
  }

  /**
   * Requests handled before reading yields to the event loop. Large enough
   * that 100 pipelined requests per read never wait, small enough that a
   * burst cannot start more than this many handlers before the high-water
   * mark is checked [SEC-1].
   */
  private static readonly REQUESTS_PER_TURN = 256;

  /** Handles a frame; after REQUESTS_PER_TURN requests, stops reading until the next macrotask [SEC-1]. */
  private handleCounted(frame: Frame, receivedAt: number): void {
    this.handleFrame(frame, receivedAt);
    if (frame.header.type !== FrameType.REQUEST || ++this.requestsThisTurn < ServerConnection.REQUESTS_PER_TURN) return;
    if (this.state === State.closed || this.yieldTimer !== undefined) return;
    this.transport.pause?.();
    this.yieldTimer = setTimer(() => {
      this.yieldTimer = undefined;
      this.requestsThisTurn = 0;
      this.pumpBacklog();
    }, 0);
  }

  /** Handles frames read earlier, in order, while output has room and no yield is pending; then reads again. */
  private pumpBacklog(): void {
    try {
      while (this.backlog.length > 0 && !this.readingPaused && this.yieldTimer === undefined && (this.state as State) !== State.closed) {
        const next = this.backlog.shift()!;
        this.handleCounted(next.frame, next.receivedAt);
      }
    } catch (error) {
      this.onProtocolError(error);
      return;
    }
    if (!this.readingPaused && this.yieldTimer === undefined && this.state !== State.closed) this.transport.resume?.();
  }

  private handleFrame(frame: Frame, receivedAt: number): void {
    const { header, body } = frame;
    if (this.state === State.hello) {
      if (header.type !== FrameType.HELLO) {
        throw new ProtocolError("HELLO-2", "the first frame after the preface must be HELLO");
      }
      const hello = decodeHello(body);
      this.clientLimits = resolveFrameLimits(hello);
      this.handshakeTimer?.clear();
      this.state = State.open;
      this.armIdleTimer();
      return;
    }
    switch (header.type) {
      case FrameType.REQUEST:
        this.onRequest(header, body, receivedAt);
        return;
      case FrameType.CANCEL:
        this.onCancel(header.requestId);
        return;
      case FrameType.PING:
        if (this.tooManyPings(receivedAt)) return;
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

  /**
   * Counts PINGs that arrive less than half the declared minimum interval
   * after the previous one; at the third in a row, GOAWAY(TOO_MANY_PINGS)
   * and close [PING-7].
   */
  private tooManyPings(t: number): boolean {
    const gap = t - this.lastPingAt;
    this.lastPingAt = t;
    this.pingStrikes = gap < this.settings.minPingIntervalMs / 2 ? this.pingStrikes + 1 : 0;
    if (this.pingStrikes < 3) return false;
    this.sendGoaway(GoawayCode.TOO_MANY_PINGS, `[PING-7] PINGs more often than every ${this.settings.minPingIntervalMs} ms`);
    this.endRequests("too many pings", "error");
    this.finish();
    return true;
  }

  private onRequest(header: FrameHeader, body: Uint8Array, receivedAt: number): void {
    const id = header.requestId;
    if (id <= this.lastRequestId) {
      throw new ProtocolError("ID-3", `request id ${id} is not above the previous one, ${this.lastRequestId}`);
    }
    if (this.clientSentGoaway) throw new ProtocolError("DRAIN-13", "REQUEST after the client's GOAWAY");
    this.lastRequestId = id;
    const stats = this.host.stats;
    stats.requestsTotal++;
    const oneway = header.callMode === CallMode.ONEWAY;

    // Admission checks, in the order of spec section 7.5.
    if (header.callMode !== CallMode.UNARY && !oneway && header.callMode !== CallMode.ACKED) {
      return this.reject(header, DispatchCode.INVALID_REQUEST, `unknown call mode ${header.callMode} [CALL-1]`);
    }
    if (header.service === "" || header.method === "") {
      return this.reject(header, DispatchCode.INVALID_REQUEST, "service and method must not be empty [CALL-2]");
    }
    const badKey = header.metadata.find((e) => !METADATA_KEY.test(e.key));
    if (badKey !== undefined) {
      return this.reject(header, DispatchCode.INVALID_REQUEST, `invalid metadata key ${quoted(badKey.key)} [META-2]`);
    }
    if (header.keys.length > MAX_KEYS || header.keys.some((k) => k === "" || utf8.encode(k).length > MAX_KEY_BYTES)) {
      return this.reject(header, DispatchCode.INVALID_REQUEST, "keys must be 1 to 16 keys of 1 to 256 bytes [KEYS-1]");
    }
    if (header.keys.length > 0 && this.host.keys === undefined) {
      return this.reject(header, DispatchCode.UNSUPPORTED, "this server does not implement keyed-dispatch [KEYS-2]");
    }
    if (header.compression !== Compression.IDENTITY && header.compression !== Compression.GZIP) {
      return this.reject(header, DispatchCode.UNSUPPORTED, `compression ${header.compression} is not listed in this server's HELLO [COMP-4]`);
    }
    if (this.goawayLastId !== undefined && id > this.goawayLastId) {
      return this.reject(header, DispatchCode.SHUTTING_DOWN, `the server is draining; request ${id} is above last_request_id ${this.goawayLastId} [DRAIN-8]`);
    }
    const deadline = header.timeoutMs === undefined ? undefined : receivedAt + header.timeoutMs;
    if (deadline !== undefined && deadline <= now()) {
      return this.reject(header, DispatchCode.DEADLINE_EXPIRED, "the deadline passed before the handler started [DEADLINE-3]");
    }
    const service = this.host.registry.service(header.service);
    if (service === undefined) return this.reject(header, DispatchCode.UNKNOWN_SERVICE, `unknown service ${quoted(header.service)}`);
    const method = service.get(header.method);
    if (method === undefined) {
      return this.reject(header, DispatchCode.UNKNOWN_METHOD, `unknown method ${quoted(header.method)} in ${quoted(header.service)}`);
    }
    // From here the request is in flight: CANCEL, its deadline, EOF and drain
    // all see it, also while its body is still being decompressed.
    const entry: InFlight = {
      abort: new RequestAbort(),
      oneway,
      name: method.name,
      ticket: undefined,
      start: undefined,
      started: false,
      queuedInHandler: false,
      dropped: false,
      answered: oneway,
      counted: false,
      timer: undefined,
      drainAfterMs: undefined,
    };
    // A keyed request takes its place in the key queues now, in the order the
    // requests are taken up, even if its body is still to be decompressed [KEYS-4] [KEYS-9].
    if (header.keys.length > 0) {
      entry.ticket = this.host.keys!.enqueue(header.keys, () => entry.start?.());
      if (entry.ticket === undefined) return this.reject(header, DispatchCode.OVERLOADED, "a key's queue is full [KEYS-8]");
    }
    this.inFlight.set(id, entry);
    if (!oneway) this.owed++;
    if (header.compression === Compression.GZIP) {
      // Admitted before it is inflated, so the concurrency limits bound the
      // bombs a client can pipeline [COMP-9] [LIMIT-5]; then inflated by
      // native zlib, one at a time per connection and a few per server.
      if (!this.claimSlot(id, entry)) return;
      const inflate = () => this.host.decompressions.run(() => gunzip(body, this.settings.limits.maxBodySize, this.host.inflate));
      void this.decompressing.run(() => (entry.dropped ? Promise.resolve(undefined) : inflate())).then((result) => {
        if (result === undefined) return;
        // Cancelled, or its connection ended and took it along [CANCEL-2] [DRAIN-14].
        if (entry.dropped) return;
        if (!result.ok) {
          if (result.failure === "too-large") this.refuse(id, entry, DispatchCode.REQUEST_TOO_LARGE, `the body is ${result.detail} [COMP-5]`);
          else this.refuse(id, entry, DispatchCode.INVALID_ARGUMENT, `the body does not decompress: ${result.detail} [COMP-6]`);
          return;
        }
        if (deadline !== undefined && deadline <= now()) {
          return this.refuse(id, entry, DispatchCode.DEADLINE_EXPIRED, "the deadline passed before the handler started [DEADLINE-3]");
        }
        this.admit(header, result.bytes, method, deadline, entry);
      });
      return;
    }
    this.admit(header, body, method, deadline, entry);
  }

  /** Refuses a request at admission, before it is in flight: answered with a not-processed code, or dropped if oneway [CALL-5]. */
  private reject(header: FrameHeader, code: DispatchCode, message: string): void {
    // Counted under the method's own name only if the server offers it: names
    // a client makes up all share one entry, so the stats stay bounded [EXT-9].
    const offered = this.host.registry.service(header.service)?.get(header.method);
    this.host.stats.recordRejected(offered?.name ?? UNOFFERED_METHODS, dispatchCodeName(code));
    if (header.callMode !== CallMode.ONEWAY) this.sendResponse(header.requestId, { dispatchCode: code, dispatchMessage: message }, EMPTY);
  }

  /** Answers an in-flight request whose handler has not started, and removes it [STATUS-6]. */
  private refuse(id: number, entry: InFlight, code: DispatchCode, message: string): void {
    this.host.stats.recordRejected(entry.name, dispatchCodeName(code));
    if (!entry.answered) {
      entry.answered = true;
      this.owed--;
      this.sendResponse(id, { dispatchCode: code, dispatchMessage: message }, EMPTY);
    }
    this.dropQueued([[id, entry]]);
    this.closeIfDrained();
  }

  /**
   * The last admission checks (input, concurrency), then the ACK; then the
   * request runs, at once or when it holds its keys [CALL-6] [LIMIT-5] [KEYS-5].
   */
  private admit(header: FrameHeader, body: Uint8Array, method: RegisteredMethod, deadline: number | undefined, entry: InFlight): void {
    const id = header.requestId;
    let input: unknown;
    try {
      input = method.decode(body);
    } catch (error) {
      return this.refuse(id, entry, DispatchCode.INVALID_ARGUMENT, `the body is not ${header.service}/${header.method}'s input: ${(error as Error).message}`);
    }
    if (!entry.counted && !this.claimSlot(id, entry)) return;
    if (header.callMode === CallMode.ACKED) this.write(encodeFrame({ type: FrameType.ACK, requestId: id }));
    if (deadline !== undefined) entry.timer = setDeadlineAt(() => this.onDeadline(id, entry), deadline);
    const start = () => this.run(header, input, method, deadline, entry);
    if (entry.ticket === undefined || entry.ticket.granted) start();
    else entry.start = start;
  }

  /**
   * The concurrency checks: a request counts toward the connection's and the
   * server's limits from here until it is answered, waiting or running; false
   * (and answered OVERLOADED) when a limit is reached [LIMIT-5].
   */
  private claimSlot(id: number, entry: InFlight): boolean {
    const limit = this.settings.maxConcurrentRequests;
    if (limit > 0 && this.active >= limit) {
      this.refuse(id, entry, DispatchCode.OVERLOADED, `${limit} requests of this connection are in progress [LIMIT-5]`);
      return false;
    }
    if (!this.host.acquireSlot()) {
      this.refuse(id, entry, DispatchCode.OVERLOADED, "the server is at its limit of requests in progress [LIMIT-5]");
      return false;
    }
    entry.counted = true;
    this.active++;
    return true;
  }

  /**
   * A request's deadline passed: one still waiting for its keys leaves the
   * queues unstarted, answered DEADLINE_EXPIRED; a running one is signalled
   * and answered DEADLINE_EXCEEDED at once, though it keeps its keys until
   * its handler returns [KEYS-6] [DEADLINE-4] [KEYS-3].
   */
  private onDeadline(id: number, entry: InFlight): void {
    if (!entry.started) {
      const where = entry.queuedInHandler ? "for a worker [DEADLINE-3]" : "for its keys [KEYS-6]";
      this.host.stats.recordRejected(entry.name, "DEADLINE_EXPIRED");
      this.answer(id, entry, { dispatchCode: DispatchCode.DEADLINE_EXPIRED, dispatchMessage: `the deadline passed while the request waited ${where}` }, EMPTY);
      this.dropQueued([[id, entry]]);
      return;
    }
    entry.abort.abort(new DOMException("the deadline passed", "TimeoutError"));
    // The caller has given up; say so at once rather than when the handler returns [DEADLINE-4].
    this.answer(id, entry, { dispatchCode: DispatchCode.DEADLINE_EXCEEDED, dispatchMessage: "the deadline passed while the handler ran" }, EMPTY);
  }

  /**
   * Removes requests that have not started: first all of them, then their
   * tickets, so releasing one cannot start another that is being removed
   * [KEYS-6] [DRAIN-14].
   */
  private dropQueued(entries: Array<[number, InFlight]>): void {
    for (const [id, entry] of entries) {
      entry.dropped = true;
      entry.timer?.clear();
      this.inFlight.delete(id);
      // Its handler's own queue lets go of it on the signal, without running it.
      if (entry.queuedInHandler) entry.abort.abort(new DOMException("the request was removed before it started", "AbortError"));
    }
    for (const [, entry] of entries) {
      entry.ticket?.release();
      this.uncount(entry);
    }
  }

  /** A handler asked for a drain once its request is answered: now if it already is [DRAIN-2]. */
  drainAfter(entry: InFlight, graceMs: number): void {
    entry.drainAfterMs = graceMs;
    if (entry.answered) this.drain(graceMs);
  }

  /**
   * A queueing handler (a worker pool) is about to start a request it held:
   * false when it must not, because the request was removed or its deadline
   * has passed (then answered DEADLINE_EXPIRED) [DEADLINE-3] [CANCEL-2].
   */
  begin(entry: InFlight, id: number, deadline: number | undefined): boolean {
    if (entry.started) return true;
    if (entry.dropped) return false;
    if (deadline !== undefined && deadline <= now()) {
      this.onDeadline(id, entry);
      return false;
    }
    entry.queuedInHandler = false;
    this.markStarted(entry);
    return true;
  }

  private markStarted(entry: InFlight): void {
    entry.started = true;
    this.host.stats.requestsInFlight++;
  }

  /** Starts the handler of an admitted request that holds its keys, if it has any [KEYS-5]. */
  private run(
    header: FrameHeader,
    input: unknown,
    method: RegisteredMethod,
    deadline: number | undefined,
    entry: InFlight,
  ): void {
    if (entry.dropped) return;
    const id = header.requestId;
    const started = now();
    if (deadline !== undefined && deadline <= started) {
      // Checked again at start: a request can get its keys in the same turn its deadline passes [DEADLINE-3].
      this.onDeadline(id, entry);
      return;
    }
    // A queueing handler starts the request later, when it calls begin().
    if (method.queues) entry.queuedInHandler = true;
    else this.markStarted(entry);
    const context = new RequestContext(header, this.transport.info, entry.abort, deadline, this, entry);
    let result: Uint8Array | Promise<Uint8Array>;
    try {
      result = method.invoke(input, context);
    } catch (error) {
      this.finishRequest(id, entry, context, started, undefined, error);
      return;
    }
    // A handler that answered synchronously is finished without a promise.
    if (result instanceof Uint8Array) this.finishRequest(id, entry, context, started, result, undefined);
    else {
      result.then(
        (output) => this.finishRequest(id, entry, context, started, output, undefined),
        (error: unknown) => this.finishRequest(id, entry, context, started, undefined, error),
      );
    }
  }

  /** A handler returned (`output`) or failed (`error`): answer if still owed, then release what the request held [KEYS-3]. */
  private finishRequest(id: number, entry: InFlight, context: RequestContext<InFlight>, started: number, output: Uint8Array | undefined, error: unknown): void {
    if (!entry.started) return this.finishUnstarted(id, entry, error);
    const stats = this.host.stats;
    const latency = now() - started;
    let failed = output === undefined;
    try {
      if (!failed) {
        // A response that cannot be sent as it is goes out as HANDLER_ERROR, and counts as an error.
        failed = !this.answer(id, entry, { metadata: context.responseMetadata }, output!);
      } else {
        let body: Uint8Array;
        try {
          body = this.failureBody(error);
        } catch {
          body = EMPTY; // details that do not encode are dropped, the status still goes out [STATUS-9]
        }
        this.answer(id, entry, this.failureHeader(error, context.responseMetadata), body);
      }
    } catch {
      // A bug in answering must not take the server down: answer HANDLER_ERROR if still owed.
      failed = true;
      try {
        this.answer(id, entry, { dispatchCode: DispatchCode.HANDLER_ERROR, dispatchMessage: "handler failed" }, EMPTY);
      } catch {
        // The connection is beyond answering; its close fails the call at the client.
      }
    }
    stats.recordCall(entry.name, latency, failed);
    entry.timer?.clear();
    // The keys are released only now that the handler has returned [KEYS-3].
    entry.ticket?.release();
    this.inFlight.delete(id);
    stats.requestsInFlight--;
    this.uncount(entry);
    if (!entry.answered && !entry.oneway) {
      entry.answered = true;
      this.owed--;
    }
    this.closeIfDrained();
  }

  /**
   * A queueing handler gave back a request it never began: answered with the
   * not-processed code it chose (OVERLOADED when its queue is full,
   * SHUTTING_DOWN when it closed), unless the request was already answered
   * and removed [STATUS-6].
   */
  private finishUnstarted(id: number, entry: InFlight, error: unknown): void {
    if (entry.dropped) return;
    if (RpcError.is(error) && error.layer === "dispatch" && typeof error.code === "string") {
      const code = dispatchCodeByName(error.code);
      if (code !== undefined && dispatchProcessed(code) === "no") return this.refuse(id, entry, code, error.rawMessage);
    }
    this.refuse(id, entry, DispatchCode.INTERNAL, "the request could not be handed to its handler");
  }

  /**
   * The RESPONSE header for a handler failure: the application error it
   * chose, a dispatch code it chose that admits it ran (processed maybe or
   * yes), or HANDLER_ERROR [STATUS-6] [STATUS-8] [STATUS-11].
   */
  private failureHeader(error: unknown, metadata: MetadataEntry[]): Partial<FrameHeader> {
    if (RpcError.is(error) && error.layer === "application" && isAppCode(error.code)) {
      return { appCode: error.code, appMessage: error.rawMessage, metadata };
    }
    if (RpcError.is(error) && error.layer === "dispatch" && typeof error.code === "string") {
      const code = dispatchCodeByName(error.code);
      if (code !== undefined && HANDLER_DISPATCH_CODES.has(code)) {
        return { dispatchCode: code, dispatchMessage: error.rawMessage, metadata };
      }
    }
    const message = this.settings.exposeHandlerErrors && error instanceof Error ? `handler failed: ${error.message}` : "handler failed";
    return { dispatchCode: DispatchCode.HANDLER_ERROR, dispatchMessage: message };
  }

  private failureBody(error: unknown): Uint8Array {
    if (RpcError.is(error) && error.layer === "application" && error.details.length > 0) {
      return toBinary(ErrorDetailsSchema, create(ErrorDetailsSchema, { details: error.details }));
    }
    return EMPTY;
  }

  /**
   * Sends the one RESPONSE a request is owed, unless it was answered or
   * abandoned [CALL-3]; false when it could not be sent as given and went
   * out as HANDLER_ERROR instead [STATUS-11].
   */
  private answer(id: number, entry: InFlight, header: Partial<FrameHeader>, body: Uint8Array): boolean {
    if (entry.answered) return true;
    entry.answered = true;
    this.owed--;
    let sent = true;
    try {
      if (header.metadata !== undefined && !validMetadata(header.metadata)) {
        throw new TypeError("the handler set invalid response metadata [META-6]");
      }
      if (!(body instanceof Uint8Array)) throw new TypeError("the handler's output is not bytes");
      this.sendResponse(id, header, body);
    } catch (error) {
      // Whatever went wrong, the caller still gets its one answer [STATUS-11].
      const message = this.settings.exposeHandlerErrors ? `response could not be sent: ${(error as Error).message}` : "handler failed";
      this.sendResponse(id, { dispatchCode: DispatchCode.HANDLER_ERROR, dispatchMessage: message }, EMPTY);
      sent = false;
    }
    // A request stops counting once its RESPONSE is written, even if its handler runs on [LIMIT-5].
    this.uncount(entry);
    if (entry.drainAfterMs !== undefined) this.drain(entry.drainAfterMs);
    this.closeIfDrained();
    return sent;
  }

  private sendResponse(id: number, header: Partial<FrameHeader>, body: Uint8Array): void {
    if (this.state === State.closed) return;
    // Every RESPONSE header has the same fields in the same order: one object
    // shape keeps the encoder's property reads fast on this hot path.
    const fields: FrameHeaderInit = {
      type: FrameType.RESPONSE,
      requestId: id,
      metadata: header.metadata ?? EMPTY_METADATA,
      dispatchCode: header.dispatchCode ?? DispatchCode.OK,
      dispatchMessage: header.dispatchMessage ?? "",
      appCode: header.appCode ?? 0,
      appMessage: header.appMessage ?? "",
    };
    // A large body follows its head as is (one write for both); a small one is copied in.
    const separate = body.length >= SEPARATE_BODY_BYTES;
    const frame = separate ? encodeFrameHead(fields, body.length) : encodeFrame(fields, body);
    const limits = this.clientLimits!;
    if (body.length > limits.maxBodySize || frame.length - 4 - (separate ? 0 : body.length) > limits.maxHeaderSize) {
      const code = fields.dispatchCode!;
      // A refusal stays a refusal: it is shortened to fit the baseline, never
      // turned into a code that says the request ran [LIMIT-7] [STATUS-6].
      if (dispatchProcessed(code) === "no") {
        this.write(encodeFrame({ type: FrameType.RESPONSE, requestId: id, dispatchCode: code, dispatchMessage: truncateUtf8(fields.dispatchMessage!, MAX_REFUSAL_MESSAGE) }));
        return;
      }
      // Too large for the client: say so instead [LIMIT-4].
      this.write(encodeFrame({
        type: FrameType.RESPONSE,
        requestId: id,
        dispatchCode: DispatchCode.RESPONSE_TOO_LARGE,
        dispatchMessage: `the response exceeds the client's limits of ${limits.maxHeaderSize} header and ${limits.maxBodySize} body bytes`,
      }));
      return;
    }
    this.write(frame);
    if (separate) this.write(body);
  }

  private uncount(entry: InFlight): void {
    if (!entry.counted) return;
    entry.counted = false;
    this.active--;
    this.host.releaseSlot();
  }

  private onCancel(id: number): void {
    const entry = this.inFlight.get(id);
    if (entry === undefined || entry.oneway) return; // not in flight: ignored [CANCEL-3]
    // The caller has forgotten the id; no RESPONSE follows [CANCEL-4].
    if (!entry.answered) {
      entry.answered = true;
      this.owed--;
    }
    if (!entry.started) {
      // Still waiting for its keys: it leaves the queues and never starts.
      this.dropQueued([[id, entry]]);
      this.closeIfDrained();
      return;
    }
    entry.abort.abort(new DOMException("the caller cancelled the request", "AbortError"));
    // Nothing is owed any more: the slot is free at once, so the client's next queued call fits [LIMIT-5].
    this.uncount(entry);
    this.closeIfDrained();
  }

  private write(frame: Uint8Array): void {
    if (this.state === State.closed) return;
    // Past the high-water mark, stop reading until the peer catches up,
    // so a client that never reads cannot grow our memory.
    if (!this.transport.write(frame) && !this.readingPaused) {
      this.readingPaused = true;
      this.transport.pause?.();
    }
    if (this.readingPaused) this.checkHeldOutput();
  }

  /**
   * Bounds the output a peer leaves unread: past the connection's bound, or
   * while the server's total is past its own, the connection is closed at
   * once (its peer reads nothing, so no GOAWAY would arrive) [SEC-3].
   */
  private checkHeldOutput(): void {
    const buffered = this.transport.bufferedAmount;
    const withinServer = this.host.holdOutput(buffered - this.heldOutput);
    this.heldOutput = buffered;
    const max = this.settings.maxConnectionOutputBytes;
    if ((max > 0 && buffered > max) || !withinServer) {
      this.endRequests("the peer left too much output unread", "error");
      this.finish(false);
    }
  }

  private onDrain(): void {
    this.lastOutputAt = now();
    if (this.heldOutput > 0) {
      this.host.holdOutput(-this.heldOutput);
      this.heldOutput = 0;
    }
    if (!this.readingPaused || this.state === State.closed) return;
    this.readingPaused = false;
    // Handle what was read before the pause, in order, until output fills up again.
    this.pumpBacklog();
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
    if (this.yieldTimer !== undefined) this.lastByteAt = now();
    return this.readingPaused ? Math.max(this.lastByteAt, this.lastOutputAt) : this.lastByteAt;
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

  /**
   * Ends the connection's requests: running unary and acked handlers are
   * signalled; unstarted unary and acked requests are removed (answered
   * SHUTTING_DOWN at the end of a grace period); unstarted oneway requests
   * still run after EOF and are dropped otherwise [DRAIN-9] [DRAIN-10]
   * [DRAIN-14] [DRAIN-15].
   */
  private endRequests(reason: string, ending: Ending): void {
    this.ending ??= ending;
    const unstarted: Array<[number, InFlight]> = [];
    for (const [id, entry] of this.inFlight.entries()) {
      if (!entry.started) {
        if (entry.oneway && ending === "eof") continue;
        if (!entry.answered && ending === "grace") {
          this.sendResponse(id, { dispatchCode: DispatchCode.SHUTTING_DOWN, dispatchMessage: "the drain grace period ended before the request started [DRAIN-10]" }, EMPTY);
        }
        entry.answered = true;
        unstarted.push([id, entry]);
        continue;
      }
      if (entry.oneway) continue;
      entry.answered = true;
      entry.abort.abort(new DOMException(reason, "AbortError"));
    }
    this.owed = 0;
    this.dropQueued(unstarted);
  }

  private closeIfDrained(): void {
    if (this.state === State.draining && this.owed === 0) this.finish();
  }

  /** Ends the connection once: linger-closes (or destroys) and tells the server. */
  private finish(linger = true): void {
    if (this.state === State.closed) return;
    this.state = State.closed;
    if (this.heldOutput > 0) this.host.holdOutput(-this.heldOutput);
    this.heldOutput = 0;
    if (this.heldPartial > 0) this.host.holdPartialFrame(-this.heldPartial);
    this.heldPartial = 0;
    this.frameTimer?.clear();
    this.idleTimer?.clear();
    this.handshakeTimer?.clear();
    this.graceTimer?.clear();
    this.yieldTimer?.clear();
    if (linger) lingeringClose(this.transport);
    else this.transport.destroy();
    this.host.closed(this);
  }
}
