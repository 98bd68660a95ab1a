// What a request waiting for its keys counts toward the server's bound on
// such requests, all connections together and closed ones too [KEYS-11].

import type { FrameHeader } from "../wire/index.ts";
import type { ConnectionHost } from "./connection-host.ts";
import type { ServerCall } from "./server-call.ts";

/** What a request waiting for its keys costs beyond its body, metadata and keys (its header, call and closures). */
const WAITING_REQUEST_BYTES = 512;

/** What each of its keys costs beyond the key's characters: its place in the key's queue, and the queue when it is the key's only request. */
const WAITING_KEY_BYTES = 256;

/** Bytes a key's characters may take per UTF-16 unit: two in a two-byte string, twice over for the queue table's own copy. */
const KEY_BYTES_PER_UNIT = 4;

/**
 * Counts `call`, which waits for its keys, toward the server's bound: its
 * body, its metadata, its keys and what is kept for it; false when over the bound.
 * Its metadata values, views into the read they came in, are copied, so
 * that a waiting request keeps no more than it counts [KEYS-11].
 */
export function holdWhileWaiting(host: ConnectionHost, header: FrameHeader, body: Uint8Array, call: ServerCall): boolean {
  let cost = body.length + WAITING_REQUEST_BYTES;
  for (const entry of header.metadata) cost += entry.key.length + entry.value.length;
  for (const key of header.keys) cost += WAITING_KEY_BYTES + KEY_BYTES_PER_UNIT * key.length;
  if (!host.holdKeyWaiting(cost)) return false;
  call.waitingBytes = cost;
  if (header.metadata.length > 0) header.metadata = header.metadata.map((entry) => ({ key: entry.key, value: entry.value.slice() }));
  return true;
}

/** `call` no longer waits for its keys (it starts, or leaves): it stops counting toward the bound; a no-op if it never did [KEYS-11]. */
export function stopWaiting(host: ConnectionHost, call: ServerCall): void {
  if (call.waitingBytes === 0) return;
  host.holdKeyWaiting(-call.waitingBytes);
  call.waitingBytes = 0;
}

/** `bytes` in a buffer of their own: a copy when they are a view into a larger one [KEYS-11]. */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}
