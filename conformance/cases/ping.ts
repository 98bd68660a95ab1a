// Section 10: PING and PONG.
import fc from "fast-check";
import { FrameType, GoawayCode } from "../../src/wire/index.ts";
import { expect, type ConformanceCase } from "../runner/case.ts";
import { expectConnectionError, hexOf } from "../runner/expectations.ts";

const section = "10 Heartbeats and idleness";

export const pingCases: ConformanceCase[] = [
  {
    name: "ping/pong-echoes-payload",
    section,
    requirements: ["PING-2"],
    title: "Every PING gets a PONG with the identical payload, 0 to 64 bytes (property)",
    async run(ctx) {
      // One PING per connection, so that no rate limit applies [PING-7].
      await ctx.property(fc.uint8Array({ maxLength: 64 }), async (payload) => {
        const peer = await ctx.connect();
        peer.send({ type: FrameType.PING }, payload);
        const pong = await peer.waitFor((f) => f.header.type === FrameType.PONG, "a PONG");
        expect(hexOf(pong.body) === hexOf(payload), `payload ${hexOf(payload) || "(empty)"}`, hexOf(pong.body) || "(empty)", "PING-2");
        peer.close();
      });
    },
  },
  {
    name: "ping/payload-over-64-bytes",
    section,
    requirements: ["PING-1"],
    title: "A PING payload of 65 bytes is PROTOCOL_ERROR",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.PING }, new Uint8Array(65));
      await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "PING-1");
    },
  },
  {
    name: "ping/answered-while-a-call-runs",
    section,
    requirements: ["PING-2", "CONF-3"],
    title: "A PING is answered while a long call is in progress, before that call's RESPONSE",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      ctx.sendCall(peer, "sleep", { ms: 1000, tag: "ping-during-call" }, { id: 1 });
      peer.send({ type: FrameType.PING }, Uint8Array.of(42));
      await peer.waitFor((f) => f.header.type === FrameType.PONG, "a PONG while Sleep runs", 900);
      expect(!peer.frames.some((f) => f.header.type === FrameType.RESPONSE), "the PONG before the RESPONSE", peer.describe(), "PING-2");
    },
  },
];
