// Strata over TLS and over WebSocket, each against a raw echo of the same
// payloads on the same mapping, in one run (npm run bench:mappings): a raw
// TLS echo of length-prefixed bytes, and a `ws` server echoing each binary
// message. All servers in child processes on 127.0.0.1 (TLS with a
// certificate made for the run), one connection per client, 1 and 100
// calls in flight, 64 B and 4 KiB payloads, the two clients of a mapping
// taking turns for several rounds so that a slow moment hits both.
//
// A benchmark, not a test: it asserts nothing about time. `--smoke` runs it
// briefly, to show it works; `--json` prints the figures as JSON;
// `--only tls` or `--only websocket` runs one mapping.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testCertificates } from "../conformance/runner/certificates.ts";
import { closedLoop } from "./closed-loop.ts";
import type { Driver } from "./drivers/driver.ts";
import { rawDriver } from "./drivers/raw.ts";
import { rawWebSocketDriver } from "./drivers/raw-ws.ts";
import { strataDriver } from "./drivers/strata.ts";
import { benchOptions } from "./options.ts";
import { runtimeName } from "./runtime.ts";
import { serverCpuMicros, startServerProcess, type ServerProcess } from "./server-process.ts";

const options = benchOptions(["smoke", "json"], ["seconds", "rounds"], ["only"]);
const smoke = options.flag("smoke");
const SECONDS = options.number("seconds", smoke ? 0.2 : 2);
const ROUNDS = options.number("rounds", smoke ? 1 : 3);
const ONLY = options.string("only");
if (ONLY !== undefined && ONLY !== "tls" && ONLY !== "websocket") throw new Error(`--only takes tls or websocket, got ${JSON.stringify(ONLY)}`);
const IN_FLIGHT = [1, 100];
const PAYLOADS = [64, 4096];

/** One side of a comparison: the server to start, its arguments, and the client. */
interface Side {
  name: string;
  server: string;
  args: (certificateFile: string) => string[];
  connect: (address: string, ca: string) => Promise<Driver>;
}

const MAPPINGS: Array<{ id: "tls" | "websocket"; title: string; raw: Side; strata: Side }> = [
  {
    id: "tls",
    title: "TLS 1.3, P-256 certificate",
    raw: { name: "raw TLS", server: "./servers/raw-echo.ts", args: (file) => ["--tls", file], connect: rawDriver },
    strata: { name: "strata TLS", server: "./servers/strata-echo.ts", args: (file) => ["--tls", file], connect: strataDriver },
  },
  {
    id: "websocket",
    title: "WebSocket, ws on both ends, no compression",
    raw: { name: "raw ws", server: "./servers/raw-ws-echo.ts", args: () => [], connect: (address) => rawWebSocketDriver(address) },
    strata: { name: "strata ws", server: "./servers/strata-echo.ts", args: () => ["--websocket"], connect: (address) => strataDriver(address) },
  },
];

/** One row: a mapping, a number in flight and a payload, each side's calls/s per round, and CPU µs per call of each process. */
interface MappingRow {
  mapping: string;
  inFlight: number;
  payloadBytes: number;
  raw: number[];
  strata: number[];
  rawClientUs: number[];
  rawServerUs: number[];
  strataClientUs: number[];
  strataServerUs: number[];
}

/** This process's CPU time so far (user + system), in µs. */
function clientCpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function measureMapping(mapping: (typeof MAPPINGS)[number], certificateFile: string, ca: string): Promise<MappingRow[]> {
  const sides = [mapping.raw, mapping.strata];
  const servers: ServerProcess[] = [];
  const drivers: Driver[] = [];
  try {
    for (const side of sides) servers.push(await startServerProcess(side.server, side.args(certificateFile)));
    for (const [i, side] of sides.entries()) drivers.push(await side.connect(servers[i]!.address, ca));
    for (const driver of drivers) await closedLoop(() => driver.call(new Uint8Array(64)), 10, Math.min(SECONDS, 1)); // warm-up
    const rows: MappingRow[] = [];
    for (const inFlight of IN_FLIGHT) {
      for (const payloadBytes of PAYLOADS) {
        const payload = new Uint8Array(payloadBytes).fill(0x61);
        const figures: number[][] = [[], []];
        const clientUs: number[][] = [[], []];
        const serverUs: number[][] = [[], []];
        for (let round = 0; round < ROUNDS; round++) {
          for (const [i] of sides.entries()) {
            const serverBefore = await serverCpuMicros(servers[i]!);
            const clientBefore = clientCpuMicros();
            const loop = await closedLoop(() => drivers[i]!.call(payload), inFlight, SECONDS);
            clientUs[i]!.push((clientCpuMicros() - clientBefore) / loop.calls);
            serverUs[i]!.push(((await serverCpuMicros(servers[i]!)) - serverBefore) / loop.calls);
            figures[i]!.push(loop.calls / loop.seconds);
          }
        }
        rows.push({
          mapping: mapping.id,
          inFlight,
          payloadBytes,
          raw: figures[0]!,
          strata: figures[1]!,
          rawClientUs: clientUs[0]!,
          rawServerUs: serverUs[0]!,
          strataClientUs: clientUs[1]!,
          strataServerUs: serverUs[1]!,
        });
        process.stderr.write(".");
      }
    }
    return rows;
  } finally {
    for (const driver of drivers) await driver.close();
    await Promise.all(servers.map((s) => s.stop()));
  }
}

const certs = testCertificates();
const dir = mkdtempSync(join(tmpdir(), "strata-bench-mappings-"));
const rows: MappingRow[] = [];
try {
  const file = join(dir, "server.json");
  writeFileSync(file, JSON.stringify(certs.server));
  for (const mapping of MAPPINGS) if (ONLY === undefined || ONLY === mapping.id) rows.push(...(await measureMapping(mapping, file, certs.ca)));
  process.stderr.write("\n");
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (options.flag("json")) {
  console.log(JSON.stringify({ runtime: runtimeName(), at: new Date().toISOString(), seconds: SECONDS, rounds: ROUNDS, rows }, null, 2));
} else {
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  console.log(`# Strata over TLS and WebSocket against raw echoes, ${runtimeName()}, ${new Date().toISOString()}${smoke ? " (smoke run: figures are meaningless)" : ""}`);
  console.log(`Servers in child processes on 127.0.0.1, one connection per client, ${ROUNDS} rounds of ${SECONDS} s per client, taking turns.`);
  for (const mapping of MAPPINGS) {
    const mine = rows.filter((r) => r.mapping === mapping.id);
    if (mine.length === 0) continue;
    console.log(`\n## ${mapping.title}\n`);
    console.log(`| In flight | Payload | ${mapping.raw.name} calls/s | ${mapping.strata.name} calls/s | strata / raw | by round | CPU µs per call, raw: client + server | strata: client + server |`);
    console.log("|---|---|---|---|---|---|---|---|");
    const us = (x: number) => x.toFixed(1);
    for (const row of mine) {
      const ratios = row.strata.map((s, i) => (s / row.raw[i]!).toFixed(2)).join(", ");
      const payload = row.payloadBytes < 1024 ? `${row.payloadBytes} B` : `${row.payloadBytes / 1024} KiB`;
      const cpu = (client: number[], server: number[]) => `${us(median(client))} + ${us(median(server))}`;
      console.log(
        `| ${row.inFlight} | ${payload} | ${n(median(row.raw))} | ${n(median(row.strata))} | ${(median(row.strata) / median(row.raw)).toFixed(2)}x | ${ratios} ` +
          `| ${cpu(row.rawClientUs, row.rawServerUs)} | ${cpu(row.strataClientUs, row.strataServerUs)} |`,
      );
    }
  }
}
