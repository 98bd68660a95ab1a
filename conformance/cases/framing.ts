// Section 4: framing and every class of malformed input.
import fc from "fast-check";
import { DispatchCode, encodeFrame, encodeHeader, FrameType, GoawayCode, resolveFrameLimits } from "../../src/wire/index.ts";
import { CaseFailure, expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { expectConnectionError, hexOf } from "../runner/expectations.ts";
import type { Peer } from "../runner/peer.ts";

const section = "4 Framing";

function u32be(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

function rawFrame(header: Uint8Array, body = new Uint8Array(0)): Uint8Array {
  return Uint8Array.from([...u32be(header.length), ...header, ...body]);
}

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return out;
}

/** `header` with an unknown length-delimited field (number 1000) appended, so that it is exactly `size` bytes [FRAME-11]. */
function paddedTo(header: Uint8Array, size: number): Uint8Array {
  const tag = varint((1000 << 3) | 2);
  for (let length = size - header.length - tag.length - 1; length >= 0; length--) {
    const field = [...tag, ...varint(length)];
    if (header.length + field.length + length === size) return Uint8Array.from([...header, ...field, ...new Uint8Array(length)]);
  }
  throw new RangeError(`a header cannot be padded to ${size} bytes`);
}

/** Splits `bytes` at the given cut points (taken modulo the length). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    if (p > last) chunks.push(bytes.subarray(last, p));
    last = p;
  }
  if (last < bytes.length) chunks.push(bytes.subarray(last));
  return chunks;
}

/** Sends PINGs with the given payloads and expects the PONGs, same payloads, same order. */
async function expectPongs(peer: Peer, payloads: Uint8Array[]): Promise<void> {
  const pongs = () => peer.frames.filter((f) => f.header.type === FrameType.PONG);
  await peer.waitFor(() => pongs().length >= payloads.length, `${payloads.length} PONGs`);
  const got = pongs().slice(0, payloads.length).map((f) => hexOf(f.body));
  const want = payloads.map(hexOf);
  if (got.join("|") !== want.join("|")) throw new CaseFailure(`PONG payloads ${JSON.stringify(want)}`, JSON.stringify(got), "PING-2");
}

export const framingCases: ConformanceCase[] = [
  {
    name: "framing/header-size-zero",
    section,
    requirements: ["FRAME-4", "FRAME-14", "DRAIN-7"],
    title: "A header size of 0 is a connection error PROTOCOL_ERROR",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.write(u32be(0));
      await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "FRAME-4");
    },
  },
  {
    name: "framing/header-size-ffffffff",
    section,
    requirements: ["FRAME-5", "LIMIT-6"],
    title: "A header size of 0xFFFFFFFF is FRAME_TOO_LARGE, decided from the 4 size bytes alone",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.write(u32be(0xffffffff)); // and nothing more: the server must not wait for the header
      await expectConnectionError(peer, GoawayCode.FRAME_TOO_LARGE, "FRAME-5");
    },
  },
  {
    name: "framing/header-size-over-declared-limit",
    section,
    requirements: ["FRAME-5", "HELLO-6"],
    title: "A header one byte over the server's declared max_header_size is FRAME_TOO_LARGE",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.write(u32be(resolveFrameLimits(peer.hello!).maxHeaderSize + 1));
      await expectConnectionError(peer, GoawayCode.FRAME_TOO_LARGE, "FRAME-5");
    },
  },
  {
    name: "framing/header-does-not-decode",
    section,
    requirements: ["FRAME-6", "CONV-1", "ID-4"],
    title: "Undecodable headers (truncated varint, length past the end incl. lengths above 2^32-1, wrong wire type, invalid UTF-8, id over 2^53-1) are PROTOCOL_ERROR",
    async run(ctx) {
      const headers: Array<[string, number[]]> = [
        ["truncated varint", [0x08, 0x06, 0x10, 0x80]],
        ["string past the header", [0x08, 0x06, 0x22, 0x09, 0x61]],
        ["known field with the wrong wire type", [0x0d, 0x06, 0x00, 0x00, 0x00]],
        ["invalid UTF-8", [0x08, 0x02, 0x10, 0x01, 0x22, 0x02, 0xc3, 0x28]],
        ["request id 2^53", [0x08, 0x02, 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]],
        // Lengths whose low 32 bits (1) fit the header: the whole varint counts, not its low 32 bits.
        ["PING service length 2^32+1", [0x08, 0x06, 0x22, 0x81, 0x80, 0x80, 0x80, 0x10, 0x61]],
        ["unknown field length 2^35+1", [0x08, 0x06, 0xfa, 0x01, 0x81, 0x80, 0x80, 0x80, 0x80, 0x01, 0x61]],
        ["metadata key length 2^32+1", [0x08, 0x06, 0x42, 0x08, 0x0a, 0x81, 0x80, 0x80, 0x80, 0x10, 0x61, 0x00]],
      ];
      for (const [what, bytes] of headers) {
        const peer = await ctx.connect();
        peer.write(rawFrame(Uint8Array.from(bytes)));
        try {
          await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "FRAME-6");
        } catch (error) {
          if (error instanceof CaseFailure) throw new CaseFailure(`${error.expected} (${what})`, error.actual, error.requirement);
          throw error;
        }
      }
    },
  },
  {
    name: "framing/type-absent",
    section,
    requirements: ["FRAME-8"],
    title: "A frame without a type is PROTOCOL_ERROR",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.write(rawFrame(Uint8Array.of(0x18, 0x00)));
      await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "FRAME-8");
    },
  },
  {
    name: "framing/body-size-over-declared-limit",
    section,
    requirements: ["FRAME-10"],
    title: "A body_size over the server's max_body_size is FRAME_TOO_LARGE, before any body byte arrives",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.write(rawFrame(encodeHeader({ type: FrameType.PING, bodySize: resolveFrameLimits(peer.hello!).maxBodySize + 1 })));
      await expectConnectionError(peer, GoawayCode.FRAME_TOO_LARGE, "FRAME-10");
    },
  },
  {
    name: "framing/header-at-declared-limit",
    section,
    requirements: ["FRAME-5", "HELLO-6", "FRAME-11"],
    title: "A header of exactly the server's max_header_size, and one byte less, are read (a PING padded with an unknown field gets its PONG)",
    async run(ctx) {
      const peer = await ctx.connect();
      const limit = resolveFrameLimits(peer.hello!).maxHeaderSize;
      const payloads = [Uint8Array.of(1), Uint8Array.of(2)];
      for (const [i, size] of [limit, limit - 1].entries()) {
        peer.write(rawFrame(paddedTo(encodeHeader({ type: FrameType.PING, bodySize: 1 }), size), payloads[i]));
      }
      await expectPongs(peer, payloads);
    },
  },
  {
    name: "framing/body-at-declared-limit",
    section,
    requirements: ["FRAME-10", "FRAME-9", "HELLO-6"],
    title: "A body of exactly the server's max_body_size is read: in a frame of unknown type (skipped) and in a REQUEST (answered)",
    async run(ctx) {
      const peer = await ctx.connect();
      const limit = resolveFrameLimits(peer.hello!).maxBodySize;
      const body = new Uint8Array(limit).fill(0x61);
      peer.write(encodeFrame({ type: 99 as never }, body));
      peer.write(encodeFrame({ type: FrameType.REQUEST, requestId: 1, service: "conformance.nothing.v1.Nothing", method: "M" }, body));
      peer.send({ type: FrameType.PING }, Uint8Array.of(5));
      const response = await peer.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === 1, "a RESPONSE to the REQUEST with a body at the limit", 10_000);
      expect(response.header.dispatchCode === DispatchCode.UNKNOWN_SERVICE, "UNKNOWN_SERVICE (the body's size is legal)", `dispatch code ${response.header.dispatchCode}`, "FRAME-10");
      await expectPongs(peer, [Uint8Array.of(5)]);
    },
  },
  {
    name: "framing/unknown-type-over-body-limit",
    section,
    requirements: ["FRAME-9", "FRAME-10"],
    title: "A frame of unknown type whose body_size is over max_body_size is FRAME_TOO_LARGE, decided from the header: skipping does not lift the limit",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.write(rawFrame(encodeHeader({ type: 99 as never, bodySize: resolveFrameLimits(peer.hello!).maxBodySize + 1 })));
      await expectConnectionError(peer, GoawayCode.FRAME_TOO_LARGE, "FRAME-10");
    },
  },
  {
    name: "framing/unknown-type-skipped",
    section,
    requirements: ["FRAME-9"],
    title: "A frame of an unknown type (with a body) is skipped and the connection continues",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.write(encodeFrame({ type: 99 as never, requestId: 3 }, new Uint8Array(300).fill(7)));
      peer.send({ type: FrameType.PING }, Uint8Array.of(1));
      await expectPongs(peer, [Uint8Array.of(1)]);
      expect(!peer.frames.some((f) => f.header.type === FrameType.GOAWAY), "no GOAWAY", peer.describe());
    },
  },
  {
    name: "framing/unknown-header-fields-ignored",
    section,
    requirements: ["FRAME-11", "EXT-1"],
    title: "Unknown header fields, and fields the frame type does not use, are ignored",
    async run(ctx) {
      const peer = await ctx.connect();
      const known = encodeHeader({ type: FrameType.PING, bodySize: 1, service: "ignored", appMessage: "ignored" });
      const unknown = [0xf8, 0x3e, 0x05, 0xba, 0x3e, 0x02, 0x68, 0x69, 0xc5, 0x3e, 1, 2, 3, 4];
      peer.write(rawFrame(Uint8Array.from([...known, ...unknown]), Uint8Array.of(9)));
      await expectPongs(peer, [Uint8Array.of(9)]);
    },
  },
  {
    name: "framing/any-chunking",
    section,
    requirements: ["FRAME-3", "FRAME-13", "CALL-8"],
    title: "Frames split at arbitrary points, one byte at a time, or coalesced in one write, are all read (property)",
    async run(ctx) {
      // REQUESTs to a service no server has: each gets its own RESPONSE (UNKNOWN_SERVICE), and
      // PING rate limits do not apply.
      const body = fc.uint8Array({ maxLength: 200 });
      await ctx.property(
        fc.tuple(fc.array(body, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean()),
        async ([bodies, cuts, bytewise]) => {
          const peer = await ctx.connect();
          const stream = Uint8Array.from(
            bodies.flatMap((b, i) => [...encodeFrame({ type: FrameType.REQUEST, requestId: i + 1, service: "conformance.nothing.v1.Nothing", method: "M" }, b)]),
          );
          const chunks = bytewise && stream.length <= 300 ? Array.from(stream, (b) => Uint8Array.of(b)) : split(stream, cuts);
          for (const chunk of chunks) {
            peer.write(chunk);
            // A pause between writes, so that they leave as separate segments rather than coalesced.
            if (chunks.length > 1) await new Promise((resolve) => setTimeout(resolve, 2));
          }
          for (let id = 1; id <= bodies.length; id++) {
            await peer.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === id, `a RESPONSE to request ${id} of ${bodies.length}`);
          }
          peer.close();
        },
      );
    },
  },
  {
    name: "framing/linger-after-goaway",
    section,
    requirements: ["FRAME-18", "FRAME-14"],
    title: "After a connection error's GOAWAY the server reads and discards input instead of resetting the connection",
    async run(ctx) {
      const peer = await ctx.connect({ allowHalfOpen: true });
      peer.write(u32be(0));
      await expectConnectionError(peer, GoawayCode.PROTOCOL_ERROR, "FRAME-4");
      // The server's write side is shut; its read side must keep draining for at least 1 s, so
      // bytes still on their way do not make its TCP stack answer with a reset.
      const started = performance.now();
      while (performance.now() - started < 700 && peer.socketError === undefined) {
        peer.write(new Uint8Array(512).fill(0x55));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      const error = peer.socketError;
      expect(error === undefined, "no reset while the suite kept writing for 0.7 s after the GOAWAY", `${error?.code ?? error?.message} after ${(performance.now() - started).toFixed(0)} ms`, "FRAME-18");
    },
  },
  {
    name: "framing/eof-inside-frame",
    section,
    requirements: ["FRAME-12"],
    title: "EOF in the middle of a frame: the partial frame is not acted on, and the server stays up",
    async run(ctx) {
      const peer = await ctx.connect();
      const ping = encodeFrame({ type: FrameType.PING }, Uint8Array.of(1, 2, 3));
      peer.write(ping.subarray(0, ping.length - 2));
      peer.end();
      await peer.waitForClose("EOF after the client's half-close");
      expect(!peer.frames.some((f) => f.header.type === FrameType.PONG), "no PONG for the partial PING", peer.describe());
      const next = await ctx.connect();
      next.send({ type: FrameType.PING }, Uint8Array.of(4));
      await expectPongs(next, [Uint8Array.of(4)]);
    },
  },
];
