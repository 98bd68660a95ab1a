// The reference client's method references (spec section 7.7), seen on the
// wire by a scripted server: each method is bound by its first request on a
// connection and then named by its reference alone; nothing is bound by a
// request that is never written; no reference goes to a server that does
// not list method-refs. Cites [REF-1] [REF-2] [REF-3] [REF-4].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { createClient, DispatchCode, FrameType, type Frame } from "../src/node.ts";
import { MethodRefBindings } from "../src/client/method-ref-bindings.ts";
import { MAX_METHOD_REF } from "../src/wire/request-rules.ts";
import { startScriptedServer, type ScriptedConnection } from "./support/scripted-server.ts";
import { TestService } from "./support/test-service.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { checkProperty } from "./support/property.ts";
import { waitUntil } from "./support/wait.ts";

const test = suite("method refs");
const SERVICE = "stratatest.v1.TestService";
const REFS = { features: ["method-refs"] };

/** Answers every request at once with an empty OK body. */
const answerAll = (connection: ScriptedConnection, frame: Frame) => {
  if (frame.header.type === FrameType.REQUEST) connection.send({ type: FrameType.RESPONSE, requestId: frame.header.requestId });
};

/** How a request named its method: "Echo+1" binds reference 1, "@1" is reference 1 alone, "Echo" the names alone. */
function naming(frame: Frame): string {
  const { service, method, methodRef } = frame.header;
  if (service === "" && method === "") return `@${methodRef}`;
  assert.is(service, SERVICE);
  return methodRef === 0 ? method : `${method}+${methodRef}`;
}

test("[REF-2] [REF-3] [REF-4] each method is bound by its first request on a connection, then sent by reference alone; a new connection binds again", async () => {
  const server = await startScriptedServer(answerAll, REFS);
  const client = createClient(TestService, { address: server.address });
  try {
    await client.echo({});
    await client.echo({});
    await client.record({});
    // Many in one turn: the first binds, the rest follow it in the same write.
    await Promise.all([client.recorded({}), client.recorded({}), client.echo({}), client.record({})]);
    assert.equal(server.requests.map(naming), ["Echo+1", "@1", "Record+2", "Recorded+3", "@3", "@1", "@2"]);
    await client.$close();
    const again = createClient(TestService, { address: server.address });
    await again.record({});
    await again.record({});
    await again.$close();
    assert.equal(server.requests.slice(7).map(naming), ["Record+1", "@1"], "bindings belong to their connection");
  } finally {
    await server.close();
  }
});

test("[REF-1] no method_ref goes to a server that does not list method-refs", async () => {
  const server = await startScriptedServer(answerAll);
  const client = createClient(TestService, { address: server.address });
  try {
    for (let i = 0; i < 3; i++) await Promise.all([client.echo({}), client.record({})]);
    assert.equal(server.requests.map(naming), ["Echo", "Record", "Echo", "Record", "Echo", "Record"]);
  } finally {
    await client.$close();
    await server.close();
  }
});

test("[REF-4] a request that is never written binds nothing: one over the server's limits, one cancelled while it waits", async () => {
  let held: Frame | undefined;
  let connection: ScriptedConnection | undefined;
  const server = await startScriptedServer(
    (conn, frame) => {
      connection = conn;
      // The first Recorded waits for an answer, so that the next call waits behind it.
      if (frame.header.method === "Recorded" && held === undefined) held = frame;
      else answerAll(conn, frame);
    },
    { ...REFS, maxBodySize: 65536, maxConcurrentRequests: 1 },
  );
  const client = createClient(TestService, { address: server.address });
  try {
    const tooLarge = await rpcFailure(client.echo({ text: "x".repeat(70_000) }));
    assert.is(tooLarge.code, "LIMIT_EXCEEDED");
    const first = client.recorded({});
    await waitUntil(() => held !== undefined);
    const abort = new AbortController();
    const queued = client.record({}, { signal: abort.signal });
    abort.abort();
    assert.is((await rpcFailure(queued)).processed, "no");
    connection!.send({ type: FrameType.RESPONSE, requestId: held!.header.requestId, dispatchCode: DispatchCode.OK });
    await first;
    await client.echo({});
    await client.record({});
    await client.echo({});
    assert.equal(server.requests.map(naming), ["Recorded+1", "Echo+2", "Record+3", "@2"]);
  } finally {
    await client.$close();
    await server.close();
  }
});

test("[REF-2] the bindings of a connection: references 1 to 256 in order, then none", () =>
  checkProperty(
    fc.property(fc.integer({ min: 0, max: MAX_METHOD_REF + 20 }), (count) => {
      const bindings = new MethodRefBindings();
      const routes = Array.from({ length: count }, () => new Uint8Array(1));
      for (const route of routes) {
        const next = bindings.next;
        if (next !== 0) bindings.written(route, next);
      }
      routes.forEach((route, i) => assert.is(bindings.refOf(route), i < MAX_METHOD_REF ? i + 1 : 0, `route ${i}`));
      assert.is(bindings.next, count < MAX_METHOD_REF ? count + 1 : 0);
    }),
  ),
);

test.run();
