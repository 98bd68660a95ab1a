// Section 7.7: method references, bound by one request and then sent alone.
// Every case applies only to a server that lists method-refs [REF-1].
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema, EchoResponseSchema } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { CallMode, Compression, DispatchCode, FrameType, type FrameHeaderInit } from "../../src/wire/index.ts";
import { CaseSkip, expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE, type CaseContext } from "../runner/context.ts";
import { expectDispatch, hexOf } from "../runner/expectations.ts";
import type { Peer } from "../runner/peer.ts";

const section = "7.7 Method references";
const METHOD_REFS = "method-refs";

/** A connection to a server that takes method references; the case is skipped on one that does not list them. */
async function connectWithRefs(ctx: CaseContext): Promise<Peer> {
  const peer = await ctx.connect();
  if (!peer.hello!.features.includes(METHOD_REFS)) throw new CaseSkip("the server does not list method-refs in its HELLO");
  return peer;
}

/** Binds `ref` to Echo with request `id`, which runs [REF-2]. */
async function bindEcho(ctx: CaseContext, peer: Peer, id: number, ref: number): Promise<void> {
  ctx.sendCall(peer, "echo", {}, { id, methodRef: ref });
  expectDispatch(await ctx.response(peer, id), DispatchCode.OK, "REF-2");
}

/** Calls Echo by `ref` alone and expects the payload back: the reference names Echo [REF-3]. */
async function expectEchoByRef(ctx: CaseContext, peer: Peer, id: number, ref: number, payload: Uint8Array, requirement: string): Promise<void> {
  ctx.sendCall(peer, "echo", { payload }, { id, methodRef: ref, byRef: true });
  const frame = await ctx.response(peer, id);
  expectDispatch(frame, DispatchCode.OK, requirement);
  const echoed = fromBinary(EchoResponseSchema, frame.body).payload;
  expect(hexOf(echoed) === hexOf(payload), `request ${id}, by method_ref ${ref} alone, to run Echo`, `${echoed.length} bytes that differ`, requirement);
}

/** Sends a REQUEST with the header fields given (and no body) and expects a dispatch `code`. */
async function expectRaw(ctx: CaseContext, peer: Peer, header: FrameHeaderInit & { requestId: number }, code: DispatchCode, requirement: string): Promise<void> {
  peer.send(header);
  expectDispatch(await ctx.response(peer, header.requestId), code, requirement);
}

/** Sends a REQUEST by `ref` alone and expects a dispatch `code`. */
async function expectByRef(ctx: CaseContext, peer: Peer, id: number, ref: number, code: DispatchCode, requirement: string): Promise<void> {
  ctx.sendCall(peer, "echo", {}, { id, methodRef: ref, byRef: true });
  expectDispatch(await ctx.response(peer, id), code, requirement);
}

export const methodRefCases: ConformanceCase[] = [
  {
    name: "method-refs/bind-then-use",
    section,
    requirements: ["REF-1", "REF-2", "REF-3"],
    title: "A request with names and a method_ref binds it; requests with the reference alone then run that method (property over references 1-256 and payloads)",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await connectWithRefs(ctx);
      let id = 0;
      const ref = fc.oneof(fc.integer({ min: 1, max: 256 }), fc.constantFrom(1, 127, 128, 255, 256));
      await ctx.property(fc.tuple(ref, fc.uint8Array({ maxLength: 2048 }), fc.integer({ min: 1, max: 3 })), async ([methodRef, payload, uses]) => {
        ctx.sendCall(peer, "echo", { payload }, { id: ++id, methodRef });
        expectDispatch(await ctx.response(peer, id), DispatchCode.OK, "REF-2");
        for (let i = 0; i < uses; i++) await expectEchoByRef(ctx, peer, ++id, methodRef, payload.slice(i), "REF-3");
      });
    },
  },
  {
    name: "method-refs/bound-whatever-the-request-becomes",
    section,
    requirements: ["REF-2", "CALL-5"],
    title: "A binding request refused (expired deadline, unknown call mode, invalid metadata key, undecodable body), dropped (oneway, expired), cancelled, carrying keys or a gzip body still binds its reference",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await connectWithRefs(ctx);
      ctx.sendCall(peer, "echo", {}, { id: 1, methodRef: 1, timeoutMs: 0 });
      expectDispatch(await ctx.response(peer, 1), DispatchCode.DEADLINE_EXPIRED, "DEADLINE-3");
      ctx.sendCall(peer, "echo", {}, { id: 2, methodRef: 2, mode: 7 as CallMode });
      expectDispatch(await ctx.response(peer, 2), DispatchCode.INVALID_REQUEST, "CALL-1");
      ctx.sendCall(peer, "echo", {}, { id: 3, methodRef: 3, metadata: [{ key: "Not A Key", value: new Uint8Array(0) }] });
      expectDispatch(await ctx.response(peer, 3), DispatchCode.INVALID_REQUEST, "META-2");
      ctx.sendCall(peer, "echo", {}, { id: 4, methodRef: 4, mode: CallMode.ONEWAY, timeoutMs: 0 });
      // Not a valid EchoRequest: refused after the lookup, at the body's decoding.
      peer.send({ type: FrameType.REQUEST, requestId: 5, service: CONFORMANCE_SERVICE, method: "Echo", methodRef: 5 }, Uint8Array.of(0x0a, 0x7f));
      expectDispatch(await ctx.response(peer, 5), DispatchCode.INVALID_ARGUMENT, "STATUS-4");
      // With keys: run (keyed dispatch) or refused UNSUPPORTED; bound either way.
      ctx.sendCall(peer, "echo", {}, { id: 6, methodRef: 6, keys: ["uid:refs"] });
      const keyed = await ctx.response(peer, 6);
      expect(keyed.header.dispatchCode === DispatchCode.OK || keyed.header.dispatchCode === DispatchCode.UNSUPPORTED, "OK or UNSUPPORTED for a request with keys", `dispatch code ${keyed.header.dispatchCode}`, "KEYS-2");
      // With a gzip body: run (gzip listed) or refused UNSUPPORTED; bound either way.
      const gzipped = gzipSync(toBinary(EchoRequestSchema, create(EchoRequestSchema, { payload: Uint8Array.of(7) })));
      peer.send({ type: FrameType.REQUEST, requestId: 7, service: CONFORMANCE_SERVICE, method: "Echo", methodRef: 7, compression: Compression.GZIP }, gzipped);
      const compressed = await ctx.response(peer, 7);
      expect(compressed.header.dispatchCode === DispatchCode.OK || compressed.header.dispatchCode === DispatchCode.UNSUPPORTED, "OK or UNSUPPORTED for a gzip body", `dispatch code ${compressed.header.dispatchCode}`, "COMP-4");
      // Cancelled while it runs: bound to Sleep, which then runs by reference.
      ctx.sendCall(peer, "sleep", { ms: 10_000, tag: `refs-${ctx.seed}` }, { id: 8, methodRef: 8 });
      peer.send({ type: FrameType.CANCEL, requestId: 8 });
      ctx.sendCall(peer, "sleep", { ms: 0 }, { id: 9, methodRef: 8, byRef: true });
      expectDispatch(await ctx.response(peer, 9), DispatchCode.OK, "REF-2");
      for (const [i, ref] of [1, 2, 3, 4, 5, 6, 7].entries()) await expectEchoByRef(ctx, peer, 10 + i, ref, Uint8Array.of(ref), "REF-2");
      expect(!peer.frames.some((f) => f.header.requestId === 4), "nothing for the dropped oneway request 4", peer.describe(), "CALL-5");
    },
  },
  {
    name: "method-refs/checks-apply-by-reference",
    section,
    requirements: ["REF-3", "DEADLINE-3", "META-2"],
    title: "A request by reference alone gets every admission check a request with the names gets: an expired deadline, an invalid metadata key, an unknown call mode",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await connectWithRefs(ctx);
      await bindEcho(ctx, peer, 1, 1);
      const payload = Uint8Array.of(1, 2, 3);
      ctx.sendCall(peer, "echo", { payload }, { id: 2, methodRef: 1, byRef: true, timeoutMs: 0 });
      expectDispatch(await ctx.response(peer, 2), DispatchCode.DEADLINE_EXPIRED, "DEADLINE-3");
      ctx.sendCall(peer, "echo", { payload }, { id: 3, methodRef: 1, byRef: true, metadata: [{ key: "Not A Key", value: new Uint8Array(0) }] });
      expectDispatch(await ctx.response(peer, 3), DispatchCode.INVALID_REQUEST, "META-2");
      ctx.sendCall(peer, "echo", { payload }, { id: 4, methodRef: 1, byRef: true, mode: 7 as CallMode });
      expectDispatch(await ctx.response(peer, 4), DispatchCode.INVALID_REQUEST, "CALL-1");
      await expectEchoByRef(ctx, peer, 5, 1, payload, "REF-3");
    },
  },
  {
    name: "method-refs/unoffered-and-rebound",
    section,
    requirements: ["REF-2", "REF-3", "STATUS-4"],
    title: "A reference bound to names the server does not offer gets UNKNOWN_SERVICE or UNKNOWN_METHOD like the names; binding it again replaces the binding",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await connectWithRefs(ctx);
      await expectRaw(ctx, peer, { type: FrameType.REQUEST, requestId: 1, service: CONFORMANCE_SERVICE, method: "NoSuchMethod", methodRef: 9 }, DispatchCode.UNKNOWN_METHOD, "STATUS-4");
      await expectByRef(ctx, peer, 2, 9, DispatchCode.UNKNOWN_METHOD, "REF-3");
      await expectRaw(ctx, peer, { type: FrameType.REQUEST, requestId: 3, service: "no.such.v1.Service", method: "Echo", methodRef: 10 }, DispatchCode.UNKNOWN_SERVICE, "STATUS-4");
      await expectByRef(ctx, peer, 4, 10, DispatchCode.UNKNOWN_SERVICE, "REF-3");
      // Bound again, to Echo: the later binding replaces the first.
      await bindEcho(ctx, peer, 5, 9);
      await expectEchoByRef(ctx, peer, 6, 9, Uint8Array.of(6), "REF-2");
      // And away from Echo again.
      await expectRaw(ctx, peer, { type: FrameType.REQUEST, requestId: 7, service: "no.such.v1.Service", method: "Echo", methodRef: 9 }, DispatchCode.UNKNOWN_SERVICE, "STATUS-4");
      await expectByRef(ctx, peer, 8, 9, DispatchCode.UNKNOWN_SERVICE, "REF-2");
    },
  },
  {
    name: "method-refs/unbound-out-of-range-or-half-named",
    section,
    requirements: ["REF-3", "STATUS-6"],
    title: "A reference not bound, a reference above 256, or one with only one of the names is INVALID_REQUEST, binds nothing, and the connection goes on",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await connectWithRefs(ctx);
      await expectByRef(ctx, peer, 1, 5, DispatchCode.INVALID_REQUEST, "REF-3");
      for (const [i, ref] of [257, 1000, 0xffffffff].entries()) {
        ctx.sendCall(peer, "echo", {}, { id: 2 + 2 * i, methodRef: ref });
        expectDispatch(await ctx.response(peer, 2 + 2 * i), DispatchCode.INVALID_REQUEST, "REF-3");
        await expectByRef(ctx, peer, 3 + 2 * i, ref, DispatchCode.INVALID_REQUEST, "REF-3");
      }
      // Bound to Echo; then a request with the reference and one name only changes nothing.
      await bindEcho(ctx, peer, 10, 7);
      await expectRaw(ctx, peer, { type: FrameType.REQUEST, requestId: 11, service: CONFORMANCE_SERVICE, methodRef: 7 }, DispatchCode.INVALID_REQUEST, "REF-3");
      await expectRaw(ctx, peer, { type: FrameType.REQUEST, requestId: 12, method: "Info", methodRef: 7 }, DispatchCode.INVALID_REQUEST, "REF-3");
      await expectEchoByRef(ctx, peer, 13, 7, Uint8Array.of(13), "REF-3");
      await expectRaw(ctx, peer, { type: FrameType.REQUEST, requestId: 14, method: "Echo", methodRef: 8 }, DispatchCode.INVALID_REQUEST, "REF-3");
      await expectByRef(ctx, peer, 15, 8, DispatchCode.INVALID_REQUEST, "REF-3");
    },
  },
  {
    name: "method-refs/per-connection",
    section,
    requirements: ["REF-2", "REF-3"],
    title: "A reference bound on one connection is not bound on another",
    usesConformanceService: true,
    async run(ctx) {
      const first = await connectWithRefs(ctx);
      await bindEcho(ctx, first, 1, 3);
      await expectEchoByRef(ctx, first, 2, 3, Uint8Array.of(2), "REF-3");
      const second = await connectWithRefs(ctx);
      await expectByRef(ctx, second, 1, 3, DispatchCode.INVALID_REQUEST, "REF-3");
    },
  },
];
