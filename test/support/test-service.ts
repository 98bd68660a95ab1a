// The stratatest.v1.TestService implementation the socket tests run
// against, with a log of what its handlers saw.
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { RpcError, type ServiceImpl } from "../../src/node.ts";
import { TestService } from "../gen/stratatest/v1/testing_pb.ts";
import { sleep } from "../../src/util/timer.ts";

type TestMethods = typeof TestService extends GenService<infer M> ? M : never;

export { TestService };

/** What the handlers observed, for assertions. */
export interface TestLog {
  /** Tags of Record calls, in the order the handler ran. */
  recorded: string[];
  /** Wait calls that ended: tag and whether their signal fired. */
  waits: Array<{ tag: string; aborted: boolean; reason: string }>;
  /** Echo texts in the order their handlers started. */
  echoed: string[];
}

/** Creates handlers and the log they write to. */
export function testService(): { impl: ServiceImpl<TestMethods>; log: TestLog } {
  const log: TestLog = { recorded: [], waits: [], echoed: [] };
  const impl: ServiceImpl<TestMethods> = {
    echo: async (request, context) => {
      log.echoed.push(request.text);
      if (request.delayMs > 0) await sleep(request.delayMs, context.signal);
      if (request.appCode !== 0) throw RpcError.application(request.appCode, request.appMessage);
      if (request.throwPlainError) throw new Error("plain failure with a secret stack");
      return {
        text: request.text,
        payload: new Uint8Array(request.payloadSize),
        requestId: BigInt(context.requestId),
        remainingMs: Math.floor(context.remainingMs() ?? 0),
        metadataKeys: context.metadata.map((e) => e.key),
      };
    },
    wait: async (request, context) => {
      const aborted = await sleep(request.ms, context.signal);
      const reason = aborted ? String((context.signal.reason as { name?: string } | undefined)?.name ?? "") : "";
      log.waits.push({ tag: request.tag, aborted, reason });
      return { aborted };
    },
    record: (request) => {
      log.recorded.push(request.tag);
      return {};
    },
    recorded: () => ({ tags: [...log.recorded] }),
  };
  return { impl, log };
}
