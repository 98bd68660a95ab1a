// etcdEndpoints and etcdRegistrar against a real etcd (/usr/bin/etcd, 3.4),
// through its v3 JSON gateway over fetch, on every runtime: records with
// every attribute under "<prefix>/<cluster>/endpoints/<id>", changes as new
// sets, lease expiry of a killed server, lost leases granted again, bad
// records skipped, an etcd outage and restart, a watch resumed from a
// compacted revision, a partitioned member found by the probe, and a
// bounded deregistration. Cites [CLUSTER-1] [CLUSTER-2] [CLUSTER-3].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { endpoint, endpointRecord, type Endpoint, type EndpointInit, type Registrar } from "../src/cluster/index.ts";
import { etcdEndpoints, etcdRegistrar, type EtcdEndpointsOptions, type EtcdRegistrarOptions, type Fetch } from "../src/cluster/etcd/index.ts";
import { ETCD_BINARY, freePort, startEtcd, type EtcdServer } from "./support/etcd-server.ts";
import { firstLine, spawnTs } from "./support/spawn-runtime.ts";
import { waitUntil } from "./support/wait.ts";

const test = suite("etcd registry");

let etcd: EtcdServer | undefined;
/** Clean-ups of the running test, run after it whether it passed or not. */
const cleanups: Array<() => Promise<unknown>> = [];

test.before(async () => {
  const started = await startEtcd();
  if (started === "not installed") console.log(`\n  SKIPPED: the etcd registry tests need etcd at ${ETCD_BINARY}: apt-get install -y etcd-server\n`);
  else etcd = started;
});

test.after.each(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

test.after(async () => {
  await etcd?.destroy();
});

/** Calls etcd's gateway directly, as another program sharing the registry would. */
async function gateway<T = Record<string, unknown>>(method: string, body: object): Promise<T> {
  const response = await fetch(`${etcd!.url}/v3/${method}`, { method: "POST", body: JSON.stringify(body) });
  const value = (await response.json()) as T;
  if (!response.ok) throw new Error(`${method} failed: ${JSON.stringify(value)}`);
  return value;
}

const b64 = (text: string) => btoa(text);

interface KeyValue {
  key: string;
  value?: string;
  lease?: string;
}

/** The keys (decoded) and values under `prefix`. */
async function listKeys(prefix: string): Promise<Array<{ key: string; value: string; lease: string | undefined }>> {
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const { kvs = [] } = await gateway<{ kvs?: KeyValue[] }>("kv/range", { key: b64(prefix), range_end: b64(end) });
  return kvs.map((kv) => ({ key: atob(kv.key), value: atob(kv.value ?? ""), lease: kv.lease }));
}

/** A source on `cluster` that records what it delivers and logs, closed after the test. */
function watched(options: Partial<EtcdEndpointsOptions> & { cluster: string }) {
  const sets: Endpoint[][] = [];
  const unavailable: Error[] = [];
  const logs: string[] = [];
  const source = etcdEndpoints({ urls: [etcd!.url], log: (message) => logs.push(message), ...options });
  source.watch({ endpoints: (set) => sets.push([...set]), unavailable: (error) => unavailable.push(error) });
  cleanups.push(() => source.close());
  return {
    source,
    sets,
    unavailable,
    logs,
    /** The ids of the last set, "" before the first. */
    ids: () => (sets.length === 0 ? "" : sets[sets.length - 1]!.map((e) => e.id).join(",")),
  };
}

/** A registrar on `cluster`, deregistered after the test. */
function registrar(options: Partial<EtcdRegistrarOptions> & { cluster: string }, logs: string[] = []): Registrar {
  const made = etcdRegistrar({ urls: [etcd!.url], log: (message) => logs.push(message), ...options });
  cleanups.push(() => made.deregister());
  return made;
}

async function registered(options: Partial<EtcdRegistrarOptions> & { cluster: string }, init: EndpointInit, logs: string[] = []): Promise<Registrar> {
  const made = registrar(options, logs);
  await made.register(endpoint(init));
  return made;
}

/**
 * A fetch the test can cut off: "down" fails requests in flight (an open
 * watch too) and every new one at once, as a refused connection does;
 * "hang" leaves new requests unanswered until their caller gives up, as a
 * partitioned member does, and lets those in flight be.
 */
function cuttableFetch() {
  let mode: "up" | "down" | "hang" = "up";
  const inFlight = new Set<AbortController>();
  let requests = 0;
  const fetcher: Fetch = (url, init) => {
    requests++;
    if (mode === "down") return Promise.reject(new TypeError("network down (test)"));
    if (mode === "hang") {
      return new Promise((_, reject) => init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")), { once: true }));
    }
    const controller = new AbortController();
    init.signal?.addEventListener("abort", () => controller.abort(), { once: true });
    inFlight.add(controller);
    return fetch(url, { ...init, signal: controller.signal });
  };
  return {
    fetch: fetcher,
    get requests() {
      return requests;
    },
    set(next: "up" | "down" | "hang") {
      mode = next;
      if (next !== "down") return;
      for (const controller of inFlight) controller.abort(new TypeError("network down (test)"));
      inFlight.clear();
    },
  };
}

const skipped = () => etcd === undefined;

test("[CLUSTER-2] a registered record appears with every attribute in a watching source's set, at <prefix>/<cluster>/endpoints/<id>; deregistering removes it", async () => {
  if (skipped()) return;
  // A member that refuses connections comes first: calls go on to the next without an outage.
  const dead = `http://127.0.0.1:${await freePort()}`;
  const watching = watched({ cluster: "payments", urls: [dead, etcd!.url] });
  await waitUntil(() => watching.sets.length === 1, 5000);
  assert.equal(watching.sets[0], []);
  const pay7 = endpoint({ id: "pay-7", address: "127.0.0.1:7000", groups: ["pay", "eu"], weight: 3, zone: "eu-1a", metadata: { version: "1.4.2" } });
  const announcer = registrar({ cluster: "payments", urls: [dead, etcd!.url] });
  await announcer.register(pay7);
  await waitUntil(() => watching.ids() === "pay-7", 5000);
  assert.equal(watching.sets[watching.sets.length - 1], [pay7]);

  const [stored, ...others] = await listKeys("strata/payments/");
  assert.is(others.length, 0);
  assert.is(stored!.key, "strata/payments/endpoints/pay-7");
  assert.is(stored!.value, endpointRecord(pay7));
  assert.ok(stored!.lease !== undefined && stored!.lease !== "0", "the record is attached to a lease");

  const later = watched({ cluster: "payments" });
  await waitUntil(() => later.sets.length === 1, 5000);
  assert.equal(later.sets[0], [pay7], "a source started later lists it");

  await announcer.deregister();
  await waitUntil(() => watching.ids() === "" && later.ids() === "", 5000);
  assert.equal(await listKeys("strata/payments/"), []);
  assert.equal([...watching.unavailable, ...later.unavailable], []);
  assert.equal([...watching.logs, ...later.logs], []);
});

test("a second server registering and one deregistering are each a new set", async () => {
  if (skipped()) return;
  const options = { prefix: "acme", cluster: "changes" };
  const watching = watched(options);
  await waitUntil(() => watching.sets.length === 1, 5000);
  const a = await registered(options, { id: "a", address: "127.0.0.1:7001" });
  await waitUntil(() => watching.ids() === "a", 5000);
  await registered(options, { id: "b", address: "127.0.0.1:7002", groups: ["blue"] });
  await waitUntil(() => watching.ids() === "a,b", 5000);
  await a.deregister();
  await waitUntil(() => watching.ids() === "b", 5000);
  assert.equal(watching.sets.map((set) => set.map((e) => e.id).join(",")), ["", "a", "a,b", "b"]);
  assert.equal(watching.sets[3], [endpoint({ id: "b", address: "127.0.0.1:7002", groups: ["blue"] })]);
  assert.equal((await listKeys("acme/changes/")).map((kv) => kv.key), ["acme/changes/endpoints/b"]);
});

test("[CLUSTER-2] a live registrar outlasts its TTL; once its process is killed, its record ends with its lease", async () => {
  if (skipped()) return;
  const watching = watched({ cluster: "crash" });
  const child = spawnTs("test/support/etcd-register-child.ts", [etcd!.url, "crash", "doomed", "2"]);
  cleanups.push(async () => child.kill("SIGKILL"));
  assert.is(await firstLine(child, 20_000), "registered");
  await waitUntil(() => watching.ids() === "doomed", 5000);
  const seen = performance.now();
  const since = watching.sets.length - 1;
  // A TTL of 2 s: without keepalives the record would be gone within about 2.5 s.
  await waitUntil(() => performance.now() - seen > 3000, 5000);
  assert.ok(watching.sets.slice(since).every((set) => set.some((e) => e.id === "doomed")), "the record stayed while the registrar refreshed it");
  child.kill("SIGKILL");
  const killed = performance.now();
  await waitUntil(() => watching.ids() === "", 8000);
  const after = performance.now() - killed;
  assert.ok(after > 1000, `removed ${Math.round(after)} ms after the kill: by the lease's end, not by a revoke`);
});

test("[CLUSTER-2] a lease found gone at a refresh is granted again and the record put back", async () => {
  if (skipped()) return;
  const watching = watched({ cluster: "lost-lease" });
  const logs: string[] = [];
  await registered({ cluster: "lost-lease", ttlSeconds: 2 }, { id: "phoenix", address: "127.0.0.1:7003" }, logs);
  await waitUntil(() => watching.ids() === "phoenix", 5000);
  const [before] = await listKeys("strata/lost-lease/");
  // As if etcd had been out of reach for longer than the TTL: the lease ends, the record with it.
  const delivered = watching.sets.length;
  await gateway("lease/revoke", { ID: before!.lease });
  await waitUntil(() => watching.sets.slice(delivered).some((set) => set.length === 0), 5000);
  await waitUntil(() => watching.ids() === "phoenix", 5000);
  const [again] = await listKeys("strata/lost-lease/");
  assert.ok(again!.lease !== undefined && again!.lease !== before!.lease, "a new lease");
  assert.ok(logs.some((line) => line.includes("has ended") && line.includes("phoenix")), logs.join("\n"));
});

test("[CLUSTER-1] bad records are skipped with a log line naming the key and the problem; the others are kept", async () => {
  if (skipped()) return;
  const cluster = "bad-records";
  const watching = watched({ cluster });
  await registered({ cluster }, { id: "good", address: "127.0.0.1:7004" });
  await waitUntil(() => watching.ids() === "good", 5000);
  const bad = {
    "not-json": ["{oops", "not JSON"],
    "no-address": [JSON.stringify({ id: "no-address" }), "address is not a non-empty string"],
    "wrong-id": [JSON.stringify({ id: "someone-else", address: "127.0.0.1:7005" }), "is not the key's"],
    "bad-weight": [JSON.stringify({ id: "bad-weight", address: "127.0.0.1:7006", weight: 0 }), "weight"],
  } as const;
  for (const [id, [value]] of Object.entries(bad)) await gateway("kv/put", { key: b64(`strata/${cluster}/endpoints/${id}`), value: b64(value) });
  // Written after the bad ones: once the source has it, it has seen them all.
  await registered({ cluster }, { id: "later", address: "127.0.0.1:7007" });
  await waitUntil(() => watching.ids() === "good,later", 5000);
  const listing = watched({ cluster });
  await waitUntil(() => listing.sets.length === 1, 5000);
  assert.is(listing.ids(), "good,later");
  for (const { logs } of [watching, listing]) {
    for (const [id, [, problem]] of Object.entries(bad)) {
      assert.ok(logs.some((line) => line.includes(`strata/${cluster}/endpoints/${id} skipped`) && line.includes(problem) && line.includes("[CLUSTER-1]")), `a log line for ${id}: ${logs.join("\n")}`);
    }
  }
  assert.equal(watching.unavailable, []);
});

test("[CLUSTER-3] etcd stopped: unavailable once, the last set kept; etcd back: the watch resumes and sees changes made since", async () => {
  if (skipped()) return;
  const cluster = "outage";
  const counting = cuttableFetch();
  const watching = watched({ cluster, retryMs: 50, maxRetryMs: 300, fetch: counting.fetch });
  await registered({ cluster }, { id: "r1", address: "127.0.0.1:7008" });
  await waitUntil(() => watching.ids() === "r1", 5000);
  const delivered = watching.sets.length;
  await etcd!.stop();
  try {
    await waitUntil(() => watching.unavailable.length === 1, 5000);
    const failed = counting.requests;
    await waitUntil(() => counting.requests >= failed + 3, 5000);
    assert.is(watching.unavailable.length, 1, "one report per outage, however many attempts fail");
    assert.match(watching.unavailable[0]!.message, etcd!.url);
    assert.is(watching.sets.length, delivered, "no set delivered during the outage: the last one is kept");
  } finally {
    await etcd!.restart();
  }
  await registered({ cluster }, { id: "r2", address: "127.0.0.1:7009" });
  await waitUntil(() => watching.ids() === "r1,r2", 10_000);
  assert.is(watching.unavailable.length, 1);
  assert.ok(watching.logs.some((line) => line.includes("can be read again")), watching.logs.join("\n"));
});

test("a watch resumed from a revision etcd has compacted meanwhile lists again and converges", async () => {
  if (skipped()) return;
  const cluster = "compacted";
  const network = cuttableFetch();
  const watching = watched({ cluster, retryMs: 50, maxRetryMs: 200, fetch: network.fetch });
  const a = await registered({ cluster }, { id: "a", address: "127.0.0.1:7010" });
  await registered({ cluster }, { id: "b", address: "127.0.0.1:7011" });
  await waitUntil(() => watching.ids() === "a,b", 5000);
  network.set("down");
  await waitUntil(() => watching.unavailable.length === 1, 5000);
  await a.deregister();
  await registered({ cluster }, { id: "c", address: "127.0.0.1:7012" });
  const { header } = await gateway<{ header: { revision: string } }>("kv/range", { key: b64("x") });
  await gateway("kv/compaction", { revision: header.revision, physical: true });
  network.set("up");
  await waitUntil(() => watching.ids() === "b,c", 5000);
  assert.ok(watching.logs.some((line) => line.includes("compacted") && line.includes("listing")), watching.logs.join("\n"));
});

test("[CLUSTER-3] a member that stops answering but leaves the watch open (a partition) is found by the probe", async () => {
  if (skipped()) return;
  const cluster = "partition";
  const network = cuttableFetch();
  const watching = watched({ cluster, probeIntervalMs: 100, requestTimeoutMs: 300, retryMs: 50, maxRetryMs: 200, fetch: network.fetch });
  await registered({ cluster }, { id: "a", address: "127.0.0.1:7013" });
  await waitUntil(() => watching.ids() === "a", 5000);
  const delivered = watching.sets.length;
  network.set("hang");
  await waitUntil(() => watching.unavailable.length === 1, 5000);
  assert.match(watching.unavailable[0]!.message, "no answer within 300 ms");
  assert.is(watching.sets.length, delivered, "the last set is kept");
  await registered({ cluster }, { id: "b", address: "127.0.0.1:7014" });
  network.set("up");
  await waitUntil(() => watching.ids() === "a,b", 5000);
});

test("[CLUSTER-2] register fails when no member answers; deregister ends within its bound when etcd does not answer, says so, and the lease then ends the record", async () => {
  if (skipped()) return;
  const cluster = "unreachable";
  const dead = `http://127.0.0.1:${await freePort()}`;
  let refused: unknown;
  await registrar({ cluster, urls: [dead] }).register(endpoint({ id: "nowhere", address: "127.0.0.1:7016" })).catch((error: unknown) => (refused = error));
  assert.instance(refused, Error);
  assert.match(String(refused), `${dead}/v3/lease/grant`);
  assert.match(String(refused), "[CLUSTER-2]");
  const network = cuttableFetch();
  const logs: string[] = [];
  const announcer = await registered({ cluster, ttlSeconds: 2, requestTimeoutMs: 300, fetch: network.fetch }, { id: "stuck", address: "127.0.0.1:7015" }, logs);
  network.set("hang");
  const started = performance.now();
  await announcer.deregister();
  const took = performance.now() - started;
  assert.ok(took < 1500, `deregister took ${Math.round(took)} ms`);
  assert.ok(logs.some((line) => line.includes("cannot remove endpoint stuck") && line.includes("no answer within 300 ms")), logs.join("\n"));
  assert.is((await listKeys(`strata/${cluster}/`)).length, 1, "the record is still there");
  const watching = watched({ cluster });
  await waitUntil(() => watching.sets.length > 0 && watching.ids() === "", 6000);
});

test.run();
