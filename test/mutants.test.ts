// The suite catches what it claims to: every mutant server fails each case
// meant to catch it. (test/conformance-suite.test.ts shows the reference
// passes them all.)
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { allCases } from "../conformance/cases/index.ts";
import { LifoKeyScheduler } from "../conformance/mutants/lifo-key-scheduler.ts";
import { mutants } from "../conformance/mutants/mutants.ts";
import { keyedMutants } from "../conformance/mutants/keyed-mutants.ts";
import { keyedTap } from "../conformance/mutants/keyed-tap.ts";
import type { Mutant } from "../conformance/mutants/mutating-proxy.ts";
import { ledgerMutant } from "../conformance/mutants/slots-ledger.ts";
import { slotsMutants } from "../conformance/mutants/slots-mutants.ts";
import { startMutant } from "../conformance/mutants/server.ts";
import { runCases } from "../conformance/runner/run-cases.ts";
import { testCertificates } from "../conformance/runner/certificates.ts";
import type { SuiteTls } from "../conformance/runner/suite-tls.ts";
import { spawnSettings } from "../conformance/runner/spawn-server.ts";
import { mutantTlsTransport, tlsMutants } from "../conformance/mutants/tls-mutants.ts";
import { webSocketMutants } from "../conformance/mutants/websocket-mutants.ts";
import type { KeyTicket } from "../src/node.ts";

const test = suite("mutants");

/** The suite's TLS material in spawn mode with --tls, for the mutants that break section 19. */
function suiteTls(): SuiteTls {
  const certs = testCertificates();
  return { ca: certs.ca, serverName: undefined, client: certs.client, foreignClient: certs.otherClient, server: { pair: certs.server, clientCa: certs.ca } };
}

/** Runs `cases` against `mutant` the way the suite would, in spawn mode (with --tls for a TLS mutant). */
async function runAgainst(mutant: Mutant, cases: typeof allCases) {
  const tls = mutant.tls === undefined ? undefined : suiteTls();
  const main = await startMutant(mutant, spawnSettings({}, tls));
  try {
    return await runCases(cases, {
      address: main.address,
      seed: 7,
      runs: 10,
      trace: false,
      hasConformanceService: true,
      features: new Set(),
      startWith: (settings) => startMutant(mutant, spawnSettings(settings, tls)),
      ...(tls === undefined ? {} : { tls }),
      caseTimeoutMs: 10_000,
    });
  } finally {
    await main.stop();
  }
}

// The machinery a family of mutants is built on must change nothing by itself, or every mutant built
// on it would look caught for the wrong reason: with no mistake set, it passes the family's cases.
const controls: Array<[Mutant, string]> = [
  [{ name: "control-keyed-tap", description: "keyed-tap.ts with no hook", caughtBy: [], serverOptions: () => keyedTap({}) }, "keyed"],
  [ledgerMutant("control-slots-ledger", "slots-ledger.ts with no mistake", [], {}), "slots"],
  [{ name: "control-tls-listener", description: "tls-mutants.ts's listener with no deviation", caughtBy: [], tls: (settings) => mutantTlsTransport(settings, {}) }, "tls"],
  [{ name: "control-websocket-front", description: "websocket-mutants.ts's front end with no deviation", caughtBy: [], webSocket: {} }, "websocket"],
];
for (const [control, family] of controls) {
  test(`${control.description} passes every case the ${family} mutants must fail`, async () => {
    const members = ({ keyed: keyedMutants, tls: tlsMutants, websocket: webSocketMutants, slots: slotsMutants } as Record<string, Mutant[]>)[family]!;
    const names = new Set(members.filter((m) => !(onBun && m.uncaughtOnBun !== undefined)).flatMap((m) => m.caughtBy));
    const results = await runAgainst(control, allCases.filter((c) => names.has(c.name)));
    const failed = results.filter((r) => r.status !== "pass").map((r) => `${r.case.name} (${r.status}: ${r.actual ?? r.reason})`);
    assert.equal(failed, [], `${control.name} changed what the server does`);
  });
}

test("the READMEs give the numbers of cases and mutants there are", () => {
  const root = new URL("..", import.meta.url).pathname;
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const suiteReadme = readFileSync(join(root, "conformance/README.md"), "utf8");
  const stated = [
    ...[...readme.matchAll(/(\d+) cases\b/g)].map((m) => ["README.md cases", Number(m[1]), allCases.length] as const),
    ...[...readme.matchAll(/(\d+) mutant servers/g)].map((m) => ["README.md mutants", Number(m[1]), mutants.length] as const),
    ...[...suiteReadme.matchAll(/holds (\d+) mutant servers/g)].map((m) => ["conformance/README.md mutants", Number(m[1]), mutants.length] as const),
  ];
  assert.ok(stated.length >= 4, `${stated.length} numbers found`);
  for (const [where, said, actual] of stated) assert.is(said, actual, `${where} says ${said}, there are ${actual}`);
});

test("there are at least 10 mutants, each caught by named cases that exist", () => {
  assert.ok(mutants.length >= 10, `${mutants.length} mutants`);
  const names = new Set(allCases.map((c) => c.name));
  for (const mutant of mutants) {
    assert.ok(mutant.caughtBy.length > 0, `${mutant.name} names no case`);
    for (const name of mutant.caughtBy) assert.ok(names.has(name), `${mutant.name}: no case ${name}`);
  }
});

test("keys-out-of-order breaks only the order: its scheduler hands a freed key to the newest waiter", () => {
  const scheduler = new LifoKeyScheduler();
  const started: string[] = [];
  const first = scheduler.enqueue(["a"], () => started.push("first"))!;
  const tickets = ["second", "third", "fourth"].map((name) => scheduler.enqueue(["a"], () => started.push(name))!);
  assert.ok(first.granted && tickets.every((t) => !t.granted));
  first.release();
  assert.equal(started, ["fourth"]);
  tickets[2]!.release();
  assert.equal(started, ["fourth", "third"]);
});

test("keys-out-of-order keeps the exclusion: no two granted tickets share a key, and nothing deadlocks", () => {
  const op = fc.oneof(
    fc.record({ enqueue: fc.uniqueArray(fc.constantFrom("a", "b", "c", "d"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ release: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const scheduler = new LifoKeyScheduler();
      type Entry = { ticket: KeyTicket; keys: string[]; calls: number; waited: boolean };
      const live: Entry[] = [];
      const check = () => {
        const held = live.filter((t) => t.ticket.granted).flatMap((t) => t.keys);
        assert.equal(new Set(held).size, held.length, `a key held twice: ${held.join(",")}`);
        // onGranted runs once, and only for a ticket that had to wait.
        for (const t of live) assert.equal(t.calls, t.waited && t.ticket.granted ? 1 : 0);
      };
      for (const o of ops) {
        if ("enqueue" in o) {
          let calls = 0;
          const ticket = scheduler.enqueue(o.enqueue, () => calls++)!;
          const entry: Entry = { ticket, keys: o.enqueue, waited: !ticket.granted, get calls() { return calls; } };
          live.push(entry);
        } else if (live.length > 0) {
          live.splice(o.release % live.length, 1)[0]!.ticket.release();
        }
        check();
      }
      // Releasing the running ones, round after round, starts every waiter.
      for (let round = 0; live.length > 0; round++) {
        assert.ok(round <= ops.length, "waiters left that never start (deadlock)");
        const running = live.filter((t) => t.ticket.granted);
        assert.ok(running.length > 0, "nothing runs while requests wait (deadlock)");
        for (const t of running) {
          live.splice(live.indexOf(t), 1);
          t.ticket.release();
          check();
        }
      }
    }),
    { seed: 7, numRuns: 200 },
  );
});

// Most of a mutant's run is spent waiting (deadlines, idle timeouts, slow
// senders), not computing, so the mutants run a few at a time: the first
// mutant's test queues every run, and each test awaits its own. Each mutant
// still has its own servers, ports and cases.
const MUTANTS_AT_ONCE = 6;
type MutantRun = Awaited<ReturnType<typeof runAgainst>>;
const runs = new Map<string, Promise<MutantRun>>();

/** Queues every mutant's run, at most MUTANTS_AT_ONCE at a time, in the order of `mutants`. */
function queueRuns(): void {
  if (runs.size > 0) return;
  let active = 0;
  const waiting: Array<() => void> = [];
  const limited = (task: () => Promise<MutantRun>) =>
    new Promise<MutantRun>((resolve, reject) => {
      const start = () => {
        active++;
        task()
          .then(resolve, reject)
          .finally(() => {
            active--;
            waiting.shift()?.();
          });
      };
      if (active < MUTANTS_AT_ONCE) start();
      else waiting.push(start);
    });
  for (const mutant of mutants) {
    if (onBun && mutant.uncaughtOnBun !== undefined) continue;
    const run = limited(() => runAgainst(mutant, allCases.filter((c) => mutant.caughtBy.includes(c.name))));
    // Its test awaits it later; until then a failure must not count as unhandled.
    run.catch(() => {});
    runs.set(mutant.name, run);
  }
}

const onBun = (globalThis as { Bun?: unknown }).Bun !== undefined;
for (const mutant of mutants) {
  test(`the suite fails mutant "${mutant.name}" (${mutant.description})`, async () => {
    if (onBun && mutant.uncaughtOnBun !== undefined) {
      console.log(`\n  SKIPPED on Bun: mutant ${mutant.name}: ${mutant.uncaughtOnBun}; Node and Deno run it\n`);
      return;
    }
    queueRuns();
    const results = await runs.get(mutant.name)!;
    const passed = results.filter((r) => r.status !== "fail").map((r) => `${r.case.name} (${r.status}${r.reason ? `: ${r.reason}` : ""})`);
    assert.equal(passed, [], `cases that should catch ${mutant.name} did not fail`);
  });
}

test.run();
