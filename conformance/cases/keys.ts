// Section 15: keyed dispatch, and the drain rules (11.2, 11.3) that only
// requests queued behind a key make observable. What runs when is read from
// the server-wide log: KeyedWork logs start:<tag> and end:<tag> [CONF-5];
// Sleep logs sleep:<tag>:… when it returns [CONF-3]. A Sleep with keys is a
// holder: it keeps its keys until the case CANCELs it [CANCEL-2], so the
// cases wait on events (PONG, RESPONSE, log entries), never on timing.
// Connections, sessions and log helpers are in runner/keyed-session.ts.
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { create, toBinary } from "@bufbuild/protobuf";
import { KeyedWorkRequestSchema } from "../../src/gen/strata/conformance/v1/conformance_pb.ts";
import { dispatchCodeName } from "../../src/status/index.ts";
import { CallMode, Compression, decodeGoaway, DispatchCode, encodeFrame, FrameType, GoawayCode, type Frame } from "../../src/wire/index.ts";
import { CaseFailure, CaseSkip, expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE } from "../runner/context.ts";
import { expectDispatch } from "../runner/expectations.ts";
import { at, expectBefore, HOLDER_MS, holderEnd, KEYED_DISPATCH, Session, show, WAIT_MS, type Conn, type Input } from "../runner/keyed-session.ts";

const section = "15 Keyed dispatch";

/**
 * Holds key A on `conn` with one request queued behind the holder. `release`
 * checks that both are still where they were, cancels the holder and
 * expects the queued request to complete [KEYS-3] [KEYS-5].
 */
function holdWithQueue(s: Session, conn: Conn): { release(): Promise<void> } {
  const holder = conn.hold(s.tag("h"), [s.key("A")]);
  const queued = conn.send("keyedWork", { tag: s.tag("queued"), holdMs: 0 }, { keys: [s.key("A")] });
  return {
    async release() {
      const during = await s.log(conn);
      expect(holderEnd(during, "h") < 0 && at(during, "start:queued") < 0, "the holder of A still running and the request queued on A not started", show(during), "KEYS-3");
      conn.cancel(holder);
      await conn.expect(queued, DispatchCode.OK, "the request queued on A to complete once the holder is cancelled", "KEYS-5");
    },
  };
}

/** Where frames of `type` for request `id` arrived among the connection's frames, in order. */
function framesOf(conn: Conn, type: FrameType, id: number): number[] {
  const found: number[] = [];
  conn.peer.frames.forEach((f, i) => {
    if (f.header.type === type && f.header.requestId === id) found.push(i);
  });
  return found;
}

/** A RESPONSE's status, for Actual. */
const statusOf = (f: Frame) => `dispatch code ${dispatchCodeName(f.header.dispatchCode)} "${f.header.dispatchMessage}", app code ${f.header.appCode} "${f.header.appMessage}"`;

/**
 * Expects the ACK of the acked request `id` before its one RESPONSE, and no
 * second ACK or RESPONSE among the frames received so far [CALL-6] [CALL-7].
 */
function expectAckThenOneResponse(conn: Conn, id: number, what: string): void {
  const acks = framesOf(conn, FrameType.ACK, id);
  const responses = framesOf(conn, FrameType.RESPONSE, id);
  expect(acks.length === 1, `${what}: exactly one ACK (it was admitted into the key queue)`, conn.peer.describe(), "CALL-6");
  expect(responses.length === 1 && acks[0]! < responses[0]!, `${what}: the ACK before its RESPONSE, and one RESPONSE`, conn.peer.describe(), responses.length === 1 ? "CALL-6" : "CALL-7");
}

// ---------------------------------------------------------------------------
// The model-based property.

/** One generated request: which connection sends it, its keys (possibly none, repeated, in any order), its hold. */
interface Planned {
  conn: number;
  keys: string[];
  holdMs: number;
  acked: boolean;
}

interface Plan {
  connections: number;
  requests: Planned[];
}

const keyName = fc.constantFrom("a", "b", "c");
const planArbitrary: fc.Arbitrary<Plan> = fc.integer({ min: 2, max: 3 }).chain((connections) =>
  fc
    .array(
      fc.record({
        conn: fc.integer({ min: 0, max: connections - 1 }),
        keys: fc.oneof({ weight: 1, arbitrary: fc.constant<string[]>([]) }, { weight: 6, arbitrary: fc.array(keyName, { minLength: 1, maxLength: 3 }) }),
        holdMs: fc.integer({ min: 0, max: 15 }),
        acked: fc.boolean(),
      }),
      { minLength: 2, maxLength: 12 },
    )
    // Plain objects, so that a counterexample prints plainly.
    .map((requests) => ({ connections, requests: requests.map((r) => ({ ...r })) })),
);

/** A sent request, as the checks see it. */
interface Sent {
  /** r<index>, in send order; also its tag. */
  label: string;
  conn: number;
  id: number;
  keys: Set<string>;
}

const shares = (a: Sent, b: Sent) => [...a.keys].some((k) => b.keys.has(k));
const describeSent = (r: Sent) => `${r.label} (connection ${r.conn + 1}, id ${r.id}, keys ${[...r.keys].join("+") || "none"})`;

/** Sends the plan: consecutive requests for one connection go out in one write, so they are truly pipelined. */
async function runPlan(s: Session, plan: Plan): Promise<{ sent: Sent[]; conns: Conn[] }> {
  const conns: Conn[] = [];
  for (let i = 0; i < plan.connections; i++) conns.push(await s.open());
  const sent: Sent[] = [];
  let batch: Uint8Array[] = [];
  let batchConn = -1;
  const flush = () => {
    if (batch.length === 0) return;
    const bytes = new Uint8Array(batch.reduce((n, b) => n + b.length, 0));
    let offset = 0;
    for (const b of batch) {
      bytes.set(b, offset);
      offset += b.length;
    }
    conns[batchConn]!.peer.write(bytes);
    batch = [];
  };
  for (const [index, request] of plan.requests.entries()) {
    if (request.conn !== batchConn) flush();
    batchConn = request.conn;
    const conn = conns[request.conn]!;
    const id = conn.id();
    const label = `r${index}`;
    batch.push(s.ctx.encodeCall("keyedWork", { tag: s.tag(label), holdMs: request.holdMs }, { id, keys: request.keys.map((k) => s.key(k)), mode: request.acked ? CallMode.ACKED : CallMode.UNARY }));
    sent.push({ label, conn: request.conn, id, keys: new Set(request.keys) });
  }
  flush();
  return { sent, conns };
}

/** Checks a run's log against the rules of section 15. */
function checkLog(sent: Sent[], log: string[]): void {
  const byLabel = new Map(sent.map((r) => [r.label, r]));
  const startAt = new Map<string, number>();
  const running = new Set<Sent>();
  for (const [index, entry] of log.entries()) {
    const [what, label] = entry.split(":") as [string, string];
    const request = byLabel.get(label);
    if (request === undefined) continue;
    if (what === "start") {
      expect(!startAt.has(label), `${label} to start once`, show(log), "CONF-5");
      for (const other of running) {
        if (!shares(request, other)) continue;
        throw new CaseFailure(
          "requests that share a key never to run at the same time, whatever their connections",
          `${describeSent(request)} started while ${describeSent(other)} ran; ${show(log)}`,
          request.conn === other.conn ? "KEYS-3" : "KEYS-9",
        );
      }
      startAt.set(label, index);
      running.add(request);
    } else if (what === "end") {
      running.delete(request);
    }
  }
  // Every request ran to its end [KEYS-5]: its RESPONSE came, and the log shows it.
  for (const r of sent) {
    expect(startAt.has(r.label) && log.includes(`end:${r.label}`), `${describeSent(r)} to have started and ended`, show(log), "KEYS-5");
  }
  // Same connection, shared key: start in the order received [KEYS-4].
  for (const a of sent) {
    for (const b of sent) {
      if (a.conn !== b.conn || a.id >= b.id || !shares(a, b)) continue;
      expect(startAt.get(a.label)! < startAt.get(b.label)!, `${describeSent(a)} to start before ${describeSent(b)}, sent after it on the same connection with a shared key`, show(log), "KEYS-4");
    }
  }
  // Across connections [KEYS-9]: some single arrival order must explain every
  // key's start order. The graph "a arrived before b" (send order on one
  // connection, start order on a shared key) must have no cycle.
  const after = new Map<Sent, Sent[]>(sent.map((r) => [r, []]));
  for (const a of sent) {
    for (const b of sent) {
      if (a === b) continue;
      const sameConnection = a.conn === b.conn && a.id < b.id;
      const keyOrder = a.conn !== b.conn && shares(a, b) && startAt.get(a.label)! < startAt.get(b.label)!;
      if (sameConnection || keyOrder) after.get(a)!.push(b);
    }
  }
  const state = new Map<Sent, "open" | "done">();
  const visit = (r: Sent, path: Sent[]): void => {
    if (state.get(r) === "done") return;
    if (state.get(r) === "open") {
      const cycle = [...path.slice(path.indexOf(r)), r].map((x) => x.label).join(" → ");
      throw new CaseFailure(
        "the start order on every key to follow one arrival order across connections (each connection's requests arriving in send order)",
        `no arrival order fits: ${cycle} (each arrow: sent earlier on one connection, or started earlier on a shared key); ${show(log)}`,
        "KEYS-9",
      );
    }
    state.set(r, "open");
    for (const next of after.get(r)!) visit(next, [...path, r]);
    state.set(r, "done");
  };
  for (const r of sent) visit(r, []);
}

// ---------------------------------------------------------------------------

export const keyCases: ConformanceCase[] = [
  {
    name: "keys/refused-without-keyed-dispatch",
    section,
    requirements: ["KEYS-2", "HELLO-8"],
    title: "A server that does not list keyed-dispatch answers a request with keys UNSUPPORTED",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      if (peer.hello!.features.includes(KEYED_DISPATCH)) throw new CaseSkip("the server lists keyed-dispatch; the KEYS cases apply instead");
      ctx.sendCall(peer, "info", {}, { id: 1, keys: ["uid:1"] });
      expectDispatch(await ctx.response(peer, 1), DispatchCode.UNSUPPORTED, "KEYS-2");
    },
  },
  {
    name: "keys/key-count-and-size",
    section,
    requirements: ["KEYS-1", "STATUS-6"],
    title: "16 keys and 256-byte keys run, repeats counting once; 17 entries, an empty key or a 257-byte key are INVALID_REQUEST and never run",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const c = await s.open();
      const sixteen = Array.from({ length: 16 }, (_, i) => s.key(`k${i}`));
      // A key of this run, `bytes` long in UTF-8: the run prefix (10 ASCII bytes), then `fill` repeated.
      const sized = (bytes: number, fill: string) => {
        const prefix = s.key("");
        const key = prefix + fill.repeat((bytes - prefix.length) / new TextEncoder().encode(fill).length);
        if (new TextEncoder().encode(key).length !== bytes) throw new Error(`the case built a key of the wrong size for ${bytes} bytes`);
        return key;
      };
      const accepted: Array<[string, string[]]> = [
        ["16 distinct keys", sixteen],
        ["a 256-byte key", [sized(256, "x")]],
        ["a key of 256 bytes in 2-byte characters", [sized(256, "é")]],
        ["one key twice (duplicates count once, so it does not wait for itself)", [s.key("dup"), s.key("dup")]],
        ["16 entries of one key", Array.from({ length: 16 }, () => s.key("dup"))],
      ];
      const refused: Array<[string, string[]]> = [
        ["17 distinct keys", [...sixteen, s.key("k16")]],
        ["17 entries of which 16 distinct (the limit counts entries as sent)", [...sixteen, sixteen[0]!]],
        ["an empty key", [""]],
        ["a 257-byte key", [sized(257, "x")]],
        ["a key of 258 bytes in 2-byte characters", [sized(258, "é")]],
      ];
      const ids = [...accepted, ...refused].map(([, keys], i) => c.send("keyedWork", { tag: s.tag(`w${i}`), holdMs: 0 }, { keys }));
      for (const [i, [what]] of accepted.entries()) await c.expect(ids[i]!, DispatchCode.OK, `a request with ${what}`, "KEYS-1");
      for (const [i, [what]] of refused.entries()) await c.expect(ids[accepted.length + i]!, DispatchCode.INVALID_REQUEST, `a request with ${what}`, "KEYS-1");
      const log = await s.log(c);
      for (const [i, [what]] of refused.entries()) {
        expect(at(log, `start:w${accepted.length + i}`) < 0, `the request with ${what} never to run`, show(log), "STATUS-6");
      }
    },
  },
  {
    name: "keys/compared-as-bytes",
    section,
    requirements: ["KEYS-1", "KEYS-3"],
    title: "Keys are compared as bytes: é (NFC) is held, so é waits, while e + U+0301 (NFD) and É run at once",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const c = await s.open();
      const holder = c.hold(s.tag("h"), [s.key("\u00e9")]);
      await c.barrier();
      const same = c.send("keyedWork", { tag: s.tag("same"), holdMs: 0 }, { keys: [s.key("\u00e9")] });
      const nfd = c.send("keyedWork", { tag: s.tag("nfd"), holdMs: 0 }, { keys: [s.key("e\u0301")] });
      const upper = c.send("keyedWork", { tag: s.tag("upper"), holdMs: 0 }, { keys: [s.key("\u00c9")] });
      await c.expect(nfd, DispatchCode.OK, "the request on e + U+0301, a different key, to complete while é is held", "KEYS-1");
      await c.expect(upper, DispatchCode.OK, "the request on É, a different key, to complete while é is held", "KEYS-1");
      c.cancel(holder);
      await c.expect(same, DispatchCode.OK, "the request on é to complete once the holder is cancelled", "KEYS-5");
      const log = await s.log(c);
      expectBefore(log, "sleep:h", "start:same", "the request on é to wait for the holder of é", "KEYS-3");
    },
  },
  {
    name: "keys/random-keyed-work",
    section,
    requirements: ["KEYS-3", "KEYS-4", "KEYS-5", "KEYS-9", "CONF-5"],
    title: "Random pipelined KeyedWork on 2–3 connections: same-key requests never overlap, start in order, and all complete (property)",
    usesConformanceService: true,
    async run(ctx) {
      // Checked once, so that a server without keyed dispatch skips rather than fails the property.
      const probe = await new Session(ctx).open();
      probe.peer.close();
      await ctx.property(planArbitrary, async (plan) => {
        const s = new Session(ctx);
        const { sent, conns } = await runPlan(s, plan);
        try {
          for (const r of sent) await conns[r.conn]!.expect(r.id, DispatchCode.OK, `${describeSent(r)} to complete`, "KEYS-5");
          checkLog(sent, await s.log(conns[0]!));
        } finally {
          for (const c of conns) c.peer.close();
        }
      });
    },
  },
  {
    name: "keys/same-connection-start-order",
    section,
    requirements: ["KEYS-3", "KEYS-4"],
    title: "Requests queued on one connection behind a holder of their key start one at a time, in the order sent, after it ends",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const c = await s.open();
      const a = s.key("A");
      const holder = c.hold(s.tag("h"), [a]);
      const ids = [1, 2, 3, 4].map((n) => c.send("keyedWork", { tag: s.tag(`w${n}`), holdMs: 5 }, { keys: n === 3 ? [s.key("B"), a] : [a], ...(n === 2 ? { mode: CallMode.ACKED } : {}) }));
      await c.barrier();
      c.cancel(holder);
      for (const id of ids) await c.expect(id, DispatchCode.OK, `queued request ${id} to complete once the holder is cancelled`, "KEYS-5");
      const log = await s.log(c);
      expectBefore(log, "sleep:h", "start:w1", "the queued requests to wait for the holder of their key", "KEYS-3");
      const starts = log.filter((e) => e.startsWith("start:")).join(",");
      expect(starts === "start:w1,start:w2,start:w3,start:w4", "starts in the order sent: start:w1,start:w2,start:w3,start:w4", show(log), "KEYS-4");
      for (const n of [1, 2, 3]) expectBefore(log, `end:w${n}`, `start:w${n + 1}`, "one at a time", "KEYS-3");
    },
  },
  {
    name: "keys/cross-connection-start-order",
    section,
    requirements: ["KEYS-9", "KEYS-10", "KEYS-3"],
    title: "Requests on one key from several connections start in the order the server read them, one at a time",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const a = s.key("A");
      const conns = [await s.open(), await s.open(), await s.open(), await s.open()];
      const [c1, c2, c3, c4] = conns as [Conn, Conn, Conn, Conn];
      const holder = c1.hold(s.tag("h"), [a]);
      await c1.barrier();
      // Each request is known to be read (PONG) before the next is sent.
      const sent: Array<[Conn, number]> = [];
      for (const [n, c] of [[2, c2], [3, c3], [4, c4]] as Array<[number, Conn]>) {
        sent.push([c, c.send("keyedWork", { tag: s.tag(`r${n}`), holdMs: 5 }, { keys: [a] })]);
        await c.barrier();
      }
      sent.push([c2, c2.send("keyedWork", { tag: s.tag("r5"), holdMs: 5 }, { keys: [a] })]);
      c1.cancel(holder);
      for (const [c, id] of sent) await c.expect(id, DispatchCode.OK, `${c.name}'s request ${id} to complete once the holder is cancelled`, "KEYS-5");
      const log = await s.log(c1);
      expectBefore(log, "sleep:h", "start:r2", "the queued requests to wait for the holder on another connection", "KEYS-9");
      const starts = log.filter((e) => e.startsWith("start:")).join(",");
      expect(starts === "start:r2,start:r3,start:r4,start:r5", "starts in the order read: start:r2,start:r3,start:r4,start:r5", show(log), "KEYS-9");
      for (const n of [2, 3, 4]) expectBefore(log, `end:r${n}`, `start:r${n + 1}`, "one at a time across connections", "KEYS-9");
    },
  },
  {
    name: "keys/free-keys-not-held-back",
    section,
    requirements: ["KEYS-5", "KEYS-9", "KEYS-3"],
    title: "While A is held with a request queued on it, requests on B and on B+C (another connection) run at once",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const c1 = await s.open();
      const c2 = await s.open();
      const held = holdWithQueue(s, c1);
      const onB = c1.send("keyedWork", { tag: s.tag("b"), holdMs: 0 }, { keys: [s.key("B")] });
      const onBC = c2.send("keyedWork", { tag: s.tag("bc"), holdMs: 0 }, { keys: [s.key("B"), s.key("C")] });
      await c1.expect(onB, DispatchCode.OK, "the request on B to complete while A is held (its keys are free)", "KEYS-5");
      await c2.expect(onBC, DispatchCode.OK, "the request on B+C to complete while A is held (its keys are free)", "KEYS-5");
      await held.release();
    },
  },
  {
    name: "keys/keyless-not-queued",
    section,
    requirements: ["KEYS-7", "KEYS-3"],
    title: "While a key is held with a request queued on it, requests without keys on either connection run at once",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const c1 = await s.open();
      const c2 = await s.open();
      const held = holdWithQueue(s, c1);
      const same = c1.send("keyedWork", { tag: s.tag("k1"), holdMs: 0 });
      const other = c2.send("keyedWork", { tag: s.tag("k2"), holdMs: 0 });
      await c1.expect(same, DispatchCode.OK, "a request without keys, sent after one queued on A, to complete while A is held", "KEYS-7");
      await c2.expect(other, DispatchCode.OK, "a request without keys on another connection to complete while A is held", "KEYS-7");
      await held.release();
    },
  },
  {
    name: "keys/multi-key-waits-for-all",
    section,
    requirements: ["KEYS-5", "KEYS-4"],
    title: "A transfer on A+B starts only when both holders have ended; a later request on A does not overtake it",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const [c1, c2, c3] = [await s.open(), await s.open(), await s.open()];
      const [a, b] = [s.key("A"), s.key("B")];
      const h1 = c1.hold(s.tag("h1"), [a]);
      await c1.barrier();
      const h2 = c2.hold(s.tag("h2"), [b]);
      await c2.barrier();
      const transfer = c3.send("keyedWork", { tag: s.tag("t"), holdMs: 10 }, { keys: [a, b] });
      const later = c3.send("keyedWork", { tag: s.tag("r"), holdMs: 0 }, { keys: [a] });
      await c3.barrier();
      c1.cancel(h1);
      // A is free now; B is not. Wait until the server has seen h1 end, then free B.
      const mid = await s.waitForLog(c3, (log) => holderEnd(log, "h1") >= 0);
      expect(holderEnd(mid, "h1") >= 0, "the holder of A to end once cancelled", show(mid), "CANCEL-2");
      c2.cancel(h2);
      await c3.expect(transfer, DispatchCode.OK, "the transfer on A+B to complete once both holders are cancelled", "KEYS-5");
      await c3.expect(later, DispatchCode.OK, "the later request on A to complete", "KEYS-5");
      const log = await s.log(c3);
      expectBefore(log, "sleep:h2", "start:t", "the transfer to wait for B as well as A", "KEYS-5");
      expectBefore(log, "end:t", "start:r", "the later request on A not to overtake the transfer queued before it on A", "KEYS-4");
    },
  },
  {
    name: "keys/opposite-order-multi-key-no-deadlock",
    section,
    requirements: ["KEYS-5", "KEYS-9", "KEYS-3"],
    title: "Requests on A+B and on B+A, both queued behind holders of A and of B, both complete one after the other",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const [c1, c2, c3, c4] = [await s.open(), await s.open(), await s.open(), await s.open()];
      const [a, b] = [s.key("A"), s.key("B")];
      const h1 = c1.hold(s.tag("h1"), [a]);
      await c1.barrier();
      const h2 = c2.hold(s.tag("h2"), [b]);
      await c2.barrier();
      const ab = c3.send("keyedWork", { tag: s.tag("ab"), holdMs: 10 }, { keys: [a, b] });
      await c3.barrier();
      const ba = c4.send("keyedWork", { tag: s.tag("ba"), holdMs: 10 }, { keys: [b, a] });
      await c4.barrier();
      // Free A first: a server that takes keys one at a time gives A to A+B and B to B+A.
      c1.cancel(h1);
      await s.waitForLog(c3, (log) => holderEnd(log, "h1") >= 0);
      c2.cancel(h2);
      await c3.expect(ab, DispatchCode.OK, "the request on A+B to complete (no deadlock)", "KEYS-5");
      await c4.expect(ba, DispatchCode.OK, "the request on B+A to complete (no deadlock)", "KEYS-5");
      const log = await s.log(c3);
      expectBefore(log, "end:ab", "start:ba", "A+B, read first, to run and end before B+A starts", "KEYS-9");
      expectBefore(log, "sleep:h2", "start:ab", "A+B to wait for both holders", "KEYS-5");
    },
  },
  {
    name: "keys/queued-deadline-expires",
    section,
    requirements: ["KEYS-6", "KEYS-9", "STATUS-6"],
    title: "A request queued on A+B whose deadline passes is answered DEADLINE_EXPIRED, never runs, and the request behind it on B starts at once",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const [c1, c2, c3] = [await s.open(), await s.open(), await s.open()];
      const [a, b] = [s.key("A"), s.key("B")];
      const holder = c1.hold(s.tag("h"), [a]);
      await c1.barrier();
      const expiring = c2.send("keyedWork", { tag: s.tag("q"), holdMs: 0 }, { keys: [a, b], timeoutMs: 300 });
      await c2.barrier();
      const behindOnB = c3.send("keyedWork", { tag: s.tag("n"), holdMs: 0 }, { keys: [b] });
      const behindOnA = c3.send("keyedWork", { tag: s.tag("r"), holdMs: 0 }, { keys: [a] });
      await c2.expect(expiring, DispatchCode.DEADLINE_EXPIRED, "the request queued behind the holder of A, whose 300 ms deadline passed, to be answered", "KEYS-6");
      await c3.expect(behindOnB, DispatchCode.OK, "the request on B queued behind the expired one to run while A is still held", "KEYS-6");
      const during = await s.log(c3);
      expect(holderEnd(during, "h") < 0, "the holder of A still running when both answers came", show(during), "KEYS-6");
      c1.cancel(holder);
      await c3.expect(behindOnA, DispatchCode.OK, "the request on A behind the expired one to complete once the holder is cancelled", "KEYS-6");
      const log = await s.log(c3);
      expect(at(log, "start:q") < 0, "the expired request never to run (not processed)", show(log), "STATUS-6");
      expectBefore(log, "sleep:h", "start:r", "the request on A to wait for the holder", "KEYS-3");
    },
  },
  {
    name: "keys/failed-handler-releases-keys",
    section,
    requirements: ["KEYS-5", "STATUS-8", "CONF-2", "CONF-8"],
    title: "Keyed Echo calls failing with an application error, a HANDLER_ERROR they chose and a thrown error get those codes, and each time the next request on the key runs",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const c1 = await s.open();
      const c2 = await s.open();
      const a = s.key("A");
      // Each Echo waits 20 ms first, so the request behind it is queued while it runs.
      const failures: Array<{ what: string; init: Input<"echo">; matches: (f: Frame) => boolean; code: string; requirement: string }> = [
        {
          what: "an application error",
          init: { delayMs: 20, status: { appCode: 7, message: "no funds" } },
          matches: (f) => f.header.dispatchCode === DispatchCode.OK && f.header.appCode === 7 && f.header.appMessage === "no funds",
          code: 'dispatch code OK with app code 7 "no funds"',
          requirement: "STATUS-8",
        },
        {
          what: "a HANDLER_ERROR it chose",
          init: { delayMs: 20, status: { dispatchCode: DispatchCode.HANDLER_ERROR, message: "chosen" } },
          matches: (f) => f.header.dispatchCode === DispatchCode.HANDLER_ERROR,
          code: "dispatch code HANDLER_ERROR",
          requirement: "CONF-2",
        },
        {
          what: "a thrown error (response_size above 16 MiB)",
          init: { delayMs: 20, responseSize: 16 * 1024 * 1024 + 1 },
          matches: (f) => f.header.dispatchCode === DispatchCode.HANDLER_ERROR,
          code: "dispatch code HANDLER_ERROR",
          requirement: "CONF-8",
        },
      ];
      const sent = failures.map(({ init }, i) => [c1.send("echo", init, { keys: [a] }), c1.send("keyedWork", { tag: s.tag(`w${i}`), holdMs: 0 }, { keys: [a] })] as const);
      await c1.barrier();
      // Read after all of them: it runs last on A, on another connection.
      const last = c2.send("keyedWork", { tag: s.tag("last"), holdMs: 0 }, { keys: [a] });
      for (const [i, { what, matches, code, requirement }] of failures.entries()) {
        const [failing, next] = sent[i]!;
        const answer = await c1.answer(failing, `the keyed Echo failing with ${what} to be answered`, "STATUS-11");
        expect(matches(answer), `the keyed Echo failing with ${what} to be answered ${code}`, statusOf(answer), requirement);
        await c1.expect(next, DispatchCode.OK, `the request queued on A behind the Echo that failed with ${what} to run (the failure released A)`, "KEYS-5");
      }
      await c2.expect(last, DispatchCode.OK, "a request on A from another connection, read after the failures, to run", "KEYS-5");
      const log = await s.log(c2);
      expect(log.filter((e) => e.startsWith("start:")).join(",") === "start:w0,start:w1,start:w2,start:last", "starts in the order sent: start:w0,start:w1,start:w2,start:last", show(log), "KEYS-4");
    },
  },
  {
    name: "keys/cancel-while-queued",
    section,
    requirements: ["CANCEL-2", "CANCEL-4", "KEYS-5", "KEYS-4", "KEYS-9"],
    title: "Unary and acked requests cancelled while they wait for their key never start and get at most one RESPONSE; the requests behind them run in order",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const c1 = await s.open();
      const c2 = await s.open();
      const a = s.key("A");
      const holder = c1.hold(s.tag("h"), [a]);
      const ahead = c1.send("keyedWork", { tag: s.tag("p"), holdMs: 5 }, { keys: [a] });
      const unary = c1.send("keyedWork", { tag: s.tag("x"), holdMs: 5 }, { keys: [a] });
      const acked = c1.send("keyedWork", { tag: s.tag("xa"), holdMs: 5 }, { keys: [s.key("B"), a], mode: CallMode.ACKED });
      const behind = c1.send("keyedWork", { tag: s.tag("y"), holdMs: 5 }, { keys: [a] });
      await c1.peer.waitFor((f) => f.header.type === FrameType.ACK && f.header.requestId === acked, `an ACK for the acked request ${acked} queued on A [CALL-6]`, WAIT_MS);
      c1.cancel(unary);
      c1.cancel(acked);
      await c1.barrier();
      // Read after the CANCELs, on another connection: it runs after y [KEYS-9].
      const later = c2.send("keyedWork", { tag: s.tag("z"), holdMs: 5 }, { keys: [a] });
      await c2.barrier();
      const during = await s.log(c2);
      expect(holderEnd(during, "h") < 0 && !during.some((e) => e.startsWith("start:")), "the holder of A still running and nothing queued on A started yet", show(during), "KEYS-3");
      c1.cancel(holder);
      await c1.expect(ahead, DispatchCode.OK, "the request queued on A ahead of the cancelled ones to complete once the holder is cancelled", "KEYS-5");
      await c1.expect(behind, DispatchCode.OK, "the request queued on A behind the cancelled ones to complete", "KEYS-5");
      await c2.expect(later, DispatchCode.OK, "the request on A from another connection, read after the CANCELs, to complete", "KEYS-5");
      // Recorded is answered after y's RESPONSE on c1: a RESPONSE for a cancelled request that ran before y has come by now.
      const log = await s.log(c1);
      expect(at(log, "start:x") < 0 && at(log, "start:xa") < 0, "the requests cancelled while queued never to start", show(log), "CANCEL-2");
      expect(log.filter((e) => e.startsWith("start:")).join(",") === "start:p,start:y,start:z", "starts in arrival order: start:p,start:y,start:z", show(log), "KEYS-4");
      expectBefore(log, "end:p", "start:y", "one at a time", "KEYS-3");
      expectBefore(log, "end:y", "start:z", "one at a time", "KEYS-9");
      for (const [id, what] of [[unary, "unary"], [acked, "acked"]] as const) {
        const answers = framesOf(c1, FrameType.RESPONSE, id).map((i) => c1.peer.frames[i]!);
        expect(
          answers.length <= 1,
          `no RESPONSE, or exactly one, for the ${what} request ${id} cancelled while queued`,
          answers.length === 0 ? "none" : answers.map(statusOf).join("; "),
          "CANCEL-4",
        );
      }
    },
  },
  {
    name: "keys/acked-deadline-expires-while-queued",
    section,
    requirements: ["KEYS-6", "CALL-6", "CALL-7", "DEADLINE-1", "STATUS-6"],
    title: "An acked request queued on A+B whose deadline passes gets its ACK, then one DEADLINE_EXPIRED, never runs, and the request behind it on B runs at once",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const [c1, c2] = [await s.open(), await s.open()];
      const [a, b] = [s.key("A"), s.key("B")];
      const holder = c1.hold(s.tag("h"), [a]);
      await c1.barrier();
      // Admitted into the queues (nothing is wrong with it yet), so ACKed at once [CALL-6]; the ACK does not stop its timer [DEADLINE-1].
      const expiring = c2.send("keyedWork", { tag: s.tag("q"), holdMs: 0 }, { keys: [a, b], mode: CallMode.ACKED, timeoutMs: 300 });
      const behindOnB = c2.send("keyedWork", { tag: s.tag("n"), holdMs: 0 }, { keys: [b], mode: CallMode.ACKED });
      const behindOnA = c2.send("keyedWork", { tag: s.tag("r"), holdMs: 0 }, { keys: [a] });
      await c2.expect(expiring, DispatchCode.DEADLINE_EXPIRED, "the acked request queued behind the holder of A, whose 300 ms deadline passed, to be answered (not processed)", "KEYS-6");
      expectAckThenOneResponse(c2, expiring, "the acked request whose deadline passed in the queue");
      await c2.expect(behindOnB, DispatchCode.OK, "the acked request on B queued behind the expired one to run while A is still held", "KEYS-6");
      const during = await s.log(c2);
      expect(holderEnd(during, "h") < 0, "the holder of A still running when both answers came", show(during), "KEYS-6");
      c1.cancel(holder);
      await c2.expect(behindOnA, DispatchCode.OK, "the request on A behind the expired one to complete once the holder is cancelled", "KEYS-6");
      const log = await s.log(c2);
      expect(at(log, "start:q") < 0, "the acked request that expired in the queue never to run (not processed)", show(log), "STATUS-6");
      // r's RESPONSE came after any that q could have got by running once A was free.
      expectAckThenOneResponse(c2, expiring, "the acked request whose deadline passed in the queue, once A was free");
      expectAckThenOneResponse(c2, behindOnB, "the acked request on B");
    },
  },
  {
    name: "keys/deadline-while-running-keeps-key",
    section,
    requirements: ["KEYS-3", "DEADLINE-4", "KEYS-5", "CALL-3", "CALL-7"],
    title: "Unary and acked requests whose deadline passes while they run are answered DEADLINE_EXCEEDED or with their result, and hold their key until their handler has returned",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const [c1, c2] = [await s.open(), await s.open()];
      const [a, b] = [s.key("A"), s.key("B")];
      // KeyedWork runs until its signal fires (300 ms), then logs end:<tag> as it returns [CONF-5].
      const unary = c1.send("keyedWork", { tag: s.tag("w"), holdMs: HOLDER_MS }, { keys: [a], timeoutMs: 300 });
      const acked = c1.send("keyedWork", { tag: s.tag("wa"), holdMs: HOLDER_MS }, { keys: [b], timeoutMs: 300, mode: CallMode.ACKED });
      await c1.barrier();
      const behindA = c2.send("keyedWork", { tag: s.tag("r"), holdMs: 0 }, { keys: [a] });
      const behindB = c2.send("keyedWork", { tag: s.tag("rb"), holdMs: 0 }, { keys: [b] });
      const allowed = (f: Frame) => f.header.dispatchCode === DispatchCode.DEADLINE_EXCEEDED || (f.header.dispatchCode === DispatchCode.OK && f.header.appCode === 0);
      for (const [id, what] of [[unary, "unary"], [acked, "acked"]] as const) {
        const answer = await c1.answer(id, `the ${what} request whose 300 ms deadline passed while it ran to be answered`, "DEADLINE-4");
        expect(allowed(answer), `the ${what} request whose 300 ms deadline passed while it ran to be answered DEADLINE_EXCEEDED or with its result`, statusOf(answer), "DEADLINE-4");
      }
      await c2.expect(behindA, DispatchCode.OK, "the request queued on A behind the one whose deadline passed to complete", "KEYS-5");
      await c2.expect(behindB, DispatchCode.OK, "the request queued on B behind the acked one whose deadline passed to complete", "KEYS-5");
      const log = await s.log(c1);
      expectBefore(log, "end:w", "start:r", "the key A held until the handler whose deadline passed returned, not only until DEADLINE_EXCEEDED was sent", "KEYS-3");
      expectBefore(log, "end:wa", "start:rb", "the key B held until the acked handler whose deadline passed returned", "KEYS-3");
      expect(framesOf(c1, FrameType.RESPONSE, unary).length === 1, `exactly one RESPONSE to the unary request ${unary}`, c1.peer.describe(), "CALL-3");
      expectAckThenOneResponse(c1, acked, "the acked request whose deadline passed while it ran");
    },
  },
  {
    name: "drain/queued-requests-dropped-at-eof",
    section: "11 Drain and goaway",
    requirements: ["DRAIN-14", "DRAIN-9"],
    title: "At EOF, unary and acked requests still queued behind a key are removed without starting",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const c1 = await s.open();
      const a = s.key("A");
      c1.hold(s.tag("h"), [a]);
      c1.send("keyedWork", { tag: s.tag("unary"), holdMs: 0 }, { keys: [a] });
      c1.send("keyedWork", { tag: s.tag("acked"), holdMs: 0 }, { keys: [a], mode: CallMode.ACKED });
      await c1.barrier();
      c1.peer.end();
      // Sent after the queued requests were read: a server that kept them would start them first.
      const c2 = await s.open();
      await c2.expect(c2.send("keyedWork", { tag: s.tag("after"), holdMs: 0 }, { keys: [a] }), DispatchCode.OK, "a later request on A from another connection to complete once the first connection ended", "DRAIN-9");
      const log = await s.log(c2);
      expect(holderEnd(log, "h") >= 0, "the holder to have been signalled at EOF and returned", show(log), "DRAIN-9");
      expect(at(log, "start:unary") < 0 && at(log, "start:acked") < 0, "the queued unary and acked requests never to start", show(log), "DRAIN-14");
    },
  },
  {
    name: "drain/queued-oneway-runs-after-eof",
    section: "11 Drain and goaway",
    requirements: ["DRAIN-15"],
    title: "A oneway request queued behind a key when the client's connection ends still runs",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const c1 = await s.open();
      const a = s.key("A");
      c1.hold(s.tag("h"), [a]);
      c1.send("keyedWork", { tag: s.tag("oneway"), holdMs: 0 }, { keys: [a], mode: CallMode.ONEWAY });
      await c1.barrier();
      c1.peer.end();
      // Read after the oneway request: it runs ahead of this one [KEYS-9].
      const c2 = await s.open();
      await c2.expect(c2.send("keyedWork", { tag: s.tag("after"), holdMs: 0 }, { keys: [a] }), DispatchCode.OK, "a later request on A from another connection to complete", "DRAIN-15");
      const log = await s.log(c2);
      expectBefore(log, "end:oneway", "start:after", "the queued oneway request to run after EOF, ahead of the later request on its key", "DRAIN-15");
    },
  },
  {
    name: "drain/queued-oneway-dropped-at-connection-error",
    section: "11 Drain and goaway",
    requirements: ["DRAIN-15", "FRAME-14"],
    title: "A oneway request queued behind a key when the server detects a connection error is dropped without starting",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const c1 = await s.open();
      const a = s.key("A");
      c1.hold(s.tag("h"), [a]);
      c1.send("keyedWork", { tag: s.tag("oneway"), holdMs: 0 }, { keys: [a], mode: CallMode.ONEWAY });
      await c1.barrier();
      c1.peer.write(Uint8Array.of(0, 0, 0, 0)); // header size 0: a connection error [FRAME-4]
      await c1.peer.waitForClose("GOAWAY(PROTOCOL_ERROR), then EOF [FRAME-14]", WAIT_MS);
      // Sent after the oneway request was read: a server that kept it would start it first.
      const c2 = await s.open();
      await c2.expect(c2.send("keyedWork", { tag: s.tag("after"), holdMs: 0 }, { keys: [a] }), DispatchCode.OK, "a later request on A from another connection to complete", "DRAIN-15");
      const log = await s.log(c2);
      expect(at(log, "start:oneway") < 0, "the oneway request still queued at the connection error never to start", show(log), "DRAIN-15");
    },
  },
  {
    name: "drain/compressed-keyed-requests-at-eof",
    section: "11 Drain and goaway",
    requirements: ["DRAIN-15", "DRAIN-14", "KEYS-5"],
    title: "EOF right behind keyed gzip requests (bodies maybe still decompressing): the oneway one still runs, and the keys of both are freed",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const c1 = await s.open();
      if (!c1.peer.hello!.compression.includes(Compression.GZIP)) throw new CaseSkip("the server does not list gzip in its HELLO");
      const gzipped = (id: number, tag: string, key: string, mode: CallMode) =>
        encodeFrame(
          { type: FrameType.REQUEST, requestId: id, service: CONFORMANCE_SERVICE, method: "KeyedWork", callMode: mode, compression: Compression.GZIP, keys: [s.key(key)] },
          gzipSync(toBinary(KeyedWorkRequestSchema, create(KeyedWorkRequestSchema, { tag: s.tag(tag), holdMs: 0 }))),
        );
      const unary = gzipped(1, "unary", "A", CallMode.UNARY);
      const oneway = gzipped(2, "oneway", "B", CallMode.ONEWAY);
      const both = new Uint8Array(unary.length + oneway.length);
      both.set(unary);
      both.set(oneway, unary.length);
      // One write, then EOF at once: the server may see the EOF before it has the bodies.
      c1.peer.write(both);
      c1.peer.end();
      const c2 = await s.open();
      const onA = c2.send("keyedWork", { tag: s.tag("afterA"), holdMs: 0 }, { keys: [s.key("A")] });
      const onB = c2.send("keyedWork", { tag: s.tag("afterB"), holdMs: 0 }, { keys: [s.key("B")] });
      await c2.expect(onA, DispatchCode.OK, "a later request on the unary request's key to complete (the key was freed)", "DRAIN-14");
      await c2.expect(onB, DispatchCode.OK, "a later request on the oneway request's key to complete (the key was freed)", "KEYS-5");
      const log = await s.waitForLog(c2, (l) => at(l, "end:oneway") >= 0);
      expect(at(log, "end:oneway") >= 0, "the oneway request, received before EOF, to run", show(log), "DRAIN-15");
    },
  },
  {
    name: "drain/grace-end-answers-queued",
    section: "11 Drain and goaway",
    requirements: ["DRAIN-10", "DRAIN-15", "DRAIN-2", "CONF-7"],
    title: "When a drain's grace period ends, queued unary and acked requests are answered SHUTTING_DOWN and never start; a queued oneway one is dropped",
    usesConformanceService: true,
    async run(ctx) {
      const s = new Session(ctx);
      const c1 = await s.open();
      const a = s.key("A");
      c1.hold(s.tag("h"), [a]);
      const unary = c1.send("keyedWork", { tag: s.tag("unary"), holdMs: 0 }, { keys: [a] });
      const acked = c1.send("keyedWork", { tag: s.tag("acked"), holdMs: 0 }, { keys: [a], mode: CallMode.ACKED });
      c1.send("keyedWork", { tag: s.tag("oneway"), holdMs: 0 }, { keys: [a], mode: CallMode.ONEWAY });
      const drain = c1.send("drain", { graceMs: 300 });
      await c1.expect(drain, DispatchCode.OK, "the Drain call to be answered", "CONF-7");
      const goawayFrame = await c1.peer.waitFor((f) => f.header.type === FrameType.GOAWAY, "a GOAWAY after the Drain call [CONF-7]", WAIT_MS);
      const goaway = decodeGoaway(goawayFrame.body);
      expect(goaway.code === GoawayCode.NO_ERROR && goaway.lastRequestId === drain, `GOAWAY(NO_ERROR) with last_request_id ${drain}`, `code ${goaway.code}, last_request_id ${goaway.lastRequestId}`, "DRAIN-2");
      await c1.expect(unary, DispatchCode.SHUTTING_DOWN, "the queued unary request, at the end of the grace period", "DRAIN-10");
      await c1.expect(acked, DispatchCode.SHUTTING_DOWN, "the queued acked request, at the end of the grace period", "DRAIN-10");
      await c1.peer.waitForClose("EOF after the grace period [DRAIN-4]", WAIT_MS);
      // Sent after the first connection closed: a server that kept its queued requests would start them first.
      const c2 = await s.open();
      await c2.expect(c2.send("keyedWork", { tag: s.tag("after"), holdMs: 0 }, { keys: [a] }), DispatchCode.OK, "a later request on A from another connection to complete", "DRAIN-10");
      const log = await s.log(c2);
      expect(at(log, "start:unary") < 0 && at(log, "start:acked") < 0, "the queued unary and acked requests never to start", show(log), "DRAIN-10");
      expect(at(log, "start:oneway") < 0, "the oneway request still queued at the end of the grace period never to start", show(log), "DRAIN-15");
    },
  },
];
