// Section 11: drain and GOAWAY, through ConformanceService.Drain. The busy
// cases drain with requests running, queued, arriving or racing EOF; what ran
// is read from the server-wide log (Record logs record:<tag>, Sleep
// sleep:<tag>:… [CONF-3] [CONF-4]), with a run id in every tag.
import { CallMode, decodeGoaway, DispatchCode, encodeGoaway, FrameType, GoawayCode, type Frame, type GoawayInfo } from "../../src/wire/index.ts";
import { CaseSkip, expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import type { CaseContext } from "../runner/context.ts";
import { expectConnectionError, expectDispatch } from "../runner/expectations.ts";
import type { Peer } from "../runner/peer.ts";
import { readBarrier } from "../runner/read-barrier.ts";

const section = "11 Drain and goaway";

/** A holder's Sleep bound: it runs until the connection ends, and this ends it if the case dies first. */
const HOLDER_MS = 30_000;
/** How long to wait for something that should happen promptly. */
const WAIT_MS = 5000;

const isGoaway = (f: Frame) => f.header.type === FrameType.GOAWAY;
const goawaysOf = (peer: Peer) => peer.frames.filter(isGoaway).map((f) => decodeGoaway(f.body));
const showGoaways = (goaways: GoawayInfo[]) => goaways.map((g) => `GOAWAY(code ${g.code}, last ${g.lastRequestId})`).join(", ") || "no GOAWAY";

/** Waits for the first GOAWAY on `peer` and expects GOAWAY(NO_ERROR, last_request_id `lastId`) [DRAIN-2]. */
async function expectDrainGoaway(peer: Peer, lastId: number, what = "a GOAWAY after the Drain call [CONF-7]"): Promise<GoawayInfo> {
  const goaway = decodeGoaway((await peer.waitFor(isGoaway, what, WAIT_MS)).body);
  expect(goaway.code === GoawayCode.NO_ERROR && goaway.lastRequestId === lastId, `GOAWAY(NO_ERROR) with last_request_id ${lastId}`, showGoaways([goaway]), "DRAIN-2");
  return goaway;
}

/** The server-wide log entries starting with `prefix`, read on a fresh connection [CONF-4]. */
async function logged(ctx: CaseContext, prefix: string): Promise<string[]> {
  const observer = await ctx.connect();
  return (await ctx.call(observer, "recorded", { prefix }, { id: 1 })).entries;
}

/** Expects that no RESPONSE for `id` arrived, or one with SHUTTING_DOWN [DRAIN-8]. */
function expectShuttingDownOrNothing(peer: Peer, id: number): void {
  const answer = peer.frames.find((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === id);
  if (answer !== undefined) expectDispatch(answer, DispatchCode.SHUTTING_DOWN, "DRAIN-8");
}

export const drainCases: ConformanceCase[] = [
  {
    name: "drain/undecodable-client-goaway",
    section,
    requirements: ["DRAIN-11"],
    title: "A GOAWAY from the client whose body is not a Goaway is a connection error PROTOCOL_ERROR",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.GOAWAY }, Uint8Array.of(0x1a, 0x09, 0x61));
      await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "DRAIN-11");
    },
  },
  {
    name: "drain/request-after-client-goaway",
    section,
    requirements: ["DRAIN-13"],
    title: "A REQUEST after the client's own GOAWAY is a connection error PROTOCOL_ERROR",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.GOAWAY }, encodeGoaway({ lastRequestId: 0, code: GoawayCode.NO_ERROR, message: "bye" }));
      peer.send({ type: FrameType.REQUEST, requestId: 1, service: "no.such.Service", method: "M" });
      await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "DRAIN-13");
    },
  },
  {
    name: "drain/goaway-then-finish-then-close",
    section,
    requirements: ["DRAIN-1", "DRAIN-2", "DRAIN-4", "CONF-7"],
    title: "A drain sends GOAWAY(NO_ERROR) naming the highest received id, finishes the calls below it, then closes",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      ctx.sendCall(peer, "echo", { delayMs: 300 }, { id: 1 });
      ctx.sendCall(peer, "drain", { graceMs: 3000 }, { id: 2 });
      const goawayFrame = await peer.waitFor((f) => f.header.type === FrameType.GOAWAY, "a GOAWAY after the Drain call");
      const goaway = decodeGoaway(goawayFrame.body);
      expect(goaway.code === GoawayCode.NO_ERROR, "GOAWAY(NO_ERROR)", `code ${goaway.code}`, "DRAIN-2");
      expect(goaway.lastRequestId === 2, "last_request_id 2", String(goaway.lastRequestId), "DRAIN-2");
      expectDispatch(await ctx.response(peer, 1, 3000), DispatchCode.OK, "DRAIN-2");
      await peer.waitForClose("EOF once nothing is owed [DRAIN-4]", 3000);
    },
  },
  {
    name: "drain/requests-above-last-id-not-processed",
    section,
    requirements: ["DRAIN-8", "DRAIN-2"],
    title: "A request above last_request_id is answered SHUTTING_DOWN (or meets EOF) and never runs",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      ctx.sendCall(peer, "sleep", { ms: 300, tag: "drain-holder" }, { id: 1 });
      ctx.sendCall(peer, "drain", { graceMs: 3000 }, { id: 2 });
      const goaway = await peer.waitFor((f) => f.header.type === FrameType.GOAWAY, "a GOAWAY after the Drain call");
      // The root cause first: a wrong last_request_id is [DRAIN-2], whatever happens to request 3 then.
      const lastId = decodeGoaway(goaway.body).lastRequestId;
      expect(lastId === 2, "the GOAWAY's last_request_id 2, the highest id received (the Drain call)", `last_request_id ${lastId}`, "DRAIN-2");
      const tag = `after-goaway-${Math.random().toString(36).slice(2)}`;
      ctx.sendCall(peer, "record", { tag }, { id: 3 });
      const answer = await peer.waitFor((f) => f.header.requestId === 3, "a SHUTTING_DOWN RESPONSE to request 3, or EOF", 3000).catch(() => undefined);
      if (answer !== undefined) expectDispatch(answer, DispatchCode.SHUTTING_DOWN, "DRAIN-8");
      const observer = await ctx.connect();
      const { entries } = await ctx.call(observer, "recorded", { prefix: `record:${tag}` }, { id: 1 });
      expect(entries.length === 0, "request 3 never ran", JSON.stringify(entries), "DRAIN-2");
    },
  },
  {
    name: "drain/second-goaway-keeps-last-id",
    section,
    requirements: ["DRAIN-5", "FRAME-14"],
    title: "A connection error during a drain brings a second GOAWAY, with an error code and the first one's last_request_id",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      // A running call keeps the draining connection open until the case breaks it.
      ctx.sendCall(peer, "sleep", { ms: 30_000, tag: `drain-second-${Math.random().toString(36).slice(2)}` }, { id: 1 });
      ctx.sendCall(peer, "drain", { graceMs: 10_000 }, { id: 2 });
      await peer.waitFor((f) => f.header.type === FrameType.GOAWAY, "a GOAWAY after the Drain call");
      peer.write(Uint8Array.of(0, 0, 0, 0)); // header size 0 [FRAME-4]
      await peer.waitForClose("a second GOAWAY, then EOF", 3000);
      const goaways = peer.frames.filter((f) => f.header.type === FrameType.GOAWAY).map((f) => decodeGoaway(f.body));
      const seen = goaways.map((g) => `GOAWAY(code ${g.code}, last ${g.lastRequestId})`).join(", ");
      expect(goaways.length === 2, "two GOAWAYs: the drain's, then the connection error's", seen, "FRAME-14");
      expect(goaways[0]!.code === GoawayCode.NO_ERROR && goaways[1]!.code === GoawayCode.PROTOCOL_ERROR, "GOAWAY(NO_ERROR), then GOAWAY(PROTOCOL_ERROR)", seen, "DRAIN-5");
      expect(goaways.every((g) => g.lastRequestId === 2), "both with last_request_id 2", seen, "DRAIN-5");
    },
  },
  {
    name: "drain/other-connections-not-drained",
    section,
    requirements: ["CONF-7", "DRAIN-2"],
    title: "A Drain sends GOAWAY on its own connection only: another connection gets no GOAWAY and keeps serving, during the drain and after the close",
    usesConformanceService: true,
    async run(ctx) {
      const draining = await ctx.connect();
      const other = await ctx.connect();
      ctx.sendCall(other, "echo", { delayMs: 300 }, { id: 1 }); // in flight across the drain
      ctx.sendCall(draining, "echo", { delayMs: 1000 }, { id: 1 }); // keeps the drain going
      ctx.sendCall(draining, "drain", { graceMs: 10_000 }, { id: 2 });
      await expectDrainGoaway(draining, 2);
      ctx.sendCall(other, "echo", { payload: Uint8Array.of(7) }, { id: 2 });
      const during = await ctx.response(other, 2, WAIT_MS);
      expect(goawaysOf(other).length === 0, "no GOAWAY on the connection that did not ask for a drain", other.describe(), "CONF-7");
      expectDispatch(during, DispatchCode.OK, "CONF-7");
      expectDispatch(await ctx.response(other, 1, WAIT_MS), DispatchCode.OK, "CONF-7");
      expectDispatch(await ctx.response(draining, 1, WAIT_MS), DispatchCode.OK, "DRAIN-2");
      await draining.waitForClose("EOF on the drained connection once nothing is owed [DRAIN-4]", WAIT_MS);
      ctx.sendCall(other, "echo", { payload: Uint8Array.of(8) }, { id: 3 });
      const after = await ctx.response(other, 3, WAIT_MS);
      expect(goawaysOf(other).length === 0 && !other.ended, "the other connection still open, with no GOAWAY, after the drained one closed", other.describe(), "CONF-7");
      expectDispatch(after, DispatchCode.OK, "CONF-7");
    },
  },
  {
    name: "drain/request-between-two-goaways",
    section,
    requirements: ["DRAIN-2", "DRAIN-8", "DRAIN-5"],
    title: "Between a drain's GOAWAY(N) and a second GOAWAY: requests up to N finish, a unary one above N is answered SHUTTING_DOWN, no request above N runs, and the second GOAWAY still says N",
    usesConformanceService: true,
    async run(ctx) {
      const run = ctx.uniqueTag("d");
      const peer = await ctx.connect();
      ctx.sendCall(peer, "sleep", { ms: HOLDER_MS, tag: `${run}:holder` }, { id: 1 }); // keeps the connection draining
      ctx.sendCall(peer, "echo", { delayMs: 200 }, { id: 2, mode: CallMode.ACKED });
      ctx.sendCall(peer, "drain", { graceMs: 20_000 }, { id: 3 });
      await expectDrainGoaway(peer, 3);
      ctx.sendCall(peer, "record", { tag: `${run}:unary` }, { id: 4 });
      ctx.sendCall(peer, "record", { tag: `${run}:oneway` }, { id: 5, mode: CallMode.ONEWAY });
      await readBarrier(peer, "a PONG to the PING sent to learn that the server read requests 4 and 5 [PING-2]", WAIT_MS);
      // The holder still runs and the grace period lasts, so the connection must stay open for these answers [DRAIN-4].
      expectDispatch(await ctx.response(peer, 4, WAIT_MS), DispatchCode.SHUTTING_DOWN, "DRAIN-8");
      expectDispatch(await ctx.response(peer, 2, WAIT_MS), DispatchCode.OK, "DRAIN-2");
      peer.write(Uint8Array.of(0, 0, 0, 0)); // header size 0: a connection error [FRAME-4]
      await peer.waitForClose("a second GOAWAY, then EOF [FRAME-14]", WAIT_MS);
      const goaways = goawaysOf(peer);
      // More GOAWAYs are allowed [DRAIN-5]; the last says why the connection ended, and none raises the id.
      expect(goaways.length >= 2 && goaways.at(-1)!.code === GoawayCode.PROTOCOL_ERROR, "the drain's GOAWAY, then the connection error's (PROTOCOL_ERROR)", showGoaways(goaways), "FRAME-14");
      expect(goaways.every((g) => g.lastRequestId === 3), "every GOAWAY with the first one's last_request_id, 3, though requests 4 and 5 were read after it", showGoaways(goaways), "DRAIN-5");
      const ran = await logged(ctx, `record:${run}`);
      expect(ran.length === 0, "requests 4 (unary) and 5 (oneway), above last_request_id, never to run", JSON.stringify(ran), "DRAIN-2");
    },
  },
  {
    name: "drain/request-arriving-at-goaway",
    section,
    requirements: ["DRAIN-2", "DRAIN-8"],
    title: "A REQUEST whose header came before the GOAWAY but whose body came after was not received: last_request_id excludes it, it is answered SHUTTING_DOWN and never runs",
    usesConformanceService: true,
    async run(ctx) {
      const run = ctx.uniqueTag("d");
      const peer = await ctx.connect();
      ctx.sendCall(peer, "sleep", { ms: HOLDER_MS, tag: `${run}:holder` }, { id: 1 }); // keeps the connection draining
      const record = ctx.encodeCall("record", { tag: `${run}:arriving:${"x".repeat(64)}` }, { id: 3 });
      const headerEnd = 4 + new DataView(record.buffer, record.byteOffset).getUint32(0);
      const cut = headerEnd + Math.floor((record.length - headerEnd) / 2);
      // The Drain and, in the same write, request 3's header and half its body.
      peer.write(Buffer.concat([ctx.encodeCall("drain", { graceMs: 20_000 }, { id: 2 }), record.subarray(0, cut)]));
      const goaway = decodeGoaway((await peer.waitFor(isGoaway, "a GOAWAY after the Drain call [CONF-7]", WAIT_MS)).body);
      peer.write(record.subarray(cut));
      const answer = await ctx.response(peer, 3, WAIT_MS).catch(() => undefined);
      const ran = await logged(ctx, `record:${run}`);
      const seen = `${showGoaways([goaway])}; request 3 ${answer === undefined ? "unanswered" : `answered with dispatch code ${answer.header.dispatchCode}`}; ${ran.length > 0 ? "it ran" : "it did not run"}`;
      // Received means the whole frame was read (section 2.4); a GOAWAY naming 3 and a refusal of 3 contradict each other.
      expect(goaway.code === GoawayCode.NO_ERROR && goaway.lastRequestId === 2, "GOAWAY(NO_ERROR) with last_request_id 2: request 3's frame was not complete when the GOAWAY was sent (section 2.4)", seen, "DRAIN-2");
      expect(ran.length === 0, "request 3, above last_request_id, never to run", seen, "DRAIN-2");
      expect(answer !== undefined && answer.header.dispatchCode === DispatchCode.SHUTTING_DOWN, "request 3 answered SHUTTING_DOWN (the holder keeps the connection open)", seen, "DRAIN-8");
    },
  },
  {
    name: "drain/several-connections-at-once",
    section,
    requirements: ["DRAIN-2", "DRAIN-4", "CONF-7"],
    title: "Three connections draining at once, each with unary and acked requests of different lengths in flight: each answers all of its own before it closes",
    usesConformanceService: true,
    async run(ctx) {
      const peers = await Promise.all([0, 1, 2].map(() => ctx.connect()));
      peers.forEach((peer, i) => {
        peer.write(
          Buffer.concat([
            ctx.encodeCall("echo", { delayMs: 150 + 250 * i }, { id: 1 }),
            ctx.encodeCall("echo", { delayMs: 400 - 100 * i }, { id: 2, mode: CallMode.ACKED }),
            ctx.encodeCall("drain", { graceMs: 20_000 }, { id: 3 }),
          ]),
        );
      });
      await Promise.all(
        peers.map(async (peer, i) => {
          await expectDrainGoaway(peer, 3, `connection ${i + 1}: a GOAWAY after the Drain call [CONF-7]`);
          await peer.waitForClose(`connection ${i + 1}: EOF once its requests are answered [DRAIN-4]`, WAIT_MS);
          for (const id of [1, 2]) {
            const answer = peer.frames.find((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === id);
            expect(answer !== undefined, `connection ${i + 1}: a RESPONSE to request ${id} before EOF`, peer.describe(), "DRAIN-2");
            expectDispatch(answer, DispatchCode.OK, "DRAIN-2");
          }
          expect(goawaysOf(peer).every((g) => g.lastRequestId === 3), `connection ${i + 1}: no GOAWAY raising last_request_id above 3`, showGoaways(goawaysOf(peer)), "DRAIN-5");
        }),
      );
    },
  },
  {
    name: "drain/eof-after-request-above-last-id",
    section,
    requirements: ["DRAIN-2", "DRAIN-8", "DRAIN-9"],
    title: "EOF right behind a unary and a oneway request above last_request_id: the server closes, signals the running handler, runs neither request, and keeps serving",
    usesConformanceService: true,
    async run(ctx) {
      const run = ctx.uniqueTag("d");
      const peer = await ctx.connect();
      ctx.sendCall(peer, "sleep", { ms: HOLDER_MS, tag: `${run}:holder` }, { id: 1 });
      ctx.sendCall(peer, "drain", { graceMs: 20_000 }, { id: 2 });
      await expectDrainGoaway(peer, 2);
      peer.write(Buffer.concat([ctx.encodeCall("record", { tag: `${run}:unary` }, { id: 3 }), ctx.encodeCall("record", { tag: `${run}:oneway` }, { id: 4, mode: CallMode.ONEWAY })]));
      peer.end();
      await peer.waitForClose("EOF after the client's EOF [DRAIN-9]", WAIT_MS);
      expectShuttingDownOrNothing(peer, 3);
      // A server that crashed, or still runs the drain, fails here.
      await ctx.pollLog("", (entries) => entries.some((e) => e.startsWith(`sleep:${run}:holder:`)));
      // A server that runs request 4 late (handed elsewhere, queued) has had a full round trip on a fresh
      // connection to do it: the log is read once this marker call, sent after everything else, is answered.
      const later = await ctx.connect();
      ctx.sendCall(later, "record", { tag: `${run}-marker` }, { id: 1 });
      await later.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === 1, "the RESPONSE to a marker Record on a new connection", WAIT_MS);
      const log = await ctx.pollLog("", (entries) => entries.some((e) => e.startsWith(`record:${run}-marker`)));
      const mine = log.filter((e) => e.includes(run));
      expect(mine.some((e) => e.startsWith(`sleep:${run}:holder:`)), "the running handler signalled at EOF and returned", JSON.stringify(mine), "DRAIN-9");
      expect(!mine.some((e) => e.startsWith(`record:${run}:`)), "requests 3 and 4, above last_request_id, never to run", JSON.stringify(mine), "DRAIN-2");
    },
  },
  {
    name: "drain/eof-as-grace-ends",
    section,
    requirements: ["DRAIN-2", "DRAIN-8", "DRAIN-10", "DRAIN-9"],
    title: "A request above last_request_id and EOF sent just before, at and just after the grace period ends (three connections): each closes, no such request runs, the server keeps serving",
    usesConformanceService: true,
    async run(ctx) {
      const run = ctx.uniqueTag("d");
      const graceMs = 300;
      const offsets = [-60, 0, 60];
      await Promise.all(
        offsets.map(async (offset, i) => {
          const peer = await ctx.connect();
          ctx.sendCall(peer, "sleep", { ms: HOLDER_MS, tag: `${run}:holder${i}` }, { id: 1 });
          ctx.sendCall(peer, "drain", { graceMs }, { id: 2 });
          await expectDrainGoaway(peer, 2, `connection ${i + 1}: a GOAWAY after the Drain call [CONF-7]`);
          // The race is the point: either order of EOF and the grace period's end is conformant.
          await new Promise((resolve) => setTimeout(resolve, graceMs + offset));
          peer.write(Buffer.concat([ctx.encodeCall("record", { tag: `${run}:unary${i}` }, { id: 3 }), ctx.encodeCall("record", { tag: `${run}:oneway${i}` }, { id: 4, mode: CallMode.ONEWAY })]));
          peer.end();
          await peer.waitForClose(`connection ${i + 1}: EOF, after the grace period or the client's EOF [DRAIN-4]`, WAIT_MS);
          expectShuttingDownOrNothing(peer, 3);
        }),
      );
      const log = await ctx.pollLog("", (entries) => offsets.every((_, i) => entries.some((e) => e.startsWith(`sleep:${run}:holder${i}:`))));
      const mine = log.filter((e) => e.includes(run));
      expect(offsets.every((_, i) => mine.some((e) => e.startsWith(`sleep:${run}:holder${i}:`))), "every running handler signalled and returned", JSON.stringify(mine), "DRAIN-10");
      expect(!mine.some((e) => e.startsWith(`record:${run}`)), "no request above last_request_id ever to run", JSON.stringify(mine), "DRAIN-2");
    },
  },
  {
    name: "drain/queued-oneway-runs-during-grace",
    section,
    requirements: ["DRAIN-15", "DRAIN-4"],
    title: "A oneway request queued behind a key when a drain starts still runs once the key is freed during the grace period",
    usesConformanceService: true,
    async run(ctx) {
      const run = ctx.uniqueTag("d");
      const key = `${run}:A`;
      const peer = await ctx.connect();
      if (!peer.hello!.features.includes("keyed-dispatch")) throw new CaseSkip("the server does not list keyed-dispatch in its HELLO");
      ctx.sendCall(peer, "sleep", { ms: HOLDER_MS, tag: `${run}:holder` }, { id: 1, keys: [key] });
      ctx.sendCall(peer, "keyedWork", { tag: `${run}:oneway`, holdMs: 0 }, { id: 2, keys: [key], mode: CallMode.ONEWAY });
      ctx.sendCall(peer, "drain", { graceMs: 20_000 }, { id: 3 });
      await expectDrainGoaway(peer, 3);
      const before = await logged(ctx, "");
      expect(!before.includes(`start:${run}:oneway`), "the oneway request still queued behind the holder when the drain started", JSON.stringify(before.filter((e) => e.includes(run))), "KEYS-3");
      peer.send({ type: FrameType.CANCEL, requestId: 1 }); // still read during the drain [DRAIN-4]
      const log = await ctx.pollLog(`end:${run}`, (entries) => entries.length > 0);
      expect(log.includes(`end:${run}:oneway`), "the queued oneway request (id 2, up to last_request_id) to run once the holder was cancelled", JSON.stringify(log), "DRAIN-15");
      await peer.waitForClose("EOF once nothing is owed [DRAIN-4]", WAIT_MS);
    },
  },
];
