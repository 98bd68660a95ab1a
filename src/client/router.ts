// The routing seam of the client: every call asks a Router for the
// connection it is written on, tells it which connections it already failed
// on when it is retried, and asks it whether a failure may be retried at
// all. One address is one Router (single-address-router.ts); a cluster over
// many endpoints is another (src/cluster/cluster-router.ts).

import type { RpcError } from "../status/index.ts";
import type { CallConnection, RequestHead } from "./call-ticket.ts";

/** What a router knows about a call when it chooses its connection: keys are what keyed routing hashes [KEYS-9] [CLUSTER-7]. */
export type CallRoute = Readonly<RequestHead>;

/** The connections a call has failed on, oldest first: a retry avoids them [CLUSTER-4]. */
export type FailedOn = readonly CallConnection[] | undefined;

/** Chooses the connection of each call [KEYS-9] [DRAIN-3]. */
export interface Router {
  /**
   * Why this router can send `route` nowhere (e.g. keys that no one server
   * owns), checked once before the call starts; undefined when it can [CLUSTER-7].
   */
  refusal?(route: CallRoute): string | undefined;
  /**
   * A connection that can take `route` now, other than those in `avoid`;
   * undefined when the caller must wait for one (connect). No promise: the
   * common case.
   */
  pick(route: CallRoute, avoid: FailedOn): CallConnection | undefined;
  /**
   * Waits for a connection that can take `route`, other than `avoid`'s, no
   * longer than `deadline` (performance.now() clock) and until `signal`
   * fires; rejects with an RpcError that is not processed. Unless
   * `waitForReady` is true, it rejects as soon as an attempt to connect
   * fails, with that attempt's error [HELLO-9].
   */
  connect(route: CallRoute, deadline: number, signal: AbortSignal | undefined, avoid: FailedOn, waitForReady?: boolean): Promise<CallConnection>;
  /**
   * Hears that the `attempts`-th attempt of a call failed on `connection`
   * (undefined: before one was chosen) and says whether the call may try
   * again, spending from the retry budget when it may; the call has checked
   * its deadline and signal [STATUS-3] [CLUSTER-4] [CLUSTER-5].
   */
  retry(error: RpcError, attempts: number, route: CallRoute, idempotent: boolean, connection: CallConnection | undefined): boolean;
  /** Stops routing; open connections close once their calls are answered [DRAIN-9]. */
  close(): Promise<void>;
}
