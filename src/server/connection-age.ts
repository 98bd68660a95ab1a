// Bounded connection age (spec 11.2 and 21.4): a connection drains once it
// has lived its own maximum age, so that long-lived clients reconnect and
// spread onto servers added after they connected. Each connection's age is
// drawn at random around the configured one, so that connections opened
// together do not all drain together.

import { setTimer, type Timer } from "../util/timer.ts";

/** How far a connection's own maximum age may be from the configured one, as a fraction of it [DRAIN-18]. */
export const CONNECTION_AGE_JITTER = 0.1;

/** The GOAWAY message of a drain at the maximum age [DRAIN-18]. */
export const CONNECTION_AGE_MESSAGE = "the connection reached its maximum age";

/** The configured bound and grace period of the age drain, as ConnectionSettings carries them [DRAIN-18]. */
export interface ConnectionAgeSettings {
  /** Infinity: connections live as long as their peers keep them. */
  readonly maxConnectionAgeMs: number;
  /** How long the requests of a connection drained for its age may take to finish [DRAIN-10]. */
  readonly maxConnectionAgeGraceMs: number;
}

/**
 * Checks and defaults createServer's maxConnectionAgeMs (positive, Infinity
 * = off, the default) and maxConnectionAgeGraceMs (0 or more, default 10 s)
 * [DRAIN-18].
 */
export function connectionAgeSettings(options: { maxConnectionAgeMs?: number; maxConnectionAgeGraceMs?: number }): ConnectionAgeSettings {
  const maxConnectionAgeMs = options.maxConnectionAgeMs ?? Infinity;
  const maxConnectionAgeGraceMs = options.maxConnectionAgeGraceMs ?? 10_000;
  if (!(maxConnectionAgeMs > 0)) throw new RangeError(`maxConnectionAgeMs must be above 0 (Infinity: no bound), got ${maxConnectionAgeMs} [DRAIN-18]`);
  if (!(maxConnectionAgeGraceMs >= 0)) throw new RangeError(`maxConnectionAgeGraceMs must be 0 or more (Infinity: no limit), got ${maxConnectionAgeGraceMs} [DRAIN-18]`);
  return { maxConnectionAgeMs, maxConnectionAgeGraceMs };
}

/** One connection's own maximum age: uniformly within ±10% of `maxAgeMs` (`random` in [0, 1)) [DRAIN-18]. */
export function jitteredAge(maxAgeMs: number, random: () => number = Math.random): number {
  return maxAgeMs * (1 - CONNECTION_AGE_JITTER + 2 * CONNECTION_AGE_JITTER * random());
}

/**
 * Arms a connection's age timer, from now (its accept): at its own maximum
 * age `drain` is called with the grace period. The timer never keeps the
 * process alive; clear it when the connection closes [DRAIN-18].
 */
export function armConnectionAge(settings: ConnectionAgeSettings, drain: (graceMs: number) => void): Timer {
  const { maxConnectionAgeMs, maxConnectionAgeGraceMs } = settings;
  const age = maxConnectionAgeMs === Infinity ? Infinity : jitteredAge(maxConnectionAgeMs);
  return setTimer(() => drain(maxConnectionAgeGraceMs), age, { keepAlive: false });
}
