// What a value must be for the body encoder's own path (message-encoder.ts):
// each JavaScript value checked against its field's type, and the zero
// values protobuf-es leaves out. A value that does not fit throws FALLBACK,
// so protobuf-es encodes it or reports its own error.

import { ScalarType, type DescField } from "@bufbuild/protobuf";
import { FALLBACK } from "./body-codec-scope.ts";

/** Whether a field without presence is written: it is when its value is not the zero value, as protobuf-es decides it. */
export function implicitIsSet(field: DescField): (value: unknown) => boolean {
  if (field.fieldKind === "enum") return (value) => value !== undefined && value !== 0;
  switch (field.scalar) {
    case ScalarType.BOOL:
      return (value) => value !== undefined && value !== false;
    case ScalarType.STRING:
      return (value) => value !== undefined && value !== "";
    case ScalarType.BYTES:
      return (value) => value !== undefined && (!(value instanceof Uint8Array) || value.byteLength > 0);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return (value) => value !== undefined && !Object.is(value, 0);
    default:
      // Loose comparison: 0, 0n and "0" are all zero.
      return (value) => value !== undefined && value != 0;
  }
}

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const UINT32_MAX = 0xffffffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** An int32, sint32 or sfixed32 value (enums too). */
export function int32Of(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) throw FALLBACK;
  return value;
}

/** A uint32 or fixed32 value. */
export function uint32Of(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > UINT32_MAX) throw FALLBACK;
  return value;
}

/** An int64, sint64 or sfixed64 value, as a bigint. */
export function int64Of(value: unknown): bigint {
  if (typeof value !== "bigint" || value < INT64_MIN || value > INT64_MAX) throw FALLBACK;
  return value;
}

/** A uint64 or fixed64 value, as a bigint. */
export function uint64Of(value: unknown): bigint {
  if (typeof value !== "bigint" || value < 0n || value > UINT64_MAX) throw FALLBACK;
  return value;
}

/** A double. */
export function numberOf(value: unknown): number {
  if (typeof value !== "number") throw FALLBACK;
  return value;
}

/** A number that fits a float32 once rounded; a finite value that would round to infinity is protobuf-es's error to report. */
export function float32Of(value: unknown): number {
  const n = numberOf(value);
  if (Number.isFinite(n) && !Number.isFinite(Math.fround(n))) throw FALLBACK;
  return n;
}

/** The ZigZag encoding of a sint32. */
export function zigzag32(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0;
}

/** The ZigZag encoding of a sint64. */
export function zigzag64(n: bigint): bigint {
  return BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
}
