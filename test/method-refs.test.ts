// The reference client's method references (spec section 7.7), seen on the
// wire by a scripted server: each method is bound by its first request on a
// connection and then named by its reference alone; nothing is bound by a
// request that is never written; no reference goes to a server that does
// not list method-refs; two clients of one router share the bindings; the
// names bound never pass what a server keeps. Cites [REF-1] [REF-2] [REF-3] [REF-4] [REF-5].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { CallMode, checkedLimits, createClient, createServer, DispatchCode, FrameType, SingleAddressRouter, Subchannel, tcpTransport, type Frame, type FrameHeaderInit } from "../src/node.ts";
import { RequestEncoder } from "../src/client/request-encoder.ts";
import type { RequestHead } from "../src/client/call-ticket.ts";
import { decodeHeader, DEFAULT_LIMITS, encodeRoute, headerSize } from "../src/wire/index.ts";
import { MAX_METHOD_REF } from "../src/wire/request-rules.ts";
import { RawPeer } from "./support/raw-peer.ts";
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

test("[REF-2] [REF-3] two clients of one service over one router share the connection's bindings", async () => {
  const server = await startScriptedServer(answerAll, REFS);
  const settings = { limits: checkedLimits(undefined), pingIntervalMs: 5000, connectTimeoutMs: 3000 };
  const router = new SingleAddressRouter(new Subchannel(() => Promise.resolve(tcpTransport), server.address, settings));
  const first = createClient(TestService, { router });
  const second = createClient(TestService, { router, timeoutMs: 1000 });
  try {
    await first.echo({});
    await second.echo({});
    await second.record({});
    await first.record({});
    assert.equal(server.requests.map(naming), ["Echo+1", "@1", "Record+2", "@2"], "one binding per method on the connection, whichever client called it first");
  } finally {
    await router.close();
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

test("[REF-4] [LIMIT-4] a request that fits the server's header limit only without the reference goes by its names and binds nothing", async () => {
  const server = await startScriptedServer(answerAll, { ...REFS, maxHeaderSize: 4096 });
  const client = createClient(TestService, { address: server.address });
  try {
    // The metadata value that makes the first request's header exactly 4096 bytes with the names alone.
    const sizeWith = (value: number) => headerSize({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "Echo", timeoutMs: 3000, metadata: [{ key: "x-jwt", value: new Uint8Array(value) }] }, 0);
    let value = 4096;
    while (sizeWith(value) > 4096) value--;
    assert.is(sizeWith(value), 4096);
    const metadata = { "x-jwt": new Uint8Array(value) };
    await client.echo({}, { metadata, timeoutMs: 3000 });
    await client.echo({});
    assert.equal(server.requests.map(naming), ["Echo", "Echo+1"], "the first fits without binding; the next binds");
    assert.is(server.requests[0]!.header.requestId, 1);
  } finally {
    await client.$close();
    await server.close();
  }
});

test("[REF-2] [REF-3] a reference names the service bound, also one added after the binding; a connection keeps at most 64 KiB of bound names", async () => {
  const server = createServer();
  const address = await server.listen("127.0.0.1:0");
  const peer = await RawPeer.connect(address);
  let id = 0;
  const answer = async (header: Omit<FrameHeaderInit, "type" | "requestId">) => {
    const requestId = ++id;
    peer.send({ type: FrameType.REQUEST, requestId, ...header });
    const frame = await peer.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === requestId);
    return frame.header.dispatchCode;
  };
  try {
    assert.is(await answer({ service: "late.v1.Late", method: "Ping", methodRef: 1 }), DispatchCode.UNKNOWN_SERVICE);
    assert.is(await answer({ methodRef: 1 }), DispatchCode.UNKNOWN_SERVICE);
    server.addRawService("late.v1.Late", { Ping: () => new Uint8Array(0) });
    assert.is(await answer({ methodRef: 1 }), DispatchCode.OK, "found by reference as by name, once offered");
    // Four bindings of 16,000-unit names fit in 65,536; a fifth does not, and leaves its reference unbound.
    const long = (c: string) => c.repeat(16_000);
    for (const ref of [2, 3, 4]) assert.is(await answer({ service: long(String(ref)), method: "M", methodRef: ref }), DispatchCode.UNKNOWN_SERVICE);
    assert.is(await answer({ service: "short.v1.S", method: "M", methodRef: 5 }), DispatchCode.UNKNOWN_SERVICE);
    assert.is(await answer({ service: long("5"), method: "M", methodRef: 5 }), DispatchCode.UNKNOWN_SERVICE);
    assert.is(await answer({ service: long("6"), method: "M", methodRef: 6 }), DispatchCode.UNKNOWN_SERVICE);
    assert.is(await answer({ methodRef: 6 }), DispatchCode.INVALID_REQUEST, "past 64 KiB of names: not bound");
    assert.is(await answer({ methodRef: 5 }), DispatchCode.UNKNOWN_SERVICE, "the fourth long binding fit");
    // Rebinding 2 to a short name frees its units: 6 binds now.
    assert.is(await answer({ service: "late.v1.Late", method: "Ping", methodRef: 2 }), DispatchCode.OK);
    assert.is(await answer({ service: long("6"), method: "M", methodRef: 6 }), DispatchCode.UNKNOWN_SERVICE);
    assert.is(await answer({ methodRef: 6 }), DispatchCode.UNKNOWN_SERVICE, "bound once there was room");
    // A binding declined for room unbinds what the reference was bound to before.
    assert.is(await answer({ service: long("7"), method: "M", methodRef: 1 }), DispatchCode.UNKNOWN_SERVICE);
    assert.is(await answer({ methodRef: 1 }), DispatchCode.INVALID_REQUEST, "not the earlier binding to late.v1.Late");
    assert.is(await answer({ methodRef: 2 }), DispatchCode.OK);
  } finally {
    peer.destroy();
    await server.close({ graceMs: 100 });
  }
});

test("[REF-5] [REF-2] the client's bindings never pass the 64 KiB of names a server keeps: against the reference server, no request by reference is refused, whatever the names' sizes", async () => {
  const server = createServer();
  const address = await server.listen("127.0.0.1:0");
  try {
    await checkProperty(
      fc.asyncProperty(
        // Service names up to the default header limit's 16 KiB, long ones as often as short; every
        // method called once, then all again and in a random order, so that each is sent by reference.
        fc.array(fc.oneof(fc.integer({ min: 1, max: 16_000 }), fc.integer({ min: 8_000, max: 16_000 })), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        async (lengths, shuffled) => {
          const order = [...lengths.keys(), ...lengths.keys(), ...shuffled];
          const heads = lengths.map((length, i): RequestHead => {
            const service = `s${i}.`.padEnd(length + 3, "x");
            return { service, method: "M", callMode: CallMode.UNARY, metadata: [], keys: [], group: undefined, routingKey: undefined, route: encodeRoute(service, "M") };
          });
          const requests = new RequestEncoder(DEFAULT_LIMITS, true);
          const peer = await RawPeer.connect(address);
          try {
            let id = 0;
            for (const index of order) {
              const head = heads[index % heads.length]!;
              let frame: Uint8Array;
              try {
                frame = requests.encode(head, ++id, 1000, new Uint8Array(0), 0, 0);
              } catch {
                id--;
                continue; // over the header limit: failed locally, never written
              }
              requests.writing(head);
              peer.write(frame);
              const requestId = id;
              const answer = await peer.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === requestId);
              // No such service: UNKNOWN_SERVICE by name and by a bound reference alike; INVALID_REQUEST is a reference the server declined.
              assert.is(answer.header.dispatchCode, DispatchCode.UNKNOWN_SERVICE, `call ${requestId} to service ${index % heads.length} of ${lengths.length} (${head.service.length} bytes)`);
            }
          } finally {
            peer.destroy();
          }
        },
      ),
      { numRuns: 25 },
    );
  } finally {
    await server.close({ graceMs: 100 });
  }
});

test("[REF-2] [REF-3] the requests of a connection: methods bound with references 1 to 256 in the order first called, then by their names", () =>
  checkProperty(
    fc.property(fc.integer({ min: 0, max: MAX_METHOD_REF + 20 }), (count) => {
      const requests = new RequestEncoder(DEFAULT_LIMITS, true);
      const heads = Array.from({ length: count }, (_, i): RequestHead => ({ service: SERVICE, method: `M${i}`, callMode: CallMode.UNARY, metadata: [], keys: [], group: undefined, routingKey: undefined, route: encodeRoute(SERVICE, `M${i}`) }));
      // The bodies are empty: a frame is its 4-byte size and its header.
      const headerOf = (frame: Uint8Array) => decodeHeader(frame, 4, frame.length);
      heads.forEach((head, i) => {
        assert.is(headerOf(requests.encode(head, i + 1, 1000, new Uint8Array(0), 0, 0)).methodRef, i < MAX_METHOD_REF ? i + 1 : 0, `the first request of method ${i}`);
        requests.writing(head);
      });
      heads.forEach((head, i) => {
        const header = headerOf(requests.encode(head, count + i + 1, 1000, new Uint8Array(0), 0, 0));
        assert.equal([header.service, header.methodRef], i < MAX_METHOD_REF ? ["", i + 1] : [SERVICE, 0], `a later request of method ${i}`);
      });
    }),
  ),
);

test.run();
