// Deadlines of calls and requests, all on one timer. A process with
// thousands of calls in flight would otherwise create and clear one
// setTimeout per call; here each deadline is an entry in a binary heap
// ordered by due time, and a single timer waits for the earliest. Removing
// the earliest entry does not re-arm the timer: it fires, finds nothing due
// and waits for the next, so calls that finish in time cost no timer work.
// A cleared entry stays in the heap, marked, and is dropped when it reaches
// the top or when cleared entries outnumber pending ones (the heap is then
// rebuilt from the pending ones): calls with one timeout set deadlines in due
// order, so setting one costs one comparison and clearing it a flag, where
// taking it out of the heap at once cost a sift down the heap per call.
// When no deadline is left, the timer stays armed but unreferenced (or is
// cleared where timers cannot be unreferenced), so it never keeps a process
// alive by itself and a steady stream of calls does not re-create it.

// Runtimes fire delays above MAX_TIMER_DELAY after 1 ms; the heap's timer fires early and waits again instead.
import { MAX_TIMER_DELAY } from "./timer.ts";
import { now } from "./clock.ts";

/** A pending deadline; clear() cancels it. */
export interface LongTimeout {
  clear(): void;
}

/** What a deadline is for, when it is an object: told once the deadline passes, with no closure made for it. */
export interface DeadlineTarget {
  deadlinePassed(): void;
}

const NOTHING = () => {};

class Deadline implements LongTimeout {
  readonly due: number;
  /** Called, or told, once the deadline passes; dropped once cleared: a cleared entry left in the heap keeps nothing of its call alive. */
  target: DeadlineTarget | (() => void);
  /** Set until the deadline fires or is cleared; a cleared entry may stay in the heap a while. */
  pending = true;

  constructor(due: number, target: DeadlineTarget | (() => void)) {
    this.due = due;
    this.target = target;
  }

  clear(): void {
    if (!this.pending) return;
    this.pending = false;
    this.target = NOTHING;
    pendingCount--;
    clearedCount++;
    if (pendingCount === 0) onNonePending();
    else if (clearedCount > pendingCount && clearedCount >= MIN_REBUILD) rebuild();
  }
}

/** Node's and Bun's timers can stop keeping the process alive; Deno's and browsers' cannot. */
interface Unreferencable {
  ref(): void;
  unref(): void;
}

/** Pending and cleared entries, a binary heap by due time. */
let heap: Deadline[] = [];
/** Entries in the heap still pending, and those cleared but not yet dropped. */
let pendingCount = 0;
let clearedCount = 0;
/**
 * The heap is rebuilt once cleared entries outnumber pending ones and are at
 * least this many: it never holds more than twice the pending deadlines plus
 * this, and a rebuild's cost is spread over as many clears as it drops.
 */
const MIN_REBUILD = 64;
let timer: ReturnType<typeof setTimeout> | undefined;
/** Set while the armed timer is unreferenced because no deadline is pending. */
let idle = false;
/** When the armed timer fires, or Infinity when none is armed. */
let armedFor = Infinity;

/**
 * Calls `callback` once `ms` milliseconds have passed, unless cleared first;
 * however far away (timeout_ms is a uint32 [DEADLINE-1]); every deadline shares one timer [DEADLINE-2].
 */
export function setDeadline(callback: () => void, ms: number): LongTimeout {
  return setDeadlineAt(callback, now() + Math.max(0, ms));
}

/** Like setDeadline, with the time given as a performance.now() value; saves reading the clock twice [DEADLINE-2]. */
export function setDeadlineAt(callback: () => void, due: number): LongTimeout {
  return setDeadlineFor(callback, due);
}

/** Like setDeadlineAt, telling `target` instead of calling a callback: a call with a deadline needs no closure for it [DEADLINE-2]. */
export function setDeadlineFor(target: DeadlineTarget | (() => void), due: number): LongTimeout {
  const entry = new Deadline(due, target);
  heap.push(entry);
  siftUp(heap.length - 1);
  pendingCount++;
  if (entry.due < armedFor) arm(entry.due);
  else if (idle) {
    (timer as unknown as Unreferencable).ref();
    idle = false;
  }
  return entry;
}

function arm(due: number): void {
  if (timer !== undefined) clearTimeout(timer);
  idle = false;
  armedFor = due;
  timer = setTimeout(fire, Math.min(MAX_TIMER_DELAY, Math.max(0, due - now())));
}

function fire(): void {
  timer = undefined;
  idle = false;
  armedFor = Infinity;
  const at = now();
  while (heap.length > 0 && (!heap[0]!.pending || heap[0]!.due <= at)) {
    const entry = popEarliest();
    if (!entry.pending) {
      clearedCount--;
      continue;
    }
    entry.pending = false;
    pendingCount--;
    try {
      const target = entry.target;
      if (typeof target === "function") target();
      else target.deadlinePassed();
    } catch (error) {
      // One failing callback must not stop the others; report it outside this loop.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
  if (pendingCount === 0) onNonePending();
  // A callback may have armed the timer for a deadline it set, later than one already pending: the
  // earliest pending deadline decides when the timer fires next.
  else if (timer === undefined || armedFor > heap[0]!.due) arm(heap[0]!.due);
}

/** Takes the earliest entry, pending or cleared, off the heap. */
function popEarliest(): Deadline {
  const earliest = heap[0]!;
  const last = heap.pop()!;
  if (last !== earliest) {
    heap[0] = last;
    siftDown(0);
  }
  return earliest;
}

/** Nothing left to wait for: cleared entries go, and the timer must not keep the process alive. */
function onNonePending(): void {
  heap.length = 0;
  clearedCount = 0;
  if (timer === undefined || idle) return;
  if (typeof (timer as Partial<Unreferencable>).unref === "function") {
    (timer as unknown as Unreferencable).unref();
    idle = true;
  } else {
    clearTimeout(timer);
    timer = undefined;
    armedFor = Infinity;
  }
}

/** Drops the cleared entries: the pending ones, heapified in place (bottom-up, linear time). */
function rebuild(): void {
  heap = heap.filter((entry) => entry.pending);
  clearedCount = 0;
  for (let at = (heap.length >> 1) - 1; at >= 0; at--) siftDown(at);
}

function siftUp(at: number): void {
  const entry = heap[at]!;
  while (at > 0) {
    const parentAt = (at - 1) >> 1;
    const parent = heap[parentAt]!;
    if (parent.due <= entry.due) break;
    heap[at] = parent;
    at = parentAt;
  }
  heap[at] = entry;
}

function siftDown(at: number): void {
  const entry = heap[at]!;
  const size = heap.length;
  for (;;) {
    const left = 2 * at + 1;
    if (left >= size) break;
    const right = left + 1;
    const child = right < size && heap[right]!.due < heap[left]!.due ? right : left;
    if (heap[child]!.due >= entry.due) break;
    heap[at] = heap[child]!;
    at = child;
  }
  heap[at] = entry;
}

/** How many deadlines are pending (for tests). */
export function pendingDeadlines(): number {
  return pendingCount;
}

/** How many entries the heap holds, pending and cleared (for tests: at most 2 × pending + MIN_REBUILD). */
export function heldDeadlines(): number {
  return heap.length;
}
