import type { MetadataEntry } from "../wire/index.ts";
import type { ConnectionInfo } from "../transport/index.ts";
import type { ContextValues } from "../util/context-values.ts";

/**
 * What a handler knows about the request it serves: its id, metadata, keys,
 * deadline and an AbortSignal that fires on deadline, CANCEL or disconnect
 * [DEADLINE-4] [CANCEL-2] [DRAIN-9].
 */
export interface HandlerContext {
  readonly requestId: number;
  readonly service: string;
  readonly method: string;
  /** Request metadata, in the order sent, duplicates kept [META-1]. */
  readonly metadata: readonly MetadataEntry[];
  /** Ordering keys of the request [KEYS-1]. */
  readonly keys: readonly string[];
  /** The peer's address, e.g. "127.0.0.1:53012" (the same as connection.peer). */
  readonly peer: string;
  /** The connection the request came on: peer address, whether it is secure, negotiated protocol, peer certificate. */
  readonly connection: ConnectionInfo;
  /** Fires when the handler should stop: deadline passed, CANCEL, connection gone. */
  readonly signal: AbortSignal;
  /** Milliseconds until the deadline (0 when passed), or undefined without one [DEADLINE-2]. */
  remainingMs(): number | undefined;
  /**
   * Values that interceptors passed along, by typed key (see
   * createContextKey). In an isolated service's worker the bag starts empty:
   * values do not cross threads.
   */
  readonly values: ContextValues;
  /** Metadata to send with the response; the handler may append to it [META-1]. */
  readonly responseMetadata: MetadataEntry[];
  /**
   * Asks the connection this request came on to drain once this request is
   * answered: GOAWAY(NO_ERROR), then close after at most `graceMs` [DRAIN-2].
   * Other connections are not affected.
   */
  drainConnection(graceMs: number): void;
}

/**
 * The context of a handler that queues its calls before it runs them (a
 * worker pool): it tells the server when each call leaves its queue, so a
 * call that never left it is answered as not processed [DEADLINE-3] [STATUS-6].
 */
export interface QueueingContext extends HandlerContext {
  /**
   * The call leaves the queue and starts now; false when it must not start
   * (its deadline has passed, or it was cancelled or removed), and then the
   * server has answered it and the handler must not run it.
   */
  begin(): boolean;
}

/** Returns the first value of metadata key `key` as text, or undefined [META-1]. */
export function metadataText(metadata: readonly MetadataEntry[], key: string): string | undefined {
  const entry = metadata.find((e) => e.key === key);
  return entry === undefined ? undefined : new TextDecoder().decode(entry.value);
}

/**
 * `entries`, when a plain-JavaScript handler assigns them as its response
 * metadata (typed code only appends); anything but an array is refused with
 * a TypeError, which fails the handler [META-1].
 */
export function checkedResponseMetadata(entries: unknown): MetadataEntry[] {
  if (!Array.isArray(entries)) throw new TypeError(`responseMetadata must be an array of { key, value } entries, got ${entries === null ? "null" : typeof entries} [META-1]`);
  return entries as MetadataEntry[];
}
