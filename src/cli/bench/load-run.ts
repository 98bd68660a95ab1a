// The load loop of `strata bench`: a number of calls in flight spread over
// a number of connections, until a total or a duration is reached, at an
// optional target rate; every call's latency and status is recorded.
import { RpcError, type CallOptions } from "../../index.ts";
import { setTimer, sleep, type Timer } from "../../util/timer.ts";
import { LatencyHistogram } from "./latency-histogram.ts";

/** What one benchmark does. */
export interface LoadPlan {
  /** Calls in flight at once, across all connections. */
  readonly concurrency: number;
  /** Stop after this many calls (when set) … */
  readonly total?: number | undefined;
  /** … or after this long. */
  readonly durationMs?: number | undefined;
  /** Calls started per second at most; undefined: as fast as answers come. */
  readonly rate?: number | undefined;
  readonly options: CallOptions;
}

/** One call on connection `connection` (0-based); resolves when it is answered. */
export type MakeCall = (connection: number, options: CallOptions) => Promise<unknown>;

/** What a benchmark measured. */
export interface LoadResult {
  readonly latency: LatencyHistogram;
  /** Successful calls. */
  ok: number;
  /** Failed calls by "layer CODE", e.g. "dispatch OVERLOADED" [STATUS-1]. */
  readonly errors: Map<string, number>;
  /** Calls answered in each second of the run. */
  readonly perSecond: number[];
  elapsedMs: number;
}

/** How a failure is counted: its layer and code [STATUS-1]. */
export function errorKey(error: unknown): string {
  if (!RpcError.is(error)) return `client ${(error as Error)?.name ?? "Error"}`;
  return `${error.layer} ${String(error.code)}`;
}

/** Runs `plan` with `call` over `connections` connections; `onTick` sees the result so far once a second. */
export async function runLoad(plan: LoadPlan, connections: number, call: MakeCall, onTick: (result: LoadResult) => void): Promise<LoadResult> {
  const result: LoadResult = { latency: new LatencyHistogram(), ok: 0, errors: new Map(), perSecond: [], elapsedMs: 0 };
  const started = performance.now();
  const deadline = plan.durationMs === undefined ? Infinity : started + plan.durationMs;
  let issued = 0;
  const more = () => (plan.total === undefined || issued < plan.total) && performance.now() < deadline;
  let ticker: Timer;
  const tick = () => {
    result.elapsedMs = performance.now() - started;
    onTick(result);
    ticker = setTimer(tick, 1000);
  };
  ticker = setTimer(tick, 1000);
  const worker = async (index: number) => {
    const connection = index % connections;
    while (more()) {
      const n = issued++;
      if (plan.rate !== undefined) {
        // Start call n at its slot in the schedule, so the rate holds whatever the latency.
        const wait = started + (n * 1000) / plan.rate - performance.now();
        if (wait > 0) await sleep(wait);
        if (performance.now() >= deadline) break;
      }
      const begun = performance.now();
      try {
        await call(connection, plan.options);
        result.ok++;
      } catch (error) {
        const key = errorKey(error);
        result.errors.set(key, (result.errors.get(key) ?? 0) + 1);
      }
      const ended = performance.now();
      result.latency.record(ended - begun);
      const second = Math.floor((ended - started) / 1000);
      while (result.perSecond.length <= second) result.perSecond.push(0);
      result.perSecond[second]!++;
    }
  };
  try {
    await Promise.all(Array.from({ length: plan.concurrency }, (_, i) => worker(i)));
  } finally {
    ticker.clear();
  }
  result.elapsedMs = performance.now() - started;
  return result;
}
