// The hand header codec against protobuf-es, both directions, and its
// handling of malformed headers. Cites [FRAME-1] [FRAME-6] [FRAME-11] [ID-4] [CONV-1].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FrameHeaderSchema } from "../src/gen/strata/v1/frame_pb.ts";
import { decodeHeader, encodeFrame, encodeFrameHead, encodeHeader, encodeRoute, FrameType, ProtocolError, type FrameHeaderInit } from "../src/wire/index.ts";
import { allocateOutput, outputPoolState, releaseOutput } from "../src/wire/output-pool.ts";
import { readCachedUtf8 } from "../src/wire/string-cache.ts";
import { anyHeader, anyHeaderLoneSurrogates } from "./support/arbitraries.ts";
import { checkProperty } from "./support/property.ts";
import { comparable, fromProto, hex, toProto } from "./support/proto-convert.ts";

const test = suite("header codec");

function decodeAll(bytes: Uint8Array) {
  return decodeHeader(bytes, 0, bytes.length);
}

function expectProtocolError(bytes: Uint8Array, requirement: string): void {
  try {
    decodeAll(bytes);
  } catch (error) {
    assert.ok(ProtocolError.is(error), `expected a ProtocolError, got ${String(error)}`);
    assert.is((error as ProtocolError).code, requirement, (error as Error).message);
    return;
  }
  assert.unreachable(`decoding ${hex(bytes)} should fail with [${requirement}]`);
}

test("[FRAME-1] [CONV-1] hand encoding equals protobuf-es toBinary, byte for byte, lone surrogates included", () => {
  checkProperty(
    fc.property(anyHeaderLoneSurrogates, (header) => {
      const hand = encodeHeader(header);
      const reference = toBinary(FrameHeaderSchema, toProto(header));
      assert.is(hex(hand), hex(reference));
      // A client writes its methods' names as bytes encoded once: the same header, byte for byte.
      const routed = encodeHeader({ ...header, route: encodeRoute(header.service ?? "", header.method ?? "") });
      assert.is(hex(routed), hex(reference), "with service and method given as an encoded route");
    }),
    { numRuns: 2000 },
  );
});

test("[FRAME-1] [META-5] headers of every size encode into frames equal to protobuf-es's, wherever the output slab stands and whatever it held", () => {
  // The encoders write in place into a shared output slab and fall back when
  // the header does not fit what is left of it; where that happens depends
  // on what was allocated before. A few KiB of metadata used to throw
  // "offset is out of bounds" at some offsets and not at others. Released
  // pieces make their slab a spare that is used again with its old bytes in
  // it: every byte of a frame must be written, none left to chance.
  checkProperty(
    fc.property(anyHeader, fc.integer({ min: 0, max: 64 * 1024 }), fc.uint8Array({ maxLength: 9000 }), (header, shift, body) => {
      const filler = allocateOutput(shift % 8193).fill(0xa5); // moves the slab's free space to any offset
      const reference = toBinary(FrameHeaderSchema, toProto({ ...header, bodySize: body.length }));
      const alone = encodeHeader({ ...header, bodySize: body.length });
      assert.is(hex(alone), hex(reference));
      const frame = encodeFrame(header, body);
      assert.is(frame.length, 4 + reference.length + body.length);
      assert.is(new DataView(frame.buffer, frame.byteOffset).getUint32(0), reference.length);
      assert.is(hex(frame.subarray(4, 4 + reference.length)), hex(reference));
      assert.ok(frame.subarray(4 + reference.length).every((b, i) => b === body[i]));
      const filler2 = allocateOutput(shift % 8193).fill(0x5a);
      const head = encodeFrameHead(header, body.length);
      assert.is(hex(head.subarray(4)), hex(reference));
      const routed = encodeFrame({ ...header, route: encodeRoute(header.service ?? "", header.method ?? "") }, body);
      assert.is(hex(routed), hex(frame), "with service and method given as an encoded route");
      for (const piece of [filler, alone, frame, filler2, head, routed]) releaseOutput(piece.fill(0xff));
    }),
    { numRuns: 1500 },
  );
  assert.ok(outputPoolState().spares > 0, "released slabs were kept for reuse");
});

test("[FRAME-1] a header larger than the encoder's scratch buffer (2 MiB of metadata) encodes as protobuf-es does", () => {
  const header: FrameHeaderInit = { type: FrameType.RESPONSE, requestId: 7, metadata: [{ key: "big", value: new Uint8Array(2 * 1024 * 1024).fill(7) }] };
  const reference = toBinary(FrameHeaderSchema, toProto({ ...emptyHeader(), ...header } as never));
  assert.is(encodeHeader(header).length, reference.length);
  assert.is(hex(encodeHeader(header).subarray(0, 64)), hex(reference.subarray(0, 64)));
  assert.is(encodeFrame(header).length, 4 + reference.length);
  // And a small one after it still takes the fast path correctly.
  assert.is(hex(encodeHeader({ type: FrameType.PING })), "08 06");
});

test("[FRAME-1] hand decoding of protobuf-es output equals protobuf-es fromBinary", () => {
  checkProperty(
    fc.property(anyHeader, (header) => {
      const bytes = toBinary(FrameHeaderSchema, toProto(header));
      const hand = decodeAll(bytes);
      const reference = fromProto(fromBinary(FrameHeaderSchema, bytes));
      assert.equal(comparable(hand), comparable(reference));
    }),
    { numRuns: 2000 },
  );
});

test("[FRAME-1] round trip keeps every field of a well-formed header", () => {
  checkProperty(
    fc.property(anyHeader, (header) => {
      assert.equal(comparable(decodeAll(encodeHeader(header))), comparable(header));
    }),
    { numRuns: 1000 },
  );
});

/** One field of a header, encoded alone: what a sender could write in any order. */
const fieldChunk = anyHeader.chain((header) => {
  const single = (patch: object) => toBinary(FrameHeaderSchema, toProto({ ...emptyHeader(), ...patch } as never));
  return fc.constantFrom(
    single({ type: header.type }),
    single({ requestId: header.requestId }),
    single({ bodySize: header.bodySize }),
    single({ service: header.service }),
    single({ method: header.method }),
    single({ callMode: header.callMode }),
    single({ timeoutMs: header.timeoutMs ?? 5 }),
    single({ metadata: header.metadata.slice(0, 1) }),
    single({ keys: header.keys.slice(0, 1) }),
    single({ compression: header.compression }),
    single({ dispatchCode: header.dispatchCode }),
    single({ dispatchMessage: header.dispatchMessage }),
    single({ appCode: header.appCode }),
    single({ appMessage: header.appMessage }),
    single({ methodRef: header.methodRef }),
    Uint8Array.of(0x08, 0x00), // a default written explicitly
    Uint8Array.of(0x22, 0x00),
  );
});

/** An unknown field (numbers 16 and up) of any wire type, groups included. */
const unknownField = fc
  .tuple(fc.integer({ min: 16, max: 5000 }), fc.integer({ min: 0, max: 3 }), fc.uint8Array({ maxLength: 12 }))
  .map(([fieldNo, kind, payload]) => {
    const tag = (wireType: number) => varint(fieldNo * 8 + wireType);
    switch (kind) {
      case 0:
        return concat(tag(0), varint(payload.length * 1000));
      case 1:
        return concat(tag(1), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
      case 2:
        return concat(tag(2), varint(payload.length), payload);
      default:
        // A group holding one varint field, then its matching end tag.
        return concat(tag(3), Uint8Array.of(0x08, 0x01), tag(4));
    }
  });

function emptyHeader() {
  return {
    type: 0, requestId: 0, bodySize: 0, service: "", method: "", callMode: 0, timeoutMs: undefined,
    metadata: [], keys: [], compression: 0, dispatchCode: 0, dispatchMessage: "", appCode: 0, appMessage: "", methodRef: 0,
  };
}

function varint(value: number): Uint8Array {
  const out: number[] = [];
  while (value > 0x7f) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return Uint8Array.from(out);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

test("[FRAME-11] fields in any order, repeated, mixed with unknown fields: same result as protobuf-es", () => {
  checkProperty(
    fc.property(fc.array(fc.oneof(fieldChunk, unknownField), { maxLength: 20 }), (chunks) => {
      const bytes = concat(...chunks);
      const reference = fromProto(fromBinary(FrameHeaderSchema, bytes));
      assert.equal(comparable(decodeAll(bytes)), comparable(reference));
    }),
    { numRuns: 1500 },
  );
});

test("[FRAME-6] every malformed-header class is a ProtocolError citing FRAME-6", () => {
  const cases: Array<[string, number[]]> = [
    ["truncated varint", [0x10, 0x80]],
    ["truncated tag", [0x80]],
    ["string longer than the header", [0x22, 0x05, 0x61]],
    ["known field with the wrong wire type", [0x0d, 1, 2, 3, 4]],
    ["field number 0", [0x00, 0x01]],
    ["wire type 6", [0x0e]],
    ["wire type 7", [0x0f]],
    ["end group without start", [0x7c]],
    ["group whose end tag does not match", [0x7b, 0x84, 0x01]],
    ["unterminated group", [0x7b, 0x08, 0x01]],
    ["invalid UTF-8 in service", [0x22, 0x02, 0xc3, 0x28]],
    ["lone surrogate encoded in UTF-8", [0x2a, 0x03, 0xed, 0xa0, 0x80]],
    ["varint longer than 10 bytes", [0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ["metadata entry with a truncated value", [0x42, 0x04, 0x12, 0x05, 0x61, 0x62]],
    ["metadata entry whose key has the wrong wire type", [0x42, 0x02, 0x08, 0x01]],
  ];
  for (const [name, bytes] of cases) {
    try {
      decodeAll(Uint8Array.from(bytes));
      assert.unreachable(`${name} should not decode`);
    } catch (error) {
      assert.ok(ProtocolError.is(error), `${name}: ${String(error)}`);
      assert.is((error as ProtocolError).code, "FRAME-6", `${name}: ${(error as Error).message}`);
    }
  }
});

test("[ID-4] [FRAME-6] a request id above 2^53-1 makes the header undecodable; 2^53-1 itself is accepted", () => {
  const max = concat(Uint8Array.of(0x10), varint(Number.MAX_SAFE_INTEGER));
  assert.is(decodeAll(max).requestId, Number.MAX_SAFE_INTEGER);
  // 2^53, written as protobuf would: 7-bit groups of the exact value.
  const over = Uint8Array.of(0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10);
  expectProtocolError(over, "FRAME-6");
  const maxUint64 = Uint8Array.of(0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
  expectProtocolError(maxUint64, "FRAME-6");
});

test("[FRAME-6] a tag value above 2^32-1 is undecodable; uint32 fields keep their low 32 bits", () => {
  // 88 80 80 80 10 is the type tag (0x08) plus 2^32: not a valid tag.
  expectProtocolError(Uint8Array.of(0x88, 0x80, 0x80, 0x80, 0x10, 0x01), "FRAME-6");
  // The largest valid tag: field 2^29-1, wire type 0; skipped as unknown.
  assert.is(decodeAll(Uint8Array.of(0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x08, 0x02)).type, 2);
  // body_size written as 2^32 + 5 reads as 5, as in every protobuf implementation.
  const bodySize = concat(Uint8Array.of(0x18), varint(2 ** 32 + 5));
  assert.is(decodeAll(bodySize).bodySize, 5);
  assert.is(fromBinary(FrameHeaderSchema, bodySize).bodySize, 5);
});

test("[FRAME-6] a length varint above 2^32-1 runs past the header, whatever its low 32 bits say", () => {
  checkProperty(
    fc.property(
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: 1, max: 2 ** 21 - 1 }),
      fc.constantFrom(0x22, 0x2a, 0x42, 0x4a, 0x62, 0x72, 0xfa /* unknown field 31 */),
      (low, high, tag) => {
        // Low 32 bits `low` (room for them follows), plus high * 2^32.
        const value = low + high * 2 ** 32;
        const field = concat(Uint8Array.of(tag), varint(value), new Uint8Array(low).fill(0x61));
        expectProtocolError(concat(Uint8Array.of(0x08, 0x02, 0x10, 0x01), field), "FRAME-6");
        // Inside a metadata entry, too.
        const entry = concat(Uint8Array.of(0x0a), varint(value), new Uint8Array(low).fill(0x61));
        expectProtocolError(concat(Uint8Array.of(0x42), varint(entry.length), entry), "FRAME-6");
      },
    ),
    { numRuns: 300 },
  );
});

test("[FRAME-6] random bytes either decode or fail with a ProtocolError, never anything else", () => {
  checkProperty(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        decodeAll(bytes);
      } catch (error) {
        assert.ok(ProtocolError.is(error), `unexpected ${String(error)} for ${hex(bytes)}`);
      }
    }),
    { numRuns: 5000 },
  );
});

test("[FRAME-6] a header cut short inside a field never decodes as something else silently", () => {
  checkProperty(
    fc.property(anyHeader, fc.nat(), (header, cut) => {
      const service = header.service + "svc";
      const bytes = encodeHeader({ ...header, service });
      // Fields are written in number order: type, request id, body size, then service.
      const start = encodeHeader({ type: header.type, requestId: header.requestId, bodySize: header.bodySize }).length;
      assert.is(bytes[start], 0x22);
      const length = new TextEncoder().encode(service).length;
      fc.pre(length < 0x80);
      const at = start + 2 + (cut % length);
      expectProtocolError(bytes.subarray(0, at), "FRAME-6");
    }),
    { numRuns: 500 },
  );
});

test("[CONV-1] the string cache returns each name's own string, also for names that share its slot (same length and the same bytes where it looks), and undefined for invalid UTF-8", () => {
  const utf8 = new TextEncoder();
  const strict = new TextDecoder("utf-8", { fatal: true });
  checkProperty(
    fc.property(
      // A name up to past the cached length, and variants that differ from it only in bytes the slot choice ignores.
      fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 40 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0x20, max: 0xff })), { maxLength: 6 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 30 }),
      (name, changes, order) => {
        const base = utf8.encode(name);
        const length = base.length;
        const looked = new Set([0, length - 1, length >>> 1, length - 2 + (length === 1 ? 1 : 0)]);
        const names = [base];
        for (const [at, byte] of changes) {
          const variant = base.slice();
          const position = at % length;
          if (looked.has(position)) continue;
          variant[position] = byte;
          names.push(variant);
        }
        // Each at an offset of its own in a larger buffer, decoded in an arbitrary interleaving.
        for (const pick of order) {
          const bytes = names[pick % names.length]!;
          const buf = new Uint8Array(bytes.length + 7);
          buf.set(bytes, 3);
          let expected: string | undefined;
          try {
            expected = strict.decode(bytes);
          } catch {
            expected = undefined;
          }
          assert.is(readCachedUtf8(buf, 3, 3 + bytes.length), expected);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test.run();
