// The reference server and client over real sockets on 127.0.0.1: call
// modes, multiplexing, statuses of every layer, deadlines and cancellation.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { create, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema, RecordRequestSchema } from "./gen/stratatest/v1/testing_pb.ts";
import {
  CallMode,
  Compression,
  createClient,
  createServer,
  DispatchCode,
  FrameType,
  RpcError,
  type Client,
  type FrameHeaderInit,
  type Server,
} from "../src/node.ts";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { RawPeer } from "./support/raw-peer.ts";
import { encodeFrame } from "../src/wire/index.ts";
import { memoryTransport, type Transport, type TransportFactory } from "../src/transport/index.ts";
import { TestService, testService, type TestLog } from "./support/test-service.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { checkProperty } from "./support/property.ts";
import { waitUntil } from "./support/wait.ts";
import fc from "fast-check";

const test = suite("rpc calls");
const SERVICE = "stratatest.v1.TestService";

type TestMethods = typeof TestService extends GenService<infer M> ? M : never;

interface Context {
  server: Server;
  address: string;
  log: TestLog;
  client: Client<TestMethods>;
}
const ctx = {} as Context;

test.before.each(async () => {
  const { impl, log } = testService();
  ctx.log = log;
  ctx.server = createServer({ maxConcurrentRequests: 2000 }).addService(TestService, impl);
  ctx.address = await ctx.server.listen("memory:");
  ctx.client = createClient(TestService, { address: ctx.address });
});

test.after.each(async () => {
  ctx.client.$close();
  await ctx.server.close({ graceMs: 500 });
});

function echoBody(init: Parameters<typeof create<typeof EchoRequestSchema>>[1] = {}): Uint8Array {
  return toBinary(EchoRequestSchema, create(EchoRequestSchema, init));
}

test("[CALL-8] [ID-1] 1,000 concurrent calls with random delays on one connection complete out of order, each matched to its caller", async () => {
  const order: number[] = [];
  const calls = Array.from({ length: 1000 }, async (_, i) => {
    const delayMs = Math.floor(Math.random() * 30);
    const response = await ctx.client.echo({ text: `call-${i}`, delayMs });
    assert.is(response.text, `call-${i}`);
    order.push(i);
    return Number(response.requestId);
  });
  const ids = await Promise.all(calls);
  assert.is(new Set(ids).size, 1000, "every call had its own request id");
  assert.ok(order.some((value, index) => value !== index), "responses arrived out of order");
  assert.is(ctx.server.stats().connections.accepted, 1, "one multiplexed connection");
});

test("[FRAME-1] [FRAME-2] bodies on both sides of the size at which a body is written apart from its head arrive intact", async () => {
  for (const size of [0, 8185, 8186, 8200, 70_000, 1_000_000]) {
    const text = "é".repeat(size >> 1) + "x".repeat(size & 1);
    const reply = await ctx.client.echo({ text, payloadSize: size });
    assert.is(reply.text, text, `request of about ${size} bytes`);
    assert.is(reply.payload.length, size, `response of about ${size} bytes`);
  }
});

test("[CALL-4] [CALL-5] a oneway call runs, and the server sends no frame back for it", async () => {
  const peer = await RawPeer.connect(ctx.address);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "Record", callMode: CallMode.ONEWAY }, toBinary(RecordRequestSchema, create(RecordRequestSchema, { tag: "one" })));
  // Also a oneway call that fails dispatch: still nothing back.
  peer.send({ type: FrameType.REQUEST, requestId: 2, service: SERVICE, method: "Nope", callMode: CallMode.ONEWAY });
  peer.send({ type: FrameType.REQUEST, requestId: 3, service: SERVICE, method: "Echo" }, echoBody({ text: "after" }));
  const response = await peer.waitFor((f) => f.header.type === FrameType.RESPONSE);
  assert.is(response.header.requestId, 3);
  assert.equal(ctx.log.recorded, ["one"]);
  assert.equal(peer.frames.filter((f) => f.header.requestId === 1 || f.header.requestId === 2), []);
  peer.destroy();
  await ctx.client.$oneway.record({ tag: "two" });
  assert.equal((await ctx.client.recorded({})).tags, ["one", "two"]);
});

test("[CALL-6] [CALL-7] an acked call gets its ACK before the handler finishes, then its result", async () => {
  const peer = await RawPeer.connect(ctx.address);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "Echo", callMode: CallMode.ACKED }, echoBody({ text: "later", delayMs: 100 }));
  await peer.waitFor((f) => f.header.type === FrameType.RESPONSE);
  assert.equal(peer.frames.filter((f) => f.header.requestId === 1).map((f) => f.header.type), [FrameType.ACK, FrameType.RESPONSE]);
  peer.destroy();
  const pending = await ctx.client.$acked.echo({ text: "acked", delayMs: 50 });
  assert.equal(ctx.log.echoed.includes("acked"), true, "accepted and started");
  assert.is((await pending.result).text, "acked");
  // A dispatch failure comes instead of the ACK: the acked promise rejects.
  const refusing = await RawPeer.connect(ctx.address);
  refusing.send({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "Echo", callMode: CallMode.ACKED, timeoutMs: 0 }, echoBody({ text: "x" }));
  const refusal = await refusing.waitFor((f) => f.header.type === FrameType.RESPONSE);
  assert.is(refusal.header.dispatchCode, DispatchCode.DEADLINE_EXPIRED);
  assert.equal(refusing.frames.filter((f) => f.header.requestId === 1).map((f) => f.header.type), [FrameType.RESPONSE]);
  refusing.destroy();
  const error = await rpcFailure(ctx.client.$acked.echo({ text: "x" }, { timeoutMs: 0 }));
  assert.is(error.processed, "no");
});

test("[CALL-6] [DEADLINE-3] an acked request whose deadline passes while its body arrives gets no ACK, only DEADLINE_EXPIRED", async () => {
  const peer = await RawPeer.connect(ctx.address);
  const frame = encodeFrame({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "Echo", callMode: CallMode.ACKED, timeoutMs: 50 }, echoBody({ text: "late" }));
  // The header (and so the deadline) arrives now, the body's last byte after the deadline has passed.
  peer.write(frame.subarray(0, frame.length - 1));
  await new Promise((resolve) => setTimeout(resolve, 150));
  peer.write(frame.subarray(frame.length - 1));
  const answer = await peer.waitFor((f) => f.header.type === FrameType.RESPONSE);
  assert.is(answer.header.dispatchCode, DispatchCode.DEADLINE_EXPIRED);
  assert.equal(peer.frames.filter((f) => f.header.requestId === 1).map((f) => f.header.type), [FrameType.RESPONSE], "no ACK before the refusal");
  assert.equal(ctx.log.echoed.includes("late"), false, "never ran");
  peer.destroy();
});

test("[DEADLINE-5] [DEADLINE-6] the deadline covers encoding: a call whose deadline passes while its request is encoded is never written", async () => {
  const text = "x".repeat(2 << 20);
  await ctx.client.echo({ text: "connected" });
  const received = ctx.server.stats().requests.total;
  for (let i = 0; i < 5; i++) {
    const error = await rpcFailure(ctx.client.echo({ text }, { timeoutMs: 0.001 }));
    assert.is(error.code, "TIMEOUT");
    assert.is(error.processed, "no");
  }
  await ctx.client.echo({ text: "after" });
  assert.is(ctx.server.stats().requests.total, received + 1, "only the call after them reached the server");
});

test("[CALL-9] a batch reports one three-layer status per call", async () => {
  const results = await ctx.client.$batch((calls) => [
    calls.echo({ text: "a" }),
    calls.echo({ appCode: 9, appMessage: "nine" }),
    calls.echo({ throwPlainError: true }),
    calls.echo({ text: "slow", delayMs: 300 }, { timeoutMs: 50 }),
  ] as const);
  assert.is(results[0].ok, true);
  assert.is(results[0].value?.text, "a");
  assert.equal(results[1].application, { code: 9, message: "nine", details: [] });
  assert.equal(results[1].dispatch, { code: "OK", message: "" });
  assert.is(results[2].dispatch?.code, "HANDLER_ERROR");
  assert.is(results[2].application, undefined);
  assert.is(results[3].transport?.code, "TIMEOUT");
  assert.is(results[3].dispatch, undefined);
});

test("[STATUS-8] application errors round-trip with whitespace and unicode beyond the BMP, byte for byte", async () => {
  for (const message of ["  leading and trailing  ", "tab\tnew\nline", "😀 𝄞 é", ""]) {
    const error = await rpcFailure(ctx.client.echo({ appCode: 4294967295, appMessage: message }));
    assert.is(error.layer, "application");
    assert.is(error.code, 4294967295);
    assert.is(error.rawMessage, message);
    assert.is(error.processed, "yes");
  }
});

test("[STATUS-5] [STATUS-11] a plain handler exception is HANDLER_ERROR with a safe message, processed maybe", async () => {
  const error = await rpcFailure(ctx.client.echo({ throwPlainError: true }));
  assert.is(error.layer, "dispatch");
  assert.is(error.code, "HANDLER_ERROR");
  assert.is(error.processed, "maybe");
  assert.not.ok(error.rawMessage.includes("secret"), "no internals leak to the caller");
});

test("[STATUS-4] [STATUS-6] every reachable not-processed dispatch code, and the handler never runs", async () => {
  const peer = await RawPeer.connect(ctx.address);
  const cases: Array<[string, Omit<FrameHeaderInit, "type">, Uint8Array | undefined, number]> = [
    ["unknown service", { service: "no.such.Service", method: "Echo" }, undefined, DispatchCode.UNKNOWN_SERVICE],
    ["unknown method", { service: SERVICE, method: "Nope" }, undefined, DispatchCode.UNKNOWN_METHOD],
    ["body is not the input", { service: SERVICE, method: "Echo" }, Uint8Array.of(0x0a, 0x05, 0x61), DispatchCode.INVALID_ARGUMENT],
    ["empty method", { service: SERVICE, method: "" }, undefined, DispatchCode.INVALID_REQUEST],
    ["unknown call mode", { service: SERVICE, method: "Echo", callMode: 7 as CallMode }, undefined, DispatchCode.INVALID_REQUEST],
    ["bad metadata key", { service: SERVICE, method: "Echo", metadata: [{ key: "Upper", value: new Uint8Array(0) }] }, undefined, DispatchCode.INVALID_REQUEST],
    ["key over 256 bytes", { service: SERVICE, method: "Echo", keys: ["k".repeat(257)] }, undefined, DispatchCode.INVALID_REQUEST],
    ["17 keys", { service: SERVICE, method: "Echo", keys: Array.from({ length: 17 }, (_, i) => `k${i}`) }, undefined, DispatchCode.INVALID_REQUEST],
    ["compression not offered", { service: SERVICE, method: "Echo", compression: 77 as Compression }, undefined, DispatchCode.UNSUPPORTED],
    ["gzip body that does not decompress", { service: SERVICE, method: "Echo", compression: Compression.GZIP }, undefined, DispatchCode.INVALID_ARGUMENT],
    ["deadline already expired", { service: SERVICE, method: "Echo", timeoutMs: 0 }, echoBody({ text: "expired" }), DispatchCode.DEADLINE_EXPIRED],
  ];
  let id = 0;
  for (const [name, header, body, code] of cases) {
    id++;
    peer.send({ ...header, type: FrameType.REQUEST, requestId: id }, body ?? echoBody({ text: name }));
    const response = await peer.waitFor((f) => f.header.requestId === id);
    assert.is(response.header.dispatchCode, code, `${name}: ${response.header.dispatchMessage}`);
    assert.ok(response.header.dispatchMessage.length > 0, `${name}: the message names the cause`);
  }
  assert.equal(ctx.log.echoed, [], "no handler ran");
  peer.destroy();
});

test("[CALL-10] a request that fails several admission checks is answered with the code of one of them, and never runs", async () => {
  // Each failing check: how it breaks the header, and the code it calls for (spec 7.5).
  const checks: Array<[string, Partial<FrameHeaderInit>, DispatchCode]> = [
    ["unknown call mode", { callMode: 7 as CallMode }, DispatchCode.INVALID_REQUEST],
    ["bad metadata key", { metadata: [{ key: "Upper", value: new Uint8Array(0) }] }, DispatchCode.INVALID_REQUEST],
    ["17 keys", { keys: Array.from({ length: 17 }, (_, i) => `k${i}`) }, DispatchCode.INVALID_REQUEST],
    ["compression not offered", { compression: 77 as Compression }, DispatchCode.UNSUPPORTED],
    ["deadline already passed", { timeoutMs: 0 }, DispatchCode.DEADLINE_EXPIRED],
    ["unknown service", { service: "no.such.Service" }, DispatchCode.UNKNOWN_SERVICE],
  ];
  const peer = await RawPeer.connect(ctx.address);
  let id = 0;
  await checkProperty(
    fc.asyncProperty(fc.subarray(checks, { minLength: 2 }), async (failing) => {
      id++;
      const header = Object.assign({ type: FrameType.REQUEST, requestId: id, service: SERVICE, method: "Echo" }, ...failing.map(([, broken]) => broken)) as FrameHeaderInit;
      peer.send(header, echoBody({ text: `several ${id}` }));
      const response = await peer.waitFor((f) => f.header.requestId === id);
      const allowed = failing.map(([, , code]) => code);
      assert.ok(allowed.includes(response.header.dispatchCode), `${failing.map(([name]) => name).join(" + ")}: got ${response.header.dispatchCode}, allowed ${allowed.join(", ")}`);
    }),
    { numRuns: 30 },
  );
  assert.equal(ctx.log.echoed, [], "no handler ran");
  peer.destroy();
});

test("[LIMIT-5] over max_concurrent_requests: OVERLOADED, not processed", async () => {
  const { impl, log } = testService();
  const server = createServer({ maxConcurrentRequests: 2 }).addService(TestService, impl);
  const address = await server.listen("memory:");
  const peer = await RawPeer.connect(address);
  for (let id = 1; id <= 3; id++) {
    peer.send({ type: FrameType.REQUEST, requestId: id, service: SERVICE, method: "Echo" }, echoBody({ text: `t${id}`, delayMs: 200 }));
  }
  const third = await peer.waitFor((f) => f.header.requestId === 3);
  assert.is(third.header.dispatchCode, DispatchCode.OVERLOADED);
  assert.equal(log.echoed, ["t1", "t2"]);
  peer.destroy();
  await server.close({ graceMs: 100 });
});

test("[LIMIT-5] over the server-wide limit (across connections): OVERLOADED, not processed", async () => {
  const { impl, log } = testService();
  const server = createServer({ maxServerRequests: 1 }).addService(TestService, impl);
  const address = await server.listen("memory:");
  const a = createClient(TestService, { address });
  const b = createClient(TestService, { address });
  const slow = a.echo({ text: "slow", delayMs: 200 });
  await waitUntil(() => log.echoed.length === 1);
  const error = await rpcFailure(b.echo({ text: "refused" }));
  assert.is(error.code, "OVERLOADED");
  assert.is(error.processed, "no");
  assert.is((await slow).text, "slow");
  assert.equal(log.echoed, ["slow"]);
  a.$close();
  b.$close();
  await server.close({ graceMs: 100 });
});

test("[CALL-4] [LIMIT-5] a oneway call is written at once even while unary calls queue for the server's max_concurrent_requests", async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const server = createServer({ maxConcurrentRequests: 1 }).addService(TestService, {
    ...testService().impl,
    echo: async (request) => {
      await held;
      return { text: request.text };
    },
  });
  const client = createClient(TestService, { address: await server.listen("memory:") });
  const running = client.echo({ text: "running" });
  const queued = client.echo({ text: "queued" }); // waits in the client's queue: the server has one slot
  await client.$oneway.record({ tag: "oneway" }, { timeoutMs: 2000 });
  release();
  assert.is((await running).text, "running");
  assert.is((await queued).text, "queued");
  await client.$close();
  await server.close({ graceMs: 100 });
});

test("[SEC-1] the client honours backpressure: after write() returns false it writes no request until the transport drains, and every call is answered", async () => {
  const events: string[] = [];
  /** memory:NAME with a 1 KiB high-water mark, noting each request write, its result, and each drain. */
  const tiny: TransportFactory = {
    listen: (address, options, accept) => memoryTransport.listen(address, options, accept),
    async connect(address) {
      const inner = await memoryTransport.connect(`memory:${address.slice(5)}`, { highWaterMark: 1024 });
      const wrapped: Transport = {
        info: inner.info,
        get bufferedAmount() {
          return inner.bufferedAmount;
        },
        write(bytes) {
          const ok = inner.write(bytes);
          if (bytes.length > 1000) events.push(ok ? "write" : "write-full");
          return ok;
        },
        start: (handlers) => inner.start({ ...handlers, drain: () => (events.push("drain"), handlers.drain()) }),
        end: () => inner.end(),
        destroy: () => inner.destroy(),
      };
      return wrapped;
    },
  };
  const server = createServer().addService(TestService, testService().impl);
  const address = await server.listen("memory:");
  // Identity bodies: 4 KiB of "x" would go out as a few dozen gzip bytes and never fill the buffer.
  const client = createClient(TestService, { address: `tiny:${address.slice(7)}`, transports: { tiny }, gzip: false });
  const text = "x".repeat(4096);
  const replies = await Promise.all(Array.from({ length: 20 }, () => client.echo({ text })));
  assert.is(replies.length, 20);
  assert.ok(replies.every((r) => r.text === text));
  const firstFull = events.indexOf("write-full");
  assert.ok(firstFull >= 0, `some write reported a full buffer: ${events.join(" ")}`);
  for (let i = 0; i < events.length; i++) {
    if (events[i] !== "write-full") continue;
    const next = events[i + 1];
    assert.ok(next === undefined || next === "drain", `after a full buffer, ${next} came before the drain: ${events.join(" ")}`);
  }
  await client.$close();
  await server.close({ graceMs: 0 });
});

test("[LIMIT-5] [HELLO-7] the client queues calls beyond the server's max_concurrent_requests instead of provoking OVERLOADED", async () => {
  let running = 0;
  let peak = 0;
  const server = createServer({ maxConcurrentRequests: 3 }).addService(TestService, {
    echo: async (request) => {
      peak = Math.max(peak, ++running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      return { text: request.text };
    },
  });
  const client = createClient(TestService, { address: await server.listen("memory:") });
  const texts = await Promise.all(Array.from({ length: 30 }, (_, i) => client.echo({ text: `q${i}` }).then((r) => r.text)));
  assert.equal(texts, Array.from({ length: 30 }, (_, i) => `q${i}`));
  assert.is(peak, 3, "never more than the server's limit at once");
  // A call that times out while queued was never written: not processed.
  const slow = createServer({ maxConcurrentRequests: 1 }).addService(TestService, testService().impl);
  const slowClient = createClient(TestService, { address: await slow.listen("memory:") });
  const first = slowClient.echo({ delayMs: 300 });
  const queued = await rpcFailure(slowClient.echo({ text: "queued" }, { timeoutMs: 50 }));
  assert.is(queued.code, "TIMEOUT");
  assert.is(queued.processed, "no");
  await first;
  client.$close();
  slowClient.$close();
  await Promise.all([server.close({ graceMs: 100 }), slow.close({ graceMs: 100 })]);
});

test("[LIMIT-4] a response larger than the client accepts: RESPONSE_TOO_LARGE, processed yes", async () => {
  const small = createClient(TestService, { address: ctx.address, limits: { maxBodySize: 65536 } });
  const error = await rpcFailure(small.echo({ payloadSize: 100_000 }));
  assert.is(error.code, "RESPONSE_TOO_LARGE");
  assert.is(error.processed, "yes");
  assert.is((await small.echo({ payloadSize: 60_000 })).payload.length, 60_000);
  small.$close();
});

test("[LIMIT-4] a request larger than the server accepts fails locally: LIMIT_EXCEEDED, not processed", async () => {
  const { impl } = testService();
  const server = createServer({ limits: { maxBodySize: 65536 } }).addService(TestService, impl);
  const client = createClient(TestService, { address: await server.listen("memory:") });
  const error = await rpcFailure(client.echo({ text: "x".repeat(70_000) }));
  assert.is(error.layer, "transport");
  assert.is(error.code, "LIMIT_EXCEEDED");
  assert.is(error.processed, "no");
  client.$close();
  await server.close({ graceMs: 100 });
});

test("[DEADLINE-1] [DEADLINE-2] the handler sees the remaining time the client sent", async () => {
  const response = await ctx.client.echo({ text: "t" }, { timeoutMs: 1500 });
  assert.ok(response.remainingMs > 1000 && response.remainingMs <= 1500, `remaining ${response.remainingMs}`);
  const none = await ctx.client.echo({ text: "t" }, { timeoutMs: 2 ** 31 });
  assert.ok(none.remainingMs > 1500);
});

test("[DEADLINE-7] [DEADLINE-9] a call without a deadline reaches the handler without one; a finite time past uint32 is capped", async () => {
  const { impl } = testService();
  const seen: Array<number | undefined> = [];
  const server = createServer().addService(TestService, { ...impl, echo: (_request, context) => (seen.push(context.remainingMs()), {}) });
  const client = createClient(TestService, { address: await server.listen("memory:") });
  await client.echo({}, { timeoutMs: Infinity });
  await client.echo({}, { timeoutMs: 2 ** 40 });
  assert.is(seen[0], undefined, "no deadline: timeout_ms absent");
  assert.ok(seen[1]! > 0xffffffff - 60_000 && seen[1]! <= 0xffffffff, `capped: ${seen[1]}`);
  client.$close();
  await server.close({ graceMs: 100 });
});

test("[DEADLINE-4] [DEADLINE-6] a deadline passing mid-call: TIMEOUT at the client, the handler's signal fires", async () => {
  const started = performance.now();
  const error = await rpcFailure(ctx.client.wait({ ms: 5000, tag: "deadline" }, { timeoutMs: 100 }));
  assert.is(error.layer, "transport");
  assert.is(error.code, "TIMEOUT");
  assert.is(error.processed, "maybe");
  assert.ok(performance.now() - started < 2000, "failed at its deadline, not later");
  await waitUntil(() => ctx.log.waits.length === 1);
  assert.is(ctx.log.waits[0]!.aborted, true);
});

test("[CANCEL-1] [CANCEL-2] aborting a call sends CANCEL and fires the handler's signal", async () => {
  const controller = new AbortController();
  const call = ctx.client.wait({ ms: 5000, tag: "cancelled" }, { signal: controller.signal, timeoutMs: 10_000 });
  await waitUntil(() => ctx.server.stats().requests.inFlight === 1);
  controller.abort();
  const error = await rpcFailure(call);
  assert.is(error.code, "CANCELLED");
  await waitUntil(() => ctx.log.waits.length === 1);
  assert.equal(ctx.log.waits[0], { tag: "cancelled", aborted: true, reason: "AbortError" });
});

test("[DEADLINE-6] [CANCEL-1] a call whose AbortSignal.timeout() fires fails TIMEOUT, not CANCELLED, and still sends CANCEL", async () => {
  const signal = AbortSignal.timeout(100);
  const call = ctx.client.wait({ ms: 5000, tag: "signal-timeout" }, { signal, timeoutMs: 10_000 });
  const error = await rpcFailure(call);
  assert.is(error.layer, "transport");
  assert.is(error.code, "TIMEOUT");
  assert.is(error.processed, "maybe");
  assert.is((error.cause as DOMException).name, "TimeoutError");
  await waitUntil(() => ctx.log.waits.length === 1);
  assert.equal(ctx.log.waits[0], { tag: "signal-timeout", aborted: true, reason: "AbortError" });
  // A signal that timed out before the call was made: nothing is sent.
  const expired = AbortSignal.timeout(1);
  await new Promise((resolve) => expired.addEventListener("abort", resolve, { once: true }));
  const early = await rpcFailure(ctx.client.echo({ text: "never sent" }, { signal: expired }));
  assert.equal([early.code, early.processed], ["TIMEOUT", "no"]);
  // An abort for any other reason is still a cancel.
  const controller = new AbortController();
  controller.abort(new Error("changed my mind"));
  const cancelled = await rpcFailure(ctx.client.echo({ text: "never sent" }, { signal: controller.signal }));
  assert.equal([cancelled.code, cancelled.processed], ["CANCELLED", "no"]);
  assert.not.ok(ctx.log.echoed.includes("never sent"));
});

test("[ID-3] a request id that does not increase is a connection error", async () => {
  const peer = await RawPeer.connect(ctx.address);
  peer.send({ type: FrameType.REQUEST, requestId: 5, service: SERVICE, method: "Echo" }, echoBody({ delayMs: 1000 }));
  peer.send({ type: FrameType.REQUEST, requestId: 5, service: SERVICE, method: "Echo" }, echoBody());
  const goaway = await peer.waitFor((f) => f.header.type === FrameType.GOAWAY);
  const { decodeGoaway, GoawayCode } = await import("../src/wire/index.ts");
  const info = decodeGoaway(goaway.body);
  assert.is(info.code, GoawayCode.PROTOCOL_ERROR);
  assert.ok(info.message.startsWith("[ID-3]"), info.message);
  assert.is(info.lastRequestId, 5);
  await peer.waitForEnd();
});


test.run();
