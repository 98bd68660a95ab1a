// Section 13 and the request checks of 7.5: metadata, compression (keys are in keys.ts).
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema, InfoResponseSchema } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { Compression, DEFAULT_LIMITS, DispatchCode, encodeFrame, FrameType, headerSize, resolveFrameLimits } from "../../src/wire/index.ts";
import { CONFORMANCE_SERVICE } from "../runner/context.ts";
import { lengthUpTo } from "../runner/sizes.ts";
import { CaseFailure, expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { expectDispatch, hexOf } from "../runner/expectations.ts";

const section = "13 Metadata";
const keyChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-_.".split(""));
const metadataKey = fc.array(keyChar, { minLength: 1, maxLength: 24 }).map((c) => c.join(""));

/**
 * A metadata value whose header, as `sizeWith` computes it, is exactly
 * `target` bytes, or the largest below it where varint widths skip `target`.
 */
function valueForHeaderSize(target: number, sizeWith: (value: Uint8Array) => number): Uint8Array {
  let n = Math.max(0, target - sizeWith(new Uint8Array(0)));
  while (n > 0 && sizeWith(new Uint8Array(n)) > target) n--;
  return new Uint8Array(n).fill(0x5a);
}

export const metadataCases: ConformanceCase[] = [
  {
    name: "metadata/order-duplicates-binary-values",
    section,
    requirements: ["META-1", "META-3", "CONF-6"],
    title: "Request metadata reaches the handler in order, duplicates kept, values byte for byte (property)",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      let id = 0;
      const entry = fc.record({ key: metadataKey, value: fc.uint8Array({ maxLength: 32 }) });
      // A repeat of the first key at the end checks duplicates [META-1].
      const lists = fc.array(entry, { maxLength: 8 }).map((list): Array<{ key: string; value: Uint8Array }> => (list.length > 1 ? [...list, list[0]!] : list));
      await ctx.property(lists, async (metadata) => {
        id++;
        ctx.sendCall(peer, "info", {}, { id, metadata });
        const frame = await ctx.response(peer, id);
        expectDispatch(frame, DispatchCode.OK);
        const seen = fromBinary(InfoResponseSchema, frame.body).metadata.map((e) => `${e.key}=${hexOf(e.value)}`);
        const sent = metadata.map((e) => `${e.key}=${hexOf(e.value)}`);
        if (seen.join("|") !== sent.join("|")) throw new CaseFailure(JSON.stringify(sent), JSON.stringify(seen), "META-1");
      });
    },
  },
  {
    name: "metadata/invalid-key-refused",
    section,
    requirements: ["META-2", "STATUS-6"],
    title: "A request with an invalid metadata key (uppercase, space, empty, 129 bytes) is answered INVALID_REQUEST",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const keys = ["Upper", "with space", "", "k".repeat(129), "ünïcode"];
      for (const [i, key] of keys.entries()) {
        ctx.sendCall(peer, "info", {}, { id: i + 1, metadata: [{ key, value: new Uint8Array(0) }] });
        const frame = await ctx.response(peer, i + 1);
        try {
          expectDispatch(frame, DispatchCode.INVALID_REQUEST, "META-2");
        } catch (error) {
          if (error instanceof CaseFailure) throw new CaseFailure(`${error.expected} for key ${JSON.stringify(key)}`, error.actual, "META-2");
          throw error;
        }
      }
    },
  },
  {
    name: "metadata/response-metadata",
    section,
    requirements: ["META-1", "META-6", "CONF-2"],
    title: "Response metadata arrives in order, followed by the echoed request metadata",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      ctx.sendCall(peer, "echo", { responseMetadata: [{ key: "b", value: Uint8Array.of(2) }, { key: "a", value: Uint8Array.of(1) }], echoMetadata: true }, { id: 1, metadata: [{ key: "req", value: Uint8Array.of(0xff, 0) }] });
      const frame = await ctx.response(peer, 1);
      const got = frame.header.metadata.map((e) => `${e.key}=${hexOf(e.value)}`).join(",");
      expect(got === "b=02,a=01,req=ff 00", "b=02,a=01,req=ff 00", got, "META-1");
    },
  },
  {
    name: "metadata/large-within-header-limit",
    section,
    requirements: ["META-5", "LIMIT-1"],
    title: "Metadata filling a 4000-byte header (within the baseline) is accepted and delivered",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const metadata = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: new Uint8Array(120).fill(i) }));
      ctx.sendCall(peer, "info", {}, { id: 1, metadata });
      const frame = await ctx.response(peer, 1);
      expectDispatch(frame, DispatchCode.OK, "META-5");
      expect(fromBinary(InfoResponseSchema, frame.body).metadata.length === 30, "30 entries delivered", String(fromBinary(InfoResponseSchema, frame.body).metadata.length), "META-5");
    },
  },
  {
    name: "metadata/every-size-up-to-header-limit",
    section,
    requirements: ["META-5", "META-3", "LIMIT-1", "LIMIT-4", "CONF-2"],
    title: "Request and response headers of every size up to the declared max_header_size, the limit itself included, carry their metadata unchanged (property)",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const serverLimit = resolveFrameLimits(peer.hello!).maxHeaderSize;
      const clientLimit = DEFAULT_LIMITS.maxHeaderSize; // the suite's HELLO leaves max_header_size 0 [HELLO-6]
      let id = 0;
      // Target sizes of the request header and of the response header (Echo's output is empty: no body size field).
      const roundTrip = async ([requestTarget, responseTarget]: [number, number]) => {
        id++;
        const requestHeader = (value: Uint8Array) => ({ type: FrameType.REQUEST, requestId: id, service: CONFORMANCE_SERVICE, method: "Echo", metadata: [{ key: "x-request", value }] });
        const responseHeader = (value: Uint8Array) => ({ type: FrameType.RESPONSE, requestId: id, metadata: [{ key: "x-response", value }] });
        const responseValue = valueForHeaderSize(responseTarget, (v) => headerSize(responseHeader(v), 0));
        const body = toBinary(EchoRequestSchema, create(EchoRequestSchema, { responseMetadata: [{ key: "x-response", value: responseValue }] }));
        const requestValue = valueForHeaderSize(requestTarget, (v) => headerSize(requestHeader(v), body.length));
        peer.write(encodeFrame(requestHeader(requestValue), body));
        const frame = await ctx.response(peer, id);
        const sent = `request header ${headerSize(requestHeader(requestValue), body.length)} of ${serverLimit} bytes, response header ${headerSize(responseHeader(responseValue), 0)} of ${clientLimit}`;
        if (frame.header.dispatchCode !== DispatchCode.OK) {
          throw new CaseFailure(`OK for a ${sent}`, `dispatch code ${frame.header.dispatchCode} "${frame.header.dispatchMessage}"`, "META-5");
        }
        const got = frame.header.metadata.find((e) => e.key === "x-response")?.value;
        expect(got !== undefined && got.length === responseValue.length && got.every((b, i) => b === responseValue[i]), `the response metadata value unchanged (${sent})`, got === undefined ? "no x-response entry" : `${got.length} bytes, differing`, "META-3");
      };
      // The limits themselves, always; then sizes anywhere up to them.
      await roundTrip([serverLimit, clientLimit]);
      await roundTrip([serverLimit - 1, clientLimit - 1]);
      await ctx.property(fc.tuple(lengthUpTo(serverLimit, 64), lengthUpTo(clientLimit, 64)), roundTrip);
    },
  },
  {
    name: "compression/unlisted-algorithm-refused",
    section: "12 Compression",
    requirements: ["COMP-1", "COMP-2", "COMP-4", "EXT-2"],
    title: "A body compressed with an algorithm the server did not list (or an unknown one) is answered UNSUPPORTED",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const listed = new Set<number>(peer.hello!.compression);
      const algorithms = [Compression.GZIP, 77].filter((a) => !listed.has(a));
      for (const [i, compression] of algorithms.entries()) {
        const { encodeFrame, FrameType } = await import("../../src/wire/index.ts");
        peer.write(encodeFrame({ type: FrameType.REQUEST, requestId: i + 1, service: "strata.conformance.v1.ConformanceService", method: "Info", compression: compression as Compression }, Uint8Array.of(1, 2, 3)));
        expectDispatch(await ctx.response(peer, i + 1), DispatchCode.UNSUPPORTED, "COMP-4");
      }
    },
  },
];
