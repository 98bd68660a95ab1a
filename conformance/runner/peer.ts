// A raw connection to the server under test: writes any bytes, reads
// frames, and records a trace of both directions for failure reports.

import { transportFor, type Transport, type TransportsByScheme } from "../../src/transport/index.ts";
import { SOCKET_TRANSPORTS } from "../../src/node.ts";
import {
  createFrameDecoder,
  decodeGoaway,
  decodeHello,
  encodeFrame,
  encodeHello,
  encodePreface,
  FrameType,
  frameTypeName,
  PREFACE_SIZE,
  type Frame,
  type FrameHeaderInit,
  type GoawayInfo,
  type Hello,
} from "../../src/wire/index.ts";
import { CaseFailure } from "./case-outcome.ts";

/** One traced event. */
export interface TraceEntry {
  /** Milliseconds since the case started. */
  atMs: number;
  /** Which of the case's connections, from 1. */
  connection: number;
  direction: "sent" | "received" | "closed";
  bytes: Uint8Array;
}

/** Where a connection records its trace: shared by all connections of a case. */
export interface TraceLog {
  readonly entries: TraceEntry[];
  /** performance.now() when the case started. */
  readonly startedAt: number;
  /** Connections opened so far; a new one takes the next number. */
  connections: number;
}

/** How the server ended a connection, as the suite observed it. */
export interface Closure {
  goaway: GoawayInfo | undefined;
  /** Bytes received that were not frames (e.g. an HTTP answer), when the handshake was not done. */
  raw: Uint8Array;
}

const DEFAULT_WAIT_MS = 3000;

function hex(bytes: Uint8Array, max = 48): string {
  const shown = Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return bytes.length > max ? `${shown} … (${bytes.length} bytes)` : shown;
}

/** A connection driven frame by frame. */
export class Peer {
  readonly frames: Frame[] = [];
  /** Every byte received, before any decoding. */
  raw = new Uint8Array(0);
  /** The server's HELLO, once the handshake is done. */
  hello: Hello | undefined;
  ended = false;
  /** An error the connection reported, e.g. ECONNRESET when the server reset it. */
  socketError: (Error & { code?: string }) | undefined;
  private readonly transport: Transport;
  private readonly log: TraceLog;
  private readonly connection: number;
  private prefaceSeen = 0;
  private decodeError: unknown;
  private readonly waiters = new Set<() => void>();
  private framing = false;

  private constructor(transport: Transport, log: TraceLog) {
    this.transport = transport;
    this.log = log;
    this.connection = ++log.connections;
    const decoder = createFrameDecoder({
      limits: { maxHeaderSize: 1 << 20, maxBodySize: 64 << 20 },
      onFrame: (frame) => this.frames.push({ header: frame.header, body: frame.body.slice() }),
    });
    const data = (chunk: Uint8Array) => {
      const bytes = new Uint8Array(chunk);
      this.record("received", bytes);
      const joined = new Uint8Array(this.raw.length + bytes.length);
      joined.set(this.raw);
      joined.set(bytes, this.raw.length);
      this.raw = joined;
      if (this.framing && this.decodeError === undefined) {
        let rest = bytes;
        if (this.prefaceSeen < PREFACE_SIZE) {
          const take = Math.min(PREFACE_SIZE - this.prefaceSeen, rest.length);
          this.prefaceSeen += take;
          rest = rest.subarray(take);
        }
        try {
          if (rest.length > 0) decoder.push(rest);
        } catch (error) {
          this.decodeError = error;
        }
      }
      this.wake();
    };
    const end = () => {
      if (!this.ended) this.record("closed", new Uint8Array(0));
      this.ended = true;
      this.wake();
    };
    transport.start({
      data,
      ended: end,
      closed: (error?: Error) => {
        if (error !== undefined) this.socketError = error;
        end();
      },
      drain: () => {},
    });
  }

  /**
   * Opens a connection. With `handshake`, sends the preface and a HELLO
   * (with `hello` fields) and waits for the server's preface and HELLO. With
   * `frames` (the default when handshaking), received bytes after 8 are
   * decoded as frames.
   */
  static async open(
    address: string,
    trace: TraceLog,
    options: { handshake?: boolean; frames?: boolean; hello?: Parameters<typeof encodeHello>[0]; allowHalfOpen?: boolean; transports?: TransportsByScheme } = {},
  ): Promise<Peer> {
    const { handshake = true } = options;
    let transport: Transport;
    try {
      const factory = await transportFor(address, { transports: { ...SOCKET_TRANSPORTS, ...options.transports } });
      // allowHalfOpen: the suite may keep writing after the server's FIN [FRAME-18].
      transport = await factory.connect(address, { allowHalfOpen: options.allowHalfOpen ?? false });
    } catch (error) {
      throw new CaseFailure(`a connection to ${address}`, `connect failed: ${(error as Error).message}`);
    }
    const peer = new Peer(transport, trace);
    peer.framing = options.frames ?? handshake;
    if (handshake) {
      peer.write(encodePreface());
      peer.send({ type: FrameType.HELLO }, encodeHello({ pingIntervalMs: 60_000, agent: "strata-conformance", ...options.hello }));
      const first = await peer.waitFor((f) => f.header.type === FrameType.HELLO, "the server's HELLO after its preface [HELLO-1]");
      peer.hello = decodeHello(first.body);
    }
    return peer;
  }

  /** Writes raw bytes (ignored once the connection is destroyed). */
  write(bytes: Uint8Array): void {
    this.record("sent", bytes);
    this.transport.write(bytes);
  }

  private record(direction: TraceEntry["direction"], bytes: Uint8Array): void {
    this.log.entries.push({ atMs: performance.now() - this.log.startedAt, connection: this.connection, direction, bytes });
  }

  /** Writes one frame. */
  send(header: FrameHeaderInit, body?: Uint8Array): void {
    this.write(encodeFrame(header, body));
  }

  /** Half-closes: no more bytes from the suite. */
  end(): void {
    this.transport.end();
  }

  close(): void {
    this.transport.destroy();
  }

  /** Waits for a frame matching `match`; fails naming `what` and listing what arrived instead. */
  async waitFor(match: (frame: Frame) => boolean, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<Frame> {
    const found = await this.until(() => this.frames.find(match), timeoutMs);
    if (found !== undefined) return found;
    throw new CaseFailure(what, this.describe(timeoutMs));
  }

  /** Waits for the server to close; returns its GOAWAY if one came. */
  async waitForClose(what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<Closure> {
    const closed = await this.until(() => (this.ended ? true : undefined), timeoutMs);
    if (!closed) throw new CaseFailure(what, this.describe(timeoutMs));
    const goawayFrame = this.frames.find((f) => f.header.type === FrameType.GOAWAY);
    let goaway: GoawayInfo | undefined;
    if (goawayFrame) {
      try {
        goaway = decodeGoaway(goawayFrame.body);
      } catch {
        throw new CaseFailure(`${what}, with a decodable GOAWAY body [DRAIN-1]`, `GOAWAY body ${hex(goawayFrame.body)}`);
      }
    }
    return { goaway, raw: this.raw };
  }

  /** True when no frame matching `match` arrives within `ms` (used to check silence). */
  async staysSilent(match: (frame: Frame) => boolean, ms: number): Promise<boolean> {
    const found = await this.until(() => this.frames.find(match), ms);
    return found === undefined;
  }

  /** What arrived so far, for Actual. */
  describe(waitedMs?: number): string {
    const frames = this.frames.map((f) => {
      const extra = f.header.type === FrameType.GOAWAY ? safeGoaway(f.body) : f.header.type === FrameType.RESPONSE && f.header.dispatchCode !== 0 ? ` dispatch ${f.header.dispatchCode} "${f.header.dispatchMessage}"` : "";
      return `${frameTypeName(f.header.type)}#${f.header.requestId}${extra}`;
    });
    const parts = [frames.length > 0 ? `frames [${frames.join(", ")}]` : "no frames"];
    if (!this.framing && this.raw.length > 0) parts.push(`bytes ${hex(this.raw)}`);
    if (this.decodeError !== undefined) parts.push(`undecodable bytes from the server: ${String(this.decodeError)}`);
    parts.push(this.ended ? "then EOF" : waitedMs !== undefined ? `connection still open after ${waitedMs} ms` : "connection open");
    return parts.join(", ");
  }

  /**
   * Resolves with check()'s first defined value, or with undefined once
   * `timeoutMs` has passed or the connection has ended (after EOF nothing
   * more arrives, so a failing case does not wait out its timeout).
   */
  private until<T>(check: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      const first = check();
      if (first !== undefined || this.ended) return resolve(first);
      const waiter = () => {
        const value = check();
        if (value === undefined && !this.ended) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve(check());
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

function safeGoaway(body: Uint8Array): string {
  try {
    const g = decodeGoaway(body);
    return ` code ${g.code} last ${g.lastRequestId} "${g.message}"`;
  } catch {
    return " (undecodable)";
  }
}
