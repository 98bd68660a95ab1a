// The Transport contract (src/transport/transport.ts), checked the same way
// against TCP, TLS, WebSocket (ws: and wss:) and the in-memory transport, so that tests which use
// memory instead of a socket see what a socket would do: ordered bytes,
// half-close, backpressure with drain, pause, destroy, connection info.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { memoryPair, memoryTransport, type Transport, type TransportFactory, type TransportHandlers } from "../src/transport/index.ts";
import { tcpTransport } from "../src/transport/tcp.ts";
import { SocketTransport } from "../src/transport/socket-transport.ts";
import { tlsTransport } from "../src/transport/tls.ts";
import { webSocketTransport } from "../src/transport/websocket.ts";
import { certificatesProblem, testCertificates } from "../conformance/runner/certificates.ts";
import { checkProperty } from "./support/property.ts";
import { within } from "./support/wait.ts";

const test = suite("transport contract");

/** What one end received, and a promise for its close. */
interface Received {
  bytes: Uint8Array[];
  total(): number;
  joined(): Uint8Array;
  closed: Promise<Error | undefined>;
  drains: number;
  /** Resolves once `n` bytes have arrived in all. */
  atLeast(n: number): Promise<void>;
}

function receive(transport: Transport, extra: Partial<TransportHandlers> = {}): Received {
  let closeWith!: (error: Error | undefined) => void;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const received: Received = {
    bytes: [],
    total: () => received.bytes.reduce((sum, b) => sum + b.length, 0),
    joined: () => {
      const out = new Uint8Array(received.total());
      let at = 0;
      for (const b of received.bytes) {
        out.set(b, at);
        at += b.length;
      }
      return out;
    },
    closed: new Promise((resolve) => (closeWith = resolve)),
    drains: 0,
    atLeast: (n) => new Promise((resolve) => (received.total() >= n ? resolve() : waiters.push({ n, resolve }))),
  };
  transport.start({
    data(chunk) {
      received.bytes.push(chunk);
      const total = received.total();
      for (const w of waiters.splice(0)) if (total >= w.n) w.resolve();
      else waiters.push(w);
      extra.data?.(chunk);
    },
    closed(error) {
      closeWith(error);
    },
    drain() {
      received.drains++;
      extra.drain?.();
    },
  });
  return received;
}

/** A connected pair through `factory`: [client end, server end]. */
async function connected(factory: TransportFactory, address: string, highWaterMark?: number): Promise<{ client: Transport; server: Transport; close: () => Promise<void> }> {
  let accepted!: (t: Transport) => void;
  const serverEnd = new Promise<Transport>((resolve) => (accepted = resolve));
  const listener = await factory.listen(address, highWaterMark === undefined ? {} : { highWaterMark }, accepted);
  const client = await factory.connect(listener.address, highWaterMark === undefined ? {} : { highWaterMark });
  const server = await serverEnd;
  return { client, server, close: () => listener.close() };
}

const transports: Array<[string, TransportFactory, string]> = [
  ["tcp", tcpTransport, "127.0.0.1:0"],
  ["memory", memoryTransport, "memory:"],
  ["ws", webSocketTransport(), "ws://127.0.0.1:0/strata"],
];
const noCertificates = certificatesProblem();
if (noCertificates === undefined) {
  // One factory both listens and connects: it carries the server's certificate and trusts its CA.
  const { ca, server } = testCertificates();
  transports.push(["tls", tlsTransport({ ...server, ca }), "tls:127.0.0.1:0"]);
  transports.push(["wss", webSocketTransport({ ...server, clientTls: { ca } }), "wss://127.0.0.1:0/strata"]);
} else {
  console.log(`\n  SKIPPED: the TLS transport contract needs ${noCertificates}\n`);
}

for (const [name, factory, address] of transports) {
  test(`${name}: bytes arrive in order, whatever the sizes of the writes`, async () => {
    await checkProperty(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 70_000 }), { minLength: 1, maxLength: 12 }), async (writes) => {
        const { client, server, close } = await connected(factory, address);
        const got = receive(server);
        receive(client);
        for (const w of writes) client.write(w);
        const expected = writes.reduce((sum, w) => sum + w.length, 0);
        await got.atLeast(expected);
        const joined = got.joined();
        let at = 0;
        for (const w of writes) {
          assert.equal(joined.subarray(at, at + w.length), w);
          at += w.length;
        }
        client.destroy();
        server.destroy();
        await close();
      }),
      { numRuns: 10 },
    );
  });

  // A WebSocket cannot half-close: end() sends a close (section 18), and a WHATWG WebSocket (Bun's,
  // a browser's) fires no message once close() was called. Nothing in Strata reads after its own
  // end(): only the lingering close calls it, and it discards its input anyway [FRAME-18].
  const readsAfterEnd = !(name.startsWith("ws") && (globalThis as { Bun?: unknown }).Bun !== undefined);
  test(`${name}: end() half-closes: the peer reads EOF after the last byte; what the peer wrote before it read the EOF still arrives${readsAfterEnd ? "" : " (not read on Bun's WebSocket, which drops messages after close())"}`, async () => {
    const { client, server, close } = await connected(factory, address);
    const atServer = receive(server);
    const atClient = receive(client);
    client.write(Uint8Array.of(1, 2, 3));
    client.end();
    server.write(Uint8Array.of(9));
    assert.is(await atServer.closed, undefined, "EOF, not an error");
    assert.equal([...atServer.joined()], [1, 2, 3]);
    // Reading EOF ends the peer's side too: no stream stays half-open.
    assert.is(await atClient.closed, undefined);
    if (readsAfterEnd) assert.equal([...atClient.joined()], [9], "bytes in flight towards the ended side are read, not reset [FRAME-18]");
    await close();
  });

  test(`${name}: a reader that pauses makes write() report backpressure; resuming drains it`, async () => {
    const highWaterMark = 64 * 1024;
    const { client, server, close } = await connected(factory, address, highWaterMark);
    assert.ok(server.pause !== undefined && server.resume !== undefined, "this transport can pause");
    const atServer = receive(server);
    server.pause!();
    let drained!: () => void;
    const drain = new Promise<void>((resolve) => (drained = resolve));
    receive(client, { drain: () => drained() });
    const chunk = new Uint8Array(16 * 1024);
    let written = 0;
    // The kernel's buffers take some megabytes before TCP pushes back; bounded at 256 MiB.
    while (client.write(chunk)) {
      written += chunk.length;
      if (written > 256 * 1024 * 1024) throw new Error("write() never reported backpressure");
      if (written % (1024 * 1024) === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    written += chunk.length;
    assert.ok(client.bufferedAmount >= highWaterMark, `bufferedAmount ${client.bufferedAmount} at the mark`);
    server.resume!();
    await drain;
    await atServer.atLeast(written);
    assert.is(atServer.total(), written, "every byte written arrives");
    client.destroy();
    server.destroy();
    await close();
  });

  test(`${name}: destroy() ends both sides; the destroyed end hears closed() too`, async () => {
    const { client, server, close } = await connected(factory, address);
    const atServer = receive(server);
    const atClient = receive(client);
    client.destroy();
    await atServer.closed;
    await atClient.closed;
    assert.is(client.write(Uint8Array.of(1)), false, "nothing is written after destroy");
    await close();
  });

  // The memory transport has no queue of its own: what it was written is in the peer's inbox already, as bytes in a kernel's buffers are.
  if (name !== "memory") {
    test(`${name}: destroy() discards the output not yet sent: a peer that reads only afterwards gets less than was written, then the end`, async () => {
      const { client, server, close } = await connected(factory, address);
      client.pause?.();
      const atClient = receive(client);
      receive(server);
      // Written in one turn, far past what a kernel's buffers take, and destroyed in the same turn.
      const chunk = new Uint8Array(64 * 1024);
      const written = 32 * 1024 * 1024;
      for (let at = 0; at < written; at += chunk.length) server.write(chunk);
      server.destroy();
      client.resume?.();
      await within(atClient.closed, 5000, "the end after destroy()");
      assert.ok(atClient.total() < written, `${atClient.total()} of ${written} bytes arrived: the unsent output was sent after all`);
      await close();
    });
  }

  test(`${name}: what the peer sent before start() and its end are delivered once start() comes [WS-2]`, async () => {
    const { client, server, close } = await connected(factory, address);
    const atServer = receive(server);
    server.write(Uint8Array.of(4, 5, 6));
    server.end();
    // A WebSocket's close handshake ends only once the client's socket has read the close, and so
    // everything before it: the events came before start. A paused TCP socket reads nothing until started.
    if (name.startsWith("ws")) await within(atServer.closed, 5000, "the close handshake");
    const atClient = receive(client);
    assert.is(await within(atClient.closed, 5000, "the end that came before start"), undefined, "EOF, not an error");
    assert.equal([...atClient.joined()], [4, 5, 6]);
    await close();
  });

  test(`${name}: connection info names the peer; only TLS is secure; the protocol is strata by ALPN or by WebSocket subprotocol [TLS-3] [TLS-6] [WS-1]`, async () => {
    const { client, server, close } = await connected(factory, address);
    for (const end of [client, server]) {
      assert.ok(end.info.peer.length > 0);
      assert.is(end.info.secure, name === "tls" || name === "wss");
      assert.is(end.info.protocol, name === "tcp" || name === "memory" ? undefined : "strata");
    }
    if (name === "tls") assert.is(client.info.peerCertificate?.subject, "CN=strata-test-server", "a client sees the server's verified certificate");
    if (name !== "memory") assert.is(server.info.remoteAddress, "127.0.0.1");
    client.destroy();
    server.destroy();
    await close();
  });
}

test("[TLS-5] a socket's error before start() is reported by start(), not thrown from the socket (Deno reads a TLS refusal of the client's certificate before the handshake starts the transport)", async () => {
  const net = await import("node:net");
  const server = net.createServer((socket) => socket.on("error", () => {}));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as import("node:net").AddressInfo;
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise((resolve) => socket.once("connect", resolve));
  const transport = new SocketTransport(socket, { host: "127.0.0.1", port }, 65536);
  const gone = new Promise((resolve) => socket.once("close", resolve));
  // No listener of the test's own: an error event no one hears throws, and would end this process.
  socket.destroy(new Error("the peer refused us before start"));
  await gone;
  const error = await within(receive(transport).closed, 5000, "the error that came before start");
  assert.ok(error instanceof Error, "reported as an error");
  assert.match(error.message, /refused us before start/);
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test("memory: connecting where nothing listens is refused; a name in use cannot be listened on twice", async () => {
  const failure = (promise: Promise<unknown>) => promise.then(() => "succeeded", (error: Error) => error.message);
  assert.match(await failure(memoryTransport.connect("memory:nobody-here")), /refused/);
  const listener = await memoryTransport.listen("memory:taken", {}, () => {});
  assert.match(await failure(memoryTransport.listen("memory:taken", {}, () => {})), /in use/);
  await listener.close();
});

test("memory: a reset reaches an end that has stopped reading, as a TCP RST does", async () => {
  const [a, b] = memoryPair();
  const atA = receive(a);
  receive(b);
  a.pause!();
  b.write(Uint8Array.of(1, 2, 3)); // waits unread at the paused end
  b.pause!();
  a.write(Uint8Array.of(8)); // left unread by b, so b's destroy is a reset
  await new Promise((resolve) => setTimeout(resolve, 0));
  b.destroy();
  const error = await atA.closed;
  assert.ok(error instanceof Error, "a reset, reported as an error");
  assert.equal(atA.total(), 0, "the paused end's unread input went with the reset");
});

test("memory: drain comes once the reader has taken everything, as node:net's does", async () => {
  const [a, b] = memoryPair({ highWaterMark: 8 });
  let drains = 0;
  const atB = receive(b);
  receive(a, { drain: () => drains++ });
  b.pause!();
  assert.is(a.write(new Uint8Array(16)), false);
  b.resume!();
  await atB.atLeast(16);
  assert.is(drains, 1);
  assert.is(a.bufferedAmount, 0);
});

test("memoryPair: chunkBytes splits what one write sent, as a slow network would", async () => {
  const [a, b] = memoryPair({ chunkBytes: 1 });
  const got = receive(b);
  receive(a);
  a.write(Uint8Array.of(1, 2, 3, 4));
  await got.atLeast(4);
  assert.equal(got.bytes.map((c) => c.length), [1, 1, 1, 1]);
});

test.run();
