// The keyed-dispatch scheduler of spec/protocol.md section 15: one FIFO
// queue per key, shared by every connection of a server. A request starts
// when it heads every one of its queues; because all queues order requests
// by one global arrival order, no two requests can wait for each other, so
// nothing deadlocks [KEYS-5].

import { now } from "../util/clock.ts";

/** A request's place in the key queues, from arrival until its handler returns. */
export interface KeyTicket {
  /** The request's distinct keys, in the order first sent [KEYS-1]. */
  readonly keys: readonly string[];
  /** True once the request heads all its queues: it may run [KEYS-5]. */
  readonly granted: boolean;
  /**
   * Leaves every queue: a waiting request is withdrawn without delaying
   * those behind it, a running one releases its keys. Idempotent
   * [KEYS-3] [KEYS-6].
   */
  release(): void;
}

/** How long granted requests waited for their keys, over the most recent ones. */
export interface KeyWaitStats {
  /** Requests granted since the start. */
  count: number;
  /** Mean, median, 99th percentile and maximum wait, in milliseconds, of the last WAIT_SAMPLES grants. */
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** A snapshot of the key queues. */
export interface KeySchedulerStats {
  /** Keys that have at least one request waiting or running. */
  activeKeys: number;
  /** Keyed requests waiting for their keys. */
  waiting: number;
  /** Keyed requests holding their keys. */
  running: number;
  /** Requests refused because a key's queue was full [KEYS-8]. */
  rejected: number;
  /** The deepest queues (waiting plus running), deepest first. */
  busiestKeys: Array<{ key: string; depth: number }>;
  wait: KeyWaitStats;
}

/** What a server needs of a keyed-dispatch scheduler; KeyScheduler is the reference one. */
export interface KeyDispatch {
  /**
   * Queues a request behind every earlier request sharing one of `keys`, in
   * arrival order. Returns its ticket, already granted when nothing is ahead,
   * or undefined when a key's queue is full [KEYS-8]. `onGranted` runs once,
   * later, if the ticket was not granted at once and is not released first.
   */
  enqueue(keys: readonly string[], onGranted: () => void): KeyTicket | undefined;
  stats(): KeySchedulerStats;
}

/** Options of KeyScheduler. */
export interface KeySchedulerOptions {
  /** Requests waiting or running per key; 0 = no bound. Default 1000 [KEYS-8]. */
  maxQueuePerKey?: number;
  /** How many of the deepest queues stats() lists. Default 10. */
  busiestKeys?: number;
  /** The clock for wait times, in milliseconds. Default performance.now. */
  now?: () => number;
}

/** Wait times of the last this many grants feed the percentiles. */
const WAIT_SAMPLES = 1024;

/** One request's link in one key's queue. */
interface QueueNode {
  readonly ticket: Ticket;
  readonly queue: KeyQueue;
  prev: QueueNode | undefined;
  next: QueueNode | undefined;
}

/** The requests on one key, oldest (the one that holds it) first. */
interface KeyQueue {
  readonly key: string;
  head: QueueNode | undefined;
  tail: QueueNode | undefined;
  length: number;
}

class Ticket implements KeyTicket {
  readonly keys: readonly string[];
  readonly nodes: QueueNode[] = [];
  /** Queues this ticket is in but does not head. */
  blockedOn = 0;
  granted = false;
  released = false;
  readonly enqueuedAt: number;
  readonly onGranted: () => void;
  private readonly scheduler: KeyScheduler;

  constructor(scheduler: KeyScheduler, keys: readonly string[], enqueuedAt: number, onGranted: () => void) {
    this.scheduler = scheduler;
    this.keys = keys;
    this.enqueuedAt = enqueuedAt;
    this.onGranted = onGranted;
  }

  release(): void {
    this.scheduler.release(this);
  }
}

/** The reference keyed-dispatch scheduler: FIFO queues per key, deadlock-free [KEYS-3] [KEYS-4] [KEYS-5] [KEYS-9]. */
export class KeyScheduler implements KeyDispatch {
  /**
   * The queue of each active key. A dictionary object rather than a Map:
   * keys come and go with every call, and a Map's discarded hash tables
   * point at their successors, which promotes young per-call objects
   * wholesale after a full GC (see src/util/id-table.ts).
   */
  private readonly queues: Record<string, KeyQueue> = Object.create(null) as Record<string, KeyQueue>;
  private activeKeys = 0;
  private readonly maxQueuePerKey: number;
  private readonly busiestCount: number;
  private readonly now: () => number;
  /** Tickets granted by a release, handed their onGranted once the queues are consistent again. */
  private readonly toStart: Ticket[] = [];
  private starting = false;
  private waitingCount = 0;
  private runningCount = 0;
  private rejectedCount = 0;
  private grantedCount = 0;
  private readonly waitSamples = new Float64Array(WAIT_SAMPLES);

  constructor(options: KeySchedulerOptions = {}) {
    const max = options.maxQueuePerKey ?? 1000;
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`maxQueuePerKey must be a whole number >= 0, got ${max}`);
    this.maxQueuePerKey = max;
    this.busiestCount = options.busiestKeys ?? 10;
    this.now = options.now ?? now;
  }

  enqueue(keys: readonly string[], onGranted: () => void): KeyTicket | undefined {
    if (keys.length === 0) throw new RangeError("a keyed request needs at least one key [KEYS-7]");
    // Duplicates count once [KEYS-1].
    const distinct = keys.length === 1 ? keys : [...new Set(keys)];
    if (this.maxQueuePerKey > 0) {
      for (const key of distinct) {
        if ((this.queues[key]?.length ?? 0) >= this.maxQueuePerKey) {
          this.rejectedCount++;
          return undefined;
        }
      }
    }
    const ticket = new Ticket(this, distinct, this.now(), onGranted);
    for (const key of distinct) {
      let queue = this.queues[key];
      if (queue === undefined) {
        queue = { key, head: undefined, tail: undefined, length: 0 };
        this.queues[key] = queue;
        this.activeKeys++;
      }
      const node: QueueNode = { ticket, queue, prev: queue.tail, next: undefined };
      if (queue.tail === undefined) queue.head = node;
      else {
        queue.tail.next = node;
        ticket.blockedOn++;
      }
      queue.tail = node;
      queue.length++;
      ticket.nodes.push(node);
    }
    if (ticket.blockedOn === 0) this.grant(ticket);
    else this.waitingCount++;
    return ticket;
  }

  /** Removes `ticket` from its queues; grants whoever it was holding up [KEYS-5] [KEYS-6]. */
  release(ticket: Ticket): void {
    if (ticket.released) return;
    ticket.released = true;
    if (ticket.granted) this.runningCount--;
    else this.waitingCount--;
    for (const node of ticket.nodes) {
      const queue = node.queue;
      const wasHead = queue.head === node;
      if (node.prev === undefined) queue.head = node.next;
      else node.prev.next = node.next;
      if (node.next === undefined) queue.tail = node.prev;
      else node.next.prev = node.prev;
      queue.length--;
      if (queue.length === 0) {
        delete this.queues[queue.key];
        this.activeKeys--;
      } else if (wasHead) {
        const next = queue.head!.ticket;
        if (--next.blockedOn === 0) this.toStart.push(next);
      }
    }
    ticket.nodes.length = 0;
    this.startGranted();
  }

  /**
   * Calls onGranted for each newly granted ticket, one at a time: a callback
   * may release tickets itself, and those grants join the same loop instead
   * of nesting.
   */
  private startGranted(): void {
    if (this.starting) return;
    this.starting = true;
    try {
      for (let i = 0; i < this.toStart.length; i++) {
        const ticket = this.toStart[i]!;
        if (ticket.released || ticket.granted) continue;
        this.waitingCount--;
        this.grant(ticket);
        try {
          ticket.onGranted();
        } catch (error) {
          // A failing callback must not strand the grants after it; report it outside this loop.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    } finally {
      this.toStart.length = 0;
      this.starting = false;
    }
  }

  private grant(ticket: Ticket): void {
    ticket.granted = true;
    this.runningCount++;
    this.waitSamples[this.grantedCount % WAIT_SAMPLES] = this.now() - ticket.enqueuedAt;
    this.grantedCount++;
  }

  /**
   * The busiestCount deepest queues, deepest first, ties by key: kept in a
   * list of that many as the queues are scanned, not by sorting them all,
   * which took 200 ms with half a million keys waiting.
   */
  private busiest(): Array<{ key: string; depth: number }> {
    const top: Array<{ key: string; depth: number }> = [];
    const count = this.busiestCount;
    if (count <= 0) return top;
    const before = (a: { key: string; depth: number }, b: { key: string; depth: number }) => a.depth > b.depth || (a.depth === b.depth && a.key < b.key);
    for (const key in this.queues) {
      const entry = { key, depth: this.queues[key]!.length };
      if (top.length === count && !before(entry, top[count - 1]!)) continue;
      let at = top.length === count ? count - 1 : top.length;
      while (at > 0 && before(entry, top[at - 1]!)) {
        top[at] = top[at - 1]!;
        at--;
      }
      top[at] = entry;
    }
    return top;
  }

  stats(): KeySchedulerStats {
    const busiest = this.busiest();
    const n = Math.min(this.grantedCount, WAIT_SAMPLES);
    const samples = Array.from(this.waitSamples.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number) => (n === 0 ? 0 : samples[Math.min(n - 1, Math.floor(q * n))]!);
    return {
      activeKeys: this.activeKeys,
      waiting: this.waitingCount,
      running: this.runningCount,
      rejected: this.rejectedCount,
      busiestKeys: busiest,
      wait: {
        count: this.grantedCount,
        meanMs: n === 0 ? 0 : samples.reduce((a, b) => a + b, 0) / n,
        p50Ms: at(0.5),
        p99Ms: at(0.99),
        maxMs: n === 0 ? 0 : samples[n - 1]!,
      },
    };
  }
}
