// What a request that waits to start counts toward the server's bounds on
// such requests, all connections together and closed ones too: requests
// waiting for their keys [KEYS-11], and compressed requests waiting to be
// decompressed [COMP-11]. What a request counts is what it keeps: its body
// and metadata are copied out of the read they came in, which a view would
// keep alive whole.

import type { FrameHeader } from "../wire/index.ts";
import type { ServerCall } from "./server-call.ts";

/** What a waiting request costs beyond its body, metadata and keys (its header, call and closures). */
const WAITING_REQUEST_BYTES = 512;

/** What each of its keys costs beyond the key's characters: its place in the key's queue, and the queue when it is the key's only request. */
const WAITING_KEY_BYTES = 256;

/** What a request waiting to be decompressed costs beyond that: its task in its connection's queue, its promises and closures (some 2 KiB measured in all). */
const QUEUED_DECOMPRESSION_BYTES = 2048;

/**
 * What a connection costs while requests of it wait: they keep it alive past its end [DRAIN-15], and a
 * closed TCP connection kept so took some 10 KiB when measured (its socket, decoder, pipeline and timers).
 */
const WAITING_CONNECTION_BYTES = 12 * 1024;

/** Bytes a key's characters may take per UTF-16 unit: two in a two-byte string, twice over for the queue table's own copy. */
const KEY_BYTES_PER_UNIT = 4;

/** What a waiting request keeps beside its body: its header with its metadata and keys, its call [KEYS-11] [COMP-11]. */
function headerBytes(header: FrameHeader): number {
  let cost = WAITING_REQUEST_BYTES;
  for (const entry of header.metadata) cost += entry.key.length + entry.value.length;
  for (const key of header.keys) cost += WAITING_KEY_BYTES + KEY_BYTES_PER_UNIT * key.length;
  return cost;
}

/** Copies the metadata values of `header`, views into the read they came in, so that a waiting request keeps only what it counts. */
function ownMetadata(header: FrameHeader): void {
  if (header.metadata.length > 0) header.metadata = header.metadata.map((entry) => ({ key: entry.key, value: ownBytes(entry.value) }));
}

/**
 * The requests of one connection that wait to start in one way (for keys,
 * or to be decompressed): the first of them also counts the connection,
 * which they keep alive, toward the same bound, until none is left
 * [KEYS-11] [COMP-11] [DRAIN-15].
 */
export class ConnectionWaiting {
  private waiting = 0;
  /** The bound: takes a change in bytes, false when an increase would pass it. */
  private readonly bound: (delta: number) => boolean;

  constructor(bound: (delta: number) => boolean) {
    this.bound = bound;
  }

  /** Counts `cost`, and the connection if nothing of it counted yet; false when over the bound. */
  hold(cost: number): boolean {
    const connection = this.waiting === 0 ? WAITING_CONNECTION_BYTES : 0;
    if (!this.bound(cost + connection)) return false;
    this.waiting++;
    return true;
  }

  /** Stops counting `cost`, and the connection once no request of it waits so. */
  release(cost: number): void {
    this.bound(--this.waiting === 0 ? -cost - WAITING_CONNECTION_BYTES : -cost);
  }
}

/**
 * Counts `call`, which waits for its keys, toward the server's bound: its
 * body, its header and what is kept for it; false when over the bound.
 * Its metadata values are copied out of the read [KEYS-11].
 */
export function holdWhileWaiting(connection: ConnectionWaiting, header: FrameHeader, body: Uint8Array, call: ServerCall): boolean {
  const cost = body.length + headerBytes(header);
  if (!connection.hold(cost)) return false;
  call.waitingBytes = cost;
  ownMetadata(header);
  return true;
}

/** `call` no longer waits for its keys (it starts, or leaves): it stops counting toward the bound; a no-op if it never did [KEYS-11]. */
export function stopWaiting(connection: ConnectionWaiting, call: ServerCall): void {
  if (call.waitingBytes === 0) return;
  connection.release(call.waitingBytes);
  call.waitingBytes = 0;
}

/**
 * Counts `call`, whose compressed body waits to be decompressed, toward the
 * server's bound: the body, the `inflatedSize` it will decompress to at
 * most, and its header; false when over the bound. Its metadata values are
 * copied out of the read; the caller keeps a body of its own [COMP-11].
 */
export function holdWhileCompressed(connection: ConnectionWaiting, header: FrameHeader, body: Uint8Array, inflatedSize: number, call: ServerCall): boolean {
  const cost = body.length + inflatedSize + headerBytes(header) + QUEUED_DECOMPRESSION_BYTES;
  if (!connection.hold(cost)) return false;
  call.decompressingBytes = cost;
  ownMetadata(header);
  return true;
}

/** `call` is decompressed, or gone: it stops counting toward the bound; a no-op if it never did [COMP-11]. */
export function stopCompressed(connection: ConnectionWaiting, call: ServerCall): void {
  if (call.decompressingBytes === 0) return;
  connection.release(call.decompressingBytes);
  call.decompressingBytes = 0;
}

/** `bytes` in a buffer of their own: a copy when they are a view into a larger one [KEYS-11] [COMP-11]. */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}
