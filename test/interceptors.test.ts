// Interceptors on both sides, bearer-token authentication, context values
// and the handler-failure log, over the in-memory transport (no socket is
// needed to see any of it). Cites [STATUS-13] [STATUS-6] [META-1] [SEC-2].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  bearerAuth,
  createClient,
  createContextKey,
  createServer,
  RpcError,
  type ClientInterceptor,
  type Logger,
  type ServerInterceptor,
  type ServerOptions,
} from "../src/node.ts";
import type { ClientOptions } from "../src/client/index.ts";
import { TestService, testService } from "./support/test-service.ts";

const test = suite("interceptors");
const utf8 = new TextEncoder();
const user = createContextKey<string | undefined>(undefined, { description: "user" });

/** A server with TestService on a fresh memory address, and a client of it; `stop` closes both. */
async function pair(serverOptions: ServerOptions = {}, clientOptions: Omit<ClientOptions, "address"> = {}) {
  const { impl, log } = testService();
  const server = createServer(serverOptions).addService(TestService, impl);
  const address = await server.listen("memory:");
  const client = createClient(TestService, { address, ...clientOptions });
  return { client, log, stop: async () => { await client.$close(); await server.close({ graceMs: 0 }); } };
}

/** The RpcError a call fails with; fails the test when it succeeds. */
async function failure(call: Promise<unknown>): Promise<RpcError> {
  try {
    await call;
  } catch (error) {
    if (RpcError.is(error)) return error;
    throw error;
  }
  throw new Error("the call succeeded");
}

/** A logger that keeps what it is told. */
function keepingLogger(): Logger & { events: Array<{ message: string; fields: Record<string, unknown> }> } {
  const events: Array<{ message: string; fields: Record<string, unknown> }> = [];
  return { events, error: (message, fields) => events.push({ message, fields: { ...fields } }) };
}

test("[STATUS-13] [STATUS-6] bearerAuth: no token or a wrong one is UNAUTHENTICATED, not processed, and the handler never runs; the right one runs with its identity", async () => {
  let seen: string | undefined;
  const auth = bearerAuth({ identity: user, verify: (token) => (token === "s3cret" ? "ada" : undefined) });
  const whoAmI: ServerInterceptor = (next) => async (request) => {
    const output = await next(request);
    seen = request.context.values.get(user);
    return output;
  };
  const { client, log, stop } = await pair({ interceptors: [auth, whoAmI] });
  for (const metadata of [undefined, { authorization: "Bearer wrong" }, { authorization: "Basic s3cret" }]) {
    const error = await failure(client.echo({ text: "refused" }, metadata === undefined ? {} : { metadata }));
    assert.ok(RpcError.is(error), "refused");
    assert.equal([error.layer, error.code, error.processed], ["dispatch", "UNAUTHENTICATED", "no"]);
    assert.not.ok(error.rawMessage.includes("wrong") || error.rawMessage.includes("s3cret"), "the token is not echoed [SEC-2]");
  }
  assert.equal(log.echoed, [], "no handler ran");
  const reply = await client.echo({ text: "in" }, { metadata: { authorization: "Bearer s3cret" } });
  assert.is(reply.text, "in");
  assert.is(seen, "ada");
  await stop();
});

test("[STATUS-13] an interceptor that throws synchronously (not async) refuses as well: UNAUTHENTICATED, not processed, handler not run", async () => {
  const strict: ServerInterceptor = (next) => (request) => {
    if (request.context.metadata.length === 0) throw new RpcError({ layer: "dispatch", code: "UNAUTHENTICATED", message: "no credentials" });
    return next(request);
  };
  const { client, log, stop } = await pair({ interceptors: [strict] });
  const error = await failure(client.echo({ text: "x" }));
  assert.equal([error.code, error.processed], ["UNAUTHENTICATED", "no"]);
  assert.equal(log.echoed, []);
  await stop();
});

test("client interceptors add metadata and see the decoded response; server interceptors see the decoded request and add response metadata", async () => {
  const requests: unknown[] = [];
  const server: ServerInterceptor = (next) => async (request) => {
    requests.push(request.message);
    request.context.responseMetadata.push({ key: "x-served-by", value: utf8.encode("interceptor") });
    return next(request);
  };
  const seen: Array<{ text: unknown; metadataKeys: string[] }> = [];
  const client: ClientInterceptor = (next) => async (request) => {
    request.metadata.push({ key: "x-trace", value: utf8.encode("t-1") });
    const response = await next(request);
    if (request.method === "Echo") seen.push({ text: (response.message as { text: string }).text, metadataKeys: response.metadata.map((e) => e.key) });
    return response;
  };
  const { client: c, stop } = await pair({ interceptors: [server] }, { interceptors: [client] });
  const reply = await c.echo({ text: "hello" });
  assert.equal(reply.metadataKeys, ["x-trace"], "the handler saw the metadata the client interceptor added");
  assert.equal((requests[0] as { text: string }).text, "hello");
  assert.equal(seen[0], { text: "hello", metadataKeys: ["x-served-by"] });
  const result = await c.$result.echo({ text: "as result" });
  assert.ok(result.ok);
  assert.equal(result.metadata.map((e) => e.key), ["x-served-by"]);
  await c.$oneway.record({ tag: "oneway through interceptors" });
  const acked = await c.$acked.echo({ text: "acked" });
  assert.is((await acked.result).text, "acked");
  await stop();
});

test("interceptors short-circuit: a client one answers without sending, a server one answers in the handler's place", async () => {
  const cached: ClientInterceptor = (next) => async (request) => ((request.message as { text: string }).text === "cached" ? { message: { text: "from cache" }, metadata: [] } : next(request));
  const teapot: ServerInterceptor = (next) => async (request) => {
    if ((request.message as { text: string }).text === "refuse") throw RpcError.application(418, "short and stout");
    return next(request);
  };
  const { client, log, stop } = await pair({ interceptors: [teapot] }, { interceptors: [cached] });
  assert.is((await client.echo({ text: "cached" })).text, "from cache");
  const error = await failure(client.echo({ text: "refuse" }));
  assert.equal([error.layer, error.code, error.rawMessage], ["application", 418, "short and stout"]);
  assert.equal(log.echoed, [], "neither reached the handler");
  await stop();
});

test("a client interceptor that throws before sending fails the call as not processed", async () => {
  const broken: ClientInterceptor = () => async () => {
    throw new Error("no credentials at hand");
  };
  const { client, stop } = await pair({}, { interceptors: [broken] });
  const error = await failure(client.echo({ text: "x" }));
  assert.equal([error.layer, error.processed], ["transport", "no"]);
  assert.ok(error.message.includes("no credentials at hand"));
  await stop();
});

test("[SEC-2] a handler's unexpected error is logged with method, request id and peer, never metadata values; chosen statuses are not logged", async () => {
  const logger = keepingLogger();
  const { client, stop } = await pair({ logger });
  const error = await failure(client.echo({ text: "boom", throwPlainError: true }, { metadata: { secret: "do-not-log" } }));
  assert.is(error.code, "HANDLER_ERROR");
  await client.echo({ text: "chosen", appCode: 7, appMessage: "chosen" }).catch(() => undefined);
  assert.is(logger.events.length, 1, "one event, for the unexpected error only");
  const [event] = logger.events;
  assert.is(event!.fields["method"], "stratatest.v1.TestService/Echo");
  assert.is(typeof event!.fields["requestId"], "number");
  assert.ok(String(event!.fields["peer"]).startsWith("memory:"));
  assert.is((event!.fields["error"] as Error).message, "plain failure with a secret stack");
  assert.not.ok(JSON.stringify(event, (_k, v: unknown) => (v instanceof Error ? v.message : v)).includes("do-not-log"), "no metadata value in the log");
  await stop();
});

test("the handler context says which connection a call came on", async () => {
  let connection: unknown;
  const note: ServerInterceptor = (next) => async (request) => {
    connection = request.context.connection;
    return next(request);
  };
  const { client, stop } = await pair({ interceptors: [note] });
  await client.echo({ text: "who" });
  const info = connection as { peer: string; secure: boolean; remoteAddress?: string };
  assert.ok(info.peer.startsWith("memory:"));
  assert.is(info.secure, false);
  assert.is(info.remoteAddress, undefined);
  await stop();
});

test.run();
