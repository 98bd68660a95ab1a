// What the client retries and what it never retries, against a scripted
// server. Cites [STATUS-3] [DRAIN-3] [DRAIN-16] [DRAIN-8].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema, EchoResponseSchema } from "./gen/stratatest/v1/testing_pb.ts";
import { createClient, DispatchCode, FrameType, GoawayCode, RpcError } from "../src/node.ts";
import { startScriptedServer } from "./support/scripted-server.ts";
import { TestService } from "./support/test-service.ts";
import { waitUntil } from "./support/wait.ts";

const test = suite("client retry");

function echoOf(body: Uint8Array): Uint8Array {
  const text = fromBinary(EchoRequestSchema, body).text;
  return toBinary(EchoResponseSchema, create(EchoResponseSchema, { text }));
}

test("[DRAIN-8] [STATUS-3] SHUTTING_DOWN after a GOAWAY: the client retries once, on a fresh connection, and succeeds", async () => {
  const server = await startScriptedServer((connection, frame) => {
    if (frame.header.type !== FrameType.REQUEST) return;
    if (connection.index === 1) {
      connection.goaway({ lastRequestId: 0, code: GoawayCode.NO_ERROR, message: "draining" });
      connection.send({ type: FrameType.RESPONSE, requestId: frame.header.requestId, dispatchCode: DispatchCode.SHUTTING_DOWN, dispatchMessage: "draining" });
    } else {
      connection.send({ type: FrameType.RESPONSE, requestId: frame.header.requestId }, echoOf(frame.body));
    }
  });
  const client = createClient(TestService, { address: server.address });
  assert.is((await client.echo({ text: "retried" })).text, "retried");
  assert.is(server.connections(), 2);
  assert.is(server.requests.length, 2);
  client.$close();
  await server.close();
});

test("[DRAIN-3] [DRAIN-16] after a GOAWAY, calls above its last id move to a new connection; calls below it finish on the old one", async () => {
  const held: Array<() => void> = [];
  const server = await startScriptedServer((connection, frame) => {
    if (frame.header.type !== FrameType.REQUEST) return;
    const reply = () => connection.send({ type: FrameType.RESPONSE, requestId: frame.header.requestId }, echoOf(frame.body));
    if (connection.index === 1 && frame.header.requestId === 1) {
      held.push(reply); // answered later, after the GOAWAY
    } else if (connection.index === 1 && frame.header.requestId === 2) {
      // Request 2 arrived, but the GOAWAY says only id 1 will be processed.
      connection.goaway({ lastRequestId: 1, code: GoawayCode.NO_ERROR, message: "draining" });
      held.shift()!();
    } else {
      reply();
    }
  });
  const client = createClient(TestService, { address: server.address });
  const first = client.echo({ text: "first" });
  await waitUntil(() => held.length === 1);
  const second = client.echo({ text: "second" });
  assert.is((await first).text, "first");
  assert.is((await second).text, "second");
  assert.is(server.connections(), 2, "the second call was sent again on a new connection");
  assert.equal(server.requests.map((r) => fromBinary(EchoRequestSchema, r.body).text), ["first", "second", "second"]);
  client.$close();
  await server.close();
});

test("[STATUS-3] a request that may have run is never retried silently", async () => {
  const server = await startScriptedServer((connection, frame) => {
    if (frame.header.type === FrameType.REQUEST) connection.destroy(); // read it, then vanish
  });
  const client = createClient(TestService, { address: server.address });
  const error = await client.echo({ text: "once" }).then(() => undefined, (e: unknown) => e);
  assert.ok(RpcError.is(error));
  assert.is(error.layer, "transport");
  assert.is(error.code, "CONNECTION_LOST");
  assert.is(error.processed, "maybe");
  assert.is(server.requests.length, 1, "sent exactly once");
  client.$close();
  await server.close();
});


test.run();
