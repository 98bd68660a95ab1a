// `npm run bench`: the whole benchmark harness. Every figure is paired with
// anchors measured in the same run, because machines here are shared and
// noisy: a raw node:net length-prefixed echo (the least work per call, so
// the ceiling for any RPC on this runtime and machine) and @grpc/grpc-js
// unary echo. Servers run in child processes on 127.0.0.1, on the same
// runtime as this harness; every phase is bounded in time. Prints Markdown
// tables and writes the figures as JSON.
//
//   npm run bench [-- --seconds S] [--idle N] [--out FILE] [--smoke]
//
// A benchmark, not a test: it asserts nothing about time. `--smoke` runs
// every phase briefly, to show it works.
import { mkdirSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { createClient } from "../src/node.ts";
import { BenchService } from "../test/gen/stratatest/v1/testing_pb.ts";
import { HEADER_BYTES, measureHeaderCodec } from "./codec.ts";
import type { Driver } from "./drivers/driver.ts";
import { grpcDriver } from "./drivers/grpc.ts";
import { rawDriver } from "./drivers/raw.ts";
import { strataDriver } from "./drivers/strata.ts";
import { keyedBenchmark, keyedTable, type KeyedRow } from "./keyed.ts";
import { tcpTransport } from "../src/transport/tcp.ts";
import { runtimeName } from "./runtime.ts";
import { closedLoop } from "./closed-loop.ts";
import { benchOptions } from "./options.ts";
import { startServerProcess } from "./server-process.ts";

const options = benchOptions(["smoke"], ["seconds", "idle"], ["out"]);
const smoke = options.flag("smoke");
const SECONDS = options.number("seconds", smoke ? 0.2 : 2);
const IDLE_CONNECTIONS = options.number("idle", smoke ? 200 : 10_000);
const OUT = options.string("out") ?? new URL(`./results/${runtimeName().split(" ")[0]!.toLowerCase()}.json`, import.meta.url).pathname;
const RESULTS_DIR = OUT.slice(0, OUT.lastIndexOf("/") + 1);
const IN_FLIGHT = [1, 10, 100];
const PAYLOADS = [64, 4096, 65536];

/** A benchmark server child process and its stdin control (servers/control.ts). */
interface ServerProcess {
  readonly address: string;
  /** Heap and RSS after a full garbage collection, in bytes. */
  memory(): Promise<{ heapUsed: number; rss: number }>;
  stop(): Promise<void>;
}

async function startServer(file: string): Promise<ServerProcess> {
  const server = await startServerProcess(file);
  return { address: server.address, memory: () => server.ask("mem"), stop: () => server.stop() };
}

/** calls/s and latency of one target in one scenario. */
interface Figures {
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Keeps `inFlight` calls going on one connection for `seconds`; closed loop. */
async function measure(driver: Driver, inFlight: number, payloadSize: number, seconds: number): Promise<Figures> {
  const payload = new Uint8Array(payloadSize).fill(0x61);
  const loop = await closedLoop(() => driver.call(payload), inFlight, seconds);
  const sorted = loop.latencies.sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { callsPerSecond: loop.calls / loop.seconds, p50Ms: at(0.5), p99Ms: at(0.99) };
}

const TARGETS = [
  { name: "raw", server: "./servers/raw-echo.ts", connect: rawDriver },
  { name: "strata", server: "./servers/strata-echo.ts", connect: strataDriver },
  { name: "grpc-js", server: "./servers/grpc-echo.ts", connect: grpcDriver },
] as const;
type TargetName = (typeof TARGETS)[number]["name"];

interface UnaryRow {
  inFlight: number;
  payloadBytes: number;
  figures: Record<TargetName, Figures>;
}

/** Every scenario on every target, the three targets back to back per scenario so anchors share conditions. */
async function unaryPhase(): Promise<UnaryRow[]> {
  const started = await Promise.all(TARGETS.map(async (t) => ({ target: t, server: await startServer(t.server) })));
  const drivers = await Promise.all(started.map(async ({ target, server }) => ({ name: target.name, driver: await target.connect(server.address) })));
  try {
    for (const { driver } of drivers) await measure(driver, 10, 64, Math.min(SECONDS, 1)); // warm-up
    const rows: UnaryRow[] = [];
    for (const inFlight of IN_FLIGHT) {
      for (const payloadBytes of PAYLOADS) {
        const figures = {} as Record<TargetName, Figures>;
        for (const { name, driver } of drivers) figures[name] = await measure(driver, inFlight, payloadBytes, SECONDS);
        rows.push({ inFlight, payloadBytes, figures });
        process.stderr.write(".");
      }
    }
    process.stderr.write("\n");
    return rows;
  } finally {
    for (const { driver } of drivers) await driver.close();
    await Promise.all(started.map(({ server }) => server.stop()));
  }
}

interface IdleRow {
  target: string;
  connections: number;
  heapBytesPerConnection: number;
  rssBytesPerConnection: number;
}

/**
 * Holds `count` idle connections open against a fresh server and measures
 * the server's heap and RSS per connection. Strata clients keep heartbeats
 * going (PING every 5 s by default); the hold covers at least one round.
 */
async function idlePhase(name: string, serverFile: string, open: (address: string) => Promise<() => Promise<void> | void>): Promise<IdleRow> {
  const server = await startServer(serverFile);
  const closers: Array<() => Promise<void> | void> = [];
  try {
    // A warm connection first, so one-time costs (code, caches) are in the baseline.
    closers.push(await open(server.address));
    const before = await server.memory();
    for (let i = 1; i < IDLE_CONNECTIONS; i += 250) {
      const batch = Math.min(250, IDLE_CONNECTIONS - i);
      closers.push(...(await Promise.all(Array.from({ length: batch }, () => open(server.address)))));
    }
    await new Promise((resolve) => setTimeout(resolve, smoke ? 200 : 6000));
    const after = await server.memory();
    const n = IDLE_CONNECTIONS - 1;
    return {
      target: name,
      connections: IDLE_CONNECTIONS,
      heapBytesPerConnection: (after.heapUsed - before.heapUsed) / n,
      rssBytesPerConnection: (after.rss - before.rss) / n,
    };
  } finally {
    for (let i = 0; i < closers.length; i += 500) await Promise.all(closers.slice(i, i + 500).map((close) => close()));
    await server.stop();
  }
}

const openStrata = async (address: string) => {
  const client = createClient(BenchService, { address, transport: tcpTransport });
  await client.benchEcho({}, { timeoutMs: 30_000 });
  return () => client.$close();
};
const openRaw = async (address: string) => {
  const colon = address.lastIndexOf(":");
  const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return () => void socket.destroy();
};

const ms = (v: number) => v.toFixed(2);
const rate = (v: number) => Math.round(v).toLocaleString("en");
const size = (bytes: number) => (bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`);

const began = new Date();
console.log(`# Strata benchmark, ${runtimeName()}, ${began.toISOString()}${smoke ? " (smoke run: figures are meaningless)" : ""}`);
console.log(`${SECONDS} s per scenario; client and each server in separate processes on 127.0.0.1.\n`);

// Measured before any network phase, in a fresh process: after the unary phase the
// same loops run up to twice as slow here, from the garbage collector's state, not the codec.
const codec = measureHeaderCodec(smoke);
console.log(`## Header codec (${HEADER_BYTES}-byte request header) and body codec (64 B payload)\n`);
console.log("| Case | ns/op |\n|---|---|");
for (const [name, ns] of Object.entries(codec)) console.log(`| ${name} | ${ns.toFixed(0)} |`);
console.log(`\nhand encode+decode is ${(codec["protobuf-es encode+decode"]! / codec["hand encode+decode"]!).toFixed(1)}x faster than protobuf-es in this run.`);
console.log(
  `The body codec is ${(codec["body protobuf-es toBinary(create())"]! / codec["body encodeMessage (64 B payload)"]!).toFixed(1)}x (encode) and ` +
    `${(codec["body protobuf-es fromBinary"]! / codec["body decodeMessage"]!).toFixed(1)}x (decode) faster than protobuf-es.`,
);

const unary = await unaryPhase();
console.log("\n## Unary calls on one connection\n");
console.log("| In flight | Payload | raw calls/s | strata calls/s | grpc-js calls/s | strata / raw | strata / grpc-js | strata p50 ms | strata p99 ms | raw p99 ms | grpc-js p99 ms |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const { inFlight, payloadBytes, figures: f } of unary) {
  console.log(
    `| ${inFlight} | ${size(payloadBytes)} | ${rate(f.raw.callsPerSecond)} | ${rate(f.strata.callsPerSecond)} | ${rate(f["grpc-js"].callsPerSecond)} | ` +
      `${(f.strata.callsPerSecond / f.raw.callsPerSecond).toFixed(2)}x | ${(f.strata.callsPerSecond / f["grpc-js"].callsPerSecond).toFixed(1)}x | ` +
      `${ms(f.strata.p50Ms)} | ${ms(f.strata.p99Ms)} | ${ms(f.raw.p99Ms)} | ${ms(f["grpc-js"].p99Ms)} |`,
  );
}

const idle = [await idlePhase("raw", "./servers/raw-echo.ts", openRaw), await idlePhase("strata", "./servers/strata-echo.ts", openStrata)];
console.log(`\n## Idle connections (${IDLE_CONNECTIONS} held open; Strata clients send heartbeats)\n`);
console.log("| Server | heap per connection | RSS per connection |\n|---|---|---|");
for (const row of idle) console.log(`| ${row.target} | ${(row.heapBytesPerConnection / 1024).toFixed(2)} KiB | ${(row.rssBytesPerConnection / 1024).toFixed(2)} KiB |`);

const keyed: KeyedRow[] = await keyedBenchmark(smoke ? 0.2 : Math.max(1, SECONDS));
console.log("\n## Keyed dispatch (100 in flight, one connection)\n");
console.log(keyedTable(keyed));

mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(OUT, `${JSON.stringify({ runtime: runtimeName(), startedAt: began.toISOString(), smoke, secondsPerScenario: SECONDS, unary, codecNsPerOp: codec, idle, keyed }, null, 2)}\n`);
console.log(`\nFigures written to ${OUT}`);
