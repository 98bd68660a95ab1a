// Policing the PINGs a client sends [PING-7]: a client may ping no more
// often than the minimum interval the server declared; three PINGs in a row
// each less than half that interval after the one before are too many.

/** Counts PINGs that come too soon after the previous one [PING-6] [PING-7]. */
export class PingPolicy {
  private readonly minIntervalMs: number;
  private lastPingAt = -Infinity;
  private strikes = 0;

  constructor(minIntervalMs: number) {
    this.minIntervalMs = minIntervalMs;
  }

  /** Records a PING received at `t`; true at the third in a row less than half the interval after the one before [PING-7]. */
  tooSoon(t: number): boolean {
    const gap = t - this.lastPingAt;
    this.lastPingAt = t;
    this.strikes = gap < this.minIntervalMs / 2 ? this.strikes + 1 : 0;
    return this.strikes >= 3;
  }
}
