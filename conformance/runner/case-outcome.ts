// How a case ends when it does not pass: a failed expectation (Expected /
// Actual, and the requirement it names) or a skip. Thrown by cases and by the
// runner's connections and calls alike, so it depends on nothing else here.

/** A failed expectation, reported as Expected / Actual. */
export class CaseFailure extends Error {
  override name = "CaseFailure";
  readonly expected: string;
  readonly actual: string;
  /** The requirement whose check failed, when the case checks several. */
  readonly requirement: string | undefined;

  constructor(expected: string, actual: string, requirement?: string) {
    super(`expected ${expected}, got ${actual}`);
    this.expected = expected;
    this.actual = actual;
    this.requirement = requirement;
  }
}

/** Thrown by a case that finds, once connected, that it does not apply (e.g. an algorithm the server did not list). */
export class CaseSkip extends Error {
  override name = "CaseSkip";
}

/** Fails with Expected / Actual unless `condition` holds. */
export function expect(condition: boolean, expected: string, actual: string | (() => string), requirement?: string): asserts condition {
  if (!condition) throw new CaseFailure(expected, typeof actual === "function" ? actual() : actual, requirement);
}
