// A deliberately broken keyed-dispatch scheduler, for the "keys-out-of-order"
// mutant. It keeps the exclusion rules: a request runs only while it holds
// all its keys, no two requests holding a key run at once, and nothing
// deadlocks (keys are taken all at once). What it breaks is the order: when
// keys are freed, the NEWEST waiting request whose keys are all free starts
// first, and a request whose keys are free starts at once even if older
// requests wait for one of them [KEYS-4] [KEYS-9]. So only the cases that
// check start order can catch it.

import type { KeyDispatch, KeySchedulerStats, KeyTicket } from "../../src/node.ts";

class LifoTicket implements KeyTicket {
  readonly keys: readonly string[];
  granted = false;
  released = false;
  readonly onGranted: () => void;
  private readonly scheduler: LifoKeyScheduler;

  constructor(scheduler: LifoKeyScheduler, keys: readonly string[], onGranted: () => void) {
    this.scheduler = scheduler;
    this.keys = keys;
    this.onGranted = onGranted;
  }

  release(): void {
    this.scheduler.release(this);
  }
}

/** Keys go to the newest waiter that can take all of its keys (the mutant's bug). */
export class LifoKeyScheduler implements KeyDispatch {
  private readonly held = new Set<string>();
  /** Waiting tickets, oldest first; scanned newest first. */
  private waiting: LifoTicket[] = [];
  private running = 0;
  private grants = 0;

  enqueue(keys: readonly string[], onGranted: () => void): KeyTicket | undefined {
    const ticket = new LifoTicket(this, [...new Set(keys)], onGranted);
    if (this.free(ticket)) this.take(ticket);
    else this.waiting.push(ticket);
    return ticket;
  }

  release(ticket: LifoTicket): void {
    if (ticket.released) return;
    ticket.released = true;
    if (!ticket.granted) {
      this.waiting = this.waiting.filter((t) => t !== ticket);
      return;
    }
    this.running--;
    for (const key of ticket.keys) this.held.delete(key);
    // Grant first, call back after: a callback may release tickets itself.
    const granted: LifoTicket[] = [];
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const candidate = this.waiting[i]!;
      if (!this.free(candidate)) continue;
      this.waiting.splice(i, 1);
      this.take(candidate);
      granted.push(candidate);
    }
    for (const t of granted) if (!t.released) t.onGranted();
  }

  stats(): KeySchedulerStats {
    return {
      activeKeys: this.held.size,
      waiting: this.waiting.length,
      running: this.running,
      rejected: 0,
      busiestKeys: [],
      wait: { count: this.grants, meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 },
    };
  }

  private free(ticket: LifoTicket): boolean {
    return ticket.keys.every((key) => !this.held.has(key));
  }

  private take(ticket: LifoTicket): void {
    ticket.granted = true;
    this.running++;
    this.grants++;
    for (const key of ticket.keys) this.held.add(key);
  }
}
