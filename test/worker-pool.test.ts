// The worker pool on its own, driven through the contract the server uses
// (QueueingContext): every call it takes settles once, and a worker is never
// handed two calls, even when answering a call that may not start makes
// another call enter the pool (as released keys do). Cites [DEADLINE-3] [KEYS-3].
import { createContextValues } from "../src/util/context-values.ts";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { create } from "@bufbuild/protobuf";
import { RpcError } from "../src/node.ts";
import type { QueueingContext } from "../src/server/handler-context.ts";
import { WorkerPool } from "../src/server/isolation/worker-pool.ts";
import { IsolationTestService, WorkRequestSchema, type WorkResponse } from "./gen/stratatest/v1/testing_pb.ts";

const test = suite("worker pool");
const HANDLERS = new URL("./support/isolated-handlers.ts", import.meta.url).href;

function startPool(workers = 1): Promise<WorkerPool> {
  return WorkerPool.start({ module: HANDLERS, service: IsolationTestService.typeName, workers, terminateGraceMs: 100, maxQueued: 100, maxRunMs: 60_000 });
}

/** A call's context as the server builds it; `begin` says whether the call may start. */
function context(requestId: number, begin: () => boolean = () => true): QueueingContext {
  return {
    requestId,
    service: IsolationTestService.typeName,
    method: "Work",
    metadata: [],
    keys: [],
    peer: "127.0.0.1:1",
    connection: { peer: "127.0.0.1:1", remoteAddress: "127.0.0.1", secure: false },
    values: createContextValues(),
    signal: new AbortController().signal,
    remainingMs: () => undefined,
    responseMetadata: [],
    drainConnection: () => {},
    begin,
  };
}

function work(pool: WorkerPool, requestId: number, kind: string, ms = 0, begin?: () => boolean): Promise<WorkResponse> {
  return pool.run("Work", create(WorkRequestSchema, { kind, ms }), context(requestId, begin)) as Promise<WorkResponse>;
}

/** `promise`, or a rejection after a generous bound: a call that never settles must fail the test, not hang it. */
function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms).unref())]);
}

test("[DEADLINE-3] a call that may not start is let go unrun; one that enters the pool meanwhile does not take a worker from another", async () => {
  const pool = await startPool(1);
  const running = work(pool, 1, "sleep", 100);
  let entered: Promise<WorkResponse> | undefined;
  // Its deadline passed in the queue: the server answers it, which releases
  // keys and starts call 4 — inside the pool, while a worker is being chosen.
  const expired = work(pool, 2, "ok", 0, () => {
    entered = work(pool, 4, "ok");
    return false;
  });
  const next = work(pool, 3, "ok");
  const refusal = await within(expired.then(() => undefined, (e: unknown) => e), "the expired call");
  assert.ok(RpcError.is(refusal) && refusal.code === "DEADLINE_EXPIRED" && refusal.processed === "no", String(refusal));
  const [first, third, fourth] = await within(Promise.all([running, next, entered!]), "the other calls");
  assert.ok(first.threadId > 0 && third.threadId > 0 && fourth.threadId > 0);
  assert.equal(pool.stats(), { workers: 1, busy: 0, queued: 0, crashes: 0 });
  await pool.close();
});

test("[META-1] a call whose answer cannot be taken in (its context refuses the metadata) fails with that error; the worker serves the next call", async () => {
  const pool = await startPool(1);
  // A context whose responseMetadata cannot be assigned, as the server's own could not before 3e4457f.
  const refusing = context(1);
  Object.defineProperty(refusing, "responseMetadata", { get: () => [], enumerable: true });
  const failed = await within(pool.run("Work", create(WorkRequestSchema, { kind: "metadata" }), refusing).then(() => undefined, (e: unknown) => e), "the call with a refusing context");
  assert.instance(failed, TypeError);
  const next = await within(work(pool, 2, "ok"), "the next call");
  assert.ok(next.threadId > 0);
  await pool.close();
});

test("[LIMIT-5] the pool refuses calls past maxQueued and, once closed, every call: not processed", async () => {
  const pool = await WorkerPool.start({ module: HANDLERS, service: IsolationTestService.typeName, workers: 1, terminateGraceMs: 100, maxQueued: 1, maxRunMs: 60_000 });
  const running = work(pool, 1, "sleep", 100);
  const queued = work(pool, 2, "ok");
  const over = await work(pool, 3, "ok").then(() => undefined, (e: unknown) => e);
  assert.ok(RpcError.is(over) && over.code === "OVERLOADED" && over.processed === "no", String(over));
  await Promise.all([running, queued]);
  const sleeping = work(pool, 4, "sleep", 60_000).then(() => undefined, (e: unknown) => e);
  const waiting = work(pool, 5, "ok").then(() => undefined, (e: unknown) => e);
  await pool.close();
  const [crashed, refused] = await Promise.all([sleeping, waiting]);
  assert.ok(RpcError.is(crashed) && crashed.code === "HANDLER_CRASHED", String(crashed));
  assert.ok(RpcError.is(refused) && refused.code === "SHUTTING_DOWN" && refused.processed === "no", String(refused));
  const after = await work(pool, 6, "ok").then(() => undefined, (e: unknown) => e);
  assert.ok(RpcError.is(after) && after.code === "SHUTTING_DOWN", String(after));
});

test.run();
