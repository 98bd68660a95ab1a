// Deadlines of calls and requests, all on one timer. A process with
// thousands of calls in flight would otherwise create and clear one
// setTimeout per call; here each deadline is an entry in a binary heap
// ordered by due time, and a single timer waits for the earliest. Removing
// the earliest entry does not re-arm the timer: it fires, finds nothing due
// and waits for the next, so calls that finish in time cost no timer work.
// When no deadline is left, the timer stays armed but unreferenced (or is
// cleared where timers cannot be unreferenced), so it never keeps a process
// alive by itself and a steady stream of calls does not re-create it.

// Runtimes fire delays above MAX_TIMER_DELAY after 1 ms; the heap's timer fires early and waits again instead.
import { MAX_TIMER_DELAY } from "./timer.ts";

/** A pending deadline; clear() cancels it. */
export interface LongTimeout {
  clear(): void;
}

class Deadline implements LongTimeout {
  readonly due: number;
  readonly callback: () => void;
  /** Position in the heap, or -1 once fired or cleared. */
  index = -1;

  constructor(due: number, callback: () => void) {
    this.due = due;
    this.callback = callback;
  }

  clear(): void {
    if (this.index >= 0) remove(this);
  }
}

/** Node's and Bun's timers can stop keeping the process alive; Deno's and browsers' cannot. */
interface Unreferencable {
  ref(): void;
  unref(): void;
}

const heap: Deadline[] = [];
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
  return setDeadlineAt(callback, performance.now() + Math.max(0, ms));
}

/** Like setDeadline, with the time given as a performance.now() value; saves reading the clock twice [DEADLINE-2]. */
export function setDeadlineAt(callback: () => void, due: number): LongTimeout {
  const entry = new Deadline(due, callback);
  entry.index = heap.length;
  heap.push(entry);
  siftUp(entry.index);
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
  timer = setTimeout(fire, Math.min(MAX_TIMER_DELAY, Math.max(0, due - performance.now())));
}

function fire(): void {
  timer = undefined;
  idle = false;
  armedFor = Infinity;
  const now = performance.now();
  while (heap.length > 0 && heap[0]!.due <= now) {
    const entry = heap[0]!;
    remove(entry);
    try {
      entry.callback();
    } catch (error) {
      // One failing callback must not stop the others; report it outside this loop.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
  // A callback may have armed the timer for a deadline it set, later than one already pending: the
  // earliest pending deadline decides when the timer fires next.
  if (heap.length > 0 && (timer === undefined || armedFor > heap[0]!.due)) arm(heap[0]!.due);
}

function remove(entry: Deadline): void {
  const at = entry.index;
  entry.index = -1;
  const last = heap.pop()!;
  if (heap.length === 0 && timer !== undefined && !idle) {
    // Nothing left to wait for: the timer must not keep the process alive.
    if (typeof (timer as Partial<Unreferencable>).unref === "function") {
      (timer as unknown as Unreferencable).unref();
      idle = true;
    } else {
      clearTimeout(timer);
      timer = undefined;
      armedFor = Infinity;
    }
  }
  if (last === entry) return;
  heap[at] = last;
  last.index = at;
  siftDown(at);
  siftUp(last.index);
}

function siftUp(at: number): void {
  const entry = heap[at]!;
  while (at > 0) {
    const parentAt = (at - 1) >> 1;
    const parent = heap[parentAt]!;
    if (parent.due <= entry.due) break;
    heap[at] = parent;
    parent.index = at;
    at = parentAt;
  }
  heap[at] = entry;
  entry.index = at;
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
    heap[at]!.index = at;
    at = child;
  }
  heap[at] = entry;
  entry.index = at;
}

/** How many deadlines are pending (for tests). */
export function pendingDeadlines(): number {
  return heap.length;
}
