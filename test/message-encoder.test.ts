// The body encoder writes exactly the bytes protobuf-es writes, for every
// scalar type, repeated fields packed or not, nested and recursive messages,
// oneofs, optional fields and unknown fields, whether given an init shape or
// a message; types it does not handle itself (maps, proto2) and values of
// an unexpected type go to protobuf-es, with its result or its error.
// Cites [FRAME-1] (the body is the message's protobuf encoding).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label as Label, FieldDescriptorProto_Type as Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { encodeMessage } from "../src/wire/message-encoder.ts";
import { BenchEchoRequestSchema, EchoRequestSchema } from "../src/gen/strata/testing/v1/testing_pb.ts";
import { checkProperty } from "./support/property.ts";

const test = suite("message encoder");

/** Every scalar type with a generator of valid values. */
const SCALARS: Array<{ name: string; type: Type; value: fc.Arbitrary<unknown> }> = [
  { name: "double", type: Type.DOUBLE, value: fc.double() },
  { name: "float", type: Type.FLOAT, value: fc.float() },
  { name: "int64", type: Type.INT64, value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) },
  { name: "uint64", type: Type.UINT64, value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
  { name: "int32", type: Type.INT32, value: fc.integer() },
  { name: "fixed64", type: Type.FIXED64, value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
  { name: "fixed32", type: Type.FIXED32, value: fc.integer({ min: 0, max: 0xffffffff }) },
  { name: "bool", type: Type.BOOL, value: fc.boolean() },
  {
    name: "string",
    type: Type.STRING,
    value: fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom("", "\ud800", "a\udc00b", "\u{1f600}", "\u00e9\u4e16")),
  },
  { name: "bytes", type: Type.BYTES, value: fc.uint8Array({ maxLength: 300 }).map((bytes) => bytes.subarray(bytes.length > 2 ? 1 : 0)) },
  { name: "uint32", type: Type.UINT32, value: fc.integer({ min: 0, max: 0xffffffff }) },
  { name: "sfixed32", type: Type.SFIXED32, value: fc.integer() },
  { name: "sfixed64", type: Type.SFIXED64, value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) },
  { name: "sint32", type: Type.SINT32, value: fc.integer() },
  { name: "sint64", type: Type.SINT64, value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) },
];

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "encoder_test.proto",
    package: "encodertest",
    syntax: "proto3",
    enumType: [{ name: "Color", value: [{ name: "COLOR_UNSPECIFIED", number: 0 }, { name: "COLOR_RED", number: 1 }] }],
    messageType: [
      {
        name: "Everything",
        field: [
          ...SCALARS.flatMap(({ name, type }, i) => [
            { name: `s_${name}`, number: i + 1, type, label: Label.OPTIONAL },
            { name: `r_${name}`, number: i + 100, type, label: Label.REPEATED },
            // Unpacked repeated scalars; strings and bytes are never packed.
            { name: `u_${name}`, number: i + 200, type, label: Label.REPEATED, options: { packed: false } },
          ]),
          { name: "color", number: 50, type: Type.ENUM, typeName: ".encodertest.Color", label: Label.OPTIONAL },
          { name: "colors", number: 51, type: Type.ENUM, typeName: ".encodertest.Color", label: Label.REPEATED },
          { name: "child", number: 52, type: Type.MESSAGE, typeName: ".encodertest.Everything", label: Label.OPTIONAL },
          { name: "children", number: 53, type: Type.MESSAGE, typeName: ".encodertest.Everything", label: Label.REPEATED },
          { name: "choice_text", number: 60, type: Type.STRING, label: Label.OPTIONAL, oneofIndex: 0 },
          { name: "choice_number", number: 61, type: Type.INT32, label: Label.OPTIONAL, oneofIndex: 0 },
          { name: "choice_child", number: 62, type: Type.MESSAGE, typeName: ".encodertest.Everything", label: Label.OPTIONAL, oneofIndex: 0 },
          { name: "maybe_number", number: 70, type: Type.INT32, label: Label.OPTIONAL, oneofIndex: 1, proto3Optional: true },
          { name: "maybe_text", number: 71, type: Type.STRING, label: Label.OPTIONAL, oneofIndex: 2, proto3Optional: true },
          { name: "big_field_number", number: 536870911, type: Type.INT32, label: Label.OPTIONAL },
        ],
        oneofDecl: [{ name: "choice" }, { name: "_maybe_number" }, { name: "_maybe_text" }],
      },
      {
        name: "WithMap",
        field: [
          { name: "counts", number: 1, type: Type.MESSAGE, typeName: ".encodertest.WithMap.CountsEntry", label: Label.REPEATED },
          { name: "child", number: 2, type: Type.MESSAGE, typeName: ".encodertest.Everything", label: Label.OPTIONAL },
        ],
        nestedType: [
          {
            name: "CountsEntry",
            field: [
              { name: "key", number: 1, type: Type.STRING, label: Label.OPTIONAL },
              { name: "value", number: 2, type: Type.INT32, label: Label.OPTIONAL },
            ],
            options: { mapEntry: true },
          },
        ],
      },
      { name: "HasMapChild", field: [{ name: "inner", number: 1, type: Type.MESSAGE, typeName: ".encodertest.WithMap", label: Label.OPTIONAL }] },
    ],
  }),
  () => undefined,
);
const Everything = registry.getMessage("encodertest.Everything")!;
const WithMap = registry.getMessage("encodertest.WithMap")!;
const HasMapChild = registry.getMessage("encodertest.HasMapChild")!;

const localName = (name: string) => name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** Init shapes of Everything: any subset of its fields, nested up to `depth` levels. */
const everything: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ message: Record<string, unknown> }>((tie) => ({
  message: fc.record(
    {
      ...Object.fromEntries(
        SCALARS.flatMap(({ name, value }) => [
          [localName(`s_${name}`), value],
          [localName(`r_${name}`), fc.array(value, { maxLength: 4 })],
          [localName(`u_${name}`), fc.array(value, { maxLength: 3 })],
        ]),
      ),
      color: fc.integer(),
      colors: fc.array(fc.integer(), { maxLength: 4 }),
      child: fc.option(tie("message"), { nil: undefined, depthSize: "small" }),
      children: fc.array(tie("message"), { maxLength: 2 }),
      choice: fc.oneof(
        fc.constant({ case: undefined }),
        fc.record({ case: fc.constant("choiceText"), value: fc.string() }),
        fc.record({ case: fc.constant("choiceNumber"), value: fc.integer() }),
        fc.record({ case: fc.constant("choiceChild"), value: tie("message") }),
      ),
      maybeNumber: fc.option(fc.integer(), { nil: undefined }),
      maybeText: fc.option(fc.string(), { nil: undefined }),
      bigFieldNumber: fc.integer(),
    },
    { requiredKeys: [] },
  ),
})).message;

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
