// The suite's runner as a user meets it: the Replay line of a failure
// reruns exactly that case (same seed, runs, time limit, server), traces
// decode what was received as well as what was sent, a case whose server
// closed fails at once instead of waiting out its timeout, and the time
// limit grows with --runs.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import * as net from "node:net";
import { caseTimeLimitMs } from "../conformance/runner/run-cases.ts";
import { formatReport } from "../conformance/runner/report.ts";
import { replayCommand, shellQuote } from "../conformance/runner/replay.ts";
import { formatTrace } from "../conformance/runner/trace-format.ts";
import { Peer, type TraceLog } from "../conformance/runner/peer.ts";
import type { CaseResult } from "../conformance/runner/run-cases.ts";
import { allCases } from "../conformance/cases/index.ts";
import { encodeFrame, encodeGoaway, encodeHello, encodePreface, FrameType, GoawayCode } from "../src/wire/index.ts";

const test = suite("conformance runner");
const root = new URL("..", import.meta.url).pathname;

/** Runs a shell command from the repository root; resolves with its exit code and output. */
function sh(command: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", command], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c));
    child.stderr.on("data", (c: Buffer) => (output += c));
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

const failed = (name: string, path?: string): CaseResult => ({ case: allCases.find((c) => c.name === name)!, status: "fail", durationMs: 1, ...(path ? { path } : {}) });

test("the replay line puts the suite's options before `--` and the server's command after it, quoted for a shell", () => {
  const line = replayCommand(
    { command: ["npx", "tsx", "my server.ts", "--spawn"], seed: 42, runs: 100, caseTimeoutMs: 5000, featuresFile: "features.json" },
    failed("calls/unary-echo", "3:1"),
  );
  assert.is(
    line,
    "npm run conformance -- server --run calls/unary-echo --seed 42 --runs 100 --path 3:1 --case-timeout-ms 5000 --features features.json --trace -- npx tsx 'my server.ts' --spawn",
  );
  assert.is(replayCommand({ target: "[::1]:7000", seed: 1, runs: 20, caseTimeoutMs: 30_000 }, failed("calls/unary-echo")), "npm run conformance -- server --target '[::1]:7000' --run calls/unary-echo --seed 1 --runs 20 --trace");
  assert.is(shellQuote("it's"), `'it'\\''s'`);
});

test("a failure's printed Replay line, run as printed, reruns only that case with the same seed, and fails it again", async () => {
  const server = "npx tsx conformance/mutants/server.ts answers-oneway --spawn";
  const first = await sh(`npx tsx conformance/cli.ts server --run calls/oneway-runs-and-sends-nothing --run calls/unary-echo --seed 777 --runs 3 --case-timeout-ms 20000 -- ${server}`);
  assert.is(first.code, 1, first.output);
  assert.match(first.output, /2 cases against/);
  const replay = /Replay: +(.*)/.exec(first.output)?.[1];
  assert.ok(replay !== undefined, first.output);
  assert.ok(replay.startsWith("npm run conformance -- server --run calls/oneway-runs-and-sends-nothing --seed 777 --runs 3 --case-timeout-ms 20000 --trace -- "), replay);
  const again = await sh(replay);
  assert.is(again.code, 1, again.output);
  assert.match(again.output, /1 cases against .*, seed 777/);
  assert.match(again.output, /FAIL calls\/oneway-runs-and-sends-nothing/);
  // --trace decodes what the server sent: its preface and HELLO, which arrive in one read.
  assert.match(again.output, /received\n\s*preface "STRATA", version 1\n[\s\S]*= HELLO \{/);
});

test("--ca, --cert, --key and --server-name apply to tls: and wss:// targets and are refused (exit 2, naming both) for others; --websocket --tls is spawn mode over wss", async () => {
  const cli = "npx tsx conformance/cli.ts server --list";
  for (const flags of ["--target wss://127.0.0.1:1/strata --ca ca.pem --cert c.pem --key c.key --server-name localhost", "--target tls:127.0.0.1:1 --ca ca.pem", "--websocket --tls"]) {
    const accepted = await sh(`${cli} ${flags} --run calls/unary-echo`);
    assert.is(accepted.code, 0, `${flags}\n${accepted.output}`);
  }
  const plain = await sh(`${cli} --target ws://127.0.0.1:1/strata --server-name localhost`);
  assert.is(plain.code, 2, plain.output);
  assert.match(plain.output, "--server-name is for a TLS target (--target tls:HOST:PORT or wss://HOST:PORT/PATH)");
  const both = await sh(`${cli} --target wss://127.0.0.1:1/strata --websocket`);
  assert.is(both.code, 2, both.output);
  assert.match(both.output, "--websocket is for spawn mode; for a running server give --target ws://HOST:PORT/PATH (wss://HOST:PORT/PATH over TLS)");
});

test("a trace reassembles frames across reads and decodes GOAWAY bodies in full, on each connection", () => {
  const message = "a GOAWAY message much longer than twelve bytes";
  const hello = encodeFrame({ type: FrameType.HELLO }, encodeHello({ agent: "x" }));
  const goaway = encodeFrame({ type: FrameType.GOAWAY }, encodeGoaway({ code: GoawayCode.IDLE_TIMEOUT, lastRequestId: 7, message }));
  const bytes = new Uint8Array([...encodePreface(), ...hello, ...goaway]);
  const log: TraceLog = { entries: [], startedAt: 0, connections: 2 };
  // Connection 1 receives everything split at awkward places; connection 2 gets garbage.
  for (const [from, to] of [[0, 3], [3, 20], [20, bytes.length]] as const) log.entries.push({ atMs: from, connection: 1, direction: "received", bytes: bytes.subarray(from, to) });
  log.entries.push({ atMs: 30, connection: 2, direction: "received", bytes: new TextEncoder().encode("HTTP/1.1 400 Bad Request") });
  const text = formatTrace(log);
  assert.match(text, /3 bytes of a preface so far/);
  assert.match(text, /preface "STRATA", version 1/);
  assert.match(text, /= HELLO \{"agent":"x"\}/);
  assert.ok(text.includes(`= GOAWAY IDLE_TIMEOUT, last_request_id 7, message ${JSON.stringify(message)}`), text);
  assert.match(text, /#2 received\n\s*bytes that are not frames: 48 54 54 50/);
});

test("a peer whose server has closed stops waiting at once, rather than at its timeout", async () => {
  const server = net.createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const log: TraceLog = { entries: [], startedAt: performance.now(), connections: 0 };
  const peer = await Peer.open(`127.0.0.1:${port}`, log, { handshake: false, frames: true });
  const started = performance.now();
  const error = await peer.waitFor(() => true, "a frame", 60_000).then(() => undefined, (e: unknown) => e as Error);
  assert.ok(error !== undefined && /EOF/.test(error.message), String(error));
  assert.ok(performance.now() - started < 30_000, "it did not wait for the 60 s timeout");
  peer.close();
  server.close();
});

test("every failure in the report says which requirement it violates, also when its check named none", () => {
  const single = allCases.find((c) => c.requirements.length === 1)!;
  const several = allCases.find((c) => c.requirements.length > 1)!;
  const report = formatReport([failed(single.name), failed(several.name)], () => "replay");
  assert.ok(report.includes(`violates [${single.requirements[0]}]`), report);
  assert.ok(report.includes(`violates one of [${several.requirements.join("] [")}]`), report);
});

test("a case's time limit grows in proportion with --runs, and never shrinks below --case-timeout-ms", () => {
  assert.is(caseTimeLimitMs(30_000, 20), 30_000);
  assert.is(caseTimeLimitMs(30_000, 100), 150_000);
  assert.is(caseTimeLimitMs(30_000, 1), 30_000);
});

test.run();
