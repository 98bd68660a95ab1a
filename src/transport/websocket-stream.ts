// One WebSocket as a Transport (spec section 18): binary messages carry the
// Strata byte stream, their boundaries meaning nothing [WS-2]. Works on any
// object with the browser's WebSocket API: the runtime's own (browsers, Bun,
// Deno) and the `ws` package's on Node, client and server side alike.

import type { ConnectionInfo, Transport, TransportHandlers } from "./transport.ts";
import { setTimer, type Timer } from "../util/timer.ts";
import { releaseOutput } from "../wire/output-pool.ts";
import { LINGER_MS } from "./lingering-close.ts";

/** The subprotocol of Strata over WebSocket; the preface negotiates the version, so the name carries none [WS-1]. */
export const WEBSOCKET_SUBPROTOCOL = "strata";

/** The largest message a peer sends or must accept [WS-3]. */
export const MAX_WEBSOCKET_MESSAGE = 1024 * 1024;

/** Output written in one turn of the event loop leaves in one message, up to this size; then it is sent at once. */
const FLUSH_BYTES = 64 * 1024;
/** How often a writer waiting for the buffer to drain looks at it: the WebSocket API has no drain event. */
const DRAIN_POLL_MS = 5;

/** What this file needs of a WebSocket: the browser API, which `ws` implements too. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly protocol: string;
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: (event: unknown) => void): void;
  /** ws on Node only: stop and restart reading from the socket. */
  pause?(): void;
  resume?(): void;
}

const OPEN = 1;
const CLOSED = 3;

/** A WebSocket carrying a Strata connection [WS-2] [WS-3]. */
export class WebSocketStream implements Transport {
  readonly info: ConnectionInfo;
  private readonly socket: WebSocketLike;
  private readonly highWaterMark: number;
  private handlers: TransportHandlers | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** The pending parts written as owned: given back to the output pool once copied into a message. */
  private readonly owned: Uint8Array[] = [];
  private flushQueued = false;
  private drainTimer: Timer | undefined;
  /** From the close frame on: ends TCP if the peer never answers it [WS-7]. */
  private closeBound: Timer | undefined;
  private ended = false;
  private reported = false;
  /** Why we closed it, when a protocol rule did [WS-2]. */
  private closeError: Error | undefined;
  /** The messages that arrived before start(), and their bytes; undefined from then on. */
  private early: Uint8Array[] | undefined = [];
  private earlyBytes = 0;
  /** Whether reading stopped because too much came before start(). */
  private pausedEarly = false;
  /** The end that came before start(), once one did. */
  private endedEarly: { error: Error | undefined } | undefined;

  constructor(socket: WebSocketLike, info: ConnectionInfo, highWaterMark: number) {
    this.socket = socket;
    this.info = info;
    this.highWaterMark = highWaterMark;
    socket.binaryType = "arraybuffer";
    // Listening from the start: `ws` delivers the messages that came with the upgrade's answer in the
    // same turn as its open event, before whoever opened the socket can call start() [WS-2].
    socket.addEventListener("message", ({ data }) => this.onMessage(data));
    socket.addEventListener("close", ({ code, reason }) => {
      this.stopDrainPolling();
      this.closeBound?.clear();
      // A normal close (1000, or 1001 going away) is the stream's end; any other code is a broken connection.
      this.report(code === 1000 || code === 1001 ? undefined : new Error(`the WebSocket closed with code ${code}${reason ? ` (${reason})` : ""}`));
    });
    socket.addEventListener("error", () => {
      // The close event follows with the code; nothing to add here.
    });
    if (socket.pause !== undefined) {
      this.pause = () => socket.pause!();
      this.resume = () => socket.resume!();
    }
    // ws on Node keeps its TCP socket as _socket: referencing it only while calls are pending lets a
    // program that never closes its client exit, as over TCP [PING-4]. Browsers have nothing to unref.
    const tcp = (socket as { _socket?: { ref?(): void; unref?(): void } })._socket;
    if (tcp?.ref !== undefined && tcp.unref !== undefined) {
      this.ref = () => tcp.ref!();
      this.unref = () => tcp.unref!();
    }
  }

  pause?(): void;
  resume?(): void;
  ref?(): void;
  unref?(): void;

  get bufferedAmount(): number {
    return this.socket.bufferedAmount + this.pendingBytes;
  }

  /**
   * Installs the handlers, and hands them what came before: the messages
   * (at most what the socket read in the turns since it opened) and the
   * close, if any.
   */
  start(handlers: TransportHandlers): void {
    this.handlers = handlers;
    const early = this.early;
    this.early = undefined;
    // Resumed first, so that a pause the handlers make while they read (backpressure) stays [SEC-1].
    if (this.pausedEarly) this.socket.resume!();
    for (const chunk of early!) if (!this.reported) handlers.data(chunk);
    const endedEarly = this.endedEarly;
    if (endedEarly !== undefined) queueMicrotask(() => this.report(endedEarly.error));
  }

  private onMessage(data: unknown): void {
    if (this.reported || this.closeError !== undefined) return;
    if (typeof data === "string") {
      // A text message is a protocol error: close 1003, no GOAWAY [WS-2].
      this.closeError = new Error("a text message arrived on a Strata WebSocket: only binary messages carry the stream [WS-2]");
      this.closeSocket(1003, "binary messages only [WS-2]");
      this.report(this.closeError);
      return;
    }
    const chunk = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array((data as ArrayBufferView).buffer, (data as ArrayBufferView).byteOffset, (data as ArrayBufferView).byteLength);
    if (this.handlers !== undefined) return this.handlers.data(chunk);
    this.early!.push(chunk);
    this.earlyBytes += chunk.length;
    // A start() that does not come soon holds the peer back where the socket can (ws); a browser's cannot pause.
    if (this.earlyBytes > this.highWaterMark && !this.pausedEarly && this.socket.pause !== undefined) {
      this.pausedEarly = true;
      this.socket.pause();
    }
  }

  /** Tells the handlers the stream ended, once; before start, keeps it for start to tell. */
  private report(error?: Error): void {
    if (this.reported) return;
    if (this.handlers === undefined) {
      this.endedEarly ??= { error };
      return;
    }
    this.reported = true;
    this.handlers.closed(this.closeError ?? error);
  }

  write(bytes: Uint8Array, owned = false): boolean {
    if (this.ended || this.socket.readyState !== OPEN) return false;
    this.pending.push(bytes);
    if (owned) this.owned.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
    const below = this.bufferedAmount < this.highWaterMark;
    if (!below) this.startDrainPolling();
    return below;
  }

  /** Sends what was written as messages of at most 1 MiB [WS-3]. */
  private flush(): void {
    this.flushQueued = false;
    if (this.pendingBytes === 0) return;
    const parts = this.pending;
    const total = this.pendingBytes;
    const owned = this.owned;
    this.pending = [];
    this.pendingBytes = 0;
    if (this.socket.readyState !== OPEN) {
      owned.length = 0;
      return;
    }
    let joined: Uint8Array;
    if (parts.length === 1) joined = parts[0]!; // sent as it is: not released
    else {
      joined = new Uint8Array(total);
      let at = 0;
      for (const part of parts) {
        joined.set(part, at);
        at += part.length;
      }
      for (const part of owned) releaseOutput(part);
    }
    owned.length = 0;
    for (let at = 0; at < joined.length; at += MAX_WEBSOCKET_MESSAGE) this.socket.send(joined.subarray(at, Math.min(joined.length, at + MAX_WEBSOCKET_MESSAGE)));
  }

  private startDrainPolling(): void {
    if (this.drainTimer !== undefined) return;
    const look = () => {
      if (this.bufferedAmount >= this.highWaterMark) {
        this.drainTimer = setTimer(look, DRAIN_POLL_MS);
        return;
      }
      this.drainTimer = undefined;
      this.handlers?.drain();
    };
    this.drainTimer = setTimer(look, DRAIN_POLL_MS);
  }

  private stopDrainPolling(): void {
    this.drainTimer?.clear();
    this.drainTimer = undefined;
  }

  /** Sends the close frame; the peer's answer ends the connection, or the bound of [WS-7] does where the socket can end TCP itself (ws). */
  private closeSocket(code: number, reason: string): void {
    this.ended = true;
    this.stopDrainPolling();
    try {
      this.socket.close(code, reason);
    } catch {
      // Already closing.
    }
    const socket = this.socket as WebSocketLike & { terminate?(): void };
    if (socket.terminate !== undefined && this.closeBound === undefined && socket.readyState !== CLOSED) {
      this.closeBound = setTimer(() => socket.terminate!(), LINGER_MS, { keepAlive: false });
    }
  }

  /** A WebSocket cannot half-close: the queued output goes, then at once the close frame (1000), whose answer ends it [WS-7]. */
  end(): void {
    if (this.ended) return;
    this.flush();
    this.closeSocket(1000, "");
  }

  /**
   * Ends it at once, discarding what is not yet sent: where the socket can end its TCP connection
   * itself (ws), it does; the browser's API can only close. A close already sent keeps its
   * handshake, which reads until the peer's answer [WS-7].
   */
  destroy(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.owned.length = 0;
    if (!this.ended) {
      const socket = this.socket as WebSocketLike & { terminate?(): void };
      if (socket.terminate === undefined) this.closeSocket(1000, "");
      else {
        this.ended = true;
        this.stopDrainPolling();
        socket.terminate();
      }
    }
    this.report();
  }
}
