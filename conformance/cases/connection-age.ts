// Section 11.2: bounded connection age [DRAIN-18] (spawn mode: the server is
// told a maximum age of 500 ms). Two busy connections, the second opened
// 300 ms after the first: each gets its own drain, once it has lived 450 to
// 550 ms, whatever the other does, and finishes the calls it received.
import { decodeGoaway, DispatchCode, FrameType, GoawayCode, type Frame } from "../../src/wire/index.ts";
import { expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { pause, type CaseContext } from "../runner/context.ts";
import { expectDispatch } from "../runner/expectations.ts";
import type { Peer } from "../runner/peer.ts";

const section = "11 Drain and goaway";

/** The maximum age the server is told; each connection's own lies within ±10% of it [DRAIN-18]. */
const AGE_MS = 500;
/** Room for a loaded machine above the latest age, 1.1 × AGE_MS; none below the earliest. */
const SLACK_MS = 1500;
const LATEST_MS = AGE_MS * 1.1 + SLACK_MS;
/** Each connection's long call: still running when its GOAWAY comes, however late within LATEST_MS. */
const LONG_CALL_MS = LATEST_MS + 500;
/** When the second connection opens, after the first: a drain of both at the first one's age comes too soon for the second. */
const SECOND_AFTER_MS = 300;
/** The pause between one short call's answer and the next call: busy, without thousands of calls. */
const CALL_GAP_MS = 10;
const WAIT_MS = 5000;

const isGoaway = (f: Frame) => f.header.type === FrameType.GOAWAY;
const responseTo = (id: number) => (f: Frame) => f.header.type === FrameType.RESPONSE && f.header.requestId === id;

/**
 * Opens a connection and keeps it busy until its GOAWAY: a long call (id 1),
 * and short Echo calls one after another, each answered OK before the
 * GOAWAY (the other connection's drain changes nothing here); then checks
 * the drain: NO_ERROR, the highest received id, every call up to it
 * answered OK, EOF once nothing is owed [DRAIN-18] [DRAIN-2] [DRAIN-4].
 */
async function busyUntilAgeDrain(ctx: CaseContext, name: string): Promise<void> {
  // From just before the connection opens, so no later than the server's accept.
  const openedAt = performance.now();
  const peer = await ctx.connect();
  ctx.sendCall(peer, "echo", { delayMs: LONG_CALL_MS }, { id: 1 });
  let id = 1;
  let answered = 1;
  while (!peer.frames.some(isGoaway)) {
    const left = openedAt + LATEST_MS - performance.now();
    expect(left > 0, `${name}: a GOAWAY(NO_ERROR) within ${LATEST_MS} ms of opening (its maximum age is at most ${AGE_MS * 1.1} ms), though calls kept coming`, peer.describe(LATEST_MS), "DRAIN-18");
    ctx.sendCall(peer, "echo", { payload: Uint8Array.of(id & 0xff) }, { id: ++id });
    const frame = await peer.waitFor((f) => isGoaway(f) || responseTo(id)(f), `${name}: a RESPONSE to request ${id} or a GOAWAY`, left);
    if (!isGoaway(frame)) {
      expectDispatch(frame, DispatchCode.OK, "DRAIN-18");
      answered = id;
      await pause(CALL_GAP_MS);
    }
  }
  const ageMs = performance.now() - openedAt;
  const goaway = decodeGoaway(peer.frames.find(isGoaway)!.body);
  const seen = `GOAWAY(code ${goaway.code}, last ${goaway.lastRequestId}) after ${ageMs.toFixed(0)} ms; ${peer.describe()}`;
  // Its own age, not the other connection's: a drain of every connection at once comes too soon for the second.
  expect(ageMs >= AGE_MS * 0.9, `${name}: its GOAWAY no sooner than ${AGE_MS * 0.9} ms after it opened (90% of the maximum age)`, `GOAWAY after ${ageMs.toFixed(0)} ms`, "DRAIN-18");
  expect(goaway.code === GoawayCode.NO_ERROR, `${name}: the age drain's GOAWAY with code NO_ERROR`, seen, "DRAIN-18");
  expect(goaway.lastRequestId >= answered && goaway.lastRequestId <= id, `${name}: last_request_id the highest id received, between ${answered} (answered) and ${id} (sent)`, seen, "DRAIN-2");
  await finishesReceived(ctx, peer, name, goaway.lastRequestId, id);
}

/** The calls up to `lastId` answered OK, the long one included; those above answered SHUTTING_DOWN or not at all; then EOF [DRAIN-2] [DRAIN-4] [DRAIN-8]. */
async function finishesReceived(ctx: CaseContext, peer: Peer, name: string, lastId: number, sent: number): Promise<void> {
  for (let id = 1; id <= lastId; id++) {
    const answer = await ctx.response(peer, id, LONG_CALL_MS + WAIT_MS).catch(() => undefined);
    expect(answer !== undefined, `${name}: a RESPONSE to request ${id}, at or below last_request_id ${lastId}, before the connection closes${id === 1 ? " (the call in progress at the GOAWAY)" : ""}`, peer.describe(), "DRAIN-2");
    expectDispatch(answer, DispatchCode.OK, "DRAIN-2");
  }
  await peer.waitForClose(`${name}: EOF once the calls up to last_request_id are answered [DRAIN-4]`, WAIT_MS);
  for (let id = lastId + 1; id <= sent; id++) {
    const answer = peer.frames.find(responseTo(id));
    if (answer !== undefined) expectDispatch(answer, DispatchCode.SHUTTING_DOWN, "DRAIN-8");
  }
}

export const connectionAgeCases: ConformanceCase[] = [
  {
    name: "drain/connection-age",
    section,
    requirements: ["DRAIN-18", "DRAIN-2", "DRAIN-4", "DRAIN-8"],
    title: `With a maximum connection age of ${AGE_MS} ms, each of two busy connections, opened ${SECOND_AFTER_MS} ms apart, is drained on its own at 90-110% of that age, and its call in progress is answered`,
    usesConformanceService: true,
    settings: { maxConnectionAgeMs: AGE_MS, maxConnectionAgeGraceMs: LONG_CALL_MS + WAIT_MS },
    async run(ctx) {
      const first = busyUntilAgeDrain(ctx, "the first connection");
      const second = pause(SECOND_AFTER_MS).then(() => busyUntilAgeDrain(ctx, "the second connection"));
      // Neither is left unawaited when the other fails; the first connection's failure is reported first.
      for (const result of await Promise.allSettled([first, second])) if (result.status === "rejected") throw result.reason;
    },
  },
];
