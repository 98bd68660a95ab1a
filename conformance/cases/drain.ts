// Section 11: drain and GOAWAY, through ConformanceService.Drain.
import { decodeGoaway, DispatchCode, encodeGoaway, FrameType, GoawayCode } from "../../src/wire/index.ts";
import { expect, type ConformanceCase } from "../runner/case.ts";
import { expectConnectionError, expectDispatch } from "../runner/expectations.ts";

const section = "11 Drain and goaway";

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
      await peer.waitFor((f) => f.header.type === FrameType.GOAWAY, "a GOAWAY after the Drain call");
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
];
