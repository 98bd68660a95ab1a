// The bounds of an isolated service's worker pool: a call that only waited
// for a worker was not processed and is answered so (its deadline passed,
// the queue was full, the server closed); a handler that hangs cannot hold
// a worker past the pool's maximum run time. Cites [DEADLINE-3] [LIMIT-5]
// [STATUS-6] [DRAIN-10] [CANCEL-2].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { create, toBinary } from "@bufbuild/protobuf";
import { CallMode, createClient, createServer, DispatchCode, FrameType, type IsolationOptions, type Server } from "../src/node.ts";
import { IsolationTestService, WorkRequestSchema } from "./gen/stratatest/v1/testing_pb.ts";
import { RawPeer } from "./support/raw-peer.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { waitUntil } from "./support/wait.ts";

const test = suite("worker pool bounds");
const HANDLERS = new URL("./support/isolated-handlers.ts", import.meta.url);
const SERVICE = IsolationTestService.typeName;
const WORK = `${SERVICE}/Work`;

/** A server whose isolated service has one worker, and its address. */
async function oneWorker(options: IsolationOptions = {}): Promise<{ server: Server; address: string }> {
  const server = createServer().addIsolatedService(IsolationTestService, HANDLERS, { workers: 1, terminateGraceMs: 100, ...options });
  return { server, address: await server.listen("127.0.0.1:0") };
}

function work(kind: string, ms = 0): Uint8Array {
  return toBinary(WorkRequestSchema, create(WorkRequestSchema, { kind, ms }));
}

function poolOf(server: Server) {
  return server.stats().isolation[SERVICE]!;
}

/** Sends a unary Work request from a raw peer. */
function request(peer: RawPeer, requestId: number, body: Uint8Array, extra: { timeoutMs?: number; keys?: string[] } = {}): void {
  peer.send({ type: FrameType.REQUEST, requestId, service: SERVICE, method: "Work", callMode: CallMode.UNARY, ...extra }, body);
}

/** Request 1 keeps the one worker busy for `ms`; resolves once it runs. */
async function occupy(server: Server, peer: RawPeer, ms: number): Promise<void> {
  request(peer, 1, work("sleep", ms));
  await waitUntil(() => poolOf(server).busy === 1, 5000);
}

function responseTo(peer: RawPeer, requestId: number) {
  return peer.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === requestId);
}

test("[DEADLINE-3] [STATUS-6] a call whose deadline passes while it waits for a worker is answered DEADLINE_EXPIRED and never runs", async () => {
  const { server, address } = await oneWorker();
  const peer = await RawPeer.connect(address);
  await occupy(server, peer, 400);
  request(peer, 3, work("ok"), { timeoutMs: 100 });
  const expired = await responseTo(peer, 3);
  assert.is(expired.header.dispatchCode, DispatchCode.DEADLINE_EXPIRED, expired.header.dispatchMessage);
  assert.match(expired.header.dispatchMessage, /waited for a worker/);
  const first = await responseTo(peer, 1);
  assert.is(first.header.dispatchCode, DispatchCode.OK);
  // Only the first call ran: the second is counted as refused, not as a call.
  await waitUntil(() => poolOf(server).busy === 0 && poolOf(server).queued === 0, 5000);
  const stats = server.stats().methods[WORK]!;
  assert.equal([stats.calls, stats.rejected.DEADLINE_EXPIRED], [1, 1]);
  peer.destroy();
  await server.close({ graceMs: 0 });
});

test("[KEYS-3] [DEADLINE-3] a keyed call that expires while it waits for a worker lets go of its keys: the next call on the key runs", async () => {
  const { server, address } = await oneWorker();
  const peer = await RawPeer.connect(address);
  await occupy(server, peer, 300);
  request(peer, 3, work("ok"), { timeoutMs: 50, keys: ["k"] });
  request(peer, 5, work("ok"), { keys: ["k"] });
  const expired = await responseTo(peer, 3);
  assert.is(expired.header.dispatchCode, DispatchCode.DEADLINE_EXPIRED, expired.header.dispatchMessage);
  const next = await responseTo(peer, 5);
  assert.is(next.header.dispatchCode, DispatchCode.OK, next.header.dispatchMessage);
  assert.is(server.stats().requests.inFlight, 0);
  peer.destroy();
  await server.close({ graceMs: 0 });
});

test("[DRAIN-14] a unary call waiting for a worker when its connection ends never runs", async () => {
  const { server, address } = await oneWorker();
  const peer = await RawPeer.connect(address);
  await occupy(server, peer, 200);
  request(peer, 3, work("ok"));
  await waitUntil(() => poolOf(server).queued === 1, 5000);
  peer.destroy();
  await waitUntil(() => poolOf(server).queued === 0 && poolOf(server).busy === 0, 5000);
  assert.is(server.stats().methods[WORK]!.calls, 1, "only the call that was running ran");
  assert.is(server.stats().requests.inFlight, 0);
  await server.close({ graceMs: 0 });
});

test("[CANCEL-2] a call cancelled while it waits for a worker leaves the queue unrun and gets no RESPONSE", async () => {
  const { server, address } = await oneWorker();
  const peer = await RawPeer.connect(address);
  await occupy(server, peer, 300);
  request(peer, 3, work("ok"));
  await waitUntil(() => poolOf(server).queued === 1, 5000);
  peer.send({ type: FrameType.CANCEL, requestId: 3 });
  await waitUntil(() => poolOf(server).queued === 0, 5000);
  request(peer, 5, work("ok"));
  await responseTo(peer, 5);
  assert.equal(
    peer.frames.filter((f) => f.header.type === FrameType.RESPONSE).map((f) => f.header.requestId),
    [1, 5],
    "no RESPONSE for the cancelled call",
  );
  assert.is(server.stats().methods[WORK]!.calls, 2, "the cancelled call never ran, so it is not counted as one");
  peer.destroy();
  await server.close({ graceMs: 0 });
});

test("[LIMIT-5] [STATUS-6] past maxQueued waiting calls, the next is refused OVERLOADED, not processed; the queued ones still run", async () => {
  const { server, address } = await oneWorker({ maxQueued: 2 });
  const client = createClient(IsolationTestService, { address });
  const running = client.work({ kind: "sleep", ms: 300 });
  await waitUntil(() => poolOf(server).busy === 1, 5000);
  const queued = [client.work({ kind: "ok" }), client.work({ kind: "ok" })];
  await waitUntil(() => poolOf(server).queued === 2, 5000);
  const refused = await rpcFailure(client.work({ kind: "ok" }));
  assert.equal([refused.layer, refused.code, refused.processed], ["dispatch", "OVERLOADED", "no"]);
  assert.match(refused.rawMessage, /1 workers .* busy and 2 calls wait/);
  await Promise.all([running, ...queued]);
  assert.equal([server.stats().methods[WORK]!.calls, server.stats().methods[WORK]!.rejected.OVERLOADED], [3, 1]);
  // The bound is on waiting calls only: with the worker free, a call runs at once.
  assert.ok((await client.work({ kind: "ok" })).threadId > 0);
  await client.$close();
  await server.close({ graceMs: 0 });
});

test("[LIMIT-5] maxQueued 0: a call runs only on a free worker; otherwise OVERLOADED at once", async () => {
  const { server, address } = await oneWorker({ maxQueued: 0 });
  const client = createClient(IsolationTestService, { address });
  assert.ok((await client.work({ kind: "ok" })).threadId > 0);
  const running = client.work({ kind: "sleep", ms: 200 });
  await waitUntil(() => poolOf(server).busy === 1, 5000);
  const refused = await rpcFailure(client.work({ kind: "ok" }));
  assert.equal([refused.code, refused.processed], ["OVERLOADED", "no"]);
  await running;
  await client.$close();
  await server.close({ graceMs: 0 });
});

test("[DRAIN-10] a call still waiting for a worker when the drain's grace ends is answered SHUTTING_DOWN, not processed", async () => {
  const { server, address } = await oneWorker();
  const client = createClient(IsolationTestService, { address });
  const running = client.$result.work({ kind: "spin-forever" });
  await waitUntil(() => poolOf(server).busy === 1, 5000);
  const waiting = rpcFailure(client.work({ kind: "ok" }));
  await waitUntil(() => poolOf(server).queued === 1, 5000);
  const closed = server.close({ graceMs: 200 });
  const refused = await waiting;
  assert.equal([refused.layer, refused.code, refused.processed], ["dispatch", "SHUTTING_DOWN", "no"]);
  const cut = await running;
  assert.ok(!cut.ok && cut.error?.processed === "maybe", "the running call ended with the connection, processed maybe");
  await closed;
  await client.$close();
});

test("a handler that hangs without a deadline is stopped at maxRunMs and its worker replaced, so the service serves again", async () => {
  const { server, address } = await oneWorker({ maxRunMs: 300 });
  const client = createClient(IsolationTestService, { address });
  const hung = rpcFailure(client.work({ kind: "spin-forever" }));
  await waitUntil(() => poolOf(server).busy === 1, 5000);
  // Queued behind the hung handler: it runs once the worker has been replaced.
  const next = client.work({ kind: "ok" }, { timeoutMs: 20_000 });
  const crash = await hung;
  assert.equal([crash.layer, crash.code, crash.processed], ["dispatch", "HANDLER_CRASHED", "maybe"]);
  assert.match(crash.rawMessage, /maximum of 300 ms/);
  assert.ok((await next).threadId > 0);
  assert.is(poolOf(server).crashes, 1);
  // A handler that heeds its signal stops at maxRunMs without losing its worker.
  const heeded = await client.work({ kind: "sleep", ms: 60_000 });
  assert.ok(heeded.aborted, "the handler's signal fired at the maximum run time");
  assert.is(poolOf(server).crashes, 1);
  await client.$close();
  await server.close({ graceMs: 0 });
});

test("pool options out of range are refused when the server listens", async () => {
  for (const options of [{ maxQueued: -1 }, { maxQueued: 1.5 }, { maxRunMs: 0 }, { maxRunMs: Number.NaN }]) {
    const server = createServer().addIsolatedService(IsolationTestService, HANDLERS, options);
    const error = await server.listen("127.0.0.1:0").then(() => undefined, (e: unknown) => e as Error);
    assert.instance(error, RangeError, JSON.stringify(options));
    await server.close();
  }
});

test.run();
