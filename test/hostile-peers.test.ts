// What one unauthenticated client can make the server hold or do, from raw
// sockets: every hostile input gets a clear protocol answer and the server's
// memory stays within its bounds. Cites [EXT-9] [LIMIT-7] [STATUS-6]
// [COMP-3] [COMP-6] [COMP-9] [SEC-3] [SEC-4] [IDLE-3] [FRAME-19] [FRAME-20]
// [FRAME-21] [LIMIT-8].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { gzipSync } from "node:zlib";
import { CallMode, Compression, crc32, createClient, createServer, decodeGoaway, DispatchCode, encodeFrame, encodeFrameHead, encodePreface, FrameType, GoawayCode, MAX_UNKNOWN_FIELDS, type Server } from "../src/node.ts";
import { sleep } from "../src/util/timer.ts";
import { create, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema } from "./gen/stratatest/v1/testing_pb.ts";
import { waitUntil } from "./support/wait.ts";
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
    const service = kind === 1 ? "stratatest.v1.TestService" : `made.up.${id}.${filler}`;
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
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: "stratatest.v1.TestService", method: "Echo", callMode: 9 as CallMode });
  await peer.waitFor((f) => f.header.requestId === 1);
  assert.equal(ctx.server.stats().methods["stratatest.v1.TestService/Echo"]!.rejected, { INVALID_REQUEST: 1 });
  peer.destroy();
});

test("[LIMIT-7] [STATUS-6] a refusal quoting a long name stays not-processed at the client's smallest header limit", async () => {
  // The client declares the baseline 4096; the unknown names are 3,000 and 12,000 bytes.
  const peer = await RawPeer.connect(ctx.address, { hello: { maxHeaderSize: 4096 } });
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: "s".repeat(3000), method: "m".repeat(1000) });
  peer.send({ type: FrameType.REQUEST, requestId: 2, service: "stratatest.v1.TestService", method: "é".repeat(6000) });
  const first = await peer.waitFor((f) => f.header.requestId === 1);
  const second = await peer.waitFor((f) => f.header.requestId === 2);
  assert.is(first.header.dispatchCode, DispatchCode.UNKNOWN_SERVICE);
  assert.is(second.header.dispatchCode, DispatchCode.UNKNOWN_METHOD);
  for (const frame of [first, second]) assert.ok(frame.header.dispatchMessage.length > 0 && frame.header.dispatchMessage.length < 1024, frame.header.dispatchMessage);
  peer.destroy();
});

/** A gzip member of `size` zero bytes: a few KiB on the wire for MiBs once inflated. */
function bomb(size: number): Uint8Array {
  return gzipSync(new Uint8Array(size), { level: 9 });
}

test("[COMP-9] [LIMIT-5] 300 pipelined gzip bombs of 4 MiB each: admitted before they are inflated, memory stays bounded, every one answered", async () => {
  const server = createServer({ maxConcurrentRequests: 20 }).addRawService("bomb.v1.Sink", {
    Take: async (body) => {
      await sleep(20);
      return Uint8Array.of(body.length & 0xff);
    },
  });
  const address = await server.listen("127.0.0.1:0");
  const peer = await RawPeer.connect(address);
  const n = 300;
  const payload = bomb(4 * 1024 * 1024 - 16);
  const before = process.memoryUsage().arrayBuffers;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, 5);
  const frames = [];
  for (let id = 1; id <= n; id++) frames.push(encodeFrame({ type: FrameType.REQUEST, requestId: id, service: "bomb.v1.Sink", method: "Take", compression: Compression.GZIP }, payload));
  peer.write(Uint8Array.from(Buffer.concat(frames)));
  await peer.waitFor(() => peer.frames.filter((f) => f.header.type === FrameType.RESPONSE).length === n, 60_000);
  clearInterval(sampler);
  const codes = new Set(peer.frames.filter((f) => f.header.type === FrameType.RESPONSE).map((f) => f.header.dispatchCode));
  assert.ok([...codes].every((c) => c === DispatchCode.OK || c === DispatchCode.OVERLOADED), `codes ${[...codes]}`);
  assert.ok(codes.has(DispatchCode.OK), "some ran");
  const grewMiB = (peak - before) / 2 ** 20;
  // 20 admitted at most, each holding at most its 4 MiB output, plus a few inflating: far below 300 x 4 MiB.
  assert.ok(grewMiB < 200, `array buffers grew by ${grewMiB.toFixed(0)} MiB`);
  peer.destroy();
  await server.close({ graceMs: 200 });
});

test("[COMP-3] [COMP-6] gzip bodies that are not exactly one member are INVALID_ARGUMENT; header flags and fields are accepted", async () => {
  const server = createServer().addRawService("gz.v1.Echo", { Back: (body) => body });
  const address = await server.listen("127.0.0.1:0");
  const peer = await RawPeer.connect(address);
  const text = new TextEncoder().encode("hello gzip");
  const one = gzipSync(text);
  // A member with FEXTRA, FNAME, FCOMMENT and FHCRC set, written by hand.
  const header = Uint8Array.of(0x1f, 0x8b, 8, 0x1e, 0, 0, 0, 0, 0, 3, 2, 0, 0x41, 0x42, 0x6e, 0x61, 0x6d, 0x65, 0, 0x63, 0);
  const headerCrc = crc32(header) & 0xffff;
  const flagged = Uint8Array.from([...header, headerCrc & 0xff, headerCrc >> 8, ...one.subarray(10)]);
  const bodies: Array<[string, Uint8Array, number]> = [
    ["one member", one, DispatchCode.OK],
    ["all header fields", flagged, DispatchCode.OK],
    ["an empty member, then a real one", Uint8Array.from([...gzipSync(new Uint8Array(0)), ...one]), DispatchCode.INVALID_ARGUMENT],
    ["two members", Uint8Array.from([...one, ...one]), DispatchCode.INVALID_ARGUMENT],
    ["8 zero bytes after the trailer", Uint8Array.from([...one, 0, 0, 0, 0, 0, 0, 0, 0]), DispatchCode.INVALID_ARGUMENT],
    ["an empty member and 8 zero bytes", Uint8Array.from([...gzipSync(new Uint8Array(0)), 0, 0, 0, 0, 0, 0, 0, 0]), DispatchCode.INVALID_ARGUMENT],
    ["one byte after the trailer", Uint8Array.from([...one, 7]), DispatchCode.INVALID_ARGUMENT],
    ["truncated trailer", one.subarray(0, one.length - 3), DispatchCode.INVALID_ARGUMENT],
    ["wrong CRC", Uint8Array.from([...one.subarray(0, one.length - 8), 1, 2, 3, 4, ...one.subarray(one.length - 4)]), DispatchCode.INVALID_ARGUMENT],
    ["wrong header CRC", Uint8Array.from([...header, headerCrc & 0xff, (headerCrc >> 8) ^ 1, ...one.subarray(10)]), DispatchCode.INVALID_ARGUMENT],
  ];
  for (const [i, [what, body, code]] of bodies.entries()) {
    peer.send({ type: FrameType.REQUEST, requestId: i + 1, service: "gz.v1.Echo", method: "Back", compression: Compression.GZIP }, body);
    const frame = await peer.waitFor((f) => f.header.requestId === i + 1);
    assert.is(frame.header.dispatchCode, code, `${what}: ${frame.header.dispatchMessage}`);
    if (code === DispatchCode.OK) assert.equal([...frame.body], [...text], what);
  }
  peer.destroy();
  await server.close({ graceMs: 200 });
});

/** Sends `n` Echo requests for `size`-byte payloads without ever reading the answers. */
async function nonReader(address: string, n: number, size: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(address);
  peer.pause();
  const body = toBinary(EchoRequestSchema, create(EchoRequestSchema, { payloadSize: size }));
  for (let id = 1; id <= n; id++) peer.send({ type: FrameType.REQUEST, requestId: id, service: "stratatest.v1.TestService", method: "Echo" }, body);
  return peer;
}

test("[SEC-3] a peer that asks for 200 MiB of responses and reads none is closed once it holds 16 MiB; the server's memory stays bounded", async () => {
  // 10 in progress at a time: the handlers themselves hold at most 10 payloads.
  const server = createServer({ maxConnectionOutputBytes: 16 * 1024 * 1024, idleTimeoutMs: 0, maxConcurrentRequests: 10 }).addService(TestService, testService().impl);
  const address = await server.listen("127.0.0.1:0");
  const before = process.memoryUsage().arrayBuffers;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, 5);
  const peer = await nonReader(address, 100, 2 * 1024 * 1024);
  await waitUntil(() => server.stats().connections.current === 0, 10_000);
  clearInterval(sampler);
  const grewMiB = (peak - before) / 2 ** 20;
  assert.ok(grewMiB < 100, `array buffers grew by ${grewMiB.toFixed(0)} MiB`);
  peer.destroy();
  await server.close({ graceMs: 200 });
});

test("[SEC-3] non-readers each under the connection bound are still bounded together: past 16 MiB server-wide, the writing connection is closed", async () => {
  const server = createServer({ maxConnectionOutputBytes: 0, maxServerOutputBytes: 16 * 1024 * 1024, idleTimeoutMs: 0, maxConcurrentRequests: 10 }).addService(TestService, testService().impl);
  const address = await server.listen("127.0.0.1:0");
  const peers = [await nonReader(address, 6, 2 * 1024 * 1024), await nonReader(address, 6, 2 * 1024 * 1024), await nonReader(address, 6, 2 * 1024 * 1024)];
  // 36 MiB asked for in all, at most ~12 MiB per connection: only the server's bound can close one.
  await waitUntil(() => server.stats().connections.closed >= 1, 10_000);
  for (const peer of peers) peer.destroy();
  await server.close({ graceMs: 200 });
});

test("[IDLE-3] a peer that reads nothing while output waits is idle-closed, though the server itself stopped reading", async () => {
  const server = createServer({ idleTimeoutMs: 600 }).addService(TestService, testService().impl);
  const address = await server.listen("127.0.0.1:0");
  const started = performance.now();
  // 3 MiB each: within the default client body limit, so every response is written in full.
  const peer = await nonReader(address, 16, 3 * 1024 * 1024);
  await waitUntil(() => server.stats().connections.current === 0, 10_000);
  const ms = performance.now() - started;
  assert.ok(ms >= 550, `closed after ${ms.toFixed(0)} ms, before the idle timeout`);
  peer.destroy();
  await server.close({ graceMs: 200 });
});

/** The first bytes of a REQUEST frame declaring a `bodySize`-byte body: its size prefix and header. */
function requestHead(id: number, bodySize: number): Uint8Array {
  return encodeFrameHead({ type: FrameType.REQUEST, requestId: id, service: "stratatest.v1.TestService", method: "Echo" }, bodySize);
}

test("[FRAME-19] a frame trickled one byte every 40 ms is cut off by the frame transfer timeout, though every byte resets the idle timer", async () => {
  const server = createServer({ frameTransferTimeoutMs: 400, idleTimeoutMs: 60_000 }).addService(TestService, testService().impl);
  const peer = await RawPeer.connect(await server.listen("127.0.0.1:0"));
  peer.write(requestHead(1, 4 * 1024 * 1024));
  const started = performance.now();
  const trickle = setInterval(() => peer.write(Uint8Array.of(0)), 40);
  const goaway = await peer.waitFor((f) => f.header.type === FrameType.GOAWAY, 5000).finally(() => clearInterval(trickle));
  const ms = performance.now() - started;
  assert.ok(ms >= 380 && ms < 3000, `cut off after ${ms.toFixed(0)} ms`);
  assert.ok(decodeGoaway(goaway.body).message.startsWith("[FRAME-19]"), decodeGoaway(goaway.body).message);
  assert.is(decodeGoaway(goaway.body).code, GoawayCode.IDLE_TIMEOUT);
  peer.destroy();
  await server.close({ graceMs: 200 });
});

test("[FRAME-19] a frame whose header arrives whole, and then none of its body, is cut off by the frame transfer timeout", async () => {
  const server = createServer({ frameTransferTimeoutMs: 400, idleTimeoutMs: 60_000 }).addService(TestService, testService().impl);
  const peer = await RawPeer.connect(await server.listen("127.0.0.1:0"));
  // The size prefix and header in one write, ending where the body would begin.
  peer.write(requestHead(1, 1024));
  const started = performance.now();
  const goaway = await peer.waitFor((f) => f.header.type === FrameType.GOAWAY, 5000);
  const ms = performance.now() - started;
  assert.ok(ms >= 380 && ms < 3000, `cut off after ${ms.toFixed(0)} ms`);
  assert.ok(decodeGoaway(goaway.body).message.startsWith("[FRAME-19]"), decodeGoaway(goaway.body).message);
  peer.destroy();
  await server.close({ graceMs: 200 });
});

test("[FRAME-19] frames that each arrive in time keep a connection open however long the stream of them lasts", async () => {
  const server = createServer({ frameTransferTimeoutMs: 300 }).addService(TestService, testService().impl);
  const peer = await RawPeer.connect(await server.listen("127.0.0.1:0"));
  // Frames of an unknown type (skipped), each split in two writes 10 ms apart: 40 of them take
  // well over the timeout in all; a PING at the end shows the connection is still served.
  const frame = encodeFrame({ type: 42 as FrameType }, new Uint8Array(8));
  for (let i = 0; i < 40; i++) {
    peer.write(frame.subarray(0, 5));
    await sleep(10);
    peer.write(frame.subarray(5));
  }
  peer.send({ type: FrameType.PING }, Uint8Array.of(9));
  await peer.waitFor((f) => f.header.type === FrameType.PONG, 5000);
  assert.not.ok(peer.frames.some((f) => f.header.type === FrameType.GOAWAY), peer.describe());
  peer.destroy();
  await server.close({ graceMs: 200 });
});

test("[FRAME-20] partial frames of many connections are bounded server-wide: past 8 MiB, the connection that would exceed it is closed", async () => {
  const server = createServer({ maxPartialFrameBytes: 8 * 1024 * 1024 }).addService(TestService, testService().impl);
  const address = await server.listen("127.0.0.1:0");
  const peers: RawPeer[] = [];
  for (let i = 0; i < 4; i++) {
    const peer = await RawPeer.connect(address);
    // All of a 3 MiB body but its last byte: memory the server really holds.
    peer.write(requestHead(1, 3 * 1024 * 1024));
    peer.write(new Uint8Array(3 * 1024 * 1024 - 1));
    peers.push(peer);
  }
  await waitUntil(() => peers.filter((p) => p.frames.some((f) => f.header.type === FrameType.GOAWAY)).length >= 2, 5000);
  const refused = peers.filter((p) => p.frames.some((f) => f.header.type === FrameType.GOAWAY));
  for (const peer of refused) {
    const goaway = decodeGoaway(peer.frames.find((f) => f.header.type === FrameType.GOAWAY)!.body);
    assert.ok(goaway.message.startsWith("[FRAME-20]"), goaway.message);
  }
  assert.is(refused.length, 2, "two 3 MiB partial frames fit 8 MiB; the other two do not");
  for (const peer of peers) peer.destroy();
  await server.close({ graceMs: 200 });
});

test("[FRAME-21] [FRAME-20] headers declaring large bodies that never come hold no memory: 64 of them (192 MiB declared) leave an 8 MiB bound to a client whose 1 MiB calls span reads", async () => {
  const server = createServer({ maxPartialFrameBytes: 8 * 1024 * 1024 }).addService(TestService, testService().impl);
  const address = await server.listen("127.0.0.1:0");
  const peers: RawPeer[] = [];
  for (let i = 0; i < 64; i++) {
    const peer = await RawPeer.connect(address);
    peer.write(requestHead(1, 3 * 1024 * 1024));
    peers.push(peer);
  }
  const client = createClient(TestService, { address });
  for (let i = 0; i < 4; i++) {
    const text = `${i}`.repeat(1024 * 1024);
    const reply = await client.echo({ text });
    assert.ok(reply.text === text, `call ${i} echoed`);
  }
  assert.equal(peers.filter((p) => p.frames.some((f) => f.header.type === FrameType.GOAWAY)).length, 0, "no header-only peer was refused either");
  await client.$close();
  for (const peer of peers) peer.destroy();
  await server.close({ graceMs: 200 });
});

test("[FRAME-20] a HELLO still arriving counts toward the bound too: of three handshakes each 3 MiB into a HELLO body, the one past 8 MiB is closed", async () => {
  const server = createServer({ maxPartialFrameBytes: 8 * 1024 * 1024 }).addService(TestService, testService().impl);
  const address = await server.listen("127.0.0.1:0");
  const peers: RawPeer[] = [];
  const helloHead = encodeFrameHead({ type: FrameType.HELLO }, 3 * 1024 * 1024);
  for (let i = 0; i < 3; i++) {
    const peer = await RawPeer.connect(address, { handshake: false });
    peer.write(encodePreface());
    peer.write(helloHead);
    peer.write(new Uint8Array(3 * 1024 * 1024 - 1));
    peers.push(peer);
  }
  await waitUntil(() => peers.some((p) => p.frames.some((f) => f.header.type === FrameType.GOAWAY)), 5000);
  const goaways = peers.flatMap((p) => p.frames.filter((f) => f.header.type === FrameType.GOAWAY)).map((f) => decodeGoaway(f.body).message);
  assert.equal(goaways.length, 1, "two fit 8 MiB, the third does not");
  assert.ok(goaways[0]!.startsWith("[FRAME-20]"), goaways[0]);
  for (const peer of peers) peer.destroy();
  await server.close({ graceMs: 200 });
});

test("[SEC-4] a client's connections beyond maxConnectionsPerClient are closed at once; one closing makes room", async () => {
  const server = createServer({ maxConnectionsPerClient: 3 }).addService(TestService, testService().impl);
  const address = await server.listen("127.0.0.1:0");
  const open = [await RawPeer.connect(address), await RawPeer.connect(address), await RawPeer.connect(address)];
  const extra = await RawPeer.connect(address, { handshake: false });
  await extra.waitForEnd(3000);
  assert.is(extra.prefix.length, 0, "closed before the server's preface");
  assert.is(server.stats().connections.refused, 1);
  open[0]!.destroy();
  await waitUntil(() => server.stats().connections.current === 2);
  const again = await RawPeer.connect(address);
  assert.ok(again.frames.some((f) => f.header.type === FrameType.HELLO), "a new connection gets its HELLO");
  for (const peer of [...open, again]) peer.destroy();
  await server.close({ graceMs: 200 });
});

/** An EchoRequest body of `n` unknown fields (field 15, varint 0): 2 bytes each. */
function unknownFields(n: number): Uint8Array {
  const body = new Uint8Array(2 * n);
  for (let i = 0; i < n; i++) body[2 * i] = 0x78;
  return body;
}

test("[LIMIT-8] a 4 MB body of 2 million unknown fields is refused INVALID_ARGUMENT without stalling the server; 10,000 are accepted", async () => {
  const server = createServer().addService(TestService, testService().impl);
  const peer = await RawPeer.connect(await server.listen("127.0.0.1:0"));
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: "stratatest.v1.TestService", method: "Echo" }, unknownFields(MAX_UNKNOWN_FIELDS));
  assert.is((await peer.waitFor((f) => f.header.requestId === 1)).header.dispatchCode, DispatchCode.OK);
  let last = performance.now();
  let worstGap = 0;
  const sampler = setInterval(() => {
    const t = performance.now();
    worstGap = Math.max(worstGap, t - last);
    last = t;
  }, 5);
  peer.send({ type: FrameType.REQUEST, requestId: 2, service: "stratatest.v1.TestService", method: "Echo" }, unknownFields(2_000_000));
  const refused = await peer.waitFor((f) => f.header.requestId === 2, 10_000);
  clearInterval(sampler);
  assert.is(refused.header.dispatchCode, DispatchCode.INVALID_ARGUMENT, refused.header.dispatchMessage);
  assert.ok(refused.header.dispatchMessage.includes("unknown fields"), refused.header.dispatchMessage);
  // A generous bound: storing 2 million unknown fields took 0.5 to 1.25 s here.
  assert.ok(worstGap < 400, `the event loop stalled for ${worstGap.toFixed(0)} ms`);
  peer.destroy();
  await server.close({ graceMs: 200 });
});

test.run();
