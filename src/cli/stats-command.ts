// `strata stats ADDRESS`: the server's counters from its admin service
// [EXT-7], as a short table or, with --json, as the service returns them.
import { createRegistry, toJsonString } from "@bufbuild/protobuf";
import { createClient, RpcError } from "../node.ts";
import { AdminService, GetStatsResponseSchema, type GetStatsResponse } from "../gen/strata/admin/v1/admin_pb.ts";
import type { ConnectionFlags } from "./connection-flags.ts";
import { exitCodeFor } from "./exit-codes.ts";
import { describeError } from "./error-output.ts";

/** Mean latency of a method from the admin service's sum and call count. */
function meanMs(sum: number, calls: bigint): string {
  return calls === 0n ? "-" : (sum / Number(calls)).toFixed(2);
}

/** The stats as a few lines for a person. */
export function formatStats(stats: GetStatsResponse): string {
  const lines = [
    `started ${stats.startedAt}`,
    `connections: ${stats.connectionsCurrent} open, ${stats.connectionsAccepted} accepted, ${stats.connectionsClosed} closed`,
    `requests: ${stats.requestsTotal} total, ${stats.requestsInFlight} in flight`,
  ];
  if (stats.keys !== undefined) {
    const k = stats.keys;
    lines.push(`keys: ${k.activeKeys} active, ${k.running} running, ${k.waiting} waiting, ${k.rejected} rejected; wait p50 ${k.waitP50Ms.toFixed(2)} ms, p99 ${k.waitP99Ms.toFixed(2)} ms`);
  }
  if (stats.methods.length > 0) {
    const width = Math.max(6, ...stats.methods.map((m) => m.method.length));
    lines.push(`${"method".padEnd(width)}  ${"calls".padStart(10)}  ${"errors".padStart(8)}  ${"mean ms".padStart(9)}  rejected`);
    for (const m of stats.methods) {
      const rejected = Object.entries(m.rejected).map(([code, n]) => `${code}=${n}`).join(" ");
      lines.push(`${m.method.padEnd(width)}  ${String(m.calls).padStart(10)}  ${String(m.errors).padStart(8)}  ${meanMs(m.latencySumMs, m.calls).padStart(9)}  ${rejected}`);
    }
  }
  return lines.join("\n");
}

/** Asks the server for its stats and prints them; returns the exit code [EXT-7]. */
export async function runStats(flags: ConnectionFlags, json: boolean): Promise<number> {
  const client = createClient(AdminService, flags.clientOptions());
  try {
    const stats = await client.getStats({});
    process.stdout.write(`${json ? toJsonString(GetStatsResponseSchema, stats, { prettySpaces: 2 }) : formatStats(stats)}\n`);
    return 0;
  } catch (error) {
    if (!RpcError.is(error)) throw error;
    const hint = error.layer === "dispatch" && error.code === "UNKNOWN_SERVICE" ? "\n  (the server does not offer strata.admin.v1.AdminService: start it with exposeAdminService: true)" : "";
    process.stderr.write(`${describeError(error, createRegistry())}${hint}\n`);
    return exitCodeFor(error);
  } finally {
    await client.$close();
  }
}
