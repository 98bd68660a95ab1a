// One node:net socket (TCP, Unix, or TLS on top of TCP) as a Transport: the
// socket's events become the handlers, writes in one tick leave in one
// system call, and the connection's info is read from the socket once.

import type * as net from "node:net";
import type { ConnectionInfo, PeerCertificate, Transport, TransportHandlers } from "./transport.ts";
import { formatHostPort, type SocketAddress } from "./address.ts";
import { frameBefore, isOutput, releaseOutput } from "../wire/output-pool.ts";

/** What a TLS handshake established: the ALPN protocol and the peer's verified certificate [TLS-3] [TLS-6]. */
export interface TlsInfo {
  readonly protocol: string | undefined;
  readonly peerCertificate: PeerCertificate | undefined;
}

/**
 * Output written in one tick leaves in one system call, up to this many
 * bytes: then it is sent at once, so the peer starts on the first frames
 * while the rest are produced. With 100 calls in flight on one connection,
 * this took the bench from 90,300 to 115,800 calls/s (median of 5 runs).
 */
const FLUSH_BYTES = 4096;
/**
 * Except that a send is put off, up to twice FLUSH_BYTES, when the tick
 * before wrote less than this much more than what the tick has written
 * so far: the last part of the tick would be small, and a part of a few
 * frames costs the peer a read and a turn as a full one does. With 100
 * calls in flight of 84-byte requests, parts of 49, 49 and 2 requests ran
 * 12% slower than parts of 49 and 51 (docs/performance.md).
 */
const SMALL_TAIL_BYTES = FLUSH_BYTES / 2;
/**
 * Whether a run is held while the socket still writes earlier bytes (see
 * `run`): on Bun, whose node:net copies the writes waiting in a socket into
 * one buffer. Node hands such a list to the system as it is; holding there
 * cost 10% at TLS 64 B, 100 in flight.
 */
const HOLDS_RUNS = typeof process.versions.bun === "string";
/** TCP keepalive probes start after this much silence (the OS default is 2 hours). */
const KEEPALIVE_DELAY_MS = 30_000;

/** "host:port" of a socket's address, or "unknown" once the socket forgot it. */
export function formatAddress(host: string | undefined, port: number | undefined): string {
  return host === undefined || port === undefined ? "unknown" : formatHostPort(host, port);
}

/**
 * A socket as a transport, and its own connection info: the peer's address
 * is kept as the socket reported it at connect (a closed socket forgets
 * it), and printed only when asked, so an idle connection holds no strings
 * of its own for it.
 */
export class SocketTransport implements Transport, ConnectionInfo {
  /** The peer's IP address; undefined on a Unix socket [SEC-4]. */
  readonly remoteAddress: string | undefined;
  private readonly remotePort: number | undefined;
  /** The socket path of a Unix-socket connection. */
  private readonly path: string | undefined;
  private readonly socket: net.Socket;
  private ended = false;
  private corked = false;
  /** Bytes written since the last send, and in this tick and the one before. */
  private corkedBytes = 0;
  private tickBytes = 0;
  private lastTickBytes = 0;
  /** Set while the part past FLUSH_BYTES waits for the end of the tick (sendsNow). */
  private waiting = false;
  /**
   * Owned output bytes not yet handed to the socket: a run of frames encoded
   * one after another into the same output slab, sent as one view and
   * released when the socket reports it written. While the socket is still
   * writing earlier bytes the run is held on Bun (HOLDS_RUNS), below the
   * high-water mark, and grows: it follows them as one write once they are
   * out, where the socket would have kept each send apart and then copied
   * them into one buffer (16% of a TLS server's CPU at 4 KiB).
   */
  private run: Uint8Array | undefined;
  private runEnd = 0;
  /** The frame the run ends with. */
  private runLast: Uint8Array | undefined;

  /** What TLS established, on a TLS connection [TLS-6]. */
  private readonly tls: TlsInfo | undefined;

  constructor(socket: net.Socket, target: SocketAddress, highWaterMark: number, tls?: TlsInfo) {
    this.socket = socket;
    this.tls = tls;
    if ("path" in target) {
      this.path = target.path;
    } else {
      this.remoteAddress = socket.remoteAddress;
      this.remotePort = socket.remotePort;
    }
    socket.setNoDelay(true);
    if (socket.remoteFamily !== undefined) socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    // Our mark is never below node's own: 'drain' fires only after node's write reported a full
    // buffer, so a lower mark would wait for a 'drain' that never comes.
    this.highWaterMark = Math.max(highWaterMark, socket.writableHighWaterMark);
    socket.pause();
    // An error or close between here and start() is kept for start to report: without a listener an
    // error event would throw from the socket and end the process (Deno delivers a TLS server's
    // refusal of the client certificate after secureConnect, before the handshake starts us) [TLS-5].
    socket.on("error", this.early);
    socket.on("close", this.early);
  }

  /** What ended the socket before start(), once something did. */
  private endedEarly: { error: Error | undefined } | undefined;
  private readonly early = (error?: unknown): void => {
    this.endedEarly ??= { error: error instanceof Error ? error : undefined };
  };

  private readonly highWaterMark: number;

  get info(): ConnectionInfo {
    return this;
  }

  get peer(): string {
    return this.path !== undefined ? `unix:${this.path}` : formatAddress(this.remoteAddress, this.remotePort);
  }

  /** Whether TLS protects the connection [TLS-6]. */
  get secure(): boolean {
    return this.tls !== undefined;
  }

  /** The ALPN protocol TLS negotiated [TLS-3]. */
  get protocol(): string | undefined {
    return this.tls?.protocol;
  }

  /** The peer's verified certificate [TLS-6]. */
  get peerCertificate(): PeerCertificate | undefined {
    return this.tls?.peerCertificate;
  }

  get bufferedAmount(): number {
    return this.socket.writableLength + (this.run === undefined ? 0 : this.runEnd);
  }

  start(handlers: TransportHandlers): void {
    const socket = this.socket;
    socket.off("error", this.early);
    socket.off("close", this.early);
    socket.on("data", (chunk: Buffer) => handlers.data(chunk));
    socket.on("drain", () => handlers.drain());
    let reported = false;
    const report = (error?: Error) => {
      if (reported) return;
      reported = true;
      handlers.closed(error);
    };
    // Half-open on request: the peer's FIN is news, not the end; the close or error that follows is.
    if (socket.allowHalfOpen && handlers.ended !== undefined) socket.on("end", () => handlers.ended!());
    else socket.on("end", () => report());
    socket.on("error", (error) => report(error));
    socket.on("close", () => report());
    const endedEarly = this.endedEarly;
    // Reported after start returns, as the events it stands for would have been.
    if (endedEarly !== undefined) queueMicrotask(() => report(endedEarly.error));
    else socket.resume();
  }

  write(bytes: Uint8Array, owned = false): boolean {
    if (this.ended) return false;
    this.corkForTick();
    const last = this.runLast;
    if (owned && last !== undefined && frameBefore(bytes) === last) {
      // The next frame of the same slab: the run grows, still one view.
      this.runEnd += bytes.length;
      this.runLast = bytes;
    } else {
      this.flushRun();
      if (owned && isOutput(bytes)) {
        this.run = bytes;
        this.runEnd = bytes.length;
        this.runLast = bytes;
      } else {
        this.socket.write(bytes, this.written);
      }
    }
    return this.queued(bytes.length);
  }

  /** Hands the pending run of owned bytes to the socket, to be released once written. */
  private flushRun(): void {
    const run = this.run;
    if (run === undefined) return;
    this.run = undefined;
    this.runLast = undefined;
    const bytes = run.length === this.runEnd ? run : new Uint8Array(run.buffer, run.byteOffset, this.runEnd);
    // Called once the bytes are written, or with an error once the socket will not write them.
    this.socket.write(bytes, () => {
      releaseOutput(bytes);
      this.written();
    });
  }

  /**
   * Hands the run to the socket unless it is held: on Bun, while the socket
   * still has bytes to write and the run with them stays below the
   * high-water mark. Every write to the socket carries a callback that sends
   * a held run (written), so a held run always has one coming.
   */
  private sendRun(): void {
    if (HOLDS_RUNS) {
      const pending = this.socket.writableLength;
      if (pending > 0 && pending + this.runEnd < this.highWaterMark) return;
    }
    this.flushRun();
  }

  /** The socket wrote some bytes: a held run goes now if nothing is left before it, or at the end of the tick if one is being written. */
  private readonly written = (): void => {
    if (HOLDS_RUNS && this.run !== undefined && !this.corked && this.socket.writableLength === 0) this.flushRun();
  };

  /** Output written in one tick leaves in one system call: cork now, uncork once the tick's work is done. */
  private corkForTick(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      this.corkedBytes = 0;
      this.lastTickBytes = this.tickBytes;
      this.tickBytes = 0;
      this.sendRun();
      this.socket.uncork();
    });
  }

  /** Counts `length` bytes just queued, sending them at once past FLUSH_BYTES unless the tick's last part would be small; false past the high-water mark. */
  private queued(length: number): boolean {
    this.corkedBytes += length;
    this.tickBytes += length;
    if (this.corkedBytes >= FLUSH_BYTES && this.sendsNow(length)) {
      this.corkedBytes = 0;
      this.sendRun();
      this.socket.uncork();
      this.socket.cork();
    }
    return this.bufferedAmount < this.highWaterMark;
  }

  /**
   * Whether the part that just reached FLUSH_BYTES goes now: decided when
   * it does (by the frame of `length` bytes that took it there), then held
   * for the rest of the part. It waits when the tick so far is within the
   * tick before and that one wrote less than SMALL_TAIL_BYTES more: the
   * tick is about to end; and never past twice FLUSH_BYTES.
   */
  private sendsNow(length: number): boolean {
    if (this.corkedBytes - length < FLUSH_BYTES) {
      const expected = this.lastTickBytes - this.tickBytes;
      this.waiting = expected >= 0 && expected < SMALL_TAIL_BYTES;
    }
    return !this.waiting || this.corkedBytes >= 2 * FLUSH_BYTES;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  ref(): void {
    this.socket.ref?.();
  }

  unref(): void {
    this.socket.unref?.();
  }

  end(): void {
    if (this.ended) return;
    this.flushRun();
    this.ended = true;
    // Half-close after the queued output; reading goes on until the peer ends too.
    this.socket.end();
  }

  destroy(): void {
    this.ended = true;
    this.run = undefined; // never written: not released, its slab is not reused
    this.runLast = undefined;
    this.socket.destroy();
  }
}
