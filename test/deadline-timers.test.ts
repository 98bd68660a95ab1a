// The shared deadline timer: every deadline fires once, never early, in due
// order; cleared ones never fire; nothing is left pending; cleared entries
// neither pile up nor keep their callbacks alive. Cites [DEADLINE-2].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { heldDeadlines, pendingDeadlines, setDeadline, type LongTimeout } from "../src/util/deadline-timers.ts";
import { checkProperty } from "./support/property.ts";
import { garbageCollector } from "./support/garbage.ts";

const test = suite("deadline timers");

test("[DEADLINE-2] deadlines fire once each, not early, in due order; cleared ones never fire", async () => {
  await checkProperty(
    fc.asyncProperty(fc.array(fc.record({ ms: fc.integer({ min: 0, max: 40 }), clear: fc.boolean() }), { maxLength: 40 }), async (plan) => {
      const fired: Array<{ at: number; due: number; i: number }> = [];
      const start = performance.now();
      const entries = plan.map(({ ms }, i) => setDeadline(() => fired.push({ at: performance.now(), due: start + ms, i }), ms));
      plan.forEach(({ clear }, i) => clear && entries[i]!.clear());
      const expected = plan.flatMap(({ clear }, i) => (clear ? [] : [i]));
      const until = performance.now() + 5000;
      while (fired.length < expected.length && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(fired.map((f) => f.i).sort((a, b) => a - b), expected, "exactly the uncleared deadlines fired");
      for (const f of fired) assert.ok(f.at >= f.due - 1, `deadline ${f.i} fired ${(f.due - f.at).toFixed(2)} ms early`);
      for (let k = 1; k < fired.length; k++) assert.ok(fired[k - 1]!.due <= fired[k]!.due + 1, "in due order");
      assert.is(pendingDeadlines(), 0);
    }),
    { numRuns: 25 },
  );
});

test("[DEADLINE-2] property: a deadline set from inside another's callback delays none of those already pending", async () => {
  // Each planned deadline may set a follow-up when it fires, much later than the others. A timer
  // armed for the follow-up must not hold back a planned deadline that was not yet due.
  const LATE_MS = 250;
  await checkProperty(
    fc.asyncProperty(
      fc.array(fc.record({ ms: fc.integer({ min: 0, max: 60 }), followUpMs: fc.option(fc.integer({ min: 400, max: 600 })) }), { minLength: 2, maxLength: 20 }),
      async (plan) => {
        const fired: Array<{ at: number; due: number; name: string }> = [];
        const start = performance.now();
        plan.forEach(({ ms, followUpMs }, i) => {
          setDeadline(() => {
            const at = performance.now();
            fired.push({ at, due: start + ms, name: `planned ${i}` });
            if (followUpMs !== null) setDeadline(() => fired.push({ at: performance.now(), due: at + followUpMs, name: `follow-up of ${i}` }), followUpMs);
          }, ms);
        });
        const expected = plan.length + plan.filter((p) => p.followUpMs !== null).length;
        const until = performance.now() + 5000;
        while (fired.length < expected && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 5));
        assert.is(fired.length, expected, "every deadline fired");
        for (const f of fired) {
          assert.ok(f.at >= f.due - 1, `${f.name} fired ${(f.due - f.at).toFixed(2)} ms early`);
          assert.ok(f.at - f.due < LATE_MS, `${f.name} fired ${(f.at - f.due).toFixed(0)} ms late`);
        }
        assert.is(pendingDeadlines(), 0);
      },
    ),
    { numRuns: 8 },
  );
});

test("[DEADLINE-2] property: cleared deadlines do not pile up: the heap holds at most twice the pending ones plus 64", () => {
  // Calls far from their deadlines, set and cleared in any order: the steady state of a busy client.
  checkProperty(
    fc.property(fc.array(fc.record({ set: fc.boolean(), ms: fc.integer({ min: 1_000, max: 4_294_967_295 }), pick: fc.nat() }), { maxLength: 3000, size: "max" }), (steps) => {
      // One call stays pending throughout, as a slow call does, so the heap is never simply emptied.
      const live: LongTimeout[] = [setDeadline(() => assert.unreachable("a far deadline fired"), 60_000)];
      for (const { set, ms, pick } of steps) {
        if (set || live.length === 1) live.push(setDeadline(() => assert.unreachable("a far deadline fired"), ms));
        else live.splice(1 + (pick % (live.length - 1)), 1)[0]!.clear();
        assert.is(pendingDeadlines(), live.length);
        assert.ok(heldDeadlines() <= 2 * live.length + 64, `${heldDeadlines()} entries held for ${live.length} pending`);
      }
      for (const entry of live) entry.clear();
      assert.is(pendingDeadlines(), 0);
      assert.is(heldDeadlines(), 0, "with none pending, nothing is held");
    }),
    { numRuns: 30 },
  );
});

/** Lets the test's own references go (a turn of the event loop), then collects garbage. */
async function released(collect: () => void): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  collect();
}

test("[DEADLINE-2] a cleared deadline still in the heap keeps nothing its callback holds alive", async () => {
  const collect = garbageCollector();
  const keep = setDeadline(() => {}, 60_000);
  // The callback closes over the call itself, as a call's deadline does; the test keeps only a weak reference.
  const deadlineOfCall = () => {
    const call = { body: new Uint8Array(1 << 20) };
    return { held: new WeakRef(call), entry: setDeadline(() => call.body.fill(1), 60_000) };
  };
  const { held, entry } = deadlineOfCall();
  entry.clear();
  assert.ok(heldDeadlines() >= 2, "the cleared entry is still in the heap");
  await released(collect);
  assert.is(held.deref(), undefined, "what the cleared callback held was collected");
  keep.clear();
});

test("clearing the last pending deadline leaves no timer behind, and a throwing callback does not stop the others", async () => {
  const far = setDeadline(() => assert.unreachable("cleared"), 60_000);
  far.clear();
  assert.is(pendingDeadlines(), 0);
  const reported: unknown[] = [];
  const original = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (fn) => {
    try {
      fn();
    } catch (error) {
      reported.push(error);
    }
  };
  try {
    let second = false;
    setDeadline(() => {
      throw new Error("first");
    }, 0);
    setDeadline(() => {
      second = true;
    }, 0);
    const until = performance.now() + 2000;
    while (!second && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 2));
    assert.ok(second, "the second deadline fired");
    assert.is((reported[0] as Error | undefined)?.message, "first");
  } finally {
    globalThis.queueMicrotask = original;
  }
});

test.run();
