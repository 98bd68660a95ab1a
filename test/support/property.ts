// Runs fast-check properties so that a failure can be replayed by anyone:
// the error names the seed and path, and the command that replays them.
import fc from "fast-check";

function envNumber(name: string): number | undefined {
  const value = globalThis.process?.env?.[name];
  return value === undefined || value === "" ? undefined : Number(value);
}

/**
 * Checks `property`; STRATA_SEED and STRATA_PATH (printed on failure) replay
 * a failing run, STRATA_RUNS overrides the number of runs.
 */
export function checkProperty<T>(property: fc.IProperty<T> | fc.IAsyncProperty<T>, params: fc.Parameters<T> = {}): void | Promise<void> {
  const seed = envNumber("STRATA_SEED");
  const path = globalThis.process?.env?.["STRATA_PATH"];
  const runs = envNumber("STRATA_RUNS");
  const merged: fc.Parameters<T> = {
    // The report shows the assertion that failed, not only the counterexample.
    includeErrorInReport: true,
    ...params,
    ...(seed !== undefined ? { seed } : {}),
    ...(path ? { path } : {}),
    ...(runs !== undefined ? { numRuns: runs } : {}),
  };
  const details = (result: fc.RunDetails<T>): void => {
    if (!result.failed) return;
    const replay = `STRATA_SEED=${result.seed} STRATA_PATH=${result.counterexamplePath ?? ""} npm run test:node`;
    throw new Error(`${fc.defaultReportMessage(result)}\nReplay: ${replay}`);
  };
  if ("isAsync" in property && property.isAsync()) {
    return fc.check(property as fc.IAsyncProperty<T>, merged).then(details);
  }
  details(fc.check(property as fc.IProperty<T>, merged) as fc.RunDetails<T>);
}
