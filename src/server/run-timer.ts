// How long each handler run took, for the server's stats, with one clock
// reading per run where it can: a run that returns while its connection's
// chunk is still read ends at the next reading of that chunk, the next
// handler's start or the chunk's end. Its latency then also covers sending
// its response and reading the next request.

import { now } from "../util/clock.ts";
import type { StatsCollector } from "./server-stats.ts";

/** Times the handler runs of one connection for the stats, each counted before the connection's next handler starts [EXT-8]. */
export class RunTimer {
  private readonly stats: StatsCollector;
  /** Set while the connection hands over the frames of one chunk (readingChunk() to chunkRead()). */
  private inChunk = false;
  /** The run that returned while the chunk was read and waits for the next clock reading. */
  private untimedName: string | undefined;
  private untimedStarted = 0;
  private untimedFailed = false;

  constructor(stats: StatsCollector) {
    this.stats = stats;
  }

  /** The connection starts handing over the frames of a chunk, synchronously, until chunkRead() [EXT-8]. */
  readingChunk(): void {
    this.inChunk = true;
  }

  /** The frames of the chunk are handed over: a run still untimed ends now [EXT-8]. */
  chunkRead(): void {
    this.inChunk = false;
    if (this.untimedName !== undefined) this.timeUntimed(now());
  }

  /** A handler starts at `at`, a clock reading just taken: a run still untimed ended then, and is counted before it [EXT-8]. */
  starting(at: number): void {
    if (this.untimedName !== undefined) this.timeUntimed(at);
  }

  /**
   * Counts a handler run that has returned: timed now, or at the next clock
   * reading when the chunk is still read and the run is `deferrable`. A
   * keyed run is not: releasing its keys may start a handler of another
   * connection, which would be timed with it and would not see it counted [EXT-8].
   */
  returned(name: string, started: number, failed: boolean, deferrable: boolean): void {
    if (deferrable && this.inChunk && this.untimedName === undefined) {
      this.untimedName = name;
      this.untimedStarted = started;
      this.untimedFailed = failed;
      return;
    }
    const at = now();
    if (this.untimedName !== undefined) this.timeUntimed(at);
    this.stats.recordCall(name, at - started, failed);
  }

  private timeUntimed(at: number): void {
    this.stats.recordCall(this.untimedName!, at - this.untimedStarted, this.untimedFailed);
    this.untimedName = undefined;
  }
}
