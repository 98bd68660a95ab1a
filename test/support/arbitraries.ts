// Generators of frame structures for property tests: structures first, bytes
// later, so that shrinking yields small readable counterexamples.
import fc from "fast-check";
import type { FrameHeader } from "../../src/wire/index.ts";

/** Strings that stress UTF-8: ASCII, BMP, astral characters and lone surrogates, short and long. */
export const anyString: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
      { weight: 1, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)) },
      { weight: 1, arbitrary: fc.constantFrom("\ud800", "\udfff", " ", "\t", "\n", "é", "😀") },
    ),
    { maxLength: 60 },
  )
  .map((parts) => parts.join(""));

/** Strings as a well-behaved sender produces them: valid UTF-16, so they survive a round trip. */
export const wellFormedString: fc.Arbitrary<string> = anyString.map((s) => s.replace(/[\ud800-\udfff]/g, "\ufffd"));

const int32Enum = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: -2147483648, max: 2147483647 }) },
);

const uint32 = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 0xffffffff }));

const requestId = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 1000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 127, 128, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) },
);

/** Any header the proto allows, with every field free and strings drawn from `text`. */
export function headerWith(text: fc.Arbitrary<string>): fc.Arbitrary<FrameHeader> {
  return fc.record({
    type: int32Enum,
    requestId,
    bodySize: uint32,
    service: text,
    method: text,
    callMode: int32Enum,
    timeoutMs: fc.option(uint32, { nil: undefined }),
    metadata: fc.array(fc.record({ key: text, value: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 4 }),
    keys: fc.array(text, { maxLength: 4 }),
    compression: int32Enum,
    dispatchCode: int32Enum,
    dispatchMessage: text,
    appCode: uint32,
    appMessage: text,
  }) as fc.Arbitrary<FrameHeader>;
}

/** Any header whose strings survive a round trip (valid UTF-16). */
export const anyHeader: fc.Arbitrary<FrameHeader> = headerWith(wellFormedString);

/** Any header, strings including lone surrogates (encoded as U+FFFD, like TextEncoder). */
export const anyHeaderLoneSurrogates: fc.Arbitrary<FrameHeader> = headerWith(anyString);

/** Types of frames the decoder accepts, with request ids that fit them [ID-2]. */
export const validFrame: fc.Arbitrary<{ header: FrameHeader; body: Uint8Array }> = fc
  .tuple(
    anyHeader,
    fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 8, 42),
    fc.integer({ min: 1, max: 2 ** 40 }),
    fc.uint8Array({ maxLength: 300 }),
  )
  .map(([header, type, id, body]) => {
    const connectionLevel = type === 1 || type === 6 || type === 7 || type === 8;
    const fixedBody = type === 6 ? body.subarray(0, 64) : body;
    return {
      header: { ...header, type, requestId: connectionLevel ? 0 : id, bodySize: fixedBody.length } as FrameHeader,
      body: fixedBody,
    };
  });
