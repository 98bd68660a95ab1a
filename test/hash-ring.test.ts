// The hash ring of [CLUSTER-8] and the routing keys of [CLUSTER-7], checked
// against the spec's definitions: hashes against vectors computed outside
// JavaScript and against a BigInt model, ownership against a linear scan of
// every point, and the ring's stability when endpoints come and go.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { endpoint, HashRing, keyRoutingKey, ringHash, type Endpoint } from "../src/index.ts";
import { requestRoutingKey } from "../src/cluster/routing-key.ts";
import { rendezvousSubset } from "../src/cluster/rendezvous-subset.ts";
import { checkProperty } from "./support/property.ts";
import { textUpTo, wellFormedString } from "./support/arbitraries.ts";

const test = suite("hash ring");
const utf8 = new TextEncoder();

/** [CLUSTER-8]'s hash written out with BigInt, as the spec states it. */
function modelHash(text: string): number {
  const M = 0xffffffffn;
  let x = 0x811c9dc5n;
  for (const b of utf8.encode(text)) x = ((x ^ BigInt(b)) * 0x01000193n) & M;
  x ^= x >> 16n;
  x = (x * 0x85ebca6bn) & M;
  x ^= x >> 13n;
  x = (x * 0xc2b2ae35n) & M;
  x ^= x >> 16n;
  return Number(x);
}

/** Keys as [KEYS-1] allows them: 1 to 256 UTF-8 bytes. */
const anyKey = textUpTo(wellFormedString, 256).filter((k) => k.length > 0 && utf8.encode(k).length <= 256);

const anyId = fc.stringMatching(/^[a-z0-9-]{1,12}$/);

/** Sets of 1 to 40 endpoints with distinct ids and weights 1 to 3. */
const anyEndpoints = fc.uniqueArray(fc.tuple(anyId, fc.integer({ min: 1, max: 3 })), { minLength: 1, maxLength: 40, selector: ([id]) => id })
  .map((list) => list.map(([id, weight]) => endpoint({ id, address: `127.0.0.1:${1000 + id.length}`, weight })));

/** Compares as UTF-8 bytes. */
function byteOrder(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** The owner by the spec's words: every point listed, sorted by hash then id bytes, the first at or after h(key). */
function modelOwner(endpoints: readonly Endpoint[], key: string): string {
  const points: { hash: number; id: string }[] = [];
  for (const e of endpoints) for (let i = 0; i < 100 * e.weight; i++) points.push({ hash: modelHash(`${e.id}#${i}`), id: e.id });
  points.sort((a, b) => a.hash - b.hash || byteOrder(a.id, b.id));
  const h = modelHash(key);
  return (points.find((p) => p.hash >= h) ?? points[0]!).id;
}

test("[CLUSTER-8] ringHash matches vectors computed outside JavaScript", () => {
  // Computed with Python's integers from the spec's text.
  const vectors: [string, number][] = [["", 0xab3e7c0b], ["a", 0x1a80b1b3], ["user-42", 0x7c2a1196], ["pay-7#0", 0x3e0afdb0], ["ключ", 0x9aa1b562], ["{x}y", 0xb8af090e]];
  for (const [text, hash] of vectors) assert.is(ringHash(text), hash, JSON.stringify(text));
});

test("[CLUSTER-8] ringHash equals the BigInt model for any key up to 256 bytes", () =>
  checkProperty(fc.property(anyKey, (key) => ringHash(key) === modelHash(key)), { numRuns: 300 }));

test("[CLUSTER-8] a key's owner is the first point at or after its hash, ties by id bytes", () =>
  checkProperty(
    fc.property(anyEndpoints.filter((e) => e.length <= 12), fc.array(anyKey, { minLength: 1, maxLength: 20 }), (endpoints, keys) => {
      const ring = new HashRing(endpoints);
      for (const key of keys) assert.is(ring.owner(key)!.id, modelOwner(endpoints, key), key);
    }),
    { numRuns: 60 },
  ));

test("[CLUSTER-8] adding an endpoint moves keys only to it; removing one moves only its keys", () =>
  checkProperty(
    fc.property(anyEndpoints.filter((e) => e.length >= 2), fc.array(anyKey, { minLength: 50, maxLength: 200 }), (endpoints, keys) => {
      const [gone, ...rest] = endpoints as [Endpoint, ...Endpoint[]];
      const before = new HashRing(rest);
      const after = new HashRing(endpoints);
      for (const key of keys) {
        const was = before.owner(key)!.id;
        const now = after.owner(key)!.id;
        if (was !== now) assert.is(now, gone.id, `${key} moved from ${was} to ${now}, not to the new endpoint`);
      }
    }),
    { numRuns: 40 },
  ));

test("[CLUSTER-8] keys spread in proportion to weight, within a bound", () => {
  const endpoints = [endpoint({ id: "a", address: "a:1" }), endpoint({ id: "b", address: "b:1" }), endpoint({ id: "c", address: "c:1", weight: 2 }), endpoint({ id: "d", address: "d:1" }), endpoint({ id: "e", address: "e:1" })];
  const ring = new HashRing(endpoints);
  const counts = new Map<string, number>();
  const n = 60_000;
  for (let i = 0; i < n; i++) {
    const id = ring.owner(`user-${i}`)!.id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  for (const e of endpoints) {
    const share = counts.get(e.id)! / n;
    const expected = e.weight / 6;
    // 100 points per weight unit: the spread of a ring's arcs keeps each share within 40% of its weight.
    assert.ok(Math.abs(share - expected) < expected * 0.4, `${e.id}: ${share.toFixed(3)} vs ${expected.toFixed(3)}`);
  }
});

test("[CLUSTER-8] successors list each endpoint once, the owner first", () =>
  checkProperty(
    fc.property(anyEndpoints, anyKey, (endpoints, key) => {
      const ring = new HashRing(endpoints);
      const order = [...ring.successors(key)].map((e) => e.id);
      assert.is(order[0], ring.owner(key)!.id);
      assert.equal([...order].sort(), endpoints.map((e) => e.id).sort());
    }),
    { numRuns: 100 },
  ));

test("[CLUSTER-7] a key's routing key is its first non-empty {tag}, else the whole key", () => {
  assert.is(keyRoutingKey("{user-42}:wallet"), "user-42");
  assert.is(keyRoutingKey("points:{user-42}"), "user-42");
  assert.is(keyRoutingKey("{}user"), "{}user");
  assert.is(keyRoutingKey("a{b}{c}"), "b");
  assert.is(keyRoutingKey("{unclosed"), "{unclosed");
  assert.is(keyRoutingKey("plain"), "plain");
  checkProperty(fc.property(anyKey, anyKey, (tag, rest) => {
    const clean = tag.replace(/[{}]/g, "x");
    return keyRoutingKey(`${rest.replace(/[{]/g, "(")}{${clean}}${rest}`) === clean;
  }));
});

test("[CLUSTER-7] a request routes only when all its keys share a routing key, and an explicit one must agree", () => {
  assert.is(requestRoutingKey(["{l1}a", "{l1}b"], undefined), "l1");
  assert.is(requestRoutingKey([], "session-9"), "session-9");
  assert.is(requestRoutingKey([], undefined), undefined);
  assert.is(requestRoutingKey(["{l1}a"], "l1"), "l1");
  const apart = requestRoutingKey(["uid=a", "uid=b"], undefined);
  assert.ok(typeof apart === "object" && apart.problem.includes("[CLUSTER-7]"));
  const disagree = requestRoutingKey(["{l1}a"], "l2");
  assert.ok(typeof disagree === "object" && disagree.problem.includes("differs"));
  checkProperty(fc.property(fc.array(anyKey, { minLength: 1, maxLength: 16 }), (keys) => {
    const result = requestRoutingKey(keys, undefined);
    const distinct = new Set(keys.map(keyRoutingKey)).size;
    return distinct === 1 ? result === keyRoutingKey(keys[0]!) : typeof result === "object";
  }));
});

test("subsetting: rendezvous subsets are bounded, and growing the fleet by one changes few of them", () => {
  const fleet = Array.from({ length: 50 }, (_, i) => endpoint({ id: `s${i}`, address: `10.0.0.${i}:7000` }));
  const grown = [...fleet, endpoint({ id: "s50", address: "10.0.0.50:7000" })];
  let changed = 0;
  const clients = 400;
  const load = new Map<string, number>();
  for (let c = 0; c < clients; c++) {
    const before = rendezvousSubset(fleet, `client-${c}`, 10);
    const after = rendezvousSubset(grown, `client-${c}`, 10);
    assert.is(before.length, 10);
    const lost = before.filter((e) => !after.includes(e)).length;
    assert.ok(lost <= 1, `client-${c} lost ${lost} endpoints`);
    changed += lost;
    for (const e of before) load.set(e.id, (load.get(e.id) ?? 0) + 1);
  }
  // Each new endpoint takes a place in about size/(N+1) of the subsets: 400 × 10/51 ≈ 78.
  assert.ok(changed > 30 && changed < 140, `${changed} subsets changed`);
  // Every server is in some subsets, none in far more than its share (400 × 10 / 50 = 80).
  for (const e of fleet) assert.ok((load.get(e.id) ?? 0) > 30 && (load.get(e.id) ?? 0) < 140, `${e.id}: ${load.get(e.id)}`);
});

test.run();
