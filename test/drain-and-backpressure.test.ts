// Server drain under load and write-side backpressure, against the reference
// server over real sockets on 127.0.0.1. Cites [DRAIN-2] [DRAIN-3] [DRAIN-8]
// [DRAIN-16] [SEC-1] [SEC-6] [FRAME-22] [DEADLINE-10].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { create, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema } from "./gen/stratatest/v1/testing_pb.ts";
import { CallMode, createClient, DispatchCode, createFrameDecoder, createServer, encodeFrame, encodeHello, encodePreface, FrameType, memoryPair, PREFACE_SIZE, RpcError, type Frame, type Transport } from "../src/node.ts";
import { RawPeer } from "./support/raw-peer.ts";
import { TestService, testService } from "./support/test-service.ts";

const test = suite("drain and backpressure");
const SERVICE = "stratatest.v1.TestService";

/** Resolves with `promise`, or rejects once `ms` have passed, naming `what`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Waits until `check()` holds, re-checking every few ms, for at most `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

test("[DRAIN-2] [DRAIN-3] [DRAIN-16] graceful drain under load: no call lost, none executed twice", async () => {
  const { impl, log } = testService();
  const server = createServer({ maxConcurrentRequests: 0 }).addService(TestService, impl);
  const address = await server.listen("127.0.0.1:0");
  // Calls that come after the GOAWAY find no listener and fail CONNECT_FAILED
  // at once, not processed [HELLO-9]; the deadline stays far above the delays.
  const client = createClient(TestService, { address, timeoutMs: 2500, backoff: { initialMs: 20, maxMs: 100 } });
  type Outcome = { text: string; ok: boolean; error?: RpcError };
  const outcomes: Outcome[] = [];
  const calls: Promise<void>[] = [];
  const issue = (text: string, delayMs: number) => {
    const outcome: Outcome = { text, ok: false };
    outcomes.push(outcome);
    calls.push(
      client.echo({ text, delayMs }).then(
        (reply) => {
          assert.is(reply.text, text);
          outcome.ok = true;
        },
        (error: unknown) => {
          if (!RpcError.is(error)) throw error;
          outcome.error = error;
        },
      ),
    );
  };

  const total = 500;
  let closed: Promise<void> | undefined;
  for (let i = 0; i < total; i++) {
    if (i === total / 2) {
      // A call whose handler is known to be running when the drain starts: it
      // is at or below last_request_id, so it must complete normally [DRAIN-2].
      issue("anchor", 500);
      await until(() => log.echoed.includes("anchor"), 3000, "the anchor call reached its handler");
      closed = server.close({ graceMs: 5000 });
    }
    issue(`call-${i}`, Math.floor(Math.random() * 20));
    if (i % 5 === 4) await tick();
  }
  await within(Promise.all(calls), 10_000, "the calls");
  await within(closed!, 8000, "server.close()");
  client.$close();

  // Every call either succeeded or provably did not run.
  const succeeded = outcomes.filter((o) => o.ok);
  const failed = outcomes.filter((o) => !o.ok);
  for (const o of failed) {
    assert.ok(o.error !== undefined, `${o.text} neither succeeded nor failed with an RpcError`);
    assert.is(o.error!.processed, "no", `${o.text} failed with processed = ${o.error!.processed}: ${o.error!.message}`);
  }
  // Executed at most once; each success exactly once, each "no" never.
  const executions = new Map<string, number>();
  for (const text of log.echoed) executions.set(text, (executions.get(text) ?? 0) + 1);
  const twice = [...executions].filter(([, n]) => n > 1).map(([text]) => text);
  assert.equal(twice, [], "texts executed more than once");
  for (const o of succeeded) assert.is(executions.get(o.text), 1, `${o.text} succeeded but ran ${executions.get(o.text) ?? 0} times`);
  for (const o of failed) assert.not.ok(executions.has(o.text), `${o.text} failed with processed = no, yet its handler ran`);
  assert.is(log.echoed.length, succeeded.length, "the handler ran exactly for the calls that succeeded");

  // The drain happened mid-load: calls in flight finished, later ones were refused.
  assert.ok(outcomes.find((o) => o.text === "anchor")!.ok, "the call running at the GOAWAY completed [DRAIN-2]");
  assert.ok(succeeded.length > total / 2, `${succeeded.length} calls succeeded`);
  assert.ok(failed.length > 0, "no call was refused: the drain did not overlap the load");
  // Requests already on their way when the GOAWAY left were refused unprocessed [DRAIN-8].
  const refused = server.stats().methods[`${SERVICE}/Echo`]!.rejected["SHUTTING_DOWN"] ?? 0;
  assert.ok(refused > 0, "no request arrived above last_request_id");
  assert.is(server.stats().connections.current, 0);
});

test("[SEC-1] backpressure: a client that stops reading does not make the server buffer without bound", async () => {
  const { impl } = testService();
  // No concurrency limit, the reference configuration: what must bound the
  // output here is the high-water mark itself, not OVERLOADED refusals.
  const server = createServer({ maxConcurrentRequests: 0 }).addService(TestService, impl);
  const address = await server.listen("127.0.0.1:0");
  const peer = await RawPeer.connect(address);
  try {
    const rssBefore = process.memoryUsage().rss;
    peer.pause();
    const count = 3000;
    const payloadSize = 65536;
    const body = toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "x", payloadSize }));
    for (let id = 1; id <= count; id++) {
      peer.send({ type: FrameType.REQUEST, requestId: id, service: SERVICE, method: "Echo", callMode: CallMode.UNARY }, body);
    }
    // Wait until the server stops taking requests: the count holds still for several polls.
    const deadline = performance.now() + 5000;
    let last = -1;
    let stableFor = 0;
    let peakRss = rssBefore;
    while (stableFor < 5 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const seen = server.stats().requests.total;
      stableFor = seen === last ? stableFor + 1 : 0;
      last = seen;
    }
    assert.ok(stableFor >= 5, `the server kept reading requests for 5 s (${last} so far)`);
    assert.ok(last > 0, "the server read no request at all");
    assert.ok(last < count / 5, `the server read ${last} of ${count} requests from a peer that reads nothing`);
    const growthMiB = (peakRss - rssBefore) / (1024 * 1024);
    assert.ok(growthMiB < 100, `rss grew by ${growthMiB.toFixed(1)} MiB; all responses would be ${(count * payloadSize) / (1024 * 1024)} MiB`);
  } finally {
    peer.destroy();
    await within(server.close({ graceMs: 500 }), 5000, "server.close()");
  }
});

test("[SEC-6] input that arrives while frames wait is kept as it came, not decoded ahead: one 1 MiB read of 6-byte frames behind 256 requests makes no frame objects", async () => {
  const server = createServer({ maxConcurrentRequests: 0, idleTimeoutMs: 0 }).addService(TestService, testService().impl);
  const echo = (id: number) => encodeFrame({ type: FrameType.REQUEST, requestId: id, service: SERVICE, method: "Echo", callMode: CallMode.UNARY }, toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "x", payloadSize: 16 * 1024 })));
  // A frame of an unknown type, which a receiver ignores [FRAME-8]: 6 bytes on the wire.
  const unknown = Uint8Array.of(0, 0, 0, 2, 0x08, 0x63);
  const peers: Transport[] = [];
  // The first peer counts the RESPONSEs it gets once it reads again.
  const answered: number[] = [];
  const responses = createFrameDecoder({ limits: { maxHeaderSize: 4096, maxBodySize: 1024 * 1024 }, onFrame: (frame) => frame.header.type === FrameType.RESPONSE && answered.push(frame.header.requestId) });
  let prefaceLeft = PREFACE_SIZE;
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < 8; i++) {
    // One read carries it all, as one WebSocket message does.
    const [peer, end] = memoryPair({ chunkBytes: 2 * 1024 * 1024 });
    const counts = i === 0;
    peer.start({
      data: (chunk) => {
        if (!counts) return;
        const skipped = Math.min(prefaceLeft, chunk.length);
        prefaceLeft -= skipped;
        responses.push(chunk.subarray(skipped));
      },
      closed: () => {},
      drain: () => {},
    });
    peer.pause!(); // reads nothing: the responses fill the server's output
    server.serve(end);
    const parts = [encodePreface(), encodeFrame({ type: FrameType.HELLO }, encodeHello({ pingIntervalMs: 60_000 }))];
    // The 256th request makes the server yield, and the 16 KiB responses pass its high-water mark.
    for (let id = 1; id <= 256; id++) parts.push(echo(id));
    for (let n = 0; n < 170_000; n++) parts.push(unknown);
    parts.push(echo(257)); // after them all: answered once the rest has been decoded, in order
    const bytes = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
    let at = 0;
    for (const part of parts) {
      bytes.set(part, at);
      at += part.length;
    }
    peer.write(bytes);
    peers.push(peer);
    // The server has taken the whole read once nothing is left for it in the pipe.
    await until(() => peer.bufferedAmount === 0, 10_000, "the server reading what was sent");
  }
  const grewMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  // Decoded ahead, the 1.36 million frames held some 600 MiB of heap; kept as bytes, the 8 MiB are buffers, not heap.
  assert.ok(grewMiB < 64, `the heap grew by ${grewMiB.toFixed(0)} MiB while 8 MiB waited`);
  peers[0]!.resume!();
  await until(() => answered.length === 257, 20_000, "every request of the peer that reads again answered");
  assert.equal(answered, Array.from({ length: 257 }, (_, i) => i + 1), "in order");
  for (const peer of peers) peer.destroy();
  await server.close({ graceMs: 0 });
});

/** The server end without pause and resume: a socket that cannot stop reading (ws delivers the rest of a read after pause()). */
function unpausable(end: Transport): Transport {
  return {
    get info() {
      return end.info;
    },
    get bufferedAmount() {
      return end.bufferedAmount;
    },
    write: (bytes, owned) => end.write(bytes, owned),
    start: (handlers) => end.start(handlers),
    end: () => end.end(),
    destroy: () => end.destroy(),
  };
}

/**
 * A memory pair whose peer end decodes the server's frames (after its preface) into `onFrame`, and
 * reads nothing until resumed: the server's responses wait in its output.
 */
function nonReadingPeer(onFrame: (frame: Frame) => void): [Transport, Transport] {
  const [peer, end] = memoryPair({ highWaterMark: 64 * 1024 });
  const frames = createFrameDecoder({ limits: { maxHeaderSize: 16384, maxBodySize: 8 * 1024 * 1024 }, onFrame });
  let prefaceLeft = PREFACE_SIZE;
  peer.start({
    data: (chunk) => {
      const skipped = Math.min(prefaceLeft, chunk.length);
      prefaceLeft -= skipped;
      frames.push(chunk.subarray(skipped));
    },
    closed: () => {},
    drain: () => {},
  });
  peer.pause!();
  return [peer, end];
}

/** A unary Echo REQUEST asking for a `payloadSize`-byte response. */
function echoRequest(id: number, payloadSize: number, timeoutMs?: number): Uint8Array {
  return encodeFrame({ type: FrameType.REQUEST, requestId: id, service: SERVICE, method: "Echo", callMode: CallMode.UNARY, timeoutMs }, toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "x", payloadSize })));
}

/** The client's side of the handshake: preface and HELLO. */
const handshake = () => [encodePreface(), encodeFrame({ type: FrameType.HELLO }, encodeHello({ pingIntervalMs: 60_000 }))];

for (const pauses of [true, false]) {
  test(`[FRAME-22] [FRAME-19] [SEC-6] a frame whose bytes all came within 50 ms is not timed out while the server itself holds it back (its output waits; the server's transport ${pauses ? "pauses" : "cannot pause"})`, async () => {
    const server = createServer({ frameTransferTimeoutMs: 300, idleTimeoutMs: 0, maxConcurrentRequests: 0 }).addService(TestService, testService().impl);
    const seen: string[] = [];
    // Reads nothing for now: the 256 KiB response passes the server's mark.
    const [peer, end] = nonReadingPeer((f) => seen.push(f.header.type === FrameType.GOAWAY ? `GOAWAY ${new TextDecoder().decode(f.body)}` : `${f.header.type}#${f.header.requestId}`));
    server.serve(pauses ? end : unpausable(end));
    const second = echoRequest(2, 10);
    for (const part of [...handshake(), echoRequest(1, 256 * 1024), second.subarray(0, 10)]) peer.write(part);
    await new Promise((resolve) => setTimeout(resolve, 50));
    peer.write(second.subarray(10)); // all of request 2, 50 ms after its first bytes
    // Longer than the 300 ms transfer timeout, with the server holding the frame all along.
    await new Promise((resolve) => setTimeout(resolve, 700));
    peer.resume!();
    await until(() => seen.some((f) => f === `${FrameType.RESPONSE}#2` || f.startsWith("GOAWAY")), 5000, "request 2 answered, or a GOAWAY");
    assert.equal(seen.filter((f) => f.startsWith("GOAWAY")), [], "no [FRAME-19] GOAWAY");
    peer.destroy();
    await server.close({ graceMs: 0 });
  });
}

test("[DEADLINE-10] [DEADLINE-2] [SEC-6] requests the server took while its output waited are dated by when they came, not by when it decoded them", async () => {
  const server = createServer({ idleTimeoutMs: 0, maxConcurrentRequests: 0 }).addService(TestService, testService().impl);
  const answers = new Map<number, number>();
  // The 256 KiB response passes the server's mark: it handles no more frames.
  const [peer, end] = nonReadingPeer((f) => void (f.header.type === FrameType.RESPONSE && answers.set(f.header.requestId, f.header.dispatchCode)));
  server.serve(unpausable(end)); // and its transport cannot stop taking bytes: they are kept [SEC-6]
  for (const part of [...handshake(), echoRequest(1, 256 * 1024, 60_000)]) peer.write(part);
  await until(() => end.bufferedAmount > 64 * 1024, 5000, "request 1's response waiting in the server");
  peer.write(echoRequest(2, 10, 200));
  peer.write(echoRequest(3, 10, 60_000));
  // Past request 2's 200 ms, with the server holding it all along.
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.is(answers.size, 0, "nothing answered while the peer reads nothing");
  peer.resume!();
  await until(() => answers.size === 3, 5000, "all three requests answered");
  assert.is(answers.get(2), DispatchCode.DEADLINE_EXPIRED, "request 2 expired while kept: its deadline ran from its arrival");
  assert.is(answers.get(3), DispatchCode.OK);
  peer.destroy();
  await server.close({ graceMs: 0 });
});

test.run();
