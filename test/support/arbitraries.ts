// Generators of frame structures for property tests: structures first, bytes
// later, so that shrinking yields small readable counterexamples.
import fc from "fast-check";
import type { FrameHeader } from "../../src/wire/index.ts";
import { lengthUpTo } from "../../conformance/runner/sizes.ts";

export { lengthUpTo };

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

/** The default max_header_size [HELLO-6]: no header field can be larger on a default connection. */
export const DEFAULT_MAX_HEADER = 16384;

/** Bytes of any length up to `max` (see lengthUpTo): a short random pattern repeated. */
export function bytesUpTo(max: number): fc.Arbitrary<Uint8Array> {
  return fc.tuple(lengthUpTo(max), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([n, pattern]) => {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = pattern[i % pattern.length]!;
    return bytes;
  });
}

/** Strings from `text` stretched to any length up to `max` UTF-16 units (see lengthUpTo). */
export function textUpTo(text: fc.Arbitrary<string>, max: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: text },
    { weight: 1, arbitrary: fc.tuple(lengthUpTo(max), text).map(([n, s]) => (s === "" ? "a" : s).repeat(Math.ceil(n / Math.max(1, s.length))).slice(0, n)) },
  );
}

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
    service: textUpTo(text, 1024),
    method: textUpTo(text, 1024),
    callMode: int32Enum,
    timeoutMs: fc.option(uint32, { nil: undefined }),
    // Values up to the default header limit, keys to a few hundred units:
    // together they reach headers of several times that limit.
    metadata: fc.array(fc.record({ key: textUpTo(text, 300), value: bytesUpTo(DEFAULT_MAX_HEADER) }), { maxLength: 4 }),
    keys: fc.array(textUpTo(text, 300), { maxLength: 17 }),
    compression: int32Enum,
    dispatchCode: int32Enum,
    dispatchMessage: textUpTo(text, 4096),
    appCode: uint32,
    appMessage: textUpTo(text, 4096),
    methodRef: uint32,
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
