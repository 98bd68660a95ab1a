// The handlers of stratatest.v1.IsolationTestService, loaded by the
// worker pool in test/handler-isolation.test.ts.
import { threadId } from "node:worker_threads";
import { defineIsolatedService, RpcError } from "../../src/node.ts";
import { IsolationTestService } from "../gen/stratatest/v1/testing_pb.ts";

export default defineIsolatedService(IsolationTestService, {
  async work(request, context) {
    const answer = () => ({ threadId, aborted: context.signal.aborted, keys: [...context.keys], requestId: BigInt(context.requestId) });
    switch (request.kind) {
      case "ok":
        return answer();
      case "busy": {
        const until = performance.now() + request.ms;
        while (performance.now() < until) {
          // CPU-bound on purpose: the server's event loop must not notice.
        }
        return answer();
      }
      case "sleep":
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, request.ms);
          context.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
          });
        });
        return answer();
      case "throw":
        throw new Error("handler threw");
      case "app-error":
        throw RpcError.application(7, "insufficient funds");
      case "crash-async":
        setTimeout(() => {
          throw new Error("uncaught in a timer");
        }, 1);
        return new Promise(() => {}); // never settles: the crash ends it
      case "exit":
        process.exit(3);
      case "spin-forever":
        for (;;) {
          // Ignores its signal: only terminating the worker stops it.
        }
      case "metadata":
        context.responseMetadata.push({ key: "x-worker", value: new TextEncoder().encode(String(threadId)) });
        return answer();
      // What an untyped handler may do, which `readonly` keeps typed code from doing [META-1].
      case "metadata-assigned":
        (context as { responseMetadata: unknown }).responseMetadata = [{ key: "x-assigned", value: Uint8Array.of(7) }];
        return answer();
      case "metadata-assigned-then-app-error":
        (context as { responseMetadata: unknown }).responseMetadata = [{ key: "x-assigned", value: Uint8Array.of(7) }];
        throw RpcError.application(7, "insufficient funds");
      case "metadata-assigned-object":
        // The assignment itself must fail the handler: the error thrown after it is never reached.
        (context as { responseMetadata: unknown }).responseMetadata = { key: "x-assigned", value: Uint8Array.of(7) };
        throw RpcError.application(9, "the assignment was accepted");
      default:
        throw new Error(`unknown kind ${request.kind}`);
    }
  },
});
