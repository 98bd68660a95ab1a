// Latencies of a load test in bounded memory: log-spaced buckets 2% wide
// from 1 µs to about 100 s, so that percentiles are within 2% whatever the
// number of calls, and the histogram of the report comes from the same data.

const MIN_MS = 0.001;
const GROWTH = 1.02;
const BUCKETS = Math.ceil(Math.log(100_000 / MIN_MS) / Math.log(GROWTH)) + 1;

/** A histogram of call latencies in milliseconds with percentiles within 2%. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sumMs = 0;
  minMs = Infinity;
  maxMs = 0;

  /** Adds one latency. */
  record(ms: number): void {
    const index = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / Math.log(GROWTH)));
    this.counts[index]!++;
    this.count++;
    this.sumMs += ms;
    if (ms < this.minMs) this.minMs = ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /** The latency at quantile `q` (0..1): the upper bound of the bucket that holds it, capped by the maximum seen. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.maxMs, MIN_MS * GROWTH ** i);
    }
    return this.maxMs;
  }

  /** `bins` ranges from the minimum to the maximum seen, log-spaced, with the calls in each: the report's histogram. */
  bins(bins = 20): Array<{ fromMs: number; toMs: number; count: number }> {
    if (this.count === 0) return [];
    const low = Math.max(MIN_MS, this.minMs);
    const high = Math.max(low * 1.0001, this.maxMs);
    const step = Math.log(high / low) / bins;
    const out = Array.from({ length: bins }, (_, i) => ({ fromMs: low * Math.exp(step * i), toMs: low * Math.exp(step * (i + 1)), count: 0 }));
    for (let i = 0; i < BUCKETS; i++) {
      const n = this.counts[i]!;
      if (n === 0) continue;
      const upper = Math.min(this.maxMs, MIN_MS * GROWTH ** i);
      const at = Math.min(bins - 1, Math.max(0, Math.floor(Math.log(Math.max(upper, low) / low) / step)));
      out[at]!.count += n;
    }
    return out;
  }
}
