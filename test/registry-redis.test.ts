// The Redis registry (spec 21.2) against real redis-server processes on
// free loopback ports: the key layout, change notifications, resync after
// a lost message, expiry of a crashed server's record, bad records, several
// independent Redis servers, and a registry that stops and comes back.
// Cites [CLUSTER-1] [CLUSTER-2] [CLUSTER-3].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient } from "redis";
import { endpoint, endpointRecord, type Endpoint } from "../src/cluster/endpoint.ts";
import type { EndpointSource, Registrar } from "../src/cluster/endpoint-source.ts";
import { redisEndpoints, redisLayout, redisRegistrar } from "../src/cluster/redis/index.ts";
import { redisServerMissing, startRedisServer, type RedisServer } from "./support/redis-server.ts";
import { exited, lineReader, spawnTs, stderrOf } from "./support/spawn-runtime.ts";
import { waitUntil } from "./support/wait.ts";

const test = suite("redis registry");
const missing = redisServerMissing("the Redis registry test");
if (missing !== undefined) console.log(missing);

/** Everything a test started, stopped in after.each whether it passed or not. */
const cleanups: Array<() => Promise<unknown>> = [];
test.after.each(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function server(): Promise<RedisServer> {
  const started = await startRedisServer();
  cleanups.push(() => started.close());
  return started;
}

let clusters = 0;
/** A cluster name of its own for each test, so tests sharing a Redis do not see each other. */
const cluster = () => `t${process.pid}-${++clusters}`;

const quiet: string[] = [];
const collect = (into: string[]) => (message: string) => void into.push(message);

function source(options: Parameters<typeof redisEndpoints>[0]): EndpointSource {
  const created = redisEndpoints({ log: collect(quiet), commandTimeoutMs: 500, ...options });
  cleanups.push(() => created.close());
  return created;
}

function registrar(options: Parameters<typeof redisRegistrar>[0]): Registrar {
  const created = redisRegistrar({ log: collect(quiet), commandTimeoutMs: 500, ...options });
  cleanups.push(() => created.deregister());
  return created;
}

async function rawClient(url: string) {
  const client = createClient({ url });
  client.on("error", () => undefined);
  await client.connect();
  cleanups.push(() => client.close());
  return client;
}

/** What a watching source delivered: every set, and every unavailable error. */
function watch(watched: EndpointSource) {
  const seen = {
    sets: [] as (readonly Endpoint[])[],
    errors: [] as Error[],
    get ids(): string[] {
      return (seen.sets.at(-1) ?? []).map((e) => e.id);
    },
  };
  watched.watch({ endpoints: (set) => void seen.sets.push(set), unavailable: (error) => void seen.errors.push(error) });
  return seen;
}

/** Polls the asynchronous `condition` every 20 ms until it holds; throws after `timeoutMs`. */
async function eventually(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const is = (ids: string[], expected: string[]) => ids.join(",") === expected.join(",");

/** How many ZRANGE commands `client`'s server has run: each read of the set is one. */
async function zrangeCalls(client: Awaited<ReturnType<typeof rawClient>>): Promise<number> {
  const stats = await client.info("commandstats");
  return Number(/cmdstat_zrange:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

test("[CLUSTER-2] a registered record lies under the spec's keys and reaches a watching source with all its attributes [CLUSTER-1]", async () => {
  if (missing !== undefined) return;
  const redis = await server();
  const name = cluster();
  const e = endpoint({ id: "pay-7", address: "127.0.0.1:7000", groups: ["pay", "eu"], weight: 3, zone: "eu-1a", metadata: { version: "1.4.2" } });
  const before = Date.now();
  await registrar({ urls: [redis.url], cluster: name, ttlMs: 10_000 }).register(e);
  const raw = await rawClient(redis.url);
  assert.is(await raw.get(`strata:${name}:endpoint:pay-7`), endpointRecord(e), "the record is the endpoint's JSON record");
  const ttl = await raw.pTTL(`strata:${name}:endpoint:pay-7`);
  assert.ok(ttl > 8000 && ttl <= 10_000, `the record expires with the PX ttl, ${ttl} ms left`);
  const score = Number(await raw.zScore(`strata:${name}:endpoints`, "pay-7"));
  assert.ok(score >= before + 10_000 && score <= Date.now() + 10_000, `the index score is the expiry in Unix ms: ${score}`);
  assert.is(redisLayout({ cluster: name }).channel, `strata:${name}:changes`);

  const seen = watch(source({ urls: [redis.url], cluster: name }));
  await waitUntil(() => seen.sets.length > 0);
  assert.equal(seen.sets[0], [e]);
  assert.equal(seen.errors, []);
});

test("register and deregister of a second endpoint arrive through the change channel, long before a resync", async () => {
  if (missing !== undefined) return;
  const redis = await server();
  const name = cluster();
  await registrar({ urls: [redis.url], cluster: name }).register(endpoint({ id: "a", address: "127.0.0.1:7001" }));
  const seen = watch(source({ urls: [redis.url], cluster: name, resyncMs: 600_000 }));
  await waitUntil(() => is(seen.ids, ["a"]));
  const second = registrar({ urls: [redis.url], cluster: name });
  let start = performance.now();
  await second.register(endpoint({ id: "b", address: "127.0.0.1:7002" }));
  await waitUntil(() => is(seen.ids, ["a", "b"]), 2000);
  const added = performance.now() - start;
  start = performance.now();
  await second.deregister();
  await waitUntil(() => is(seen.ids, ["a"]), 2000);
  const removed = performance.now() - start;
  assert.ok(added < 2000 && removed < 2000, `changes seen after ${added.toFixed(0)} and ${removed.toFixed(0)} ms with a resync of 10 minutes`);
  const raw = await rawClient(redis.url);
  assert.is(await raw.get(`strata:${name}:endpoint:b`), null, "deregister deleted the record");
  assert.is(await raw.zScore(`strata:${name}:endpoints`, "b"), null, "and the index entry");
  assert.is(seen.sets.length, 3, "one delivery per change");
});

test("a burst of change messages costs a few reads, not one per message", async () => {
  if (missing !== undefined) return;
  const redis = await server();
  const name = cluster();
  const raw = await rawClient(redis.url);
  const seen = watch(source({ urls: [redis.url], cluster: name, resyncMs: 600_000 }));
  await waitUntil(() => seen.sets.length === 1);
  const before = await zrangeCalls(raw);
  await raw.set(`strata:${name}:endpoint:x`, endpointRecord(endpoint({ id: "x", address: "127.0.0.1:7003" })), { expiration: { type: "PX", value: 10_000 } });
  await raw.zAdd(`strata:${name}:endpoints`, { score: Date.now() + 10_000, value: "x" });
  const burst = raw.multi();
  for (let i = 0; i < 300; i++) burst.publish(`strata:${name}:changes`, "x");
  await burst.exec();
  // A last change, published after the burst: once the source has seen it, Redis has run every read the burst caused (one connection, in order).
  await raw.set(`strata:${name}:endpoint:y`, endpointRecord(endpoint({ id: "y", address: "127.0.0.1:7004" })), { expiration: { type: "PX", value: 10_000 } });
  await raw.zAdd(`strata:${name}:endpoints`, { score: Date.now() + 10_000, value: "y" });
  await raw.publish(`strata:${name}:changes`, "y");
  await waitUntil(() => is(seen.ids, ["x", "y"]), 2000);
  const after = await zrangeCalls(raw);
  assert.ok(after - before <= 10, `300 messages caused ${after - before} reads`);
});

test("a change whose message was lost is picked up by the periodic resync", async () => {
  if (missing !== undefined) return;
  const redis = await server();
  const name = cluster();
  const seen = watch(source({ urls: [redis.url], cluster: name, resyncMs: 200 }));
  await waitUntil(() => seen.sets.length === 1);
  assert.equal(seen.ids, []);
  const raw = await rawClient(redis.url);
  // Written the way a registrar does, but without PUBLISH: as if the message had been lost.
  await raw.set(`strata:${name}:endpoint:quiet`, endpointRecord(endpoint({ id: "quiet", address: "127.0.0.1:7004" })), { expiration: { type: "PX", value: 10_000 } });
  await raw.zAdd(`strata:${name}:endpoints`, { score: Date.now() + 10_000, value: "quiet" });
  await waitUntil(() => is(seen.ids, ["quiet"]), 3000);
});

test("[CLUSTER-2] a server process killed without deregistering disappears once its record's TTL passes", async () => {
  if (missing !== undefined) return;
  const redis = await server();
  const name = cluster();
  const seen = watch(source({ urls: [redis.url], cluster: name, resyncMs: 100 }));
  const child = spawnTs("test/support/redis-registrant.ts", [redis.url, name, "doomed", "1500", "crash"]);
  cleanups.push(async () => {
    child.kill("SIGKILL");
    await exited(child, 5000);
  });
  assert.is(await lineReader(child).next(15_000), "registered", stderrOf(child));
  await waitUntil(() => is(seen.ids, ["doomed"]), 3000);
  child.kill("SIGKILL");
  assert.ok(await exited(child, 5000), "the child was killed");
  const killed = performance.now();
  await waitUntil(() => is(seen.ids, []), 5000);
  const gone = performance.now() - killed;
  // Refreshed every 500 ms, the record had at least 1000 ms left at the kill: only its expiry removed it.
  assert.ok(gone >= 900, `removed ${gone.toFixed(0)} ms after the kill, by its TTL and not by anything else`);
  const raw = await rawClient(redis.url);
  // Its index score was computed just before the record's PX began, so the record may outlive it by a moment.
  await eventually(async () => (await raw.get(`strata:${name}:endpoint:doomed`)) === null, 1000);
});

test("a process that deregisters and closes its source exits by itself: no connection or timer is left behind [CLUSTER-2]", async () => {
  if (missing !== undefined) return;
  const redis = await server();
  const name = cluster();
  const child = spawnTs("test/support/redis-registrant.ts", [redis.url, name, "leaving", "10000", "exit"]);
  cleanups.push(async () => {
    child.kill("SIGKILL");
    await exited(child, 5000);
  });
  const lines = lineReader(child);
  assert.is(await lines.next(15_000), "registered", stderrOf(child));
  assert.is(await lines.next(5000), "done", stderrOf(child));
  assert.ok(await exited(child, 5000), "the process exited within 5 s of closing everything");
  const raw = await rawClient(redis.url);
  assert.is(await raw.get(`strata:${name}:endpoint:leaving`), null, "and its record is gone");
});

test("[CLUSTER-1] bad records are skipped with one log line each; the rest of the set is kept", async () => {
  if (missing !== undefined) return;
  const redis = await server();
  const name = cluster();
  const raw = await rawClient(redis.url);
  const bad: Record<string, string> = {
    "not-json": "{oops",
    "no-address": JSON.stringify({ id: "no-address" }),
    "an-array": "[1,2]",
    "bad-weight": JSON.stringify({ id: "bad-weight", address: "127.0.0.1:1", weight: 0 }),
    "other-id": JSON.stringify({ id: "someone-else", address: "127.0.0.1:1" }),
  };
  for (const [id, text] of Object.entries(bad)) {
    await raw.set(`strata:${name}:endpoint:${id}`, text, { expiration: { type: "PX", value: 10_000 } });
    await raw.zAdd(`strata:${name}:endpoints`, { score: Date.now() + 10_000, value: id });
  }
  // An index entry without a record is stale: ignored, and not reported.
  await raw.zAdd(`strata:${name}:endpoints`, { score: Date.now() + 10_000, value: "stale" });
  await registrar({ urls: [redis.url], cluster: name }).register(endpoint({ id: "good", address: "127.0.0.1:7005", weight: 2 }));
  const log: string[] = [];
  const seen = watch(source({ urls: [redis.url], cluster: name, resyncMs: 100, log: collect(log) }));
  await waitUntil(() => seen.sets.length > 0);
  assert.equal(seen.ids, ["good"]);
  // Several resyncs later, each bad record has still been reported once.
  const reads = await zrangeCalls(raw);
  await eventually(async () => (await zrangeCalls(raw)) >= reads + 3, 3000);
  for (const id of Object.keys(bad)) {
    const lines = log.filter((line) => line.includes(`:endpoint:${id} `));
    assert.is(lines.length, 1, `one line for ${id}: ${JSON.stringify(log)}`);
    assert.match(lines[0]!, "[CLUSTER-1]");
  }
  assert.not.ok(log.some((line) => line.includes(":endpoint:stale")), "a stale entry is not reported");
  assert.is(seen.sets.length, 1, "resyncs that find the same set deliver nothing");
  assert.equal(seen.errors, []);
});

test("two independent Redis servers: written to both, read from either while the other is down, and rewritten to it once it is back", async () => {
  if (missing !== undefined) return;
  const [one, two] = [await server(), await server()];
  const name = cluster();
  const urls = [one.url, two.url];
  await registrar({ urls, cluster: name }).register(endpoint({ id: "a", address: "127.0.0.1:7006" }));
  const rawOne = await rawClient(one.url);
  for (const url of urls) {
    const raw = url === one.url ? rawOne : await rawClient(url);
    assert.ok((await raw.get(`strata:${name}:endpoint:a`)) !== null, `the record is in ${url}`);
  }
  const seen = watch(source({ urls, cluster: name, resyncMs: 200 }));
  await waitUntil(() => is(seen.ids, ["a"]));
  await two.stop();
  const second = registrar({ urls, cluster: name });
  await second.register(endpoint({ id: "b", address: "127.0.0.1:7007" }));
  await waitUntil(() => is(seen.ids, ["a", "b"]), 3000);
  assert.equal(seen.errors, [], "one reachable server is enough: the source never reported unavailable");
  await two.restart();
  const rawTwo = await rawClient(two.url);
  // The restarted server came back empty; both registrars write their records again as soon as they reconnect.
  await eventually(async () => (await rawTwo.mGet([`strata:${name}:endpoint:a`, `strata:${name}:endpoint:b`])).every((t) => t !== null), 5000);
  // The source reads the restarted server again once its own connection is back (its first ZRANGE there):
  // stopping the other server before that would leave no server it can read, an outage it must report.
  await eventually(async () => (await zrangeCalls(rawTwo)) >= 1, 5000);
  await one.stop();
  await second.deregister();
  await waitUntil(() => is(seen.ids, ["a"]), 3000);
  assert.equal(seen.errors, []);
});

test("register() rejects naming every server when none can be reached", async () => {
  if (missing !== undefined) return;
  const [one, two] = [await server(), await server()];
  await Promise.all([one.stop(), two.stop()]);
  const failing = registrar({ urls: [one.url, two.url], cluster: cluster() });
  try {
    await failing.register(endpoint({ id: "nowhere", address: "127.0.0.1:7008" }));
    assert.unreachable("register() resolved");
  } catch (error) {
    const message = (error as Error).message;
    assert.match(message, `${one.url} cannot be reached`);
    assert.match(message, `${two.url} cannot be reached`);
  }
});

test("[CLUSTER-3] with Redis down the source reports unavailable once and keeps its set; back, it reads again and sees later changes; deregister() is bounded meanwhile [CLUSTER-2]", async () => {
  if (missing !== undefined) return;
  const redis = await server();
  const name = cluster();
  await registrar({ urls: [redis.url], cluster: name }).register(endpoint({ id: "a", address: "127.0.0.1:7009" }));
  const leaving = registrar({ urls: [redis.url], cluster: name });
  await leaving.register(endpoint({ id: "z", address: "127.0.0.1:7010" }));
  const seen = watch(source({ urls: [redis.url], cluster: name, resyncMs: 100 }));
  await waitUntil(() => is(seen.ids, ["a", "z"]));
  await redis.stop();
  await waitUntil(() => seen.errors.length > 0, 3000);
  assert.match(seen.errors[0]!.message, redis.url);
  const start = performance.now();
  await leaving.deregister();
  const took = performance.now() - start;
  assert.ok(took < 1500, `deregister() with Redis down took ${took.toFixed(0)} ms`);
  const delivered = seen.sets.length;
  // Not a synchronization: a window in which about ten resyncs fail, none of which may be reported again or change the set.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.is(seen.errors.length, 1, "unavailable once per outage");
  assert.is(seen.sets.length, delivered, "no set was delivered while Redis was down");
  await redis.restart();
  // Back empty: "a"'s registrar writes its record again at once; "z" left while Redis was down.
  await waitUntil(() => is(seen.ids, ["a"]), 5000);
  await registrar({ urls: [redis.url], cluster: name }).register(endpoint({ id: "b", address: "127.0.0.1:7011" }));
  await waitUntil(() => is(seen.ids, ["a", "b"]), 3000);
  assert.is(seen.errors.length, 1);
});

test.run();
