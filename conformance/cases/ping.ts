// Section 10: PING and PONG.
import fc from "fast-check";
import { FrameType, GoawayCode } from "../../src/wire/index.ts";
import { expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import type { CaseContext } from "../runner/context.ts";
import { expectConnectionError, hexOf } from "../runner/expectations.ts";
import { lengthUpTo } from "../runner/sizes.ts";

/** PINGs `payload` on a connection of its own (so no rate limit applies [PING-7]) and expects it back. */
async function expectEcho(ctx: CaseContext, payload: Uint8Array): Promise<void> {
  const peer = await ctx.connect();
  peer.send({ type: FrameType.PING }, payload);
  const pong = await peer.waitFor((f) => f.header.type === FrameType.PONG, `a PONG to a PING of ${payload.length} bytes`);
  expect(hexOf(pong.body) === hexOf(payload), `payload ${hexOf(payload) || "(empty)"}`, hexOf(pong.body) || "(empty)", "PING-2");
  peer.close();
}

const section = "10 Heartbeats and idleness";

export const pingCases: ConformanceCase[] = [
  {
    name: "ping/pong-echoes-payload",
    section,
    requirements: ["PING-2"],
    title: "Every PING gets a PONG with the identical payload: 0 and 64 bytes, then any size from 0 to 64 (property)",
    async run(ctx) {
      for (const size of [0, 64]) await expectEcho(ctx, Uint8Array.from({ length: size }, (_, i) => (i * 37 + 11) & 0xff));
      const payload = lengthUpTo(64).chain((length) => fc.uint8Array({ minLength: length, maxLength: length }));
      await ctx.property(payload, (bytes) => expectEcho(ctx, bytes));
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
