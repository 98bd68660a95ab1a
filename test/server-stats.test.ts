// Server stats as an object and through the built-in AdminService.
// Cites [EXT-5] [EXT-7] [EXT-8].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { AdminService } from "../src/gen/strata/admin/v1/admin_pb.ts";
import { createClient, createServer, encodeFrame, FrameType, RpcError, type Server } from "../src/node.ts";
import { RawPeer } from "./support/raw-peer.ts";
import { TestService, testService } from "./support/test-service.ts";

const test = suite("server stats");

test("[EXT-8] stats count connections, requests, per-method calls, errors, refusals and latencies", async () => {
  const server = createServer({ exposeAdminService: true, keyedDispatch: false }).addService(TestService, testService().impl);
  const address = await server.listen("memory:");
  const client = createClient(TestService, { address });
  await client.echo({ text: "a" });
  await client.echo({ text: "b", delayMs: 30 });
  await client.echo({ appCode: 5 }).catch(() => {});
  await client.echo({ text: "x" }, { keys: ["k"] }).catch(() => {});
  const stats = server.stats();
  assert.is(stats.connections.current, 1);
  assert.is(stats.requests.total, 4);
  const echo = stats.methods["stratatest.v1.TestService/Echo"]!;
  assert.is(echo.calls, 3);
  assert.is(echo.errors, 1);
  assert.equal(echo.rejected, { UNSUPPORTED: 1 });
  assert.is(echo.latencyBuckets.reduce((a, b) => a + b, 0), 3);
  assert.ok(echo.latencySumMs >= 30, `latency sum ${echo.latencySumMs}`);

  const admin = createClient(AdminService, { address });
  const remote = await admin.getStats({});
  assert.is(remote.connectionsAccepted, 2n);
  assert.is(remote.requestsTotal, 5n, "the GetStats request itself counts");
  const remoteEcho = remote.methods.find((m) => m.method === "stratatest.v1.TestService/Echo")!;
  assert.is(remoteEcho.calls, 3n);
  assert.equal(remoteEcho.rejected, { UNSUPPORTED: 1n });
  assert.is(remoteEcho.latencyBuckets.length, remote.latencyBucketBoundsMs.length + 1);
  client.$close();
  admin.$close();
  await server.close({ graceMs: 200 });
  assert.is(server.stats().connections.closed, 2);
});

test("[EXT-8] runs that return while a chunk is read are counted before the next handler starts, and once the chunk is read", async () => {
  const runs = (method: string) => server.stats().methods[`t.v1.Timed/${method}`]?.calls ?? 0;
  const server: Server = createServer().addRawService("t.v1.Timed", {
    Busy: (body) => {
      const until = performance.now() + 25;
      while (performance.now() < until);
      return body;
    },
    Quick: (body) => body,
    Count: () => Uint8Array.of(runs("Busy"), runs("Quick")),
  });
  const address = await server.listen("127.0.0.1:0");
  const peer = await RawPeer.connect(address);
  const request = (requestId: number, method: string) => encodeFrame({ type: FrameType.REQUEST, requestId, service: "t.v1.Timed", method });
  const answer = (requestId: number) => peer.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === requestId);
  // One write, so that the server reads the requests in one chunk and runs them in one turn.
  peer.write(Buffer.concat([request(1, "Busy"), request(2, "Count"), request(3, "Quick"), request(4, "Count")]));
  assert.equal(Array.from((await answer(2)).body), [1, 0], "Busy counted when the next handler ran");
  assert.equal(Array.from((await answer(4)).body), [1, 1], "Quick counted when the next handler ran");
  const busy = server.stats().methods["t.v1.Timed/Busy"]!;
  assert.ok(busy.latencySumMs >= 25, `Busy's latency ${busy.latencySumMs} ms covers its 25 ms run`);
  // The last run of a chunk is counted when the chunk is read, not at the next clock reading.
  peer.write(request(5, "Quick"));
  await answer(5);
  assert.is(runs("Quick"), 2);
  assert.is(runs("Count"), 2);
  peer.destroy();
  await server.close({ graceMs: 200 });
});

test("[EXT-8] [KEYS-9] a keyed run that returns while a chunk is read is counted, and timed, before its keys start a handler on another connection", async () => {
  const runs = (method: string) => server.stats().methods[`t.v1.Keyed/${method}`]?.calls ?? 0;
  let releaseHold!: () => void;
  let holding!: () => void;
  const held = new Promise<void>((resolve) => (holding = resolve));
  let seenByReader = -1;
  const server: Server = createServer({ keyedDispatch: true }).addRawService("t.v1.Keyed", {
    Hold: (body) => {
      holding();
      return new Promise((resolve) => (releaseHold = () => resolve(body)));
    },
    Echo: (body) => body,
    Blocked: (body) => body,
    Freed: (body) => body,
    Reader: (body) => {
      seenByReader = runs("Freed");
      const until = performance.now() + 30;
      while (performance.now() < until);
      return body;
    },
  });
  const address = await server.listen("127.0.0.1:0");
  const x = await RawPeer.connect(address);
  const y = await RawPeer.connect(address);
  const request = (requestId: number, method: string, keys: string[] = []) => encodeFrame({ type: FrameType.REQUEST, requestId, service: "t.v1.Keyed", method, keys });
  /** Every frame written to `peer` so far has been read: a request without keys runs as it is read. */
  const settle = async (peer: RawPeer, id: number) => {
    peer.write(request(id, "Echo"));
    await peer.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === id);
  };
  try {
    // k is held on y; on x, Blocked waits for k and so holds up Freed, which wants j; on y, Reader wants j after Freed.
    y.write(request(1, "Hold", ["k"]));
    await held;
    x.write(request(1, "Blocked", ["j", "k"]));
    x.write(request(2, "Freed", ["j"]));
    await settle(x, 3);
    y.write(request(2, "Reader", ["j"]));
    await settle(y, 3);
    // One chunk on x: the CANCEL removes Blocked, Freed runs and returns, and its key starts Reader on y, all while x's chunk is read.
    x.write(Buffer.concat([encodeFrame({ type: FrameType.CANCEL, requestId: 1 }), request(4, "Freed")]));
    await x.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === 4);
    await y.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === 2);
    assert.is(seenByReader, 1, "Freed counted before the handler its key started");
    const freed = server.stats().methods["t.v1.Keyed/Freed"]!;
    assert.is(freed.calls, 2);
    assert.ok(freed.latencySumMs < 25, `Freed's latency ${freed.latencySumMs} ms leaves out Reader's 30 ms run`);
    releaseHold();
    await y.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === 1);
  } finally {
    x.destroy();
    y.destroy();
    await server.close({ graceMs: 200 });
  }
});

test("[EXT-7] without exposeAdminService, AdminService is UNKNOWN_SERVICE; applications cannot claim strata. names [EXT-5]", async () => {
  const server = createServer();
  const address = await server.listen("memory:");
  const admin = createClient(AdminService, { address });
  const error = await admin.getStats({}).then(() => undefined, (e: unknown) => e);
  assert.ok(RpcError.is(error));
  assert.is(error.code, "UNKNOWN_SERVICE");
  assert.is(error.processed, "no");
  assert.throws(() => server.addService(AdminService, { getStats: () => ({}) }), /reserved/);
  admin.$close();
  await server.close({ graceMs: 200 });
});

test.run();
