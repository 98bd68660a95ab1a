// The clock every deadline, timer and duration of the library is read on:
// performance.now(), monotonic in every runtime. The global is looked up at
// each reading, not kept: fake timers (Jest's, @sinonjs/fake-timers) replace
// the whole `performance` object, and the library's deadlines must follow
// the clock they fake along with setTimeout. In Node that lookup calls an
// accessor, about 7 of the 43 ns of a reading (docs/performance.md).

/** Milliseconds on performance.now()'s clock, the clock of every deadline [DEADLINE-1] [DEADLINE-3]. */
export function now(): number {
  return performance.now();
}
