// The rules of a request's header that both peers apply: the client before
// it writes, the server when it admits. Written once here so that what a
// client refuses to send and what a server refuses to run cannot differ.

import type { FrameLimits } from "./limits.ts";

/** A metadata key: 1 to 128 characters of a-z, 0-9, ".", "_" and "-" [META-2]. */
export const METADATA_KEY = /^[a-z0-9._-]{1,128}$/;

/** At most this many keys per request [KEYS-1]. */
export const MAX_KEYS = 16;
/** Each key is 1 to this many bytes of UTF-8 [KEYS-1]. */
export const MAX_KEY_BYTES = 256;

/** The Hello feature of a server that takes method references [REF-1]. */
export const METHOD_REFS_FEATURE = "method-refs";
/** Method references are 1 to this; a server keeps at most this many bindings per connection [REF-2]. */
export const MAX_METHOD_REF = 256;
/**
 * Bytes of names bound on one connection, all bindings together: a server may
 * decline a binding past them [REF-2], so a client binds no more [REF-5]. The
 * reference server counts UTF-16 units against it, never more than the UTF-8
 * bytes they encode to, so it declines nothing within the bound.
 */
export const MAX_BOUND_NAME_BYTES = 65536;

const utf8 = new TextEncoder();

/** Why `keys` break [KEYS-1] (0 to 16 keys, each 1 to 256 bytes of UTF-8), or undefined when they do not. */
export function keysProblem(keys: readonly unknown[]): string | undefined {
  if (keys.length > MAX_KEYS) return `at most ${MAX_KEYS} keys, got ${keys.length} [KEYS-1]`;
  for (const key of keys) {
    if (typeof key !== "string") return `keys must be strings, got ${typeof key} [KEYS-1]`;
    // At most 3 bytes per UTF-16 unit: most keys need no encoding to be measured.
    const size = key.length * 3 <= MAX_KEY_BYTES ? key.length : utf8.encode(key).length;
    if (size < 1 || size > MAX_KEY_BYTES) return `each key must be 1 to ${MAX_KEY_BYTES} bytes of UTF-8, got ${size} bytes [KEYS-1]`;
  }
  return undefined;
}

/**
 * The timeout_ms to write for a deadline `remainingMs` away: never rounded down to 0 [DEADLINE-5],
 * capped at the uint32 maximum [DEADLINE-7], and absent for a call with no deadline [DEADLINE-9].
 */
export function timeoutField(remainingMs: number): number | undefined {
  return remainingMs === Infinity ? undefined : Math.min(Math.ceil(remainingMs), 0xffffffff);
}

/** Whether a frame with a header of `headerSize` and a body of `bodySize` bytes is more than a receiver with `limits` accepts [LIMIT-2] [LIMIT-3]. */
export function exceedsLimits(limits: FrameLimits, headerSize: number, bodySize: number): boolean {
  return bodySize > limits.maxBodySize || headerSize > limits.maxHeaderSize;
}
