// Section 3.3: the HELLO exchange.
import { encodeFrame, encodeHello, encodePreface, FrameType, GoawayCode } from "../../src/wire/index.ts";
import { expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
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
    name: "hello/unknown-fields-ignored",
    section,
    requirements: ["HELLO-4", "EXT-1"],
    title: "A client HELLO with fields this revision does not define (varint, length-delimited, fixed32, fixed64) is accepted: the connection answers a PING",
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false, frames: true });
      const unknown = [0xa0, 0x06, 0x2a, 0xaa, 0x06, 0x03, 0x66, 0x75, 0x74, 0xb5, 0x06, 1, 2, 3, 4, 0xb9, 0x06, 1, 2, 3, 4, 5, 6, 7, 8];
      const hello = Uint8Array.from([...encodeHello({ pingIntervalMs: 60_000, agent: "strata-conformance" }), ...unknown]);
      peer.write(Uint8Array.from([...encodePreface(), ...encodeFrame({ type: FrameType.HELLO }, hello)]));
      await peer.waitFor((f) => f.header.type === FrameType.HELLO, "the server's HELLO");
      peer.send({ type: FrameType.PING }, Uint8Array.of(3));
      await peer.waitFor((f) => f.header.type === FrameType.PONG, "a PONG after a HELLO with unknown fields");
      expect(!peer.frames.some((f) => f.header.type === FrameType.GOAWAY), "no GOAWAY", peer.describe(), "EXT-1");
    },
  },
  {
    name: "hello/handshake-and-requests-in-one-write",
    section,
    requirements: ["FRAME-3", "PREFACE-1", "HELLO-1"],
    title: "The preface and HELLO in one write, then a REQUEST, a PING and a REQUEST in one write, are all read: the server's HELLO, a PONG, two RESPONSEs",
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false, frames: true });
      // One write each, so that the server gets them in one read, whatever the network does with separate writes.
      peer.write(Uint8Array.from([...encodePreface(), ...encodeFrame({ type: FrameType.HELLO }, encodeHello({ pingIntervalMs: 60_000, agent: "strata-conformance" }))]));
      await peer.waitFor((f) => f.header.type === FrameType.HELLO, "the server's HELLO after a preface and HELLO read together", 3000);
      peer.write(
        Uint8Array.from([
          ...encodeFrame({ type: FrameType.REQUEST, requestId: 1, service: "conformance.nothing.v1.Nothing", method: "M" }),
          ...encodeFrame({ type: FrameType.PING }, Uint8Array.of(8)),
          ...encodeFrame({ type: FrameType.REQUEST, requestId: 3, service: "conformance.nothing.v1.Nothing", method: "M" }),
        ]),
      );
      for (const id of [1, 3]) await peer.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === id, `a RESPONSE to request ${id}, read with a PING and another REQUEST`);
      await peer.waitFor((f) => f.header.type === FrameType.PONG, "a PONG to the PING read between two REQUESTs");
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
