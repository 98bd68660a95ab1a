// The shared deadline timer: every deadline fires once, never early, in due
// order; cleared ones never fire; nothing is left pending. Cites [DEADLINE-2].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { pendingDeadlines, setDeadline } from "../src/util/deadline-timers.ts";
import { checkProperty } from "./support/property.ts";

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
