// The body decoder gives what protobuf-es fromBinary gives, for every kind
// of field, for bytes that take its own path and for bytes it leaves to
// protobuf-es (unknown fields, merges, unusual varints, maps, garbage),
// including the error when protobuf-es rejects them. Cites [FRAME-1].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { decodeMessage } from "../src/wire/message-decoder.ts";
import { BenchEchoRequestSchema } from "./gen/stratatest/v1/testing_pb.ts";
import { checkProperty } from "./support/property.ts";
import { Everything, everything, HasMapChild, WithMap } from "./support/everything-schema.ts";

const test = suite("message decoder");

/** Both decoders on `bytes`: the same message, or both throw the same error. */
function sameDecoding(schema: DescMessage, bytes: Uint8Array): void {
  let expected: unknown;
  let expectedError: Error | undefined;
  try {
    expected = fromBinary(schema, bytes);
  } catch (error) {
    expectedError = error as Error;
  }
  let actual: unknown;
  let actualError: Error | undefined;
  try {
    actual = decodeMessage(schema, bytes);
  } catch (error) {
    actualError = error as Error;
  }
  if (expectedError !== undefined) {
    assert.ok(actualError !== undefined, `protobuf-es rejects [${Array.from(bytes)}] (${expectedError.message}), so must the decoder`);
    assert.is(actualError.message, expectedError.message);
    return;
  }
  assert.ok(actualError === undefined, `protobuf-es decodes [${Array.from(bytes)}], so must the decoder (${actualError?.message})`);
  assert.equal(actual, expected);
}

const encoded = everything.map((init) => toBinary(Everything, create(Everything, init as MessageInitShape<DescMessage>)));

test("[FRAME-1] the encoding of any message decodes as protobuf-es decodes it", () =>
  checkProperty(fc.property(encoded, (bytes) => sameDecoding(Everything, bytes)), { numRuns: 150 }));

test("[FRAME-1] bytes changed anywhere, cut short or followed by more: the same message or the same error", () =>
  checkProperty(
    fc.property(encoded, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 12 }), (bytes, at, value, tail) => {
      if (bytes.length > 0) {
        const changed = bytes.slice();
        changed[at % bytes.length] = value;
        sameDecoding(Everything, changed);
        sameDecoding(Everything, bytes.subarray(0, at % bytes.length));
      }
      sameDecoding(Everything, Uint8Array.from([...bytes, ...tail]));
    }),
    { numRuns: 150 },
  ));

test("arbitrary bytes: the same message or the same error", () =>
  checkProperty(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      sameDecoding(Everything, bytes);
      sameDecoding(WithMap, bytes);
    }),
    { numRuns: 500 },
  ));

test("what it leaves to protobuf-es: unknown fields, a message field twice (merged), a map, a map in a child", () => {
  // Field 9000 is unknown: kept in $unknown.
  sameDecoding(Everything, Uint8Array.from([0xc0, 0xb2, 0x04, 0x96, 0x01]));
  // child (52) twice: the second merges into the first.
  const child = (text: string) => [0xa2, 0x03, 2 + text.length, 0x4a, text.length, ...new TextEncoder().encode(text)];
  sameDecoding(Everything, Uint8Array.from([...child("ab"), ...child("c")]));
  // A 10-byte int32 (negative), a 6-byte uint32, a 2-byte bool: protobuf-es's readings.
  sameDecoding(Everything, Uint8Array.from([0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
  sameDecoding(Everything, Uint8Array.from([0x58, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
  sameDecoding(Everything, Uint8Array.from([0x40, 0x81, 0x00]));
  const withMap = toBinary(WithMap, create(WithMap, { counts: { a: 1, b: 2 } }));
  sameDecoding(WithMap, withMap);
  sameDecoding(HasMapChild, toBinary(HasMapChild, create(HasMapChild, { inner: { counts: { x: 3 } } })));
});

test("a bytes field is a view of the body, as protobuf-es makes it", () => {
  const body = toBinary(BenchEchoRequestSchema, create(BenchEchoRequestSchema, { payload: new Uint8Array(64).fill(9) }));
  const framed = new Uint8Array(body.length + 10);
  framed.set(body, 5);
  const decoded = decodeMessage(BenchEchoRequestSchema, framed.subarray(5, 5 + body.length));
  assert.equal(decoded, fromBinary(BenchEchoRequestSchema, body));
  assert.is(decoded.payload.buffer, framed.buffer);
  assert.is(decoded.payload.byteOffset, 5 + 2);
});

test("[FRAME-1] each decoded message has lists and oneofs of its own: changing one message leaves the next as decoded", () => {
  const empty = new Uint8Array(0);
  const first = decodeMessage(Everything, empty) as Record<string, unknown>;
  const lists = Object.keys(first).filter((key) => Array.isArray(first[key]));
  assert.ok(lists.length > 0 && typeof first.choice === "object", "the schema has lists and a oneof");
  for (const key of lists) (first[key] as unknown[]).push(1);
  (first.choice as { case: unknown }).case = "choiceNumber";
  first.sInt32 = 5;
  const second = decodeMessage(Everything, empty);
  assert.equal(second, create(Everything));
  assert.equal(second, fromBinary(Everything, empty));
});

test.run();
