// The protobuf base-128 varint (spec section 2.3), once for the whole wire
// layer: its size, its writers and its readers. Every function is a plain
// function over (buf, pos), allocation-free, for the header and body codecs'
// hot paths.
//
// Writers return the position after what they wrote. Readers return the
// value and leave the position after the varint in `varintEnd`; when the
// bytes are not a varint they return a negative failure code instead
// (VARINT_TRUNCATED, VARINT_TOO_LONG, VARINT_ABOVE_32_BITS) and leave
// `varintEnd` as it was. Each caller turns a failure into its own error.

/** A read's failure: the bytes end inside the varint [FRAME-6]. */
export const VARINT_TRUNCATED = -1;
/** A read's failure: the varint has more bytes than the read accepts, 10 (5 for readVarint32) [FRAME-6]. */
export const VARINT_TOO_LONG = -2;
/** readVarint32's failure: a varint of 5 bytes whose value is above 2^32-1 [FRAME-6]. */
export const VARINT_ABOVE_32_BITS = -3;

/** The position just after the varint that the last successful read read [FRAME-6]. */
export let varintEnd = 0;

/** Size of `value` (a non-negative integer up to 2^53-1) as a varint, as protobuf encodes it [FRAME-1]. */
export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let size = 5;
  for (let v = Math.floor(value / 0x800000000); v > 0; v = Math.floor(v / 0x80)) size++;
  return size;
}

/** Size of an int32 (or enum) value as a varint: a negative one is sign-extended to 10 bytes, as in protobuf [FRAME-1]. */
export function int32VarintSize(value: number): number {
  return value < 0 ? 10 : varintSize(value);
}

/** Size of an unsigned 64-bit value as a varint [FRAME-1]. */
export function bigVarintSize(value: bigint): number {
  if (value <= 0x1fffffffffffffn) return varintSize(Number(value));
  let size = 1;
  for (let v = value >> 7n; v > 0n; v >>= 7n) size++;
  return size;
}

/** Writes `value` (a non-negative integer up to 2^53-1) as a varint at `pos` and returns the position after it [FRAME-1]. */
export function writeVarint(value: number, buf: Uint8Array, pos: number): number {
  // Above 2^31-1 a value is no small integer: it is written from its two 32-bit halves instead.
  if (value > 0x7fffffff) {
    const lo = value >>> 0;
    return writeVarint64(lo, (value - lo) / 0x100000000, buf, pos);
  }
  while (value > 0x7f) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[pos++] = value;
  return pos;
}

/**
 * Writes the varint of the unsigned 64-bit value hi * 2^32 + lo (each half
 * below 2^32) at `pos`, always in at least 5 bytes, and returns the position
 * after it [FRAME-1].
 */
export function writeVarint64(lo: number, hi: number, buf: Uint8Array, pos: number): number {
  // The low 28 bits, 7 at a time.
  for (let i = 0; i < 4; i++) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  // Bits 28-34: four from lo, three from hi.
  const middle = (lo & 0x0f) | ((hi & 0x07) << 4);
  hi >>>= 3;
  if (hi === 0) {
    buf[pos++] = middle;
    return pos;
  }
  buf[pos++] = middle | 0x80;
  while (hi > 0x7f) {
    buf[pos++] = (hi & 0x7f) | 0x80;
    hi >>>= 7;
  }
  buf[pos++] = hi;
  return pos;
}

/** Writes an int32 (or enum) value as a varint, a negative one sign-extended to 10 bytes, and returns the position after it [FRAME-1]. */
export function writeInt32Varint(value: number, buf: Uint8Array, pos: number): number {
  if (value >= 0) return writeVarint(value, buf, pos);
  return writeVarint64(value >>> 0, 0xffffffff, buf, pos);
}

/** Writes an unsigned 64-bit value as a varint and returns the position after it [FRAME-1]. */
export function writeBigVarint(value: bigint, buf: Uint8Array, pos: number): number {
  if (value <= 0xffffffffn) return writeVarint(Number(value), buf, pos);
  return writeVarint64(Number(value & 0xffffffffn), Number(value >> 32n), buf, pos);
}

/**
 * Reads a varint of up to 10 bytes in `buf[pos, end)` and returns its value
 * as a number, exact up to 2^53-1 (lengths and request ids are checked
 * against the whole value, never its low 32 bits), or a failure code [FRAME-6].
 */
export function readVarint(buf: Uint8Array, pos: number, end: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return VARINT_TRUNCATED;
    const b = buf[pos++]!;
    value += (b & 0x7f) * scale;
    scale *= 0x80;
    if (b < 0x80) {
      varintEnd = pos;
      return value;
    }
  }
  return VARINT_TOO_LONG;
}

/**
 * Reads a varint of up to 10 bytes in `buf[pos, end)` and returns its low
 * 32 bits, unsigned, as protobuf reads uint32 and enum fields, or a failure
 * code [FRAME-6].
 */
export function readVarintLow32(buf: Uint8Array, pos: number, end: number): number {
  let result = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    if (pos >= end) return VARINT_TRUNCATED;
    const b = buf[pos++]!;
    if (shift < 32) result |= (b & 0x7f) << shift;
    if (b < 0x80) {
      varintEnd = pos;
      return result >>> 0;
    }
  }
  return VARINT_TOO_LONG;
}

/**
 * Reads a varint of a 32-bit value, at most 5 bytes and at most 2^32-1 (a
 * tag), in `buf[pos, end)` and returns it, or a failure code [FRAME-6].
 */
export function readVarint32(buf: Uint8Array, pos: number, end: number): number {
  let result = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) return VARINT_TRUNCATED;
    const b = buf[pos++]!;
    result |= (b & 0x7f) << shift;
    if (b < 0x80) {
      varintEnd = pos;
      return result;
    }
  }
  if (pos >= end) return VARINT_TRUNCATED;
  const last = buf[pos++]!;
  if (last >= 0x80) return VARINT_TOO_LONG;
  if (last > 0x0f) return VARINT_ABOVE_32_BITS;
  varintEnd = pos;
  return (result | (last << 28)) >>> 0;
}

/**
 * Reads an unsigned 64-bit varint of up to 10 bytes in `buf[pos, end)`;
 * undefined when the bytes end inside it, it is longer, or its value is
 * above 2^64-1 [FRAME-1].
 */
export function readVarint64(buf: Uint8Array, pos: number, end: number): bigint | undefined {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return undefined;
    const b = buf[pos++]!;
    const bits = b & 0x7f;
    if (i < 4) lo |= bits << (7 * i);
    else if (i === 4) {
      lo |= (bits & 0x0f) << 28;
      hi |= bits >> 4;
    } else {
      if (i === 9 && bits > 1) return undefined;
      hi |= bits << (7 * i - 32);
    }
    if (b < 0x80) {
      varintEnd = pos;
      return hi === 0 ? BigInt(lo >>> 0) : (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    }
  }
  return undefined;
}
