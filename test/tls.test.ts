// Strata over TLS (spec section 19) on real sockets, with certificates made
// at test time: calls work and handlers see the connection secure, ALPN
// "strata" and the client's verified identity; and every failure of
// verification (unknown CA, wrong name, missing or foreign client
// certificate, plaintext on a TLS port, a handshake that never comes) ends
// the connection before any Strata byte, with calls failing CONNECT_FAILED,
// not processed. Runs on Node, Bun and Deno.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import * as net from "node:net";
import * as tls from "node:tls";
import { X509Certificate } from "node:crypto";
import { createClient, createServer, RpcError, TransportCode, tlsTransport, type ConnectionInfo, type Server, type TlsOptions } from "../src/node.ts";
import { encodePreface, encodeFrame, encodeHello, FrameType } from "../src/wire/index.ts";
import { certificatesProblem, testCertificates, type TestCertificates } from "../conformance/runner/certificates.ts";
import { TestService, testService } from "./support/test-service.ts";
import { msToCutOnClose, stalledHandshake } from "./support/stalled-handshake.ts";

const test = suite("tls");
const problem = certificatesProblem();
if (problem !== undefined) console.log(`\n  SKIPPED: the TLS tests need ${problem}\n`);
const certs: TestCertificates | undefined = problem === undefined ? testCertificates() : undefined;

/** A TLS server running TestService whose handlers record the connection they ran on. */
async function tlsServer(options: TlsOptions = {}, serverOptions: { handshakeTimeoutMs?: number } = {}): Promise<{ server: Server; address: string; seen: ConnectionInfo[]; ran: string[] }> {
  const { impl, log } = testService();
  const seen: ConnectionInfo[] = [];
  const server = createServer({ transports: { tls: tlsTransport({ ...certs!.server, ...options }) }, ...serverOptions }).addService(TestService, {
    ...impl,
    echo: (request, context) => {
      seen.push(context.connection);
      return impl.echo!(request, context);
    },
  });
  const address = await server.listen("tls:127.0.0.1:0");
  return { server, address, seen, ran: log.echoed };
}

/** The failure of a call that must not connect, as an Error uvu can print. */
async function failure(call: Promise<unknown>): Promise<RpcError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw new Error(`expected an RpcError, got ${String(error)}`);
  }
  throw new Error("the call succeeded");
}

function assertNotConnected(error: RpcError, mentions: RegExp): void {
  assert.is(error.code, TransportCode.CONNECT_FAILED, `${error.code}: ${error.message}`);
  assert.is(error.processed, "no", error.message);
  assert.match(error.message, mentions);
  assert.not.match(error.rawMessage, /\n/, "one line, OpenSSL's newlines included");
}

const client = (address: string, options: TlsOptions) => createClient(TestService, { address, transports: { tls: tlsTransport(options) } });

test("[TLS-1] [TLS-3] [TLS-6] calls over TLS: the handler sees a secure connection, ALPN strata, and no client identity when none was asked for", async () => {
  if (certs === undefined) return;
  const { server, address, seen } = await tlsServer();
  assert.match(address, /^tls:127\.0\.0\.1:\d+$/);
  const port = address.split(":").at(-1)!;
  for (const target of [address, `tls://127.0.0.1:${port}`, `tls:localhost:${port}`]) {
    const c = client(target, { ca: certs.ca });
    assert.is((await c.echo({ text: `over ${target}` })).text, `over ${target}`);
    await c.echo({ text: "x", payloadSize: 200_000 }); // a body spanning many TLS records
    c.$close();
  }
  assert.ok(seen.length >= 6);
  for (const info of seen) {
    assert.is(info.secure, true);
    assert.is(info.protocol, "strata");
    assert.is(info.peerCertificate, undefined);
    assert.match(info.peer, /^127\.0\.0\.1:\d+$/);
  }
  await server.close();
});

test("[TLS-4] a server whose certificate a client does not trust: CONNECT_FAILED, not processed, nothing ran; also with the runtime's public CAs", async () => {
  if (certs === undefined) return;
  const { server, address, ran } = await tlsServer();
  assertNotConnected(await failure(client(address, { ca: certs.otherCa }).echo({ text: "untrusted" })), /TLS-4/);
  // The default transport of "tls:" addresses trusts public CAs only.
  assertNotConnected(await failure(createClient(TestService, { address }).echo({ text: "public CAs" })), /certificate/i);
  assert.equal(ran, []);
  await server.close();
});

test("[TLS-4] the server's name is checked: a certificate for other names fails, serverName names the one to expect", async () => {
  if (certs === undefined) return;
  const { server, address, ran } = await tlsServer();
  assertNotConnected(await failure(client(address, { ca: certs.ca, serverName: "billing.example" }).echo({ text: "wrong name" })), /billing\.example|altnames|TLS-4/);
  const named = client(address, { ca: certs.ca, serverName: "localhost" });
  assert.is((await named.echo({ text: "named" })).text, "named");
  named.$close();
  assert.equal(ran, ["named"]);
  await server.close();
});

test("[TLS-5] [TLS-6] a server requiring client certificates refuses none and foreign ones, and shows a valid one's identity to the handler", async () => {
  if (certs === undefined) return;
  const { server, address, seen, ran } = await tlsServer({ ca: certs.ca, clientCertificate: "require" });
  assertNotConnected(await failure(client(address, { ca: certs.ca }).echo({ text: "no certificate" })), /./);
  assertNotConnected(await failure(client(address, { ca: certs.ca, ...certs.otherClient }).echo({ text: "foreign" })), /./);
  assert.equal(ran, []);
  const c = client(address, { ca: certs.ca, ...certs.client });
  assert.is((await c.echo({ text: "billing" })).text, "billing");
  c.$close();
  const identity = seen[0]!.peerCertificate!;
  assert.is(identity.subject, "CN=billing");
  assert.equal(identity.subjectAltNames, ["DNS:billing.internal"]);
  assert.is(identity.fingerprint256, new X509Certificate(certs.client.cert).fingerprint256);
  await server.close();
});

test("[TLS-5] a server requesting client certificates accepts clients without one, and refuses a certificate that does not verify", async () => {
  if (certs === undefined) return;
  const { server, address, seen, ran } = await tlsServer({ ca: certs.ca, clientCertificate: "request" });
  const anonymous = client(address, { ca: certs.ca });
  assert.is((await anonymous.echo({ text: "anonymous" })).text, "anonymous");
  anonymous.$close();
  assert.is(seen[0]!.peerCertificate, undefined);
  assertNotConnected(await failure(client(address, { ca: certs.ca, ...certs.otherClient }).echo({ text: "foreign" })), /./);
  const known = client(address, { ca: certs.ca, ...certs.client });
  await known.echo({ text: "known" });
  known.$close();
  assert.is(seen[1]!.peerCertificate?.subject, "CN=billing");
  assert.equal(ran, ["anonymous", "known"]);
  await server.close();
});

/** Everything a raw TCP connection receives until the server closes it. */
function rawExchange(address: string, send: Uint8Array | undefined): Promise<{ received: Buffer; closedAfterMs: number }> {
  const [host, port] = [address.slice(4, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const started = performance.now();
    const socket = net.connect({ host, port }, () => {
      if (send !== undefined) socket.write(send);
    });
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", () => {}); // a reset is a close too
    socket.on("close", () => resolve({ received: Buffer.concat(chunks), closedAfterMs: performance.now() - started }));
    setTimeout(() => reject(new Error("the server kept the connection open for 10 s")), 10_000).unref?.();
  });
}

test("[TLS-1] plaintext Strata on a TLS port gets no Strata bytes back: the connection ends in the TLS handshake", async () => {
  if (certs === undefined) return;
  const { server, address, ran } = await tlsServer();
  const hello = encodeFrame({ type: FrameType.HELLO }, encodeHello({}));
  const { received } = await rawExchange(address, Buffer.concat([encodePreface(), hello]));
  assert.not.ok(received.includes(Buffer.from("STRATA")), `received ${received.toString("hex").slice(0, 64)}`);
  assert.equal(ran, []);
  await server.close();
});

test("[TLS-1] a TLS client on a plaintext port fails CONNECT_FAILED, not processed", async () => {
  if (certs === undefined) return;
  const { impl } = testService();
  const plain = createServer().addService(TestService, impl);
  const address = await plain.listen("127.0.0.1:0");
  assertNotConnected(await failure(client(`tls:${address}`, { ca: certs.ca }).echo({ text: "to plaintext" })), /TLS/);
  await plain.close();
});

test("[TLS-7] a TCP connection that never starts its TLS handshake is closed once the handshake timeout passes", async () => {
  if (certs === undefined) return;
  const { server, address } = await tlsServer({}, { handshakeTimeoutMs: 300 });
  const { received, closedAfterMs } = await rawExchange(address, undefined);
  assert.is(received.length, 0);
  assert.ok(closedAfterMs >= 250, `closed after ${closedAfterMs} ms, before the timeout`);
  await server.close();
});

test("[TLS-3] a client offering only other ALPN protocols is refused in the handshake; one offering none is served", async () => {
  if (certs === undefined) return;
  const { server, address } = await tlsServer();
  const port = Number(address.split(":").at(-1));
  const handshake = (ALPNProtocols: string[] | undefined) =>
    new Promise<string>((resolve) => {
      const socket = tls.connect({ host: "127.0.0.1", port, ca: certs.ca, servername: "localhost", ...(ALPNProtocols ? { ALPNProtocols } : {}) }, () => {
        resolve(`connected, ALPN ${socket.alpnProtocol}`);
        socket.destroy();
      });
      socket.on("error", (error: Error & { code?: string }) => resolve(`refused: ${error.code ?? error.message}`));
    });
  assert.match(await handshake(["h2"]), /^refused: .*NO_APPLICATION_PROTOCOL/i);
  assert.is(await handshake(undefined), "connected, ALPN false");
  assert.is(await handshake(["h2", "strata"]), "connected, ALPN strata");
  await server.close();
});

test("bad TLS configuration is a clear error: listening without a certificate, client certificates without a CA, a malformed address", async () => {
  if (certs === undefined) return;
  const bare = createServer();
  try {
    await bare.listen("tls:127.0.0.1:0");
    assert.unreachable("listened without a certificate");
  } catch (error) {
    assert.match((error as Error).message, "needs a certificate and its key");
  }
  await bare.close();
  assert.throws(() => tlsTransport({ ...certs.server, clientCertificate: "require" }), /needs ca/);
  assert.throws(() => tlsTransport({ cert: certs.server.cert }), /cert and key go together/);
  assert.throws(() => tlsTransport({ clientCertificate: "always" as "require" }), /clientCertificate must be/);
  for (const address of ["tls:127.0.0.1", "tls:unix:/tmp/x", "tls://", "tls:127.0.0.1:0"]) {
    assert.throws(() => createClient(TestService, { address }), /invalid address|port 0/, address);
  }
});

test("[TLS-7] close() does not wait for handshakes in progress: a connection that never finishes its ClientHello is cut at once, not when its handshake times out", async () => {
  if (certs === undefined) return;
  const { server, address } = await tlsServer({}, { handshakeTimeoutMs: 60_000 });
  const { closed } = await stalledHandshake(Number(address.split(":").at(-1)), Uint8Array.of(0x16, 3, 1)); // a record header, no more
  const ms = await msToCutOnClose(server, closed, async () => {
    const later = client(address, { ca: certs.ca });
    await later.echo({ text: "later" });
    later.$close();
  });
  assert.ok(ms < 20_000, `closed after ${ms.toFixed(0)} ms; the handshake timeout is 60 s`);
});

test.run();
