// Typed error details end to end: a handler throws an application error
// built with errorDetail(), the caller reads it back with findDetails(),
// both from the RpcError and from a $result. Cites [STATUS-8] [STATUS-9].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { RecordRequestSchema, WaitRequestSchema } from "./gen/stratatest/v1/testing_pb.ts";
import { ApplicationCode, createClient, createServer, errorDetail, ErrorDetailSchema, ErrorDetailsSchema, findDetails, RpcError } from "../src/node.ts";
import { TestService, testService } from "./support/test-service.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { checkProperty } from "./support/property.ts";

const test = suite("error details");

test("[STATUS-9] details built with errorDetail() reach the caller, and findDetails() returns those of one type, in order", async () => {
  const { impl } = testService();
  const server = createServer().addService(TestService, {
    ...impl,
    echo: () => {
      throw RpcError.application(ApplicationCode.FAILED_PRECONDITION, "account closed", [
        errorDetail(WaitRequestSchema, { ms: 7, tag: "first" }),
        errorDetail(RecordRequestSchema, { tag: "other type" }),
        errorDetail(WaitRequestSchema, { ms: 8, tag: "second" }),
        // Claims a type, but its bytes are not one: left out, not thrown.
        create(ErrorDetailSchema, { type: WaitRequestSchema.typeName, value: Uint8Array.of(0x08, 0xff) }),
      ]);
    },
  });
  const client = createClient(TestService, { address: await server.listen("127.0.0.1:0") });
  const error = await rpcFailure(client.echo({ text: "x" }));
  assert.equal([error.layer, error.code, error.processed], ["application", 9, "yes"]);
  assert.is(error.details.length, 4, "every detail arrives, also the ones the caller cannot read");
  assert.equal(findDetails(error, WaitRequestSchema).map((d) => [d.ms, d.tag]), [[7, "first"], [8, "second"]]);
  assert.equal(findDetails(error, RecordRequestSchema).map((d) => d.tag), ["other type"]);
  assert.equal(findDetails(error, ErrorDetailsSchema), [], "no detail of that type");
  const result = await client.$result.echo({ text: "x" });
  assert.equal(findDetails(result.application, WaitRequestSchema).map((d) => d.tag), ["first", "second"]);
  // `ok` narrows the result (a type check as much as a test): the error without `!`, the value likewise.
  if (result.ok) assert.unreachable("the call failed");
  else {
    const failure: RpcError = result.error;
    assert.is(failure.code, 9);
  }
  assert.equal(findDetails(undefined, WaitRequestSchema), []);
  await client.$close();
  await server.close();
});

test("errorDetail() names the schema's type and encodes the value as toBinary does; findDetails() decodes it back", () => {
  checkProperty(
    fc.property(fc.nat({ max: 0xffffffff }), fc.string(), (ms, tag) => {
      const detail = errorDetail(WaitRequestSchema, { ms, tag });
      assert.is(detail.type, "stratatest.v1.WaitRequest");
      assert.equal(detail.value, toBinary(WaitRequestSchema, create(WaitRequestSchema, { ms, tag })));
      const [found] = findDetails({ details: [detail] }, WaitRequestSchema);
      assert.equal([found?.ms, found?.tag], [ms, tag]);
    }),
  );
});

test("the canonical application codes are distinct, non-zero, and 5 is NOT_FOUND as the reflection service uses it", () => {
  const codes = Object.values(ApplicationCode);
  assert.is(new Set(codes).size, codes.length);
  assert.ok(codes.every((code) => Number.isInteger(code) && code > 0));
  assert.is(ApplicationCode.NOT_FOUND, 5);
  // Each one can be thrown as it is.
  for (const code of codes) assert.is(RpcError.application(code, "m").code, code);
});

test.run();
