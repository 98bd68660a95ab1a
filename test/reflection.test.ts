// The built-in ReflectionService on a real server, and fetchServiceRegistry,
// which builds a registry from its answers alone. Cites [EXT-10] [EXT-11]
// [EXT-12] [EXT-13] [EXT-14].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { create, createFileRegistry, toBinary } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { DescribeSymbolResponseSchema, ReflectionErrorCode, ReflectionService } from "../src/gen/strata/reflection/v1/reflection_pb.ts";
import { AdminService } from "../src/gen/strata/admin/v1/admin_pb.ts";
import { bearerAuth, createClient, createContextKey, createServer, fetchServiceRegistry, RpcError, type Server } from "../src/node.ts";
import { TestService, testService } from "./support/test-service.ts";

const test = suite("reflection");

const REFLECTION = "strata.reflection.v1.ReflectionService";
const RAW = "acme.raw.v1.Gateway";

/** A server on 127.0.0.1 with TestService, a raw service and, unless told otherwise, ReflectionService. */
async function start(exposeReflectionService = true): Promise<{ server: Server; address: string }> {
  const server = createServer({ exposeReflectionService, keyedDispatch: false })
    .addService(TestService, testService().impl)
    .addRawService(RAW, { Forward: (body) => body });
  return { server, address: await server.listen("127.0.0.1:0") };
}

/** The RpcError `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<RpcError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(RpcError.is(error), `expected an RpcError, got ${String(error)}`);
  return error;
}

test("[EXT-11] ListServices names every service once, built-ins included; a raw service is offered but not described", async () => {
  const { server, address } = await start();
  const reflection = createClient(ReflectionService, { address });
  const { services } = await reflection.listServices({});
  const byName = new Map(services.map((s) => [s.name, s.described]));
  assert.is(byName.size, services.length, "each name once");
  assert.equal(Object.fromEntries(byName), { [TestService.typeName]: true, [RAW]: false, [REFLECTION]: true });
  await reflection.$close();
  await server.close({ graceMs: 200 });
});

test("[EXT-12] fetchServiceRegistry builds a registry from the answers alone: TestService.Echo's types resolve and a call made with them works", async () => {
  const { server, address } = await start();
  const reflection = createClient(ReflectionService, { address });
  const registry = await fetchServiceRegistry(reflection);
  const service = registry.getService(TestService.typeName);
  assert.ok(service, "TestService in the registry");
  const echo = service.methods.find((m) => m.name === "Echo")!;
  assert.is(echo.input, registry.getMessage("stratatest.v1.EchoRequest"), "the input type resolves in the same registry");
  assert.equal(echo.input.fields.map((f) => f.name), ["text", "delay_ms", "app_code", "app_message", "throw_plain_error", "payload_size"]);
  assert.is(echo.output.typeName, "stratatest.v1.EchoResponse");
  assert.not.ok(registry.getService(RAW), "a raw service has no schema to give");
  // What a CLI does next: call a method with nothing but the fetched schema.
  const dynamic = createClient(service as unknown as GenService<GenServiceMethods>, { address });
  const reply = (await (dynamic as unknown as Record<string, (input: object) => Promise<{ text: string }>>)["echo"]!({ text: "from a fetched schema" }));
  assert.is(reply.text, "from a fetched schema");
  await dynamic.$close();
  await reflection.$close();
  await server.close({ graceMs: 200 });
});

test("[EXT-12] a method, a message and nested types answer their declaring file; ReflectionService's own answer is descriptor.proto, then reflection.proto", async () => {
  const { server, address } = await start();
  const reflection = createClient(ReflectionService, { address });
  for (const symbol of [`${TestService.typeName}.Wait`, "stratatest.v1.WaitResponse", TestService.typeName]) {
    const { file } = await reflection.describeSymbol({ symbol });
    assert.equal(file.map((f) => f.name), ["stratatest/v1/testing.proto"], symbol);
  }
  for (const symbol of ["google.protobuf.FieldDescriptorProto.Type", "google.protobuf.DescriptorProto.ExtensionRange"]) {
    const { file } = await reflection.describeSymbol({ symbol });
    assert.equal(file.map((f) => f.name), ["google/protobuf/descriptor.proto"], symbol);
  }
  const own = await reflection.describeSymbol({ symbol: REFLECTION });
  assert.equal(own.file.map((f) => f.name), ["google/protobuf/descriptor.proto", "strata/reflection/v1/reflection.proto"]);
  // The answer alone forms a registry, read in its order.
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: own.file }));
  const field = registry.getMessage("strata.reflection.v1.DescribeSymbolResponse")!.fields[0]!;
  assert.is(field.message?.typeName, "google.protobuf.FileDescriptorProto");
  // Within the baseline max_body_size, as section 16.2 says [EXT-14].
  const size = toBinary(DescribeSymbolResponseSchema, own).length;
  assert.ok(size < 65536, `${size} bytes`);
  await reflection.$close();
  await server.close({ graceMs: 200 });
});

test("[EXT-13] a symbol nothing describes is application error 5, processed: unknown, empty, a package, a missing method, a raw service", async () => {
  const { server, address } = await start();
  const reflection = createClient(ReflectionService, { address });
  for (const symbol of ["acme.nothing.v1.Nope", "", "stratatest.v1", `${TestService.typeName}.NoSuchMethod`, RAW, `.${TestService.typeName}`]) {
    const error = await failure(reflection.describeSymbol({ symbol }));
    assert.is(error.layer, "application", symbol);
    assert.is(error.code, ReflectionErrorCode.NOT_FOUND, symbol);
    assert.is(error.processed, "yes", symbol);
    assert.ok(error.rawMessage.includes(symbol), `the message names "${symbol}": ${error.rawMessage}`);
  }
  const long = "x".repeat(10_000);
  const error = await failure(reflection.describeSymbol({ symbol: long }));
  assert.ok(error.rawMessage.length < 300, "a long name is cut in the message");
  await reflection.$close();
  await server.close({ graceMs: 200 });
});

test("[EXT-11] a service added after listen is listed and described at the next call; the reflection service describes itself", async () => {
  const { server, address } = await start();
  const reflection = createClient(ReflectionService, { address });
  server.addBuiltinService(AdminService, {});
  const { services } = await reflection.listServices({});
  assert.ok(services.some((s) => s.name === AdminService.typeName && s.described));
  const registry = await fetchServiceRegistry(reflection);
  assert.ok(registry.getService(AdminService.typeName));
  assert.ok(registry.getService(REFLECTION), "the reflection service describes itself");
  await reflection.$close();
  await server.close({ graceMs: 200 });
});

test("[EXT-10] [SEC-5] off by default: ReflectionService is UNKNOWN_SERVICE, and fetchServiceRegistry rejects with it", async () => {
  const { server, address } = await start(false);
  const reflection = createClient(ReflectionService, { address });
  const error = await failure(fetchServiceRegistry(reflection));
  assert.is(error.code, "UNKNOWN_SERVICE");
  assert.is(error.processed, "no");
  assert.throws(() => server.addService(ReflectionService, {}), /reserved/);
  await reflection.$close();
  await server.close({ graceMs: 200 });
});

test("[EXT-14] reflection calls pass the interceptors like any other: a credential check refuses them UNAUTHENTICATED", async () => {
  const server = createServer({
    exposeReflectionService: true,
    interceptors: [bearerAuth({ identity: createContextKey<string | undefined>(undefined), verify: () => undefined, appliesTo: (request) => request.service === REFLECTION })],
  });
  const address = await server.listen("127.0.0.1:0");
  const reflection = createClient(ReflectionService, { address });
  const error = await failure(reflection.listServices({}));
  assert.is(error.code, "UNAUTHENTICATED");
  assert.is(error.processed, "no");
  await reflection.$close();
  await server.close({ graceMs: 200 });
});

test.run();
