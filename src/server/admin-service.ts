// The built-in strata.admin.v1.AdminService: the server's stats through an
// ordinary call [EXT-7] [EXT-8].

import { AdminService } from "../gen/strata/admin/v1/admin_pb.ts";
import type { ServiceRegistry } from "./service-registry.ts";
import { LATENCY_BUCKETS_MS, type ServerStats } from "./server-stats.ts";

/** Registers AdminService, answering GetStats from `stats` [EXT-8]. */
export function addAdminService(registry: ServiceRegistry, stats: () => ServerStats): void {
  registry.addBuiltinService(AdminService, {
    getStats: () => {
      const snapshot = stats();
      return {
        startedAt: snapshot.startedAt,
        connectionsCurrent: BigInt(snapshot.connections.current),
        connectionsAccepted: BigInt(snapshot.connections.accepted),
        connectionsClosed: BigInt(snapshot.connections.closed),
        requestsTotal: BigInt(snapshot.requests.total),
        requestsInFlight: BigInt(snapshot.requests.inFlight),
        latencyBucketBoundsMs: [...LATENCY_BUCKETS_MS],
        methods: Object.entries(snapshot.methods).map(([method, m]) => ({
          method,
          calls: BigInt(m.calls),
          errors: BigInt(m.errors),
          rejected: Object.fromEntries(Object.entries(m.rejected).map(([code, n]) => [code, BigInt(n)])),
          latencyBuckets: m.latencyBuckets.map((n) => BigInt(n)),
          latencySumMs: m.latencySumMs,
        })),
        ...(snapshot.keys === undefined
          ? {}
          : {
              keys: {
                activeKeys: BigInt(snapshot.keys.activeKeys),
                waiting: BigInt(snapshot.keys.waiting),
                running: BigInt(snapshot.keys.running),
                rejected: BigInt(snapshot.keys.rejected),
                busiestKeys: snapshot.keys.busiestKeys.map(({ key, depth }) => ({ key, depth: BigInt(depth) })),
                granted: BigInt(snapshot.keys.wait.count),
                waitMeanMs: snapshot.keys.wait.meanMs,
                waitP50Ms: snapshot.keys.wait.p50Ms,
                waitP99Ms: snapshot.keys.wait.p99Ms,
                waitMaxMs: snapshot.keys.wait.maxMs,
              },
            }),
      };
    },
  });
}
