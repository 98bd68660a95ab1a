// HELLO and GOAWAY bodies, and how declared limits resolve.
// Cites [HELLO-4] [HELLO-6] [LIMIT-1] [DRAIN-1] [ID-4].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { create, toBinary } from "@bufbuild/protobuf";
import { GoawaySchema } from "../src/gen/strata/v1/frame_pb.ts";
import {
  BASELINE_LIMITS,
  Compression,
  decodeGoaway,
  decodeHello,
  DEFAULT_LIMITS,
  encodeGoaway,
  encodeHello,
  GoawayCode,
  ProtocolError,
  resolveFrameLimits,
} from "../src/wire/index.ts";
import { checkProperty } from "./support/property.ts";

const test = suite("connection bodies");

test("[HELLO-1] a Hello survives encoding", () => {
  const body = encodeHello({ maxBodySize: 1 << 20, idleTimeoutMs: 60000, compression: [Compression.GZIP], features: ["keyed-dispatch"], agent: "strata-ts/test" });
  const hello = decodeHello(body);
  assert.is(hello.maxBodySize, 1 << 20);
  assert.is(hello.idleTimeoutMs, 60000);
  assert.equal(hello.compression, [Compression.GZIP]);
  assert.equal(hello.features, ["keyed-dispatch"]);
});

test("[HELLO-4] a HELLO body that does not decode is a protocol error", () => {
  for (const bytes of [[0x0a, 0x05, 0x01], [0x08], [0x4a, 0x02, 0xff, 0xfe]]) {
    try {
      decodeHello(Uint8Array.from(bytes));
      assert.unreachable("decoded");
    } catch (error) {
      assert.ok(ProtocolError.is(error));
      assert.is((error as ProtocolError).code, "HELLO-4");
    }
  }
});

test("[HELLO-4] [FRAME-6] a known Hello field with the wrong wire type is undecodable, though protobuf-es accepts it", () => {
  for (const bytes of [[0x0a, 0x01, 0x05], [0x48, 0x00], [0x0d, 1, 2, 3, 4], [0x88, 0x80, 0x80, 0x80, 0x10, 0x01]]) {
    assert.throws(() => decodeHello(Uint8Array.from(bytes)), (e: unknown) => (e as ProtocolError).code === "HELLO-4", `${bytes}`);
  }
  // Both encodings of the repeated enum are valid: packed and one value per tag.
  assert.equal(decodeHello(Uint8Array.of(0x3a, 0x01, 0x01)).compression, [Compression.GZIP]);
  assert.equal(decodeHello(Uint8Array.of(0x38, 0x01)).compression, [Compression.GZIP]);
  // Unknown fields are skipped.
  assert.is(decodeHello(Uint8Array.of(0xa0, 0x06, 0x01, 0x08, 0x80, 0x40)).maxHeaderSize, 8192);
});

test("[HELLO-6] [LIMIT-1] zero means the default; values below the baseline count as the baseline", () => {
  assert.equal(resolveFrameLimits({ maxHeaderSize: 0, maxBodySize: 0 }), DEFAULT_LIMITS);
  assert.equal(resolveFrameLimits({ maxHeaderSize: 1, maxBodySize: 1 }), BASELINE_LIMITS);
  checkProperty(
    fc.property(fc.nat(), fc.nat(), (maxHeaderSize, maxBodySize) => {
      const limits = resolveFrameLimits({ maxHeaderSize, maxBodySize });
      assert.ok(limits.maxHeaderSize >= BASELINE_LIMITS.maxHeaderSize);
      assert.ok(limits.maxBodySize >= BASELINE_LIMITS.maxBodySize);
      if (maxHeaderSize >= BASELINE_LIMITS.maxHeaderSize) assert.is(limits.maxHeaderSize, maxHeaderSize);
      if (maxBodySize >= BASELINE_LIMITS.maxBodySize) assert.is(limits.maxBodySize, maxBodySize);
    }),
  );
});

test("[DRAIN-1] a Goaway survives encoding, ids up to 2^53-1", () => {
  checkProperty(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 6 }), fc.string(), (id, code, message) => {
      const info = { lastRequestId: id, code: code as GoawayCode, message };
      assert.equal(decodeGoaway(encodeGoaway(info)), info);
    }),
  );
});

test("[DRAIN-11] [ID-4] an undecodable GOAWAY body, or one whose last request id is above 2^53-1, is a protocol error", () => {
  const body = toBinary(GoawaySchema, create(GoawaySchema, { lastRequestId: 2n ** 53n }));
  const isDrain11 = (e: unknown) => (e as ProtocolError).code === "DRAIN-11";
  assert.throws(() => decodeGoaway(body), isDrain11);
  assert.throws(() => decodeGoaway(Uint8Array.of(0x1a, 0x09)), isDrain11);
  assert.throws(() => decodeGoaway(Uint8Array.of(0x0a, 0x01, 0x05)), isDrain11); // last_request_id as bytes
  assert.throws(() => decodeGoaway(Uint8Array.of(0x18, 0x01)), isDrain11); // message as a varint
});

test.run();
