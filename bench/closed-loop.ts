// The closed loop every unary benchmark runs: `inFlight` lanes, each making
// its next call as soon as the previous one is answered, for a fixed time.

/** Latency samples of the loop being measured; one buffer for all, so measuring adds no garbage of its own. */
const LATENCIES = new Float64Array(4_000_000);

/** What one loop did: its calls, its wall-clock seconds, and the latency of each call (the first 4,000,000), in ms. */
export interface LoopResult {
  calls: number;
  seconds: number;
  /** A view of the shared buffer: copy it before the next loop runs. */
  latencies: Float64Array;
}

/** Keeps `inFlight` calls of `call` going for `seconds`. */
export async function closedLoop(call: () => Promise<unknown>, inFlight: number, seconds: number): Promise<LoopResult> {
  const latencies = LATENCIES;
  let count = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  const lane = async () => {
    while (performance.now() < until) {
      const t = performance.now();
      await call();
      if (count < latencies.length) latencies[count] = performance.now() - t;
      count++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return { calls: count, seconds: (performance.now() - started) / 1000, latencies: latencies.subarray(0, Math.min(count, latencies.length)) };
}
