// `strata bench ADDRESS pkg.Service/Method`: a load test with ghz's flags —
// connections, calls in flight, total calls or duration, target rate,
// payload from JSON or a size — a live progress line on stderr, and a
// summary as text, --json or an --html report.
import { writeFileSync } from "node:fs";
import { create, type DescMessage, type FileRegistry, type Message } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { callOptions, dynamicClient, requestFor, type CallFlags } from "./call-command.ts";
import { ADDRESS_HELP, connectionFlagsOf, type ConnectionFlags } from "./connection-flags.ts";
import { collect, parseCount, parseDuration } from "./flag-values.ts";
import { loadSchemas, type SchemaFlags } from "./schema-flags.ts";
import { CommandFailure } from "./command-failure.ts";
import { exitCodeFor } from "./exit-codes.ts";
import { RpcError } from "../node.ts";
import { findMethod } from "./schemas.ts";
import { runLoad } from "./bench/load-run.ts";
import { formatSummary, htmlReport, progressLine, summarize } from "./bench/bench-report.ts";

/** A request whose first bytes or string field holds `size` bytes: the payload of --payload-size. */
export function sizedRequest(input: DescMessage, size: number): Message {
  const field = input.fields.find((f) => f.fieldKind === "scalar" && (f.scalar === 9 || f.scalar === 12));
  if (field === undefined) throw new Error(`--payload-size needs a bytes or string field in ${input.typeName}; give the request with -d instead`);
  const value = field.fieldKind === "scalar" && field.scalar === 12 ? new Uint8Array(size).fill(0x61) : "a".repeat(size);
  return create(input, { [field.localName]: value } as never);
}

/** The bench flags after parsing. */
interface BenchFlags extends CallFlags, SchemaFlags {
  connections: number;
  concurrency: number;
  total: number | undefined;
  duration: number | undefined;
  rps: number | undefined;
  payloadSize: number | undefined;
  json: boolean;
  html: string | undefined;
}

/** Runs the benchmark; returns the exit code: 0, or 1 when any call failed [STATUS-1]. */
async function runBench(address: string, methodName: string, flags: BenchFlags, connection: ConnectionFlags, registry: FileRegistry): Promise<number> {
  const { service, method } = findMethod(registry, methodName);
  const request = flags.payloadSize !== undefined ? sizedRequest(method.input, flags.payloadSize) : requestFor(method, flags.data, registry);
  const clients = Array.from({ length: flags.connections }, () => dynamicClient(service, connection));
  const local = method.localName;
  const total = flags.total ?? (flags.duration === undefined ? 10_000 : undefined);
  const live = process.stderr.isTTY === true;
  process.stderr.write(`bench ${methodName} at ${address}: ${flags.connections} connection(s), ${flags.concurrency} in flight, ${total !== undefined ? `${total} calls` : `${flags.duration! / 1000} s`}${flags.rps !== undefined ? `, ${flags.rps}/s` : ""}\n`);
  try {
    // One call per connection first, so that connecting is not measured; any answer
    // from the server will do (the run counts failures), a transport failure ends the run.
    await Promise.all(
      clients.map((c) =>
        c[local]!(request, { timeoutMs: connection.timeoutMs }).catch((error: unknown) => {
          if (RpcError.is(error) && error.layer !== "transport") return;
          throw RpcError.is(error) ? new CommandFailure(`could not reach ${address}: ${error.message} (processed: ${error.processed})`, exitCodeFor(error)) : error;
        }),
      ),
    );
    const result = await runLoad(
      { concurrency: flags.concurrency, total, durationMs: flags.duration, rate: flags.rps, options: callOptions(flags) },
      clients.length,
      (index, options) => clients[index]![local]!(request, options),
      (sofar) => process.stderr.write(live ? `\r${progressLine(sofar)}\x1b[K` : `${progressLine(sofar)}\n`),
    );
    if (live) process.stderr.write("\n");
    const summary = summarize(result, address, methodName, flags.connections, flags.concurrency);
    process.stdout.write(`${flags.json ? JSON.stringify(summary, null, 2) : formatSummary(summary)}\n`);
    if (flags.html !== undefined) {
      writeFileSync(flags.html, htmlReport(summary));
      process.stderr.write(`report: ${flags.html}\n`);
    }
    return result.errors.size === 0 ? 0 : 1;
  } finally {
    await Promise.all(clients.map((c) => c.$close()));
  }
}

type Wrap = (command: Command) => Command;

/** Adds `bench` to the program, with the shared connection and schema flags. */
export function addBenchCommand(program: Command, withConnection: Wrap, withSchemas: Wrap, guarded: (body: () => Promise<number>) => Promise<void>): void {
  const count = (flag: string, min = 1) => (value: string) => parseCount(value, flag, min);
  withSchemas(
    withConnection(
      program
        .command("bench")
        .description("load-test a method: throughput, latency percentiles and histogram, errors by layer")
        .argument("<address>", ADDRESS_HELP)
        .argument("<method>", "package.Service/Method")
        .option("-d, --data <json>", "the request as JSON; @file reads a file, @- reads stdin (default {})", "{}")
        .option("--payload-size <bytes>", "instead of -d: the first bytes or string field filled with this many bytes", count("--payload-size", 0))
        .option("-H, --header <key: value>", "a metadata entry on every call; repeatable", collect, [])
        .option("--keys <keys>", "keys for keyed dispatch on every call, comma-separated", collect, [])
        .option("--connections <n>", "connections to open (default 1)", count("--connections"), 1)
        .option("-c, --concurrency <n>", "calls in flight at once, across the connections (default 50)", count("--concurrency"), 50)
        .option("-n, --total <n>", "calls to make (default 10000 unless --duration)", count("--total"))
        .option("-z, --duration <duration>", "run for this long instead, e.g. 10s", (v: string) => parseDuration(v, "--duration"))
        .option("--rps <n>", "calls started per second at most", count("--rps"))
        .option("--json", "print the summary as JSON", false)
        .option("--html <file>", "write an HTML report with the latency histogram and throughput over time"),
    ),
  ).action(async (address: string, method: string, options: Record<string, unknown>) => {
    await guarded(async () => {
      const connection = connectionFlagsOf(address, options);
      if (options["total"] !== undefined && options["duration"] !== undefined) throw new Error("--total and --duration both say when to stop; give one");
      const registry = await loadSchemas(options as unknown as SchemaFlags, connection);
      const flags = { ...connection, ...(options as object), oneway: false, acked: false } as unknown as BenchFlags;
      return runBench(address, method, flags, connection, registry);
    });
  });
}
