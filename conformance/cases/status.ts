// Section 8: the dispatch and application layers.
import fc from "fast-check";
import { fromBinary } from "@bufbuild/protobuf";
import { ErrorDetailsSchema } from "../../src/gen/strata/v1/frame_pb.ts";
import { SleepResponseSchema } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { DEFAULT_LIMITS, DispatchCode, FrameType } from "../../src/wire/index.ts";
import { expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE } from "../runner/context.ts";
import { expectDispatch, hexOf } from "../runner/expectations.ts";
import { lengthUpTo } from "../runner/sizes.ts";

/**
 * The longest message whose RESPONSE header fits the suite's header limit
 * (its HELLO leaves max_header_size 0: the default [HELLO-6]), with room for
 * the other fields.
 */
const MAX_MESSAGE_BYTES = DEFAULT_LIMITS.maxHeaderSize - 64;

/** Text of exactly `bytes` UTF-8 bytes, mixing 1-, 2-, 3- and 4-byte characters, ending where it must. */
function textOfBytes(bytes: number, seed: number): string {
  const pieces = ["a", "é", "€", "😀", " ", "\n"];
  let text = "";
  let size = 0;
  for (let i = seed; ; i++) {
    const piece = pieces[i % pieces.length]!;
    const n = new TextEncoder().encode(piece).length;
    if (size + n > bytes) break;
    text += piece;
    size += n;
  }
  return text + "z".repeat(bytes - size);
}

const section = "8 Status";

/** Messages with whitespace at the ends, controls and characters beyond the BMP. */
const awkwardText = fc.oneof(
  fc.constantFrom("", " ", "  both ends  ", "tab\there", "line\nbreak", "😀 𝄞 beyond the BMP", "é\u0301 combining", "\u0000 nul"),
  fc.string({ unit: "binary", maxLength: 40 }).map((s) => s.replace(/[\ud800-\udfff]/g, "\ufffd")),
);

export const statusCases: ConformanceCase[] = [
  {
    name: "status/unknown-service",
    section,
    requirements: ["STATUS-4", "STATUS-5", "STATUS-10"],
    title: "A request to a service the server does not have is answered UNKNOWN_SERVICE with a message",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.REQUEST, requestId: 1, service: "no.such.v1.Service", method: "M" });
      const frame = await peer.waitFor((f) => f.header.requestId === 1, "a RESPONSE to request 1");
      expectDispatch(frame, DispatchCode.UNKNOWN_SERVICE, "STATUS-4");
      expect(frame.header.dispatchMessage.length > 0, "a dispatch_message naming the cause", "an empty message", "STATUS-5");
      expect(frame.header.appCode === 0 && frame.header.appMessage === "", "no application status with a dispatch error", `app_code ${frame.header.appCode}`, "STATUS-10");
    },
  },
  {
    name: "status/unknown-method",
    section,
    requirements: ["STATUS-4"],
    title: "A request to a method the service does not have is answered UNKNOWN_METHOD",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.REQUEST, requestId: 1, service: CONFORMANCE_SERVICE, method: "NoSuchMethod" });
      expectDispatch(await ctx.response(peer, 1), DispatchCode.UNKNOWN_METHOD, "STATUS-4");
    },
  },
  {
    name: "status/undecodable-input",
    section,
    requirements: ["STATUS-4", "STATUS-6"],
    title: "A body that is not the method's input is answered INVALID_ARGUMENT, and the handler does not run",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const tag = `invalid-${Math.random().toString(36).slice(2)}`;
      // Record with a body whose field 1 runs past the end.
      peer.send({ type: FrameType.REQUEST, requestId: 1, service: CONFORMANCE_SERVICE, method: "Record" }, Uint8Array.of(0x0a, 0x20, ...new TextEncoder().encode(tag)));
      expectDispatch(await ctx.response(peer, 1), DispatchCode.INVALID_ARGUMENT, "STATUS-4");
      const log = await ctx.call(peer, "recorded", { prefix: `record:${tag.slice(0, 8)}` }, { id: 2 });
      expect(log.entries.length === 0, "no Record handler ran", JSON.stringify(log.entries), "STATUS-6");
    },
  },
  {
    name: "status/application-errors-byte-for-byte",
    section,
    requirements: ["STATUS-8", "STATUS-1"],
    title: "Application codes and messages (whitespace, controls, beyond the BMP) arrive byte for byte (property)",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      let id = 0;
      await ctx.property(fc.tuple(fc.integer({ min: 1, max: 0xffffffff }), awkwardText), async ([appCode, message]) => {
        id++;
        ctx.sendCall(peer, "echo", { status: { appCode, message } }, { id });
        const frame = await ctx.response(peer, id);
        expectDispatch(frame, DispatchCode.OK, "STATUS-1");
        expect(frame.header.appCode === appCode, `app_code ${appCode}`, `app_code ${frame.header.appCode}`, "STATUS-8");
        expect(frame.header.appMessage === message, `app_message ${JSON.stringify(message)}`, JSON.stringify(frame.header.appMessage), "STATUS-8");
      });
    },
  },
  {
    name: "status/long-messages-byte-for-byte",
    section,
    requirements: ["STATUS-8", "STATUS-5"],
    title: "Application and dispatch messages of 1 KiB, 4 KiB and up to the header limit (multi-byte text) arrive byte for byte: 1 KiB, 4 KiB and the largest always, then any length (property)",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      let id = 0;
      const check = async (bytes: number) => {
        const message = textOfBytes(bytes, bytes);
        id++;
        ctx.sendCall(peer, "echo", { status: { appCode: 9, message } }, { id });
        const app = await ctx.response(peer, id);
        expect(app.header.appMessage === message, `an app_message of ${bytes} bytes unchanged`, `${new TextEncoder().encode(app.header.appMessage).length} bytes${app.header.appMessage === message.slice(0, app.header.appMessage.length) ? " (cut short)" : " (differing)"}`, "STATUS-8");
        id++;
        ctx.sendCall(peer, "echo", { status: { dispatchCode: DispatchCode.HANDLER_CRASHED, message } }, { id });
        const dispatch = await ctx.response(peer, id);
        expectDispatch(dispatch, DispatchCode.HANDLER_CRASHED, "STATUS-4");
        expect(dispatch.header.dispatchMessage === message, `a dispatch_message of ${bytes} bytes unchanged`, `${new TextEncoder().encode(dispatch.header.dispatchMessage).length} bytes`, "STATUS-8");
      };
      for (const bytes of [1024, 4096, MAX_MESSAGE_BYTES]) await check(bytes);
      await ctx.property(lengthUpTo(MAX_MESSAGE_BYTES), check);
    },
  },
  {
    name: "status/deadline-while-running",
    section,
    requirements: ["DEADLINE-4", "STATUS-4", "CONF-3"],
    title: "A Sleep whose 300 ms deadline passes while it runs gets exactly one RESPONSE: DEADLINE_EXCEEDED, or the handler's own answer (interrupted), never a not-processed code",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const tag = ctx.uniqueTag("running-deadline");
      ctx.sendCall(peer, "sleep", { ms: 20_000, tag }, { id: 1, timeoutMs: 300 });
      const frame = await ctx.response(peer, 1, 5000);
      const { dispatchCode, appCode } = frame.header;
      const handlers = dispatchCode === DispatchCode.OK && appCode === 0 && fromBinary(SleepResponseSchema, frame.body).interrupted;
      expect(dispatchCode === DispatchCode.DEADLINE_EXCEEDED || handlers, "DEADLINE_EXCEEDED (processed maybe) or Sleep's answer `interrupted`", `dispatch code ${dispatchCode} "${frame.header.dispatchMessage}"${dispatchCode === DispatchCode.OK ? `, body ${hexOf(frame.body)}` : ""}`, "DEADLINE-4");
      // The log shows the handler did run and was stopped by the deadline, not completed. A server
      // may answer before its handler returns [DEADLINE-4], so the entry may come a little later.
      const entries = await ctx.pollLog(`sleep:${tag}`);
      expect(entries.join() === `sleep:${tag}:interrupted`, `sleep:${tag}:interrupted in the log`, entries.join() || "nothing", "DEADLINE-4");
      expect(await peer.staysSilent((f) => f.header.requestId === 1 && f !== frame, 200), "exactly one RESPONSE", peer.describe(), "DEADLINE-4");
    },
  },
  {
    name: "status/application-error-details",
    section,
    requirements: ["STATUS-9"],
    title: "An application error's details arrive as an ErrorDetails body",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const details = [{ type: "acme.v1.Shortfall", value: Uint8Array.of(8, 42) }, { type: "acme.v1.Hint", value: new Uint8Array(0) }];
      ctx.sendCall(peer, "echo", { status: { appCode: 7, message: "insufficient funds", details } }, { id: 1 });
      const frame = await ctx.response(peer, 1);
      const got = fromBinary(ErrorDetailsSchema, frame.body).details.map((d) => `${d.type}=${hexOf(d.value)}`);
      const want = details.map((d) => `${d.type}=${hexOf(d.value)}`);
      expect(got.join("|") === want.join("|"), JSON.stringify(want), JSON.stringify(got), "STATUS-9");
    },
  },
  {
    name: "status/dispatch-codes-a-handler-may-choose",
    section,
    requirements: ["STATUS-4", "STATUS-6", "STATUS-11", "CONF-2"],
    title: "Dispatch codes that admit the handler ran arrive as chosen; not-processed ones become HANDLER_ERROR",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const cases: Array<[number, number]> = [
        [DispatchCode.DEADLINE_EXCEEDED, DispatchCode.DEADLINE_EXCEEDED],
        [DispatchCode.CANCELLED, DispatchCode.CANCELLED],
        [DispatchCode.HANDLER_CRASHED, DispatchCode.HANDLER_CRASHED],
        [DispatchCode.INTERNAL, DispatchCode.INTERNAL],
        [DispatchCode.UNKNOWN_METHOD, DispatchCode.HANDLER_ERROR],
        [DispatchCode.OVERLOADED, DispatchCode.HANDLER_ERROR],
      ];
      let id = 0;
      for (const [asked, expected] of cases) {
        id++;
        ctx.sendCall(peer, "echo", { status: { dispatchCode: asked, message: ` message ${asked} ` } }, { id });
        expectDispatch(await ctx.response(peer, id), expected as DispatchCode, "STATUS-6");
      }
    },
  },
];
