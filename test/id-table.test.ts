// The in-flight tables (the hashed IdTable, and the RequestTable that
// places ids by their low bits in front of one) behave like a Map from
// request id to value under any sequence of adds, replaces and removals,
// including ids chosen to collide, ids up to 2^53-1 and deletions in the
// middle of probe runs. Cites [ID-1] [ID-4].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { IdTable } from "../src/util/id-table.ts";
import { RequestTable } from "../src/util/request-table.ts";
import { checkProperty } from "./support/property.ts";

const test = suite("id tables");

const id = fc.oneof(
  fc.integer({ min: 1, max: 64 }),
  fc.integer({ min: 1, max: 0xffffffff }),
  // Up to 2^53-1 [ID-4]; ids that differ only above bit 32 too.
  fc.integer({ min: 1, max: 2 ** 21 - 1 }).map((high) => high * 2 ** 32 + 7),
  fc.constant(Number.MAX_SAFE_INTEGER),
  // Ids sharing their low bits, as a peer could pick them.
  fc.integer({ min: 1, max: 64 }).map((k) => k * 1024),
  fc.integer({ min: 1, max: 2 ** 21 - 1 }).map((high) => high * 2 ** 32 + 5),
  // Windows of consecutive ids, as a client numbers them.
  fc.integer({ min: 1, max: 600 }),
);
/** Ids looked up: also 0, which is never set (it marks empty slots) and so is never found. */
const lookup = fc.oneof(id, fc.constant(0));
const operation = fc.oneof(
  fc.record({ op: fc.constant("set" as const), id, value: fc.integer() }),
  fc.record({ op: fc.constant("delete" as const), id: lookup }),
  fc.record({ op: fc.constant("get" as const), id: lookup }),
  fc.record({ op: fc.constant("take" as const), id: lookup }),
);

interface Table<V> {
  readonly size: number;
  readonly capacity: number;
  get(id: number): V | undefined;
  set(id: number, value: V): void;
  delete(id: number): boolean;
  take(id: number): V | undefined;
  entries(): Array<[number, V]>;
  valueList(): V[];
  clear(): void;
}

for (const [name, make] of [
  ["IdTable", <V>() => new IdTable<V>()],
  ["RequestTable", <V>() => new RequestTable<V>()],
] as Array<[string, <V>() => Table<V>]>) {
  test(`${name}: [ID-1] agrees with a Map on every operation`, () =>
    checkProperty(
      fc.property(fc.array(operation, { maxLength: 400 }), (operations) => {
        const table = make<number>();
        const model = new Map<number, number>();
        for (const step of operations) {
          if (step.op === "set") {
            table.set(step.id, step.value);
            model.set(step.id, step.value);
          } else if (step.op === "delete") {
            assert.is(table.delete(step.id), model.delete(step.id), `delete(${step.id})`);
          } else if (step.op === "take") {
            const expected = model.get(step.id);
            model.delete(step.id);
            assert.is(table.take(step.id), expected, `take(${step.id})`);
          } else {
            assert.is(table.get(step.id), model.get(step.id), `get(${step.id})`);
          }
          assert.is(table.size, model.size);
        }
        for (const [key, value] of model) assert.is(table.get(key), value, `get(${key}) at the end`);
        assert.equal(table.entries(), [...model].sort((a, b) => a[0] - b[0]), "entries in id order");
        assert.equal(table.valueList().sort(), [...model.values()].sort());
        table.clear();
        assert.is(table.size, 0);
        for (const key of model.keys()) assert.is(table.get(key), undefined);
      }),
      { numRuns: 300 },
    ));

  test(`${name}: a steady stream of sequential ids reuses the same slots`, () => {
    const table = make<string>();
    for (let next = 1; next <= 100_000; next++) {
      table.set(next, "call");
      if (next > 100) assert.ok(table.delete(next - 100));
    }
    assert.is(table.size, 100);
    assert.is(table.capacity, 256, "the table never grew past twice its peak size");
    assert.is(table.get(100_000), "call");
    assert.is(table.get(1), undefined);
  });

  test(`${name}: [ID-4] ids a peer could pick to share a slot under an unkeyed hash (h * 2^32 + (C ^ h)) are all kept and found`, () => {
    const table = make<number>();
    const id = (h: number) => h * 2 ** 32 + ((0x1234 ^ h) >>> 0);
    for (let h = 1; h <= 5_000; h++) table.set(id(h), h);
    for (let h = 1; h <= 5_000; h += 2) assert.ok(table.delete(id(h)));
    for (let h = 1; h <= 5_000; h++) assert.is(table.get(id(h)), h % 2 === 0 ? h : undefined);
    assert.is(table.size, 2_500);
  });

  test(`${name}: [ID-4] ids outside 1 to 2^53-1 are refused with a RangeError`, () => {
    const table = make<number>();
    for (const bad of [0, -1, 1.5, 2 ** 53, Number.NaN]) assert.throws(() => table.set(bad, 1), (error: Error) => error instanceof RangeError && /request ids/.test(error.message));
  });
}

test("RequestTable: ids in flight in a window of consecutive numbers each take the slot of their low bits; a slow one displaces only those that come to its slot", () => {
  const table = new RequestTable<string>();
  table.set(1, "slow");
  for (let next = 2; next <= 100_000; next++) {
    table.set(next, "call");
    if (next > 101) assert.ok(table.delete(next - 100));
    assert.ok(table.displaced <= 1, `${table.displaced} displaced at ${next}`);
  }
  assert.is(table.get(1), "slow");
  assert.is(table.size, 101);
});

test("RequestTable: ids a peer picks to share their low bits are all kept, in the hashed table", () => {
  const table = new RequestTable<number>();
  const id = (h: number) => h * 2 ** 32 + 9;
  for (let h = 1; h <= 3_000; h++) table.set(id(h), h);
  assert.is(table.displaced, 2_999);
  for (let h = 1; h <= 3_000; h += 2) assert.ok(table.delete(id(h)));
  for (let h = 1; h <= 3_000; h++) assert.is(table.get(id(h)), h % 2 === 0 ? h : undefined);
  assert.is(table.size, 1_500);
  table.set(id(2), -2);
  assert.is(table.get(id(2)), -2, "a displaced id is replaced where it is");
  assert.is(table.size, 1_500);
});

test.run();
