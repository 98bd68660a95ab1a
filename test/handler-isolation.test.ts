// Handler isolation: an isolated service's handlers run in worker threads;
// each way a handler can take its worker down fails only that request with
// HANDLER_CRASHED, the worker is replaced, and the server, its heartbeats,
// its other requests and the key queues carry on. Cites [STATUS-4] [KEYS-3].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, createServer, FrameType, RpcError, type Client, type MetadataEntry, type Server, type ServerInterceptor } from "../src/node.ts";
import { IsolationTestService } from "./gen/stratatest/v1/testing_pb.ts";
import { RawPeer } from "./support/raw-peer.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { waitUntil } from "./support/wait.ts";
import { TestService, testService } from "./support/test-service.ts";

const test = suite("handler isolation");
const HANDLERS = new URL("./support/isolated-handlers.ts", import.meta.url);

interface Ctx {
  server: Server;
  address: string;
  client: Client<typeof IsolationTestService.method>;
}
const ctx = {} as Ctx;

test.before(async () => {
  ctx.server = createServer()
    .addIsolatedService(IsolationTestService, HANDLERS, { workers: 2, terminateGraceMs: 200 })
    .addService(TestService, testService().impl);
  ctx.address = await ctx.server.listen("127.0.0.1:0");
  ctx.client = createClient(IsolationTestService, { address: ctx.address });
});

test.after(async () => {
  await ctx.client.$close();
  await ctx.server.close({ graceMs: 500 });
});

/** The isolated service's worker pool counters. */
function pool() {
  return ctx.server.stats().isolation["stratatest.v1.IsolationTestService"]!;
}

/** Calls Work and returns its failure as an RpcError (the call must fail). */
function failure(kind: string, options: { timeoutMs?: number; keys?: string[] } = {}): Promise<RpcError> {
  return rpcFailure(ctx.client.work({ kind }, options));
}

test("results, application errors, handler errors and response metadata cross the worker boundary", async () => {
  const ok = await ctx.client.$result.work({ kind: "metadata" }, { keys: ["k1"] });
  assert.ok(ok.ok && ok.value !== undefined);
  assert.ok(ok.value.threadId > 0, "ran in a worker thread, not the main one (threadId 0)");
  assert.equal(ok.value.keys, ["k1"]);
  assert.is(new TextDecoder().decode(ok.metadata.find((e) => e.key === "x-worker")?.value), String(ok.value.threadId));

  const app = await failure("app-error");
  assert.equal([app.layer, app.code, app.rawMessage, app.processed], ["application", 7, "insufficient funds", "yes"]);
  const thrown = await failure("throw");
  assert.equal([thrown.layer, thrown.code, thrown.processed], ["dispatch", "HANDLER_ERROR", "maybe"]);
});

test("[META-1] a worker's handler may replace responseMetadata by assigning it; anything but an array fails the handler", async () => {
  const assigned = await ctx.client.$result.work({ kind: "metadata-assigned" });
  assert.ok(assigned.ok);
  assert.equal(assigned.metadata.map((e) => [e.key, Array.from(e.value)]), [["x-assigned", [7]]]);
  // An assigned array goes out with a failure as well.
  const failed = await failure("metadata-assigned-then-app-error");
  assert.equal([failed.layer, failed.code], ["application", 7]);
  assert.equal(failed.metadata.map((e) => [e.key, Array.from(e.value)]), [["x-assigned", [7]]]);
  const refused = await failure("metadata-assigned-object");
  assert.equal([refused.layer, refused.code], ["dispatch", "HANDLER_ERROR"], "the assignment failed the handler, before the error it throws next");
});

test("[META-1] a worker's entries join a responseMetadata array an interceptor assigned, frozen or shared, without changing it", async () => {
  const shared = Object.freeze([{ key: "x-interceptor", value: Uint8Array.of(1) }]) as MetadataEntry[];
  const assign: ServerInterceptor = (next) => (request) => {
    (request.context as { responseMetadata: unknown }).responseMetadata = shared;
    return next(request);
  };
  const server = createServer({ interceptors: [assign] }).addIsolatedService(IsolationTestService, HANDLERS, { workers: 1, terminateGraceMs: 200 });
  const client = createClient(IsolationTestService, { address: await server.listen("127.0.0.1:0") });
  try {
    for (let call = 0; call < 2; call++) {
      // Bounded: pushing into the frozen array threw in the pool's message listener, and the call never settled.
      const result = await client.$result.work({ kind: "metadata" }, { timeoutMs: 10_000 });
      assert.ok(result.ok, "the call succeeded");
      assert.equal(result.metadata.map((e) => e.key), ["x-interceptor", "x-worker"]);
    }
    assert.is(shared.length, 1);
  } finally {
    await client.$close();
    await server.close({ graceMs: 500 });
  }
});

for (const kind of ["crash-async", "exit"] as const) {
  test(`[STATUS-4] a handler whose worker dies (${kind}) fails with HANDLER_CRASHED; the worker is replaced`, async () => {
    const before = await ctx.client.work({ kind: "ok" });
    const crashesBefore = pool().crashes;
    const crash = await failure(kind);
    assert.equal([crash.layer, crash.code, crash.processed], ["dispatch", "HANDLER_CRASHED", "maybe"]);
    assert.is(pool().crashes, crashesBefore + 1);
    await waitUntil(() => pool().workers === 2, 10_000);
    // Both workers serve again: two overlapping calls run on two live threads.
    const [a, b] = await Promise.all([ctx.client.work({ kind: "sleep", ms: 50 }), ctx.client.work({ kind: "sleep", ms: 50 })]);
    assert.is.not(a.threadId, b.threadId, "two workers");
    assert.ok(before.threadId > 0 && a.threadId > 0 && b.threadId > 0);
  });
}

test("[STATUS-4] a crash fails only its own request: a call running on the other worker completes", async () => {
  const running = ctx.client.$result.work({ kind: "sleep", ms: 300 });
  const crash = await failure("exit");
  assert.is(crash.code, "HANDLER_CRASHED");
  const survivor = await running;
  assert.ok(survivor.ok && survivor.value !== undefined, "the other worker's call was not affected");
  assert.not.ok(survivor.value.aborted);
  await waitUntil(() => pool().workers === 2, 10_000);
});

test("[KEYS-3] [STATUS-4] a handler that spins past its deadline has its worker terminated, which releases its keys", async () => {
  const spin = await failure("spin-forever", { timeoutMs: 150, keys: ["account-1"] });
  assert.ok(["DEADLINE_EXCEEDED", "TIMEOUT"].includes(String(spin.code)), `${spin.layer} ${spin.code}`);
  // The next request on the key can only start once the spinning handler is gone.
  const next = await ctx.client.work({ kind: "ok" }, { keys: ["account-1"], timeoutMs: 10_000 });
  assert.ok(next.threadId > 0);
  assert.ok(pool().crashes >= 1);
  await waitUntil(() => pool().workers === 2, 10_000);
});

test("the server's event loop stays free while handlers burn CPU: heartbeats and other calls are answered", async () => {
  const busy = Promise.all([ctx.client.work({ kind: "busy", ms: 1500 }), ctx.client.work({ kind: "busy", ms: 1500 })]);
  let busyDone = false;
  void busy.then(() => {
    busyDone = true;
  });
  const echo = createClient(TestService, { address: ctx.address });
  for (let i = 0; i < 10; i++) {
    const reply = await echo.echo({ text: `ping ${i}` });
    assert.is(reply.text, `ping ${i}`);
  }
  const peer = await RawPeer.connect(ctx.address);
  peer.send({ type: FrameType.PING }, Uint8Array.of(1, 2, 3));
  const pong = await peer.waitFor((f) => f.header.type === FrameType.PONG);
  assert.equal([...pong.body], [1, 2, 3]);
  assert.not.ok(busyDone, "ten calls and a PING were answered while both workers were still busy");
  await busy;
  peer.destroy();
  await echo.$close();
});

test("calls beyond the pool's size wait for a free worker", async () => {
  const results = await Promise.all(Array.from({ length: 6 }, () => ctx.client.work({ kind: "sleep", ms: 30 })));
  assert.is(new Set(results.map((r) => r.threadId)).size, 2, "six calls shared the two workers");
});

test("[STATUS-4] a method the module has no handler for is UNKNOWN_METHOD, not processed", async () => {
  const partial = createServer().addIsolatedService(TestService, new URL("./support/isolated-partial.ts", import.meta.url), { workers: 1 });
  const address = await partial.listen("127.0.0.1:0");
  const client = createClient(TestService, { address });
  assert.is((await client.echo({ text: "in a worker" })).text, "in a worker");
  const error = await client.wait({ ms: 1 }).then(() => undefined, (e: unknown) => e as RpcError);
  assert.equal([error?.layer, error?.code, error?.processed], ["dispatch", "UNKNOWN_METHOD", "no"]);
  await client.$close();
  await partial.close();
});

test("a handler module that does not load makes listen() fail with the reason", async () => {
  const missing = createServer().addIsolatedService(IsolationTestService, new URL("./support/no-such-module.ts", import.meta.url));
  const error = await missing.listen("127.0.0.1:0").then(() => undefined, (e: unknown) => e as Error);
  assert.ok(error instanceof Error, "listen rejected");
  assert.match(error.message, /IsolationTestService/);
  await missing.close();

  const wrong = createServer().addIsolatedService(TestService, HANDLERS);
  const mismatch = await wrong.listen("127.0.0.1:0").then(() => undefined, (e: unknown) => e as Error);
  assert.ok(mismatch instanceof Error, "listen rejected");
  assert.match(mismatch.message, /defines stratatest\.v1\.IsolationTestService/);
  await wrong.close();
});

test.run();
