// Keyed dispatch in the reference server, over real sockets: what happens
// to requests waiting for their keys (deadline, CANCEL, EOF, drain, queue
// bound), when keys are released, ordering with compressed bodies, limits
// and the key stats. The conformance suite checks the wire-visible rules on
// any server; these tests pin the reference server's own behaviour.
// Cites [KEYS-3] [KEYS-4] [KEYS-6] [KEYS-8] [KEYS-11] [CANCEL-4] [LIMIT-5] [DRAIN-10] [DRAIN-14] [DRAIN-15].
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CallMode, Compression, createClient, createServer, DispatchCode, encodeFrame, encodeFrameHead, FrameType, RpcError, type ServerOptions } from "../src/node.ts";
import { ConformanceService, KeyedWorkRequestSchema, RecordRequestSchema } from "../conformance/gen/strata/conformance/v1/conformance_pb.ts";
import { conformanceService } from "../conformance/reference/conformance-service.ts";
import { RawPeer } from "./support/raw-peer.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { waitUntil } from "./support/wait.ts";
import { bufferBytes, garbageCollector, heldBytes, holdsMoreThan } from "./support/garbage.ts";
import { TestService, testService } from "./support/test-service.ts";

const test = suite("keyed dispatch");
const SERVICE = ConformanceService.typeName;

/** A reference server with the conformance service (whose KeyedWork logs start:/end:), plus a handler that ignores its signal. */
async function start(options: ServerOptions = {}) {
  const { service, impl, log } = conformanceService();
  const server = createServer(options)
    .addBuiltinService(service, impl)
    .addRawService("test.Stubborn", {
      // Runs `ms` whatever its signal says, logging like KeyedWork.
      Hold: async (body, context) => {
        const ms = body[0]! * 10;
        log.push("start:stubborn");
        await new Promise((resolve) => setTimeout(resolve, ms));
        log.push(`end:stubborn aborted=${context.signal.aborted}`);
        return new Uint8Array(0);
      },
    });
  const address = await server.listen("memory:");
  const client = createClient(ConformanceService, { address });
  return {
    server,
    address,
    client,
    log,
    /** Log entries up to now, of KeyedWork only. */
    work: () => log.filter((e) => e.startsWith("start:") || e.startsWith("end:")),
    stop: async () => {
      await client.$close();
      await server.close({ graceMs: 200 });
    },
  };
}

function keyedWork(tag: string, holdMs: number): Uint8Array {
  return toBinary(KeyedWorkRequestSchema, create(KeyedWorkRequestSchema, { tag, holdMs }));
}

test("[DEADLINE-8] [KEYS-6] a call whose deadline passes while it waits for its key reaches the caller as the server's DEADLINE_EXPIRED, not processed, within the grace", async () => {
  const { service, impl, log } = conformanceService();
  const server = createServer().addBuiltinService(service, impl);
  const address = await server.listen("127.0.0.1:0");
  // The largest grace, so that a loaded machine cannot turn this into a timing test.
  const client = createClient(ConformanceService, { address, deadlineGraceMs: 1000 });
  const holder = client.keyedWork({ tag: "holder", holdMs: 1500 }, { keys: ["k"], timeoutMs: 10_000 });
  await waitUntil(() => log.includes("start:holder"));
  const started = performance.now();
  const expired = await rpcFailure(client.keyedWork({ tag: "queued", holdMs: 0 }, { keys: ["k"], timeoutMs: 200 }));
  assert.equal([expired.layer, expired.code, expired.processed], ["dispatch", "DEADLINE_EXPIRED", "no"]);
  assert.ok(performance.now() - started < 1200, "answered within the grace");
  // Without a grace the same call is only a TIMEOUT that may have run.
  const impatient = createClient(ConformanceService, { address, deadlineGraceMs: 0 });
  const timedOut = await rpcFailure(impatient.keyedWork({ tag: "impatient", holdMs: 0 }, { keys: ["k"], timeoutMs: 200 }));
  assert.equal([timedOut.layer, timedOut.code, timedOut.processed], ["transport", "TIMEOUT", "maybe"]);
  await holder;
  assert.not.ok(log.includes("start:queued") || log.includes("start:impatient"), "neither ran");
  // A handler still running at the deadline: the server's DEADLINE_EXCEEDED (maybe) ends the grace, TIMEOUT maybe.
  const runningFrom = performance.now();
  const running = await rpcFailure(client.keyedWork({ tag: "slow", holdMs: 3000 }, { timeoutMs: 200 }));
  const elapsed = performance.now() - runningFrom;
  assert.equal([running.code, running.processed], ["TIMEOUT", "maybe"]);
  assert.ok(elapsed >= 190 && elapsed < 2500, `failed after ${elapsed.toFixed(0)} ms`);
  assert.throws(() => createClient(ConformanceService, { address, deadlineGraceMs: 1001 }), /deadlineGraceMs/);
  await client.$close();
  await impatient.$close();
  await server.close({ graceMs: 0 });
});

test("[KEYS-6] a request whose deadline passes while it waits gets DEADLINE_EXPIRED (not processed) and does not hold up the next", async () => {
  const s = await start();
  // A raw peer, to see the server's answer rather than the client's own timeout.
  const peer = await RawPeer.connect(s.address);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("holder", 400));
  await waitUntil(() => s.log.includes("start:holder"));
  peer.send({ type: FrameType.REQUEST, requestId: 2, service: SERVICE, method: "KeyedWork", keys: ["a"], timeoutMs: 100 }, keyedWork("expired", 0));
  peer.send({ type: FrameType.REQUEST, requestId: 3, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("behind", 0));
  const expired = await peer.waitFor((f) => f.header.requestId === 2);
  assert.is(expired.header.dispatchCode, DispatchCode.DEADLINE_EXPIRED);
  assert.not.ok(s.log.includes("end:holder"), "answered while the holder still ran");
  await peer.waitFor((f) => f.header.requestId === 3);
  peer.destroy();
  assert.equal(s.work(), ["start:holder", "end:holder", "start:behind", "end:behind"]);
  assert.equal(s.server.stats().methods[`${SERVICE}/KeyedWork`]!.rejected, { DEADLINE_EXPIRED: 1 });
  await s.stop();
});

test("[CANCEL-4] a cancelled waiting request leaves the queue: no RESPONSE, never runs, the next one runs", async () => {
  const s = await start();
  const peer = await RawPeer.connect(s.address);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("holder", 200));
  await waitUntil(() => s.log.includes("start:holder"));
  peer.send({ type: FrameType.REQUEST, requestId: 2, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("cancelled", 0));
  peer.send({ type: FrameType.REQUEST, requestId: 3, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("after", 0));
  peer.send({ type: FrameType.CANCEL, requestId: 2 });
  await peer.waitFor((f) => f.header.requestId === 3);
  assert.equal(s.work(), ["start:holder", "end:holder", "start:after", "end:after"]);
  assert.equal(peer.frames.filter((f) => f.header.requestId === 2), [], "no RESPONSE for the cancelled request");
  peer.destroy();
  await s.stop();
});

test("[KEYS-8] a full key queue answers OVERLOADED (not processed); other keys are not affected", async () => {
  const s = await start({ maxKeyQueueLength: 2 });
  const first = s.client.keyedWork({ tag: "1", holdMs: 200 }, { keys: ["hot"] });
  const second = s.client.keyedWork({ tag: "2", holdMs: 0 }, { keys: ["hot"] });
  const error = await rpcFailure(s.client.keyedWork({ tag: "3", holdMs: 0 }, { keys: ["hot", "cold"] }));
  assert.equal([error.code, error.processed], ["OVERLOADED", "no"]);
  await s.client.keyedWork({ tag: "cold", holdMs: 0 }, { keys: ["cold"] });
  assert.not.ok(s.log.includes("end:1"), "the cold key ran while the hot key was busy");
  await Promise.all([first, second]);
  assert.is(s.server.stats().keys!.rejected, 1);
  assert.not.ok(s.log.includes("start:3"));
  await s.stop();
});

test("[KEYS-3] a handler that runs on past its deadline keeps its keys until it returns", async () => {
  const s = await start();
  const peer = await RawPeer.connect(s.address);
  // Holds 300 ms, ignoring its 50 ms deadline.
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: "test.Stubborn", method: "Hold", keys: ["a"], timeoutMs: 50 }, Uint8Array.of(30));
  peer.send({ type: FrameType.REQUEST, requestId: 2, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("next", 0));
  const exceeded = await peer.waitFor((f) => f.header.requestId === 1);
  assert.is(exceeded.header.dispatchCode, DispatchCode.DEADLINE_EXCEEDED);
  await peer.waitFor((f) => f.header.requestId === 2);
  assert.equal(s.log, ["start:stubborn", "end:stubborn aborted=true", "start:next", "end:next"]);
  peer.destroy();
  await s.stop();
});

test("[KEYS-4] a gzip-compressed request keeps its place ahead of a later uncompressed one on the same key", async () => {
  const s = await start();
  const peer = await RawPeer.connect(s.address);
  for (let round = 0; round < 5; round++) {
    const base = round * 2;
    // Decompression finishes asynchronously, after the plain request behind it has been read.
    const compressed = gzipSync(keyedWork(`gzip-${round}`, 0));
    peer.send({ type: FrameType.REQUEST, requestId: base + 1, service: SERVICE, method: "KeyedWork", keys: [`k${round}`], compression: Compression.GZIP }, compressed);
    peer.send({ type: FrameType.REQUEST, requestId: base + 2, service: SERVICE, method: "KeyedWork", keys: [`k${round}`] }, keyedWork(`plain-${round}`, 0));
    await peer.waitFor((f) => f.header.requestId === base + 2);
    await peer.waitFor((f) => f.header.requestId === base + 1);
    const starts = s.work().filter((e) => e.startsWith("start:") && e.endsWith(`-${round}`));
    assert.equal(starts, [`start:gzip-${round}`, `start:plain-${round}`]);
  }
  peer.destroy();
  await s.stop();
});

test("[LIMIT-5] requests waiting for keys count toward max_concurrent_requests", async () => {
  const s = await start({ maxConcurrentRequests: 2 });
  const peer = await RawPeer.connect(s.address);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("1", 200));
  peer.send({ type: FrameType.REQUEST, requestId: 2, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("2", 0));
  peer.send({ type: FrameType.REQUEST, requestId: 3, service: SERVICE, method: "KeyedWork", keys: ["b"] }, keyedWork("3", 0));
  const third = await peer.waitFor((f) => f.header.requestId === 3);
  assert.is(third.header.dispatchCode, DispatchCode.OVERLOADED);
  assert.not.ok(s.log.includes("end:1"), "refused while 1 ran and 2 waited");
  await peer.waitFor((f) => f.header.requestId === 2);
  peer.destroy();
  await s.stop();
});

test("[DRAIN-14] [DRAIN-15] at EOF waiting unary requests never run; a waiting oneway request still runs", async () => {
  const s = await start();
  const peer = await RawPeer.connect(s.address);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("holder", 150));
  peer.send({ type: FrameType.REQUEST, requestId: 2, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("unary", 0));
  peer.send({ type: FrameType.REQUEST, requestId: 3, service: SERVICE, method: "KeyedWork", keys: ["a"], callMode: CallMode.ONEWAY }, keyedWork("oneway", 0));
  await waitUntil(() => s.log.includes("start:holder"));
  peer.destroy();
  await waitUntil(() => s.log.includes("end:oneway"));
  assert.equal(s.work(), ["start:holder", "end:holder", "start:oneway", "end:oneway"]);
  await waitUntil(() => s.server.stats().keys!.activeKeys === 0);
  await s.stop();
});

test("[DRAIN-14] a keyed gzip request whose connection ends before it is decompressed leaves no key behind", async () => {
  const s = await start();
  for (let i = 0; i < 5; i++) {
    const peer = await RawPeer.connect(s.address);
    peer.send({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "KeyedWork", keys: ["a"], compression: Compression.GZIP }, gzipSync(keyedWork(`gone-${i}`, 0)));
    peer.destroy();
  }
  await s.client.keyedWork({ tag: "after", holdMs: 0 }, { keys: ["a"], timeoutMs: 5000 });
  await waitUntil(() => s.server.stats().keys!.activeKeys === 0);
  await s.stop();
});

test("[CANCEL-2] a CANCEL for a gzip request still being decompressed stops it from ever running", async () => {
  const s = await start();
  const peer = await RawPeer.connect(s.address);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("holder", 100));
  await waitUntil(() => s.log.includes("start:holder"));
  // The request and its CANCEL in one chunk: the CANCEL arrives before decompression ends.
  const request = encodeFrame(
    { type: FrameType.REQUEST, requestId: 2, service: SERVICE, method: "KeyedWork", keys: ["a"], compression: Compression.GZIP },
    gzipSync(keyedWork("cancelled", 0)),
  );
  peer.write(new Uint8Array([...request, ...encodeFrame({ type: FrameType.CANCEL, requestId: 2 })]));
  peer.send({ type: FrameType.REQUEST, requestId: 3, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("after", 0));
  await peer.waitFor((f) => f.header.requestId === 3);
  assert.equal(s.work(), ["start:holder", "end:holder", "start:after", "end:after"]);
  assert.equal(peer.frames.filter((f) => f.header.requestId === 2), [], "no RESPONSE for the cancelled request");
  peer.destroy();
  await s.stop();
});

test("[DRAIN-15] a oneway request of a closed connection still waiting when the server's grace period ends is dropped", async () => {
  const s = await start();
  const holder = await RawPeer.connect(s.address);
  holder.send({ type: FrameType.REQUEST, requestId: 1, service: "test.Stubborn", method: "Hold", keys: ["a"] }, Uint8Array.of(40));
  await waitUntil(() => s.log.includes("start:stubborn"));
  const gone = await RawPeer.connect(s.address);
  gone.send({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "KeyedWork", keys: ["a"], callMode: CallMode.ONEWAY }, keyedWork("oneway", 0));
  await waitUntil(() => s.server.stats().keys!.waiting === 1);
  gone.destroy();
  await s.client.$close();
  await s.server.close({ graceMs: 100 });
  // The holder ignores its signal and returns after 400 ms; its key then goes to nobody.
  await waitUntil(() => s.log.includes("end:stubborn aborted=true"));
  await waitUntil(() => s.server.stats().keys!.activeKeys === 0);
  assert.not.ok(s.log.includes("start:oneway"));
  holder.destroy();
});

test("[DRAIN-10] when the grace period ends, waiting requests are answered SHUTTING_DOWN and never run", async () => {
  const s = await start();
  const peer = await RawPeer.connect(s.address);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: "test.Stubborn", method: "Hold", keys: ["a"] }, Uint8Array.of(40));
  peer.send({ type: FrameType.REQUEST, requestId: 2, service: SERVICE, method: "KeyedWork", keys: ["a"] }, keyedWork("waiting", 0));
  await waitUntil(() => s.log.includes("start:stubborn"));
  void s.server.close({ graceMs: 100 });
  const answer = await peer.waitFor((f) => f.header.requestId === 2);
  assert.is(answer.header.dispatchCode, DispatchCode.SHUTTING_DOWN);
  await peer.waitForEnd();
  assert.not.ok(s.log.includes("start:waiting"));
  await s.client.$close();
});

test("[KEYS-8] stats show the busiest keys, waiting and running requests, and wait times", async () => {
  const s = await start();
  const calls = [
    s.client.keyedWork({ tag: "h1", holdMs: 150 }, { keys: ["hot"] }),
    s.client.keyedWork({ tag: "w1", holdMs: 150 }, { keys: ["warm"] }),
    s.client.keyedWork({ tag: "h2", holdMs: 0 }, { keys: ["hot"] }),
    s.client.keyedWork({ tag: "h3", holdMs: 0 }, { keys: ["hot", "warm"] }),
  ];
  await waitUntil(() => s.server.stats().keys!.waiting === 2);
  const during = s.server.stats().keys!;
  assert.equal(during.busiestKeys, [{ key: "hot", depth: 3 }, { key: "warm", depth: 2 }]);
  assert.equal([during.activeKeys, during.running, during.waiting], [2, 2, 2]);
  await Promise.all(calls);
  const after = s.server.stats().keys!;
  assert.equal([after.activeKeys, after.running, after.waiting, after.wait.count], [0, 0, 0, 4]);
  assert.ok(after.wait.maxMs >= 100, `the longest wait (${after.wait.maxMs} ms) covers h1's hold`);
  assert.ok(after.wait.p50Ms <= after.wait.p99Ms && after.wait.p99Ms <= after.wait.maxMs);
  await s.stop();
});

test("[KEYS-2] keyedDispatch: false refuses keyed requests with UNSUPPORTED and omits the feature", async () => {
  const s = await start({ keyedDispatch: false });
  const error = await rpcFailure(s.client.keyedWork({ tag: "x", holdMs: 0 }, { keys: ["a"] }));
  assert.equal([error.code, error.processed], ["UNSUPPORTED", "no"]);
  assert.is(s.server.stats().keys, undefined);
  await s.stop();
});

test("[KEYS-1] the client refuses keys it cannot send, without sending anything", async () => {
  const s = await start();
  for (const keys of [Array.from({ length: 17 }, (_, i) => `k${i}`), [""], ["é".repeat(129)], [7 as unknown as string]]) {
    const error = await rpcFailure(s.client.keyedWork({ tag: "never", holdMs: 0 }, { keys }));
    assert.equal([error.layer, error.code, error.processed], ["transport", "INVALID_INPUT", "no"]);
  }
  await s.client.keyedWork({ tag: "sixteen", holdMs: 0 }, { keys: Array.from({ length: 16 }, (_, i) => "k".repeat(256 - i)) });
  assert.equal(s.work(), ["start:sixteen", "end:sixteen"]);
  assert.is(s.server.stats().requests.total, 1, "nothing else reached the server");
  await s.stop();
});

test("[KEYS-11] [DRAIN-15] requests waiting for a key are bounded server-wide in bytes, those of closed connections too: past 160 KiB a oneway one is dropped and a unary one refused OVERLOADED; what waited runs once the key is free, and the room comes back", async () => {
  const { impl, log } = testService();
  const server = createServer({ maxKeyWaitingBytes: 160 * 1024 }).addService(TestService, impl);
  const address = await server.listen("memory:");
  const holder = createClient(TestService, { address });
  const release = new AbortController();
  const held = holder.wait({ ms: 60_000, tag: "holder" }, { keys: ["k"], signal: release.signal, timeoutMs: 120_000 }).catch((error: unknown) => error);
  // Each from its own connection, closed right after: 10 requests of about 8.5 KiB each, counting their
  // connections' 12 KiB too, of which 7 fit 160 KiB.
  for (let i = 0; i < 10; i++) {
    const sender = createClient(TestService, { address });
    await sender.$oneway.record({ tag: `${i}`.padEnd(8000, "x") }, { keys: ["k"] });
    await sender.$close();
  }
  await waitUntil(() => (server.stats().keys?.waiting ?? 0) >= 7, 5000);
  const refused = await rpcFailure(holder.record({ tag: "unary".padEnd(8000, "x") }, { keys: ["k"] }));
  assert.equal([refused.code, refused.processed], ["OVERLOADED", "no"]);
  assert.match(refused.rawMessage, "[KEYS-11]");
  // An acked one is refused before any ACK: acceptance is not promised for a request then refused [CALL-6].
  const refusedAcked = await rpcFailure(holder.$acked.record({ tag: "acked".padEnd(8000, "x") }, { keys: ["k"] }));
  assert.equal([refusedAcked.code, refusedAcked.processed], ["OVERLOADED", "no"]);
  release.abort();
  await held;
  await waitUntil(() => log.recorded.length === 7, 5000);
  assert.equal(log.recorded.map((tag) => tag[0]), ["0", "1", "2", "3", "4", "5", "6"], "the first seven, in arrival order");
  await holder.record({ tag: "after" }, { keys: ["k"] });
  assert.is(log.recorded.at(-1), "after", "the bound has room again");
  await holder.$close();
  await server.close({ graceMs: 0 });
});

test("[KEYS-11] a waiting request's metadata counts toward the bound: of five calls with 15 KiB of metadata each under an 80 KiB bound (their connection counting 12 KiB), the fifth is refused at once; the four run once the key is free", async () => {
  const { impl } = testService();
  const server = createServer({ maxKeyWaitingBytes: 80 * 1024 }).addService(TestService, impl);
  const address = await server.listen("memory:");
  const holder = createClient(TestService, { address });
  const release = new AbortController();
  const held = holder.wait({ ms: 60_000, tag: "holder" }, { keys: ["k"], signal: release.signal, timeoutMs: 120_000 }).catch((error: unknown) => error);
  const client = createClient(TestService, { address });
  const calls = Array.from({ length: 5 }, (_, i) => client.record({ tag: `${i}` }, { keys: ["k"], metadata: { blob: "x".repeat(15_000) }, timeoutMs: 30_000 }));
  const fifth = await rpcFailure(calls[4]!);
  assert.equal([fifth.code, fifth.processed], ["OVERLOADED", "no"]);
  release.abort();
  await held;
  await Promise.all(calls.slice(0, 4));
  await client.$close();
  await holder.$close();
  await server.close({ graceMs: 0 });
});

test("[KEYS-11] a waiting request keeps a body of its own, not a view into the read it came in: 300 oneway requests of 10 bytes, each read with 60 KiB of other frames, hold their bodies alone", async () => {
  const release: Array<() => void> = [];
  const bodies: Uint8Array[] = [];
  const server = createServer().addRawService("test.Raw", {
    Hold: () => new Promise<Uint8Array>((resolve) => release.push(() => resolve(new Uint8Array(0)))),
    Sink: (body) => (bodies.push(body), new Uint8Array(0)),
  });
  const address = await server.listen("127.0.0.1:0");
  const holder = await RawPeer.connect(address);
  holder.send({ type: FrameType.REQUEST, requestId: 1, service: "test.Raw", method: "Hold", callMode: CallMode.UNARY, keys: ["k"] });
  await waitUntil(() => release.length === 1, 5000);
  // Frames of an unknown type are skipped [FRAME-12]: each read is one request and 60 KiB of them.
  const filler = encodeFrame({ type: 42 as FrameType }, new Uint8Array(60_000));
  const counted = 300;
  for (let c = 0; c < counted / 100; c++) {
    const peer = await RawPeer.connect(address); // at most 100 requests of a connection are in flight [LIMIT-5]
    for (let i = 1; i <= 100; i++) {
      const request = encodeFrame({ type: FrameType.REQUEST, requestId: i, service: "test.Raw", method: "Sink", callMode: CallMode.ONEWAY, keys: ["k"] }, new Uint8Array(10).fill(i));
      const read = new Uint8Array(request.length + filler.length);
      read.set(request);
      read.set(filler, request.length);
      peer.write(read);
      // Taken before the next is sent: one read each, not coalesced.
      await waitUntil(() => server.stats().keys?.waiting === c * 100 + i, 5000);
    }
    peer.destroy(); // oneway requests outlive their connection [DRAIN-15]
  }
  await waitUntil(() => (server.stats().keys?.waiting ?? 0) === counted, 10_000);
  release[0]!();
  await waitUntil(() => bodies.length === counted, 10_000);
  const viewing = bodies.filter((body) => body.buffer.byteLength > body.byteLength).length;
  assert.is(viewing, 0, `${viewing} of ${counted} waited as views into larger buffers`);
  assert.ok(bodies.every((body, i) => body.length === 10 && body[0] === (i % 100) + 1), "each its own bytes, in arrival order");
  holder.destroy();
  await server.close({ graceMs: 0 });
});

test("[DRAIN-15] [FRAME-20] a closed connection kept alive by a oneway request waiting for its key keeps none of its partial frame: 24 connections cut off 4 MiB into a body hold no 96 MiB", async () => {
  const collect = garbageCollector();
  const release: Array<() => void> = [];
  const server = createServer().addRawService("test.Raw", {
    Hold: () => new Promise<Uint8Array>((resolve) => release.push(() => resolve(new Uint8Array(0)))),
    Sink: () => new Uint8Array(0),
  });
  const address = await server.listen("127.0.0.1:0");
  const holder = await RawPeer.connect(address);
  holder.send({ type: FrameType.REQUEST, requestId: 1, service: "test.Raw", method: "Hold", callMode: CallMode.UNARY, keys: ["k"] });
  await waitUntil(() => release.length === 1, 5000);
  collect();
  const before = bufferBytes();
  const size = 4 * 1024 * 1024;
  const almostAll = new Uint8Array(size - 1).fill(7);
  for (let i = 0; i < 24; i++) {
    const peer = await RawPeer.connect(address);
    peer.send({ type: FrameType.REQUEST, requestId: 1, service: "test.Raw", method: "Sink", callMode: CallMode.ONEWAY, keys: ["k"] });
    peer.write(encodeFrameHead({ type: FrameType.REQUEST, requestId: 3, service: "test.Raw", method: "Sink", callMode: CallMode.ONEWAY }, size));
    peer.write(almostAll);
    peer.end(); // after all its bytes: the server reads them, then EOF
    await waitUntil(() => server.stats().keys?.waiting === i + 1 && server.stats().connections.current === 1, 10_000);
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  collect();
  const grewMiB = (bufferBytes() - before) / 2 ** 20;
  assert.ok(grewMiB < 32, `buffers grew by ${grewMiB.toFixed(0)} MiB with no connection but the holder's open`);
  release[0]!();
  await waitUntil(() => server.stats().keys?.waiting === 0, 5000);
  holder.destroy();
  await server.close({ graceMs: 0 });
});

test("[KEYS-11] what requests waiting for their keys hold stays within twice the bound, whatever they carry: 16 keys of 256 bytes each, a body that decodes into 30,000 objects, 8 KB of metadata", async () => {
  const collect = garbageCollector();
  // Large enough that the heap's own noise, a few MiB, is small beside it.
  const bound = 24 * 1024 * 1024;
  const { service, impl } = conformanceService();
  const server = createServer({ maxKeyWaitingBytes: bound }).addBuiltinService(service, impl);
  const address = await server.listen("memory:");
  const holder = createClient(ConformanceService, { address });
  const echo = `${SERVICE}/Echo`;
  // A chain behind the holder's key: each request shares a key with the one before, so all of them
  // wait, and no key's queue holds more than two [KEYS-8].
  const chain = (i: number) => [i === 0 ? "h" : `c${i - 1}`.padEnd(256, "k"), `c${i}`.padEnd(256, "k")];
  const shapes: Record<string, (i: number) => [Parameters<typeof holder.echo>[0], { keys: string[]; metadata?: Record<string, string> }]> = {
    // The most keys, of the largest size [KEYS-1].
    "16 keys": (i) => [{}, { keys: [...chain(i), ...Array.from({ length: 14 }, (_, j) => `o${i}.${j}`.padEnd(256, "k"))] }],
    // Two bytes on the wire for each entry, an object for each once decoded.
    "30,000 empty messages": (i) => [{ responseMetadata: Array.from({ length: 30_000 }, () => ({})) }, { keys: chain(i) }],
    "8 KB of metadata": (i) => [{}, { keys: chain(i), metadata: { m: "v".repeat(8000) } }],
  };
  for (const [shape, request] of Object.entries(shapes)) {
    const release = new AbortController();
    const held = holder.sleep({ ms: 60_000, tag: "h" }, { keys: ["h"], signal: release.signal, timeoutMs: 120_000 }).catch((error: unknown) => error);
    await waitUntil(() => server.stats().keys?.running === 1, 5000);
    collect();
    const before = heldBytes();
    const refusedBefore = server.stats().methods[echo]?.rejected.OVERLOADED ?? 0;
    // Oneway requests from connections closed right after, 100 each [LIMIT-5] [DRAIN-15], until the
    // bound refuses one, or what they hold is already too much.
    let tooMuch = false;
    for (let sent = 0; (server.stats().methods[echo]?.rejected.OVERLOADED ?? 0) === refusedBefore && !(tooMuch = await holdsMoreThan(collect, before, 2 * bound)); ) {
      const sender = createClient(ConformanceService, { address });
      const total = server.stats().requests.total;
      for (let i = 0; i < 100; i++, sent++) {
        const [input, options] = request(sent);
        // No deadline: one that passed would break the chain, and what came after would run at once.
        void sender.$oneway.echo(input, { ...options, timeoutMs: Infinity });
      }
      await waitUntil(() => server.stats().requests.total === total + 100, 10_000);
      await sender.$close();
      // Measured once the server has let the connection go: not its reads still in progress.
      await waitUntil(() => server.stats().connections.current === 1, 5000);
    }
    collect();
    const grew = heldBytes() - before;
    const waiting = server.stats().keys!.waiting;
    assert.ok(!tooMuch && !(await holdsMoreThan(collect, before, 2 * bound)), `${shape}: ${waiting} waiting requests hold ${(grew / 2 ** 20).toFixed(0)} MiB against a bound of ${bound / 2 ** 20} MiB`);
    release.abort();
    await held;
    await waitUntil(() => server.stats().keys?.waiting === 0 && server.stats().keys?.running === 0, 20_000);
  }
  await holder.$close();
  await server.close({ graceMs: 0 });
});

test("[DRAIN-15] closed connections kept for their waiting oneway requests are let go once those have run, with no other connection closing after them", async () => {
  const { service, impl } = conformanceService();
  const server = createServer().addBuiltinService(service, impl);
  const address = await server.listen("127.0.0.1:0");
  const holder = createClient(ConformanceService, { address });
  const release = new AbortController();
  const held = holder.sleep({ ms: 60_000, tag: "h" }, { keys: ["h"], signal: release.signal, timeoutMs: 120_000 }).catch((error: unknown) => error);
  await waitUntil(() => server.stats().keys?.running === 1, 5000);
  const n = 50;
  const body = toBinary(RecordRequestSchema, create(RecordRequestSchema, { tag: "r" }));
  for (let i = 0; i < n; i++) {
    const peer = await RawPeer.connect(address);
    // Chained, so that no key's queue fills [KEYS-8]: each waits behind the one before.
    peer.send({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "Record", callMode: CallMode.ONEWAY, keys: [i === 0 ? "h" : `c${i - 1}`, `c${i}`] }, body);
    await waitUntil(() => server.stats().keys?.waiting === i + 1, 5000);
    peer.destroy();
  }
  await waitUntil(() => server.stats().connections.current === 1, 10_000);
  assert.is(server.stats().connections.lingering, n);
  release.abort();
  await held;
  await waitUntil(() => server.stats().keys?.waiting === 0 && server.stats().keys?.running === 0, 10_000);
  // Let go as their last request leaves, not at the next connection's close (which had kept them until then).
  await waitUntil(() => server.stats().connections.lingering === 0, 5000);
  await holder.$close();
  await server.close({ graceMs: 0 });
});

test("[KEYS-11] the bound never refuses the only request: one of 100 KB waiting for a key under a bound of 64 KiB waits and runs; a second one meanwhile is refused", async () => {
  const { impl, log } = testService();
  const server = createServer({ maxKeyWaitingBytes: 64 * 1024 }).addService(TestService, impl);
  const address = await server.listen("memory:");
  const holder = createClient(TestService, { address });
  const release = new AbortController();
  const held = holder.wait({ ms: 60_000, tag: "holder" }, { keys: ["k"], signal: release.signal, timeoutMs: 120_000 }).catch((error: unknown) => error);
  await waitUntil(() => server.stats().keys?.running === 1, 5000);
  const client = createClient(TestService, { address });
  const alone = client.record({ tag: "alone".padEnd(100_000, "x") }, { keys: ["k"], timeoutMs: 30_000 }).then(
    () => "ran",
    (error: unknown) => String(error),
  );
  await waitUntil(() => server.stats().keys?.waiting === 1, 5000);
  const second = await rpcFailure(client.record({ tag: "second" }, { keys: ["k"] }));
  assert.equal([second.code, second.processed], ["OVERLOADED", "no"]);
  release.abort();
  await held;
  assert.is(await alone, "ran");
  assert.ok(log.recorded.some((tag) => tag.startsWith("alone")));
  await client.$close();
  await holder.$close();
  await server.close({ graceMs: 0 });
});

test.run();
