// How the socket transport cuts a tick's output into sends: at FLUSH_BYTES
// (4096) as a rule, so the peer starts on the first frames while the rest
// are encoded; but a part is held to the end of the tick when the tick
// before says only a few frames are still to come, up to twice FLUSH_BYTES.
// On Bun, frames written while the socket still has earlier bytes to write
// wait and follow them as one write. Checked on a real TCP socket, by the
// bytes handed to it between uncorks, and by the writes made while the peer
// does not read. Cites [FRAME-1].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import * as net from "node:net";
import { encodeFrame, FrameType } from "../src/wire/index.ts";
import { SocketTransport } from "../src/transport/socket-transport.ts";

const test = suite("socket writes");
const FLUSH_BYTES = 4096;

/** A transport on a connected TCP socket, and the sends it makes: the bytes of each, one entry per uncork. */
async function recordedTransport(): Promise<{ transport: SocketTransport; sends: number[]; close: () => Promise<void> }> {
  const server = net.createServer((peer) => peer.resume());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  const sends: number[] = [];
  let pending = 0;
  const write = socket.write.bind(socket) as (bytes: Uint8Array, callback?: () => void) => boolean;
  socket.write = ((bytes: Uint8Array, callback?: () => void) => {
    pending += bytes.length;
    return write(bytes, callback);
  }) as typeof socket.write;
  const uncork = socket.uncork.bind(socket);
  socket.uncork = () => {
    if (pending > 0) sends.push(pending);
    pending = 0;
    uncork();
  };
  // The socket says it has nothing left to write, so that on Bun no part is held to follow a
  // busy socket (the last test): a loaded machine would otherwise merge the parts checked here.
  Object.defineProperty(socket, "writableLength", { get: () => 0 });
  const transport = new SocketTransport(socket, { host: "127.0.0.1", port }, 1 << 20);
  transport.start({ data: () => {}, drain: () => {}, closed: () => {} });
  const close = async () => {
    transport.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { transport, sends, close };
}

/** A REQUEST frame encoded into the output pool, as a client encodes one: ids from 1000 to 16383 give frames of one size. */
function frame(requestId: number): Uint8Array {
  return encodeFrame({ type: FrameType.REQUEST, requestId, methodRef: 1, timeoutMs: 3000 }, new Uint8Array(62));
}

/** Writes `count` frames in one tick, then lets the tick end; returns the sends it made. */
async function tick(transport: SocketTransport, sends: number[], count: number, size: number): Promise<number[]> {
  const before = sends.length;
  for (let i = 0; i < count; i++) {
    const bytes = frame(1000 + i);
    assert.is(bytes.length, size, "frames of one size");
    transport.write(bytes, true);
  }
  await new Promise((resolve) => setImmediate(resolve));
  return sends.slice(before).map((bytes) => bytes / size);
}

test("a tick with nothing before it is cut at FLUSH_BYTES; the same tick again goes as one part when only its last frame would have been left", async () => {
  const { transport, sends, close } = await recordedTransport();
  const size = frame(1000).length;
  const perPart = Math.ceil(FLUSH_BYTES / size);
  // One frame more than a part: cut at FLUSH_BYTES, leaving one frame alone.
  assert.equal(await tick(transport, sends, perPart + 1, size), [perPart, 1]);
  // The tick before wrote one frame more than the part: the part waits for it.
  assert.equal(await tick(transport, sends, perPart + 1, size), [perPart + 1]);
  assert.equal(await tick(transport, sends, perPart + 1, size), [perPart + 1], "and so on, tick after tick");
  await close();
});

test("a part that waits is sent at twice FLUSH_BYTES; a tick larger than the one before is cut at FLUSH_BYTES again", async () => {
  const { transport, sends, close } = await recordedTransport();
  const size = frame(1000).length;
  const perPart = Math.ceil(FLUSH_BYTES / size);
  const cap = Math.ceil((2 * FLUSH_BYTES) / size);
  await tick(transport, sends, perPart + 1, size);
  // The tick before was of perPart + 1 frames: the first part waits, up to the cap; then the prediction is past.
  const parts = await tick(transport, sends, 4 * perPart, size);
  assert.is(parts[0], cap, `the first part waits up to twice FLUSH_BYTES: ${parts}`);
  for (const part of parts.slice(1, -1)) assert.is(part, perPart, `then parts of FLUSH_BYTES: ${parts}`);
  assert.is(parts.reduce((a, b) => a + b, 0), 4 * perPart);
  await close();
});

test("ticks below FLUSH_BYTES go as one part each", async () => {
  const { transport, sends, close } = await recordedTransport();
  const size = frame(1000).length;
  for (const count of [1, 10, Math.floor(FLUSH_BYTES / size)]) assert.equal(await tick(transport, sends, count, size), [count]);
  await close();
});

const onBun = typeof process.versions.bun === "string";

test(`frames written while the socket has earlier bytes to write ${onBun ? "follow them as one write (Bun)" : "go tick by tick (Node, Deno)"}; every byte arrives in order`, async () => {
  // The peer reads nothing until told: the socket's earlier bytes stay unwritten.
  let peer!: net.Socket;
  const received: Buffer[] = [];
  let receivedBytes = 0;
  let allArrived: () => void = () => {};
  let expectedBytes = Infinity;
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    peer = socket;
    socket.on("data", (chunk: Buffer) => {
      received.push(chunk);
      receivedBytes += chunk.length;
      if (receivedBytes >= expectedBytes) allArrived();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  while (peer === undefined) await new Promise((resolve) => setImmediate(resolve));
  const writes: number[] = [];
  const write = socket.write.bind(socket) as (bytes: Uint8Array, callback?: () => void) => boolean;
  socket.write = ((bytes: Uint8Array, callback?: () => void) => {
    writes.push(bytes.length);
    return write(bytes, callback);
  }) as typeof socket.write;
  const transport = new SocketTransport(socket, { host: "127.0.0.1", port }, 1 << 30);
  transport.start({ data: () => {}, drain: () => {}, closed: () => {} });
  const sent: Uint8Array[] = [];
  try {
    // Bytes the system cannot take while the peer does not read, in pieces of 1 MiB, each its own.
    for (let i = 0; socket.writableLength === 0; i++) {
      assert.ok(i < 256, "256 MiB went out to a peer that reads nothing");
      const fill = new Uint8Array(1 << 20).fill(i);
      sent.push(fill);
      transport.write(fill, false);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const before = writes.length;
    const ticks = 3;
    const perTick = 10;
    for (let t = 0; t < ticks; t++) {
      for (let i = 0; i < perTick; i++) {
        const bytes = frame(1000 + t * perTick + i);
        sent.push(bytes.slice());
        transport.write(bytes, true);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const size = frame(1000).length;
    const framesWritten = writes.slice(before).map((bytes) => bytes / size);
    assert.equal(framesWritten, onBun ? [] : [perTick, perTick, perTick], "the writes made before the peer reads");
    expectedBytes = sent.reduce((sum, bytes) => sum + bytes.length, 0);
    const arrived = new Promise<void>((resolve) => (allArrived = resolve));
    peer.resume();
    const bound = setTimeout(() => allArrived(), 20_000);
    await arrived;
    clearTimeout(bound);
    assert.is(receivedBytes, expectedBytes, "every byte arrived (within 20 s)");
    if (onBun) assert.equal(writes.slice(before).map((bytes) => bytes / size), [ticks * perTick], "the frames went as one write once the earlier bytes were out");
    assert.ok(Buffer.concat(received).equals(Buffer.concat(sent)), "the bytes arrived in the order written");
  } finally {
    transport.destroy();
    peer?.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test.run();
