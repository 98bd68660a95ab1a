// KeyScheduler against spec section 15 (worked example, edge cases, a model-based property, fc.scheduler races): [KEYS-1] [KEYS-3] [KEYS-4] [KEYS-5] [KEYS-6] [KEYS-7] [KEYS-8] [KEYS-9].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { KeyScheduler, type KeySchedulerOptions, type KeyTicket } from "../src/server/key-scheduler.ts";
import { checkProperty } from "./support/property.ts";

const test = suite("key scheduler");

/** [KEYS-8]: the request was refused. (A ticket is not printed: it reaches the whole scheduler.) */
function assertRefused(ticket: KeyTicket | undefined, message = "expected the request to be refused"): void {
  assert.ok(ticket === undefined, message);
}

// ---------------------------------------------------------------------------
// Example-based tests: tickets have names, and we record whose onGranted ran.

class Named {
  readonly scheduler: KeyScheduler;
  readonly fired: string[] = [];
  private readonly tickets = new Map<string, KeyTicket>();
  private readonly released = new Set<string>();

  constructor(options?: KeySchedulerOptions) {
    this.scheduler = new KeyScheduler(options);
  }

  /** Enqueues `name`; `then` runs inside its onGranted, after it is recorded. */
  add(name: string, keys: string[], then: () => void = () => {}): KeyTicket {
    const ticket = this.scheduler.enqueue(keys, () => {
      this.fired.push(name);
      then();
    });
    if (ticket === undefined) throw new Error(`${name} was refused`);
    this.tickets.set(name, ticket);
    return ticket;
  }

  get(name: string): KeyTicket {
    const ticket = this.tickets.get(name);
    if (ticket === undefined) throw new Error(`no ticket ${name}`);
    return ticket;
  }

  /** Completes (or withdraws) `name`; returns the names granted meanwhile, sorted. */
  release(name: string): string[] {
    const before = this.fired.length;
    this.released.add(name);
    this.get(name).release();
    return this.fired.slice(before).sort();
  }

  /** Names granted and not yet released, sorted. */
  running(): string[] {
    return [...this.tickets].filter(([n, t]) => t.granted && !this.released.has(n)).map(([n]) => n).sort();
  }

  counts(): { waiting: number; running: number; activeKeys: number } {
    const { waiting, running, activeKeys } = this.scheduler.stats();
    return { waiting, running, activeKeys };
  }
}

/** Spec 15.2: r1..r5 in arrival order; r6 has no keys and never enters the scheduler [KEYS-7]. */
function workedExample(): Named {
  const n = new Named();
  n.add("r1", ["uid=A"]);
  n.add("r2", ["uid=B"]);
  n.add("r3", ["uid=A", "uid=B"]);
  n.add("r4", ["uid=B"]);
  n.add("r5", ["uid=A"]);
  return n;
}

test("[KEYS-3] [KEYS-4] [KEYS-5] [KEYS-7] the worked example of spec 15.2, step by step", () => {
  const n = workedExample();
  // t0: r1 and r2 start at once (no callback), the others wait.
  assert.equal(n.running(), ["r1", "r2"]);
  assert.equal(n.fired, []);
  assert.equal(n.counts(), { waiting: 3, running: 2, activeKeys: 2 });
  assert.equal(n.scheduler.stats().busiestKeys, [
    { key: "uid=A", depth: 3 },
    { key: "uid=B", depth: 3 },
  ]);
  // t1: r1 completes; r3 heads A but not B, and r5 does not overtake it.
  assert.equal(n.release("r1"), []);
  assert.equal(n.running(), ["r2"]);
  // t2: r2 completes; r3 heads both queues and starts.
  assert.equal(n.release("r2"), ["r3"]);
  assert.equal(n.running(), ["r3"]);
  assert.equal(n.counts(), { waiting: 2, running: 1, activeKeys: 2 });
  // t3: r3 completes; r4 and r5 share no key: both start.
  assert.equal(n.release("r3"), ["r4", "r5"]);
  assert.equal(n.running(), ["r4", "r5"]);
  // t4: all done, nothing left.
  assert.equal(n.release("r4"), []);
  assert.equal(n.release("r5"), []);
  assert.equal(n.counts(), { waiting: 0, running: 0, activeKeys: 0 });
  assert.is(n.fired[0], "r3");
  assert.equal([...n.fired].sort(), ["r3", "r4", "r5"], "each waiting request's onGranted ran once");
});

test("[KEYS-6] spec 15.2 variant: r3's deadline passes at t1, so r5 starts at once and r4 still waits for r2", () => {
  const n = workedExample();
  n.release("r1");
  // r3 heads queue A but waits on B; withdrawing it must free A immediately.
  assert.equal(n.release("r3"), ["r5"]);
  assert.equal(n.running(), ["r2", "r5"]);
  assert.equal(n.release("r2"), ["r4"]);
  assert.not.ok(n.get("r3").granted);
  assert.not.ok(n.fired.includes("r3"));
});

test("[KEYS-5] transfers A→B and B→A arriving together run one after the other, never deadlocked", () => {
  const n = new Named();
  n.add("hold", ["uid=A"]);
  n.add("ab", ["uid=A", "uid=B"]);
  n.add("ba", ["uid=B", "uid=A"]);
  assert.equal(n.running(), ["hold"]);
  assert.equal(n.release("hold"), ["ab"]);
  assert.equal(n.release("ab"), ["ba"]);
  assert.equal(n.release("ba"), []);
  assert.equal(n.counts(), { waiting: 0, running: 0, activeKeys: 0 });
});

test("[KEYS-1] duplicate keys count once: one queue entry, no self-deadlock, not against the bound", () => {
  const n = new Named({ maxQueuePerKey: 1 });
  const t = n.add("dup", ["A", "A", "B", "A"]);
  assert.ok(t.granted, "a request must not wait behind itself");
  assert.equal(t.keys, ["A", "B"]);
  assert.equal(n.scheduler.stats().busiestKeys, [
    { key: "A", depth: 1 },
    { key: "B", depth: 1 },
  ]);
  assertRefused(n.scheduler.enqueue(["A"], () => {}), "the bound of 1 is reached by one request");
  assert.equal(n.release("dup"), []);
  const n2 = new Named();
  n2.add("dup", ["A", "A"]);
  n2.add("next", ["A"]);
  assert.equal(n2.release("dup"), ["next"], "releasing a duplicate-key ticket once frees the key");
});

test("[KEYS-1] keys named like object properties (__proto__, constructor, toString) are keys like any other", () => {
  const n = new Named();
  const names = ["__proto__", "constructor", "toString", "hasOwnProperty"];
  for (const key of names) n.add(`first ${key}`, [key]);
  for (const key of names) assert.not.ok(n.add(`second ${key}`, [key]).granted, `a second request on ${key} waits`);
  assert.is(n.scheduler.stats().activeKeys, 4);
  for (const key of names) assert.equal(n.release(`first ${key}`), [`second ${key}`]);
  for (const key of names) n.release(`second ${key}`);
  assert.is(n.scheduler.stats().activeKeys, 0);
  assert.equal(n.scheduler.stats().busiestKeys, []);
});

test("[KEYS-7] a request without keys is refused by the scheduler (it must never queue)", () => {
  assert.throws(() => new KeyScheduler().enqueue([], () => {}), RangeError);
});

test("[KEYS-8] a full key queue refuses the request: undefined, counted in stats().rejected, nothing queued", () => {
  const n = new Named({ maxQueuePerKey: 2 });
  n.add("a1", ["A"]);
  n.add("a2", ["A"]);
  const calls: string[] = [];
  assertRefused(n.scheduler.enqueue(["A"], () => calls.push("a3")));
  // B has room but A does not: the request is refused as a whole, B stays empty.
  assertRefused(n.scheduler.enqueue(["B", "A"], () => calls.push("ba")));
  const stats = n.scheduler.stats();
  assert.is(stats.rejected, 2);
  assert.is(stats.activeKeys, 1);
  assert.equal(stats.busiestKeys, [{ key: "A", depth: 2 }]);
  // The bound counts the running request too; once it completes there is room again.
  assert.equal(n.release("a1"), ["a2"]);
  n.add("a3", ["A"]);
  assert.is(n.scheduler.stats().rejected, 2);
  n.release("a2");
  n.release("a3");
  assert.equal(calls, [], "a refused request's onGranted never runs");
});

test("[KEYS-8] the default bound is 1000 per key, and 0 means unbounded; bad bounds are refused", () => {
  const bounded = new KeyScheduler();
  for (let i = 0; i < 1000; i++) assert.ok(bounded.enqueue(["A"], () => {}));
  assertRefused(bounded.enqueue(["A"], () => {}));
  assert.ok(bounded.enqueue(["B"], () => {}), "the bound is per key");
  const unbounded = new KeyScheduler({ maxQueuePerKey: 0 });
  for (let i = 0; i < 5000; i++) assert.ok(unbounded.enqueue(["A"], () => {}));
  assert.is(unbounded.stats().rejected, 0);
  assert.is(unbounded.stats().waiting, 4999);
  assert.throws(() => new KeyScheduler({ maxQueuePerKey: -1 }), RangeError);
  assert.throws(() => new KeyScheduler({ maxQueuePerKey: 1.5 }), RangeError);
});

test("[KEYS-6] withdrawing a waiting ticket does not delay those behind it, at the head or in the middle", () => {
  const n = new Named();
  n.add("run", ["A"]);
  n.add("mid", ["A"]);
  n.add("last", ["A"]);
  assert.equal(n.release("mid"), [], "withdrawing from the middle grants nobody while A is held");
  assert.equal(n.release("run"), ["last"]);
  // Heads queue A but waits on B: A must be handed on at once.
  const m = new Named();
  m.add("holdB", ["B"]);
  m.add("ab", ["A", "B"]);
  m.add("a", ["A"]);
  m.add("b", ["B"]);
  assert.equal(m.release("ab"), ["a"]);
  assert.equal(m.running(), ["a", "holdB"]);
  assert.equal(m.release("holdB"), ["b"]);
  assert.not.ok(m.fired.includes("ab"));
  assert.equal(m.counts(), { waiting: 0, running: 2, activeKeys: 2 });
});

test("[KEYS-3] [KEYS-6] release() is idempotent, for running and for withdrawn tickets", () => {
  const n = new Named();
  n.add("t1", ["A"]);
  n.add("t2", ["A"]);
  n.add("t3", ["A"]);
  n.add("t4", ["A"]);
  assert.equal(n.release("t1"), ["t2"]);
  assert.equal(n.release("t1"), [], "a second release must not free t2's key");
  assert.equal(n.running(), ["t2"]);
  assert.equal(n.counts(), { waiting: 2, running: 1, activeKeys: 1 });
  assert.equal(n.release("t3"), []);
  assert.equal(n.release("t3"), []);
  assert.equal(n.counts(), { waiting: 1, running: 1, activeKeys: 1 });
  assert.equal(n.release("t2"), ["t4"]);
  assert.equal(n.release("t4"), []);
  assert.equal(n.release("t4"), []);
  assert.equal(n.counts(), { waiting: 0, running: 0, activeKeys: 0 });
  assert.not.ok(n.fired.includes("t3"));
});

test("[KEYS-5] [KEYS-6] an onGranted that releases its own ticket (deadline passed at grant) hands the key on", () => {
  const n = new Named();
  n.add("t1", ["A"]);
  let grantedInCallback = false;
  const t2 = n.add("t2", ["A"], () => {
    grantedInCallback = t2.granted;
    n.release("t2");
  });
  n.add("t3", ["A"]);
  assert.equal(n.release("t1"), ["t2", "t3"]);
  assert.ok(grantedInCallback, "the ticket is granted when its onGranted runs");
  assert.equal(n.running(), ["t3"]);
  assert.equal(n.counts(), { waiting: 0, running: 1, activeKeys: 1 });
});

test("[KEYS-6] an onGranted that withdraws a ticket granted in the same batch stops that one's onGranted", () => {
  const n = new Named();
  n.add("both", ["A", "B"]);
  n.add("a", ["A"], () => n.release("b"));
  n.add("b", ["B"]);
  n.add("b2", ["B"]);
  // Releasing "both" makes a and b grantable; a's callback withdraws b first, so b2 takes B.
  n.release("both");
  assert.not.ok(n.fired.includes("b"), `fired ${n.fired.join(",")}`);
  assert.not.ok(n.get("b").granted);
  assert.equal(n.running(), ["a", "b2"]);
  assert.equal(n.counts(), { waiting: 0, running: 2, activeKeys: 2 });
});

test("[KEYS-5] grants caused inside an onGranted run after it returns, not nested, and enqueues from it queue normally", () => {
  const n = new Named();
  let depth = 0;
  const depths: number[] = [];
  const track = (then: () => void) => () => {
    depth++;
    depths.push(depth);
    then();
    depth--;
  };
  n.add("a1", ["A"]);
  n.add("b1", ["B"]);
  n.add("a2", ["A"], track(() => n.release("b1")));
  n.add("b2", ["B"], track(() => n.add("b3", ["B"])));
  assert.equal(n.release("a1"), ["a2", "b2"]);
  assert.equal(depths, [1, 1]);
  assert.equal(n.running(), ["a2", "b2"]);
  assert.equal(n.release("b2"), ["b3"]);
  assert.equal(n.counts(), { waiting: 0, running: 2, activeKeys: 2 });
});

test("[KEYS-5] a throwing onGranted does not strand later grants; the error is reported, not swallowed", () => {
  const reported: unknown[] = [];
  const original = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (callback: () => void) => {
    try {
      callback();
    } catch (error) {
      reported.push(error);
    }
  };
  const n = new Named();
  try {
    n.add("both", ["A", "B"]);
    n.add("a", ["A"], () => {
      throw new Error("handler start failed");
    });
    n.add("b", ["B"]);
    n.add("a2", ["A"]);
    assert.equal(n.release("both"), ["a", "b"]);
  } finally {
    globalThis.queueMicrotask = original;
  }
  assert.is(reported.length, 1);
  assert.is((reported[0] as Error).message, "handler start failed");
  assert.equal(n.running(), ["a", "b"]);
  // The scheduler is not left mid-loop: later releases still grant.
  assert.equal(n.release("a"), ["a2"]);
  assert.equal(n.counts(), { waiting: 0, running: 2, activeKeys: 2 });
});

test("[KEYS-8] stats(): activeKeys, waiting, running, busiestKeys (deepest first, ties by key, limited)", () => {
  const n = new Named({ busiestKeys: 2 });
  n.add("c1", ["C"]);
  n.add("b1", ["B"]);
  n.add("bc", ["B", "C"]);
  n.add("a1", ["A"]);
  n.add("c2", ["C"]);
  n.add("d1", ["D"]);
  n.add("d2", ["D"]);
  const stats = n.scheduler.stats();
  assert.is(stats.activeKeys, 4);
  assert.is(stats.running, 4); // c1, b1, a1, d1
  assert.is(stats.waiting, 3); // bc, c2, d2
  assert.equal(stats.busiestKeys, [
    { key: "C", depth: 3 },
    { key: "B", depth: 2 },
  ]);
  assert.equal(new KeyScheduler().stats().busiestKeys, []);
  n.release("c1");
  assert.equal(n.scheduler.stats().busiestKeys, [
    { key: "B", depth: 2 },
    { key: "C", depth: 2 },
  ]);
});

test("[KEYS-8] stats().wait: wait times from an injected clock; withdrawn tickets are not counted", () => {
  let clock = 0;
  const n = new Named({ now: () => clock });
  assert.equal(n.scheduler.stats().wait, { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 });
  n.add("t1", ["A"]); // granted at once: waited 0
  clock = 10;
  n.add("t2", ["A"]);
  n.add("gone", ["A"]);
  clock = 25;
  n.release("t1"); // t2 waited 15
  clock = 30;
  n.add("t3", ["A"]);
  n.release("gone");
  clock = 100;
  n.release("t2"); // t3 waited 70
  assert.equal(n.scheduler.stats().wait, { count: 3, meanMs: 85 / 3, p50Ms: 15, p99Ms: 70, maxMs: 70 });
});

test("[KEYS-8] stats().wait percentiles cover the most recent 1024 grants, the count all of them", () => {
  let clock = 0;
  const s = new KeyScheduler({ now: () => clock });
  for (let i = 0; i < 10; i++) {
    const holder = s.enqueue(["A"], () => {})!;
    const waiter = s.enqueue(["A"], () => {})!;
    clock += 500;
    holder.release();
    waiter.release();
  }
  assert.is(s.stats().wait.maxMs, 500);
  for (let i = 0; i < 1024; i++) s.enqueue(["A"], () => {})!.release();
  const wait = s.stats().wait;
  assert.is(wait.count, 20 + 1024);
  assert.is(wait.maxMs, 0, "the long waits have left the window");
});

// ---------------------------------------------------------------------------
// The reference model: every ticket in enqueue order, and whether we released
// it. A ticket must be granted iff no earlier unreleased ticket shares a key.

interface Entry {
  readonly id: number;
  readonly keys: readonly string[];
  readonly ticket: KeyTicket;
  readonly grantedAtOnce: boolean;
  released: boolean;
  withdrawn: boolean;
  callbacks: number;
  callbacksAtRelease: number;
}

class Ledger {
  readonly scheduler: KeyScheduler;
  readonly entries: Entry[] = [];
  /** Problems seen inside onGranted, where throwing would be caught by the scheduler. */
  readonly problems: string[] = [];
  private readonly bound: number;
  private readonly busiest: number;
  private rejected = 0;

  constructor(bound = 0, busiest = 10) {
    this.bound = bound;
    this.busiest = busiest;
    this.scheduler = new KeyScheduler({ maxQueuePerKey: bound, busiestKeys: busiest });
  }

  /** Unreleased tickets holding or waiting for `key`. */
  depth(key: string): number {
    return this.entries.filter((e) => !e.released && e.keys.includes(key)).length;
  }

  /** [KEYS-4] [KEYS-5]: may run iff every earlier ticket sharing a key is released. */
  eligible(entry: Entry): boolean {
    if (entry.released) return false;
    for (const e of this.entries) {
      if (e === entry) return true;
      if (!e.released && e.keys.some((k) => entry.keys.includes(k))) return false;
    }
    throw new Error("entry not in the ledger");
  }

  enqueue(keys: readonly string[], onGranted: (entry: Entry) => void = () => {}): Entry | undefined {
    const distinct = [...new Set(keys)];
    const full = this.bound > 0 && distinct.some((k) => this.depth(k) >= this.bound);
    let entry: Entry | undefined;
    const ticket = this.scheduler.enqueue(keys, () => {
      if (entry === undefined) return void this.problems.push(`onGranted of [${keys}] ran inside enqueue`);
      entry.callbacks++;
      if (entry.callbacks > 1) this.problems.push(`#${entry.id} onGranted ran ${entry.callbacks} times`);
      if (entry.released) this.problems.push(`#${entry.id} onGranted ran after its release`);
      if (!entry.ticket.granted) this.problems.push(`#${entry.id} onGranted ran before granted was set`);
      if (!this.eligible(entry)) this.problems.push(`#${entry.id} granted while an earlier ticket on its keys is unreleased`);
      onGranted(entry);
    });
    if (full) {
      assertRefused(ticket, `[${keys}] exceeds the bound ${this.bound}`);
      this.rejected++;
      return undefined;
    }
    if (ticket === undefined) throw new Error(`[${keys}] refused below the bound ${this.bound}`);
    assert.equal(ticket.keys, distinct, "[KEYS-1] distinct keys in first-sent order");
    entry = {
      id: this.entries.length,
      keys: distinct,
      ticket,
      grantedAtOnce: ticket.granted,
      released: false,
      withdrawn: false,
      callbacks: 0,
      callbacksAtRelease: 0,
    };
    this.entries.push(entry);
    return entry;
  }

  /** Completes a running ticket or withdraws a waiting one; again is a no-op. */
  release(entry: Entry): void {
    if (!entry.released) {
      entry.released = true;
      entry.withdrawn = !entry.ticket.granted;
      entry.callbacksAtRelease = entry.callbacks;
    }
    entry.ticket.release();
  }

  running(): Entry[] {
    return this.entries.filter((e) => !e.released && e.ticket.granted);
  }

  waiting(): Entry[] {
    return this.entries.filter((e) => !e.released && !e.ticket.granted);
  }

  /**
   * Compares the scheduler with the model: no two running tickets share a key [KEYS-3]; a ticket
   * is granted iff the FIFO rule says so [KEYS-4] [KEYS-5]; onGranted ran exactly once for each
   * ticket granted later, never after a release; stats() counts match.
   */
  check(): void {
    assert.equal(this.problems, [], "problems inside onGranted");
    const holder = new Map<string, number>();
    const depths = new Map<string, number>();
    let waiting = 0;
    let running = 0;
    let everGranted = 0;
    for (const e of this.entries) {
      if (e.grantedAtOnce || e.callbacks > 0) everGranted++;
      if (e.released) {
        assert.is(e.callbacks, e.callbacksAtRelease, `#${e.id} onGranted ran after its release`);
        continue;
      }
      if (e.ticket.granted) {
        running++;
        for (const k of e.keys) {
          const other = holder.get(k);
          assert.is(other, undefined, `[KEYS-3] #${e.id} and #${other} both hold ${k}`);
          holder.set(k, e.id);
        }
      } else waiting++;
      const eligible = this.eligible(e);
      assert.is(e.ticket.granted, eligible, `#${e.id} [${e.keys}] granted should be ${eligible} (FIFO per key)`);
      assert.is(e.callbacks, eligible && !e.grantedAtOnce ? 1 : 0, `#${e.id} onGranted count`);
      for (const k of e.keys) depths.set(k, (depths.get(k) ?? 0) + 1);
    }
    const stats = this.scheduler.stats();
    const busiest = [...depths]
      .map(([key, depth]) => ({ key, depth }))
      .sort((a, b) => b.depth - a.depth || (a.key < b.key ? -1 : 1))
      .slice(0, this.busiest);
    assert.equal(
      { waiting: stats.waiting, running: stats.running, activeKeys: stats.activeKeys, rejected: stats.rejected, busiest: stats.busiestKeys, granted: stats.wait.count },
      { waiting, running, activeKeys: depths.size, rejected: this.rejected, busiest, granted: everGranted },
    );
  }

  /** Liveness (d): completing whatever runs, round after round, eventually completes everything. */
  drain(): void {
    while (this.entries.some((e) => !e.released)) {
      const running = this.running();
      assert.ok(running.length > 0, `deadlock: ${this.waiting().length} tickets wait and none runs`);
      for (const e of running) {
        this.release(e);
        this.check();
      }
    }
    for (const e of this.entries) {
      assert.ok(e.withdrawn || e.grantedAtOnce || e.callbacks === 1, `#${e.id} was never granted`);
    }
    assert.equal(this.scheduler.stats().busiestKeys, []);
  }
}

/** What an enqueued request's onGranted does besides recording the grant. */
type AtGrant = "run" | "leave" | "withdraw another";

type Op =
  | { kind: "enqueue"; keys: string[]; atGrant: AtGrant; pick: number }
  | { kind: "complete" | "withdraw" | "again"; pick: number };

const anyKeys = fc.array(fc.constantFrom("A", "B", "C", "D"), { minLength: 1, maxLength: 3 });
const anyOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("enqueue" as const),
      keys: anyKeys,
      atGrant: fc.constantFrom<AtGrant>("run", "run", "run", "leave", "withdraw another"),
      pick: fc.nat(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("complete" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("withdraw" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("again" as const), pick: fc.nat() }) },
);

function pick<T>(items: T[], n: number): T | undefined {
  return items.length === 0 ? undefined : items[n % items.length];
}

function apply(ledger: Ledger, op: Op): void {
  if (op.kind === "enqueue") {
    // "leave": its deadline passed while it waited, so it leaves once granted. "withdraw another":
    // its start withdraws a waiting request, re-entrantly, preferably one being granted in the
    // same batch (eligible in the model, not yet granted).
    const atGrant: Record<AtGrant, (e: Entry) => void> = {
      run: () => {},
      leave: (e) => ledger.release(e),
      "withdraw another": () => {
        const waiting = ledger.waiting();
        const inBatch = waiting.filter((w) => ledger.eligible(w));
        const other = pick(inBatch.length > 0 ? inBatch : waiting, op.pick);
        if (other !== undefined) ledger.release(other);
      },
    };
    ledger.enqueue(op.keys, atGrant[op.atGrant]);
    return;
  }
  const from = op.kind === "complete" ? ledger.running() : op.kind === "withdraw" ? ledger.waiting() : ledger.entries.filter((e) => e.released);
  const entry = pick(from, op.pick);
  if (entry !== undefined) ledger.release(entry);
}

test("[KEYS-1] [KEYS-3] [KEYS-4] [KEYS-5] [KEYS-6] [KEYS-8] model-based: random enqueue/complete/withdraw sequences follow the FIFO-per-key rule", () => {
  checkProperty(
    fc.property(fc.constantFrom(0, 2, 3), fc.constantFrom(1, 2, 10), fc.array(anyOp, { maxLength: 60 }), (bound, busiest, ops) => {
      const ledger = new Ledger(bound, busiest);
      for (const op of ops) {
        apply(ledger, op);
        ledger.check();
      }
      ledger.drain();
    }),
    { numRuns: 1000 },
  );
});

// ---------------------------------------------------------------------------
// fc.scheduler races: connections read requests in an interleaving the
// scheduler picks; handlers take scheduled steps; deadlines race with grants.

interface Req {
  keys: string[];
  steps: number;
  deadline: boolean;
}

const anyReq = (deadlines: boolean): fc.Arbitrary<Req> =>
  fc.record({
    keys: fc.array(fc.constantFrom("A", "B", "C"), { minLength: 1, maxLength: 2 }),
    steps: fc.integer({ min: 1, max: 2 }),
    deadline: deadlines ? fc.boolean() : fc.constant(false),
  });

const anyConnections = (deadlines: boolean) => fc.array(fc.array(anyReq(deadlines), { minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 3 });

interface Run {
  readonly conn: number;
  readonly index: number;
  readonly name: string;
  expired: boolean;
  outcome: "waiting" | "running" | "done" | "withdrawn" | "expired at grant";
}

async function simulate(s: fc.Scheduler, connections: Req[][]): Promise<void> {
  const ledger = new Ledger();
  const errors: unknown[] = [];
  const track = (p: Promise<unknown>): void => void p.catch((error: unknown) => errors.push(error));
  const busy = new Map<string, string>();
  const starts: Array<{ run: Run; entry: Entry }> = [];
  const runs: Run[] = [];
  const tick = (label: string) => s.schedule(Promise.resolve(label), label);

  async function execute(run: Run, req: Req, entry: Entry): Promise<void> {
    for (const k of entry.keys) {
      const other = busy.get(k);
      if (other !== undefined) throw new Error(`[KEYS-3] ${run.name} started on ${k} while ${other} runs`);
    }
    for (const k of entry.keys) busy.set(k, run.name);
    run.outcome = "running";
    starts.push({ run, entry });
    for (let i = 0; i < req.steps; i++) await tick(`${run.name} step ${i}`);
    for (const k of entry.keys) busy.delete(k);
    run.outcome = "done";
    ledger.release(entry);
    ledger.check();
  }

  function start(run: Run, req: Req, entry: Entry): void {
    if (run.expired) {
      // Granted after its deadline passed but before the timer withdrew it: released inside onGranted.
      run.outcome = "expired at grant";
      ledger.release(entry);
      return;
    }
    track(execute(run, req, entry));
  }

  async function deadline(run: Run, entry: Entry): Promise<void> {
    await tick(`${run.name} deadline`);
    run.expired = true;
    await tick(`${run.name} expiry timer`);
    if (!entry.released && !entry.ticket.granted) {
      run.outcome = "withdrawn";
      ledger.release(entry);
      ledger.check();
    }
  }

  async function connection(conn: number, reqs: Req[]): Promise<void> {
    for (const [index, req] of reqs.entries()) {
      const run: Run = { conn, index, name: `c${conn}#${index}`, expired: false, outcome: "waiting" };
      runs.push(run);
      await tick(`${run.name} read`);
      const entry = ledger.enqueue(req.keys, (e) => start(run, req, e));
      if (entry === undefined) throw new Error(`${run.name} refused`);
      ledger.check();
      if (entry.ticket.granted) start(run, req, entry);
      if (req.deadline) track(deadline(run, entry));
    }
  }

  connections.forEach((reqs, conn) => track(connection(conn, reqs)));
  await s.waitIdle();
  if (errors.length > 0) throw errors[0];
  ledger.check();

  // Everything finished: each request ran to completion unless its deadline removed it [KEYS-5].
  assert.is(runs.length, connections.flat().length);
  for (const run of runs) {
    const req = connections[run.conn]?.[run.index];
    const allowed = req?.deadline ? ["done", "withdrawn", "expired at grant"] : ["done"];
    assert.ok(allowed.includes(run.outcome), `${run.name} ended ${run.outcome}`);
  }
  const stats = ledger.scheduler.stats();
  assert.equal([stats.waiting, stats.running, stats.activeKeys], [0, 0, 0]);

  // Start order of requests sharing a key: per connection, the order sent [KEYS-4];
  // across connections, the order enqueued [KEYS-9].
  for (const [i, a] of starts.entries()) {
    for (const b of starts.slice(i + 1)) {
      if (!a.entry.keys.some((k) => b.entry.keys.includes(k))) continue;
      const order = `${a.run.name} (enqueued #${a.entry.id}) started before ${b.run.name} (#${b.entry.id})`;
      if (a.run.conn === b.run.conn) assert.ok(a.run.index < b.run.index, `[KEYS-4] ${order}`);
      assert.ok(a.entry.id < b.entry.id, `[KEYS-9] ${order}`);
    }
  }
  assert.is(new Set(starts.map((x) => x.run)).size, starts.length, "no request started twice");
}

test("[KEYS-3] [KEYS-4] [KEYS-5] [KEYS-9] fc.scheduler: interleaved connections never overlap on a key and start in arrival order", async () => {
  await checkProperty(
    fc.asyncProperty(fc.scheduler(), anyConnections(false), (s, connections) => simulate(s, connections)),
    { numRuns: 500 },
  );
});

test("[KEYS-3] [KEYS-5] [KEYS-6] [KEYS-9] fc.scheduler: deadlines racing with grants withdraw cleanly and never stall the others", async () => {
  await checkProperty(
    fc.asyncProperty(fc.scheduler(), anyConnections(true), (s, connections) => simulate(s, connections)),
    { numRuns: 500 },
  );
});

test.run();
