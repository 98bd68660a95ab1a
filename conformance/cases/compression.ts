// Section 12: gzip request bodies, for servers that list gzip.
import { gzipSync } from "node:zlib";
import { Compression, DispatchCode, encodeFrame, FrameType, resolveFrameLimits } from "../../src/wire/index.ts";
import { CaseSkip, expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE, type CaseContext } from "../runner/context.ts";
import { expectDispatch } from "../runner/expectations.ts";
import { zeroBomb } from "../runner/gzip-bomb.ts";
import type { Peer } from "../runner/peer.ts";
import { create, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema, RecordRequestSchema } from "../gen/strata/conformance/v1/conformance_pb.ts";

const section = "12 Compression";

/** Connects and skips the case unless the server listed gzip [COMP-2]. */
async function gzipPeer(ctx: CaseContext): Promise<Peer> {
  const peer = await ctx.connect();
  if (!peer.hello!.compression.includes(Compression.GZIP)) throw new CaseSkip("the server does not list gzip in its HELLO");
  return peer;
}

function sendGzip(peer: Peer, id: number, method: string, body: Uint8Array): void {
  peer.send({ type: FrameType.REQUEST, requestId: id, service: CONFORMANCE_SERVICE, method, compression: Compression.GZIP }, body);
}

const recordBody = (tag: string) => toBinary(RecordRequestSchema, create(RecordRequestSchema, { tag }));

/** An Echo request (answered with 1 byte) whose encoding is exactly `size` bytes. */
function echoBodyOfSize(size: number): Uint8Array {
  for (let payload = size - 3; payload >= 0; payload--) {
    const body = toBinary(EchoRequestSchema, create(EchoRequestSchema, { payload: new Uint8Array(payload), responseSize: 1 }));
    if (body.length === size) return body;
    if (body.length < size) break;
  }
  throw new RangeError(`no Echo request is exactly ${size} bytes`);
}

export const compressionCases: ConformanceCase[] = [
  {
    name: "compression/gzip-request-accepted",
    section,
    requirements: ["COMP-1", "COMP-3"],
    title: "A gzip request body (one RFC 1952 member) is decompressed and runs",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await gzipPeer(ctx);
      const tag = `gzip-${Math.random().toString(36).slice(2, 10)}`;
      sendGzip(peer, 1, "Record", gzipSync(recordBody(tag)));
      expectDispatch(await ctx.response(peer, 1), DispatchCode.OK, "COMP-3");
      const { entries } = await ctx.call(peer, "recorded", { prefix: `record:${tag}` }, { id: 2 });
      expect(entries.length === 1, `record:${tag} in the log`, JSON.stringify(entries), "COMP-3");
    },
  },
  {
    name: "compression/not-exactly-one-member",
    section,
    requirements: ["COMP-3", "COMP-6", "STATUS-6"],
    title: "gzip bodies with an empty member before the real one, two members, or zero bytes after the trailer are INVALID_ARGUMENT and never run",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await gzipPeer(ctx);
      const tag = `members-${Math.random().toString(36).slice(2, 10)}`;
      const one = gzipSync(recordBody(tag));
      const bodies: Array<[string, Uint8Array]> = [
        ["an empty member, then the real one", Uint8Array.from([...gzipSync(new Uint8Array(0)), ...one])],
        ["the member twice", Uint8Array.from([...one, ...one])],
        ["8 zero bytes after the trailer", Uint8Array.from([...one, 0, 0, 0, 0, 0, 0, 0, 0])],
        ["one byte after the trailer", Uint8Array.from([...one, 0x01])],
      ];
      for (const [i, [what, body]] of bodies.entries()) {
        sendGzip(peer, i + 1, "Record", body);
        const frame = await ctx.response(peer, i + 1);
        expect(frame.header.dispatchCode === DispatchCode.INVALID_ARGUMENT, `INVALID_ARGUMENT for ${what}`, `dispatch code ${frame.header.dispatchCode} "${frame.header.dispatchMessage}"`, "COMP-6");
      }
      const { entries } = await ctx.call(peer, "recorded", { prefix: `record:${tag}` }, { id: 10 });
      expect(entries.length === 0, "none of them ran", `${entries.length} log entries`, "STATUS-6");
    },
  },
  {
    name: "compression/pipelined-bombs-admitted-first",
    section,
    requirements: ["COMP-9", "COMP-5", "LIMIT-5"],
    title: "200 pipelined gzip bodies that each inflate to max_body_size are all answered, and the connection still answers a PING",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await gzipPeer(ctx);
      // An Echo that fills the body limit; the answer is 1 byte (response_size 1).
      const bomb = gzipSync(echoBodyOfSize(resolveFrameLimits(peer.hello!).maxBodySize), { level: 9 });
      const n = 200;
      const frames: Uint8Array[] = [];
      for (let id = 1; id <= n; id++) frames.push(encodeFrame({ type: FrameType.REQUEST, requestId: id, service: CONFORMANCE_SERVICE, method: "Echo", compression: Compression.GZIP }, bomb));
      peer.write(Buffer.concat(frames));
      const answered = () => peer.frames.filter((f) => f.header.type === FrameType.RESPONSE).length;
      await peer.waitFor(() => answered() >= n, `RESPONSEs to all ${n} requests`, 60_000);
      const codes = new Set(peer.frames.filter((f) => f.header.type === FrameType.RESPONSE).map((f) => f.header.dispatchCode));
      const allowed = new Set<number>([DispatchCode.OK, DispatchCode.OVERLOADED]);
      expect([...codes].every((c) => allowed.has(c)), "every answer OK or OVERLOADED", `dispatch codes ${[...codes].join(", ")}`, "COMP-9");
      peer.send({ type: FrameType.PING }, Uint8Array.of(1, 2, 3));
      await peer.waitFor((f) => f.header.type === FrameType.PONG, "a PONG after the bombs", 10_000);
    },
  },
  {
    name: "compression/decompression-bomb",
    section,
    requirements: ["COMP-5"],
    title: "A small gzip body that inflates past max_body_size is answered REQUEST_TOO_LARGE, and never runs",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await gzipPeer(ctx);
      const limit = resolveFrameLimits(peer.hello!).maxBodySize;
      // A Record request whose tag alone is one byte over the limit, compressed to a few KB.
      const bomb = gzipSync(recordBody("a".repeat(limit + 1)), { level: 9 });
      expect(bomb.length < limit, "a compressed body within the limit", `${bomb.length} bytes`);
      sendGzip(peer, 1, "Record", bomb);
      expectDispatch(await ctx.response(peer, 1, 10_000), DispatchCode.REQUEST_TOO_LARGE, "COMP-5");
      const { entries } = await ctx.call(peer, "recorded", { prefix: "record:aaaa" }, { id: 2 });
      expect(entries.length === 0, "the bomb never ran", `${entries.length} log entries`, "STATUS-6");
    },
  },
  {
    name: "compression/inflates-to-exactly-the-limit",
    section,
    requirements: ["COMP-5", "HELLO-6"],
    title: "A gzip body that inflates to exactly max_body_size runs; one that inflates to one byte more is REQUEST_TOO_LARGE",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await gzipPeer(ctx);
      const limit = resolveFrameLimits(peer.hello!).maxBodySize;
      sendGzip(peer, 1, "Echo", gzipSync(echoBodyOfSize(limit), { level: 9 }));
      expectDispatch(await ctx.response(peer, 1, 10_000), DispatchCode.OK, "COMP-5");
      sendGzip(peer, 3, "Echo", gzipSync(echoBodyOfSize(limit + 1), { level: 9 }));
      expectDispatch(await ctx.response(peer, 3, 10_000), DispatchCode.REQUEST_TOO_LARGE, "COMP-5");
    },
  },
  {
    name: "compression/gigabyte-bombs-stop-at-the-limit",
    section,
    requirements: ["COMP-5", "COMP-9"],
    title: "Six pipelined gzip bodies of about 3 MB that each inflate to 3 GiB are all REQUEST_TOO_LARGE, and a PING is answered, within 6 s: inflating stops at max_body_size",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await gzipPeer(ctx);
      const bomb = await zeroBomb(resolveFrameLimits(peer.hello!).maxBodySize);
      const n = 6;
      const frames = Array.from({ length: n }, (_, i) => encodeFrame({ type: FrameType.REQUEST, requestId: 2 * i + 1, service: CONFORMANCE_SERVICE, method: "Echo", compression: Compression.GZIP }, bomb));
      peer.write(Buffer.concat([...frames, encodeFrame({ type: FrameType.PING }, Uint8Array.of(7))]));
      // Inflating 3 GiB takes seconds even in native zlib (7 to 9 s each here); stopping at the
      // limit, a few milliseconds each (well under 1 s for all six here).
      const deadline = performance.now() + 6000;
      const responses = () => peer.frames.filter((f) => f.header.type === FrameType.RESPONSE);
      await peer.waitFor(() => responses().length >= n, `RESPONSEs to all ${n} bombs within 6 s`, 6000);
      const codes = new Set(responses().map((f) => f.header.dispatchCode));
      const allowed = new Set<number>([DispatchCode.REQUEST_TOO_LARGE, DispatchCode.OVERLOADED]);
      expect([...codes].every((c) => allowed.has(c)), "every answer REQUEST_TOO_LARGE (or OVERLOADED)", `dispatch codes ${[...codes].join(", ")}`, "COMP-5");
      await peer.waitFor((f) => f.header.type === FrameType.PONG, "the PONG within the same 6 s", Math.max(1, deadline - performance.now()));
    },
  },
  {
    name: "compression/corrupt-gzip",
    section,
    requirements: ["COMP-6"],
    title: "A gzip body with a bad CRC, cut short, followed by extra bytes, or with two members is answered INVALID_ARGUMENT",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await gzipPeer(ctx);
      const good = gzipSync(recordBody("corrupt-case"));
      const badCrc = Uint8Array.from(good);
      badCrc[badCrc.length - 6]! ^= 0xff;
      const variants: Array<[string, Uint8Array]> = [
        ["bad CRC-32", badCrc],
        ["cut short", good.subarray(0, good.length - 5)],
        ["extra bytes after the member", Uint8Array.from([...good, 1, 2, 3])],
        ["two members", Uint8Array.from([...good, ...gzipSync(recordBody("second"))])],
        ["not gzip at all", recordBody("plain")],
      ];
      for (const [i, [what, body]] of variants.entries()) {
        sendGzip(peer, i + 1, "Record", body);
        const frame = await ctx.response(peer, i + 1);
        expect(frame.header.dispatchCode === DispatchCode.INVALID_ARGUMENT, `INVALID_ARGUMENT for a body ${what}`, `dispatch code ${frame.header.dispatchCode} "${frame.header.dispatchMessage}"`, "COMP-6");
      }
    },
  },
];
