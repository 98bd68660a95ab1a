// Which WebSocket server serves better on Bun and on Deno: the `ws`
// package's (bench/servers/raw-ws-echo.ts) or the runtime's own
// (bun-ws-echo.ts: Bun.serve; deno-ws-echo.ts: Deno.serve with
// Deno.upgradeWebSocket), each echoing every binary message, measured in one
// run on the runtime that runs this script (npm run bench:websocket-servers
// runs it on both). Servers in child processes on 127.0.0.1, one client
// connection each (the same client for both: the one Strata's client uses
// there, Bun's own WebSocket and `ws` on Deno, whose own WebSocket stalls
// on Nagle's algorithm; `--client runtime` or `--client ws` to choose), 1 and 100
// messages in flight, 64 B and 4 KiB, the two servers taking turns for several
// rounds so that a slow moment of the shared machine hits both. Besides
// messages/s, each server's CPU time per message (user + system, read from
// the server process before and after its turn): what the server itself
// spends, which other work on the machine disturbs less than throughput.
//
// A benchmark, not a test: it asserts nothing about time. `--smoke` runs it
// briefly, to show it works; `--json` prints the figures as JSON.
import { closedLoop } from "./closed-loop.ts";
import type { Driver } from "./drivers/driver.ts";
import { rawWebSocketDriver } from "./drivers/raw-ws.ts";
import { runtimeWebSocketDriver } from "./drivers/runtime-ws.ts";
import { benchOptions } from "./options.ts";
import { runtimeName } from "./runtime.ts";
import { serverCpuMicros, startServerProcess, type ServerProcess } from "./server-process.ts";

const options = benchOptions(["smoke", "json"], ["seconds", "rounds"], ["client"]);
const smoke = options.flag("smoke");
const SECONDS = options.number("seconds", smoke ? 0.2 : 2);
const ROUNDS = options.number("rounds", smoke ? 1 : 5);
const CLIENT = options.string("client") ?? ((globalThis as { Deno?: unknown }).Deno !== undefined ? "ws" : "runtime");
if (CLIENT !== "runtime" && CLIENT !== "ws") throw new Error(`--client takes runtime or ws, got ${JSON.stringify(CLIENT)}`);
const connect = CLIENT === "ws" ? rawWebSocketDriver : runtimeWebSocketDriver;
const IN_FLIGHT = [1, 100];
const PAYLOADS = [64, 4096];

const g = globalThis as { Bun?: unknown; Deno?: unknown };
const nativeServer = g.Bun !== undefined ? "./servers/bun-ws-echo.ts" : g.Deno !== undefined ? "./servers/deno-ws-echo.ts" : undefined;
if (nativeServer === undefined) throw new Error("run this on Bun or Deno (npm run bench:websocket-servers): Node has no WebSocket server of its own");
const SIDES = [
  { name: "ws", server: "./servers/raw-ws-echo.ts" },
  { name: "native", server: nativeServer },
];

/** One row: a number in flight and a payload, each side's messages/s and server CPU µs per message, per round. */
interface Row {
  inFlight: number;
  payloadBytes: number;
  ws: number[];
  native: number[];
  wsCpuUs: number[];
  nativeCpuUs: number[];
}


const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function measure(): Promise<Row[]> {
  const servers: ServerProcess[] = [];
  const drivers: Driver[] = [];
  try {
    for (const side of SIDES) servers.push(await startServerProcess(side.server));
    for (const server of servers) drivers.push(await connect(server.address));
    for (const driver of drivers) await closedLoop(() => driver.call(new Uint8Array(64)), 10, Math.min(SECONDS, 1)); // warm-up
    const rows: Row[] = [];
    for (const inFlight of IN_FLIGHT) {
      for (const payloadBytes of PAYLOADS) {
        const payload = new Uint8Array(payloadBytes).fill(0x61);
        const figures: number[][] = [[], []];
        const cpu: number[][] = [[], []];
        for (let round = 0; round < ROUNDS; round++) {
          // Alternate which side goes first, so neither always follows the other's garbage.
          const order = round % 2 === 0 ? [0, 1] : [1, 0];
          for (const i of order) {
            const before = await serverCpuMicros(servers[i]!);
            const loop = await closedLoop(() => drivers[i]!.call(payload), inFlight, SECONDS);
            cpu[i]!.push(((await serverCpuMicros(servers[i]!)) - before) / loop.calls);
            figures[i]!.push(loop.calls / loop.seconds);
          }
        }
        rows.push({ inFlight, payloadBytes, ws: figures[0]!, native: figures[1]!, wsCpuUs: cpu[0]!, nativeCpuUs: cpu[1]! });
        process.stderr.write(".");
      }
    }
    return rows;
  } finally {
    for (const driver of drivers) await driver.close();
    await Promise.all(servers.map((s) => s.stop()));
  }
}

const rows = await measure();
process.stderr.write("\n");
if (options.flag("json")) {
  console.log(JSON.stringify({ runtime: runtimeName(), at: new Date().toISOString(), client: CLIENT, seconds: SECONDS, rounds: ROUNDS, rows }, null, 2));
} else {
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  console.log(`# The ws package's WebSocket server against ${runtimeName()}'s own, ${new Date().toISOString()}${smoke ? " (smoke run: figures are meaningless)" : ""}`);
  console.log(`Echo servers in child processes on 127.0.0.1, one ${CLIENT === "ws" ? "ws" : "runtime WebSocket"} client connection each, ${ROUNDS} rounds of ${SECONDS} s per server, taking turns.\n`);
  console.log("| In flight | Payload | ws msg/s | native msg/s | native / ws | by round | ws server CPU µs/msg | native server CPU µs/msg | native / ws CPU | by round |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const row of rows) {
    const ratios = row.native.map((s, i) => (s / row.ws[i]!).toFixed(2)).join(", ");
    const cpuRatios = row.nativeCpuUs.map((c, i) => (c / row.wsCpuUs[i]!).toFixed(2)).join(", ");
    const payload = row.payloadBytes < 1024 ? `${row.payloadBytes} B` : `${row.payloadBytes / 1024} KiB`;
    const us = (x: number) => x.toFixed(1);
    console.log(
      `| ${row.inFlight} | ${payload} | ${n(median(row.ws))} | ${n(median(row.native))} | ${(median(row.native) / median(row.ws)).toFixed(2)}x | ${ratios} ` +
        `| ${us(median(row.wsCpuUs))} | ${us(median(row.nativeCpuUs))} | ${(median(row.nativeCpuUs) / median(row.wsCpuUs)).toFixed(2)}x | ${cpuRatios} |`,
    );
  }
}
