// Section 12: gzip request bodies, for servers that list gzip.
import { gzipSync } from "node:zlib";
import { Compression, DispatchCode, FrameType } from "../../src/wire/index.ts";
import { CaseSkip, expect, type ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE, type CaseContext } from "../runner/context.ts";
import { expectDispatch } from "../runner/expectations.ts";
import type { Peer } from "../runner/peer.ts";
import { create, toBinary } from "@bufbuild/protobuf";
import { RecordRequestSchema } from "../../src/gen/strata/conformance/v1/conformance_pb.ts";

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
    name: "compression/decompression-bomb",
    section,
    requirements: ["COMP-5"],
    title: "A small gzip body that inflates past max_body_size is answered REQUEST_TOO_LARGE, and never runs",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await gzipPeer(ctx);
      const declared = peer.hello!.maxBodySize;
      const limit = declared === 0 ? 4194304 : Math.max(declared, 65536);
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
