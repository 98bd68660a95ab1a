// Endpoint records as registries store them (spec 21.1), and the file
// sources: a watched list and the cache of a registry's last set.
// Cites [CLUSTER-1] [CLUSTER-3].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cachedEndpoints, endpoint, endpointRecord, fileEndpoints, parseEndpointRecord, type Endpoint, type EndpointSource } from "../src/node.ts";
import { checkProperty } from "./support/property.ts";
import { wellFormedString } from "./support/arbitraries.ts";
import { waitUntil } from "./support/wait.ts";

const test = suite("endpoint records");

const anyEndpoint = fc.record({
  id: wellFormedString.filter((s) => s !== ""),
  address: wellFormedString.filter((s) => s !== ""),
  groups: fc.array(wellFormedString, { maxLength: 5 }),
  weight: fc.integer({ min: 1, max: 1000 }),
  zone: fc.option(wellFormedString, { nil: undefined }),
  metadata: fc.dictionary(wellFormedString, wellFormedString, { maxKeys: 5 }),
}).map((init) => endpoint(init));

test("[CLUSTER-1] a record round-trips through its JSON text", () =>
  checkProperty(fc.property(anyEndpoint, (e) => {
    assert.equal(parseEndpointRecord(endpointRecord(e)), e);
  })));

test("[CLUSTER-1] missing groups, weight and metadata default to [], 1 and {}", () => {
  assert.equal(parseEndpointRecord('{"id":"a","address":"h:1"}'), { id: "a", address: "h:1", groups: [], weight: 1, metadata: {} });
});

test("[CLUSTER-1] anything that is not a record is a problem, never an exception", () => {
  for (const text of ["", "null", "[]", '"x"', "{}", '{"id":"a"}', '{"address":"h:1"}', '{"id":"","address":"h:1"}', '{"id":"a","address":"h:1","weight":0}', '{"id":"a","address":"h:1","weight":1.5}', '{"id":"a","address":"h:1","groups":[1]}', '{"id":"a","address":"h:1","metadata":{"k":1}}', "{not json"]) {
    const parsed = parseEndpointRecord(text);
    assert.ok("problem" in parsed, `${text} was accepted`);
  }
  checkProperty(fc.property(fc.oneof(fc.json(), wellFormedString), (text) => {
    const parsed = parseEndpointRecord(text);
    return "problem" in parsed || (typeof parsed.id === "string" && typeof parsed.address === "string");
  }));
});

/** Collects what a source delivers. */
function watch(source: EndpointSource) {
  const seen = { sets: [] as (readonly Endpoint[])[], errors: [] as Error[] };
  source.watch({ endpoints: (set) => seen.sets.push(set), unavailable: (error) => seen.errors.push(error) });
  return seen;
}

test("[CLUSTER-1] fileEndpoints reads a list, skips bad entries with a log line, and rereads it when it changes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-endpoints-"));
  const path = join(dir, "endpoints.json");
  try {
    writeFileSync(path, JSON.stringify(["127.0.0.1:7001", { id: "b", address: "127.0.0.1:7002", groups: ["g"] }, { id: "bad", address: "" }]));
    const logs: string[] = [];
    const source = fileEndpoints(path, { pollMs: 20, log: (m) => logs.push(m) });
    const seen = watch(source);
    await waitUntil(() => seen.sets.length === 1);
    assert.equal(seen.sets[0]!.map((e) => e.id), ["127.0.0.1:7001", "b"]);
    assert.ok(logs.some((m) => m.includes("bad") && m.includes("CLUSTER-1")), logs.join("\n"));
    writeFileSync(path, JSON.stringify(["127.0.0.1:7001", "127.0.0.1:7003", "127.0.0.1:7004"]));
    await waitUntil(() => seen.sets.length === 2);
    assert.equal(seen.sets[1]!.map((e) => e.address), ["127.0.0.1:7001", "127.0.0.1:7003", "127.0.0.1:7004"]);
    // A broken edit leaves the last set in use.
    writeFileSync(path, "[ not json");
    await waitUntil(() => seen.errors.length > 0);
    assert.is(seen.sets.length, 2);
    await source.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A registry the test controls. */
function registry() {
  let listener: Parameters<EndpointSource["watch"]>[0] | undefined;
  const source: EndpointSource = {
    description: "test registry",
    watch: (l) => {
      listener = l;
    },
    close: () => Promise.resolve(),
  };
  return { source, deliver: (set: Endpoint[]) => listener!.endpoints(set), fail: (error: Error) => listener!.unavailable(error) };
}

test("[CLUSTER-3] cachedEndpoints keeps the last set in a file, and a client starting while the registry is down uses it, saying so", async () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-cache-"));
  const path = join(dir, "last-known.json");
  try {
    const first = registry();
    const cached = cachedEndpoints(first.source, path, { log: () => {} });
    const seen = watch(cached);
    const set = [endpoint({ id: "a", address: "127.0.0.1:7001", groups: ["g"], metadata: { v: "1" } }), endpoint({ id: "b", address: "127.0.0.1:7002" })];
    first.deliver(set);
    await cached.close(); // waits for the cache file to be written
    assert.equal(seen.sets, [set]);

    // Next start: the registry cannot be read.
    const second = registry();
    const logs: string[] = [];
    const restarted = watch(cachedEndpoints(second.source, path, { log: (m) => logs.push(m) }));
    second.fail(new Error("connection refused"));
    await waitUntil(() => restarted.sets.length === 1);
    assert.equal(restarted.sets[0], set);
    assert.ok(logs.some((m) => m.includes("connection refused") && m.includes(path)), logs.join("\n"));
    assert.is(restarted.errors.length, 0);
    // The registry comes back: its set replaces the cached one.
    second.deliver([set[0]!]);
    assert.equal(restarted.sets[1], [set[0]]);

    // Without a cache file, the failure is passed on.
    const third = registry();
    const none = watch(cachedEndpoints(third.source, join(dir, "missing.json"), { log: () => {} }));
    third.fail(new Error("down"));
    await waitUntil(() => none.errors.length === 1);
    assert.is(none.sets.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
