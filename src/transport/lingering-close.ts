// How a peer closes after its last frames so that they survive [FRAME-18]:
// end the write side, keep reading (and discarding) until the peer ends too
// or the linger time passes, then destroy. A policy of the protocol, built
// on the transport's end() and destroy(); the connection that calls it
// ignores what arrives meanwhile.

import type { Transport } from "./transport.ts";
import { setTimer } from "../util/timer.ts";

/** How long a closing peer reads and discards input at most (the spec asks for at least 1 s) [FRAME-18]. */
export const LINGER_MS = 2000;

/**
 * Ends `transport`'s write side and resumes reading; destroys it after
 * `lingerMs` in any case, which does nothing to a stream that the peer's
 * EOF has closed meanwhile [FRAME-18].
 */
export function lingeringClose(transport: Transport, lingerMs: number = LINGER_MS): void {
  transport.end();
  // Input must flow to be discarded: a paused stream would hold the peer's bytes and reset.
  transport.resume?.();
  setTimer(() => transport.destroy(), lingerMs, { keepAlive: false });
}
