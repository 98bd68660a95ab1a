// The retry budget of [CLUSTER-5]: retries may add a share of the calls of a
// recent window, plus a small floor per second for quiet clients; under a
// full outage retries add at most that share to the load.

import { now } from "../util/clock.ts";

/** Options of a retry budget [CLUSTER-5]. */
export interface RetryBudgetOptions {
  /** Retries allowed per call made in the window. Default 0.2. */
  ratio?: number;
  /** Retries allowed per second whatever the traffic. Default 10. */
  floorPerSecond?: number;
  /** The window calls and retries are counted over. Default 10000 ms. */
  windowMs?: number;
}

const BUCKETS = 10;

/** Counts calls and retries over a sliding window in ten buckets and says whether one more retry fits [CLUSTER-5]. */
export class RetryBudget {
  private readonly ratio: number;
  private readonly floor: number;
  private readonly bucketMs: number;
  private readonly calls = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  private bucket = 0;
  private bucketStart: number;
  private readonly now: () => number;

  constructor(options: RetryBudgetOptions = {}, clock: () => number = now) {
    this.ratio = options.ratio ?? 0.2;
    this.floor = (options.floorPerSecond ?? 10) * ((options.windowMs ?? 10_000) / 1000);
    this.bucketMs = (options.windowMs ?? 10_000) / BUCKETS;
    if (!(this.ratio >= 0) || !(this.floor >= 0) || !(this.bucketMs > 0)) throw new RangeError("retry budget: ratio and floorPerSecond must be 0 or more, windowMs positive [CLUSTER-5]");
    this.now = clock;
    this.bucketStart = clock();
  }

  /** Moves the window on to the current time, emptying buckets that fell out of it. */
  private advance(now: number): void {
    const elapsed = now - this.bucketStart;
    if (elapsed < this.bucketMs) return;
    const steps = Math.min(BUCKETS, Math.floor(elapsed / this.bucketMs));
    for (let i = 0; i < steps; i++) {
      this.bucket = (this.bucket + 1) % BUCKETS;
      this.calls[this.bucket] = 0;
      this.retries[this.bucket] = 0;
    }
    this.bucketStart += Math.floor(elapsed / this.bucketMs) * this.bucketMs;
  }

  /** Counts one call made (its first attempt) at `now`, the clock the budget was made with. */
  recordCall(now = this.now()): void {
    this.advance(now);
    this.calls[this.bucket]!++;
  }

  /** Whether one more retry fits the budget; counts it when it does [CLUSTER-5]. */
  trySpend(): boolean {
    this.advance(this.now());
    let calls = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      calls += this.calls[i]!;
      retries += this.retries[i]!;
    }
    if (retries + 1 > this.ratio * calls + this.floor) return false;
    this.retries[this.bucket]!++;
    return true;
  }
}
