// How a client waits for its connection: fail-fast by default (a refused
// connect or a failed handshake fails the call at once, not processed),
// wait-for-ready on request (through failed attempts until the deadline),
// and malformed addresses refused by createClient itself. Real sockets on
// 127.0.0.1. Cites [HELLO-1] [HELLO-9] [HELLO-5] [PREFACE-5] [STATUS-3].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import * as net from "node:net";
import { createClient, createServer, encodePreface, tcpTransport, type TransportFactory } from "../src/node.ts";
import { createClient as createCoreClient } from "../src/index.ts";
import { TestService, testService } from "./support/test-service.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { waitUntil } from "./support/wait.ts";
import { freePort } from "./support/free-port.ts";
import { startScriptedServer } from "./support/scripted-server.ts";
import { decodeHello, FrameType } from "../src/wire/index.ts";
import { VERSION } from "../src/version.ts";

const test = suite("client connect");

/** A TCP server that answers every connection with `answer` and then ends it. */
async function answeringServer(answer: (socket: net.Socket) => void): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    answer(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** TCP that counts connection attempts, so a test can wait for the client to have failed one. */
function countingTcp(): { transport: TransportFactory; attempts: () => number } {
  let attempts = 0;
  return {
    transport: { connect: (address, options) => (attempts++, tcpTransport.connect(address, options)), listen: tcpTransport.listen },
    attempts: () => attempts,
  };
}

test("[HELLO-9] [STATUS-3] a refused connect fails the call at once with CONNECT_FAILED, not processed, long before its deadline; so do calls during the backoff", async () => {
  const client = createClient(TestService, { address: `127.0.0.1:${await freePort()}` });
  const started = performance.now();
  const calls = [client.echo({ text: "a" }, { timeoutMs: 10_000 }), client.echo({ text: "b" }, { timeoutMs: 10_000 })];
  for (const call of calls) {
    const error = await rpcFailure(call);
    assert.equal([error.layer, error.code, error.processed], ["transport", "CONNECT_FAILED", "no"]);
    assert.match(error.message, /ECONNREFUSED|refused/);
  }
  // Right after the failure the subchannel backs off: the next call fails with the same error, without waiting.
  const again = await rpcFailure(client.echo({ text: "c" }, { timeoutMs: 10_000 }));
  assert.equal([again.code, again.processed], ["CONNECT_FAILED", "no"]);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1500, `failed after ${elapsed.toFixed(0)} ms, not at once`);
  await client.$close();
});

test("[HELLO-9] [PREFACE-5] [HELLO-5] a handshake with a definite answer fails the call at once: a wrong magic, another version, a close", async () => {
  const cases: Array<[string, (socket: net.Socket) => void, string]> = [
    ["an HTTP server", (socket) => socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"), "PROTOCOL_ERROR"],
    ["a version 2 server", (socket) => {
      const preface = encodePreface();
      preface[7] = 2;
      socket.end(preface);
    }, "VERSION_MISMATCH"],
    ["a server that closes at once", (socket) => socket.destroy(), "CONNECT_FAILED"],
  ];
  for (const [name, answer, code] of cases) {
    const server = await answeringServer(answer);
    const client = createClient(TestService, { address: server.address });
    const started = performance.now();
    const error = await rpcFailure(client.echo({ text: name }, { timeoutMs: 10_000 }));
    assert.equal([error.layer, error.code, error.processed], ["transport", code, "no"], name);
    assert.ok(performance.now() - started < 1500, `${name}: failed at once`);
    await client.$close();
    await server.close();
  }
});

test("[HELLO-9] waitForReady on the client: a call made while the server is down waits through failed attempts and succeeds once it listens", async () => {
  const port = await freePort();
  const counting = countingTcp();
  const client = createClient(TestService, { address: `127.0.0.1:${port}`, waitForReady: true, transports: { tcp: counting.transport }, backoff: { initialMs: 10, maxMs: 50 } });
  const call = client.echo({ text: "waited" }, { timeoutMs: 10_000 });
  await waitUntil(() => counting.attempts() >= 2); // refused at least twice
  const { impl } = testService();
  const server = createServer().addService(TestService, impl);
  await server.listen(`127.0.0.1:${port}`);
  assert.is((await call).text, "waited");
  // One call may still fail fast.
  await server.close();
  const fast = await rpcFailure(client.echo({ text: "fast" }, { timeoutMs: 10_000, waitForReady: false }));
  assert.equal([fast.layer, fast.processed], ["transport", "no"]);
  await client.$close();
});

test("[HELLO-9] waitForReady on one call of a fail-fast client; with no server it fails TIMEOUT, not processed, at its deadline", async () => {
  const port = await freePort();
  const counting = countingTcp();
  const client = createClient(TestService, { address: `127.0.0.1:${port}`, transports: { tcp: counting.transport }, backoff: { initialMs: 10, maxMs: 50 } });
  const started = performance.now();
  const timedOut = await rpcFailure(client.echo({ text: "nobody" }, { timeoutMs: 300, waitForReady: true }));
  const elapsed = performance.now() - started;
  assert.equal([timedOut.layer, timedOut.code, timedOut.processed], ["transport", "TIMEOUT", "no"]);
  assert.ok(elapsed >= 290 && elapsed < 2000, `failed after ${elapsed.toFixed(0)} ms, at its deadline`);
  assert.ok(counting.attempts() >= 2, "it tried again while it waited");
  const call = client.echo({ text: "waited" }, { timeoutMs: 10_000, waitForReady: true });
  const seen = counting.attempts();
  await waitUntil(() => counting.attempts() > seen);
  const { impl } = testService();
  const server = createServer().addService(TestService, impl);
  await server.listen(`127.0.0.1:${port}`);
  assert.is((await call).text, "waited");
  await client.$close();
  await server.close();
});

test("[HELLO-9] createClient refuses a malformed address at once, naming the problem", () => {
  const bad: Array<[string, RegExp]> = [
    ["localhost", /expected host:port/],
    ["127.0.0.1", /expected host:port/],
    ["127.0.0.1:", /expected host:port/],
    ["127.0.0.1:abc", /expected host:port/],
    ["localhost:abc", /no transport for "localhost:".*numeric port/],
    ["127.0.0.1:65536", /port above 65535/],
    ["127.0.0.1:0", /port 0/],
    ["unix:", /empty Unix socket path/],
    ["", /empty/],
    ["carrier-pigeon:coop-7", /no transport for "carrier-pigeon:"/],
  ];
  for (const [address, problem] of bad) {
    let thrown: unknown;
    try {
      createClient(TestService, { address });
    } catch (error) {
      thrown = error;
    }
    assert.instance(thrown, TypeError, `"${address}" was accepted`);
    assert.match((thrown as Error).message, problem, `"${address}"`);
  }
  for (const address of ["localhost:7400", "[::1]:7400", "tcp:example.com:1", "unix:/tmp/strata.sock", "memory:anything"]) {
    createClient(TestService, { address }); // opens nothing until the first call
  }
  // The core has no TCP transport: it says so at once, too.
  assert.throws(() => createCoreClient(TestService, { address: "127.0.0.1:7400" }), /no transport for "tcp:"/);
});

test("[HELLO-9] a memory address nothing listens on fails at once, like a refused connect", async () => {
  const client = createClient(TestService, { address: "memory:nobody-listens-here" });
  const error = await rpcFailure(client.echo({ text: "x" }, { timeoutMs: 10_000 }));
  assert.equal([error.code, error.processed], ["CONNECT_FAILED", "no"]);
  await client.$close();
});

test("[HELLO-1] the client's HELLO names this package and its version in agent", async () => {
  const server = await startScriptedServer((connection, frame) => {
    if (frame.header.type === FrameType.REQUEST) connection.send({ type: FrameType.RESPONSE, requestId: frame.header.requestId });
  });
  const client = createClient(TestService, { address: server.address });
  try {
    await client.echo({});
    assert.is(decodeHello(server.hellos[0]!).agent, `strata-ts/${VERSION}`);
  } finally {
    await client.$close();
    await server.close();
  }
});

test.run();
