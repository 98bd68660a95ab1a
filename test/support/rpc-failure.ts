// Awaits a call that must fail, and returns its RpcError.
import * as assert from "uvu/assert";
import { RpcError } from "../../src/node.ts";

/** The RpcError `promise` rejects with; fails the test if it resolves or rejects with anything else. */
export async function rpcFailure(promise: Promise<unknown>): Promise<RpcError> {
  const outcome = await promise.then(
    () => ({ settled: "resolved" as const, error: undefined }),
    (error: unknown) => ({ settled: "rejected" as const, error }),
  );
  assert.is(outcome.settled, "rejected", "the call should have failed");
  assert.ok(RpcError.is(outcome.error), `expected an RpcError, got ${String(outcome.error)}`);
  return outcome.error as RpcError;
}
