// `npm run bench:cluster`: what a cluster client costs against a client of
// one address, and how it spreads the load. Three Strata echo servers run as
// child processes (bench/cluster-server.ts) on 127.0.0.1; this process
// keeps 1 or 100 calls in flight, closed loop, for each of four clients:
//   one address     a client of server 1 (the anchor)
//   cluster [1]     a cluster client over server 1 only: the router's overhead
//   cluster p2c     a cluster client over all three, power of two choices
//   cluster rr      a cluster client over all three, round robin
// The four take turns (A/B/C/D, the first one rotating each round) for a few
// rounds, so that they share the machine's conditions; each server counts
// the requests it received, which shows the spread.
//
//   npm run bench:cluster [-- --seconds S] [--rounds R] [--json] [--smoke]
//
// A benchmark, not a test: it asserts nothing about time. `--smoke` runs it
// briefly, to show it works; `--json` prints the figures as JSON instead of
// the tables.
import { createClient, type Client } from "../src/node.ts";
import { tcpTransport } from "../src/transport/tcp.ts";
import { BenchService } from "../test/gen/stratatest/v1/testing_pb.ts";
import { runtimeName } from "./runtime.ts";
import { closedLoop } from "./closed-loop.ts";
import { benchOptions } from "./options.ts";
import { startServerProcess, type ServerProcess } from "./server-process.ts";

const options = benchOptions(["smoke", "json"], ["seconds", "rounds"]);
const smoke = options.flag("smoke");
const json = options.flag("json");
const SECONDS = options.number("seconds", smoke ? 0.2 : 3);
const ROUNDS = options.number("rounds", smoke ? 1 : 3);
const IN_FLIGHT = [1, 100];
const SERVERS = 3;
const PAYLOAD = new Uint8Array(64).fill(0x61);

/** How many requests the server process has received so far. */
const requests = async (server: ServerProcess) => (await server.ask<{ requests: number }>("stats")).requests;

type Echo = Client<typeof BenchService.method>;

/** The clients compared; each is made once and warmed before measuring. */
const TARGETS = [
  { name: "one address", make: (a: string[]) => createClient(BenchService, { address: a[0]!, transport: tcpTransport }) },
  { name: "cluster [1]", make: (a: string[]) => createClient(BenchService, { endpoints: [a[0]!], transport: tcpTransport, cluster: { policy: "p2c" } }) },
  { name: "cluster p2c", make: (a: string[]) => createClient(BenchService, { endpoints: a, transport: tcpTransport, cluster: { policy: "p2c" } }) },
  { name: "cluster rr", make: (a: string[]) => createClient(BenchService, { endpoints: a, transport: tcpTransport, cluster: { policy: "round-robin" } }) },
] as const;
type TargetName = (typeof TARGETS)[number]["name"];

/** One target's turn: its calls, how long it took, the latencies, and each server's share. */
interface Turn {
  calls: number;
  seconds: number;
  latencies: Float64Array;
  perServer: number[];
}

/** Keeps `inFlight` calls going on `client` for `seconds`. */
async function measure(client: Echo, inFlight: number, seconds: number): Promise<Omit<Turn, "perServer">> {
  const loop = await closedLoop(() => client.benchEcho({ payload: PAYLOAD }), inFlight, seconds);
  return { ...loop, latencies: loop.latencies.slice() };
}

/** A target's figures at one number of calls in flight, over every round. */
export interface ClusterRow {
  target: TargetName;
  inFlight: number;
  /** Calls/s of each round. */
  callsPerSecondByRound: number[];
  /** The median of the rounds. */
  callsPerSecond: number;
  /** The median over the rounds of calls/s against the client of one address in the same round. */
  vsOneAddress: number;
  /** Over every call of every round. */
  p50Ms: number;
  p99Ms: number;
  /** Requests each server received from this target, over every round. */
  callsPerServer: number[];
  /** The busiest server's share over the idlest one's, among the servers the target may use. */
  maxOverMin: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Runs every round against three fresh server processes, stopped at the end whatever happens. */
export async function clusterBenchmark(seconds: number, rounds: number): Promise<ClusterRow[]> {
  const started = await Promise.allSettled(Array.from({ length: SERVERS }, () => startServerProcess("./cluster-server.ts")));
  const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const clients: Echo[] = [];
  try {
    const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    const addresses = servers.map((s) => s.address);
    for (const target of TARGETS) clients.push(target.make(addresses));
    // Warm-up: every client opens its connections, and the code is compiled, before anything counts.
    for (const client of clients) await measure(client, 10, Math.min(seconds, 1));
    const turns = new Map<string, Turn[]>();
    for (let round = 0; round < rounds; round++) {
      for (const inFlight of IN_FLIGHT) {
        for (let i = 0; i < TARGETS.length; i++) {
          const t = (i + round) % TARGETS.length;
          const before = await Promise.all(servers.map((s) => requests(s)));
          const m = await measure(clients[t]!, inFlight, seconds);
          const after = await Promise.all(servers.map((s) => requests(s)));
          const key = `${t}/${inFlight}`;
          turns.set(key, [...(turns.get(key) ?? []), { ...m, perServer: after.map((n, s) => n - before[s]!) }]);
          if (!json) process.stderr.write(".");
        }
      }
    }
    if (!json) process.stderr.write("\n");
    const rows: ClusterRow[] = [];
    for (const inFlight of IN_FLIGHT) {
      const anchor = turns.get(`0/${inFlight}`)!.map((turn) => turn.calls / turn.seconds);
      TARGETS.forEach((target, t) => {
        const list = turns.get(`${t}/${inFlight}`)!;
        const byRound = list.map((turn) => turn.calls / turn.seconds);
        const all = new Float64Array(list.reduce((n, turn) => n + turn.latencies.length, 0));
        let at = 0;
        for (const turn of list) {
          all.set(turn.latencies, at);
          at += turn.latencies.length;
        }
        all.sort();
        const quantile = (q: number) => all[Math.min(all.length - 1, Math.floor(q * all.length))] ?? NaN;
        const callsPerServer = servers.map((_, s) => list.reduce((n, turn) => n + turn.perServer[s]!, 0));
        const used = target.name === "one address" || target.name === "cluster [1]" ? callsPerServer.slice(0, 1) : callsPerServer;
        rows.push({
          target: target.name,
          inFlight,
          callsPerSecondByRound: byRound,
          callsPerSecond: median(byRound),
          vsOneAddress: median(byRound.map((rate, r) => rate / anchor[r]!)),
          p50Ms: quantile(0.5),
          p99Ms: quantile(0.99),
          callsPerServer,
          maxOverMin: Math.max(...used) / Math.min(...used),
        });
      });
    }
    return rows;
  } finally {
    await Promise.allSettled(clients.map((c) => c.$close()));
    await Promise.allSettled(servers.map((s) => s.stop()));
  }
}

/** The rows as Markdown tables: throughput and latency, then the spread. */
export function clusterTables(rows: ClusterRow[]): string {
  const rate = (v: number) => Math.round(v).toLocaleString("en");
  const lines = [
    "| Client | In flight | calls/s (median) | calls/s by round | vs one address | p50 ms | p99 ms |",
    "|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.target} | ${r.inFlight} | ${rate(r.callsPerSecond)} | ${r.callsPerSecondByRound.map(rate).join(", ")} | ${r.vsOneAddress.toFixed(2)}x | ${r.p50Ms.toFixed(3)} | ${r.p99Ms.toFixed(3)} |`),
    "",
    "| Client | In flight | calls on server 1, 2, 3 | max / min |",
    "|---|---|---|---|",
    ...rows.map((r) => `| ${r.target} | ${r.inFlight} | ${r.callsPerServer.map(rate).join(", ")} | ${r.maxOverMin.toFixed(3)} |`),
  ];
  return lines.join("\n");
}

const began = new Date();
const rows = await clusterBenchmark(SECONDS, ROUNDS);
if (json) {
  console.log(JSON.stringify({ runtime: runtimeName(), startedAt: began.toISOString(), smoke, secondsPerTurn: SECONDS, rounds: ROUNDS, rows }, null, 2));
} else {
  console.log(`# Cluster client, ${runtimeName()}, ${began.toISOString()}${smoke ? " (smoke run: figures are meaningless)" : ""}`);
  console.log(`${SERVERS} server processes on 127.0.0.1, 64 B BenchEcho, ${ROUNDS} rounds of ${SECONDS} s per client and number in flight, taking turns.\n`);
  console.log(clusterTables(rows));
}
