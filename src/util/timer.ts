// The one way this project arms a timer. Every runtime's setTimeout treats
// a delay of 2^31 ms or more (about 24.8 days) as 1 ms, so a drain grace or a
// sleep that long would end at once; here such a delay waits in steps of at
// most 2^31-1 ms until its time has come. Delays come from users and peers
// (grace periods, timeouts, a conformance Sleep of any uint32), so every
// timer goes through here; test/layering.test.ts checks that none is armed
// otherwise.

import { now } from "./clock.ts";

/** The longest delay every runtime's setTimeout honours. */
export const MAX_TIMER_DELAY = 0x7fffffff;

/** A pending timer; clear() cancels it (and does nothing once it fired). */
export interface Timer {
  clear(): void;
}

/** Node's and Bun's timers can stop keeping the process alive; Deno's and browsers' cannot. */
interface Unreferencable {
  unref(): void;
}

class SteppedTimer implements Timer {
  private handle: ReturnType<typeof setTimeout> | undefined;
  private readonly due: number;
  private readonly callback: () => void;
  private readonly keepAlive: boolean;

  constructor(callback: () => void, ms: number, keepAlive: boolean) {
    this.callback = callback;
    this.keepAlive = keepAlive;
    this.due = now() + ms;
    this.arm(ms);
  }

  private arm(ms: number): void {
    this.handle = setTimeout(() => this.step(), Math.min(MAX_TIMER_DELAY, Math.max(0, ms)));
    if (!this.keepAlive) (this.handle as Partial<Unreferencable>).unref?.();
  }

  private step(): void {
    // Runtimes may fire a fraction of a millisecond early: never before the due time.
    const left = this.due - now();
    if (left > 0) {
      this.arm(Math.ceil(left));
      return;
    }
    this.handle = undefined;
    this.callback();
  }

  clear(): void {
    if (this.handle === undefined) return;
    clearTimeout(this.handle);
    this.handle = undefined;
  }
}

const NEVER: Timer = Object.freeze({ clear() {} });

/**
 * Calls `callback` once `ms` milliseconds have passed, for any `ms` from 0
 * up (Infinity: never), unless cleared first. With `keepAlive: false` the
 * timer does not keep the process alive where the runtime allows that.
 */
export function setTimer(callback: () => void, ms: number, { keepAlive = true }: { keepAlive?: boolean } = {}): Timer {
  if (ms === Infinity) return NEVER;
  if (!(ms >= 0)) throw new RangeError(`a timer needs a delay of 0 ms or more, got ${ms}`);
  return new SteppedTimer(callback, ms, keepAlive);
}

/** Resolves after `ms` milliseconds (any `ms`, see setTimer), or at once when `signal` fires; true if it fired. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(true);
    const timer = setTimer(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(false);
    }, ms);
    const onAbort = () => {
      timer.clear();
      resolve(true);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
