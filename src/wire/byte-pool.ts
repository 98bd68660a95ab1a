// Allocation of small byte buffers. V8 keeps typed arrays of up to 64 bytes
// on the JS heap, but gives larger ones a separate backing store, which
// costs about 20x more. Like Node's Buffer pool, buffers between those sizes
// are carved out of shared 64 KiB slabs instead. A slab is never reused: it
// is freed once no view into it is left, so a long-lived view pins at most
// one slab.

const SLAB_SIZE = 64 * 1024;
/** Larger buffers get their own backing store. */
const MAX_POOLED = SLAB_SIZE / 8;
/** V8's limit for typed arrays kept on the heap. */
const MAX_ON_HEAP = 64;

let slab = new ArrayBuffer(SLAB_SIZE);
let slabView = new Uint8Array(slab);
let offset = 0;

function newSlab(): void {
  slab = new ArrayBuffer(SLAB_SIZE);
  slabView = new Uint8Array(slab);
  offset = 0;
}

/**
 * Returns a zero-filled buffer of `size` bytes, from a shared slab when
 * that is cheaper than a buffer of its own. Supports [LIMIT-6]: sizes are
 * checked against limits before this is called.
 */
export function allocateBytes(size: number): Uint8Array {
  if (size <= MAX_ON_HEAP || size > MAX_POOLED) return new Uint8Array(size);
  if (offset + size > SLAB_SIZE) newSlab();
  const bytes = new Uint8Array(slab, offset, size);
  offset = (offset + size + 7) & ~7; // keep views 8-byte aligned
  return bytes;
}

/** The largest size written in place into a slab by `writableSlab`. */
export const MAX_IN_PLACE = MAX_POOLED;

/**
 * Returns a view of the whole current slab, with at least `minFree` bytes
 * free from `slabOffset()` on, for an encoder that writes a buffer of not
 * yet known size in place and then calls `commitSlab` (saves a copy).
 */
export function writableSlab(minFree: number): Uint8Array {
  if (offset + minFree > SLAB_SIZE) newSlab();
  return slabView;
}

/** Where the free space of the current slab starts. */
export function slabOffset(): number {
  return offset;
}

/** Hands out `size` bytes written in place from `slabOffset()` on. */
export function commitSlab(size: number): Uint8Array {
  const bytes = new Uint8Array(slab, offset, size);
  offset = (offset + size + 7) & ~7;
  return bytes;
}

/** Zeroes bytes written in place and then not committed, so buffers handed out stay zero-filled. */
export function abandonSlab(end: number): void {
  slabView.fill(0, offset, Math.min(end, SLAB_SIZE));
}
