// Memory for outgoing frames, used again once they are written. Frames and
// the message bodies copied into them are cut from 64 KiB slabs, like the
// byte pool's buffers; unlike those, a slab whose every piece its owner has
// released (`releaseOutput`, once a socket reports the bytes written) goes
// back on a short list of spares instead of to the garbage collector. V8
// counts each slab as external memory: a server that took a fresh one every
// few calls at 4 KiB had a full collection every 40 ms and spent half again
// as much CPU per call. A piece never released is harmless: its slab is
// simply not used again, and is freed once no view into it is left.

/** One slab: its bytes, how many were handed out, and how many came back. */
interface Slab {
  readonly buffer: ArrayBuffer;
  readonly view: Uint8Array;
  committed: number;
  released: number;
  /** No longer the slab pieces are cut from. */
  retired: boolean;
  /** Its pieces are message bodies (allocateOutput): a server's responses and a client's requests, never handed to code outside Strata. */
  bodies: boolean;
}

const SLAB_SIZE = 64 * 1024;
/** The largest piece cut from a slab: larger ones get a buffer of their own. */
const MAX_PIECE = SLAB_SIZE / 8;
/** Spare slabs kept for reuse, at most (1 MiB). */
const MAX_SPARES = 16;

/**
 * Each buffer this pool made carries its slab under this key: a release finds
 * its slab by the view's buffer. A property, not a WeakMap entry: a WeakMap
 * keyed by short-lived buffers made the garbage collector's work grow.
 */
const SLAB = Symbol("strata.outputSlab");
type Tagged = ArrayBufferLike & { [SLAB]?: Slab };
const spares: Slab[] = [];

function freshSlab(): Slab {
  const buffer = new ArrayBuffer(SLAB_SIZE);
  const slab: Slab = { buffer, view: new Uint8Array(buffer), committed: 0, released: 0, retired: false, bodies: false };
  (buffer as Tagged)[SLAB] = slab;
  return slab;
}

/** Whether every piece of a retired slab came back: then it can be used again. */
function recycleIfDone(slab: Slab): void {
  if (slab.retired && slab.released === slab.committed && spares.length < MAX_SPARES) {
    slab.committed = 0;
    slab.released = 0;
    slab.retired = false;
    spares.push(slab);
  }
}

/** A slab pieces are being cut from, and where its free space starts. */
class Cursor {
  slab: Slab;
  offset = 0;
  /** The piece cut last, and the one cut right before it from the same slab (undefined after a move to another slab). */
  last: Uint8Array | undefined;
  beforeLast: Uint8Array | undefined;
  private readonly bodies: boolean;

  constructor(bodies: boolean) {
    this.bodies = bodies;
    this.slab = freshSlab();
    this.slab.bodies = bodies;
  }

  /** Makes room for `size` more bytes, moving to a spare or fresh slab if need be. */
  reserve(size: number): void {
    if (this.offset + size <= SLAB_SIZE) return;
    this.slab.retired = true;
    recycleIfDone(this.slab);
    this.slab = spares.pop() ?? freshSlab();
    this.slab.bodies = this.bodies;
    this.offset = 0;
    this.last = undefined;
  }

  commit(size: number): Uint8Array {
    const slab = this.slab;
    // Not subarray(): the constructor is what the optimizing compiler inlines.
    const bytes = new Uint8Array(slab.buffer, this.offset, size);
    slab.committed += size;
    this.offset += size;
    this.beforeLast = this.last;
    this.last = bytes;
    return bytes;
  }
}

/** Frames come from one slab and bodies from another, so that frames written one after another are adjacent. */
const frames = new Cursor(false);
const bodies = new Cursor(true);

/** The largest frame written in place into a slab by `writableSlab` [FRAME-1]. */
export const MAX_IN_PLACE = MAX_PIECE;

/**
 * Returns a view of the whole current frame slab, with at least `minFree`
 * bytes free from `slabOffset()` on, for an encoder that writes a frame of
 * not yet known size in place and then calls `commitSlab` (saves a copy).
 * The bytes past `slabOffset()` are not zero: an encoder writes every byte
 * it commits, and simply does not commit a frame that did not fit [FRAME-1].
 */
export function writableSlab(minFree: number): Uint8Array {
  frames.reserve(minFree);
  return frames.slab.view;
}

/** Where the free space of the current frame slab starts [FRAME-1]. */
export function slabOffset(): number {
  return frames.offset;
}

/** Hands out `size` bytes written in place from `slabOffset()` on: one frame [FRAME-1]. */
export function commitSlab(size: number): Uint8Array {
  return frames.commit(size);
}

/**
 * Returns `size` bytes for a body that the caller fills completely, and
 * then either releases or drops. They are not zero. From MAX_IN_PLACE on,
 * the size of a body written after its frame's head rather than copied in,
 * they get a buffer of their own, never reused: every piece of a body slab
 * is copied into a frame before it is released [FRAME-1].
 */
export function allocateOutput(size: number): Uint8Array {
  if (size >= MAX_PIECE || size === 0) return new Uint8Array(size);
  bodies.reserve(size);
  return bodies.commit(size);
}

/**
 * The frame cut right before `bytes` from the same slab, when `bytes` is the
 * frame cut last: the two are adjacent, so a transport that holds the first
 * may send both as one view. Undefined otherwise. Compares views, not their
 * buffers and offsets, whose getters cost more than the rest of a write [FRAME-1].
 */
export function frameBefore(bytes: Uint8Array): Uint8Array | undefined {
  return bytes === frames.last ? frames.beforeLast : undefined;
}

/** The slab `bytes` were cut from, if this pool made it. */
function slabOfBytes(bytes: Uint8Array): Slab | undefined {
  // The piece cut last from either slab is the common case, known without reading its buffer.
  if (bytes === frames.last) return frames.slab;
  if (bytes === bodies.last) return bodies.slab;
  const buffer = bytes.buffer;
  return buffer === frames.slab.buffer ? frames.slab : buffer === bodies.slab.buffer ? bodies.slab : (buffer as Tagged)[SLAB];
}

function release(slab: Slab, length: number): void {
  slab.released += length;
  if (slab.released > slab.committed) throw new Error("internal error: output bytes released twice");
  recycleIfDone(slab);
}

/**
 * Gives back `bytes` cut from this pool, once nothing will read them again
 * (written to the network, or copied). Each piece is released at most once,
 * and only by its one owner; bytes from anywhere else are ignored. At most 16
 * slabs are kept for reuse [FRAME-1].
 */
export function releaseOutput(bytes: Uint8Array): void {
  const slab = slabOfBytes(bytes);
  if (slab !== undefined) release(slab, bytes.length);
}

/**
 * Gives back a body from `allocateOutput` (a response, or a settled call's
 * request) once copied into its frame. Anything else is left alone: a raw
 * handler's own bytes may be frames the exported encoders cut from this
 * pool, which their owner keeps [FRAME-1].
 */
export function releaseOutputBody(bytes: Uint8Array): void {
  const slab = slabOfBytes(bytes);
  if (slab !== undefined && slab.bodies) release(slab, bytes.length);
}

/** Whether `bytes` were cut from this pool, so that releasing them may free a slab for reuse [FRAME-1]. */
export function isOutput(bytes: Uint8Array): boolean {
  return slabOfBytes(bytes) !== undefined;
}

/** How many spare slabs wait for reuse, for tests of the pool's bound and accounting [FRAME-1]. */
export function outputPoolState(): { spares: number } {
  return { spares: spares.length };
}
