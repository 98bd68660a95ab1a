// Sections 10, 14 and 3: cases that need the server started with other
// settings (spawn mode).
import { CallMode, DispatchCode, encodeFrame, encodeHello, encodePreface, FrameType, GoawayCode, headerSize, resolveFrameLimits, type Frame } from "../../src/wire/index.ts";
import { dispatchCodeName, dispatchProcessed } from "../../src/status/index.ts";
import { expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE, pause, type CaseContext } from "../runner/context.ts";
import { expectConnectionError, expectDispatch, expectSilentClose } from "../runner/expectations.ts";
import type { Peer } from "../runner/peer.ts";


/** A holder's Sleep bound: it outlasts the case; its deadline, its CANCEL or the case's end stops it. */
const HOLD_MS = 20_000;

/**
 * One connection of a slots case, with its own request ids: fills the
 * connection's max_concurrent_requests slots with holders and checks that
 * one more is refused [LIMIT-5].
 */
class Slots {
  readonly ctx: CaseContext;
  readonly peer: Peer;
  private nextId = 1;

  constructor(ctx: CaseContext, peer: Peer) {
    this.ctx = ctx;
    this.peer = peer;
  }

  /** The max_concurrent_requests the server declared. */
  get limit(): number {
    return this.peer.hello!.maxConcurrentRequests;
  }

  /** Allocates the next request id. */
  id(): number {
    return this.nextId++;
  }

  /** What arrived for request `id`, for Actual. */
  describeId(id: number): string {
    const frames = this.peer.frames.filter((f) => f.header.requestId === id && f.header.type !== FrameType.HELLO);
    if (frames.length === 0) return `nothing for request ${id}`;
    return frames.map((f) => (f.header.type === FrameType.ACK ? `ACK ${id}` : `RESPONSE ${id} ${dispatchCodeName(f.header.dispatchCode)} "${f.header.dispatchMessage}"`)).join(", ");
  }

  /**
   * Sends `count` acked Sleeps of `ms` (tagged `tag`-0, `tag`-1, …) in one write and waits for each one's
   * ACK: each then holds a slot until it ends (after `ms`, at its `timeoutMs`,
   * at a CANCEL, or at the case's end). A RESPONSE before the ACK means it was
   * refused: a slot was missing.
   */
  async occupy(count: number, what: string, { ms = HOLD_MS, timeoutMs, tag = this.ctx.uniqueTag("hold") }: { ms?: number; timeoutMs?: number; tag?: string } = {}): Promise<number[]> {
    const ids = Array.from({ length: count }, () => this.id());
    const deadline = timeoutMs === undefined ? {} : { timeoutMs };
    this.peer.write(Buffer.concat(ids.map((id, i) => this.ctx.encodeCall("sleep", { ms, tag: `${tag}-${i}` }, { id, mode: CallMode.ACKED, ...deadline }))));
    for (const id of ids) {
      const first = await this.peer.waitFor((f) => f.header.requestId === id && (f.header.type === FrameType.ACK || f.header.type === FrameType.RESPONSE), `an ACK for request ${id}`);
      expect(first.header.type === FrameType.ACK, `${what}: all ${count} requests admitted (ACKed), request ${id} too`, this.describeId(id), "LIMIT-5");
    }
    return ids;
  }

  /** Sends one more (acked) request while every slot is taken: refused OVERLOADED, with no ACK [LIMIT-5] [CALL-6]. */
  async expectFull(what: string): Promise<void> {
    const id = this.id();
    this.ctx.sendCall(this.peer, "echo", { payload: Uint8Array.of(1) }, { id, mode: CallMode.ACKED });
    const frame = await this.ctx.response(this.peer, id);
    expect(frame.header.dispatchCode === DispatchCode.OVERLOADED, `${what}: request ${id}, over the limit of ${this.limit}, refused OVERLOADED`, this.describeId(id), "LIMIT-5");
    expect(!this.peer.frames.some((f) => f.header.type === FrameType.ACK && f.header.requestId === id), `${what}: no ACK for the refused request ${id}`, this.describeId(id), "CALL-6");
  }

  /** The final check of a case: exactly `limit` long requests are admitted, the next one is refused. */
  async expectExactLimit(what: string): Promise<void> {
    await this.occupy(this.limit, what);
    await this.expectFull(what);
  }

  /**
   * Waits until the connection admits `limit` requests again, for requests
   * that stop counting only when their handler returns (oneway ones,
   * cancelled ones, and in one reading of [LIMIT-5] ones answered early):
   * probes with `limit` acked Echos in one write, again on any OVERLOADED,
   * for up to 3 s. A slot that leaked never comes back, and the case's
   * final check then fails [LIMIT-5] [CANCEL-4].
   */
  async untilFree(): Promise<void> {
    const end = performance.now() + 3000;
    for (;;) {
      const ids = idsOf(this, this.limit);
      this.peer.write(Buffer.concat(ids.map((id) => this.ctx.encodeCall("echo", { payload: Uint8Array.of(1) }, { id, mode: CallMode.ACKED }))));
      const answers = await Promise.all(ids.map((id) => this.response(id)));
      if (answers.every((f) => f.header.dispatchCode === DispatchCode.OK) || performance.now() > end) return;
      await pause(25);
    }
  }

  /** Waits for the RESPONSE to `id`. */
  response(id: number, timeoutMs?: number): Promise<Frame> {
    return this.ctx.response(this.peer, id, timeoutMs);
  }

  cancel(id: number): void {
    this.peer.send({ type: FrameType.CANCEL, requestId: id });
  }

  /** Polls the server-wide log (on this connection) until `count` entries start with `prefix`, or `timeoutMs` passes [CONF-4]. */
  logEntries(prefix: string, count: number, timeoutMs = 3000): Promise<string[]> {
    return this.ctx.pollLog(prefix, (entries) => entries.length >= count, timeoutMs);
  }
}

/**
 * Opens the connection of a slots case. The server was started with
 * max_concurrent_requests 2; what it declared is the limit checked
 * (limits/over-max-concurrent-requests checks that it is 2).
 */
async function slotsOn(ctx: CaseContext): Promise<Slots> {
  const slots = new Slots(ctx, await ctx.connect());
  expect(slots.limit > 0, "a max_concurrent_requests in the HELLO (the server was started with 2)", String(slots.limit), "LIMIT-5");
  return slots;
}

/** `count` new request ids. */
const idsOf = (s: Slots, count: number) => Array.from({ length: count }, () => s.id());

/** A REQUEST for the conformance service's Echo whose body is not an EchoRequest: a length-delimited field 1 cut short. */
function undecodableEcho(id: number, mode: CallMode): Uint8Array {
  return encodeFrame({ type: FrameType.REQUEST, requestId: id, service: CONFORMANCE_SERVICE, method: "Echo", callMode: mode }, Uint8Array.of(0x0a, 0x05, 0x61));
}

const MODES = [CallMode.UNARY, CallMode.ACKED, CallMode.ONEWAY] as const;
const modeName = (mode: CallMode) => (mode === CallMode.ONEWAY ? "oneway" : mode === CallMode.ACKED ? "acked" : "unary");

/** The cases of [LIMIT-5]'s slot accounting: what takes a slot, and when it is given back. */
const slotCases: ConformanceCase[] = [
  {
    name: "limits/refusals-take-no-slot",
    section: "14 Limits",
    requirements: ["LIMIT-5", "CALL-5", "CALL-6", "STATUS-6"],
    title: "With max_concurrent_requests 2, 45 requests refused at admission (unknown method, undecodable body, expired deadline; unary, acked, oneway) and 12 refused OVERLOADED take no slot: then 2 long requests are admitted and a 3rd refused",
    usesConformanceService: true,
    settings: { maxConcurrentRequests: 2 },
    async run(ctx) {
      const s = await slotsOn(ctx);
      const answered: number[] = [];
      const batch: Uint8Array[] = [];
      for (let round = 0; round < 5; round++) {
        for (const mode of MODES) {
          const ids = [s.id(), s.id(), s.id()];
          batch.push(
            encodeFrame({ type: FrameType.REQUEST, requestId: ids[0]!, service: CONFORMANCE_SERVICE, method: "NoSuchMethod", callMode: mode }),
            undecodableEcho(ids[1]!, mode),
            ctx.encodeCall("echo", { payload: Uint8Array.of(1) }, { id: ids[2]!, mode, timeoutMs: 0 }),
          );
          if (mode !== CallMode.ONEWAY) answered.push(...ids);
        }
      }
      s.peer.write(Buffer.concat(batch));
      for (const id of answered) {
        const frame = await s.response(id);
        expect(dispatchProcessed(frame.header.dispatchCode) === "no", `request ${id} refused at admission (not processed)`, s.describeId(id), "STATUS-6");
        expect(!s.peer.frames.some((f) => f.header.type === FrameType.ACK && f.header.requestId === id), `no ACK for the refused request ${id}`, s.describeId(id), "CALL-6");
      }
      // Holders that complete after 1.2 s: their slots are free for certain once they are answered.
      const holders = await s.occupy(s.limit, "after 45 refusals at admission", { ms: 1200 });
      const overloaded: number[] = [];
      const full: Uint8Array[] = [];
      for (let i = 0; i < 4; i++) {
        for (const mode of MODES) {
          const id = s.id();
          full.push(ctx.encodeCall("echo", { payload: Uint8Array.of(1) }, { id, mode }));
          if (mode !== CallMode.ONEWAY) overloaded.push(id);
        }
      }
      s.peer.write(Buffer.concat(full));
      for (const id of overloaded) {
        const frame = await s.response(id);
        expect(frame.header.dispatchCode === DispatchCode.OVERLOADED, `request ${id}, sent while ${s.limit} holders run, refused OVERLOADED`, s.describeId(id), "LIMIT-5");
        expect(!s.peer.frames.some((f) => f.header.type === FrameType.ACK && f.header.requestId === id), `no ACK for the refused request ${id}`, s.describeId(id), "CALL-6");
      }
      for (const id of holders) await s.response(id, 5000);
      await s.expectExactLimit("after 45 refusals at admission and 12 refusals OVERLOADED");
    },
  },
  {
    name: "limits/early-deadline-answer-frees-slot",
    section: "14 Limits",
    requirements: ["LIMIT-5", "DEADLINE-4", "CALL-6"],
    title: "With max_concurrent_requests 2, requests whose deadline (500 ms) passes while their handlers run stop counting once answered and ended: after 3 rounds of 2 such requests, 2 long requests are admitted and a 3rd refused",
    usesConformanceService: true,
    settings: { maxConcurrentRequests: 2 },
    async run(ctx) {
      const s = await slotsOn(ctx);
      const observer = new Slots(ctx, await ctx.connect());
      const base = ctx.uniqueTag("early");
      for (let round = 1; round <= 3; round++) {
        const ids = await s.occupy(s.limit, `round ${round} of requests with a 500 ms deadline`, { timeoutMs: 500, tag: `${base}-${round}` });
        for (const id of ids) {
          // DEADLINE_EXCEEDED at once, or the handler's own answer when it returns: both conformant [DEADLINE-4].
          const frame = await s.response(id);
          expect(dispatchProcessed(frame.header.dispatchCode) !== "no", `request ${id}, admitted, answered DEADLINE_EXCEEDED or by its handler`, s.describeId(id), "DEADLINE-4");
        }
        // [LIMIT-5] frees a slot at the RESPONSE, but calls a request whose handler runs on "running"
        // ([KEYS-3]): wait for the handlers' end too, so that both readings pass and a leak does not.
        const ended = await observer.logEntries(`sleep:${base}-${round}-`, ids.length);
        expect(ended.length === ids.length, `round ${round}: all ${ids.length} handlers stopped by their deadline`, JSON.stringify(ended), "DEADLINE-4");
        await s.untilFree();
      }
      await s.expectExactLimit("after 3 rounds of requests answered at their deadline");
    },
  },
  {
    name: "limits/slots-freed-after-unary-and-acked-calls",
    section: "14 Limits",
    requirements: ["LIMIT-5", "CALL-6"],
    title: "With max_concurrent_requests 2, after 4 rounds of 2 concurrent unary or acked calls that succeed, each round wholly admitted, 2 long requests are admitted and a 3rd refused",
    usesConformanceService: true,
    settings: { maxConcurrentRequests: 2 },
    async run(ctx) {
      const s = await slotsOn(ctx);
      for (let round = 1; round <= 4; round++) {
        const mode = round % 2 === 0 ? CallMode.ACKED : CallMode.UNARY;
        const ids = idsOf(s, s.limit);
        s.peer.write(Buffer.concat(ids.map((id) => ctx.encodeCall("echo", { delayMs: 100, payload: Uint8Array.of(id) }, { id, mode }))));
        for (const id of ids) {
          const frame = await s.response(id);
          expect(frame.header.dispatchCode === DispatchCode.OK, `round ${round}: ${modeName(mode)} request ${id} admitted and answered OK`, s.describeId(id), "LIMIT-5");
        }
      }
      await s.expectExactLimit("after 4 rounds of successful calls");
    },
  },
  {
    name: "limits/slots-freed-after-handler-failures",
    section: "14 Limits",
    requirements: ["LIMIT-5", "CALL-6"],
    title: "With max_concurrent_requests 2, after 3 rounds of 2 concurrent calls whose handlers fail (application error, HANDLER_ERROR chosen, handler throwing), each round wholly admitted, 2 long requests are admitted and a 3rd refused",
    usesConformanceService: true,
    settings: { maxConcurrentRequests: 2 },
    async run(ctx) {
      const s = await slotsOn(ctx);
      const failures = [
        { delayMs: 100, status: { appCode: 9, message: "no such account" } },
        { delayMs: 100, status: { dispatchCode: DispatchCode.HANDLER_ERROR, message: "failed" } },
        // Above Echo's 16 MiB bound: the handler throws, answered HANDLER_ERROR [CONF-8].
        { delayMs: 100, responseSize: 0xffffffff },
      ];
      for (let round = 1; round <= 3; round++) {
        const ids = idsOf(s, s.limit);
        const mode = round === 2 ? CallMode.ACKED : CallMode.UNARY;
        s.peer.write(Buffer.concat(ids.map((id, i) => ctx.encodeCall("echo", failures[(round + i) % failures.length]!, { id, mode }))));
        for (const id of ids) {
          const { header } = await s.response(id);
          expect(dispatchProcessed(header.dispatchCode) !== "no" && (header.appCode !== 0 || header.dispatchCode !== DispatchCode.OK), `round ${round}: request ${id} admitted, and answered with its handler's failure`, s.describeId(id), "LIMIT-5");
        }
      }
      await s.expectExactLimit("after 3 rounds of failed calls");
    },
  },
  {
    name: "limits/slots-freed-after-oneway-calls",
    section: "14 Limits",
    requirements: ["LIMIT-5", "CALL-5", "CALL-6"],
    title: "With max_concurrent_requests 2, after 3 rounds of 2 concurrent oneway Sleeps, each round wholly run (a refused oneway is dropped and never logs), 2 long requests are admitted and a 3rd refused",
    usesConformanceService: true,
    settings: { maxConcurrentRequests: 2 },
    async run(ctx) {
      const s = await slotsOn(ctx);
      // The log is read on a second connection: its own slots, and no request of the first one waits on it.
      const observer = new Slots(ctx, await ctx.connect());
      const base = ctx.uniqueTag("oneway");
      for (let round = 1; round <= 3; round++) {
        const tags = Array.from({ length: s.limit }, (_, i) => `${base}-${round}-${i}`);
        s.peer.write(Buffer.concat(tags.map((tag) => ctx.encodeCall("sleep", { ms: 100, tag }, { id: s.id(), mode: CallMode.ONEWAY }))));
        const entries = await observer.logEntries(`sleep:${base}-${round}-`, tags.length);
        for (const tag of tags) {
          expect(entries.includes(`sleep:${tag}:completed`), `round ${round}: all ${tags.length} oneway Sleeps admitted and run, sleep:${tag}:completed logged`, JSON.stringify(entries), "LIMIT-5");
        }
        // A oneway request stops counting when its handler returns, just after its log entry [LIMIT-5].
        await s.untilFree();
      }
      await s.expectExactLimit("after 3 rounds of oneway calls");
    },
  },
  {
    name: "limits/cancelled-requests-free-their-slots",
    section: "14 Limits",
    requirements: ["LIMIT-5", "CANCEL-2", "CANCEL-4", "CALL-6"],
    title: "With max_concurrent_requests 2, 2 running requests CANCELled stop counting no later than when their handlers return: after 3 rounds (acked, unary), 2 long requests are admitted and a 3rd refused",
    usesConformanceService: true,
    settings: { maxConcurrentRequests: 2 },
    async run(ctx) {
      const s = await slotsOn(ctx);
      const observer = new Slots(ctx, await ctx.connect());
      const base = ctx.uniqueTag("cancelled");
      for (let round = 1; round <= 3; round++) {
        const mode = round === 2 ? CallMode.UNARY : CallMode.ACKED;
        const tags = Array.from({ length: s.limit }, (_, i) => `${base}-${round}-${i}`);
        const ids = tags.map((tag) => {
          const id = s.id();
          ctx.sendCall(s.peer, "keyedWork", { tag, holdMs: HOLD_MS }, { id, mode });
          return id;
        });
        // All started (KeyedWork logs start:<tag> first), so all held a slot at once [CONF-5].
        const started = await observer.logEntries(`start:${base}-${round}-`, tags.length);
        expect(started.length === tags.length, `round ${round}: all ${tags.length} ${modeName(mode)} requests admitted and started`, `log ${JSON.stringify(started)}; ${ids.map((id) => s.describeId(id)).join("; ")}`, "LIMIT-5");
        for (const id of ids) s.cancel(id);
        // They may still be answered, with any code [CANCEL-4]; their handlers end, and log end:<tag> as they return [CANCEL-2].
        const ended = await observer.logEntries(`end:${base}-${round}-`, tags.length);
        expect(ended.length === tags.length, `round ${round}: all ${tags.length} cancelled handlers ended`, JSON.stringify(ended), "CANCEL-2");
        // The latest a cancelled request stops counting is when its handler returns, just after end:<tag> [CANCEL-4].
        await s.untilFree();
      }
      await s.expectExactLimit("after 3 rounds of cancelled requests");
    },
  },
  {
    name: "limits/ack-only-for-admitted-requests",
    section: "14 Limits",
    requirements: ["CALL-6", "CALL-7", "LIMIT-5"],
    title: "With max_concurrent_requests 2, 4 acked calls in one write: the first 2 get their ACK before their RESPONSE, the last 2 only a RESPONSE OVERLOADED and never an ACK",
    usesConformanceService: true,
    settings: { maxConcurrentRequests: 2 },
    async run(ctx) {
      const s = await slotsOn(ctx);
      const ids = idsOf(s, s.limit + 2);
      s.peer.write(Buffer.concat(ids.map((id) => ctx.encodeCall("echo", { delayMs: 300, payload: Uint8Array.of(id) }, { id, mode: CallMode.ACKED }))));
      for (const id of ids) await s.response(id);
      const frames = s.peer.frames;
      const index = (id: number, type: FrameType) => frames.findIndex((f) => f.header.type === type && f.header.requestId === id);
      for (const id of ids.slice(0, s.limit)) {
        const response = frames[index(id, FrameType.RESPONSE)]!;
        expect(response.header.dispatchCode === DispatchCode.OK, `request ${id}, within the limit, admitted and answered OK`, s.describeId(id), "LIMIT-5");
        const ack = index(id, FrameType.ACK);
        expect(ack >= 0 && ack < index(id, FrameType.RESPONSE), `request ${id}'s ACK before its RESPONSE`, s.describeId(id), "CALL-6");
      }
      for (const id of ids.slice(s.limit)) {
        const response = frames[index(id, FrameType.RESPONSE)]!;
        expect(response.header.dispatchCode === DispatchCode.OVERLOADED, `request ${id}, over the limit, refused OVERLOADED`, s.describeId(id), "LIMIT-5");
        // The admitted ones' RESPONSEs came 300 ms after these refusals: a late ACK would have come by now.
        expect(index(id, FrameType.ACK) < 0, `no ACK ever for request ${id}, refused for concurrency`, s.describeId(id), "CALL-6");
      }
      for (const id of ids) {
        const count = frames.filter((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === id).length;
        expect(count === 1, `exactly one RESPONSE to request ${id}`, s.describeId(id), "CALL-7");
      }
    },
  },
];

/**
 * Sends the requests `named` gives for the room the server's header limit leaves (names too long for
 * a refusal quoting them in full to fit 4096 bytes), on a connection declaring max_header_size 4096,
 * and checks each is refused with its not-processed code in a header of at most 4096 bytes [LIMIT-7].
 */
async function refusalsFitBaseline(ctx: CaseContext, named: (room: number) => Array<{ service: string; method: string; code: DispatchCode }>): Promise<void> {
  const peer = await ctx.connect({ hello: { maxHeaderSize: 4096 } });
  const limit = resolveFrameLimits(peer.hello!).maxHeaderSize;
  for (const [i, c] of named(Math.min(limit, 16384) - 64).entries()) {
    peer.send({ type: FrameType.REQUEST, requestId: i + 1, service: c.service, method: c.method });
    const frame = await ctx.response(peer, i + 1);
    const size = headerSize(frame.header, frame.body.length);
    expect(frame.header.dispatchCode === c.code, `dispatch code ${c.code} (not processed), never RESPONSE_TOO_LARGE`, `dispatch code ${frame.header.dispatchCode}`, "LIMIT-7");
    expect(size <= 4096 && frame.body.length === 0, "a header of at most 4096 bytes and no body", `${size} header bytes, ${frame.body.length} body bytes`, "LIMIT-7");
  }
}

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
  ...slotCases,
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
    title: "Refusals of requests with long unknown service names, to a client declaring the baseline 4096, keep their not-processed code and fit the baseline",
    run: (ctx) =>
      refusalsFitBaseline(ctx, (room) => [
        { service: "s".repeat(room), method: "m", code: DispatchCode.UNKNOWN_SERVICE },
        { service: "x".repeat(room / 2), method: "y".repeat(room / 2 - 20), code: DispatchCode.UNKNOWN_SERVICE },
      ]),
  },
  {
    name: "limits/unknown-method-refusal-fits-client-limit",
    section: "14 Limits",
    requirements: ["LIMIT-7", "STATUS-6", "STATUS-4"],
    title: "The refusal of a request with a long unknown method name of a known service, to a client declaring the baseline 4096, keeps UNKNOWN_METHOD and fits the baseline",
    // A known service is needed for UNKNOWN_METHOD: the conformance service is the one every server under test may offer.
    usesConformanceService: true,
    run: (ctx) => refusalsFitBaseline(ctx, (room) => [{ service: CONFORMANCE_SERVICE, method: "é".repeat(Math.floor(room / 2) - 40), code: DispatchCode.UNKNOWN_METHOD }]),
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
    title: "With idle_timeout_ms 1500, a PING whose 20 bytes arrive one every 150 ms (3 s in all) keeps the connection open: every byte is activity, not only whole frames",
    settings: { idleTimeoutMs: 1500, minPingIntervalMs: 100 },
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
    title: "With a 300 ms handshake timer, a preface and HELLO sent one byte every 100 ms are closed within 1.5 s: received bytes do not restart the timer",
    settings: { handshakeTimeoutMs: 300 },
    async run(ctx) {
      const peer = await ctx.connect({ handshake: false });
      const started = performance.now();
      // About 40 bytes, 100 ms apart, each well inside 300 ms of the last: a timer restarted by every
      // byte would not fire before the last one, 4 s from now.
      const handshake = Uint8Array.from([...encodePreface(), ...encodeFrame({ type: FrameType.HELLO }, encodeHello({ pingIntervalMs: 60_000, agent: "strata-conformance" }))]);
      for (const byte of handshake) {
        if (peer.ended) break;
        peer.write(Uint8Array.of(byte));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // Closed silently during the preface, or with GOAWAY(HANDSHAKE_TIMEOUT) during the HELLO on a slow machine [HELLO-5].
      await peer.waitForClose("a close by the handshake timer, although a byte arrived every 100 ms", 3000);
      const closedAfter = performance.now() - started;
      expect(closedAfter < 1500, "closed about 300 ms after accept (within 1.5 s)", `closed after ${closedAfter.toFixed(0)} ms`, "PREFACE-6");
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
