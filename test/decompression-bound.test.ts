// What compressed requests cost a server before they are decompressed: no
// output past what a body's trailer declares [COMP-10], and a server-wide
// bound on the requests waiting to be decompressed, those of closed
// connections too, counted at what they will decompress to [COMP-11]
// [DRAIN-15]. Cites [COMP-5] [COMP-6] [COMP-8] [LIMIT-5] [CALL-6].
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CallMode, Compression, createClient, createServer, DispatchCode, encodeFrame, FrameType, gunzip, type RawInflater } from "../src/node.ts";
import { nativeInflateRaw } from "../src/server/native-inflate.ts";
import { ConformanceService, RecordRequestSchema } from "../conformance/gen/strata/conformance/v1/conformance_pb.ts";
import { conformanceService } from "../conformance/reference/conformance-service.ts";
import { create, toBinary } from "@bufbuild/protobuf";
import { checkProperty } from "./support/property.ts";
import { garbageCollector, heldBytes, holdsMoreThan } from "./support/garbage.ts";
import { RawPeer } from "./support/raw-peer.ts";
import { waitUntil } from "./support/wait.ts";

const test = suite("decompression bound");
const SERVICE = ConformanceService.typeName;

/** `member` with its trailer's ISIZE replaced by `size`. */
function declaring(member: Uint8Array, size: number): Uint8Array {
  const forged = Uint8Array.from(member);
  new DataView(forged.buffer).setUint32(forged.length - 4, size >>> 0, true);
  return forged;
}

test("[COMP-10] [COMP-5] [COMP-6] property: a gzip body decompresses within the smaller of max_body_size and its ISIZE, natively and through DecompressionStream alike; past ISIZE it is corrupt, past the limit too large", async () => {
  const maxSize = 4 * 1024 * 1024;
  await checkProperty(
    fc.asyncProperty(
      fc.integer({ min: 0, max: maxSize + 1024 }),
      fc.integer({ min: 0, max: 255 }),
      fc.oneof(fc.constant("true" as const), fc.integer({ min: 0, max: 0xffffffff })),
      async (size, fill, isize) => {
        const data = new Uint8Array(size).fill(fill);
        const member = gzipSync(data);
        const body = isize === "true" ? member : declaring(member, isize);
        const declared = isize === "true" ? size : isize;
        const asked: number[] = [];
        const recording: RawInflater = (input, maxOutput) => (asked.push(maxOutput), nativeInflateRaw(input, maxOutput));
        for (const [how, result] of [["native", await gunzip(body, maxSize, recording)], ["streams", await gunzip(body, maxSize)]] as const) {
          const expected = declared === size && size <= maxSize ? "ok" : size > Math.min(declared, maxSize) && declared < maxSize ? "corrupt" : size > maxSize ? "too-large" : "corrupt";
          const got = result.ok ? "ok" : result.failure;
          // DecompressionStream checks the trailer itself, and may find it wrong before the output is seen to be too large.
          const either = how === "streams" && expected === "too-large" && declared !== size;
          assert.ok(got === expected || (either && got === "corrupt"), `${how}: ${size} bytes declaring ${declared}: ${result.ok ? "ok" : result.detail}`);
          if (result.ok) assert.is(result.bytes.length, size);
        }
        assert.equal(asked, [Math.min(maxSize, declared)], "the native inflater is asked for no more than the trailer declares");
      },
    ),
    { numRuns: 60 },
  );
});

test("[COMP-10] a gzip body of 16 MiB of zeros whose trailer declares 1 KiB is answered INVALID_ARGUMENT after 1 KiB of output", async () => {
  const asked: number[] = [];
  const server = createServer({ inflateRaw: (input, maxOutput) => (asked.push(maxOutput), nativeInflateRaw(input, maxOutput)) }).addRawService("gz.v1.Echo", { Back: (body) => body });
  const address = await server.listen("127.0.0.1:0");
  const peer = await RawPeer.connect(address);
  const bomb = declaring(gzipSync(new Uint8Array(16 * 1024 * 1024)), 1024);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: "gz.v1.Echo", method: "Back", compression: Compression.GZIP }, bomb);
  const frame = await peer.waitFor((f) => f.header.requestId === 1);
  assert.is(frame.header.dispatchCode, DispatchCode.INVALID_ARGUMENT, frame.header.dispatchMessage);
  assert.match(frame.header.dispatchMessage, "ISIZE");
  assert.equal(asked, [1024]);
  peer.destroy();
  await server.close({ graceMs: 0 });
});

/**
 * A server whose inflating waits for `open()`: requests stay queued for
 * decompression as long as a test needs them to, then are inflated by native zlib.
 */
async function gatedServer(maxDecompressingBytes: number) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const { service, impl, log } = conformanceService();
  const server = createServer({ maxDecompressingBytes, inflateRaw: async (input, maxOutput) => (await gate, nativeInflateRaw(input, maxOutput)) }).addBuiltinService(service, impl);
  const address = await server.listen("127.0.0.1:0");
  return { server, address, log, open };
}

/** A Record request's body, gzip-compressed, of `size` bytes once decompressed. */
function recordGzip(tag: string, size: number): Uint8Array {
  return gzipSync(toBinary(RecordRequestSchema, create(RecordRequestSchema, { tag: tag.padEnd(size - 4, ".") })));
}

test("[COMP-11] [DRAIN-15] [CALL-6] compressed requests waiting to be decompressed are bounded server-wide at what they will decompress to, those of closed connections too: past 1 MiB a oneway one is dropped, a unary or acked one refused OVERLOADED; the rest run, and the room comes back", async () => {
  const { server, address, log, open } = await gatedServer(1024 * 1024);
  // 20 oneway requests of 100 KB each once decompressed, a few bytes compressed, from connections closed
  // right after: each counts some 103 KB, and each connection 12 KiB besides, so 9 fit.
  for (let c = 0; c < 4; c++) {
    const peer = await RawPeer.connect(address);
    for (let i = 1; i <= 5; i++) peer.send({ type: FrameType.REQUEST, requestId: 2 * i - 1, service: SERVICE, method: "Record", callMode: CallMode.ONEWAY, compression: Compression.GZIP }, recordGzip(`${c * 5 + i - 1}`.padStart(2, "0"), 100_000));
    const total = server.stats().requests.total;
    await waitUntil(() => server.stats().requests.total === total + 5, 5000);
    peer.destroy();
  }
  const open2 = await RawPeer.connect(address);
  for (const [id, callMode] of [[1, CallMode.UNARY], [3, CallMode.ACKED]] as const) {
    open2.send({ type: FrameType.REQUEST, requestId: id, service: SERVICE, method: "Record", callMode, compression: Compression.GZIP }, recordGzip("refused", 100_000));
    const answer = await open2.waitFor((f) => f.header.requestId === id);
    assert.is(answer.header.type, FrameType.RESPONSE, "no ACK before the refusal");
    assert.is(answer.header.dispatchCode, DispatchCode.OVERLOADED, answer.header.dispatchMessage);
    assert.match(answer.header.dispatchMessage, "[COMP-11]");
  }
  open();
  const recorded = () => log.filter((entry) => entry.startsWith("record:")).map((entry) => entry.slice(7, 9));
  // Refused as they were taken up: all but the unary and acked ones were oneway, and dropped.
  const dropped = (server.stats().methods[`${SERVICE}/Record`]?.rejected.OVERLOADED ?? 0) - 2;
  assert.ok(dropped >= 8 && dropped <= 13, `${dropped} of 20 dropped: about 9 fit in 1 MiB`);
  await waitUntil(() => recorded().length === 20 - dropped, 10_000);
  // Connections decompress side by side, so those that ran may have run in any order.
  assert.equal(recorded().sort(), Array.from({ length: 20 - dropped }, (_, i) => `${i}`.padStart(2, "0")), "the first ones to arrive");
  open2.send({ type: FrameType.REQUEST, requestId: 5, service: SERVICE, method: "Record", compression: Compression.GZIP }, recordGzip("after", 100_000));
  const after = await open2.waitFor((f) => f.header.requestId === 5);
  assert.is(after.header.dispatchCode, DispatchCode.OK, "the bound has room again");
  open2.destroy();
  await server.close({ graceMs: 0 });
});

test("[COMP-11] what compressed requests of closed connections hold while they wait to be decompressed stays within twice the bound: empty bodies, 100 or one a connection, bodies read with 60 KB of other frames, 8 KB of metadata", async () => {
  const collect = garbageCollector();
  const bound = 24 * 1024 * 1024;
  const empty = gzipSync(new Uint8Array(0)); // the least a request can count
  const filler = encodeFrame({ type: 42 as FrameType }, new Uint8Array(60_000)); // skipped [FRAME-12]
  const request = (id: number, metadata: Array<{ key: string; value: Uint8Array }> = []) =>
    encodeFrame({ type: FrameType.REQUEST, requestId: id, service: SERVICE, method: "Record", callMode: CallMode.ONEWAY, compression: Compression.GZIP, metadata }, empty);
  // Each shape: how many requests a connection sends before it closes, and each request's frame.
  const shapes: Record<string, [number, (id: number) => Uint8Array]> = {
    "empty bodies": [100, (id) => request(id)],
    "one empty body a connection": [1, (id) => request(id)],
    "bodies read with 60 KB of other frames": [100, (id) => Buffer.concat([request(id), filler])],
    "8 KB of metadata": [100, (id) => request(id, [{ key: "m", value: new Uint8Array(8000).fill(0x76) }])],
  };
  for (const [shape, [perConnection, frame]] of Object.entries(shapes)) {
    const { server, address, open } = await gatedServer(bound);
    collect();
    const before = heldBytes();
    const dropped = () => server.stats().methods[`${SERVICE}/Record`]?.rejected.OVERLOADED ?? 0;
    // Oneway requests, at most 100 a connection [LIMIT-5], closed right after, until the bound drops
    // one, or what they hold is already too much.
    let tooMuch = false;
    while (dropped() === 0 && !(tooMuch = await holdsMoreThan(collect, before, 2 * bound))) {
      const peer = await RawPeer.connect(address);
      const total = server.stats().requests.total;
      peer.write(Buffer.concat(Array.from({ length: perConnection }, (_, i) => frame(2 * i + 1))));
      await waitUntil(() => server.stats().requests.total === total + perConnection, 10_000);
      peer.destroy();
      // Measured once the server has let the connection go: not its reads still in progress.
      await waitUntil(() => server.stats().connections.current === 0, 5000);
    }
    collect();
    const grew = heldBytes() - before;
    const waiting = server.stats().requests.total;
    assert.ok(!tooMuch && !(await holdsMoreThan(collect, before, 2 * bound)), `${shape}: ${waiting} requests waiting to be decompressed hold ${(grew / 2 ** 20).toFixed(0)} MiB against a bound of ${bound / 2 ** 20} MiB`);

    open();
    await waitUntil(() => server.stats().requests.inFlight === 0, 30_000);
    await server.close({ graceMs: 0 });
  }
});

test("[COMP-11] the bound never refuses the only request: one that will decompress to 3 MB, past a bound of 1 MiB, runs on an idle server; a second one meanwhile is refused", async () => {
  const { server, address, log, open } = await gatedServer(1024 * 1024);
  const peer = await RawPeer.connect(address);
  peer.send({ type: FrameType.REQUEST, requestId: 1, service: SERVICE, method: "Record", compression: Compression.GZIP }, recordGzip("alone", 3_000_000));
  await waitUntil(() => server.stats().requests.total === 1, 5000);
  peer.send({ type: FrameType.REQUEST, requestId: 3, service: SERVICE, method: "Record", compression: Compression.GZIP }, recordGzip("second", 100));
  const second = await peer.waitFor((f) => f.header.requestId === 3);
  assert.is(second.header.dispatchCode, DispatchCode.OVERLOADED, second.header.dispatchMessage);
  open();
  const first = await peer.waitFor((f) => f.header.requestId === 1);
  assert.is(first.header.dispatchCode, DispatchCode.OK, first.header.dispatchMessage);
  assert.ok(log.some((entry) => entry.startsWith("record:alone")));
  peer.destroy();
  await server.close({ graceMs: 0 });
});

test.run();
