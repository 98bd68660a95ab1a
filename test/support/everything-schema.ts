// A proto3 schema with every kind of field the body codecs handle (every
// scalar type singular, packed and unpacked, enums, recursive messages,
// oneofs, optional fields), two that they leave to protobuf-es (a map, a
// map in a child), and fast-check generators of init shapes for it.
import fc from "fast-check";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label as Label, FieldDescriptorProto_Type as Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

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
export const Everything = registry.getMessage("encodertest.Everything")!;
export const WithMap = registry.getMessage("encodertest.WithMap")!;
export const HasMapChild = registry.getMessage("encodertest.HasMapChild")!;

const localName = (name: string) => name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** Init shapes of Everything: any subset of its fields, nested up to `depth` levels. */
export const everything: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ message: Record<string, unknown> }>((tie) => ({
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
