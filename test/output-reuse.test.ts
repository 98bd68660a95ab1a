// Outgoing frames and the response bodies copied into them are cut from
// 64 KiB slabs that are used again once every piece of them is released
// (src/wire/output-pool.ts): a socket releases a frame when it reports it
// written, a server releases a body once it is copied into its frame. A slab
// used again too soon would send one call's bytes in another's frame. These
// checks give every frame and every call contents of its own and look at
// every byte that arrives: the pool's accounting alone; frames held in a
// socket that cannot write while other output churns through the pool, over
// tcp: and tls:; calls of every size up to the limit, 100 in flight,
// handlers answering at once and later, over tcp:, tls: and ws:; and
// request bodies, which a client cuts from the pool too and gives back once
// the call settles, while calls wait in the client's queue. Cites [FRAME-1].
import * as net from "node:net";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { createClient, createServer, tcpTransport, tlsTransport, webSocketTransport, type Server, type TransportFactory } from "../src/node.ts";
import type { Transport } from "../src/transport/index.ts";
import { SocketTransport } from "../src/transport/socket-transport.ts";
import { createFrameDecoder, DEFAULT_LIMITS, encodeFrame, encodeHeader, FrameType, type Frame } from "../src/wire/index.ts";
import { allocateBytes } from "../src/wire/byte-pool.ts";
import { allocateOutput, isOutput, outputPoolState, releaseOutput } from "../src/wire/output-pool.ts";
import { BenchService } from "./gen/stratatest/v1/testing_pb.ts";
import { certificatesProblem, testCertificates } from "../conformance/runner/certificates.ts";
import { checkProperty } from "./support/property.ts";
import { waitUntil } from "./support/wait.ts";
import { RawPeer } from "./support/raw-peer.ts";

const test = suite("output reuse");

/** Bytes that say which piece they belong to: `n` bytes derived from `id`, different for every id. */
function pattern(id: number, n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  let x = (id * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The transports to check: tcp: always, tls: where certificates can be made. */
function socketMappings(): Array<{ name: string; listen: string; server: TransportFactory; client: TransportFactory }> {
  const mappings: Array<{ name: string; listen: string; server: TransportFactory; client: TransportFactory }> = [
    { name: "tcp", listen: "127.0.0.1:0", server: tcpTransport, client: tcpTransport },
  ];
  const problem = certificatesProblem();
  if (problem !== undefined) {
    console.log(`\n  SKIPPED: the tls: checks here need ${problem}\n`);
    return mappings;
  }
  const certs = testCertificates();
  mappings.push({ name: "tls", listen: "tls:127.0.0.1:0", server: tlsTransport(certs.server), client: tlsTransport({ ca: certs.ca }) });
  return mappings;
}
const MAPPINGS = socketMappings();

test("[FRAME-1] a slab is used again only once every piece cut from it is released, and then it is", () => {
  // The first piece opens a slab, so that no piece from before the test is in it.
  const opening = allocateOutput(1000);
  let first = allocateOutput(1000);
  while (first.buffer === opening.buffer) first = allocateOutput(1000);
  // Pieces of 1000 B until three slabs have been started; one piece of the first is kept.
  const pieces: Uint8Array[] = [];
  const buffers = new Set<ArrayBufferLike>([first.buffer]);
  while (buffers.size < 3) {
    const piece = allocateOutput(1000);
    pieces.push(piece);
    buffers.add(piece.buffer);
  }
  const kept = pieces.find((p) => p.buffer === first.buffer)!;
  kept.set(pattern(1, kept.length));
  for (const piece of pieces) if (piece !== kept) releaseOutput(piece);
  releaseOutput(first);
  // A lot of output churns through the pool: the kept piece's slab is never handed out again.
  for (let i = 0; i < 2000; i++) {
    const piece = allocateOutput(1 + (i % 8192));
    assert.is.not(piece.buffer, kept.buffer, "a slab with a piece still out was handed out again");
    releaseOutput(piece.fill(0xee));
  }
  assert.ok(equalBytes(kept, pattern(1, kept.length)), "the kept piece was overwritten");
  assert.ok(outputPoolState().spares > 0, "released slabs are kept for reuse");
  // Pieces held until the spares are used up (at most 16 are kept; a slab coming back to a full list is left to the collector).
  const held: Uint8Array[] = [];
  while (outputPoolState().spares > 0) held.push(allocateOutput(8000));
  // Released, the kept piece's slab comes back into use.
  releaseOutput(kept);
  assert.is(outputPoolState().spares, 1);
  let reused = false;
  for (let i = 0; i < 100 && !reused; i++) {
    const piece = allocateOutput(4000);
    reused = piece.buffer === kept.buffer;
    releaseOutput(piece);
  }
  assert.ok(reused, "a slab whose pieces all came back was not used again");
  for (const piece of held) releaseOutput(piece);
});

test("[FRAME-1] bytes from elsewhere are not the pool's: releasing them changes nothing", () => {
  // The kept piece opens a slab, which it then has to itself: counted against it, foreign releases would free it.
  const opening = allocateOutput(1000);
  let kept = allocateOutput(1000);
  while (kept.buffer === opening.buffer) kept = allocateOutput(1000);
  kept.set(pattern(2, kept.length));
  // Were these counted as the kept piece's slab, it would be used again while the piece is out.
  for (let i = 0; i < 100; i++) {
    releaseOutput(new Uint8Array(1000));
    releaseOutput(allocateBytes(1000));
  }
  for (let i = 0; i < 2000; i++) releaseOutput(allocateOutput(4000).fill(0xee));
  assert.ok(equalBytes(kept, pattern(2, kept.length)), "the kept piece was overwritten");
  releaseOutput(kept);
  assert.not.ok(isOutput(allocateBytes(1000)));
  assert.not.ok(isOutput(allocateOutput(8192)), "a body of 8 KiB or more, written after its head, has a buffer of its own");
});

test("[FRAME-1] frames of up to 8 KiB in a row are cut from the output slabs, not copied into buffers of their own", () => {
  // A frame that did not fit the free end of a slab used to fall back to a copy without moving on to the next slab.
  for (const size of [100, 1000, 4096, 8000]) {
    for (let i = 0; i < 100; i++) {
      const frame = encodeFrame({ type: FrameType.RESPONSE, requestId: i + 1 }, pattern(i, size));
      assert.ok(isOutput(frame), `frame ${i} with a ${size} B body was not cut from an output slab`);
      releaseOutput(frame);
    }
  }
});

test("[FRAME-1] frames encoded and written one after another in a tick leave as one socket write; frames that are not adjacent in their slab do not join", async () => {
  const server = net.createServer();
  const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  const peer = await accepted;
  const chunks: Buffer[] = [];
  peer.on("data", (chunk: Buffer) => chunks.push(chunk));
  // What the transport hands the socket: one write per run of adjacent frames.
  const writes: number[] = [];
  const write = socket.write.bind(socket) as (bytes: Uint8Array, callback?: () => void) => boolean;
  (socket as unknown as { write: typeof write }).write = (bytes, callback) => {
    writes.push(bytes.length);
    return write(bytes, callback);
  };
  const transport = new SocketTransport(socket, { host: "127.0.0.1", port }, 64 * 1024);
  transport.start({ data: () => {}, closed: () => {}, drain: () => {} });
  try {
    await checkProperty(
      // Runs of up to 3 KiB in all, below the size at which a run is sent at once; `cut` encodes a frame that is never written in between.
      fc.asyncProperty(fc.array(fc.record({ size: fc.integer({ min: 0, max: 90 }), cut: fc.boolean() }), { minLength: 1, maxLength: 30 }), async (plan) => {
        writes.length = 0;
        chunks.length = 0;
        const expected: Uint8Array[] = [];
        let runs = 1;
        for (const [i, { size, cut }] of plan.entries()) {
          if (cut && i > 0) {
            releaseOutput(encodeFrame({ type: FrameType.PING }, pattern(-i, 8)));
            runs++;
          }
          const frame = encodeFrame({ type: FrameType.RESPONSE, requestId: i + 1 }, pattern(i, size));
          expected.push(frame.slice());
          transport.write(frame, true);
        }
        const total = expected.reduce((sum, frame) => sum + frame.length, 0);
        await waitUntil(() => chunks.reduce((sum, chunk) => sum + chunk.length, 0) >= total, 10_000);
        // A run may also be cut where its frames reach the end of a slab and the next come from another: once at most, in 3 KiB.
        assert.ok(writes.length === runs || writes.length === runs + 1, `${plan.length} frames in ${runs} runs went out in ${writes.length} writes`);
        assert.ok(equalBytes(Buffer.concat(chunks), Buffer.concat(expected)), "the bytes that arrived are not the frames written, in order");
      }),
      { numRuns: 50 },
    );
  } finally {
    transport.destroy();
    peer.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** Collects what a paused peer receives, and resumes it on request. */
async function pausedPeer(factory: TransportFactory, listenAddress: string): Promise<{ address: string; accepted: Promise<{ transport: Transport; chunks: Uint8Array[]; received: () => number }>; close: () => Promise<void> }> {
  let accept!: (value: { transport: Transport; chunks: Uint8Array[]; received: () => number }) => void;
  const accepted = new Promise<{ transport: Transport; chunks: Uint8Array[]; received: () => number }>((resolve) => (accept = resolve));
  const listener = await factory.listen(listenAddress, {}, (transport) => {
    const chunks: Uint8Array[] = [];
    let received = 0;
    transport.start({
      data: (chunk) => {
        chunks.push(chunk.slice());
        received += chunk.length;
      },
      closed: () => {},
      drain: () => {},
    });
    transport.pause?.();
    accept({ transport, chunks, received: () => received });
  });
  return { address: listener.address, accepted, close: () => listener.close() };
}

for (const mapping of MAPPINGS) {
  test(`[FRAME-1] ${mapping.name}: frames waiting in a socket that cannot write keep their bytes while other output churns through the pool`, async () => {
    const peer = await pausedPeer(mapping.server, mapping.listen);
    const writer = await mapping.client.connect(peer.address, { highWaterMark: 256 * 1024 });
    let drained = false;
    writer.start({ data: () => {}, closed: () => {}, drain: () => (drained = true) });
    const { transport: reader, chunks, received } = await peer.accepted;
    try {
      // Frames of 100 B to 8 KiB with contents of their own, until the socket holds more than it can send.
      const sent: Array<{ id: number; size: number }> = [];
      let total = 0;
      let room = true;
      for (let id = 1; room || sent.length < 2000; id++) {
        if (total > 256 * 1024 * 1024) throw new Error("the socket took 256 MiB without pushing back");
        const size = 100 + ((id * 7919) % 8092);
        const frame = encodeFrame({ type: FrameType.RESPONSE, requestId: id }, pattern(id, size));
        total += frame.length;
        sent.push({ id, size });
        room = writer.write(frame, true);
      }
      // Output of other connections, written and released at once, many times over the spare slabs.
      for (let i = 0; i < 4000; i++) releaseOutput(encodeFrame({ type: FrameType.RESPONSE, requestId: 1 }, new Uint8Array(4000).fill(0xee)));
      reader.resume?.();
      await waitUntil(() => received() >= total, 30_000);
      // Backpressure still works with owned writes: the socket said "full", so it says "drained" once it is.
      await waitUntil(() => drained, 30_000);
      const frames: Frame[] = [];
      const decoder = createFrameDecoder({ limits: DEFAULT_LIMITS, onFrame: (frame) => frames.push(frame) });
      for (const chunk of chunks) decoder.push(chunk);
      assert.is(frames.length, sent.length);
      for (const [i, frame] of frames.entries()) {
        assert.is(frame.header.requestId, sent[i]!.id);
        if (!equalBytes(frame.body, pattern(sent[i]!.id, sent[i]!.size))) assert.unreachable(`frame ${sent[i]!.id} arrived with another frame's bytes`);
      }
    } finally {
      writer.destroy();
      reader.destroy();
      await peer.close();
    }
  });
}

/** A call: its payload size, and whether the handler answers at once or after other calls have run. */
const anyCall = fc.record({
  size: fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0, max: 9000 }) },
    // Around a body of 8192 B (payload 8189 B), where bodies stop being cut from the pool and copied, and are written after their head.
    { weight: 2, arbitrary: fc.integer({ min: 8185, max: 8195 }) },
    // Up to the default body limit of 4 MiB, less the payload field's tag and length.
    { weight: 1, arbitrary: fc.integer({ min: 9000, max: DEFAULT_LIMITS.maxBodySize - 5 }) },
  ),
  later: fc.boolean(),
});

test("[FRAME-1] a raw handler answering with the same bytes every time, cut from the output pool by an exported encoder, keeps them", async () => {
  // encodeHeader's bytes come from an output slab; the server must not take them for a body it encoded.
  // A header that does not fit the slab's free end is copied instead: encode until one was cut from a slab.
  let cached = encodeHeader({ type: FrameType.RESPONSE, requestId: 7, appMessage: "x".repeat(3000) });
  for (let i = 0; i < 100 && !isOutput(cached); i++) {
    allocateOutput(1000);
    releaseOutput(encodeFrame({ type: FrameType.RESPONSE, requestId: 1 }, new Uint8Array(2000)));
    cached = encodeHeader({ type: FrameType.RESPONSE, requestId: 7, appMessage: "x".repeat(3000) });
  }
  assert.ok(isOutput(cached), "the header was never cut from an output slab");
  const copy = cached.slice();
  const server = createServer().addRawService("acme.bytes.v1.Bytes", { Same: () => cached });
  const address = await server.listen("127.0.0.1:0");
  const peer = await RawPeer.connect(address);
  try {
    for (let id = 1; id <= 300; id++) peer.send({ type: FrameType.REQUEST, requestId: id, service: "acme.bytes.v1.Bytes", method: "Same" });
    // Other output churns through the pool meanwhile.
    for (let i = 0; i < 2000; i++) releaseOutput(encodeFrame({ type: FrameType.RESPONSE, requestId: 1 }, new Uint8Array(4000).fill(0xee)));
    for (let id = 1; id <= 300; id++) {
      const frame = await peer.waitFor((f) => f.header.requestId === id);
      assert.is(frame.header.dispatchCode ?? 0, 0, `call ${id} was not answered OK`);
      if (!equalBytes(frame.body, copy)) assert.unreachable(`call ${id} came back with other bytes`);
    }
    assert.ok(equalBytes(cached, copy), "the handler's bytes were overwritten");
  } finally {
    peer.destroy();
    await server.close({ graceMs: 0 });
  }
});

for (const mapping of MAPPINGS) {
  test(`[FRAME-1] ${mapping.name}: frames written just before end() all arrive, in order, before the end of the stream`, async () => {
    let ended = false;
    const chunks: Uint8Array[] = [];
    let accept!: () => void;
    const accepted = new Promise<void>((resolve) => (accept = resolve));
    const listener = await mapping.server.listen(mapping.listen, {}, (transport) => {
      transport.start({ data: (chunk) => chunks.push(chunk.slice()), closed: () => (ended = true), drain: () => {}, ended: () => (ended = true) });
      accept();
    });
    const writer = await mapping.client.connect(listener.address);
    writer.start({ data: () => {}, closed: () => {}, drain: () => {} });
    await accepted;
    try {
      // Small frames of one tick, still a pending run in the transport when end() is called.
      for (let id = 1; id <= 20; id++) writer.write(encodeFrame({ type: FrameType.RESPONSE, requestId: id }, pattern(id, 50)), true);
      writer.end();
      await waitUntil(() => ended, 10_000);
      const frames: Frame[] = [];
      const decoder = createFrameDecoder({ limits: DEFAULT_LIMITS, onFrame: (frame) => frames.push(frame) });
      for (const chunk of chunks) decoder.push(chunk);
      assert.equal(frames.map((f) => f.header.requestId), Array.from({ length: 20 }, (_, i) => i + 1));
      for (const frame of frames) assert.ok(equalBytes(frame.body, pattern(frame.header.requestId, 50)));
    } finally {
      writer.destroy();
      await listener.close();
    }
  });
}

/** The calls go over WebSocket too: its transport copies the frames of a turn into one message and releases them then. */
const CALL_MAPPINGS = [...MAPPINGS, { name: "ws", listen: "ws://127.0.0.1:0/strata", server: webSocketTransport(), client: webSocketTransport() }];

for (const mapping of CALL_MAPPINGS) {
  test(`[FRAME-1] ${mapping.name}: every byte of every answer is its own call's, 100 calls in flight, payloads up to the body limit`, async () => {
    const server: Server = createServer({ transport: mapping.server }).addService(BenchService, {
      // An answer given later is encoded after other calls' answers have been, and copied after theirs.
      benchEcho: (request) => (request.payload[0]! & 1 ? new Promise((resolve) => setImmediate(() => resolve({ payload: request.payload }))) : { payload: request.payload }),
    });
    const address = await server.listen(mapping.listen);
    const client = createClient(BenchService, { address, transport: mapping.client, timeoutMs: 60_000 });
    let callId = 0;
    try {
      await checkProperty(
        fc.asyncProperty(fc.array(anyCall, { minLength: 100, maxLength: 400, size: "max" }), async (calls) => {
          const failures: string[] = [];
          let next = 0;
          const lane = async () => {
            while (next < calls.length) {
              const call = calls[next++]!;
              const id = ++callId;
              const payload = pattern(id, call.size);
              if (payload.length > 0) payload[0] = (payload[0]! & 0xfe) | (call.later ? 1 : 0);
              const reply = await client.benchEcho({ payload });
              if (!equalBytes(reply.payload, payload)) failures.push(`call ${id} (${call.size} B) came back with other bytes`);
            }
          };
          await Promise.all(Array.from({ length: 100 }, lane));
          assert.equal(failures, []);
        }),
        { numRuns: 6 },
      );
    } finally {
      await client.$close();
      await server.close({ graceMs: 100 });
    }
  });
}

test("[FRAME-1] [LIMIT-5] request bodies waiting in the client's queue keep their bytes while settled calls give theirs back to the pool", async () => {
  // Two requests at a time at the server: the client queues the rest [LIMIT-5], and each answer settles a call, whose body goes back.
  const server = createServer({ maxConcurrentRequests: 2 }).addService(BenchService, {
    benchEcho: (request) => new Promise((resolve) => setImmediate(() => resolve({ payload: request.payload }))),
  });
  const address = await server.listen("127.0.0.1:0");
  const client = createClient(BenchService, { address, timeoutMs: 60_000 });
  try {
    await checkProperty(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 9000 }), { minLength: 50, maxLength: 300 }), async (sizes) => {
        const payloads = sizes.map((size, i) => pattern(i + 1, size));
        const calls = payloads.map((payload) => client.benchEcho({ payload }));
        // Output of others churns through the pool while the calls wait.
        for (let i = 0; i < 200; i++) releaseOutput(encodeFrame({ type: FrameType.RESPONSE, requestId: 1 }, new Uint8Array(4000).fill(0xee)));
        const replies = await Promise.all(calls);
        const wrong = replies.flatMap((reply, i) => (equalBytes(reply.payload, payloads[i]!) ? [] : [i]));
        assert.equal(wrong, [], "calls whose request went out with other bytes");
      }),
      { numRuns: 8 },
    );
  } finally {
    await client.$close();
    await server.close({ graceMs: 100 });
  }
});

test.run();
