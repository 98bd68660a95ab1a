// Strata over TLS against a raw TLS echo of the same bytes, in one run
// (npm run bench:tls): both servers in child processes on 127.0.0.1 with a
// certificate made for the run, one connection per client, 1 and 100 calls
// in flight, 64 B and 4 KiB payloads, the two clients taking turns for
// several rounds so that a slow moment of the machine hits both.
//
// A benchmark, not a test: it asserts nothing about time. `--smoke` runs it
// briefly, to show it works; `--json` prints the figures as JSON.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testCertificates } from "../conformance/runner/certificates.ts";
import { closedLoop } from "./closed-loop.ts";
import type { Driver } from "./drivers/driver.ts";
import { rawDriver } from "./drivers/raw.ts";
import { strataDriver } from "./drivers/strata.ts";
import { benchOptions } from "./options.ts";
import { runtimeName } from "./runtime.ts";
import { startServerProcess, type ServerProcess } from "./server-process.ts";

const options = benchOptions(["smoke", "json"], ["seconds", "rounds"]);
const smoke = options.flag("smoke");
const SECONDS = options.number("seconds", smoke ? 0.2 : 2);
const ROUNDS = options.number("rounds", smoke ? 1 : 3);
const IN_FLIGHT = [1, 100];
const PAYLOADS = [64, 4096];
const TARGETS = [
  { name: "raw TLS", server: "./servers/raw-echo.ts", connect: rawDriver },
  { name: "strata TLS", server: "./servers/strata-echo.ts", connect: strataDriver },
] as const;

/** One row: a number in flight and a payload, each target's calls/s per round. */
interface TlsRow {
  inFlight: number;
  payloadBytes: number;
  rounds: Record<string, number[]>;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<TlsRow[]> {
  const certs = testCertificates();
  const dir = mkdtempSync(join(tmpdir(), "strata-bench-tls-"));
  const servers: ServerProcess[] = [];
  const drivers: Driver[] = [];
  try {
    const file = join(dir, "server.json");
    writeFileSync(file, JSON.stringify(certs.server));
    for (const target of TARGETS) servers.push(await startServerProcess(target.server, ["--tls", file]));
    for (const [i, target] of TARGETS.entries()) drivers.push(await target.connect(servers[i]!.address, certs.ca));
    for (const driver of drivers) await closedLoop(() => driver.call(new Uint8Array(64)), 10, Math.min(SECONDS, 1)); // warm-up
    const rows: TlsRow[] = [];
    for (const inFlight of IN_FLIGHT) {
      for (const payloadBytes of PAYLOADS) {
        const payload = new Uint8Array(payloadBytes).fill(0x61);
        const rounds: Record<string, number[]> = {};
        for (let round = 0; round < ROUNDS; round++) {
          for (const [i, target] of TARGETS.entries()) {
            const loop = await closedLoop(() => drivers[i]!.call(payload), inFlight, SECONDS);
            (rounds[target.name] ??= []).push(loop.calls / loop.seconds);
          }
        }
        rows.push({ inFlight, payloadBytes, rounds });
        process.stderr.write(".");
      }
    }
    process.stderr.write("\n");
    return rows;
  } finally {
    for (const driver of drivers) await driver.close();
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = await main();
if (options.flag("json")) {
  console.log(JSON.stringify({ runtime: runtimeName(), at: new Date().toISOString(), seconds: SECONDS, rounds: ROUNDS, rows }, null, 2));
} else {
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  console.log(`# Strata over TLS against a raw TLS echo, ${runtimeName()}, ${new Date().toISOString()}${smoke ? " (smoke run: figures are meaningless)" : ""}`);
  console.log(`Both servers in child processes on 127.0.0.1, one connection each, ${ROUNDS} rounds of ${SECONDS} s per client, taking turns; TLS 1.3, P-256 certificate.\n`);
  console.log("| In flight | Payload | raw TLS calls/s | strata TLS calls/s | strata / raw | by round (strata / raw) |");
  console.log("|---|---|---|---|---|---|");
  for (const row of rows) {
    const raw = row.rounds["raw TLS"]!;
    const strata = row.rounds["strata TLS"]!;
    const ratios = strata.map((s, i) => (s / raw[i]!).toFixed(2)).join(", ");
    console.log(`| ${row.inFlight} | ${row.payloadBytes < 1024 ? `${row.payloadBytes} B` : `${row.payloadBytes / 1024} KiB`} | ${n(median(raw))} | ${n(median(strata))} | ${(median(strata) / median(raw)).toFixed(2)}x | ${ratios} |`);
  }
}
