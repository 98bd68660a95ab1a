// Section 6 and 5: request ids and frame directions.
import { DispatchCode, encodeFrame, FrameType, GoawayCode } from "../../src/wire/index.ts";
import { expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { expectConnectionError, expectDispatch } from "../runner/expectations.ts";

const section = "6 Request ids";

export const idCases: ConformanceCase[] = [
  {
    name: "ids/connection-frame-with-request-id",
    section,
    requirements: ["ID-2"],
    title: "A PING with a request id other than 0 is PROTOCOL_ERROR",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.write(encodeFrame({ type: FrameType.PING, requestId: 5 }));
      await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "ID-2");
    },
  },
  {
    name: "ids/request-with-id-zero",
    section,
    requirements: ["ID-2"],
    title: "A REQUEST with request id 0 is PROTOCOL_ERROR",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.REQUEST, service: "no.such.Service", method: "M" });
      await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "ID-2");
    },
  },
  {
    name: "ids/request-id-must-increase",
    section,
    requirements: ["ID-3", "FRAME-14", "DRAIN-17"],
    title: "A REQUEST id not above the previous one is PROTOCOL_ERROR, last_request_id naming the previous",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.REQUEST, requestId: 7, service: "no.such.Service", method: "M" });
      await peer.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === 7, "a RESPONSE (UNKNOWN_SERVICE) to request 7");
      peer.send({ type: FrameType.REQUEST, requestId: 7, service: "no.such.Service", method: "M" });
      await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "ID-3");
      const { decodeGoaway } = await import("../../src/wire/index.ts");
      const goaway = decodeGoaway(peer.frames.find((f) => f.header.type === FrameType.GOAWAY)!.body);
      expect(goaway.lastRequestId === 7, "last_request_id 7", String(goaway.lastRequestId), "FRAME-14");
      expect(peer.frames.filter((f) => f.header.type === FrameType.RESPONSE).length === 1, "no RESPONSE for the repeated id", peer.describe(), "ID-3");
    },
  },
  {
    name: "ids/large-ids-answered",
    section,
    requirements: ["ID-4", "ID-5"],
    title: "Request ids above 2^32, up to 2^53-1, are served and answered with the same id",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      for (const id of [2 ** 32 + 1, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
        ctx.sendCall(peer, "echo", { payload: Uint8Array.of(1, 2, 3) }, { id });
        const frame = await ctx.response(peer, id);
        expectDispatch(frame, DispatchCode.OK, "ID-4");
      }
    },
  },
  {
    name: "ids/frames-in-the-wrong-direction",
    section,
    requirements: ["FRAME-17"],
    title: "A RESPONSE or ACK sent to a server is PROTOCOL_ERROR",
    async run(ctx) {
      for (const type of [FrameType.RESPONSE, FrameType.ACK]) {
        const peer = await ctx.connect();
        peer.send({ type, requestId: 1 });
        await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "FRAME-17");
      }
    },
  },
  {
    name: "ids/cancel-for-unknown-id-ignored",
    section,
    requirements: ["CANCEL-3", "FRAME-15", "PING-3"],
    title: "A CANCEL for an id not in flight (with a body, which is discarded) and an unmatched PONG are ignored",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.CANCEL, requestId: 12345 }, Uint8Array.of(1, 2, 3));
      peer.send({ type: FrameType.PONG }, Uint8Array.of(9, 9));
      peer.send({ type: FrameType.PING }, Uint8Array.of(5));
      await peer.waitFor((f) => f.header.type === FrameType.PONG, "a PONG after the CANCEL");
      expect(!peer.frames.some((f) => f.header.type === FrameType.GOAWAY), "no GOAWAY", peer.describe(), "CANCEL-3");
    },
  },
];
