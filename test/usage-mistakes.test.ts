// What a program gets wrong in its use of the API is said at once, by name,
// and never sent as garbage or answered as if it were meant: metadata values
// that are not bytes, handlers that are not functions or return no message,
// errors a handler cannot answer with, malformed addresses. Over the
// in-memory transport unless an address is the point. Cites [META-3]
// [META-6] [STATUS-11] [SEC-2] [TLS-4] [TLS-5].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { bearer, bearerAuth, createClient, createContextKey, createServer, RpcError, tlsTransport, TransportCode, webSocketTransport, type Logger, type ServerOptions } from "../src/node.ts";
import { TestService, testService } from "./support/test-service.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { runInNewContext } from "node:vm";

const test = suite("usage mistakes");

/** A logger that keeps what it is told. */
function keepingLogger(): Logger & { events: Array<{ message: string; error: unknown }> } {
  const events: Array<{ message: string; error: unknown }> = [];
  return { events, error: (message, fields) => events.push({ message, error: fields?.["error"] }) };
}

type Impl = ReturnType<typeof testService>["impl"];

/** A server with TestService (`override`'s handlers in place of its own), a client of it, and the server's log. */
async function pair(override: (impl: Impl) => Partial<Impl> = () => ({}), serverOptions: ServerOptions = {}) {
  const logger = keepingLogger();
  const { impl } = testService();
  const server = createServer({ logger, ...serverOptions }).addService(TestService, { ...impl, ...override(impl) });
  const address = await server.listen("memory:");
  const client = createClient(TestService, { address });
  return { client, logger, address, stop: async () => { await client.$close(); await server.close({ graceMs: 0 }); } };
}

test("[META-3] a request metadata value that is not bytes (a string, a number) fails the call INVALID_INPUT, not processed, naming the key; it is never sent as other bytes", async () => {
  const { client, logger, address, stop } = await pair();
  const stringInEntry = await rpcFailure(client.echo({ text: "a" }, { metadata: [{ key: "x-tenant", value: "acme" as unknown as Uint8Array }] }));
  const numberInRecord = await rpcFailure(client.echo({ text: "b" }, { metadata: { retries: 5 as unknown as string } }));
  for (const [error, key, what] of [[stringInEntry, "x-tenant", "a string"], [numberInRecord, "retries", "number"]] as const) {
    assert.equal([error.layer, error.code, error.processed], ["transport", TransportCode.INVALID_INPUT, "no"]);
    assert.match(error.rawMessage, `metadata "${key}": the value must be bytes (a Uint8Array), not ${what}`);
  }
  // An interceptor that pushes a string entry gets the same, and the record form still takes text.
  const pushing = createClient(TestService, {
    address,
    interceptors: [(next) => (request) => {
      request.metadata.push({ key: "authorization", value: "Bearer t" as unknown as Uint8Array });
      return next(request);
    }],
  });
  assert.is((await rpcFailure(pushing.echo({ text: "c" }))).code, TransportCode.INVALID_INPUT);
  await pushing.$close();
  assert.equal((await client.echo({ text: "d" }, { metadata: { "x-tenant": "acme" } })).metadataKeys, ["x-tenant"]);
  assert.is(logger.events.length, 0, "nothing reached the server to log");
  await stop();
});

test("[META-6] [STATUS-11] [SEC-2] response metadata a handler set that is not bytes is answered HANDLER_ERROR, and the log says which entry and why", async () => {
  const { client, logger, stop } = await pair((impl) => ({
    echo(request, context) {
      context.responseMetadata.push({ key: "x-served-by", value: "node-7" as unknown as Uint8Array });
      return impl.echo!(request, context);
    },
  }));
  const error = await rpcFailure(client.echo({ text: "a" }));
  assert.equal([error.layer, error.code, error.processed], ["dispatch", "HANDLER_ERROR", "maybe"]);
  assert.is(logger.events.length, 1);
  assert.match(logger.events[0]!.message, "stratatest.v1.TestService/Echo: its response could not be sent");
  assert.match(logger.events[0]!.message, `metadata "x-served-by": the value must be bytes (a Uint8Array), not a string`);
  await stop();
});

test("[STATUS-11] [SEC-2] a handler that throws an RpcError no handler can answer with (transport TIMEOUT from a call it made, dispatch UNAUTHENTICATED) is answered HANDLER_ERROR and logged; chosen statuses are not", async () => {
  let thrown: unknown;
  const { client, logger, stop } = await pair((impl) => ({
    echo(request, context) {
      if (thrown !== undefined) throw thrown;
      return impl.echo!(request, context);
    },
  }));
  const unanswerable = [RpcError.transport(TransportCode.TIMEOUT, "the downstream call timed out", "maybe"), new RpcError({ layer: "dispatch", code: "UNAUTHENTICATED", message: "no", processed: "no" })];
  for (const error of unanswerable) {
    thrown = error;
    const answered = await rpcFailure(client.echo({ text: "x" }));
    assert.equal([answered.layer, answered.code, answered.processed], ["dispatch", "HANDLER_ERROR", "maybe"], "a handler that ran cannot answer not processed");
  }
  assert.equal(logger.events.map((e) => e.error), unanswerable, "each logged with the error it threw");
  assert.match(logger.events[0]!.message, "it threw a transport error (TIMEOUT), which is not a status a handler answers with");
  for (const chosen of [RpcError.application(9, "out of stock"), new RpcError({ layer: "dispatch", code: "DEADLINE_EXCEEDED", message: "gave up" })]) {
    thrown = chosen;
    await rpcFailure(client.echo({ text: "y" }));
  }
  assert.is(logger.events.length, unanswerable.length, "no line for a chosen status");
  await stop();
});

test("[STATUS-11] a handler that returns a string or a number instead of a message is answered HANDLER_ERROR and logged; one returning nothing answers the empty message", async () => {
  let output: unknown;
  const { client, logger, stop } = await pair(() => ({ record: () => output as Record<string, never> }));
  for (const wrong of ["hello", 42]) {
    output = wrong;
    const error = await rpcFailure(client.record({ tag: "t" }));
    assert.is(error.code, "HANDLER_ERROR");
  }
  assert.equal(logger.events.map((e) => (e.error as Error).message), ["a stratatest.v1.RecordResponse must be an object, not string", "a stratatest.v1.RecordResponse must be an object, not number"]);
  output = undefined;
  await client.record({ tag: "t" });
  // The client's side of the same mistake: a request that is not an object is refused before it is sent.
  const refused = await rpcFailure(client.echo("hello" as never));
  assert.equal([refused.code, refused.processed], [TransportCode.INVALID_INPUT, "no"]);
  await stop();
});

test("addService and addRawService refuse a handler that is not a function, naming the method", () => {
  const server = createServer();
  assert.throws(() => server.addService(TestService, { echo: "not a function" as never }), /the handler of stratatest\.v1\.TestService\.Echo \(echo\) must be a function, not string/);
  assert.throws(() => server.addRawService("acme.Raw", { Get: {} as never }), /the raw handler acme\.Raw\/Get must be a function, not object/);
});

test("bearer(token) is the entry bearerAuth accepts; an empty token is a TypeError", async () => {
  const identity = createContextKey<string | undefined>(undefined);
  const { address, stop } = await pair(() => ({}), { interceptors: [bearerAuth({ identity, verify: (token) => (token === "s3cret" ? "ada" : undefined) })] });
  const client = createClient(TestService, { address, interceptors: [(next) => (request) => { request.metadata.push(bearer("s3cret")); return next(request); }] });
  assert.is((await client.echo({ text: "in" })).text, "in");
  await client.$close();
  assert.throws(() => bearer(""), TypeError);
  await stop();
});

test("a tcp:// address is TCP on both sides; one with a space, a slash or a bracket missing is a TypeError at createClient and at listen", async () => {
  const server = createServer().addService(TestService, testService().impl);
  const address = await server.listen("tcp://127.0.0.1:0");
  const client = createClient(TestService, { address: `tcp://${address}` });
  assert.is((await client.echo({ text: "over tcp://" })).text, "over tcp://");
  await client.$close();
  for (const bad of [` ${address}`, `host/x:${address.split(":")[1]}`, "[::1:80", "tcp://a b:1"]) {
    assert.throws(() => createClient(TestService, { address: bad }), (error: Error) => error instanceof TypeError && error.message.includes(`invalid address "${bad}"`), bad);
    await server.listen(bad).then(
      () => assert.unreachable(`listened on ${JSON.stringify(bad)}`),
      (error: Error) => assert.instance(error, TypeError),
    );
  }
  await server.close();
});

test("[TLS-4] [TLS-5] a certificate, key or CA given as a path or as bytes without a PEM block is a TypeError when the transport is made, naming the option", () => {
  assert.throws(() => tlsTransport({ cert: "server.pem", key: "server.key" }), /tlsTransport: cert is not PEM text .*readFileSync\("server\.pem"\)/);
  assert.throws(() => tlsTransport({ ca: ["-----BEGIN CERTIFICATE-----\n", "ca.pem"] }), /tlsTransport: ca\[1\] is not PEM text/);
  assert.throws(() => webSocketTransport({ clientTls: { ca: Uint8Array.of(0x30, 0x82) } }), /webSocketTransport: clientTls\.ca holds no PEM block/);
  assert.throws(() => webSocketTransport({ cert: "c.pem", key: "k.pem" }), /webSocketTransport: cert is not PEM text/);
});

test("[META-3] bytes made in another realm (a node:vm context, a test runner's sandbox) are bytes: sent as metadata values and taken as PEM bytes", async () => {
  const foreign = runInNewContext("new Uint8Array([104, 105])") as Uint8Array;
  assert.not.ok(foreign instanceof Uint8Array, "the test needs bytes instanceof does not know");
  const { client, stop } = await pair();
  assert.equal((await client.echo({ text: "a" }, { metadata: [{ key: "x-token", value: foreign }] })).metadataKeys, ["x-token"]);
  await stop();
  assert.throws(() => tlsTransport({ ca: runInNewContext("new Uint8Array([1])") as Uint8Array }), /holds no PEM block/, "checked as bytes, not refused as an object");
});

test.run();
