// Memory for a call's request body, which the call keeps until it settles:
// a request not processed may be written again on another connection.

import { allocateBytes } from "../wire/byte-pool.ts";
import { allocateOutput, releaseOutputBody } from "../wire/output-pool.ts";

/**
 * Bodies from this size on come from the output pool and go back once their
 * call settles; smaller ones are cut from the byte pool and dropped. Giving a
 * body back means finding its slab by the view's buffer (about 15 ns on
 * Node), while a share of a fresh byte-pool slab costs about 0.05 ns a byte:
 * the two cross near 400 bytes.
 */
const POOLED_FROM = 512;

/** Returns `size` bytes for a request body the encoder fills completely [FRAME-1]. */
export function allocateRequestBody(size: number): Uint8Array {
  return size >= POOLED_FROM ? allocateOutput(size) : allocateBytes(size);
}

/**
 * Gives back a settled call's request body, which was copied into its frame
 * when written and is written no more; one the output pool did not make is
 * left alone [FRAME-1].
 */
export function releaseRequestBody(body: Uint8Array): void {
  if (body.length >= POOLED_FROM) releaseOutputBody(body);
}
