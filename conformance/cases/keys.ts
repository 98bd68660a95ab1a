// Section 15: keyed dispatch. What a request's keys may be, that requests
// sharing a key never run at once and start in the order the server read
// them, on one connection or several, and that nothing waits for a key it
// does not need. What runs when is read from the server-wide log (see
// runner/keyed-session.ts), so the cases wait on events (PONG, RESPONSE, log
// entries), never on timing; keys/random-keyed-work checks random runs
// against the model in runner/keyed-model.ts. Keyed requests that fail,
// expire or are cancelled are keys-failure-paths.ts; the drain rules that
// only queued keyed requests make observable, drain-keyed.ts.
import { CallMode, DispatchCode } from "../../src/wire/index.ts";
import { CaseSkip, expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { expectDispatch } from "../runner/expectations.ts";
import { checkLog, describeSent, planArbitrary, runPlan } from "../runner/keyed-model.ts";
import { at, expectBefore, holderEnd, KEYED_DISPATCH, Session, show, type Conn } from "../runner/keyed-session.ts";

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

/** Keys' admission, exclusion and start order, and nothing waiting for a key it does not need [KEYS-1] [KEYS-3] [KEYS-4] [KEYS-9]. */
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
];
