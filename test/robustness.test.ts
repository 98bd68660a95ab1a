// Edge cases a review found in the server and client: deadlines and
// cancellation while connecting, closing with queued calls, slots freed by
// CANCEL, declared limits below the baseline, bad handler output, small
// high-water marks, close during listen, and the client's GOAWAY during the
// handshake.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import * as net from "node:net";
import {
  createClient,
  createFrameDecoder,
  createServer,
  decodeGoaway,
  encodeFrame,
  encodePreface,
  FrameType,
  GoawayCode,
  PREFACE_SIZE,
  RpcError,
  type Frame,
} from "../src/node.ts";
import { TestService, testService } from "./support/test-service.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { waitUntil } from "./support/wait.ts";

const test = suite("robustness");

/** A TCP server that accepts and then says nothing (a server stuck before its HELLO). */
async function silentServer(): Promise<{ address: string; received: () => number; close(): Promise<void> }> {
  let bytes = 0;
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on("data", (chunk: Buffer) => (bytes += chunk.length));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    received: () => bytes,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

test("[DEADLINE-6] [CANCEL-1] the deadline and the signal also bound the wait for a connection; nothing is sent", async () => {
  const server = await silentServer();
  const client = createClient(TestService, { address: server.address, connectTimeoutMs: 5000 });
  const started = performance.now();
  const timedOut = await rpcFailure(client.echo({ text: "x" }, { timeoutMs: 100 }));
  assert.is(timedOut.code, "TIMEOUT");
  assert.is(timedOut.processed, "no");
  assert.ok(performance.now() - started < 1000, "failed at its deadline, not at the connect timeout");
  const controller = new AbortController();
  const call = client.echo({ text: "y" }, { signal: controller.signal, timeoutMs: 10_000 });
  setTimeout(() => controller.abort(), 50);
  const cancelled = await rpcFailure(call);
  assert.is(cancelled.code, "CANCELLED");
  assert.is(cancelled.processed, "no");
  client.$close();
  await server.close();
});

test("[DRAIN-9] [LIMIT-5] $close() fails queued calls at once (not processed) and closes after the pending one", async () => {
  const { impl } = testService();
  const server = createServer({ maxConcurrentRequests: 1 }).addService(TestService, impl);
  const client = createClient(TestService, { address: await server.listen("127.0.0.1:0") });
  const running = client.echo({ text: "a", delayMs: 150 });
  await new Promise((resolve) => setTimeout(resolve, 20)); // let "a" be written before "b" queues
  const queued = client.echo({ text: "b" }, { timeoutMs: 5000 });
  client.$close();
  const error = await rpcFailure(queued);
  assert.is(error.processed, "no");
  assert.is((await running).text, "a");
  await waitUntil(() => server.stats().connections.current === 0);
  await server.close({ graceMs: 100 });
});

test("[LIMIT-5] a cancelled or timed-out call frees its slot at once: the next queued call is not OVERLOADED", async () => {
  const { impl } = testService();
  const server = createServer({ maxConcurrentRequests: 1 }).addService(TestService, impl);
  const client = createClient(TestService, { address: await server.listen("127.0.0.1:0") });
  const slow = client.wait({ ms: 1000, tag: "slow" }, { timeoutMs: 100 });
  const next = client.echo({ text: "next" });
  assert.is((await rpcFailure(slow)).code, "TIMEOUT");
  assert.is((await next).text, "next");
  client.$close();
  await server.close({ graceMs: 100 });
});

test("[HELLO-6] limits configured below the baseline are declared and enforced as the baseline", async () => {
  const { impl } = testService();
  const server = createServer({ limits: { maxHeaderSize: 1000, maxBodySize: 0 } }).addService(TestService, impl);
  const client = createClient(TestService, { address: await server.listen("127.0.0.1:0"), limits: { maxBodySize: 1000 } });
  const response = await client.echo({ text: "t", payloadSize: 5000 }, { metadata: { big: "x".repeat(2000) } });
  assert.is(response.payload.length, 5000);
  assert.throws(() => createServer({ limits: { maxBodySize: -1 } }), /limits.maxBodySize/);
  client.$close();
  await server.close({ graceMs: 100 });
});

test("[STATUS-11] [META-6] [STATUS-8] bad handler output still gets one answer, HANDLER_ERROR, and the connection lives on", async () => {
  const server = createServer()
    .addService(TestService, {
      echo: (request, context) => {
        if (request.text === "bad-metadata") context.responseMetadata.push({ key: "Not Valid!", value: new Uint8Array(0) });
        if (request.text === "code-0") throw new RpcError({ layer: "application", code: 0, message: "zero" });
        if (request.text === "code-negative") throw new RpcError({ layer: "application", code: -1, message: "negative" });
        if (request.text === "bad-details") throw RpcError.application(3, "details", [{ $typeName: "strata.v1.ErrorDetail", type: "x", value: "not bytes" as never }]);
        if (request.text === "bad-field") return { remainingMs: -1 };
        return { text: request.text };
      },
    })
    .addRawService("acme.raw.v1.Raw", { Text: () => "a string" as never });
  const address = await server.listen("127.0.0.1:0");
  const client = createClient(TestService, { address });
  for (const text of ["bad-metadata", "code-0", "code-negative", "bad-field"]) {
    const error = await rpcFailure(client.echo({ text }));
    assert.is(error.code, "HANDLER_ERROR", text);
  }
  const details = await rpcFailure(client.echo({ text: "bad-details" }));
  assert.is(details.code, 3, "the application status survives details that do not encode");
  assert.is((await client.echo({ text: "still fine" })).text, "still fine");
  assert.is(server.stats().connections.accepted, 1, "one connection served all of them");
  client.$close();
  await server.close({ graceMs: 100 });
});

test("[SEC-1] a high-water mark below the socket's own still resumes reading", async () => {
  const { impl } = testService();
  const server = createServer({ highWaterMark: 1024 }).addService(TestService, impl);
  const client = createClient(TestService, { address: await server.listen("127.0.0.1:0"), timeoutMs: 2000 });
  for (let i = 0; i < 5; i++) assert.is((await client.echo({ text: `${i}`, payloadSize: 20_000 })).text, `${i}`);
  client.$close();
  await server.close({ graceMs: 100 });
});

test("[DRAIN-9] await client.$close() resolves once the pending call is answered and the connection is closed", async () => {
  const { impl } = testService();
  const server = createServer().addService(TestService, impl);
  const client = createClient(TestService, { address: await server.listen("127.0.0.1:0") });
  const pending = client.echo({ text: "last", delayMs: 100 });
  await waitUntil(() => server.stats().requests.inFlight === 1);
  await client.$close();
  assert.is((await pending).text, "last");
  await waitUntil(() => server.stats().connections.current === 0);
  const after = await rpcFailure(client.echo({ text: "after" }));
  assert.is(after.code, "UNAVAILABLE");
  assert.is(after.processed, "no");
  await server.close({ graceMs: 100 });
});

test("unix: socket paths work end to end, and the socket file is removed on close", async () => {
  const { existsSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const path = `${tmpdir()}/strata-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}.sock`;
  const { impl } = testService();
  const server = createServer().addService(TestService, impl);
  assert.is(await server.listen(`unix:${path}`), `unix:${path}`);
  const client = createClient(TestService, { address: `unix:${path}` });
  assert.is((await client.echo({ text: "over a unix socket" })).text, "over a unix socket");
  await client.$close();
  await server.close({ graceMs: 100 });
  assert.not.ok(existsSync(path), "socket file removed");
});

test("close() during listen() leaves no port bound", async () => {
  const server = createServer();
  const listening = server.listen("127.0.0.1:0");
  await server.close();
  const error = await listening.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof Error);
});

test("[FRAME-14] [HELLO-2] a connection error in the server's first frame is answered with a GOAWAY", async () => {
  const fromClient: Frame[] = [];
  let clientClosed = false;
  const server = net.createServer((socket) => {
    let seen = 0;
    const decoder = createFrameDecoder({ onFrame: (f) => fromClient.push({ header: f.header, body: f.body.slice() }) });
    socket.on("data", (chunk: Buffer) => {
      let rest: Uint8Array = chunk;
      if (seen < PREFACE_SIZE) {
        const take = Math.min(PREFACE_SIZE - seen, rest.length);
        seen += take;
        rest = rest.subarray(take);
        if (seen === PREFACE_SIZE) {
          socket.write(encodePreface());
          socket.write(encodeFrame({ type: FrameType.PING })); // not a HELLO
        }
      }
      if (rest.length > 0) decoder.push(rest);
    });
    socket.on("end", () => (clientClosed = true));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = createClient(TestService, { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, timeoutMs: 1000 });
  const error = await rpcFailure(client.echo({ text: "x" }));
  assert.is(error.code, "PROTOCOL_ERROR");
  assert.is(error.processed, "no");
  await waitUntil(() => clientClosed);
  const goaway = fromClient.find((f) => f.header.type === FrameType.GOAWAY);
  assert.ok(goaway, `frames from the client: ${fromClient.map((f) => f.header.type).join(",")}`);
  const info = decodeGoaway(goaway.body);
  assert.is(info.code, GoawayCode.PROTOCOL_ERROR);
  assert.ok(info.message.startsWith("[HELLO-2]"), info.message);
  assert.not.ok(fromClient.some((f) => f.header.type === FrameType.REQUEST), "no request was written [HELLO-3]");
  client.$close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});


test("[SEC-2] the server logs nothing of a request's metadata, even when its handler fails", async () => {
  const printed: string[] = [];
  const methods = ["log", "info", "warn", "error", "debug"] as const;
  const originals = methods.map((m) => console[m]);
  for (const m of methods) console[m] = (...args: unknown[]) => void printed.push(args.map(String).join(" "));
  try {
    const server = createServer().addService(TestService, testService().impl);
    const address = await server.listen("127.0.0.1:0");
    const client = createClient(TestService, { address });
    const metadata = { authorization: "Bearer secret-token-123" };
    await client.echo({ text: "ok" }, { metadata });
    await rpcFailure(client.echo({ throwPlainError: true }, { metadata }));
    await client.$close();
    await server.close({ graceMs: 200 });
  } finally {
    methods.forEach((m, i) => (console[m] = originals[i]!));
  }
  assert.not.ok(printed.some((line) => line.includes("secret-token-123")), printed.join("\n"));
});

test.run();
