// The unknown-field bound: counted at every nesting level, exactly at the
// bound accepted, one more refused, malformed bytes left to the decoder.
// Cites [LIMIT-8].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { create, toBinary } from "@bufbuild/protobuf";
import { decodeMessage, exceedsUnknownFields } from "../src/wire/index.ts";
import { Everything } from "./support/everything-schema.ts";
import { checkProperty } from "./support/property.ts";

const test = suite("unknown fields");

/** `n` unknown varint fields (field 999, a 2-byte tag, value 0). */
function unknown(n: number): number[] {
  return Array.from({ length: n }, () => [0xb8, 0x3e, 0x00]).flat();
}

/** Wraps `inner` as the `child` field (52) of an Everything message, `depth` times. */
function nest(inner: number[], depth: number): number[] {
  let bytes = inner;
  for (let i = 0; i < depth; i++) {
    const length: number[] = [];
    let n = bytes.length;
    while (n > 0x7f) {
      length.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    length.push(n);
    bytes = [0xa2, 0x03, ...length, ...bytes]; // tag of field 52, wire type 2
  }
  return bytes;
}

test("[LIMIT-8] unknown fields are counted across nesting levels: the bound itself passes, one more does not", () => {
  checkProperty(
    fc.property(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 5 }), (top, inner, depth) => {
      const bytes = Uint8Array.from([...unknown(top), ...nest(unknown(inner), depth)]);
      const total = top + inner; // at depth 0 the inner fields are top-level ones too
      assert.is(exceedsUnknownFields(Everything, bytes, total), false, `${total} unknown fields, bound ${total}`);
      if (total > 0) assert.is(exceedsUnknownFields(Everything, bytes, total - 1), true, `${total} unknown fields, bound ${total - 1}`);
    }),
    { numRuns: 300 },
  );
});

test("[LIMIT-8] known fields do not count; malformed bytes are left to the decoder, which reports them its own way", () => {
  const known = toBinary(Everything, create(Everything, { child: { child: {} } } as never));
  assert.is(exceedsUnknownFields(Everything, known, 0), false);
  const truncated = Uint8Array.of(0xb8);
  assert.is(exceedsUnknownFields(Everything, truncated, 0), false);
  assert.throws(() => decodeMessage(Everything, truncated));
  assert.throws(() => decodeMessage(Everything, Uint8Array.from(unknown(10_001))), /more than 10000 unknown fields/);
});

test.run();
