// Section 16.1 and Appendix C: the optional admin service, KeyedWork's log.
import { fromBinary } from "@bufbuild/protobuf";
import { GetStatsResponseSchema } from "../../src/gen/strata/admin/v1/admin_pb.ts";
import { DispatchCode, FrameType } from "../../src/wire/index.ts";
import { CaseFailure, CaseSkip, expect, type ConformanceCase } from "../runner/case.ts";

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
