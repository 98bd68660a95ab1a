// The strata command line, run as a user runs it: a child process on this
// runtime (Node through tsx, Bun, Deno) against a real server on 127.0.0.1.
// Checks its output, its exit codes by layer and code [STATUS-1], schemas
// from reflection [EXT-10] and from .proto files, call modes [CALL-1],
// metadata [META-1], keys [KEYS-1], stats [EXT-7], TLS flags [TLS-4], and bench's summary,
// JSON and HTML report (rendered in headless Chromium where installed).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createServer, DispatchCode, tlsTransport, webSocketTransport, type Server } from "../src/node.ts";
import { certificatesProblem, testCertificates } from "../conformance/runner/certificates.ts";
import { runtimeCommand } from "./support/spawn-runtime.ts";
import { startScriptedServer } from "./support/scripted-server.ts";
import { TestService, testService } from "./support/test-service.ts";

const test = suite("strata CLI");
const root = new URL("..", import.meta.url).pathname;
const cli = join(root, "src/cli/main.ts");
const work = mkdtempSync(join(tmpdir(), "strata-cli-"));

/** What a finished `strata` run printed and how it exited. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `strata ...args` to completion (killed after `timeoutMs`), with `stdin` as its standard input. */
function strata(args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<Run> {
  const { command, args: argv } = runtimeCommand(cli, args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd: root, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const limit = options.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`strata ${args.join(" ")} still ran after ${limit} ms; stderr: ${stderr}`));
    }, limit);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? "");
  });
}

function expectExit(run: Run, code: number, what: string): void {
  assert.is(run.code, code, `${what}: exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

let server: Server;
let address: string;
/** The same TestService, without reflection: the CLI needs local schemas for it. */
let plainServer: Server;
let plainAddress: string;
const { impl, log } = testService();

test.before(async () => {
  const echo = impl.echo!;
  const withKeys: typeof impl = { ...impl, echo: (request, context) => (request.text === "keys?" ? { text: context.keys.join(",") } : echo(request, context)) };
  server = createServer({ exposeReflectionService: true, exposeAdminService: true, keyedDispatch: true }).addService(TestService, withKeys);
  address = await server.listen("127.0.0.1:0");
  plainServer = createServer().addService(TestService, impl);
  plainAddress = await plainServer.listen("127.0.0.1:0");
});

test.after(async () => {
  await Promise.all([server.close({ graceMs: 0 }), plainServer.close({ graceMs: 0 })]);
  rmSync(work, { recursive: true, force: true });
});

test("[EXT-10] call: the answer as JSON on stdout, exit 0, schemas from the server's reflection service", async () => {
  const run = await strata(["call", address, "stratatest.v1.TestService/Echo", "-d", '{"text":"hello","payloadSize":3}']);
  expectExit(run, 0, "call");
  const answer = JSON.parse(run.stdout) as { text: string; payload: string; requestId: string };
  assert.is(answer.text, "hello");
  assert.is(answer.payload, "AAAA", "bytes print as base64, as protobuf JSON says");
});

test("call: -d @file reads a file, -d @- reads standard input, and -H sends metadata [META-1]", async () => {
  const file = join(work, "request.json");
  writeFileSync(file, '{"text":"from a file"}');
  const fromFile = await strata(["call", address, "stratatest.v1.TestService/Echo", "-d", `@${file}`]);
  expectExit(fromFile, 0, "-d @file");
  assert.is(JSON.parse(fromFile.stdout).text, "from a file");
  const fromStdin = await strata(["call", address, "stratatest.v1.TestService.Echo", "-d", "@-", "-H", "X-Trace: abc", "-H", "tenant:7"], { stdin: '{"text":"from stdin"}' });
  expectExit(fromStdin, 0, "-d @-");
  const answer = JSON.parse(fromStdin.stdout) as { text: string; metadataKeys: string[] };
  assert.is(answer.text, "from stdin");
  assert.equal(answer.metadataKeys, ["x-trace", "tenant"]);
});

test("[KEYS-1] call --keys: the handler sees the keys, comma-separated or repeated", async () => {
  const run = await strata(["call", address, "stratatest.v1.TestService/Echo", "-d", '{"text":"keys?"}', "--keys", "user:1,user:2", "--keys", "order:9"]);
  expectExit(run, 0, "--keys");
  assert.is(JSON.parse(run.stdout).text, "user:1,user:2,order:9");
});

test("[CALL-1] call --oneway prints nothing and the server runs it; --acked prints the answer", async () => {
  const oneway = await strata(["call", address, "stratatest.v1.TestService/Record", "-d", '{"tag":"cli-oneway"}', "--oneway"]);
  expectExit(oneway, 0, "--oneway");
  assert.is(oneway.stdout, "");
  // The oneway request was written before the process exited; the Recorded call on a new connection may still overtake it.
  const end = performance.now() + 5000;
  while (!log.recorded.includes("cli-oneway") && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.ok(log.recorded.includes("cli-oneway"), "the oneway call ran on the server");
  const acked = await strata(["call", address, "stratatest.v1.TestService/Echo", "-d", '{"text":"acked"}', "--acked"]);
  expectExit(acked, 0, "--acked");
  assert.is(JSON.parse(acked.stdout).text, "acked");
  const both = await strata(["call", address, "stratatest.v1.TestService/Echo", "--acked", "--oneway"]);
  expectExit(both, 2, "--acked with --oneway");
});

test("[STATUS-1] exit codes: 64 + an application code, 20 + a dispatch code, 15 for TIMEOUT, each with the error on stderr", async () => {
  const app = await strata(["call", address, "stratatest.v1.TestService/Echo", "-d", '{"appCode":7,"appMessage":"no such order"}']);
  expectExit(app, 64 + 7, "application error 7");
  assert.match(app.stderr, "no such order");
  assert.match(app.stderr, "processed: yes");
  assert.is(app.stdout, "");
  // A server that reads the request and never answers: only the client's own deadline ends the call.
  // (Against a real server whose handler runs past the deadline, its DEADLINE_EXCEEDED may arrive
  // before the client's timer fires, and the exit code is then 30: a race, not a rule.)
  const silent = await startScriptedServer(() => {});
  const timeout = await strata(["call", silent.address, "stratatest.v1.TestService/Echo", "--timeout", "300ms", "--schema", join(root, "proto")]);
  await silent.close();
  expectExit(timeout, 15, "a call past its deadline");
  assert.match(timeout.stderr, "TIMEOUT");
  assert.match(timeout.stderr, "processed: maybe");
  // With local schemas, a service the server does not offer is the dispatch code UNKNOWN_SERVICE.
  const unknown = await strata(["call", address, "stratatest.v1.IsolationTestService/Work", "--schema", join(root, "proto")]);
  expectExit(unknown, 20 + DispatchCode.UNKNOWN_SERVICE, "a service the server does not offer");
  assert.match(unknown.stderr, "UNKNOWN_SERVICE");
});

test("[STATUS-1] usage errors exit 2 and say what is wrong, before anything is sent", async () => {
  const cases: Array<[string[], string]> = [
    [["call", address, "stratatest.v1.TestService/Echo", "-d", "{not json"], "is not JSON"],
    [["call", address, "stratatest.v1.TestService/Echo", "-d", '{"nope":1}'], "is not a stratatest.v1.EchoRequest"],
    [["call", address, "stratatest.v1.TestService/Nope"], "has no method Nope"],
    [["call", address, "Echo"], "package.Service/Method"],
    [["call", address, "stratatest.v1.TestService/Echo", "-H", "no-colon"], 'takes "key: value"'],
    [["call", address, "stratatest.v1.TestService/Echo", "--timeout", "soon"], "--timeout"],
    [["call", address, "stratatest.v1.TestService/Echo", "-d", `@${join(work, "missing.json")}`], "cannot read"],
    [["frobnicate"], "unknown command"],
    [["bench", address, "stratatest.v1.TestService/Echo", "-c", "abc"], "--concurrency takes a whole number"],
    [["bench", address, "stratatest.v1.TestService/Echo", "-z", "soon"], "--duration takes a duration"],
    [[], "Usage: strata"],
    [["bench", address, "stratatest.v1.TestService/Echo", "-n", "10", "-z", "1s"], "give one"],
  ];
  for (const [args, message] of cases) {
    const run = await strata(args);
    expectExit(run, 2, args.join(" "));
    assert.match(run.stderr, message, `${args.join(" ")}: ${run.stderr}`);
  }
});

test("[EXT-10] a server without reflection: the CLI says to give --schema or --proto, and works with them", async () => {
  const bare = await strata(["list", plainAddress]);
  expectExit(bare, 2, "list without reflection");
  assert.match(bare.stderr, "does not offer reflection");
  const withSchema = await strata(["call", plainAddress, "stratatest.v1.TestService/Echo", "-d", '{"text":"schema dir"}', "--schema", join(root, "proto")]);
  expectExit(withSchema, 0, "--schema");
  assert.is(JSON.parse(withSchema.stdout).text, "schema dir");
  const withProto = await strata(["call", plainAddress, "stratatest.v1.TestService/Echo", "-d", '{"text":"one file"}', "--proto", "stratatest/v1/testing.proto", "-I", join(root, "proto")]);
  expectExit(withProto, 0, "--proto with -I");
  assert.is(JSON.parse(withProto.stdout).text, "one file");
});

test("a refused connection is a transport failure (exit 10..18) with a message, within the deadline", async () => {
  const closed = createServer();
  const vacated = await closed.listen("127.0.0.1:0");
  await closed.close({ graceMs: 0 });
  const started = performance.now();
  const run = await strata(["call", vacated, "stratatest.v1.TestService/Echo", "--timeout", "2s"]);
  assert.ok(run.code >= 10 && run.code <= 18, `exit ${run.code}: ${run.stderr}`);
  assert.match(run.stderr, vacated);
  assert.ok(performance.now() - started < 30_000, "the command ended");
});

test("[TLS-4] [TLS-5] call over tls: and wss: with --ca, --cert, --key and --server-name; without them, a clear certificate error", async () => {
  const problem = certificatesProblem();
  if (problem !== undefined) {
    console.log(`\n  SKIPPED: the CLI's TLS test needs ${problem}\n`);
    return;
  }
  const certs = testCertificates();
  const files = Object.fromEntries(
    Object.entries({ ca: certs.ca, cert: certs.client.cert, key: certs.client.key }).map(([name, pem]) => {
      const file = join(work, `${name}.pem`);
      writeFileSync(file, pem);
      return [name, file];
    }),
  );
  const isBun = (globalThis as { Bun?: unknown }).Bun !== undefined;
  const secure = createServer({
    exposeReflectionService: true,
    transports: {
      tls: tlsTransport({ ...certs.server, ca: certs.ca, clientCertificate: "require" }),
      // Bun's node:https shows no client certificate, so its wss: listener cannot ask for one [TLS-6].
      wss: webSocketTransport({ ...certs.server, ...(isBun ? {} : { clientCa: certs.ca, clientCertificate: "require" as const }) }),
    },
  }).addService(TestService, impl);
  const tlsAddress = await secure.listen("tls:127.0.0.1:0");
  const wssAddress = await secure.listen("wss://127.0.0.1:0/strata");
  try {
    const trust = ["--ca", files.ca!, "--cert", files.cert!, "--key", files.key!];
    for (const target of [tlsAddress, wssAddress]) {
      const ok = await strata(["call", target, "stratatest.v1.TestService/Echo", "-d", '{"text":"over TLS"}', ...trust]);
      expectExit(ok, 0, `call ${target} with the flags`);
      assert.is(JSON.parse(ok.stdout).text, "over TLS");
      const untrusted = await strata(["call", target, "stratatest.v1.TestService/Echo", "--timeout", "5s"]);
      expectExit(untrusted, 10, `call ${target} without --ca`);
      assert.match(untrusted.stderr, /certificate/i, untrusted.stderr);
    }
    // The name the certificate carries, when the address names the server otherwise.
    const named = await strata(["call", tlsAddress.replace("127.0.0.1", "localhost"), "stratatest.v1.TestService/Echo", ...trust, "--server-name", "strata-wrong.invalid", "--timeout", "5s"]);
    expectExit(named, 10, "--server-name another name");
    assert.match(named.stderr, /strata-wrong\.invalid/, named.stderr);
    const noCertificate = await strata(["call", tlsAddress, "stratatest.v1.TestService/Echo", "--ca", files.ca!, "--timeout", "5s"]);
    expectExit(noCertificate, 10, "a server that requires a client certificate, none given");
    const usage: Array<[string[], string]> = [
      [["call", address, "stratatest.v1.TestService/Echo", "--ca", files.ca!], "--ca is for a TLS server"],
      [["call", tlsAddress, "stratatest.v1.TestService/Echo", "--cert", files.cert!], "--cert and --key go together"],
      [["call", tlsAddress, "stratatest.v1.TestService/Echo", "--ca", join(work, "missing.pem")], "--ca"],
      [["call", tlsAddress, "stratatest.v1.TestService/Echo", "--ca", join(work, "not-pem.txt")], "holds no PEM block"],
      [["conformance", "server", "--target", tlsAddress, "--ca", join(work, "missing.pem")], "cannot read"],
      [["conformance", "server", "--target", tlsAddress, "--ca", join(work, "not-pem.txt")], "holds no PEM block"],
    ];
    writeFileSync(join(work, "not-pem.txt"), "this is no certificate\n");
    for (const [args, message] of usage) {
      const run = await strata(args);
      expectExit(run, 2, args.join(" "));
      assert.match(run.stderr, message, `${args.join(" ")}: ${run.stderr}`);
    }
  } finally {
    await secure.close({ graceMs: 0 });
  }
});

test("[EXT-11] [EXT-12] list, list -l and describe read the server's reflection service", async () => {
  const list = await strata(["list", address]);
  expectExit(list, 0, "list");
  assert.equal(list.stdout.trim().split("\n"), ["strata.admin.v1.AdminService", "strata.reflection.v1.ReflectionService", "stratatest.v1.TestService"]);
  const long = await strata(["list", address, "-l"]);
  expectExit(long, 0, "list -l");
  assert.match(long.stdout, "  Echo(stratatest.v1.EchoRequest) returns (stratatest.v1.EchoResponse)");
  const service = await strata(["describe", address, "stratatest.v1.TestService"]);
  expectExit(service, 0, "describe a service");
  assert.match(service.stdout, "rpc Wait(stratatest.v1.WaitRequest) returns (stratatest.v1.WaitResponse)");
  const message = await strata(["describe", address, "stratatest.v1.EchoRequest"]);
  expectExit(message, 0, "describe a message");
  assert.match(message.stdout, "uint32 delay_ms = 2;");
  const missing = await strata(["describe", address, "stratatest.v1.Nothing"]);
  expectExit(missing, 2, "describe an unknown symbol");
});

test("[EXT-7] stats prints the admin service's counters, --json as the service answers them", async () => {
  const text = await strata(["stats", address]);
  expectExit(text, 0, "stats");
  assert.match(text.stdout, "requests:");
  assert.match(text.stdout, "stratatest.v1.TestService/Echo");
  const json = await strata(["stats", address, "--json"]);
  expectExit(json, 0, "stats --json");
  const stats = JSON.parse(json.stdout) as { requestsTotal: string; methods: Array<{ method: string; calls: string }> };
  assert.ok(Number(stats.requestsTotal) > 0);
  assert.ok(stats.methods.some((m) => m.method === "stratatest.v1.TestService/Echo" && Number(m.calls) > 0));
  const none = await strata(["stats", plainAddress]);
  expectExit(none, 20 + DispatchCode.UNKNOWN_SERVICE, "stats without an admin service");
  assert.match(none.stderr, "exposeAdminService");
});

test("[FRAME-1] -v logs every frame in both directions and the timings to stderr, not stdout", async () => {
  const run = await strata(["call", address, "stratatest.v1.TestService/Echo", "-d", '{"text":"verbose"}', "-v", "-H", "k: v"]);
  expectExit(run, 0, "-v");
  assert.is(JSON.parse(run.stdout).text, "verbose");
  assert.match(run.stderr, /> preface STRATA version 1/);
  assert.match(run.stderr, /> HELLO/);
  assert.match(run.stderr, /< HELLO/);
  assert.match(run.stderr, /> REQUEST id=\d+ stratatest\.v1\.TestService\/Echo ref=\d+ timeout=\d+ms metadata=k body=9B/);
  assert.match(run.stderr, /< RESPONSE id=\d+/);
  assert.match(run.stderr, /answered in [\d.]+ ms/);
});

interface Summary {
  calls: number;
  ok: number;
  errors: Record<string, number>;
  callsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  histogram: Array<{ count: number }>;
  perSecond: number[];
}

test("[STATUS-1] bench --json: every call counted, percentiles ordered, the histogram holds every call, errors by layer", async () => {
  const run = await strata(["bench", address, "stratatest.v1.TestService/Echo", "-d", '{"text":"load"}', "-n", "300", "-c", "8", "--connections", "2", "--json"]);
  expectExit(run, 0, "bench --json");
  const summary = JSON.parse(run.stdout) as Summary;
  assert.is(summary.calls, 300);
  assert.is(summary.ok, 300);
  assert.equal(summary.errors, {});
  assert.ok(summary.callsPerSecond > 0);
  const { p50, p90, p99, max } = summary.latencyMs;
  assert.ok(p50 <= p90 && p90 <= p99 && p99 <= max, JSON.stringify(summary.latencyMs));
  assert.is(summary.histogram.reduce((sum, bin) => sum + bin.count, 0), 300);
  assert.match(run.stderr, "300 calls", "the progress line");
  // Failing calls are counted by layer and code, and the exit code says some failed.
  const failing = await strata(["bench", address, "stratatest.v1.TestService/Echo", "-d", '{"appCode":9}', "-n", "50", "-c", "4", "--json"]);
  expectExit(failing, 1, "bench with failing calls");
  const failed = JSON.parse(failing.stdout) as Summary;
  assert.is(failed.ok, 0);
  assert.equal(Object.values(failed.errors).reduce((a, b) => a + b, 0), 50, JSON.stringify(failed.errors));
  assert.ok(Object.keys(failed.errors).every((key) => key.includes("application") && key.includes("9")), JSON.stringify(failed.errors));
});

test("bench: --payload-size, --rps and --duration shape the load; the text summary has the percentiles and a histogram", async () => {
  const run = await strata(["bench", address, "stratatest.v1.BenchService/BenchEcho", "--schema", join(root, "proto"), "--payload-size", "65536", "-z", "1s", "--rps", "200", "-c", "4"]);
  // BenchService is not on this server: every call fails with UNKNOWN_SERVICE, counted under the dispatch layer.
  expectExit(run, 1, "bench of a service the server lacks");
  assert.match(run.stdout, /dispatch UNKNOWN_SERVICE: \d+/);
  const echo = await strata(["bench", address, "stratatest.v1.TestService/Echo", "-z", "1s", "--rps", "100", "-c", "4"]);
  expectExit(echo, 0, "bench -z --rps");
  assert.match(echo.stdout, /p50 [\d.]+ ms {2}p90 [\d.]+ ms {2}p99 [\d.]+ ms/);
  assert.match(echo.stdout, "Latency histogram:");
  const calls = Number(/calls: +(\d+)/.exec(echo.stdout)?.[1]);
  // 100/s for 1 s: about 100 calls; a rate limit that did nothing would make thousands.
  assert.ok(calls >= 50 && calls <= 150, `${calls} calls at --rps 100 for 1 s`);
  const noField = await strata(["bench", address, "stratatest.v1.TestService/Recorded", "--payload-size", "10"]);
  expectExit(noField, 2, "--payload-size on a message without a bytes or string field");
  assert.match(noField.stderr, "needs a bytes or string field");
});

test("bench --html: a report whose histogram and throughput charts render in headless Chromium", async () => {
  const file = join(work, "report.html");
  const run = await strata(["bench", address, "stratatest.v1.TestService/Echo", "-n", "400", "-c", "8", "--html", file]);
  expectExit(run, 0, "bench --html");
  const html = readFileSync(file, "utf8");
  const data = JSON.parse(/<script type="application\/json" id="data">(.*?)<\/script>/s.exec(html)![1]!) as Summary;
  assert.is(data.calls, 400);
  if ((globalThis as { Bun?: unknown; Deno?: unknown }).Bun !== undefined || (globalThis as { Deno?: unknown }).Deno !== undefined) {
    console.log("  (the report is rendered in Chromium by the Node run of this test)");
    return;
  }
  const chromium = "/usr/bin/chromium";
  if (!existsSync(chromium)) {
    console.log(`\n  SKIPPED: rendering the bench HTML report needs Chromium at ${chromium}: apt-get install -y chromium\n`);
    return;
  }
  const { chromium: launcher } = await import("playwright-core");
  const browser = await launcher.launch({ executablePath: chromium, args: ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    await page.goto(`file://${file}`);
    for (const id of ["latency-histogram", "throughput"]) {
      const box = await page.locator(`svg#${id}`).boundingBox();
      assert.ok(box !== null && box.width > 100 && box.height > 100, `svg#${id} is laid out: ${JSON.stringify(box)}`);
      const drawn = await page.locator(`svg#${id} rect.bar`).evaluateAll((bars) => bars.map((bar) => (bar as SVGGraphicsElement).getBBox().height));
      assert.ok(drawn.length > 0, `svg#${id} has bars`);
      assert.ok(drawn.some((height) => height > 0), `svg#${id} draws at least one bar with a height`);
    }
    const histogramTotal = await page.locator("svg#latency-histogram rect.bar").evaluateAll((bars) => bars.reduce((sum, bar) => sum + Number(bar.getAttribute("data-value")), 0));
    assert.is(histogramTotal, 400, "the histogram's bars hold every call");
    assert.equal(problems, [], "no errors in the page");
  } finally {
    await browser.close();
  }
});

test.run();
