// `npm run bench:keyed`: what keyed dispatch costs and how a hot key
// behaves. The server runs in a child process (bench/keyed-server.ts); this
// process drives one connection with 100 calls in flight and reports
// calls/s and latency per scenario, as a ratio against the unkeyed run of
// the same handler in the same run. A benchmark, not a test: it asserts
// nothing about time. `--smoke` runs each scenario briefly, to show it works.
// `npm run bench` runs it too, as one part of the whole harness.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createClient, type CallOptions, type Client } from "../src/node.ts";
import { tcpTransport } from "../src/transport/tcp.ts";
import { runtimeCommand, runtimeName } from "./runtime.ts";
import { ConformanceService } from "../conformance/gen/strata/conformance/v1/conformance_pb.ts";

const IN_FLIGHT = 100;

interface Scenario {
  name: string;
  /** The handler's hold, in ms: 0 measures dispatch overhead, 1 makes serialization visible. */
  holdMs: number;
  /** Keys of the i-th call; empty for unkeyed calls. */
  keys(i: number): string[];
  /** Which calls are "hot", reported separately. */
  hot?(i: number): boolean;
}

const random = (n: number) => `uid=${Math.floor(Math.random() * n)}`;
const scenarios: Scenario[] = [
  { name: "unkeyed", holdMs: 0, keys: () => [] },
  { name: "1 key of 10,000 per call", holdMs: 0, keys: () => [random(10_000)] },
  { name: "2 keys of 10,000 (transfer)", holdMs: 0, keys: () => [random(10_000), random(10_000)] },
  { name: "one hot key for every call", holdMs: 0, keys: () => ["uid=hot"] },
  { name: "unkeyed, 1 ms handler", holdMs: 1, keys: () => [] },
  { name: "1 key of 10,000, 1 ms handler", holdMs: 1, keys: () => [random(10_000)] },
  { name: "one hot key, 1 ms handler", holdMs: 1, keys: () => ["uid=hot"] },
  {
    name: "10% on a hot key, 1 ms handler",
    holdMs: 1,
    keys: (i) => (i % 10 === 0 ? ["uid=hot"] : [random(10_000)]),
    hot: (i) => i % 10 === 0,
  },
];

interface Measured {
  calls: number;
  seconds: number;
  latencies: number[];
  hotLatencies: number[];
}

async function measure(client: Client<typeof ConformanceService.method>, scenario: Scenario, seconds: number): Promise<Measured> {
  const latencies: number[] = [];
  const hotLatencies: number[] = [];
  let issued = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  const lane = async () => {
    while (performance.now() < until) {
      const i = issued++;
      const keys = scenario.keys(i);
      const options: CallOptions = keys.length === 0 ? {} : { keys };
      const t = performance.now();
      await client.echo({ delayMs: scenario.holdMs }, options);
      (scenario.hot?.(i) ? hotLatencies : latencies).push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return { calls: latencies.length + hotLatencies.length, seconds: (performance.now() - started) / 1000, latencies, hotLatencies };
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** One scenario's figures. */
export interface KeyedRow {
  scenario: string;
  callsPerSecond: number;
  /** calls/s over the unkeyed run with the same handler, measured in the same run. */
  vsUnkeyed: number;
  p50Ms: number;
  p99Ms: number;
  hotP50Ms?: number;
  hotP99Ms?: number;
}

/** Runs every scenario against a fresh server process; `seconds` per scenario. */
export async function keyedBenchmark(seconds: number): Promise<KeyedRow[]> {
  const { command, args } = runtimeCommand(new URL("./keyed-server.ts", import.meta.url).pathname);
  const server = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const address = await new Promise<string>((resolve, reject) => {
      server.once("exit", (code) => reject(new Error(`the benchmark server exited with code ${code}`)));
      createInterface({ input: server.stdout! }).once("line", resolve);
    });
    const client = createClient(ConformanceService, { address, transport: tcpTransport });
    await measure(client, { name: "warm-up", holdMs: 0, keys: (i) => (i % 2 === 0 ? [] : [random(100)]) }, Math.min(seconds, 1));
    const rows: KeyedRow[] = [];
    const anchors = new Map<number, number>();
    for (const scenario of scenarios) {
      const m = await measure(client, scenario, seconds);
      const rate = m.calls / m.seconds;
      if (scenario.keys(0).length === 0) anchors.set(scenario.holdMs, rate);
      rows.push({
        scenario: scenario.name,
        callsPerSecond: rate,
        vsUnkeyed: rate / anchors.get(scenario.holdMs)!,
        p50Ms: percentile(m.latencies, 0.5),
        p99Ms: percentile(m.latencies, 0.99),
        ...(scenario.hot === undefined ? {} : { hotP50Ms: percentile(m.hotLatencies, 0.5), hotP99Ms: percentile(m.hotLatencies, 0.99) }),
      });
    }
    await client.$close();
    return rows;
  } finally {
    server.kill("SIGTERM");
  }
}

/** The rows as a Markdown table. */
export function keyedTable(rows: KeyedRow[]): string {
  const lines = ["| Scenario | calls/s | vs unkeyed | p50 ms | p99 ms | hot p50 ms | hot p99 ms |", "|---|---|---|---|---|---|---|"];
  const ms = (v: number | undefined) => (v === undefined ? "" : v.toFixed(2));
  for (const r of rows) {
    lines.push(`| ${r.scenario} | ${Math.round(r.callsPerSecond).toLocaleString("en")} | ${r.vsUnkeyed.toFixed(2)}x | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${ms(r.hotP50Ms)} | ${ms(r.hotP99Ms)} |`);
  }
  return lines.join("\n");
}

if (process.argv[1]?.endsWith("keyed.ts")) {
  const smoke = process.argv.includes("--smoke");
  const seconds = smoke ? 0.3 : 3;
  console.log(`keyed dispatch, ${IN_FLIGHT} calls in flight on one connection, ${seconds} s per scenario, ${runtimeName()}`);
  console.log(keyedTable(await keyedBenchmark(seconds)));
}
