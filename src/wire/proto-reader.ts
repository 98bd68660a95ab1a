// Reading protobuf binary encoding with every check the spec asks for
// [FRAME-6]: bounds, varint length, tag range, wire types of skipped fields
// and group nesting. The varints themselves are read by varint.ts; this
// cursor turns what it reports into errors.

import { MAX_REQUEST_ID } from "./limits.ts";
import { ProtocolError } from "./protocol-error.ts";
import { readCachedUtf8 } from "./string-cache.ts";
import { readVarint, readVarint32, readVarintLow32, VARINT_TOO_LONG, VARINT_TRUNCATED, varintEnd } from "./varint.ts";

/** Maximum nesting of unknown groups skipped, as in protobuf-es. */
const MAX_GROUP_DEPTH = 100;

/** The error for bytes that are not a valid message [FRAME-6]. */
export function malformed(detail: string): ProtocolError {
  return new ProtocolError("FRAME-6", `message does not decode: ${detail}`);
}

/** The error for a varint that readVarint or readVarintLow32 could not read [FRAME-6]. */
function badVarint(failure: number): ProtocolError {
  return malformed(failure === VARINT_TRUNCATED ? "truncated varint" : "varint longer than 10 bytes");
}

/**
 * A cursor over protobuf bytes (a frame header, or a HELLO or GOAWAY body);
 * every read checks the end, and every malformation throws a ProtocolError
 * citing [FRAME-6].
 */
export class ProtoReader {
  buf: Uint8Array;
  pos: number;
  end: number;

  constructor(buf: Uint8Array, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** Reads a varint and returns its low 32 bits, unsigned (protobuf uint32 semantics). */
  uint32(): number {
    const buf = this.buf;
    const pos = this.pos;
    const end = this.end;
    if (pos < end) {
      const b = buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    const value = readVarintLow32(buf, pos, end);
    if (value < 0) throw badVarint(value);
    this.pos = varintEnd;
    return value;
  }

  /** Reads a varint as an unsigned integer that must not exceed 2^53-1 [ID-4]. */
  safeInteger(field: string): number {
    const value = readVarint(this.buf, this.pos, this.end);
    if (value < 0) throw badVarint(value);
    this.pos = varintEnd;
    // Ids beyond 2^53-1 make the message undecodable (ID-4).
    if (value > MAX_REQUEST_ID) throw malformed(`${field} above 2^53-1`);
    return value;
  }

  /**
   * Reads a length prefix and returns the end of the bytes it announces. The
   * whole varint counts, not its low 32 bits: a length of 2^32+3 runs past
   * any header, it is not 3 [FRAME-6].
   */
  lengthEnd(): number {
    const buf = this.buf;
    const pos = this.pos;
    if (pos < this.end && buf[pos]! < 0x80) {
      this.pos = pos + 1;
      const stop = pos + 1 + buf[pos]!;
      if (stop > this.end) throw malformed("length-delimited field runs past the header");
      return stop;
    }
    const n = readVarint(buf, pos, this.end);
    if (n < 0) throw badVarint(n);
    this.pos = varintEnd;
    if (n > this.end - this.pos) throw malformed("length-delimited field runs past the header");
    return this.pos + n;
  }

  string(): string {
    const stop = this.lengthEnd();
    const text = readCachedUtf8(this.buf, this.pos, stop);
    if (text === undefined) throw malformed("string field is not valid UTF-8");
    this.pos = stop;
    return text;
  }

  /** A view into the header bytes, not a copy. */
  bytes(): Uint8Array {
    const stop = this.lengthEnd();
    const value = this.buf.subarray(this.pos, stop);
    this.pos = stop;
    return value;
  }

  /** Skips one field of the given wire type whose tag was just read. */
  skip(wireType: number, fieldNo: number, depth: number): void {
    switch (wireType) {
      case 0:
        this.uint32();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.pos = this.lengthEnd();
        return;
      case 5:
        this.advance(4);
        return;
      case 3: {
        if (depth >= MAX_GROUP_DEPTH) throw malformed("groups nested too deeply");
        for (;;) {
          const tag = this.tag();
          const innerType = tag & 7;
          const innerNo = tag >>> 3;
          if (innerType === 4) {
            if (innerNo !== fieldNo) throw malformed("end group tag does not match");
            return;
          }
          this.skip(innerType, innerNo, depth + 1);
        }
      }
      default:
        throw malformed(`unexpected wire type ${wireType} for field ${fieldNo}`);
    }
  }

  advance(n: number): void {
    if (this.pos + n > this.end) throw malformed("fixed-size field runs past the header");
    this.pos += n;
  }

  /** Reads a tag; rejects field number 0 and tag values above 2^32-1. */
  tag(): number {
    const tag = readVarint32(this.buf, this.pos, this.end);
    if (tag < 0) throw malformed(tag === VARINT_TRUNCATED ? "truncated tag" : tag === VARINT_TOO_LONG ? "tag longer than 5 bytes" : "tag value above 2^32-1");
    this.pos = varintEnd;
    if (tag >>> 3 === 0) throw malformed("field number 0");
    return tag;
  }
}
