import { allocateBytes } from "./byte-pool.ts";
import { commitSlab, MAX_IN_PLACE, slabOffset, writableSlab } from "./output-pool.ts";
import { copyFromScratch, headerSize, writeHeader, writeHeaderToScratch } from "./header-codec.ts";
import type { FrameHeaderInit } from "./frame-header.ts";

const EMPTY = new Uint8Array(0);
/** Free slab space wanted for a frame's size prefix and header, besides its body; larger headers fall back to a copy. */
const MIN_FREE = 1024;

/** Writes the 4-byte header size, big-endian whatever the host's byte order [FRAME-1]. */
function writeSizePrefix(size: number, buf: Uint8Array, pos: number): void {
  buf[pos] = size >>> 24;
  buf[pos + 1] = (size >>> 16) & 0xff;
  buf[pos + 2] = (size >>> 8) & 0xff;
  buf[pos + 3] = size & 0xff;
}

/**
 * Returns the number of bytes `encodeFrame(header, body)` produces: the
 * 4-byte header size, the header and the body [FRAME-1].
 */
export function frameSize(header: FrameHeaderInit, body: Uint8Array = EMPTY): number {
  return 4 + headerSize(header, body.length) + body.length;
}

/**
 * Writes one frame at `pos` in `buf` (which must have room for
 * `frameSize(header, body)` bytes) and returns the position after it. The
 * header's body size is taken from `body`. Implements [FRAME-1] [FRAME-2].
 */
export function writeFrame(header: FrameHeaderInit, body: Uint8Array, buf: Uint8Array, pos: number): number {
  const bodySize = body.length;
  const start = pos;
  const end = writeHeader(header, bodySize, buf, pos + 4);
  writeSizePrefix(end - start - 4, buf, start);
  if (bodySize > 0) buf.set(body, end);
  return end + bodySize;
}

/** Encodes one frame into a new buffer: header size, header, body [FRAME-1]. */
export function encodeFrame(header: FrameHeaderInit, body: Uint8Array = EMPTY): Uint8Array {
  const bodySize = body.length;
  // Common case: write the frame in place into the output slab, no copy.
  if (bodySize < MAX_IN_PLACE) {
    const slab = writableSlab(MIN_FREE + bodySize);
    const start = slabOffset();
    const headerEnd = writeHeader(header, bodySize, slab, start + 4);
    const end = headerEnd + bodySize;
    if (end <= slab.length && end - start <= MAX_IN_PLACE) {
      writeSizePrefix(headerEnd - start - 4, slab, start);
      if (bodySize > 0) slab.set(body, headerEnd);
      return commitSlab(end - start);
    }
  }
  const size = writeHeaderToScratch(header, bodySize);
  const buf = allocateBytes(4 + size + bodySize);
  writeSizePrefix(size, buf, 0);
  copyFromScratch(buf, 4, size);
  if (bodySize > 0) buf.set(body, 4 + size);
  return buf;
}

/**
 * Bodies at least this large (8 KiB) are written after their frame's head
 * instead of being copied into one buffer: the largest frame written in
 * place, so that every body cut from the output pool is copied [FRAME-1].
 */
export const SEPARATE_BODY_BYTES = MAX_IN_PLACE;

/**
 * Encodes a frame's size prefix and header, declaring a body of `bodySize`
 * bytes that the caller writes right after it, uncopied [FRAME-1] [FRAME-2].
 */
export function encodeFrameHead(header: FrameHeaderInit, bodySize: number): Uint8Array {
  const slab = writableSlab(MIN_FREE);
  const start = slabOffset();
  const headerEnd = writeHeader(header, bodySize, slab, start + 4);
  if (headerEnd <= slab.length && headerEnd - start <= MAX_IN_PLACE) {
    writeSizePrefix(headerEnd - start - 4, slab, start);
    return commitSlab(headerEnd - start);
  }
  const size = writeHeaderToScratch(header, bodySize);
  const buf = allocateBytes(4 + size);
  writeSizePrefix(size, buf, 0);
  copyFromScratch(buf, 4, size);
  return buf;
}

/**
 * Encodes several frames into one contiguous buffer, so that frames produced
 * together leave in one write [FRAME-13].
 */
export function encodeFrames(frames: ReadonlyArray<{ header: FrameHeaderInit; body?: Uint8Array }>): Uint8Array {
  let total = 0;
  for (const frame of frames) total += frameSize(frame.header, frame.body);
  const buf = allocateBytes(total);
  let pos = 0;
  for (const frame of frames) pos = writeFrame(frame.header, frame.body ?? EMPTY, buf, pos);
  return buf;
}
