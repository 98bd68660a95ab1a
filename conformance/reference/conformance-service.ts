// The reference implementation of strata.conformance.v1.ConformanceService
// (spec/protocol.md Appendix C) on the reference server.

import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { ConformanceService } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { RpcError, type HandlerContext, type ServiceImpl } from "../../src/node.ts";
import { dispatchCodeName } from "../../src/status/index.ts";
// Any `ms` a uint32 allows, 2^31 and above included [CONF-3].
import { sleep } from "../../src/util/timer.ts";

/** The largest Echo response_size served; larger ones are answered HANDLER_ERROR [CONF-2]. */
export const MAX_ECHO_RESPONSE = 16 * 1024 * 1024;

type ConformanceMethods = typeof ConformanceService extends GenService<infer M> ? M : never;

/** Handlers of ConformanceService and the server-wide log they share [CONF-4]. */
export function conformanceService(): { service: typeof ConformanceService; impl: ServiceImpl<ConformanceMethods>; log: string[] } {
  const log: string[] = [];
  const impl: ServiceImpl<ConformanceMethods> = {
    // [CONF-2]
    async echo(request, context: HandlerContext) {
      if (request.delayMs > 0) await sleep(request.delayMs, context.signal);
      for (const pair of request.responseMetadata) context.responseMetadata.push({ key: pair.key, value: pair.value });
      if (request.echoMetadata) for (const entry of context.metadata) context.responseMetadata.push(entry);
      const status = request.status;
      if (status !== undefined && status.dispatchCode !== 0) {
        throw new RpcError({ layer: "dispatch", code: dispatchCodeName(status.dispatchCode), message: status.message });
      }
      if (status !== undefined && status.appCode !== 0) {
        throw RpcError.application(status.appCode, status.message, status.details.map((d) => ({ $typeName: "strata.v1.ErrorDetail", type: d.type, value: d.value })));
      }
      // Refused before anything is allocated: a caller may ask for up to 4 GiB [CONF-2] [CONF-8].
      if (request.responseSize > MAX_ECHO_RESPONSE) throw new RpcError({ layer: "dispatch", code: "HANDLER_ERROR", message: "handler failed" });
      return { payload: request.responseSize > 0 ? new Uint8Array(request.responseSize).fill(0x61) : request.payload };
    },
    // [CONF-3]
    async sleep(request, context) {
      const interrupted = await sleep(request.ms, context.signal);
      log.push(`sleep:${request.tag}:${interrupted ? "interrupted" : "completed"}`);
      return { interrupted };
    },
    // [CONF-4]
    record(request) {
      log.push(`record:${request.tag}`);
      return {};
    },
    recorded(request) {
      return { entries: log.filter((entry) => entry.startsWith(request.prefix)) };
    },
    // [CONF-5]
    async keyedWork(request, context) {
      log.push(`start:${request.tag}`);
      await sleep(request.holdMs, context.signal);
      log.push(`end:${request.tag}`);
      return {};
    },
    // [CONF-6]
    info(_request, context) {
      const remaining = context.remainingMs();
      return {
        requestId: BigInt(context.requestId),
        hasDeadline: remaining !== undefined,
        remainingMs: Math.floor(remaining ?? 0),
        metadata: context.metadata.map((e) => ({ key: e.key, value: e.value })),
        keys: [...context.keys],
        secure: context.connection.secure,
        alpnProtocol: context.connection.protocol ?? "",
        ...(context.connection.peerCertificate === undefined ? {} : { peerCertificate: { ...context.connection.peerCertificate, subjectAltNames: [...context.connection.peerCertificate.subjectAltNames] } }),
      };
    },
    // [CONF-7]
    drain(request, context) {
      context.drainConnection(request.graceMs);
      return {};
    },
    // [CONF-9]: the token was checked by the server's bearerAuth interceptor (server-options.ts).
    authenticated(request) {
      log.push(`auth:${request.tag}`);
      return {};
    },
  };
  return { service: ConformanceService, impl, log };
}
