// Flag values on the command line, as grpcurl, buf curl and ghz take them:
// durations ("250ms", "3s", "1.5m", "1h"; a bare number is seconds), whole
// numbers, and repeatable flags; a bad value is an error commander reports.

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in `text`, e.g. "250ms" -> 250, "3" -> 3000; throws a readable error otherwise. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) throw flagError(`${flag} takes a duration such as 500ms, 3s, 1m or a number of seconds, got "${text}"`);
  return Number(match[1]) * UNITS[match[2] ?? "s"]!;
}

/** A whole number of at least `min`, or a readable error naming the flag. */
export function parseCount(text: string, flag: string, min = 1): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) throw flagError(`${flag} takes a whole number of at least ${min}, got "${text}"`);
  return value;
}

/** An error commander reports as a bad option value (its code marks it so), which the CLI exits 2 on. */
function flagError(message: string): Error {
  return Object.assign(new Error(message), { code: "commander.invalidArgument" });
}

/** For a repeatable flag: each value is added to the ones before it. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
