// The conformance suite passes against the reference conformance server,
// on every runtime. Cites [CONF-1].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { allCases } from "../conformance/cases/index.ts";
import { keyedDrainCases } from "../conformance/cases/drain-keyed.ts";
import { keyCases } from "../conformance/cases/keys.ts";
import { keyFailurePathCases } from "../conformance/cases/keys-failure-paths.ts";
import { createReferenceServer } from "../conformance/reference/server-options.ts";
import { runCases } from "../conformance/runner/run-cases.ts";
import type { ServerSettings } from "../conformance/runner/case.ts";

const test = suite("conformance suite");

/** Starts the reference conformance server in this process, with spawn-mode settings. */
async function startReference(settings: ServerSettings = {}): Promise<{ address: string; stop(): Promise<void> }> {
  const server = createReferenceServer(settings);
  const address = await server.listen("127.0.0.1:0");
  return { address, stop: () => server.close({ graceMs: 200 }) };
}

test("[CONF-1] every case passes against the reference server; only the case for servers without keyed dispatch is skipped", async () => {
  const main = await startReference();
  const seed = Number(globalThis.process?.env?.["STRATA_SEED"] ?? 42);
  const results = await runCases(allCases, {
    address: main.address,
    seed,
    runs: 10,
    trace: true,
    hasConformanceService: true,
    features: new Set(),
    startWith: startReference,
    caseTimeoutMs: 20_000,
  });
  const failures = results.filter((r) => r.status === "fail").map((r) => `${r.case.name}: expected ${r.expected}, got ${r.actual}`);
  assert.equal(failures, [], failures.join("\n"));
  assert.equal(results.filter((r) => r.status === "skip").map((r) => r.case.name), ["keys/refused-without-keyed-dispatch"]);
  assert.ok(results.length >= 60, `${results.length} cases`);
  await main.stop();
});

test("[KEYS-2] against a server without keyed dispatch, the refusal case passes and every other keyed-dispatch case skips", async () => {
  const server = createReferenceServer({}, { keyedDispatch: false });
  const address = await server.listen("127.0.0.1:0");
  const keyedCases = [...keyCases, ...keyFailurePathCases, ...keyedDrainCases];
  const results = await runCases(keyedCases, {
    address,
    seed: 1,
    runs: 10,
    trace: true,
    hasConformanceService: true,
    features: new Set(),
    caseTimeoutMs: 20_000,
  });
  assert.equal(
    results.map((r) => [r.case.name, r.status]),
    keyedCases.map((c) => [c.name, c.name === "keys/refused-without-keyed-dispatch" ? "pass" : "skip"]),
  );
  await server.close({ graceMs: 200 });
});

test("every case cites at least one requirement and has a unique name", () => {
  const names = new Set<string>();
  for (const c of allCases) {
    assert.ok(c.requirements.length > 0, `${c.name} cites no requirement`);
    assert.not.ok(names.has(c.name), `${c.name} twice`);
    names.add(c.name);
  }
});

test.run();
