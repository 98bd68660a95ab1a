// The balancing policies of an endpoint group (spec 21.3) on members whose
// outstanding calls the test sets: power of two choices compares two
// different members on every pick, so the most loaded member of a group is
// never chosen while another eligible one has fewer calls, whatever the size
// of the group (2 to 300 members) and their weights (1 to 1000, [CLUSTER-1]).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { endpoint } from "../src/index.ts";
import { EndpointGroup, type ClusterMember } from "../src/cluster/endpoint-group.ts";
import { checkProperty } from "./support/property.ts";

const test = suite("endpoint group");

interface Member extends ClusterMember {
  load: number;
}

function members(weights: readonly number[], loads: readonly number[]): Member[] {
  return weights.map((weight, i) => {
    const m: Member = { endpoint: endpoint({ id: `m${i}`, address: `127.0.0.1:${7000 + i}`, weight }), load: loads[i]!, outstanding: () => m.load };
    return m;
  });
}

const everyone = () => true;
const group = fc.integer({ min: 2, max: 300 }).chain((n) =>
  fc.record({
    weights: fc.oneof(fc.constant(Array.from({ length: n }, () => 1)), fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: n, maxLength: n })),
    loads: fc.array(fc.integer({ min: 0, max: 999 }), { minLength: n, maxLength: n }),
    loaded: fc.integer({ min: 0, max: n - 1 }),
  }),
);

test("[CLUSTER-4] power of two choices never picks the most loaded member while another is eligible", () => {
  checkProperty(
    fc.property(group, ({ weights, loads, loaded }) => {
      const list = members(weights, loads);
      list[loaded]!.load = 1000;
      const g = new EndpointGroup(list, list.length, "client");
      for (let i = 0; i < 200; i++) assert.is.not(g.powerOfTwo(everyone), list[loaded], `pick ${i} chose the member with 1000 calls outstanding`);
    }),
    { numRuns: 200 },
  );
});

test("[CLUSTER-4] power of two choices picks the only eligible member, and only eligible ones", () => {
  checkProperty(
    fc.property(group, fc.integer({ min: 0, max: 299 }), ({ weights, loads }, only) => {
      const list = members(weights, loads);
      const chosen = list[only % list.length]!;
      const g = new EndpointGroup(list, list.length, "client");
      for (let i = 0; i < 50; i++) assert.is(g.powerOfTwo((m, level) => level === 0 && m === chosen), chosen);
    }),
    { numRuns: 100 },
  );
});

test("[CLUSTER-4] with equal loads, power of two choices spreads picks by weight", () => {
  const list = members([1, 1, 2, 4], [0, 0, 0, 0]);
  const g = new EndpointGroup(list, list.length, "client");
  const counts = new Map<Member, number>();
  const picks = 80_000;
  for (let i = 0; i < picks; i++) {
    const m = g.powerOfTwo(everyone)!;
    counts.set(m, (counts.get(m) ?? 0) + 1);
  }
  // Every member is picked; a heavier one more often than a lighter one.
  const share = list.map((m) => (counts.get(m) ?? 0) / picks);
  assert.ok(share.every((s) => s > 0.05), `shares ${share.join(", ")}`);
  assert.ok(share[3]! > share[2]! && share[2]! > share[0]! && share[2]! > share[1]!, `shares ${share.join(", ")}`);
});

test.run();
