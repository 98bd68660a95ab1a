// Section 15: keyed requests that do not simply run and return. A deadline
// passing while a request waits for its key [KEYS-6] or while it runs, a
// handler that fails, a CANCEL while queued: each gets the answer the spec
// names (or none), never runs when it must not, and frees its keys for the
// requests behind it at the right moment [KEYS-5]. What runs when is read
// from the server-wide log (see runner/keyed-session.ts).
import { dispatchCodeName } from "../../src/status/index.ts";
import { CallMode, DispatchCode, FrameType, type Frame } from "../../src/wire/index.ts";
import { expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { at, expectBefore, HOLDER_MS, holderEnd, Session, show, WAIT_MS, type Conn, type Input } from "../runner/keyed-session.ts";

const section = "15 Keyed dispatch";

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

/** Keyed requests that expire, fail or are cancelled, and when they free their keys [KEYS-5] [KEYS-6]. */
export const keyFailurePathCases: ConformanceCase[] = [
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
];
