// Section 8: the dispatch and application layers.
import fc from "fast-check";
import { fromBinary } from "@bufbuild/protobuf";
import { ErrorDetailsSchema } from "../../src/gen/strata/v1/frame_pb.ts";
import { DispatchCode, FrameType } from "../../src/wire/index.ts";
import { expect, type ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE } from "../runner/context.ts";
import { expectDispatch, hexOf } from "../runner/expectations.ts";

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
