// The routing seam of the client: every call asks a Router for the
// connection it is written on, and tells it which connection to avoid when
// it is retried. One address is one Router (single-address-router.ts); a
// pool over many endpoints is another, behind the same interface.

import type { CallConnection, RequestHead } from "./call-ticket.ts";

/** What a router knows about a call when it chooses its connection: keys are what keyed routing hashes [KEYS-9]. */
export type CallRoute = Readonly<RequestHead>;

/** Chooses the connection of each call [KEYS-9] [DRAIN-3]. */
export interface Router {
  /**
   * A connection that can take `route` now, other than `avoid`; undefined
   * when the caller must wait for one (connect). No promise: the common case.
   */
  pick(route: CallRoute, avoid: CallConnection | undefined): CallConnection | undefined;
  /**
   * Waits for a connection that can take `route`, other than `avoid`, no
   * longer than `deadline` (performance.now() clock) and until `signal`
   * fires; rejects with an RpcError that is not processed. Unless
   * `waitForReady` is true, it rejects as soon as an attempt to connect
   * fails, with that attempt's error [HELLO-9].
   */
  connect(route: CallRoute, deadline: number, signal: AbortSignal | undefined, avoid: CallConnection | undefined, waitForReady?: boolean): Promise<CallConnection>;
  /** Stops routing; open connections close once their calls are answered [DRAIN-9]. */
  close(): Promise<void>;
}
