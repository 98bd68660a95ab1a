// The wire layer's one varint (src/wire/varint.ts) against protobuf-es's
// BinaryWriter and BinaryReader: the same bytes written, the same values
// read, and each malformation reported as its own failure. Cites [FRAME-1]
// and [FRAME-6].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import {
  bigVarintSize,
  int32VarintSize,
  readVarint,
  readVarint32,
  readVarint64,
  readVarintLow32,
  VARINT_ABOVE_32_BITS,
  VARINT_TOO_LONG,
  VARINT_TRUNCATED,
  varintEnd,
  varintSize,
  writeBigVarint,
  writeInt32Varint,
  writeVarint,
} from "../src/wire/varint.ts";
import { checkProperty } from "./support/property.ts";

const test = suite("varint");

/** Non-negative integers up to 2^53-1, many of them near a byte boundary. */
const safeInteger = fc.oneof(
  fc.integer({ min: 0, max: 52 }).chain((bits) => fc.integer({ min: -2, max: 2 }).map((d) => Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, 2 ** (bits + 1) + d)))),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);

/** What `write` puts at offset 3 of a scratch buffer, and the position it returns. */
function written(write: (buf: Uint8Array, pos: number) => number): Uint8Array {
  const buf = new Uint8Array(16);
  const end = write(buf, 3);
  return buf.slice(3, end);
}

test("[FRAME-1] writeVarint and varintSize agree with protobuf-es up to 2^53-1", () =>
  checkProperty(
    fc.property(safeInteger, (value) => {
      const expected = new BinaryWriter().uint64(value).finish();
      assert.equal(written((buf, pos) => writeVarint(value, buf, pos)), expected);
      assert.is(varintSize(value), expected.length);
    }),
    { numRuns: 3000 },
  ));

test("[FRAME-1] int32 values, negative ones sign-extended to 10 bytes, as protobuf-es writes them", () =>
  checkProperty(
    fc.property(fc.oneof(fc.integer(), fc.constantFrom(-1, -(2 ** 31), 2 ** 31 - 1, 0)), (value) => {
      const expected = new BinaryWriter().int32(value).finish();
      assert.equal(written((buf, pos) => writeInt32Varint(value, buf, pos)), expected);
      assert.is(int32VarintSize(value), expected.length);
    }),
    { numRuns: 2000 },
  ));

test("[FRAME-1] unsigned 64-bit values as protobuf-es writes them", () =>
  checkProperty(
    fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 64n - 1n)), (value) => {
      const expected = new BinaryWriter().uint64(value).finish();
      assert.equal(written((buf, pos) => writeBigVarint(value, buf, pos)), expected);
      assert.is(bigVarintSize(value), expected.length);
    }),
    { numRuns: 2000 },
  ));

test("[FRAME-6] the readers read what protobuf-es reads, and leave the position after the varint", () =>
  checkProperty(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.nat(4), (value, at) => {
      const bytes = Uint8Array.from([...new Uint8Array(at).fill(0xff), ...new BinaryWriter().uint64(value).finish(), 0x7f]);
      const end = bytes.length - 1;
      const reader = () => {
        const r = new BinaryReader(bytes);
        r.pos = at;
        return r;
      };
      assert.is(readVarint64(bytes, at, bytes.length), BigInt(reader().uint64()));
      assert.is(varintEnd, end);
      assert.is(readVarintLow32(bytes, at, bytes.length), reader().uint32());
      assert.is(varintEnd, end);
      const asNumber = readVarint(bytes, at, bytes.length);
      // Exact up to 2^53-1; above, near enough to compare with any bound.
      if (value <= BigInt(Number.MAX_SAFE_INTEGER)) assert.is(asNumber, Number(value));
      else assert.ok(asNumber > Number.MAX_SAFE_INTEGER);
      assert.is(varintEnd, end);
      if (value <= 0xffffffffn) {
        assert.is(readVarint32(bytes, at, bytes.length), Number(value));
        assert.is(varintEnd, end);
      }
    }),
    { numRuns: 2000 },
  ));

test("[FRAME-6] truncated, longer than the read allows, or above 2^32-1 in 5 bytes: a failure, not a value", () => {
  const eleven = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
  for (const read of [readVarint, readVarintLow32, readVarint32]) {
    assert.is(read(Uint8Array.of(), 0, 0), VARINT_TRUNCATED);
    assert.is(read(Uint8Array.of(0x80, 0x80), 0, 2), VARINT_TRUNCATED);
    // The end bounds the read, not the buffer.
    assert.is(read(Uint8Array.of(0x80, 0x01), 0, 1), VARINT_TRUNCATED);
    assert.is(read(eleven, 0, eleven.length), VARINT_TOO_LONG);
  }
  assert.is(readVarint64(eleven, 0, eleven.length), undefined);
  assert.is(readVarint64(Uint8Array.of(0x80), 0, 1), undefined);
  // 2^64: ten bytes, but above 64 bits.
  assert.is(readVarint64(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02), 0, 10), undefined);
  // A tag: five bytes at most, 2^32-1 at most.
  assert.is(readVarint32(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f), 0, 5), 0xffffffff);
  assert.is(readVarint32(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x10), 0, 5), VARINT_ABOVE_32_BITS);
  assert.is(readVarint32(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x8f, 0x00), 0, 6), VARINT_TOO_LONG);
  // A uint32 field keeps the low 32 bits of a longer varint; a length keeps all of it.
  const big = Uint8Array.of(0x85, 0x80, 0x80, 0x80, 0x10); // 2^32 + 5
  assert.is(readVarintLow32(big, 0, 5), 5);
  assert.is(readVarint(big, 0, 5), 2 ** 32 + 5);
});

test.run();
