import { FrameType, GoawayCode } from "../gen/strata/v1/frame_pb.ts";
import { allocateBytes } from "./byte-pool.ts";
import { decodeHeader } from "./header-codec.ts";
import { DEFAULT_LIMITS, MAX_PING_PAYLOAD, type FrameLimits } from "./limits.ts";
import { ProtocolError } from "./protocol-error.ts";
import { frameTypeName, type Frame, type FrameHeader } from "./frame-header.ts";

/** Options of a frame decoder. */
export interface FrameDecoderOptions {
  /** The limits this receiver declared; when omitted, those a HELLO with zeros declares [HELLO-6]. */
  limits?: FrameLimits;
  /** Called with each whole frame, in order. */
  onFrame: (frame: Frame) => void;
}

const EMPTY = new Uint8Array(0);

/** Where the decoder is inside the current frame. */
const State = {
  size: 0,
  header: 1,
  body: 2,
  failed: 3,
} as const;

/** Frame types that travel on request id 0 [ID-2]. */
function isConnectionLevel(type: number): boolean {
  return type === FrameType.HELLO || type === FrameType.PING || type === FrameType.PONG || type === FrameType.GOAWAY;
}

/** Frame types that carry a request id of 1 or more [ID-2]. */
function isRequestLevel(type: number): boolean {
  return type === FrameType.REQUEST || type === FrameType.RESPONSE || type === FrameType.ACK || type === FrameType.CANCEL;
}

/**
 * Checks what can be checked from one header alone, before its body is
 * read: [FRAME-8], [ID-2], [FRAME-10] and [PING-1].
 */
function checkHeader(header: FrameHeader, limits: FrameLimits): void {
  const type = header.type;
  if (type === FrameType.UNSPECIFIED) {
    throw new ProtocolError("FRAME-8", "frame type is absent or 0");
  }
  if (header.bodySize > limits.maxBodySize) {
    throw new ProtocolError(
      "FRAME-10",
      `body size ${header.bodySize} exceeds the limit of ${limits.maxBodySize}`,
      GoawayCode.FRAME_TOO_LARGE,
    );
  }
  if (isConnectionLevel(type)) {
    if (header.requestId !== 0) {
      throw new ProtocolError("ID-2", `${frameTypeName(type)} frame carries request id ${header.requestId}, not 0`);
    }
    if (type === FrameType.PING && header.bodySize > MAX_PING_PAYLOAD) {
      throw new ProtocolError("PING-1", `PING payload of ${header.bodySize} bytes exceeds ${MAX_PING_PAYLOAD}`);
    }
  } else if (isRequestLevel(type) && header.requestId === 0) {
    throw new ProtocolError("ID-2", `${frameTypeName(type)} frame carries request id 0`);
  }
}

/** The first buffer of a body that spans reads, unless the body is smaller [FRAME-21]. */
const MIN_BODY_BUFFER = 16 * 1024;

/**
 * What a discarded stream fails with: one error for all of them, as a
 * closed connection that its oneway requests keep alive would otherwise
 * keep an error and its stack each [DRAIN-15].
 */
const DISCARDED = new ProtocolError("FRAME-12", "the stream was discarded", null);

/**
 * An incremental, push-based frame decoder: give it chunks of any size, it
 * calls `onFrame` for each whole frame. Sizes are checked against the limits
 * before anything is allocated, so it never buffers more than one header and
 * one body within those limits, and a body's buffer grows as its bytes
 * arrive [FRAME-21]. Violations are thrown as ProtocolError, and
 * decoding throws nothing else (an exception from `onFrame` passes through
 * unchanged); after either, the decoder stays failed. A body may be a view
 * into the pushed chunk: the decoder never writes to chunks.
 * Implements [FRAME-3] [FRAME-4] [FRAME-5] [FRAME-6] [FRAME-8] [FRAME-10]
 * [FRAME-12] [ID-2] [PING-1] [LIMIT-6].
 */
export class FrameDecoder {
  readonly limits: FrameLimits;
  private readonly onFrame: (frame: Frame) => void;
  private state: number = State.size;
  /** Bytes of the 4-byte size collected so far, and the value being built. */
  private sizeBytes = 0;
  private size = 0;
  private header: FrameHeader | undefined;
  /** A frame part that spans chunks, and how much of it has arrived. */
  private partial: Uint8Array = EMPTY;
  private filled = 0;
  private failure: unknown;
  /** Set by stop() from within onFrame: decoding ends after that frame. */
  private stopping = false;
  /** What a stop left of the chunk being decoded, until takeRest(). */
  private rest: Uint8Array | undefined;

  constructor(options: FrameDecoderOptions) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.onFrame = options.onFrame;
  }

  private decoded = 0;

  /** Whole frames decoded so far; a change tells a receiver that a new frame has begun [FRAME-19]. */
  get frames(): number {
    return this.decoded;
  }

  /** Bytes set aside for the frame in progress (its header or body buffer, as far as it has arrived), for a receiver's memory bound [FRAME-20] [FRAME-21]. */
  get reserved(): number {
    return this.partial.length;
  }

  /** Whether a frame's header has been read and its body is still arriving (its deadline already runs [DEADLINE-2]). */
  get readingBody(): boolean {
    return this.state === State.body;
  }

  /** Bytes received but not yet part of a whole frame. */
  get buffered(): number {
    if (this.state === State.size) return this.sizeBytes;
    return (this.state === State.header ? 4 : 0) + this.filled;
  }

  /** Feeds one chunk; whole frames go to `onFrame` before this returns [FRAME-3]. */
  push(chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure;
    try {
      this.consume(chunk);
    } catch (error) {
      // A ProtocolError from decoding, or whatever `onFrame` threw: either
      // way the rest of the chunk is lost, so the stream cannot continue.
      this.state = State.failed;
      this.partial = EMPTY;
      this.failure = error;
      throw error;
    }
  }

  /**
   * Called from `onFrame`: decodes nothing more of the chunk being pushed
   * after this frame. The rest of the chunk, as received, is then
   * takeRest()'s, for a receiver that must not decode ahead of what it can
   * handle to push again later [SEC-6].
   */
  stop(): void {
    this.stopping = true;
  }

  /** The bytes a stop() left undecoded in the last push, once; undefined when it decoded the whole chunk [SEC-6]. */
  takeRest(): Uint8Array | undefined {
    const rest = this.rest;
    this.rest = undefined;
    return rest;
  }

  /**
   * The stream is gone, whatever it was in the middle of: drops the partial
   * frame and any kept rest, so that a receiver that outlives its stream
   * holds none of it [FRAME-20]; later pushes throw. May be called from
   * within onFrame.
   */
  discard(): void {
    this.stopping = true; // called from within onFrame, decoding ends after that frame
    this.state = State.failed;
    this.partial = EMPTY;
    this.filled = 0;
    this.sizeBytes = 0;
    this.header = undefined;
    this.rest = undefined;
    this.failure ??= DISCARDED;
  }

  /**
   * Signals the end of the stream. Throws a ProtocolError citing [FRAME-12]
   * when it cuts a frame short: the partial frame is discarded, never acted
   * on, and no GOAWAY follows (its goawayCode is undefined): the connection
   * is lost, not in error.
   */
  end(): void {
    if (this.failure !== undefined) throw this.failure;
    const buffered = this.buffered;
    if (buffered > 0 || this.state !== State.size) {
      this.state = State.failed;
      this.partial = EMPTY;
      this.failure = new ProtocolError("FRAME-12", `stream ended inside a frame (${buffered} bytes of it received)`, null);
      throw this.failure;
    }
  }

  private consume(chunk: Uint8Array): void {
    let pos = 0;
    const length = chunk.length;
    // Read once per chunk, not once per frame: the getters cost more than the view made from them.
    const buffer = chunk.buffer;
    const base = chunk.byteOffset;
    while (pos < length) {
      if (this.stopping) {
        this.stopping = false;
        // After discard(), from within onFrame: the rest is dropped, not kept.
        if (this.state !== State.failed) this.rest = new Uint8Array(buffer, base + pos, length - pos);
        return;
      }
      if (this.state === State.size) {
        // Fast path: the whole size prefix is in this chunk.
        if (this.sizeBytes === 0 && length - pos >= 4) {
          this.size = ((chunk[pos]! << 24) | (chunk[pos + 1]! << 16) | (chunk[pos + 2]! << 8) | chunk[pos + 3]!) >>> 0;
          pos += 4;
        } else {
          this.size = ((this.size << 8) | chunk[pos++]!) >>> 0;
          if (++this.sizeBytes < 4) continue;
        }
        this.sizeBytes = 0;
        this.startHeader();
        // A complete header in this chunk is decoded in place, without a copy.
        if (length - pos >= this.size) {
          const header = decodeHeader(chunk, pos, pos + this.size);
          pos += this.size;
          this.size = 0;
          pos = this.startBody(header, chunk, buffer, base, pos);
          continue;
        }
        this.partial = allocateBytes(this.size);
        this.filled = 0;
        this.state = State.header;
      } else if (this.state === State.header) {
        const n = Math.min(this.partial.length - this.filled, length - pos);
        this.partial.set(chunk.subarray(pos, pos + n), this.filled);
        this.filled += n;
        pos += n;
        if (this.filled < this.partial.length) return;
        const header = decodeHeader(this.partial, 0, this.partial.length);
        this.partial = EMPTY;
        this.filled = 0;
        this.size = 0;
        pos = this.startBody(header, chunk, buffer, base, pos);
      } else {
        const bodySize = this.header!.bodySize;
        const n = Math.min(bodySize - this.filled, length - pos);
        if (this.filled + n > this.partial.length) this.growBody(bodySize, this.filled + n);
        this.partial.set(chunk.subarray(pos, pos + n), this.filled);
        this.filled += n;
        pos += n;
        if (this.filled < bodySize) return;
        const body = this.partial;
        const header = this.header!;
        this.partial = EMPTY;
        this.filled = 0;
        this.header = undefined;
        this.state = State.size;
        this.decoded++;
        this.onFrame({ header, body });
      }
    }
    // A stop after the chunk's last frame leaves nothing.
    this.stopping = false;
  }

  /** Validates the size prefix just read [FRAME-4] [FRAME-5]. */
  private startHeader(): void {
    const size = this.size;
    if (size === 0) throw new ProtocolError("FRAME-4", "header size is 0");
    if (size > this.limits.maxHeaderSize) {
      throw new ProtocolError(
        "FRAME-5",
        `header size ${size} exceeds the limit of ${this.limits.maxHeaderSize}`,
        GoawayCode.FRAME_TOO_LARGE,
      );
    }
  }

  /**
   * Validates a decoded header, then emits the frame if its body is in the
   * chunk, or allocates exactly the body size and waits for the rest;
   * `buffer` and `base` are the chunk's buffer and byte offset. Returns the
   * position after what was consumed.
   */
  private startBody(header: FrameHeader, chunk: Uint8Array, buffer: ArrayBufferLike, base: number, pos: number): number {
    checkHeader(header, this.limits);
    const bodySize = header.bodySize;
    if (chunk.length - pos >= bodySize) {
      this.state = State.size;
      // A plain view, even of a node Buffer: Buffer's own subarray makes a Buffer, at several times the cost.
      const body = bodySize === 0 ? EMPTY : new Uint8Array(buffer, base + pos, bodySize);
      this.decoded++;
      this.onFrame({ header, body });
      return pos + bodySize;
    }
    this.header = header;
    // Set aside as the body arrives, not by its declared size: headers alone must not hold memory [FRAME-21].
    this.partial = EMPTY;
    this.filled = 0;
    this.state = State.body;
    return pos;
  }

  /**
   * Makes room for `needed` bytes of a body of `bodySize`: the whole body
   * once a thirty-second of it has arrived, else four times what has (at
   * least 16 KiB). A body that arrives in reads of a thirty-second or more
   * (64 KiB reads of a 1 MiB body) gets one buffer of its size, copied into
   * once, and one that trickles in holds at most 32 times its bytes [FRAME-21].
   */
  private growBody(bodySize: number, needed: number): void {
    const grown = allocateBytes(needed * 32 >= bodySize ? bodySize : Math.min(bodySize, Math.max(MIN_BODY_BUFFER, 4 * needed)));
    if (this.filled > 0) grown.set(this.partial.subarray(0, this.filled));
    this.partial = grown;
  }
}

/** Creates a push-based frame decoder; see FrameDecoder [FRAME-3]. */
export function createFrameDecoder(options: FrameDecoderOptions): FrameDecoder {
  return new FrameDecoder(options);
}
