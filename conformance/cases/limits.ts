// Sections 10, 14 and 3: cases that need the server started with other
// settings (spawn mode).
import { DispatchCode, encodeFrame, encodePreface, FrameType, GoawayCode, headerSize, resolveFrameLimits } from "../../src/wire/index.ts";
import { expect, type ConformanceCase } from "../runner/case.ts";
import { expectConnectionError, expectDispatch, expectSilentClose } from "../runner/expectations.ts";

export const limitCases: ConformanceCase[] = [
  {
    name: "limits/over-max-concurrent-requests",
    section: "14 Limits",
    requirements: ["LIMIT-5", "STATUS-6"],
    title: "With max_concurrent_requests 2, a third running request is answered OVERLOADED",
    usesConformanceService: true,
    settings: { maxConcurrentRequests: 2 },
    async run(ctx) {
      const peer = await ctx.connect();
      expect(peer.hello!.maxConcurrentRequests === 2, "max_concurrent_requests 2 in the HELLO", String(peer.hello!.maxConcurrentRequests), "LIMIT-5");
      for (let id = 1; id <= 3; id++) ctx.sendCall(peer, "sleep", { ms: 300, tag: `limit-${id}` }, { id });
      expectDispatch(await ctx.response(peer, 3), DispatchCode.OVERLOADED, "LIMIT-5");
    },
  },
  {
    name: "limits/response-over-client-limit",
    section: "14 Limits",
    requirements: ["LIMIT-4", "HELLO-7"],
    title: "A response over the client's declared max_body_size is replaced by RESPONSE_TOO_LARGE",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect({ hello: { maxBodySize: 65536 } });
      ctx.sendCall(peer, "echo", { responseSize: 70_000 }, { id: 1 });
      const frame = await ctx.response(peer, 1);
      expectDispatch(frame, DispatchCode.RESPONSE_TOO_LARGE, "LIMIT-4");
      expect(frame.body.length === 0 && frame.header.metadata.length === 0, "no body and no metadata", `${frame.body.length} body bytes, ${frame.header.metadata.length} metadata entries`, "LIMIT-4");
    },
  },
  {
    name: "limits/refusal-fits-client-limit",
    section: "14 Limits",
    requirements: ["LIMIT-7", "STATUS-6", "STATUS-4"],
    title: "Refusals of requests with long unknown names, to a client declaring the baseline 4096, keep their not-processed code and fit the baseline",
    async run(ctx) {
      const peer = await ctx.connect({ hello: { maxHeaderSize: 4096 } });
      const limit = resolveFrameLimits(peer.hello!).maxHeaderSize;
      // Names as long as the server's header limit allows: a message quoting them in full would not fit 4096.
      const room = Math.min(limit, 16384) - 64;
      const cases = [
        { service: "s".repeat(room), method: "m", code: DispatchCode.UNKNOWN_SERVICE },
        { service: "strata.conformance.v1.ConformanceService", method: "é".repeat(Math.floor(room / 2) - 40), code: DispatchCode.UNKNOWN_METHOD },
        { service: "x".repeat(room / 2), method: "y".repeat(room / 2 - 20), code: DispatchCode.UNKNOWN_SERVICE },
      ];
      for (const [i, c] of cases.entries()) {
        peer.send({ type: FrameType.REQUEST, requestId: i + 1, service: c.service, method: c.method });
        const frame = await ctx.response(peer, i + 1);
        const size = headerSize(frame.header, frame.body.length);
        expect(frame.header.dispatchCode === c.code, `dispatch code ${c.code} (not processed), never RESPONSE_TOO_LARGE`, `dispatch code ${frame.header.dispatchCode}`, "LIMIT-7");
        expect(size <= 4096 && frame.body.length === 0, "a header of at most 4096 bytes and no body", `${size} header bytes, ${frame.body.length} body bytes`, "LIMIT-7");
      }
    },
  },
  {
    name: "conformance-service/echo-response-size-bounded",
    section: "Appendix C Conformance service",
    requirements: ["CONF-8"],
    title: "Echo with response_size 2^32-1 and 16 MiB + 1 is answered HANDLER_ERROR at once, and the server answers on",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      for (const [i, responseSize] of [0xffffffff, 16 * 1024 * 1024 + 1].entries()) {
        ctx.sendCall(peer, "echo", { responseSize }, { id: i + 1 });
        expectDispatch(await ctx.response(peer, i + 1), DispatchCode.HANDLER_ERROR, "CONF-8");
      }
      await ctx.call(peer, "echo", { payload: Uint8Array.of(1) }, { id: 3 });
    },
  },
  {
    name: "idle/silent-connection-closed",
    section: "10 Heartbeats and idleness",
    requirements: ["IDLE-1", "IDLE-2"],
    title: "With idle_timeout_ms 500, a silent connection gets GOAWAY(IDLE_TIMEOUT), not before 500 ms",
    settings: { idleTimeoutMs: 500 },
    async run(ctx) {
      const peer = await ctx.connect();
      const started = performance.now();
      await expectConnectionError(peer, GoawayCode.IDLE_TIMEOUT, "IDLE-1", 3000);
      const ms = performance.now() - started;
      expect(ms >= 450, "no close before the idle timeout", `closed after ${ms.toFixed(0)} ms`, "IDLE-2");
    },
  },
  {
    name: "idle/pings-keep-connection-open",
    section: "10 Heartbeats and idleness",
    requirements: ["IDLE-2", "PING-4"],
    title: "With idle_timeout_ms 500, PINGs every 200 ms keep a connection open for 1.5 s",
    settings: { idleTimeoutMs: 500, minPingIntervalMs: 100 },
    async run(ctx) {
      const peer = await ctx.connect();
      for (let i = 0; i < 7; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        peer.send({ type: FrameType.PING }, Uint8Array.of(i));
      }
      expect(!peer.ended && !peer.frames.some((f) => f.header.type === FrameType.GOAWAY), "the connection still open, no GOAWAY", peer.describe(), "IDLE-2");
    },
  },
  {
    name: "idle/trickled-frame-keeps-connection-open",
    section: "10 Heartbeats and idleness",
    requirements: ["IDLE-1", "FRAME-3"],
    title: "With idle_timeout_ms 500, a PING whose 20 bytes arrive one every 150 ms (3 s in all) keeps the connection open: every byte is activity, not only whole frames",
    settings: { idleTimeoutMs: 500, minPingIntervalMs: 100 },
    async run(ctx) {
      const peer = await ctx.connect();
      const ping = encodeFrame({ type: FrameType.PING }, Uint8Array.from({ length: 16 }, (_, i) => i));
      for (const byte of ping) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(!peer.frames.some((f) => f.header.type === FrameType.GOAWAY), "no GOAWAY while the frame's bytes keep coming", peer.describe(), "IDLE-1");
        peer.write(Uint8Array.of(byte));
      }
      await peer.waitFor((f) => f.header.type === FrameType.PONG, "the PONG once the last byte arrived");
      expect(!peer.frames.some((f) => f.header.type === FrameType.GOAWAY), "no GOAWAY", peer.describe(), "IDLE-1");
    },
  },
  {
    name: "handshake/trickled-preface-still-times-out",
    section: "3 Connection lifecycle",
    requirements: ["PREFACE-6"],
    title: "With a 300 ms handshake timer, a preface sent one byte every 100 ms is closed well before its 7th byte (600 ms): received bytes do not restart the timer",
    settings: { handshakeTimeoutMs: 300 },
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false });
      const started = performance.now();
      // 7 of the 8 bytes, 100 ms apart, each well inside 300 ms of the last; a timer restarted by
      // every byte would close at 900 ms at the earliest.
      for (const byte of encodePreface().subarray(0, 7)) {
        if (peer.ended) break;
        peer.write(Uint8Array.of(byte));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await expectSilentClose(peer, "by the handshake timer, although a byte arrived every 100 ms", 3000);
      const closedAfter = performance.now() - started;
      expect(closedAfter < 800, "closed about 300 ms after accept (before 800 ms)", `closed after ${closedAfter.toFixed(0)} ms`, "PREFACE-6");
    },
  },
  {
    name: "handshake/incomplete-preface-times-out",
    section: "3 Connection lifecycle",
    requirements: ["PREFACE-6"],
    title: "With a 300 ms handshake timer, an incomplete preface is closed, with nothing written",
    settings: { handshakeTimeoutMs: 300 },
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false });
      peer.write(Uint8Array.of(0x53, 0x54, 0x52));
      await expectSilentClose(peer, "after 3 bytes of preface", 3000);
    },
  },
  {
    name: "handshake/missing-hello-times-out",
    section: "3 Connection lifecycle",
    requirements: ["HELLO-5"],
    title: "With a 300 ms handshake timer, a preface without a HELLO gets GOAWAY(HANDSHAKE_TIMEOUT)",
    settings: { handshakeTimeoutMs: 300 },
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false, frames: true });
      peer.write(encodePreface());
      await expectConnectionError(peer, GoawayCode.HANDSHAKE_TIMEOUT, "HELLO-5", 3000);
    },
  },
  {
    name: "ping/flood-may-be-refused",
    section: "10 Heartbeats and idleness",
    requirements: ["PING-7"],
    title: "Four PINGs at once get PONGs, or GOAWAY(TOO_MANY_PINGS); PINGs spaced by the minimum are always answered",
    settings: { minPingIntervalMs: 200, idleTimeoutMs: 2000 },
    async run(ctx) {
      const spaced = await ctx.connect();
      for (let i = 0; i < 3; i++) {
        spaced.send({ type: FrameType.PING }, Uint8Array.of(i));
        await new Promise((resolve) => setTimeout(resolve, 210));
      }
      await spaced.waitFor(() => spaced.frames.filter((f) => f.header.type === FrameType.PONG).length === 3, "3 PONGs for PINGs 210 ms apart");
      const flood = await ctx.connect();
      for (let i = 0; i < 4; i++) flood.send({ type: FrameType.PING }, Uint8Array.of(i));
      await flood.waitFor((f) => f.header.type === FrameType.GOAWAY || flood.frames.filter((g) => g.header.type === FrameType.PONG).length === 4, "4 PONGs, or GOAWAY(TOO_MANY_PINGS)");
      const goaway = flood.frames.find((f) => f.header.type === FrameType.GOAWAY);
      if (goaway) await expectConnectionError(flood, GoawayCode.TOO_MANY_PINGS, "PING-7");
    },
  },
];
