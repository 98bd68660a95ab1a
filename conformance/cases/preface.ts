// Section 3.2 / 3.4: the preface, refusal of foreign peers, version mismatch.
import { encodePreface, PREFACE_MAGIC } from "../../src/wire/index.ts";
import { expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { expectSilentClose, hexOf } from "../runner/expectations.ts";

const section = "3 Connection lifecycle";
const ascii = (text: string) => new TextEncoder().encode(text);

export const prefaceCases: ConformanceCase[] = [
  {
    name: "preface/v1-answered-with-preface-and-hello",
    section,
    requirements: ["PREFACE-4", "HELLO-1"],
    title: "A v1 preface is answered with the v1 preface and a HELLO, before the client's HELLO",
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false, frames: true });
      peer.write(encodePreface());
      await peer.waitFor((f) => f.header.type === 1, "a HELLO frame after the server's preface [HELLO-1]");
      const head = hexOf(peer.raw.subarray(0, 8));
      expect(head === hexOf(encodePreface(1)), "the server's first 8 bytes to be 53 54 52 41 54 41 00 01", head, "PREFACE-4");
    },
  },
  {
    name: "preface/old-style-client-refused-at-once",
    section,
    requirements: ["PREFACE-2"],
    title: "A first byte 00 (an old-style client's header size) is refused at once, with nothing written",
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false });
      const started = performance.now();
      peer.write(Uint8Array.of(0x00, 0x00, 0x00, 0x1c));
      await expectSilentClose(peer, "after 4 bytes of an old-style frame");
      const ms = performance.now() - started;
      expect(ms < 1500, "a close without waiting for more bytes (well before any handshake timeout)", `closed after ${ms.toFixed(0)} ms`);
    },
  },
  {
    name: "preface/tls-client-hello-refused",
    section,
    requirements: ["PREFACE-2"],
    title: "A TLS ClientHello is refused at once, with nothing written",
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false });
      peer.write(Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03));
      await expectSilentClose(peer, "after a TLS ClientHello");
    },
  },
  {
    name: "preface/http-request-refused",
    section,
    requirements: ["PREFACE-2", "PREFACE-3"],
    title: "An HTTP request gets EOF, or one HTTP/1.1 4xx response then EOF",
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false });
      peer.write(ascii("GET / HTTP/1.1\r\nHost: strata\r\n\r\n"));
      const closure = await peer.waitForClose("EOF, possibly after one HTTP/1.1 4xx response", 2000);
      if (closure.raw.length === 0) return;
      const text = new TextDecoder().decode(closure.raw);
      expect(/^HTTP\/1\.1 4\d\d /.test(text), "nothing, or an HTTP/1.1 response with a 4xx status", JSON.stringify(text.slice(0, 60)), "PREFACE-3");
    },
  },
  {
    name: "preface/other-version-answered-with-own-version",
    section,
    requirements: ["PREFACE-4"],
    title: "A preface with a version the server does not speak gets the server's own preface, then EOF",
    async run(ctx) {
      for (const version of [0, 2, 0xffff]) {
        const peer = await ctx.connect({ handshake: false });
        peer.write(encodePreface(version));
        const closure = await peer.waitForClose(`8 bytes (magic and the server's version), then EOF, for version ${version}`);
        const magicOk = hexOf(closure.raw.subarray(0, 6)) === hexOf(PREFACE_MAGIC);
        expect(closure.raw.length === 8 && magicOk, `exactly 8 bytes starting with the magic, for version ${version}`, hexOf(closure.raw), "PREFACE-4");
        const served = (closure.raw[6]! << 8) | closure.raw[7]!;
        expect(served !== version && served !== 0, `a version other than ${version} and not 0`, `version ${served}`, "PREFACE-4");
      }
    },
  },
  {
    name: "preface/one-byte-at-a-time",
    section,
    requirements: ["PREFACE-1", "FRAME-3"],
    title: "A preface and HELLO written one byte at a time complete the handshake",
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false, frames: true });
      const { encodeFrame, encodeHello, FrameType } = await import("../../src/wire/index.ts");
      const bytes = Uint8Array.from([...encodePreface(), ...encodeFrame({ type: FrameType.HELLO }, encodeHello({ pingIntervalMs: 60000 })), ...encodeFrame({ type: FrameType.PING }, Uint8Array.of(7))]);
      for (const byte of bytes) {
        peer.write(Uint8Array.of(byte));
        // A pause between writes, so that they leave as separate segments rather than coalesced.
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await peer.waitFor((f) => f.header.type === FrameType.PONG, "a PONG to the PING written byte by byte");
    },
  },
];
