// A benchmark client: one connection to one kind of echo server, calls
// with a payload, nothing else. Each driver keeps a single connection so
// that "N calls in flight" means N on one connection.

/** One connection to an echo server. */
export interface Driver {
  /** Sends `payload` and resolves when the echo is back. */
  call(payload: Uint8Array): Promise<unknown>;
  close(): Promise<void>;
}
