// Ejection of an endpoint whose connections keep failing: out of the
// rotation for a cool-down that doubles with each ejection in a row, so a
// dead server costs few calls and a flapping one less and less (spec 21.3).

/** When an endpoint is ejected and for how long [CLUSTER-6]. */
export interface EjectionOptions {
  /** Consecutive connection failures that eject an endpoint. Default 3. */
  failures?: number;
  /** The first cool-down. Default 1000 ms. */
  baseMs?: number;
  /** The longest cool-down. Default 30000 ms. */
  maxMs?: number;
  /** The largest share of the endpoints ejected at once. Default 0.5. */
  maxShare?: number;
}

/** The ejection settings with their defaults, checked. */
export function ejectionSettings(options: EjectionOptions = {}): Required<EjectionOptions> {
  const settings = { failures: options.failures ?? 3, baseMs: options.baseMs ?? 1000, maxMs: options.maxMs ?? 30_000, maxShare: options.maxShare ?? 0.5 };
  if (!(Number.isInteger(settings.failures) && settings.failures >= 1)) throw new RangeError(`ejection.failures must be a positive integer, got ${settings.failures}`);
  if (!(settings.baseMs > 0 && settings.maxMs >= settings.baseMs)) throw new RangeError("ejection needs 0 < baseMs <= maxMs");
  if (!(settings.maxShare >= 0 && settings.maxShare <= 1)) throw new RangeError(`ejection.maxShare must be from 0 to 1, got ${settings.maxShare}`);
  return settings;
}

/** One endpoint's failure count and ejection state [CLUSTER-6]. */
export class EndpointHealth {
  private consecutive = 0;
  /** Ejections in a row: each doubles the cool-down; they count as in a row while each comes within maxMs of the last one's end. */
  private ejections = 0;
  private ejectedUntil = 0;

  /** Whether the endpoint is out of the rotation at `now`. */
  ejected(now: number): boolean {
    return now < this.ejectedUntil;
  }

  /**
   * Counts a connection failure; ejects the endpoint when it is the
   * `settings.failures`-th in a row and `mayEject` allows (the share of
   * ejected endpoints is bounded). Returns the cool-down, or 0.
   */
  failed(now: number, settings: Required<EjectionOptions>, mayEject: () => boolean): number {
    this.consecutive++;
    if (this.consecutive < settings.failures || this.ejected(now) || !mayEject()) return 0;
    if (now - this.ejectedUntil > settings.maxMs) this.ejections = 0;
    const coolDown = Math.min(settings.maxMs, settings.baseMs * 2 ** this.ejections);
    this.ejections++;
    this.consecutive = 0;
    this.ejectedUntil = now + coolDown;
    return coolDown;
  }

  /** A connection opened: the failures in a row end (ejections in a row end only after maxMs without one). */
  connected(): void {
    this.consecutive = 0;
  }
}
