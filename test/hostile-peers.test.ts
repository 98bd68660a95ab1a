// What one unauthenticated client can make the server hold or do, from raw
// sockets: every hostile input gets a clear protocol answer and the server's
// memory stays within its bounds. Cites [EXT-9] [LIMIT-7] [STATUS-6].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CallMode, createServer, DispatchCode, FrameType, type Server } from "../src/index.ts";
import { TestService, testService } from "./support/test-service.ts";
import { RawPeer } from "./support/raw-peer.ts";

const test = suite("hostile peers");

interface Context {
  server: Server;
  address: string;
}
const ctx = {} as Context;

test.before.each(async () => {
  ctx.server = createServer({ maxConcurrentRequests: 0 }).addService(TestService, testService().impl);
  ctx.address = await ctx.server.listen("127.0.0.1:0");
});

test.after.each(async () => {
  await ctx.server.close({ graceMs: 200 });
});

test("[EXT-9] refused requests with thousands of made-up names leave the stats at one entry per offered method plus one", async () => {
  const peer = await RawPeer.connect(ctx.address);
  const n = 3000;
  const filler = "x".repeat(1000);
  for (let id = 1; id <= n; id++) {
    // Unknown services, unknown methods of a real service, and names refused before lookup.
    const kind = id % 4;
    const service = kind === 1 ? "strata.testing.v1.TestService" : `made.up.${id}.${filler}`;
    const header =
      kind === 2
        ? { service, method: `M${id}`, callMode: 9 as CallMode } // unknown call mode
        : kind === 3
          ? { service, method: `M${id}`, metadata: [{ key: "BAD KEY", value: new Uint8Array(0) }] }
          : { service, method: `Method${id}${filler}` };
    peer.send({ type: FrameType.REQUEST, requestId: id, ...header });
  }
  await peer.waitFor((f) => f.header.requestId === n, 20_000);
  const stats = ctx.server.stats();
  const names = Object.keys(stats.methods);
  assert.ok(names.length === 1 && names[0] === "*", `only the aggregate entry "*" (no offered method was named); got ${names.length} entries`);
  assert.equal(stats.methods["*"]!.rejected, { UNKNOWN_SERVICE: n / 4, UNKNOWN_METHOD: n / 4, INVALID_REQUEST: n / 2 });
  peer.destroy();
});

test("[EXT-9] a refused request to an offered method is counted under that method's name", async () => {
  const peer = await RawPeer.connect(ctx.address);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: "strata.testing.v1.TestService", method: "Echo", callMode: 9 as CallMode });
  await peer.waitFor((f) => f.header.requestId === 1);
  assert.equal(ctx.server.stats().methods["strata.testing.v1.TestService/Echo"]!.rejected, { INVALID_REQUEST: 1 });
  peer.destroy();
});

test("[LIMIT-7] [STATUS-6] a refusal quoting a long name stays not-processed at the client's smallest header limit", async () => {
  // The client declares the baseline 4096; the unknown names are 3,000 and 12,000 bytes.
  const peer = await RawPeer.connect(ctx.address, { hello: { maxHeaderSize: 4096 } });
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: "s".repeat(3000), method: "m".repeat(1000) });
  peer.send({ type: FrameType.REQUEST, requestId: 2, service: "strata.testing.v1.TestService", method: "é".repeat(6000) });
  const first = await peer.waitFor((f) => f.header.requestId === 1);
  const second = await peer.waitFor((f) => f.header.requestId === 2);
  assert.is(first.header.dispatchCode, DispatchCode.UNKNOWN_SERVICE);
  assert.is(second.header.dispatchCode, DispatchCode.UNKNOWN_METHOD);
  for (const frame of [first, second]) assert.ok(frame.header.dispatchMessage.length > 0 && frame.header.dispatchMessage.length < 1024, frame.header.dispatchMessage);
  peer.destroy();
});

test.run();
