// The body encoder writes exactly the bytes protobuf-es writes, for every
// scalar type, repeated fields packed or not, nested and recursive messages,
// oneofs, optional fields and unknown fields, whether given an init shape or
// a message; types it does not handle itself (maps, proto2) and values of
// an unexpected type go to protobuf-es, with its result or its error.
// Cites [FRAME-1] (the body is the message's protobuf encoding).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { encodeMessage } from "../src/wire/message-encoder.ts";
import { BenchEchoRequestSchema, EchoRequestSchema } from "./gen/stratatest/v1/testing_pb.ts";
import { checkProperty } from "./support/property.ts";
import { Everything, everything, HasMapChild, WithMap } from "./support/everything-schema.ts";

const test = suite("message encoder");

function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(Array.from(actual), Array.from(expected), what);
}

function reference(schema: DescMessage, value: object): Uint8Array {
  return toBinary(schema, create(schema, value as MessageInitShape<DescMessage>));
}

test("[FRAME-1] an init shape encodes to the bytes protobuf-es writes", () =>
  checkProperty(
    fc.property(everything, (init) => {
      sameBytes(encodeMessage(Everything, init), reference(Everything, init), "init shape");
    }),
    { numRuns: 150 },
  ));

test("[FRAME-1] a message (with unknown fields) encodes to the bytes protobuf-es writes, and decodes back", () =>
  checkProperty(
    fc.property(everything, fc.uint8Array({ maxLength: 20 }), (init, unknownBytes) => {
      const message = create(Everything, init as MessageInitShape<DescMessage>);
      // A length-delimited unknown field 9000 and a varint unknown field 9001.
      (message as { $unknown?: unknown }).$unknown = [
        { no: 9000, wireType: 2, data: new Uint8Array([unknownBytes.length, ...unknownBytes]) },
        { no: 9001, wireType: 0, data: new Uint8Array([0x96, 0x01]) },
      ];
      const bytes = encodeMessage(Everything, message);
      sameBytes(bytes, toBinary(Everything, message), "message");
      sameBytes(toBinary(Everything, fromBinary(Everything, bytes)), bytes, "decoded and encoded again");
    }),
    { numRuns: 100 },
  ));

test("types it leaves to protobuf-es (a map, a map in a child) still encode the same", () =>
  checkProperty(
    fc.property(fc.dictionary(fc.string(), fc.integer(), { maxKeys: 5 }), everything, (counts, child) => {
      const withMap = { counts, child };
      sameBytes(encodeMessage(WithMap, withMap), reference(WithMap, withMap), "map");
      sameBytes(encodeMessage(HasMapChild, { inner: withMap }), reference(HasMapChild, { inner: withMap }), "map in a child");
    }),
    { numRuns: 100 },
  ));

test("values of another type: protobuf-es's result when it accepts them, its error when it does not", () => {
  const cases: Array<Record<string, unknown>> = [
    { sInt32: "12" },
    { sInt32: 1.5 },
    { sInt32: 2 ** 31 },
    { sUint32: -1 },
    { sInt64: 12 },
    { sInt64: "-12" },
    { sUint64: -1n },
    { sFloat: 1e39 },
    { sFloat: "NaN" },
    { sBool: 1 },
    { sString: 5 },
    { sBytes: "not bytes" },
    { sBytes: [1, 2, 3] },
    { rInt32: [1, "2", 3] },
    { child: { $typeName: "encodertest.WithMap" } },
    { choice: { case: "choiceNumber", value: undefined } },
    { color: 2 ** 40 },
    // Unknown fields on an init shape: create() drops them, at the top and nested.
    { sInt32: 1, $unknown: [{ no: 99, wireType: 0, data: Uint8Array.of(5) }] },
    { child: { sInt32: 2, $unknown: [{ no: 99, wireType: 0, data: Uint8Array.of(5) }] } },
    // Arrays where a message goes.
    { child: [] },
    { children: [[]] },
    // A message of the type (its $typeName) with fields missing, or with an init shape nested in it.
    { $typeName: "encodertest.Everything", sInt32: 3 },
    { ...create(Everything), child: { sInt32: 4 } },
    { ...create(Everything), choice: undefined },
    { ...create(Everything), rInt32: undefined },
    // A message with malformed unknown fields.
    { ...create(Everything), $unknown: [{ no: 0, wireType: 0, data: Uint8Array.of(1) }] },
    { ...create(Everything), $unknown: [{ no: 5, wireType: 2, data: "x" }] },
  ];
  for (const value of cases) {
    let expected: Uint8Array | Error;
    try {
      expected = reference(Everything, value);
    } catch (error) {
      expected = error as Error;
    }
    let actual: Uint8Array | Error;
    try {
      actual = encodeMessage(Everything, value);
    } catch (error) {
      actual = error as Error;
    }
    const label = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
    if (expected instanceof Error) {
      assert.instance(actual, Error, `${label}: protobuf-es throws, so must the encoder`);
      assert.is((actual as Error).message, expected.message, label);
    } else {
      assert.ok(actual instanceof Uint8Array, `${label}: protobuf-es encodes it, so must the encoder (${(actual as Error).message})`);
      sameBytes(actual as Uint8Array, expected, label);
    }
  }
});

test("a getter that encodes a message while one is being encoded: both come out right", () => {
  const inner = { sString: "inner", sInt32: 7 };
  let innerBytes: Uint8Array | undefined;
  const outer = {
    sInt64: 5n,
    get sString() {
      innerBytes = encodeMessage(Everything, inner);
      return "outer";
    },
  };
  sameBytes(encodeMessage(Everything, outer), reference(Everything, { sInt64: 5n, sString: "outer" }), "outer");
  sameBytes(innerBytes!, reference(Everything, inner), "inner");
});

test("a value that is not an object encodes as the empty message, as create() makes it", () => {
  for (const value of [undefined, null]) sameBytes(encodeMessage(Everything, value), new Uint8Array(0), String(value));
});

test("the project's own messages: the bench request and the echo request", () => {
  const payload = new Uint8Array(64).fill(7);
  sameBytes(encodeMessage(BenchEchoRequestSchema, { payload }), reference(BenchEchoRequestSchema, { payload }), "BenchEchoRequest");
  sameBytes(encodeMessage(BenchEchoRequestSchema, {}), new Uint8Array(0), "empty");
  const echo = { text: "h\u00e9llo", delayMs: 42, throwPlainError: true } as Record<string, unknown>;
  sameBytes(encodeMessage(EchoRequestSchema, echo), reference(EchoRequestSchema, echo), "EchoRequest");
});

test.run();
