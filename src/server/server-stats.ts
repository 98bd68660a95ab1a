// Counters a running server keeps, in the spirit of swoole's server->stats:
// connections, requests, and per-method counts and latency histograms.

import type { KeyDispatch, KeySchedulerStats } from "./key-scheduler.ts";

/** Upper bounds of the latency buckets, in milliseconds; the last bucket is unbounded. */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/**
 * The one stats entry for every request that names no method the server
 * offers, so that clients cannot grow the stats by inventing names [EXT-9].
 */
export const UNOFFERED_METHODS = "*";

/** Counts and latencies of one method. */
export interface MethodStats {
  /** Requests that ran the handler. */
  calls: number;
  /** Of those, how many ended in an application or dispatch error. */
  errors: number;
  /** Requests refused before the handler ran (not processed), by dispatch code name. */
  rejected: Record<string, number>;
  /** Count per latency bucket: `latencyBuckets[i]` counts latencies <= LATENCY_BUCKETS_MS[i]; the last entry counts the rest. */
  latencyBuckets: number[];
  /** Sum of handler latencies in milliseconds, for the mean. */
  latencySumMs: number;
}

/** A snapshot of a server's counters. */
export interface ServerStats {
  startedAt: string;
  /**
   * `refused`: closed at accept, their client having too many open [SEC-4];
   * `lingering`: closed with oneway requests still to start, and kept until none of their requests is in progress [DRAIN-15].
   */
  connections: { current: number; accepted: number; closed: number; refused: number; lingering: number };
  requests: { total: number; inFlight: number };
  /** By offered "service/method"; requests naming anything else are counted under UNOFFERED_METHODS ("*") [EXT-9]. */
  methods: Record<string, MethodStats>;
  /** The key queues: depth of the busiest keys and wait times; undefined without keyed dispatch [KEYS-8]. */
  keys: KeySchedulerStats | undefined;
  /** Worker pools of isolated services, by service name. */
  isolation: Record<string, IsolationStats>;
}

/** A worker pool's counters (Server.addIsolatedService). */
export interface IsolationStats {
  /** Workers loaded and alive. */
  workers: number;
  /** Of those, the ones running a call. */
  busy: number;
  /** Calls waiting for a free worker. */
  queued: number;
  /** Workers that died (and were replaced) since the start. */
  crashes: number;
}

/** The mutable counters behind `server.stats()`. */
export class StatsCollector {
  private readonly startedAt = new Date().toISOString();
  connectionsCurrent = 0;
  connectionsAccepted = 0;
  connectionsClosed = 0;
  connectionsLingering = 0;
  /** Connections closed at accept because their client had too many open [SEC-4]. */
  connectionsRefused = 0;
  requestsTotal = 0;
  requestsInFlight = 0;
  private readonly methods = new Map<string, MethodStats>();
  private readonly keys: KeyDispatch | undefined;
  /** The worker pools' stats, by service name. */
  readonly pools = new Map<string, () => IsolationStats>();

  constructor(keys?: KeyDispatch) {
    this.keys = keys;
  }

  private method(name: string): MethodStats {
    let stats = this.methods.get(name);
    if (stats === undefined) {
      stats = { calls: 0, errors: 0, rejected: {}, latencyBuckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0), latencySumMs: 0 };
      this.methods.set(name, stats);
    }
    return stats;
  }

  /** Records a handler run of `name` (an offered "service/method") that took `ms` [EXT-8]. */
  recordCall(name: string, ms: number, failed: boolean): void {
    const stats = this.method(name);
    stats.calls++;
    if (failed) stats.errors++;
    stats.latencySumMs += ms;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[bucket]!) bucket++;
    stats.latencyBuckets[bucket]!++;
  }

  /** Records a request refused with a not-processed dispatch code; `name` is an offered method or UNOFFERED_METHODS [EXT-9]. */
  recordRejected(name: string, code: string): void {
    const rejected = this.method(name).rejected;
    rejected[code] = (rejected[code] ?? 0) + 1;
  }

  /** A copy of every counter. */
  snapshot(): ServerStats {
    const methods: Record<string, MethodStats> = {};
    for (const [name, stats] of this.methods) {
      methods[name] = { ...stats, rejected: { ...stats.rejected }, latencyBuckets: [...stats.latencyBuckets] };
    }
    return {
      startedAt: this.startedAt,
      connections: { current: this.connectionsCurrent, accepted: this.connectionsAccepted, closed: this.connectionsClosed, refused: this.connectionsRefused, lingering: this.connectionsLingering },
      requests: { total: this.requestsTotal, inFlight: this.requestsInFlight },
      methods,
      keys: this.keys?.stats(),
      isolation: Object.fromEntries([...this.pools].map(([name, stats]) => [name, stats()])),
    };
  }
}
