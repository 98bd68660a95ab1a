// A bound on how many asynchronous tasks run at once; the rest wait in
// arrival order. The server uses one for the decompressions of the whole
// server and one per connection, so that pipelined gzip bodies are inflated
// a few at a time instead of all at once [COMP-9].

/** Runs at most `max` tasks at a time, the others in the order they came. */
export class TaskLimiter {
  private readonly max: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`a task limit must be a whole number of at least 1, got ${max}`);
    this.max = max;
  }

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** Runs `task` once fewer than `max` tasks run; settles as it does. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
