// The raw-bytes handler form, for gateways and generic use. Cites [CALL-2] [STATUS-4].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createServer, DispatchCode, FrameType, RpcError } from "../src/node.ts";
import { RawPeer } from "./support/raw-peer.ts";

const test = suite("raw handlers");

test("[CALL-2] a raw handler gets the request body and its return value is the response body", async () => {
  const server = createServer().addRawService("acme.bytes.v1.Bytes", {
    Reverse: (body, context) => {
      context.responseMetadata.push({ key: "length", value: Uint8Array.of(body.length) });
      return body.slice().reverse();
    },
  });
  const address = await server.listen("memory:");
  const peer = await RawPeer.connect(address);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: "acme.bytes.v1.Bytes", method: "Reverse" }, Uint8Array.of(1, 2, 3, 0xff));
  peer.send({ type: FrameType.REQUEST, requestId: 2, service: "acme.bytes.v1.Bytes", method: "Other" });
  const first = await peer.waitFor((f) => f.header.requestId === 1);
  assert.equal(Array.from(first.body), [0xff, 3, 2, 1]);
  assert.equal(first.header.metadata.map((e) => [e.key, Array.from(e.value)]), [["length", [4]]]);
  const second = await peer.waitFor((f) => f.header.requestId === 2);
  assert.is(second.header.dispatchCode, DispatchCode.UNKNOWN_METHOD);
  peer.destroy();
  await server.close({ graceMs: 100 });
});

test("[META-1] a handler in plain JavaScript may replace responseMetadata by assigning it; anything but an array fails the handler", async () => {
  const server = createServer().addRawService("acme.bytes.v1.Bytes", {
    // What an untyped handler may do, which `readonly` keeps typed code from doing.
    Assign: (body, context) => {
      (context as { responseMetadata: unknown }).responseMetadata = [{ key: "assigned", value: Uint8Array.of(7) }];
      return body;
    },
    AssignThenFail: (_body, context) => {
      (context as { responseMetadata: unknown }).responseMetadata = [{ key: "assigned", value: Uint8Array.of(8) }];
      throw RpcError.application(7, "insufficient funds");
    },
    AssignObject: (_body, context) => {
      // The assignment itself must fail the handler: the error thrown after it is never reached.
      (context as { responseMetadata: unknown }).responseMetadata = { key: "assigned", value: Uint8Array.of(7) };
      throw RpcError.application(9, "the assignment was accepted");
    },
  });
  const address = await server.listen("memory:");
  const peer = await RawPeer.connect(address);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: "acme.bytes.v1.Bytes", method: "Assign" }, Uint8Array.of(1));
  peer.send({ type: FrameType.REQUEST, requestId: 2, service: "acme.bytes.v1.Bytes", method: "AssignObject" }, Uint8Array.of(1));
  const assigned = await peer.waitFor((f) => f.header.requestId === 1);
  assert.is(assigned.header.dispatchCode, DispatchCode.OK);
  assert.equal(assigned.header.metadata.map((e) => [e.key, Array.from(e.value)]), [["assigned", [7]]]);
  peer.send({ type: FrameType.REQUEST, requestId: 3, service: "acme.bytes.v1.Bytes", method: "AssignThenFail" }, Uint8Array.of(1));
  // An assigned array goes out with a failure as well.
  const failed = await peer.waitFor((f) => f.header.requestId === 3);
  assert.equal([failed.header.dispatchCode, failed.header.appCode], [DispatchCode.OK, 7]);
  assert.equal(failed.header.metadata.map((e) => [e.key, Array.from(e.value)]), [["assigned", [8]]]);
  const refused = await peer.waitFor((f) => f.header.requestId === 2);
  assert.is(refused.header.dispatchCode, DispatchCode.HANDLER_ERROR);
  assert.equal(refused.header.metadata, []);
  peer.destroy();
  await server.close({ graceMs: 100 });
});

test.run();
