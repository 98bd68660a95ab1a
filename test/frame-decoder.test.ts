// The frame encoder and the incremental decoder: round trips, arbitrary
// chunking, and every malformed-input class. Cites [FRAME-1] [FRAME-2]
// [FRAME-3] [FRAME-4] [FRAME-5] [FRAME-6] [FRAME-8] [FRAME-9] [FRAME-10]
// [FRAME-11] [FRAME-12] [FRAME-13] [ID-2] [PING-1] [LIMIT-1] [LIMIT-6].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import {
  BASELINE_LIMITS,
  createFrameDecoder,
  DEFAULT_LIMITS,
  encodeFrame,
  encodeFrames,
  encodeHeader,
  FrameType,
  GoawayCode,
  ProtocolError,
  type Frame,
  type FrameLimits,
} from "../src/wire/index.ts";
import { validFrame } from "./support/arbitraries.ts";
import { checkProperty } from "./support/property.ts";
import { comparable, hex } from "./support/proto-convert.ts";

const test = suite("frame decoder");

/** Large enough for every header the generators make (metadata values up to 16 KiB, long strings). */
const LIMITS: FrameLimits = { maxHeaderSize: 256 * 1024, maxBodySize: 1 << 20 };

/** Splits `bytes` at the given cut points (any numbers; taken modulo the length). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(last, p));
    last = p;
  }
  chunks.push(bytes.subarray(last));
  return chunks;
}

function decodeChunks(chunks: Uint8Array[], limits: FrameLimits = LIMITS): Frame[] {
  const frames: Frame[] = [];
  const decoder = createFrameDecoder({ limits, onFrame: (f) => frames.push({ header: f.header, body: f.body.slice() }) });
  for (const chunk of chunks) decoder.push(chunk);
  decoder.end();
  return frames;
}

function same(actual: Frame[], expected: Array<{ header: object; body: Uint8Array }>): void {
  assert.is(actual.length, expected.length, "frame count");
  for (let i = 0; i < expected.length; i++) {
    assert.equal(comparable(actual[i]!.header), comparable(expected[i]!.header as never), `header of frame ${i}`);
    assert.is(hex(actual[i]!.body), hex(expected[i]!.body), `body of frame ${i}`);
  }
}

/** Expects pushing `chunks` (then end) to fail with `requirement`; returns the error. */
function expectViolation(chunks: Uint8Array[], requirement: string, limits: FrameLimits = LIMITS): ProtocolError {
  const decoder = createFrameDecoder({ limits, onFrame: () => {} });
  try {
    for (const chunk of chunks) decoder.push(chunk);
    decoder.end();
  } catch (error) {
    assert.ok(ProtocolError.is(error), `expected a ProtocolError, got ${String(error)}`);
    assert.is((error as ProtocolError).code, requirement, (error as Error).message);
    return error as ProtocolError;
  }
  throw new assert.Assertion({ message: `expected a violation of [${requirement}]`, generated: false, operator: "throws" } as never);
}

function u32be(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

function rawFrame(header: Uint8Array, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(4 + header.length + body.length);
  out.set(u32be(header.length), 0);
  out.set(header, 4);
  out.set(body, 4 + header.length);
  return out;
}

test("[FRAME-16] a frame that breaks several rules: the size limits are decided before the bytes they forbid are read", () => {
  const limits: FrameLimits = { maxHeaderSize: 64, maxBodySize: 1024 };
  // A header size over the limit, followed by bytes that are no header at all (0xff is no valid tag): FRAME-5, from the prefix alone.
  const tooLarge = expectViolation([u32be(65), new Uint8Array(65).fill(0xff)], "FRAME-5", limits);
  assert.is(tooLarge.goawayCode, GoawayCode.FRAME_TOO_LARGE);
  // A REQUEST with request id 0 ([ID-2]) and a body over the limit ([FRAME-10]), its body never sent:
  // either rule may be applied, and it is, before any of the forbidden body arrives.
  const header = encodeHeader({ type: FrameType.REQUEST, requestId: 0, bodySize: 4096, service: "s", method: "m" });
  const decoder = createFrameDecoder({ limits, onFrame: () => {} });
  let applied: ProtocolError | undefined;
  try {
    decoder.push(rawFrame(header).subarray(0, 4 + header.length));
  } catch (error) {
    applied = error as ProtocolError;
  }
  assert.ok(applied !== undefined && ProtocolError.is(applied), "a connection error at the header");
  assert.ok(["ID-2", "FRAME-10"].includes(applied!.code), `one of the rules broken, got ${applied!.code}`);
});

test("[FRAME-1] [FRAME-2] a frame is a big-endian header size, the header, then body_size bytes", () => {
  const body = Uint8Array.of(0x0a, 0x03, 0x41, 0x64, 0x61);
  const frame = encodeFrame({ type: FrameType.REQUEST, requestId: 1, service: "s", method: "m" }, body);
  const header = encodeHeader({ type: FrameType.REQUEST, requestId: 1, bodySize: 5, service: "s", method: "m" });
  assert.is(hex(frame.subarray(0, 4)), hex(u32be(header.length)));
  assert.is(hex(frame.subarray(4, 4 + header.length)), hex(header));
  assert.is(hex(frame.subarray(4 + header.length)), hex(body));
});

test("[FRAME-1] round trip: any valid frame decodes to what was encoded", () => {
  checkProperty(
    fc.property(validFrame, (frame) => {
      same(decodeChunks([encodeFrame(frame.header, frame.body)]), [frame]);
    }),
    { numRuns: 1000 },
  );
});

test("[FRAME-3] any chunking of a frame sequence yields the same frames", () => {
  checkProperty(
    fc.property(
      fc.array(validFrame, { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (frames, cuts) => {
        const stream = encodeFrames(frames);
        same(decodeChunks(split(stream, cuts)), frames);
      },
    ),
    { numRuns: 500 },
  );
});

test("[FRAME-3] one byte at a time, and many frames in one chunk", () => {
  checkProperty(
    fc.property(fc.array(validFrame, { minLength: 1, maxLength: 5 }), (frames) => {
      const stream = encodeFrames(frames);
      same(decodeChunks(Array.from(stream, (b) => Uint8Array.of(b))), frames);
      same(decodeChunks([stream]), frames);
    }),
    { numRuns: 200 },
  );
});

test("[FRAME-13] encodeFrames is the concatenation of encodeFrame", () => {
  checkProperty(
    fc.property(fc.array(validFrame, { maxLength: 4 }), (frames) => {
      const parts = frames.map((f) => hex(encodeFrame(f.header, f.body)));
      assert.is(hex(encodeFrames(frames)), parts.filter((p) => p).join(" "));
    }),
    { numRuns: 200 },
  );
});

test("[FRAME-1] frames of every size stay intact when later frames are encoded (shared buffers)", () => {
  checkProperty(
    fc.property(
      fc.array(fc.tuple(validFrame, fc.integer({ min: 0, max: 20000 })), { minLength: 20, maxLength: 60 }),
      (cases) => {
        // Bodies up to 20000 bytes make the encoder cross its 64 KiB buffer slabs many times.
        const frames = cases.map(([frame, size]) => {
          const body = frame.header.type === FrameType.PING ? frame.body : new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
          return { header: { ...frame.header, bodySize: body.length }, body };
        });
        const encoded = frames.map((f) => encodeFrame(f.header, f.body));
        const decoded = encoded.flatMap((bytes) => decodeChunks([bytes], LIMITS));
        same(decoded, frames);
      },
    ),
    { numRuns: 30 },
  );
});

test("[FRAME-4] header size 0 is a protocol error", () => {
  const error = expectViolation([u32be(0)], "FRAME-4");
  assert.is(error.goawayCode, GoawayCode.PROTOCOL_ERROR);
});

test("[FRAME-5] header size over the limit fails from the 4 size bytes alone, before any allocation", () => {
  for (const size of [0xffffffff, LIMITS.maxHeaderSize + 1]) {
    const decoder = createFrameDecoder({ limits: LIMITS, onFrame: () => {} });
    try {
      decoder.push(u32be(size));
      assert.unreachable("no error after the size prefix");
    } catch (error) {
      assert.is((error as ProtocolError).code, "FRAME-5");
      assert.is((error as ProtocolError).goawayCode, GoawayCode.FRAME_TOO_LARGE);
    }
    assert.is(decoder.buffered, 0, "nothing buffered after the failure");
  }
  // Exactly at the limit is fine (the header then has to decode).
  const header = encodeHeader({ type: FrameType.PING, service: "x".repeat(100) });
  decodeChunks([rawFrame(header)], { maxHeaderSize: header.length, maxBodySize: 0 });
});

test("[FRAME-6] a header that does not decode is a protocol error", () => {
  expectViolation([rawFrame(Uint8Array.of(0x22, 0x09, 0x61))], "FRAME-6");
  expectViolation([rawFrame(Uint8Array.of(0xff, 0xff, 0xff))], "FRAME-6");
});

test("[FRAME-8] a frame without a type is a protocol error", () => {
  expectViolation([rawFrame(Uint8Array.of(0x10, 0x01))], "FRAME-8");
  expectViolation([rawFrame(Uint8Array.of(0x08, 0x00, 0x10, 0x01))], "FRAME-8");
});

test("[FRAME-9] a frame of an unknown type is delivered whole, so the connection can skip it", () => {
  const unknown = encodeFrame({ type: 42 as never, requestId: 7 }, Uint8Array.of(1, 2, 3));
  const ping = encodeFrame({ type: FrameType.PING }, Uint8Array.of(9));
  const frames = decodeChunks([unknown, ping]);
  assert.is(frames.length, 2);
  assert.is(frames[0]!.header.type, 42);
  assert.is(hex(frames[0]!.body), "01 02 03");
  assert.is(frames[1]!.header.type, FrameType.PING);
});

test("[FRAME-10] body size over the limit fails right after the header, before any body byte", () => {
  const header = encodeHeader({ type: FrameType.REQUEST, requestId: 1, bodySize: LIMITS.maxBodySize + 1 });
  const decoder = createFrameDecoder({ limits: LIMITS, onFrame: () => {} });
  try {
    decoder.push(rawFrame(header));
    assert.unreachable("no error after the header");
  } catch (error) {
    assert.is((error as ProtocolError).code, "FRAME-10");
    assert.is((error as ProtocolError).goawayCode, GoawayCode.FRAME_TOO_LARGE);
  }
  const huge = encodeHeader({ type: FrameType.REQUEST, requestId: 1, bodySize: 0xffffffff });
  expectViolation([rawFrame(huge)], "FRAME-10");
});

test("[FRAME-11] unknown header fields are ignored", () => {
  const known = encodeHeader({ type: FrameType.CANCEL, requestId: 5 });
  const withUnknown = Uint8Array.from([...known, 0xf8, 0x3e, 0x01, 0xba, 0x3e, 0x02, 0x68, 0x69]);
  const [frame] = decodeChunks([rawFrame(withUnknown)]);
  assert.is(frame!.header.type, FrameType.CANCEL);
  assert.is(frame!.header.requestId, 5);
});

test("[FRAME-12] EOF inside a frame, at every position, is reported and the partial frame is never delivered", () => {
  const stream = encodeFrame({ type: FrameType.REQUEST, requestId: 3, service: "svc", method: "m" }, Uint8Array.of(1, 2, 3));
  for (let cut = 1; cut < stream.length; cut++) {
    const delivered: Frame[] = [];
    const decoder = createFrameDecoder({ limits: LIMITS, onFrame: (f) => delivered.push(f) });
    decoder.push(stream.subarray(0, cut));
    try {
      decoder.end();
      assert.unreachable(`no error for EOF after ${cut} bytes`);
    } catch (error) {
      assert.is((error as ProtocolError).code, "FRAME-12");
      assert.is((error as ProtocolError).goawayCode, undefined, "a lost connection sends no GOAWAY");
    }
    assert.is(delivered.length, 0);
  }
});

test("[ID-2] connection-level frames need id 0, request-level frames an id of 1 or more", () => {
  for (const type of [FrameType.HELLO, FrameType.PING, FrameType.PONG, FrameType.GOAWAY]) {
    expectViolation([encodeFrame({ type, requestId: 1 })], "ID-2");
  }
  for (const type of [FrameType.REQUEST, FrameType.RESPONSE, FrameType.ACK, FrameType.CANCEL]) {
    expectViolation([encodeFrame({ type, requestId: 0 })], "ID-2");
  }
});

test("[PING-1] a PING payload over 64 bytes is a protocol error; 64 is fine", () => {
  expectViolation([encodeFrame({ type: FrameType.PING }, new Uint8Array(65))], "PING-1");
  assert.is(decodeChunks([encodeFrame({ type: FrameType.PING }, new Uint8Array(64))]).length, 1);
});

test("[HELLO-6] without limits the decoder enforces those a HELLO with zeros declares", () => {
  const decoder = createFrameDecoder({ onFrame: () => {} });
  assert.equal(decoder.limits, DEFAULT_LIMITS);
  decoder.push(encodeFrame({ type: FrameType.PING, service: "x".repeat(BASELINE_LIMITS.maxHeaderSize) }));
  expectViolation([u32be(DEFAULT_LIMITS.maxHeaderSize + 1)], "FRAME-5", DEFAULT_LIMITS);
});

test("frames before a violation in the same chunk are delivered; afterwards the decoder stays failed", () => {
  const good = encodeFrame({ type: FrameType.PING }, Uint8Array.of(1));
  const delivered: Frame[] = [];
  const decoder = createFrameDecoder({ limits: LIMITS, onFrame: (f) => delivered.push(f) });
  let first: unknown;
  try {
    decoder.push(Uint8Array.from([...good, 0, 0, 0, 0]));
  } catch (error) {
    first = error;
  }
  assert.is(delivered.length, 1);
  assert.is((first as ProtocolError).code, "FRAME-4");
  assert.throws(() => decoder.push(good), (e: unknown) => e === first);
  assert.is(delivered.length, 1);
});

test("[LIMIT-6] arbitrary bytes in arbitrary chunks: only frames or ProtocolErrors, and bounded buffering", () => {
  const limits = { maxHeaderSize: 64, maxBodySize: 256 };
  checkProperty(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 10 }), (chunks) => {
      const decoder = createFrameDecoder({ limits, onFrame: () => {} });
      try {
        for (const chunk of chunks) {
          decoder.push(chunk);
          assert.ok(decoder.buffered <= 4 + limits.maxHeaderSize + limits.maxBodySize);
        }
      } catch (error) {
        assert.ok(ProtocolError.is(error), `unexpected ${String(error)}`);
      }
    }),
    { numRuns: 3000 },
  );
});

test("an exception thrown by onFrame passes through unchanged and stops the decoder", () => {
  const boom = new Error("handler broke");
  const decoder = createFrameDecoder({ limits: LIMITS, onFrame: () => { throw boom; } });
  const ping = encodeFrame({ type: FrameType.PING });
  assert.throws(() => decoder.push(ping), (e: unknown) => e === boom);
  assert.throws(() => decoder.push(ping), (e: unknown) => e === boom);
});

test("[FRAME-20] discard() drops a partial frame, also when called from within onFrame: no frame after it, nothing kept, later pushes throw", () => {
  const seen: number[] = [];
  const decoder = createFrameDecoder({ limits: LIMITS, onFrame: (frame) => {
    seen.push(frame.header.requestId);
    if (frame.header.requestId === 2) decoder.discard();
  } });
  const ping = (id: number) => encodeFrame({ type: FrameType.CANCEL, requestId: id });
  const big = encodeFrame({ type: FrameType.RESPONSE, requestId: 4 }, new Uint8Array(1000));
  const chunk = new Uint8Array([...ping(1), ...ping(2), ...ping(3), ...big.subarray(0, 500)]);
  decoder.push(chunk);
  assert.equal(seen, [1, 2], "decoding ends with the frame that discarded");
  assert.is(decoder.takeRest(), undefined, "the rest of the chunk is not kept");
  assert.is(decoder.reserved, 0);
  assert.throws(() => decoder.push(ping(5)));
  // Outside onFrame: the partial body goes.
  const other = createFrameDecoder({ limits: LIMITS, onFrame: () => {} });
  other.push(big.subarray(0, 500));
  assert.ok(other.reserved > 0);
  other.discard();
  assert.is(other.reserved, 0);
  assert.is(other.buffered, 0);
});

test.run();
