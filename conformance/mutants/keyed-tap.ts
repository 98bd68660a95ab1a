// A view into the reference server for the keyed mutants: a transport that
// splits each connection's bytes into frames both ways, and a key scheduler
// around the reference one that knows which request each ticket belongs to.
// A mutant changes one decision through the hooks; bytes and keys otherwise
// pass through untouched, so everything else is the reference server.

import { tcpTransport } from "../../src/transport/tcp.ts";
import { KeyScheduler, type KeyDispatch, type KeySchedulerStats, type KeyTicket, type ServerOptions } from "../../src/node.ts";
import { type Transport, type TransportFactory, type TransportHandlers } from "../../src/transport/index.ts";
import { CallMode, decodeHeader, encodeFrame, FrameType, PREFACE_SIZE, type Frame, type FrameHeader } from "../../src/wire/index.ts";

/** A keyed unary or acked request, as the tap saw it arrive. */
export interface TappedRequest {
  readonly id: number;
  readonly mode: CallMode;
  readonly keys: readonly string[];
  /** Writes a frame to the request's client. */
  send(frame: Frame): void;
  /** Its place in the key queues, once the server queued it. */
  ticket: TappedTicket | undefined;
  /** State a mutant may keep per request. */
  readonly state: Record<string, unknown>;
}

/** What a keyed mutant changes. Hooks left out change nothing. */
export interface KeyedTapHooks {
  /** A whole frame from the client, before the server reads it; false swallows it. */
  clientFrame?(frame: Frame, request: TappedRequest | undefined): boolean;
  /** A whole frame the server writes: the frames to write instead, or undefined to write it as it is. */
  serverFrame?(frame: Frame, request: TappedRequest | undefined): Frame[] | undefined;
  /** The server releases the ticket of `request`; false leaves its keys held (or its place queued). */
  release?(request: TappedRequest): boolean;
  /** The keys of `request`, which had to wait, were granted; called just before the server hears of it. */
  granted?(request: TappedRequest): void;
}

/** A ticket of the reference scheduler, with the request it belongs to. */
export class TappedTicket implements KeyTicket {
  private readonly inner: KeyTicket;
  private readonly request: TappedRequest | undefined;
  private readonly hooks: KeyedTapHooks;

  constructor(inner: KeyTicket, request: TappedRequest | undefined, hooks: KeyedTapHooks) {
    this.inner = inner;
    this.request = request;
    this.hooks = hooks;
  }

  get keys(): readonly string[] {
    return this.inner.keys;
  }

  get granted(): boolean {
    return this.inner.granted;
  }

  /** What the server calls; the mutant's release hook may keep the keys. */
  release(): void {
    if (this.request !== undefined && this.hooks.release?.(this.request) === false) return;
    this.inner.release();
  }

  /** Releases in the reference scheduler now, whatever the server does later. */
  releaseKeys(): void {
    this.inner.release();
  }
}

/** Part of the bytes fed to a FrameSplitter. */
interface Piece {
  kind: "frame" | "partial" | "pass";
  bytes: Uint8Array;
  frame?: Frame;
  whole: boolean;
}

/** Splits a byte stream into frames, keeping the bytes as they came; after the preface, or after anything undecodable, bytes pass as they are. */
class FrameSplitter {
  private prefaceLeft = PREFACE_SIZE;
  private raw = false;
  /** The current frame's bytes so far: its size and header, then the whole frame once its size is known. */
  private buffer = new Uint8Array(4);
  private filled = 0;
  private header: FrameHeader | undefined;
  private headerEnd = 0;

  /**
   * Feeds bytes; returns them in pieces, in order: "frame" ends a frame
   * (`whole` when all of it is in this piece), "partial" begins or continues
   * one, "pass" is the preface or bytes that are not frames.
   */
  push(chunk: Uint8Array): Piece[] {
    const pieces: Piece[] = [];
    let at = 0;
    if (this.prefaceLeft > 0) {
      const take = Math.min(this.prefaceLeft, chunk.length);
      this.prefaceLeft -= take;
      pieces.push({ kind: "pass", bytes: chunk.subarray(0, take), whole: false });
      at = take;
    }
    let start = at;
    while (at < chunk.length && !this.raw) {
      at = this.fill(chunk, at);
      if (this.header === undefined || this.filled < this.buffer.length) continue;
      const frame = { header: this.header, body: this.buffer.slice(this.headerEnd) };
      pieces.push({ kind: "frame", bytes: chunk.subarray(start, at), frame, whole: at - start === this.buffer.length });
      this.buffer = new Uint8Array(4);
      this.filled = 0;
      this.header = undefined;
      start = at;
    }
    if (start < chunk.length) pieces.push({ kind: this.raw ? "pass" : "partial", bytes: chunk.subarray(start), whole: false });
    return pieces;
  }

  /** Takes what the current frame still needs from `chunk` at `at`; returns where it stopped. */
  private fill(chunk: Uint8Array, at: number): number {
    const take = Math.min(this.buffer.length - this.filled, chunk.length - at);
    this.buffer.set(chunk.subarray(at, at + take), this.filled);
    this.filled += take;
    at += take;
    if (this.filled < this.buffer.length || this.header !== undefined) return at;
    if (this.buffer.length === 4) {
      const size = new DataView(this.buffer.buffer).getUint32(0);
      if (size === 0 || size > 1 << 20) return this.fail(at);
      const grown = new Uint8Array(4 + size);
      grown.set(this.buffer);
      this.buffer = grown;
      return at;
    }
    try {
      this.header = decodeHeader(this.buffer, 4, this.buffer.length);
    } catch {
      return this.fail(at);
    }
    if (this.header.bodySize > 1 << 26) return this.fail(at);
    this.headerEnd = this.buffer.length;
    const whole = new Uint8Array(this.headerEnd + this.header.bodySize);
    whole.set(this.buffer);
    this.buffer = whole;
    return at;
  }

  /** Bytes that are not a frame: everything from here on passes as it is. */
  private fail(at: number): number {
    this.raw = true;
    this.header = undefined;
    return at;
  }
}

/**
 * Server options that run the reference server through the tap: its
 * transport and its key scheduler [KEYS-3] [KEYS-5].
 */
export function keyedTap(hooks: KeyedTapHooks): ServerOptions {
  /** The keyed REQUEST the server is reading right now: the next enqueue is its. */
  let current: TappedRequest | undefined;
  const inner = new KeyScheduler();
  const keyScheduler: KeyDispatch = {
    enqueue(keys: readonly string[], onGranted: () => void): KeyTicket | undefined {
      const request = current;
      current = undefined;
      const ticket = inner.enqueue(keys, () => {
        if (request !== undefined) hooks.granted?.(request);
        onGranted();
      });
      if (ticket === undefined) return undefined;
      const tapped = new TappedTicket(ticket, request, hooks);
      if (request !== undefined) request.ticket = tapped;
      return tapped;
    },
    stats(): KeySchedulerStats {
      return inner.stats();
    },
  };

  const tap = (transport: Transport): Transport => {
    const requests = new Map<number, TappedRequest>();
    const incoming = new FrameSplitter();
    const outgoing = new FrameSplitter();
    let held: Uint8Array[] = [];
    const send = (frame: Frame) => transport.write(encodeFrame(frame.header, frame.body));
    return {
      write(bytes: Uint8Array): boolean {
        let ok = true;
        for (const piece of outgoing.push(bytes)) {
          if (piece.kind === "partial") {
            // A frame's first part: kept until the rest comes, so that a hook sees all of it.
            held.push(piece.bytes.slice());
            continue;
          }
          const replaced = piece.frame === undefined ? undefined : hooks.serverFrame?.(piece.frame, requests.get(piece.frame.header.requestId));
          if (piece.frame?.header.type === FrameType.RESPONSE) requests.delete(piece.frame.header.requestId);
          if (replaced === undefined) {
            for (const part of held) ok = transport.write(part);
            ok = transport.write(piece.bytes);
          } else {
            for (const frame of replaced) ok = send(frame);
          }
          held = [];
        }
        return ok;
      },
      get bufferedAmount() {
        return transport.bufferedAmount;
      },
      pause: () => transport.pause?.(),
      resume: () => transport.resume?.(),
      end: () => {
        for (const part of held) transport.write(part);
        held = [];
        transport.end();
      },
      destroy: () => transport.destroy(),
      info: transport.info,
      start(handlers: TransportHandlers): void {
        transport.start({
          ...handlers,
          data(chunk: Uint8Array): void {
            for (const piece of incoming.push(chunk)) {
              const frame = piece.frame;
              if (piece.kind !== "frame" || frame === undefined) {
                handlers.data(piece.bytes);
                continue;
              }
              const { type, requestId, callMode, keys } = frame.header;
              let request = requests.get(requestId);
              if (type === FrameType.REQUEST) {
                requests.delete(requestId);
                request = undefined;
                if (keys.length > 0 && callMode !== CallMode.ONEWAY) {
                  request = { id: requestId, mode: callMode, keys: [...keys], send, ticket: undefined, state: {} };
                  requests.set(requestId, request);
                }
              }
              if (piece.whole && hooks.clientFrame?.(frame, request) === false) continue;
              current = type === FrameType.REQUEST ? request : undefined;
              handlers.data(piece.bytes);
              current = undefined;
            }
          },
        });
      },
    };
  };

  const transport: TransportFactory = {
    connect: async (address, options) => tcpTransport.connect(address, options),
    listen: async (address, options, accept) => tcpTransport.listen(address, options, (t) => accept(tap(t))),
  };
  return { transport, keyScheduler };
}
