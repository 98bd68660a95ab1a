// The suite catches what it claims to: every mutant server fails each case
// meant to catch it. (test/conformance-suite.test.ts shows the reference
// passes them all.)
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { allCases } from "../conformance/cases/index.ts";
import { mutants } from "../conformance/mutants/mutants.ts";
import { startMutant } from "../conformance/mutants/server.ts";
import { runCases } from "../conformance/runner/run-cases.ts";

const test = suite("mutants");

test("there are at least 10 mutants, each caught by named cases that exist", () => {
  assert.ok(mutants.length >= 10, `${mutants.length} mutants`);
  const names = new Set(allCases.map((c) => c.name));
  for (const mutant of mutants) {
    assert.ok(mutant.caughtBy.length > 0, `${mutant.name} names no case`);
    for (const name of mutant.caughtBy) assert.ok(names.has(name), `${mutant.name}: no case ${name}`);
  }
});

for (const mutant of mutants) {
  test(`the suite fails mutant "${mutant.name}" (${mutant.description})`, async () => {
    const cases = allCases.filter((c) => mutant.caughtBy.includes(c.name));
    const main = await startMutant(mutant.name);
    try {
      const results = await runCases(cases, {
        address: main.address,
        seed: 7,
        runs: 10,
        trace: false,
        hasConformanceService: true,
        features: new Set(),
        startWith: (settings) => startMutant(mutant.name, settings),
        caseTimeoutMs: 10_000,
      });
      const passed = results.filter((r) => r.status !== "fail").map((r) => `${r.case.name} (${r.status}${r.reason ? `: ${r.reason}` : ""})`);
      assert.equal(passed, [], `cases that should catch ${mutant.name} did not fail`);
    } finally {
      await main.stop();
    }
  });
}

test.run();
