// Handshake, refusal of foreign peers, heartbeats and idleness, against the
// reference server over real sockets on 127.0.0.1.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import * as net from "node:net";
import {
  createClient,
  createServer,
  decodeGoaway,
  decodeHello,
  encodeFrame,
  encodePreface,
  FrameType,
  GoawayCode,
  type Server,
} from "../src/node.ts";
import { RawPeer } from "./support/raw-peer.ts";
import { TestService, testService } from "./support/test-service.ts";

const test = suite("connection lifecycle");
let server: Server;
let address: string;

test.before.each(async () => {
  server = createServer({ idleTimeoutMs: 400, minPingIntervalMs: 50, handshakeTimeoutMs: 300 }).addService(TestService, testService().impl);
  address = await server.listen("127.0.0.1:0");
});

test.after.each(async () => {
  await server.close({ graceMs: 200 });
});

/** Sends raw bytes and collects everything until the server closes. */
async function exchange(bytes: Uint8Array, timeoutMs = 3000): Promise<{ reply: Buffer; elapsedMs: number }> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  const socket = net.connect(port, host);
  const chunks: Buffer[] = [];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => {
      if (bytes.length > 0) socket.write(bytes);
    });
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ reply: Buffer.concat(chunks), elapsedMs: performance.now() - started });
    });
  });
}

test("[PREFACE-4] [HELLO-1] the server answers a v1 preface with its preface and a HELLO, before the client's HELLO", async () => {
  const peer = await RawPeer.connect(address, { handshake: false });
  peer.write(encodePreface());
  const hello = await peer.waitFor((f) => f.header.type === FrameType.HELLO);
  assert.equal(Array.from(peer.prefix), Array.from(encodePreface()));
  const declared = decodeHello(hello.body);
  assert.is(declared.idleTimeoutMs, 400);
  assert.is(declared.minPingIntervalMs, 50);
  peer.destroy();
});

test("[PREFACE-2] an old-style client (first byte 00) is refused at once, nothing written", async () => {
  const { reply, elapsedMs } = await exchange(Uint8Array.of(0x00, 0x00));
  assert.is(reply.length, 0);
  assert.ok(elapsedMs < 250, `closed after ${elapsedMs} ms, before the handshake timeout`);
});

test("[PREFACE-2] a TLS ClientHello is refused at once, nothing written", async () => {
  const { reply } = await exchange(Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0xa5, 0x01));
  assert.is(reply.length, 0);
});

test("[PREFACE-3] an HTTP request gets one HTTP/1.1 400 response, then EOF", async () => {
  const { reply } = await exchange(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  assert.ok(reply.toString().startsWith("HTTP/1.1 400 "), reply.toString());
});

test("[PREFACE-4] [FRAME-18] an unknown version gets the server's own preface, then EOF", async () => {
  const { reply } = await exchange(encodePreface(2));
  assert.equal(Array.from(reply), Array.from(encodePreface(1)));
});

test("[PREFACE-6] a preface that never completes is closed at the handshake timeout, nothing written", async () => {
  const { reply, elapsedMs } = await exchange(Uint8Array.of(0x53, 0x54, 0x52));
  assert.is(reply.length, 0);
  assert.ok(elapsedMs >= 250, `closed after ${elapsedMs} ms`);
});

test("[HELLO-5] no HELLO after the preface: GOAWAY(HANDSHAKE_TIMEOUT)", async () => {
  const peer = await RawPeer.connect(address, { handshake: false });
  peer.write(encodePreface());
  const goaway = await peer.waitFor((f) => f.header.type === FrameType.GOAWAY);
  assert.is(decodeGoaway(goaway.body).code, GoawayCode.HANDSHAKE_TIMEOUT);
  await peer.waitForEnd();
});

test("[HELLO-2] a first frame other than HELLO is a connection error", async () => {
  const peer = await RawPeer.connect(address, { handshake: false });
  peer.write(encodePreface());
  peer.write(encodeFrame({ type: FrameType.PING }));
  const goaway = await peer.waitFor((f) => f.header.type === FrameType.GOAWAY);
  const info = decodeGoaway(goaway.body);
  assert.is(info.code, GoawayCode.PROTOCOL_ERROR);
  assert.ok(info.message.startsWith("[HELLO-2]"), info.message);
  await peer.waitForEnd();
});

test("[PING-2] a PING is answered by a PONG with the same payload", async () => {
  const peer = await RawPeer.connect(address);
  peer.send({ type: FrameType.PING }, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  const pong = await peer.waitFor((f) => f.header.type === FrameType.PONG);
  assert.equal(Array.from(pong.body), [1, 2, 3, 4, 5, 6, 7, 8]);
  peer.destroy();
});

test("[PING-7] PINGs far more often than min_ping_interval_ms end in GOAWAY(TOO_MANY_PINGS)", async () => {
  const peer = await RawPeer.connect(address);
  for (let i = 0; i < 4; i++) peer.send({ type: FrameType.PING }, Uint8Array.of(i));
  const goaway = await peer.waitFor((f) => f.header.type === FrameType.GOAWAY);
  assert.is(decodeGoaway(goaway.body).code, GoawayCode.TOO_MANY_PINGS);
  assert.is(peer.frames.filter((f) => f.header.type === FrameType.PONG).length, 3, "the first three were answered");
  await peer.waitForEnd();
});

test("[IDLE-1] without heartbeats an idle connection is closed with GOAWAY(IDLE_TIMEOUT)", async () => {
  const peer = await RawPeer.connect(address);
  const started = performance.now();
  const goaway = await peer.waitFor((f) => f.header.type === FrameType.GOAWAY, 3000);
  const info = decodeGoaway(goaway.body);
  assert.is(info.code, GoawayCode.IDLE_TIMEOUT);
  assert.ok(info.message.startsWith("[IDLE-1]"), info.message);
  assert.ok(performance.now() - started >= 350, "not before the idle timeout [IDLE-2]");
  await peer.waitForEnd();
});

test("[PING-4] [IDLE-2] the client's heartbeats keep an idle connection open past the idle timeout", async () => {
  const client = createClient(TestService, { address, pingIntervalMs: 100 });
  await client.echo({ text: "first" });
  // Idle for three idle timeouts; the connection must survive on PINGs alone.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  await client.echo({ text: "second" });
  assert.is(server.stats().connections.accepted, 1, "the same connection served both calls");
  client.$close();
});

test("[PING-9] a client that only receives results keeps pinging, so the server does not close it as idle", async () => {
  // Its own server: an idle timeout long enough that [PING-9]'s ping at half of it has room on a loaded machine.
  const IDLE_MS = 1000;
  const CALLS = 30;
  const receiving = createServer({ idleTimeoutMs: IDLE_MS, minPingIntervalMs: 50 }).addService(TestService, testService().impl);
  const client = createClient(TestService, { address: await receiving.listen("127.0.0.1:0"), pingIntervalMs: 5000, timeoutMs: 20_000 });
  try {
    await client.echo({ text: "warm-up" });
    // One burst of requests, then nothing to send for three idle timeouts while results arrive every
    // 100 ms: the client never goes silent ([PING-4] alone would never ping), the server hears nothing.
    const results = await Promise.allSettled(Array.from({ length: CALLS }, (_, i) => client.echo({ text: `${i}`, delayMs: 100 * (i + 1) })));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`call ${i}: ${String(r.reason)}`] : []));
    assert.equal(failed, [], "calls failed while their results were still arriving");
    assert.is(receiving.stats().connections.accepted, 1, "one connection carried every call");
  } finally {
    client.$close();
    await receiving.close({ graceMs: 200 });
  }
});

test.run();
