// Section 11: the drain rules (11.2, 11.3) that only requests queued behind
// a key make observable: what becomes of queued unary, acked and oneway
// requests at EOF, at a connection error and when a drain's grace period
// ends. A holder (see runner/keyed-session.ts) keeps the key while the case
// ends the connection; a later request on the key, from another connection,
// shows what the server kept. What ran is read from the server-wide log.
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { KeyedWorkRequestSchema } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { CallMode, Compression, decodeGoaway, DispatchCode, encodeFrame, FrameType, GoawayCode } from "../../src/wire/index.ts";
import { CaseSkip, expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE } from "../runner/context.ts";
import { at, expectBefore, holderEnd, Session, show, WAIT_MS } from "../runner/keyed-session.ts";

const section = "11 Drain and goaway";

/** What becomes of requests queued behind a key at EOF, at a connection error and at a drain's end [DRAIN-10] [DRAIN-14] [DRAIN-15]. */
export const keyedDrainCases: ConformanceCase[] = [
  {
    name: "drain/queued-requests-dropped-at-eof",
    section,
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
    section,
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
    section,
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
    section,
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
    section,
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
