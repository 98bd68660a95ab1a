// The seam between the core server and a runtime's handler isolation: the
// server hands an isolated service to a pool starter and runs calls through
// the pool it gets back. The package root ("strata-rpc") passes the
// worker-thread pool of Node, Bun and Deno; the core has none of its own.

import type { QueueingContext } from "../handler-context.ts";
import type { IsolationStats } from "../server-stats.ts";

/** What starting a pool for one isolated service takes (see Server.addIsolatedService) [STATUS-4]. */
export interface IsolationPoolStart {
  /** The handler module (its URL, e.g. `new URL("./handlers.ts", import.meta.url).href`). */
  readonly module: string;
  /** The fully-qualified name of the service the module defines. */
  readonly service: string;
  /** Workers in the pool, each running one call at a time. */
  readonly workers: number;
  /** How long a handler may run on after its signal fired before its worker is terminated. */
  readonly terminateGraceMs: number;
  /** Calls that may wait for a free worker; more are refused OVERLOADED, not processed. */
  readonly maxQueued: number;
  /** The longest a handler may run, deadline or not, before it is told to stop (then terminated after the grace); Infinity: no bound. */
  readonly maxRunMs: number;
  /** The worker's first module, when a bundle moved it from beside the pool's code. */
  readonly workerEntry?: string | undefined;
}

/** A running pool, as the server uses it: the methods it implements, running a call, its counters, closing [STATUS-4]. */
export interface IsolationPool {
  readonly methods: readonly string[];
  run(method: string, input: unknown, context: QueueingContext): Promise<unknown>;
  stats(): IsolationStats;
  close(): Promise<void>;
}

/** Starts a pool; rejects when the module does not load [STATUS-4]. */
export type StartIsolationPool = (options: IsolationPoolStart) => Promise<IsolationPool>;
