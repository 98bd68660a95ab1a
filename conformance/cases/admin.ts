// Section 16.1 and Appendix C: the optional admin service, KeyedWork's log.
import { fromBinary } from "@bufbuild/protobuf";
import { GetStatsResponseSchema, type GetStatsResponse } from "../../src/gen/strata/admin/v1/admin_pb.ts";
import { InfoResponseSchema } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { DispatchCode, FrameType } from "../../src/wire/index.ts";
import { CaseFailure, CaseSkip, expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE } from "../runner/context.ts";
import type { Peer } from "../runner/peer.ts";

const ADMIN = "strata.admin.v1.AdminService";

/** GetStats on `peer` as request `id`; skips the case when the server does not offer AdminService [EXT-7]. */
async function getStats(peer: Peer, id: number): Promise<GetStatsResponse> {
  peer.send({ type: FrameType.REQUEST, requestId: id, service: ADMIN, method: "GetStats" });
  const frame = await peer.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === id, "a RESPONSE to GetStats");
  if (frame.header.dispatchCode === DispatchCode.UNKNOWN_SERVICE) throw new CaseSkip(`the server does not offer ${ADMIN} [EXT-7]`);
  expect(frame.header.dispatchCode === DispatchCode.OK, "GetStats to succeed", `dispatch code ${frame.header.dispatchCode}`, "EXT-7");
  return fromBinary(GetStatsResponseSchema, frame.body);
}

/** A method's entry, or zeros. */
function entry(stats: GetStatsResponse, method: string): { calls: bigint; errors: bigint; rejected: Record<string, bigint> } {
  return stats.methods.find((m) => m.method === method) ?? { calls: 0n, errors: 0n, rejected: {} };
}

/** Polls GetStats on `peer` from request id `id` until `done` holds or 3 s pass; returns the last answer. */
async function statsUntil(peer: Peer, id: number, done: (s: GetStatsResponse) => boolean): Promise<GetStatsResponse> {
  const end = performance.now() + 3000;
  for (;;) {
    const stats = await getStats(peer, id);
    if (done(stats) || performance.now() > end) return stats;
    id += 2;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export const adminCases: ConformanceCase[] = [
  {
    name: "admin/get-stats-or-unknown-service",
    section: "16 Versioning and extensibility",
    requirements: ["EXT-7", "EXT-8"],
    title: "strata.admin.v1.AdminService/GetStats answers counters that include this call, or UNKNOWN_SERVICE",
    async run(ctx) {
      const peer = await ctx.connect();
      peer.send({ type: FrameType.REQUEST, requestId: 1, service: "strata.admin.v1.AdminService", method: "GetStats" });
      const frame = await peer.waitFor((f) => f.header.requestId === 1, "a RESPONSE to GetStats");
      if (frame.header.dispatchCode === DispatchCode.UNKNOWN_SERVICE) return; // not offered [EXT-7]
      expect(frame.header.dispatchCode === DispatchCode.OK, "OK or UNKNOWN_SERVICE", `dispatch code ${frame.header.dispatchCode}`, "EXT-7");
      let stats;
      try {
        stats = fromBinary(GetStatsResponseSchema, frame.body);
      } catch (error) {
        throw new CaseFailure("a GetStatsResponse body", `undecodable: ${(error as Error).message}`, "EXT-8");
      }
      expect(stats.connectionsCurrent >= 1n && stats.requestsTotal >= 1n, "at least this connection and this request counted", `connections ${stats.connectionsCurrent}, requests ${stats.requestsTotal}`, "EXT-8");
      for (const m of stats.methods) {
        expect(m.latencyBuckets.length === stats.latencyBucketBoundsMs.length + 1, `${m.method}: one more bucket than bounds`, `${m.latencyBuckets.length} buckets, ${stats.latencyBucketBoundsMs.length} bounds`, "EXT-8");
      }
    },
  },
  {
    name: "admin/stats-bounded-whatever-names-clients-send",
    section: "16 Versioning and extensibility",
    requirements: ["EXT-9", "EXT-8"],
    title: "200 refused requests with made-up service and method names add no entry to GetStats but `*`",
    async run(ctx) {
      const peer = await ctx.connect();
      const tag = Math.random().toString(36).slice(2, 10);
      const n = 200;
      for (let id = 1; id <= n; id++) {
        peer.send({ type: FrameType.REQUEST, requestId: id, service: id % 2 ? `made.up.${tag}.S${id}` : "strata.admin.v1.AdminService", method: `Made${tag}${id}` });
      }
      await peer.waitFor((f) => f.header.requestId === n, `the RESPONSE to request ${n}`);
      peer.send({ type: FrameType.REQUEST, requestId: n + 1, service: "strata.admin.v1.AdminService", method: "GetStats" });
      const frame = await peer.waitFor((f) => f.header.requestId === n + 1, "a RESPONSE to GetStats");
      if (frame.header.dispatchCode === DispatchCode.UNKNOWN_SERVICE) throw new CaseSkip("the server does not offer strata.admin.v1.AdminService [EXT-7]");
      const stats = fromBinary(GetStatsResponseSchema, frame.body);
      const invented = stats.methods.filter((m) => m.method.includes(tag));
      expect(invented.length === 0, "no entry named after a made-up name", `${invented.length} entries, e.g. ${invented[0]?.method.slice(0, 80)}`, "EXT-9");
      const aggregate = stats.methods.find((m) => m.method === "*");
      const refused = aggregate === undefined ? 0n : Object.values(aggregate.rejected).reduce((a, b) => a + b, 0n);
      expect(refused >= BigInt(n), `an entry "*" counting at least ${n} refusals`, aggregate === undefined ? "no entry *" : `${refused} refusals, by code ${JSON.stringify(Object.keys(aggregate.rejected))}`, "EXT-9");
    },
  },
  {
    name: "admin/get-stats-counts-what-happened",
    section: "16 Versioning and extensibility",
    requirements: ["EXT-8", "EXT-9"],
    title: "GetStats counters move with what another connection did: accepted and closed connections, REQUEST frames, Echo calls and errors, an unknown method under `*`",
    usesConformanceService: true,
    async run(ctx) {
      const watcher = await ctx.connect();
      const before = await getStats(watcher, 1);
      const worker = await ctx.connect();
      ctx.sendCall(worker, "echo", { payload: Uint8Array.of(1) }, { id: 1 });
      ctx.sendCall(worker, "echo", { status: { appCode: 4, message: "app" } }, { id: 3 });
      ctx.sendCall(worker, "echo", { status: { dispatchCode: DispatchCode.HANDLER_ERROR, message: "dispatch" } }, { id: 5 });
      worker.send({ type: FrameType.REQUEST, requestId: 7, service: CONFORMANCE_SERVICE, method: "NoSuchMethod" });
      for (const id of [1, 3, 5, 7]) await ctx.response(worker, id);
      worker.close();
      const echo = `${CONFORMANCE_SERVICE}/Echo`;
      const after = await statsUntil(watcher, 3, (s) => s.connectionsClosed > before.connectionsClosed && entry(s, echo).calls >= entry(before, echo).calls + 3n);
      const delta = (f: (s: GetStatsResponse) => bigint) => f(after) - f(before);
      expect(delta((s) => s.connectionsAccepted) >= 1n, "connections_accepted up by at least 1", `up by ${delta((s) => s.connectionsAccepted)}`, "EXT-8");
      expect(delta((s) => s.connectionsClosed) >= 1n, "connections_closed up by at least 1 once the second connection closed", `up by ${delta((s) => s.connectionsClosed)}`, "EXT-8");
      expect(after.connectionsCurrent <= before.connectionsCurrent, "connections_current back where it was", `${before.connectionsCurrent} then ${after.connectionsCurrent}`, "EXT-8");
      expect(delta((s) => s.requestsTotal) >= 5n, "requests_total up by at least 5 (four requests and this GetStats)", `up by ${delta((s) => s.requestsTotal)}`, "EXT-8");
      expect(delta((s) => entry(s, echo).calls) >= 3n, `${echo} calls up by at least 3`, `up by ${delta((s) => entry(s, echo).calls)}`, "EXT-8");
      expect(delta((s) => entry(s, echo).errors) >= 2n, `${echo} errors up by at least 2 (an application error and HANDLER_ERROR)`, `up by ${delta((s) => entry(s, echo).errors)}`, "EXT-8");
      const unknown = (s: GetStatsResponse) => entry(s, "*").rejected["UNKNOWN_METHOD"] ?? 0n;
      expect(delta(unknown) >= 1n, "`*` rejected.UNKNOWN_METHOD up by at least 1", `up by ${delta(unknown)}`, "EXT-9");
    },
  },
  {
    name: "conformance-service/info-reports-its-own-id",
    section: "Appendix C Conformance service",
    requirements: ["CONF-6"],
    title: "Info requests written in one write with later requests each report their own request id, not the highest read so far",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      peer.write(
        Uint8Array.from([
          ...ctx.encodeCall("info", {}, { id: 1 }),
          ...ctx.encodeCall("echo", {}, { id: 3 }),
          ...ctx.encodeCall("info", {}, { id: 5 }),
          ...ctx.encodeCall("echo", {}, { id: 7 }),
        ]),
      );
      for (const id of [1, 5]) {
        const frame = await ctx.response(peer, id);
        const reported = fromBinary(InfoResponseSchema, frame.body).requestId;
        expect(reported === BigInt(id), `Info request ${id} to report request_id ${id}`, `request_id ${reported}`, "CONF-6");
      }
    },
  },
  {
    name: "conformance-service/keyed-work-logs-start-and-end",
    section: "Appendix C Conformance service",
    requirements: ["CONF-5"],
    title: "KeyedWork logs start:<tag> when it starts and end:<tag> when it returns",
    usesConformanceService: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const tag = `kw-${Math.random().toString(36).slice(2, 10)}`;
      await ctx.call(peer, "keyedWork", { tag, holdMs: 20 }, { id: 1 });
      const { entries } = await ctx.call(peer, "recorded", { prefix: "" }, { id: 2 });
      const mine = entries.filter((e) => e.endsWith(`:${tag}`));
      expect(mine.join(",") === `start:${tag},end:${tag}`, `start:${tag},end:${tag}`, mine.join(",") || "nothing", "CONF-5");
    },
  },
];
