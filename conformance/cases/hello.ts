// Section 3.3: the HELLO exchange.
import { encodeFrame, encodePreface, FrameType, GoawayCode } from "../../src/wire/index.ts";
import { expect, type ConformanceCase } from "../runner/case.ts";
import { expectConnectionError } from "../runner/expectations.ts";

const section = "3 Connection lifecycle";

export const helloCases: ConformanceCase[] = [
  {
    name: "hello/first-frame-must-be-hello",
    section,
    requirements: ["HELLO-2", "FRAME-14"],
    title: "A first frame other than HELLO is a connection error PROTOCOL_ERROR",
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false, frames: true });
      peer.write(encodePreface());
      peer.send({ type: FrameType.PING });
      await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "HELLO-2");
    },
  },
  {
    name: "hello/second-hello",
    section,
    requirements: ["HELLO-2"],
    title: "A second HELLO is a connection error PROTOCOL_ERROR",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.HELLO });
      await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "HELLO-2");
    },
  },
  {
    name: "hello/undecodable-body",
    section,
    requirements: ["HELLO-4", "FRAME-6"],
    title: "A HELLO whose body is not a Hello (a known field with the wrong wire type) is a connection error",
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false, frames: true });
      peer.write(encodePreface());
      peer.write(encodeFrame({ type: FrameType.HELLO }, Uint8Array.of(0x0a, 0x01, 0x05)));
      await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "HELLO-4");
    },
  },
  {
    name: "hello/server-declarations-are-consistent",
    section,
    requirements: ["HELLO-1", "IDLE-1", "HELLO-6"],
    title: "The server's HELLO decodes, and a non-zero idle timeout comes with min_ping_interval_ms at most half of it",
    async run(ctx) {
      const peer = await ctx.connect();
      const hello = peer.hello!;
      if (hello.idleTimeoutMs > 0) {
        expect(hello.minPingIntervalMs <= hello.idleTimeoutMs / 2, "min_ping_interval_ms <= idle_timeout_ms / 2", `min_ping_interval_ms ${hello.minPingIntervalMs}, idle_timeout_ms ${hello.idleTimeoutMs}`, "IDLE-1");
      }
    },
  },
];
