// Section 7: call modes, through the conformance service.
import fc from "fast-check";
import { fromBinary } from "@bufbuild/protobuf";
import { EchoResponseSchema } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { CallMode, DispatchCode, FrameType } from "../../src/wire/index.ts";
import { expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE } from "../runner/context.ts";
import { expectDispatch, hexOf } from "../runner/expectations.ts";

const section = "7 Call modes";

export const callCases: ConformanceCase[] = [
  {
    name: "calls/unary-echo",
    section,
    requirements: ["CALL-3", "CONF-1", "CONF-2", "FRAME-1", "FRAME-2", "FRAME-7"],
    title: "A unary call gets exactly one RESPONSE carrying the output (property over payloads)",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      let id = 0;
      await ctx.property(fc.uint8Array({ maxLength: 2048 }), async (payload) => {
        id++;
        ctx.sendCall(peer, "echo", { payload }, { id });
        const frame = await ctx.response(peer, id);
        expectDispatch(frame, DispatchCode.OK, "CALL-3");
        const echoed = fromBinary(EchoResponseSchema, frame.body).payload;
        expect(hexOf(echoed) === hexOf(payload), "the payload echoed", `${echoed.length} bytes that differ`, "CONF-2");
      });
      const responses = peer.frames.filter((f) => f.header.type === FrameType.RESPONSE).length;
      expect(responses === id, `${id} RESPONSEs, one per call`, `${responses}`, "CALL-3");
    },
  },
  {
    name: "calls/multiplexed-out-of-order",
    section,
    requirements: ["CALL-8", "ID-5"],
    title: "Concurrent calls on one connection are answered as they finish, each matched by its id",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const delays = [300, 200, 100, 0];
      delays.forEach((delayMs, i) => ctx.sendCall(peer, "echo", { delayMs, payload: Uint8Array.of(i) }, { id: i + 1 }));
      for (let id = 1; id <= delays.length; id++) await ctx.response(peer, id);
      const order = peer.frames.filter((f) => f.header.type === FrameType.RESPONSE).map((f) => f.header.requestId);
      expect(order.join(",") === "4,3,2,1", "responses in the order the calls finished: 4,3,2,1", order.join(","), "CALL-8");
      for (const frame of peer.frames.filter((f) => f.header.type === FrameType.RESPONSE)) {
        const payload = fromBinary(EchoResponseSchema, frame.body).payload;
        expect(payload[0] === frame.header.requestId - 1, `RESPONSE ${frame.header.requestId} to carry its own call's output`, `output of call ${(payload[0] ?? -1) + 1}`, "ID-5");
      }
    },
  },
  {
    name: "calls/oneway-runs-and-sends-nothing",
    section,
    requirements: ["CALL-4", "CONF-4"],
    title: "A oneway call runs, and no frame ever carries its id",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const tag = `oneway-${ctx.seed}-${Math.random().toString(36).slice(2)}`;
      ctx.sendCall(peer, "record", { tag }, { id: 1, mode: CallMode.ONEWAY });
      const recorded = await ctx.call(peer, "recorded", { prefix: `record:${tag}` }, { id: 2 });
      expect(recorded.entries.length === 1, `one log entry record:${tag}`, JSON.stringify(recorded.entries), "CALL-4");
      expect(await peer.staysSilent((f) => f.header.requestId === 1, 300), "no frame with the oneway call's id", peer.describe(), "CALL-4");
    },
  },
  {
    name: "calls/oneway-failure-sends-nothing",
    section,
    requirements: ["CALL-4", "CALL-5"],
    title: "A oneway call that fails dispatch (unknown method, expired deadline) gets no frame back",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.REQUEST, requestId: 1, service: CONFORMANCE_SERVICE, method: "NoSuchMethod", callMode: CallMode.ONEWAY });
      peer.send({ type: FrameType.REQUEST, requestId: 2, service: "no.such.Service", method: "M", callMode: CallMode.ONEWAY, timeoutMs: 0 });
      peer.send({ type: FrameType.REQUEST, requestId: 3, service: "no.such.Service", method: "M" });
      await peer.waitFor((f) => f.header.requestId === 3, "a RESPONSE to the unary request 3");
      expect(!peer.frames.some((f) => f.header.requestId === 1 || f.header.requestId === 2), "nothing for the oneway requests 1 and 2", peer.describe(), "CALL-4");
    },
  },
  {
    name: "calls/acked-ack-then-response",
    section,
    requirements: ["CALL-6", "CALL-7"],
    title: "An acked call gets its ACK before the handler finishes, then exactly one RESPONSE",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      ctx.sendCall(peer, "echo", { delayMs: 300, payload: Uint8Array.of(1) }, { id: 1, mode: CallMode.ACKED });
      const ack = await peer.waitFor((f) => f.header.type === FrameType.ACK, "an ACK for request 1", 250);
      expect(ack.header.requestId === 1, "ACK for request 1", `ACK for ${ack.header.requestId}`, "CALL-6");
      expect(!peer.frames.some((f) => f.header.type === FrameType.RESPONSE), "the ACK before the RESPONSE (the handler takes 300 ms)", peer.describe(), "CALL-6");
      const response = await ctx.response(peer, 1);
      expectDispatch(response, DispatchCode.OK, "CALL-7");
      expect(await peer.staysSilent((f) => f.header.requestId === 1 && f !== ack && f !== response, 200), "exactly one ACK and one RESPONSE", peer.describe(), "CALL-7");
    },
  },
  {
    name: "calls/acked-refused-without-ack",
    section,
    requirements: ["CALL-6"],
    title: "An acked call refused at admission gets its RESPONSE and no ACK",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.REQUEST, requestId: 1, service: "no.such.Service", method: "M", callMode: CallMode.ACKED });
      const response = await peer.waitFor((f) => f.header.type === FrameType.RESPONSE, "a RESPONSE (UNKNOWN_SERVICE)");
      expectDispatch(response, DispatchCode.UNKNOWN_SERVICE);
      expect(!peer.frames.some((f) => f.header.type === FrameType.ACK), "no ACK", peer.describe(), "CALL-6");
    },
  },
  {
    name: "calls/unknown-call-mode",
    section,
    requirements: ["CALL-1", "EXT-2"],
    title: "An unknown call_mode is answered INVALID_REQUEST",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      ctx.sendCall(peer, "echo", {}, { id: 1, mode: 9 as CallMode });
      expectDispatch(await ctx.response(peer, 1), DispatchCode.INVALID_REQUEST, "CALL-1");
    },
  },
  {
    name: "calls/empty-service-or-method",
    section,
    requirements: ["CALL-2"],
    title: "A REQUEST with an empty service or method is answered INVALID_REQUEST",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.REQUEST, requestId: 1, service: "", method: "M" });
      peer.send({ type: FrameType.REQUEST, requestId: 2, service: "a.B", method: "" });
      for (const id of [1, 2]) {
        const frame = await peer.waitFor((f) => f.header.requestId === id, `a RESPONSE to request ${id}`);
        expectDispatch(frame, DispatchCode.INVALID_REQUEST, "CALL-2");
      }
    },
  },
];
