// setTimeout clamps delays above 2^31-1 ms (about 24.8 days) to 1 ms on
// every runtime; deadlines can be longer (timeout_ms is a uint32 [DEADLINE-1]).

const MAX_DELAY = 0x7fffffff;

/** A cancellable timer that may be longer than setTimeout allows. */
export interface LongTimeout {
  clear(): void;
}

/** Calls `callback` after `ms` milliseconds, however large [DEADLINE-2]. */
export function setLongTimeout(callback: () => void, ms: number): LongTimeout {
  const due = performance.now() + ms;
  let timer: ReturnType<typeof setTimeout>;
  const arm = () => {
    const left = due - performance.now();
    if (left > MAX_DELAY) timer = setTimeout(arm, MAX_DELAY);
    else timer = setTimeout(callback, Math.max(0, left));
  };
  arm();
  return { clear: () => clearTimeout(timer) };
}
