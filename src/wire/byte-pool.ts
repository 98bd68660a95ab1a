// Allocation of small byte buffers. V8 keeps typed arrays of up to 64 bytes
// on the JS heap, but gives larger ones a separate backing store, which
// costs about 20x more. Like Node's Buffer pool, buffers between those sizes
// are carved out of shared 64 KiB slabs instead. A slab is never reused: it
// is freed once no view into it is left, so a long-lived view pins at most
// one slab. Outgoing frames come from the output pool (output-pool.ts).

const SLAB_SIZE = 64 * 1024;
/** Larger buffers get their own backing store. */
const MAX_POOLED = SLAB_SIZE / 8;
/** V8's limit for typed arrays kept on the heap. */
const MAX_ON_HEAP = 64;

let slab = new ArrayBuffer(SLAB_SIZE);
let offset = 0;

function newSlab(): void {
  slab = new ArrayBuffer(SLAB_SIZE);
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
