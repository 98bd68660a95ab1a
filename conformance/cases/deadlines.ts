// Section 9: deadlines and cancellation.
import { CallMode, DispatchCode, encodeFrame, FrameType } from "../../src/wire/index.ts";
import { create, toBinary } from "@bufbuild/protobuf";
import { RecordRequestSchema } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE, pause } from "../runner/context.ts";
import { expectDispatch } from "../runner/expectations.ts";

const section = "9 Deadlines and cancellation";

/** uint32 delays from the largest a runtime timer honours (2^31-1) up: the larger ones it ends after 1 ms. */
const PAST_RUNTIME_TIMERS = [2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];

export const deadlineCases: ConformanceCase[] = [
  {
    name: "deadlines/counted-from-the-end-of-the-header",
    section,
    requirements: ["DEADLINE-2", "DEADLINE-3", "STATUS-6"],
    title: "A request whose header arrives, then whose body trickles in over 1.2 s, past its timeout_ms of 150, is DEADLINE_EXPIRED and never runs: the deadline counts from the header",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const tag = ctx.uniqueTag("header-deadline");
      const frame = encodeFrame(
        { type: FrameType.REQUEST, requestId: 1, service: CONFORMANCE_SERVICE, method: "Record", callMode: CallMode.UNARY, timeoutMs: 150 },
        toBinary(RecordRequestSchema, create(RecordRequestSchema, { tag })),
      );
      const bodyAt = frame.length - tag.length - 2;
      // The header and the first body byte; the rest in three pieces 400 ms apart (1.2 s in all).
      peer.write(frame.subarray(0, bodyAt + 1));
      const rest = frame.subarray(bodyAt + 1);
      const third = Math.ceil(rest.length / 3);
      for (let i = 0; i < 3; i++) {
        await pause(400);
        peer.write(rest.subarray(i * third, (i + 1) * third));
      }
      const response = await ctx.response(peer, 1);
      expectDispatch(response, DispatchCode.DEADLINE_EXPIRED, "DEADLINE-2");
      const { entries } = await ctx.call(peer, "recorded", { prefix: `record:${tag}` }, { id: 3 });
      expect(entries.length === 0, "the request never ran", `${entries.length} log entries`, "STATUS-6");
    },
  },
  {
    name: "deadlines/expired-on-arrival-not-started",
    section,
    requirements: ["DEADLINE-1", "DEADLINE-3", "STATUS-6"],
    title: "timeout_ms 0 is answered DEADLINE_EXPIRED and the handler never starts",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const tag = ctx.uniqueTag("expired");
      ctx.sendCall(peer, "sleep", { ms: 1, tag }, { id: 1, timeoutMs: 0 });
      expectDispatch(await ctx.response(peer, 1), DispatchCode.DEADLINE_EXPIRED, "DEADLINE-3");
      await new Promise((resolve) => setTimeout(resolve, 50));
      const { entries } = await ctx.call(peer, "recorded", { prefix: `sleep:${tag}` }, { id: 2 });
      expect(entries.length === 0, "no trace of the Sleep handler", JSON.stringify(entries), "STATUS-6");
    },
  },
  {
    name: "deadlines/remaining-time-is-relative",
    section,
    requirements: ["DEADLINE-2", "CONF-6"],
    title: "The handler sees the remaining time the client sent (1500 ms), and no deadline when none was sent",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const timed = await ctx.call(peer, "info", {}, { id: 1, timeoutMs: 1500 });
      expect(timed.hasDeadline && timed.remainingMs > 1000 && timed.remainingMs <= 1500, "a deadline with 1000 < remaining <= 1500 ms", `has_deadline ${timed.hasDeadline}, remaining ${timed.remainingMs}`, "DEADLINE-2");
      const untimed = await ctx.call(peer, "info", {}, { id: 2 });
      expect(!untimed.hasDeadline, "no deadline when timeout_ms is absent", `has_deadline ${untimed.hasDeadline}`, "DEADLINE-1");
    },
  },
  {
    name: "deadlines/signal-fires-at-deadline",
    section,
    requirements: ["DEADLINE-4", "CONF-3"],
    title: "A handler still running at its deadline is told to stop",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const tag = ctx.uniqueTag("deadline");
      ctx.sendCall(peer, "sleep", { ms: 5000, tag }, { id: 1, timeoutMs: 100 });
      const entries = await ctx.pollLog(`sleep:${tag}`);
      expect(entries[0] === `sleep:${tag}:interrupted`, `sleep:${tag}:interrupted within 3 s`, JSON.stringify(entries), "DEADLINE-4");
    },
  },
  {
    name: "deadlines/sleep-of-any-uint32-lasts",
    section,
    requirements: ["CONF-3", "DEADLINE-4"],
    title: "Sleep of 2^31-1, 2^31 and 2^32-1 ms runs until its 150 ms deadline stops it (runtime timers end such delays after 1 ms)",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      for (const [i, ms] of PAST_RUNTIME_TIMERS.entries()) {
        const tag = ctx.uniqueTag(`long-${i}`);
        const sent = performance.now();
        ctx.sendCall(peer, "sleep", { ms, tag }, { id: 100 * i + 1, timeoutMs: 150 });
        const entries = await ctx.pollLog(`sleep:${tag}`);
        const ended = performance.now() - sent;
        expect(entries[0] === `sleep:${tag}:interrupted`, `Sleep(${ms}) sleep:${tag}:interrupted by its deadline`, JSON.stringify(entries), "CONF-3");
        expect(ended >= 140, `Sleep(${ms}) to last until its deadline (150 ms)`, `its log entry came after ${ended.toFixed(0)} ms`, "CONF-3");
      }
    },
  },
  {
    name: "deadlines/long-timeouts-not-expired",
    section,
    requirements: ["DEADLINE-2", "DEADLINE-3"],
    title: "timeout_ms of 2^31-1, 2^31 and 2^32-1 (what clients send for long deadlines [DEADLINE-7]) is a deadline that far off: Info sees it, and a Sleep of 100 ms under it completes (runtime timers end such delays after 1 ms)",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      for (const [i, timeoutMs] of PAST_RUNTIME_TIMERS.entries()) {
        const info = await ctx.call(peer, "info", {}, { id: 100 * i + 1, timeoutMs });
        expect(info.hasDeadline && info.remainingMs > timeoutMs - 60_000, `timeout_ms ${timeoutMs}: a deadline with more than ${timeoutMs - 60_000} ms left`, `has_deadline ${info.hasDeadline}, remaining ${info.remainingMs}`, "DEADLINE-2");
        const tag = ctx.uniqueTag(`long-deadline-${i}`);
        ctx.sendCall(peer, "sleep", { ms: 100, tag }, { id: 100 * i + 2, timeoutMs });
        expectDispatch(await ctx.response(peer, 100 * i + 2), DispatchCode.OK, "DEADLINE-3");
        const entries = await ctx.pollLog(`sleep:${tag}`);
        expect(entries[0] === `sleep:${tag}:completed`, `timeout_ms ${timeoutMs}: sleep:${tag}:completed`, JSON.stringify(entries), "DEADLINE-2");
      }
    },
  },
  {
    name: "cancel/signal-fires-on-cancel",
    section,
    requirements: ["CANCEL-1", "CANCEL-2"],
    title: "A CANCEL tells the running handler to stop",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const tag = ctx.uniqueTag("cancel");
      ctx.sendCall(peer, "sleep", { ms: 5000, tag }, { id: 1 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      peer.send({ type: FrameType.CANCEL, requestId: 1 });
      const entries = await ctx.pollLog(`sleep:${tag}`);
      expect(entries[0] === `sleep:${tag}:interrupted`, `sleep:${tag}:interrupted within 3 s`, JSON.stringify(entries), "CANCEL-2");
    },
  },
  {
    name: "cancel/disconnect-stops-handlers",
    section,
    requirements: ["DRAIN-9"],
    title: "When the client's connection ends, its running unary handlers are told to stop",
    usesConformanceService: true,
    async run(ctx) {
      const first = await ctx.connect();
      const tag = ctx.uniqueTag("disconnect");
      ctx.sendCall(first, "sleep", { ms: 5000, tag }, { id: 1 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      first.close();
      const observer = await ctx.connect();
      const entries = await ctx.pollLog(`sleep:${tag}`);
      expect(entries[0] === `sleep:${tag}:interrupted`, `sleep:${tag}:interrupted within 3 s`, JSON.stringify(entries), "DRAIN-9");
    },
  },
];
