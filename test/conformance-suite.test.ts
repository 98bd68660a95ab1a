// The conformance suite passes against the reference conformance server,
// on every runtime. Cites [CONF-1].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { allCases } from "../conformance/cases/index.ts";
import { keyedDrainCases } from "../conformance/cases/drain-keyed.ts";
import { keyCases } from "../conformance/cases/keys.ts";
import { keyFailurePathCases } from "../conformance/cases/keys-failure-paths.ts";
import { createReferenceServer, serverOptionsFrom } from "../conformance/reference/server-options.ts";
import { createServer } from "../src/node.ts";
import { TestService, testService } from "./support/test-service.ts";
import { runCases } from "../conformance/runner/run-cases.ts";
import type { ServerSettings } from "../conformance/runner/case.ts";
import { certificatesProblem, testCertificates } from "../conformance/runner/certificates.ts";
import type { SuiteTls } from "../conformance/runner/suite-tls.ts";
import { spawnSettings } from "../conformance/runner/spawn-server.ts";

const test = suite("conformance suite");

/**
 * Over TLS and WebSocket the whole suite runs on Node; on Bun and Deno only
 * the cases of the mapping's own section, since the server code under test
 * is the same and the whole suite twice more per runtime would cost CI a
 * minute each (the mapping's tests, tls.test.ts and websocket.test.ts, run
 * everywhere).
 */
const wholeSuiteOverMappings = (globalThis as { Bun?: unknown; Deno?: unknown }).Bun === undefined && (globalThis as { Deno?: unknown }).Deno === undefined;
const casesOver = (sections: string[]) => (wholeSuiteOverMappings ? allCases : allCases.filter((c) => sections.includes(c.section)));

/** The suite's TLS material in spawn mode with --tls: certificates made with openssl for this run. */
function spawnTls(): SuiteTls {
  const certs = testCertificates();
  return { ca: certs.ca, serverName: undefined, client: certs.client, foreignClient: certs.otherClient, server: { pair: certs.server, clientCa: certs.ca } };
}

/** Starts the reference conformance server in this process, with spawn-mode settings. */
async function startReference(settings: ServerSettings & { listen?: string } = {}): Promise<{ address: string; stop(): Promise<void> }> {
  const server = createReferenceServer(settings);
  const address = await server.listen(settings.listen ?? "127.0.0.1:0");
  return { address, stop: () => server.close({ graceMs: 200 }) };
}

/** Runs the cases of `sections` (all on Node) but those `excluded` against the reference server started with `settings` (and each case's), as spawn mode does; fails on any failure. */
async function runOverMapping(sections: string[], settings: (caseSettings: ServerSettings) => ServerSettings & { listen?: string }, tls?: SuiteTls, excluded: readonly string[] = []) {
  const main = await startReference(settings({}));
  try {
    const results = await runCases(casesOver(sections).filter((c) => !excluded.includes(c.name)), {
      address: main.address,
      seed: Number(globalThis.process?.env?.["STRATA_SEED"] ?? 42),
      runs: 5,
      trace: true,
      hasConformanceService: true,
      features: new Set(),
      startWith: (caseSettings) => startReference(settings(caseSettings)),
      ...(tls === undefined ? {} : { tls }),
      caseTimeoutMs: 20_000,
    });
    const failures = results.filter((r) => r.status === "fail").map((r) => `${r.case.name}: expected ${r.expected}, got ${r.actual}`);
    assert.equal(failures, [], failures.join("\n"));
    return { address: main.address, results };
  } finally {
    await main.stop();
  }
}

/**
 * The runs over TLS, WebSocket and wss, started together with the one over TCP by the first test:
 * the cases mostly wait (timeouts, lingering closes), so four servers at once take little longer
 * than one. Each later test awaits its own run and asserts on it; a run that fails fails its test.
 */
const mappingRuns: Partial<Record<"tls" | "ws" | "wss", Promise<Awaited<ReturnType<typeof runOverMapping>>>>> = {};
function startMappingRuns(): void {
  const started = <T>(promise: Promise<T>): Promise<T> => {
    promise.catch(() => {}); // awaited by its own test; not unhandled meanwhile
    return promise;
  };
  if (notOnBunOverWebSocket.length > 0) console.log(`\n  SKIPPED on Bun over ws and wss (its ws client shows no TCP socket): ${notOnBunOverWebSocket.join(", ")}\n`);
  mappingRuns.ws = started(runOverMapping(["18 WebSocket mapping"], (settings) => spawnSettings(settings, undefined, true), undefined, notOnBunOverWebSocket));
  if (certificatesProblem() !== undefined) return;
  const tls = spawnTls();
  mappingRuns.tls = started(runOverMapping(["19 TLS"], (settings) => spawnSettings(settings, tls), tls));
  const wssTls = spawnTls();
  mappingRuns.wss = started(runOverMapping(["18 WebSocket mapping", "19 TLS"], (settings) => spawnSettings(settings, wssTls, true), wssTls, [...notOnBunOverWss, ...notOnBunOverWebSocket]));
}

test("[CONF-1] every case passes against the reference server over TCP; only the case for servers without keyed dispatch and the TLS cases are skipped", async () => {
  startMappingRuns();
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
  const onlyOver = allCases.filter((c) => c.tls === "only" || c.websocket === "only").map((c) => c.name);
  assert.equal(results.filter((r) => r.status === "skip").map((r) => r.case.name).sort(), ["keys/refused-without-keyed-dispatch", ...onlyOver].sort());
  assert.ok(results.length >= 60, `${results.length} cases`);
  await main.stop();
});

test("[CONF-1] [TLS-1] over TLS, every case passes against the reference server, the section 19 cases among them", async () => {
  const problem = certificatesProblem();
  if (problem !== undefined) {
    console.log(`\n  SKIPPED: the suite over TLS needs ${problem}\n`);
    return;
  }
  const { address, results } = await mappingRuns.tls!;
  assert.match(address, /^tls:/);
  const webSocketCases = allCases.filter((c) => c.websocket === "only").map((c) => c.name);
  if (wholeSuiteOverMappings) assert.equal(results.filter((r) => r.status === "skip").map((r) => r.case.name).sort(), ["keys/refused-without-keyed-dispatch", ...webSocketCases].sort());
  assert.ok(results.filter((r) => r.case.section === "19 TLS" && r.status === "pass").length >= 8);
});

test("[CONF-1] [WS-2] over WebSocket, every case passes against the reference server, the section 18 cases among them", async () => {
  const { results } = await mappingRuns.ws!;
  const tlsCases = allCases.filter((c) => c.tls === "only").map((c) => c.name);
  if (wholeSuiteOverMappings) assert.equal(results.filter((r) => r.status === "skip").map((r) => r.case.name), ["keys/refused-without-keyed-dispatch", ...tlsCases]);
  assert.ok(results.filter((r) => r.case.section === "18 WebSocket mapping" && r.status === "pass").length >= 5);
});

/** The suite's ws client on Bun is Bun's own, with no TCP socket to stop reading from: the case that needs one skips there. */
const notOnBunOverWebSocket = (globalThis as { Bun?: unknown }).Bun === undefined ? [] : ["websocket/close-reads-until-answer"];

/** Over wss, the cases of [TLS-3]: ALPN there is HTTP's, so they skip (cases/tls.ts says why). */
const alpnCases = ["tls/alpn-strata-selected", "tls/offer-without-strata-refused", "tls/no-alpn-served"];

/**
 * Bun's node:https shows no client certificate and ignores handshakeTimeout,
 * so its wss listener refuses to ask for client certificates (test/websocket.test.ts):
 * these cases cannot pass there.
 */
const notOnBunOverWss = (globalThis as { Bun?: unknown }).Bun === undefined ? [] : ["tls/handshake-bounded", "tls/client-certificate-required", "tls/requested-certificate-verified", "tls/handler-sees-identity"];

test("[CONF-1] [TLS-5] [WS-1] over wss (--websocket --tls), every case passes against the reference server, the section 18 and 19 cases among them; the ALPN cases skip", async () => {
  const problem = certificatesProblem();
  if (problem !== undefined) {
    console.log(`\n  SKIPPED: the suite over wss needs ${problem}\n`);
    return;
  }
  if (notOnBunOverWss.length > 0) console.log(`\n  SKIPPED on Bun (its node:https shows no client certificate, ignores handshakeTimeout): ${notOnBunOverWss.join(", ")}\n`);
  const { address, results } = await mappingRuns.wss!;
  assert.match(address, /^wss:\/\/127\.0\.0\.1:\d+\/strata$/);
  const skipped = results.filter((r) => r.status === "skip");
  assert.equal(skipped.map((r) => r.case.name).sort(), [...(wholeSuiteOverMappings ? ["keys/refused-without-keyed-dispatch"] : []), ...alpnCases].sort());
  for (const skip of skipped.filter((r) => alpnCases.includes(r.case.name))) assert.match(skip.reason ?? "", /over wss the TLS connection carries HTTP\/1\.1/);
  assert.ok(results.filter((r) => r.case.section === "18 WebSocket mapping" && r.status === "pass").length >= 5);
  assert.ok(results.filter((r) => r.case.section === "19 TLS" && r.status === "pass").length >= 5 - notOnBunOverWss.length);
});

test("[TLS-4] [TLS-5] over wss the checks can fail: a suite trusting another CA connects nowhere, and a listener that never asks for client certificates fails tls/client-certificate-required", async () => {
  if (certificatesProblem() !== undefined) return;
  const tls = spawnTls();
  const run = async (names: string[], suite: SuiteTls, caseSettings: (settings: ServerSettings) => ServerSettings) => {
    const main = await startReference(spawnSettings({}, tls, true));
    try {
      return await runCases(allCases.filter((c) => names.includes(c.name)), {
        address: main.address,
        seed: 1,
        runs: 5,
        trace: false,
        hasConformanceService: true,
        features: new Set(),
        startWith: (settings) => startReference(spawnSettings(caseSettings(settings), tls, true)),
        tls: suite,
        caseTimeoutMs: 20_000,
      });
    } finally {
      await main.stop();
    }
  };
  const [distrusted] = await run(["calls/unary-echo"], { ...tls, ca: testCertificates().otherCa }, (settings) => settings);
  assert.is(distrusted!.status, "fail");
  assert.match(distrusted!.actual ?? "", /self-signed certificate|certificate/);
  const [unchecked] = await run(["tls/client-certificate-required"], tls, (settings) => ({ ...settings, tls: { clientCertificate: "none" } }));
  assert.is(unchecked!.status, "fail", unchecked!.reason);
  assert.is(unchecked!.failedRequirement, "TLS-5");
});

test("[TLS-3] [TLS-5] against a tls: server that requires client certificates, given one that it trusts (--cert), every section 19 case passes: each probe presents it unless the case says none", async () => {
  const problem = certificatesProblem();
  if (problem !== undefined) {
    console.log(`\n  SKIPPED: the suite over TLS needs ${problem}\n`);
    return;
  }
  const tls = spawnTls();
  const requiring = (settings: ServerSettings) => spawnSettings({ ...settings, tls: { clientCertificate: settings.tls?.clientCertificate ?? "require" } }, tls);
  const main = await startReference(requiring({}));
  try {
    const results = await runCases(allCases.filter((c) => c.section === "19 TLS"), {
      address: main.address,
      seed: 1,
      runs: 3,
      trace: true,
      hasConformanceService: true,
      features: new Set(),
      startWith: (settings) => startReference(requiring(settings)),
      tls,
      caseTimeoutMs: 20_000,
    });
    const failures = results.filter((r) => r.status === "fail").map((r) => `${r.case.name}: expected ${r.expected}, got ${r.actual}`);
    assert.equal(failures, [], failures.join("\n"));
    assert.ok(results.filter((r) => r.case.name.startsWith("tls/alpn") && r.status === "pass").length >= 1, "the ALPN cases ran");
  } finally {
    await main.stop();
  }
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

test("[CONF-1] against a server that offers no conformance service (a plain service only), every case that needs one skips and every other case passes: a case that uses the service without saying so fails here", async () => {
  const { impl } = testService();
  const plain = (settings: ServerSettings & { listen?: string }) => createServer(serverOptionsFrom(settings)).addService(TestService, impl);
  const server = plain({});
  const address = await server.listen("127.0.0.1:0");
  const results = await runCases(allCases, {
    address,
    seed: 1,
    runs: 3,
    trace: true,
    hasConformanceService: false,
    features: new Set(),
    startWith: async (settings) => {
      const started = plain(settings);
      return { address: await started.listen("127.0.0.1:0"), stop: () => started.close({ graceMs: 200 }) };
    },
    caseTimeoutMs: 20_000,
  });
  const failures = results.filter((r) => r.status === "fail").map((r) => `${r.case.name}: expected ${r.expected}, got ${r.actual}`);
  assert.equal(failures, [], failures.join("\n"));
  for (const r of results) if (r.case.usesConformanceService) assert.is(r.status, "skip", `${r.case.name} needs the conformance service`);
  assert.ok(results.filter((r) => r.status === "pass").length >= 40, "the protocol's own cases ran");
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
