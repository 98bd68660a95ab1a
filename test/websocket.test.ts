// Strata over WebSocket (spec section 18) on real sockets: calls through the
// client transport, and what the server does with upgrades and messages
// that break the mapping, seen by raw WebSocket peers from the ws package:
// no subprotocol, text, oversized messages, compression offered, foreign
// origins, wrong paths and plain HTTP. Runs on Node, Bun and Deno.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { create, toBinary } from "@bufbuild/protobuf";
import { WebSocket as WsClient, type RawData } from "ws";
import * as net from "node:net";
import { X509Certificate } from "node:crypto";
import { createClient, createServer, RpcError, TransportCode, type ConnectionInfo, type Server, type WebSocketOptions } from "../src/node.ts";
import { encodeFrame, encodeHello, encodePreface, FrameType, createFrameDecoder, type Frame } from "../src/wire/index.ts";
import { MAX_WEBSOCKET_MESSAGE } from "../src/transport/index.ts";
import { EchoRequestSchema } from "./gen/stratatest/v1/testing_pb.ts";
import { TestService, testService } from "./support/test-service.ts";
import { waitUntil } from "./support/wait.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { msToCutOnClose, stalledHandshake } from "./support/stalled-handshake.ts";
import { certificatesProblem, testCertificates } from "../conformance/runner/certificates.ts";

const test = suite("websocket");

async function wsServer(options: { allowedOrigins?: readonly string[] | "*" } = {}, handshakeTimeoutMs?: number): Promise<{ server: Server; address: string; seen: ConnectionInfo[]; ran: string[] }> {
  const { impl, log } = testService();
  const seen: ConnectionInfo[] = [];
  const { webSocketTransport } = await import("../src/transport/websocket.ts");
  const server = createServer({ transports: { ws: webSocketTransport(options) }, ...(handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs }) }).addService(TestService, {
    ...impl,
    echo: (request, context) => {
      seen.push(context.connection);
      return impl.echo!(request, context);
    },
  });
  const address = await server.listen("ws://127.0.0.1:0/strata");
  return { server, address, seen, ran: log.echoed };
}

/** A raw WebSocket peer: its messages, and how the server ended it. */
function rawPeer(address: string, options: { protocols?: string[]; origin?: string; perMessageDeflate?: boolean; path?: string } = {}) {
  const url = options.path === undefined ? address : address.replace(/\/strata$/, options.path);
  const socket = new WsClient(url, options.protocols ?? ["strata"], { perMessageDeflate: options.perMessageDeflate ?? false, ...(options.origin ? { origin: options.origin } : {}) });
  const messages: Buffer[] = [];
  socket.on("message", (data: RawData) => messages.push(data as Buffer));
  const opened = new Promise<{ status: number | undefined }>((resolve) => {
    socket.once("open", () => resolve({ status: 101 }));
    socket.once("unexpected-response", (_request, response) => resolve({ status: response.statusCode }));
    socket.once("error", () => resolve({ status: undefined }));
  });
  const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
  return { socket, messages, opened, closed };
}

function handshakeBytes(): Buffer {
  return Buffer.concat([encodePreface(), encodeFrame({ type: FrameType.HELLO }, encodeHello({ agent: "websocket-test" }))]);
}

test("[WS-1] [WS-2] calls over ws: unary, 200 at once, a 3 MB body across many messages; the handler sees the subprotocol and the upgrade's cookie", async () => {
  const { server, address, seen } = await wsServer();
  assert.match(address, /^ws:\/\/127\.0\.0\.1:\d+\/strata$/);
  const client = createClient(TestService, { address });
  assert.is((await client.echo({ text: "over ws" })).text, "over ws");
  const texts = (await Promise.all(Array.from({ length: 200 }, (_, i) => client.echo({ text: `m${i}` })))).map((r) => r.text);
  assert.equal(texts, Array.from({ length: 200 }, (_, i) => `m${i}`));
  assert.is((await client.echo({ text: "big", payloadSize: 3_000_000 })).payload.length, 3_000_000);
  client.$close();
  assert.is(seen[0]!.secure, false);
  assert.is(seen[0]!.protocol, "strata");
  assert.match(seen[0]!.peer, /^127\.0\.0\.1:\d+$/);
  // A browser's cookie arrives with the upgrade; a raw peer sets one here.
  const peer = new WsClient(address, ["strata"], { perMessageDeflate: false, headers: { cookie: "session=abc" } });
  await new Promise((resolve) => peer.once("open", resolve));
  peer.send(Buffer.concat([handshakeBytes(), encodeFrame({ type: FrameType.REQUEST, requestId: 1, service: TestService.typeName, method: "Echo" }, toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "cookie" })))]));
  await waitUntil(() => seen.length === 203, 5000);
  assert.is(seen[202]!.cookie, "session=abc");
  peer.close();
  await server.close();
});

test("[WS-1] an upgrade that does not request subprotocol strata is refused 400; a client fails on a server that selects none", async () => {
  const { server, address, ran } = await wsServer();
  for (const protocols of [[], ["chat"]]) {
    const peer = rawPeer(address, { protocols });
    assert.is((await peer.opened).status, 400, JSON.stringify(protocols));
  }
  await server.close();
  const { WebSocketServer } = await import("ws");
  const bare = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: () => false });
  await new Promise((resolve) => bare.once("listening", resolve));
  const port = (bare.address() as { port: number }).port;
  const client = createClient(TestService, { address: `ws://127.0.0.1:${port}/` });
  try {
    await client.echo({ text: "no subprotocol" });
    assert.unreachable("the call succeeded");
  } catch (error) {
    // Each runtime words it its own way ("Server sent no subprotocol", "Missing client protocol"); the outcome is one.
    const failure = error as RpcError;
    assert.is(failure.code, TransportCode.CONNECT_FAILED, failure.message);
    assert.is(failure.processed, "no");
  }
  client.$close();
  bare.close();
  assert.equal(ran, []);
});

test("[WS-2] a text message ends the connection with close code 1003; nothing it carried runs", async () => {
  const { server, address, ran } = await wsServer();
  const peer = rawPeer(address);
  await peer.opened;
  peer.socket.send(handshakeBytes());
  await waitUntil(() => peer.messages.length > 0, 5000);
  peer.socket.send("not binary");
  assert.is(await peer.closed, 1003);
  assert.equal(ran, []);
  await server.close();
});

/**
 * A WebSocket server of the ws package whose first message leaves in the
 * same write as its answer to the upgrade, so that the client reads both at
 * once: `first` is that message, text or bytes. Reports the close code the
 * client sent.
 */
async function eagerServer(first: string | Uint8Array): Promise<{ address: string; closed: Promise<number>; close(): Promise<void> }> {
  const http = await import("node:http");
  const { WebSocketServer } = await import("ws");
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: () => "strata" });
  let closedWith: (code: number) => void = () => {};
  const closed = new Promise<number>((resolve) => (closedWith = resolve));
  const web = http.createServer();
  web.on("upgrade", (request, socket, head) => {
    socket.cork();
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on("close", (code) => closedWith(code));
      ws.on("message", () => {});
      ws.send(first);
      process.nextTick(() => socket.uncork());
    });
  });
  await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
  const { port } = web.address() as net.AddressInfo;
  return {
    address: `ws://127.0.0.1:${port}/strata`,
    closed,
    close: () => {
      for (const client of wss.clients) client.terminate();
      web.closeAllConnections();
      return new Promise<void>((resolve) => web.close(() => resolve()));
    },
  };
}

test("[WS-2] the client reads what arrives with the upgrade's answer: a server's handshake sent at once is served, a text message is closed with 1003", async () => {
  const handshake = await eagerServer(handshakeBytes());
  const client = createClient(TestService, { address: handshake.address, timeoutMs: 10_000 });
  // A oneway call settles once written, so only after the handshake: never, if the HELLO was missed.
  const sent = await client.$oneway.echo({ text: "after an eager HELLO" }).then(() => "written", (error: Error) => error.message);
  assert.is(sent, "written", "the handshake completed");
  await client.$close();
  await handshake.close();

  const text = await eagerServer("text with the upgrade");
  const failed = await rpcFailure(createClient(TestService, { address: text.address }).echo({ text: "never sent" }));
  assert.is(await text.closed, 1003);
  assert.is(failed.processed, "no", failed.message);
  await text.close();
});

test("[WS-3] the server's messages are at most 1 MiB however large the response; a larger message from the peer closes with 1009", async () => {
  const { server, address } = await wsServer();
  const peer = rawPeer(address);
  await peer.opened;
  const frames: Frame[] = [];
  const decoder = createFrameDecoder({ limits: { maxHeaderSize: 1 << 20, maxBodySize: 64 << 20 }, onFrame: (frame) => frames.push(frame) });
  let prefaceLeft = 8;
  peer.socket.on("message", (data: RawData) => {
    let bytes = new Uint8Array(data as Buffer);
    if (prefaceLeft > 0) {
      const skip = Math.min(prefaceLeft, bytes.length);
      prefaceLeft -= skip;
      bytes = bytes.subarray(skip);
    }
    decoder.push(bytes);
  });
  const request = encodeFrame({ type: FrameType.REQUEST, requestId: 1, service: TestService.typeName, method: "Echo" }, toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "big", payloadSize: 2_500_000 })));
  peer.socket.send(Buffer.concat([handshakeBytes(), request]));
  await waitUntil(() => frames.some((f) => f.header.type === FrameType.RESPONSE), 10_000);
  assert.ok(peer.messages.length >= 3, `${peer.messages.length} messages`);
  for (const m of peer.messages) assert.ok(m.length <= MAX_WEBSOCKET_MESSAGE, `a message of ${m.length} bytes`);
  peer.socket.send(Buffer.alloc(MAX_WEBSOCKET_MESSAGE + 1));
  assert.is(await peer.closed, 1009);
  await server.close();
});

test("[WS-4] [WS-5] compression offered is declined; a foreign Origin is refused 403, an allowed one and none are served; wrong paths 404, plain HTTP 426", async () => {
  const { server, address } = await wsServer({ allowedOrigins: ["https://app.example"] });
  const deflating = rawPeer(address, { perMessageDeflate: true });
  assert.is((await deflating.opened).status, 101);
  assert.is(deflating.socket.extensions, "", "no extension negotiated");
  deflating.socket.close();
  assert.is((await rawPeer(address, { origin: "https://evil.example" }).opened).status, 403);
  const allowed = rawPeer(address, { origin: "https://app.example" });
  assert.is((await allowed.opened).status, 101);
  allowed.socket.close();
  assert.is((await rawPeer(address, { path: "/other" }).opened).status, 404);
  const plain = await fetch(address.replace(/^ws:/, "http:"));
  assert.is(plain.status, 426);
  assert.match(await plain.text(), "Strata RPC over WebSocket");
  await server.close();
});

test("one server serves TCP and WebSocket at once; a malformed ws address is a TypeError at createClient", async () => {
  const { server, address } = await wsServer();
  const tcp = await server.listen("127.0.0.1:0");
  for (const target of [address, tcp]) {
    const client = createClient(TestService, { address: target });
    assert.is((await client.echo({ text: target })).text, target);
    client.$close();
  }
  await server.close();
  for (const bad of ["ws://", "ws://127.0.0.1:0/strata"]) assert.throws(() => createClient(TestService, { address: bad }), /invalid address/, bad);
});

test("[WS-1] [TLS-4] wss: a listener with a certificate, a client trusting its CA; a client that does not trust it, or expects another name, fails CONNECT_FAILED", async () => {
  const problem = certificatesProblem();
  if (problem !== undefined) {
    console.log(`\n  SKIPPED: the wss test needs ${problem}\n`);
    return;
  }
  const certs = testCertificates();
  const { impl } = testService();
  const { webSocketTransport } = await import("../src/transport/websocket.ts");
  const server = createServer({ transports: { wss: webSocketTransport(certs.server) } }).addService(TestService, impl);
  const address = await server.listen("wss://127.0.0.1:0/strata");
  const trusting = createClient(TestService, { address, transports: { wss: webSocketTransport({ clientTls: { ca: certs.ca } }) } });
  assert.is((await trusting.echo({ text: "over wss" })).text, "over wss");
  trusting.$close();
  const doubting = createClient(TestService, { address, transports: { wss: webSocketTransport({ clientTls: { ca: certs.otherCa } }) } });
  try {
    await doubting.echo({ text: "untrusted" });
    assert.unreachable("the call succeeded");
  } catch (error) {
    assert.is((error as RpcError).code, TransportCode.CONNECT_FAILED, (error as Error).message);
  }
  doubting.$close();
  // A name to verify instead of the address's host: the certificate names localhost, not elsewhere.invalid [TLS-4].
  const named = (serverName: string) => createClient(TestService, { address, transports: { wss: webSocketTransport({ clientTls: { ca: certs.ca, serverName } }) } });
  const localhost = named("localhost");
  assert.is((await localhost.echo({ text: "as localhost" })).text, "as localhost");
  localhost.$close();
  const misnamed = await rpcFailure(named("elsewhere.invalid").echo({ text: "misnamed" }));
  assert.is(misnamed.code, TransportCode.CONNECT_FAILED, misnamed.message);
  await server.close();
});

/** A wss: server with the test certificates and `options`, recording the connection each echo came on. */
async function wssServer(options: WebSocketOptions, handshakeTimeoutMs?: number): Promise<{ server: Server; address: string; seen: ConnectionInfo[]; ran: string[] }> {
  const { impl, log } = testService();
  const seen: ConnectionInfo[] = [];
  const { webSocketTransport } = await import("../src/transport/websocket.ts");
  const server = createServer({ transports: { wss: webSocketTransport({ ...testCertificates().server, ...options }) }, ...(handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs }) }).addService(TestService, {
    ...impl,
    echo: (request, context) => {
      seen.push(context.connection);
      return impl.echo!(request, context);
    },
  });
  return { server, address: await server.listen("wss://127.0.0.1:0/strata"), seen, ran: log.echoed };
}

/** Bun's node:https hands handlers sockets without their peer certificate: a wss: listener there refuses to ask for one. */
const isBun = (globalThis as { Bun?: unknown }).Bun !== undefined;

test("[TLS-5] [TLS-6] wss: a listener requiring client certificates refuses none and foreign ones and shows a trusted one's identity; one requesting them serves clients without one (Bun: refused at listen, clearly)", async () => {
  const problem = certificatesProblem();
  if (problem !== undefined) {
    console.log(`\n  SKIPPED: the wss client-certificate test needs ${problem}\n`);
    return;
  }
  const certs = testCertificates();
  const { webSocketTransport } = await import("../src/transport/websocket.ts");
  assert.throws(() => webSocketTransport({ ...certs.server, clientCertificate: "require" }), /needs clientCa/);
  if (isBun) {
    const server = createServer({ transports: { wss: webSocketTransport({ ...certs.server, clientCa: certs.ca, clientCertificate: "require" }) } });
    await server.listen("wss://127.0.0.1:0/strata").then(
      () => assert.unreachable("listened asking for client certificates it cannot see"),
      (error: Error) => assert.match(error.message, /needs an HTTPS server built on node:tls/),
    );
    await server.close();
    console.log("\n  SKIPPED on Bun: wss client certificates (its node:https sockets show no peer certificate); refused at listen instead\n");
    return;
  }
  const client = (address: string, tls: object) => createClient(TestService, { address, transports: { wss: webSocketTransport({ clientTls: { ca: certs.ca, ...tls } }) } });
  const required = await wssServer({ clientCa: certs.ca, clientCertificate: "require" });
  for (const tls of [{}, certs.otherClient]) {
    const error = await rpcFailure(client(required.address, tls).echo({ text: "refused" }));
    assert.is(error.code, TransportCode.CONNECT_FAILED, error.message);
    assert.is(error.processed, "no", error.message);
  }
  assert.equal(required.ran, []);
  const billing = client(required.address, certs.client);
  assert.is((await billing.echo({ text: "billing" })).text, "billing");
  billing.$close();
  const identity = required.seen[0]!.peerCertificate!;
  assert.is(required.seen[0]!.secure, true);
  assert.is(identity.subject, "CN=billing");
  assert.equal(identity.subjectAltNames, ["DNS:billing.internal"]);
  assert.is(identity.fingerprint256, new X509Certificate(certs.client.cert).fingerprint256);
  await required.server.close();

  const requested = await wssServer({ clientCa: certs.ca, clientCertificate: "request" });
  const anonymous = client(requested.address, {});
  assert.is((await anonymous.echo({ text: "anonymous" })).text, "anonymous");
  anonymous.$close();
  assert.is(requested.seen[0]!.peerCertificate, undefined);
  assert.is((await rpcFailure(client(requested.address, certs.otherClient).echo({ text: "foreign" }))).code, TransportCode.CONNECT_FAILED);
  assert.equal(requested.ran, ["anonymous"]);
  await requested.server.close();
});

test("[WS-6] a connection whose upgrade completed outlives the handshake timer: calls on one connection past it, over ws and wss", async () => {
  const problem = certificatesProblem();
  const targets = [await wsServer({}, 200), ...(problem === undefined ? [await wssServer({}, 200)] : [])];
  if (problem !== undefined) console.log(`\n  SKIPPED: the wss half of this test needs ${problem}\n`);
  const { webSocketTransport } = await import("../src/transport/websocket.ts");
  const transports = problem === undefined ? { wss: webSocketTransport({ clientTls: { ca: testCertificates().ca } }) } : undefined;
  for (const { server, address, seen } of targets) {
    const client = createClient(TestService, { address, ...(transports === undefined ? {} : { transports }) });
    assert.is((await client.echo({ text: "first" })).text, "first");
    // Past the 200 ms timer: the upgraded connection must still be there [WS-6] [PREFACE-6].
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.is((await client.echo({ text: "second" })).text, "second");
    assert.is(seen.length, 2);
    assert.is(seen[1], seen[0], `${address}: both calls on one connection`);
    await client.$close();
    await server.close();
  }
});

test("[TLS-7] wss: a TCP connection that never starts its TLS handshake is closed once the handshake timeout passes (Bun: skipped)", async () => {
  const problem = certificatesProblem();
  if (problem !== undefined || isBun) {
    console.log(`\n  SKIPPED: ${isBun ? "Bun's node:https ignores handshakeTimeout (an idle TCP connection stays about 12 s)" : `the wss handshake test needs ${problem}`}\n`);
    return;
  }
  const { server, address } = await wssServer({}, 300);
  const { port } = new URL(address);
  const started = performance.now();
  const closedAfterMs = await new Promise<number>((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: Number(port) });
    socket.on("data", (chunk: Buffer) => reject(new Error(`the server wrote ${chunk.length} bytes`)));
    socket.on("error", () => {}); // a reset is a close too
    socket.on("close", () => resolve(performance.now() - started));
    setTimeout(() => reject(new Error("the server kept the connection open for 5 s (handshake timeout 300 ms)")), 5000).unref?.();
  });
  assert.ok(closedAfterMs >= 250, `closed after ${closedAfterMs} ms, before the handshake timeout of 300 ms`);
  await server.close();
});

test("[WS-6] [TLS-7] close() does not wait for upgrades or TLS handshakes in progress: a connection that never finishes either is cut at once, not when its timer fires", async () => {
  const { webSocketTransport } = await import("../src/transport/websocket.ts");
  const problem = certificatesProblem();
  const certs = problem === undefined ? testCertificates() : undefined;
  if (certs === undefined) console.log(`\n  SKIPPED: the wss half of this test needs ${problem}\n`);
  // Each: the scheme, the listener's transport, a client's, and the start of a handshake never finished.
  const listeners: Array<[string, () => ReturnType<typeof webSocketTransport>, () => ReturnType<typeof webSocketTransport>, Uint8Array | string]> = [
    ["ws", () => webSocketTransport({}), () => webSocketTransport({}), "GET /strata HTTP/1.1\r\nHost: x\r\n"],
  ];
  if (certs !== undefined) listeners.push(["wss", () => webSocketTransport(certs.server), () => webSocketTransport({ clientTls: { ca: certs.ca } }), Uint8Array.of(0x16, 3, 1)]);
  for (const [scheme, transport, clientTransport, start] of listeners) {
    const server = createServer({ transports: { [scheme]: transport() }, handshakeTimeoutMs: 60_000 }).addService(TestService, testService().impl);
    const address = await server.listen(`${scheme}://127.0.0.1:0/strata`);
    const { closed } = await stalledHandshake(Number(new URL(address).port), start);
    const ms = await msToCutOnClose(server, closed, async () => {
      const later = createClient(TestService, { address, transports: { [scheme]: clientTransport() } });
      await later.echo({ text: "later" });
      later.$close();
    });
    assert.ok(ms < 20_000, `${scheme}: closed after ${ms.toFixed(0)} ms; the handshake timeout is 60 s`);
  }
});

test.run();
