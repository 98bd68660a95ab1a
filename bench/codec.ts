// `npm run bench:codec`: the hand header codec against protobuf-es
// toBinary / fromBinary on a typical request header, and the body codec
// (message-encoder.ts, message-decoder.ts) against them on the bench's
// 64-byte echo request, in ns/op, measured in the same process and run. A benchmark, not a test: it asserts nothing
// about time. `--smoke` runs a few iterations only, to show it works.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FrameHeaderSchema } from "../src/gen/strata/v1/frame_pb.ts";
import { BenchEchoRequestSchema } from "../test/gen/stratatest/v1/testing_pb.ts";
import { CallMode, decodeHeader, decodeMessage, encodeFrame, encodeHeader, encodeMessage, FrameType, type FrameHeaderInit } from "../src/wire/index.ts";
import { runtimeName } from "./runtime.ts";

const utf8 = new TextEncoder();

/** A typical request header: 16-char service, 8-char method, 64-bit id, timeout, two metadata entries. */
const header: FrameHeaderInit = {
  type: FrameType.REQUEST,
  requestId: 2 ** 40 + 12345,
  bodySize: 256,
  service: "acme.wallet.v1.W",
  method: "Transfer",
  callMode: CallMode.UNARY,
  timeoutMs: 3000,
  metadata: [
    { key: "trace-id", value: utf8.encode("4bf92f3577b34da6") },
    { key: "tenant", value: utf8.encode("eu-west") },
  ],
};
const message = create(FrameHeaderSchema, {
  ...header,
  requestId: BigInt(header.requestId!),
  metadata: header.metadata!.map((e) => ({ key: e.key, value: e.value })),
});
const bytes = encodeHeader(header);
if (Buffer.compare(bytes, toBinary(FrameHeaderSchema, message)) !== 0) {
  throw new Error("hand codec and protobuf-es disagree on the benchmark header");
}

/** A request body as the bench sends it: 64 bytes of payload. */
const payload = new Uint8Array(64).fill(7);
const body = toBinary(BenchEchoRequestSchema, create(BenchEchoRequestSchema, { payload }));
if (Buffer.compare(encodeMessage(BenchEchoRequestSchema, { payload }), body) !== 0) {
  throw new Error("body encoder and protobuf-es disagree on the benchmark body");
}

let sink = 0;
const cases: Record<string, () => void> = {
  "hand encode": () => { sink += encodeHeader(header).length; },
  "hand encodeFrame (no body)": () => { sink += encodeFrame(header).length; },
  "hand decode": () => { sink += decodeHeader(bytes, 0, bytes.length).requestId; },
  "hand encode+decode": () => { const b = encodeHeader(header); sink += decodeHeader(b, 0, b.length).bodySize; },
  "protobuf-es toBinary": () => { sink += toBinary(FrameHeaderSchema, message).length; },
  "protobuf-es fromBinary": () => { sink += fromBinary(FrameHeaderSchema, bytes).bodySize; },
  "protobuf-es encode+decode": () => { sink += fromBinary(FrameHeaderSchema, toBinary(FrameHeaderSchema, message)).bodySize; },
  "body encodeMessage (64 B payload)": () => { sink += encodeMessage(BenchEchoRequestSchema, { payload }).length; },
  "body protobuf-es toBinary(create())": () => { sink += toBinary(BenchEchoRequestSchema, create(BenchEchoRequestSchema, { payload })).length; },
  "body decodeMessage": () => { sink += decodeMessage(BenchEchoRequestSchema, body).payload.length; },
  "body protobuf-es fromBinary": () => { sink += fromBinary(BenchEchoRequestSchema, body).payload.length; },
};

/** Median ns/op over several timed rounds, after a warm-up round. */
function measure(fn: () => void, smoke: boolean): number {
  const iterations = smoke ? 1000 : 200_000;
  const rounds = smoke ? 2 : 9;
  const samples: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    const ns = Number(process.hrtime.bigint() - start) / iterations;
    if (round > 0) samples.push(ns); // round 0 warms up
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/** The header's size in bytes. */
export const HEADER_BYTES = bytes.length;

/** ns/op of each case, hand codec and protobuf-es, measured now. */
export function measureHeaderCodec(smoke: boolean): Record<string, number> {
  const results: Record<string, number> = {};
  for (const [name, fn] of Object.entries(cases)) results[name] = measure(fn, smoke);
  if (sink === 0) console.log("");
  return results;
}

if (process.argv[1]?.endsWith("codec.ts")) {
  const smoke = process.argv.includes("--smoke");
  const results = measureHeaderCodec(smoke);
  console.log(`Header codec, ${bytes.length}-byte request header, ${runtimeName()}${smoke ? " (smoke run: figures are meaningless)" : ""}`);
  console.log("case                                  ns/op");
  for (const [name, ns] of Object.entries(results)) console.log(`${name.padEnd(36)} ${ns.toFixed(1).padStart(7)}`);
  const ratio = (a: string, b: string) => (results[b]! / results[a]!).toFixed(1);
  console.log(`\nhand codec speed-up over protobuf-es (same run): encode ${ratio("hand encode", "protobuf-es toBinary")}x, ` +
    `decode ${ratio("hand decode", "protobuf-es fromBinary")}x, encode+decode ${ratio("hand encode+decode", "protobuf-es encode+decode")}x`);
  console.log(`target: hand encode+decode <= 500 ns/op: ${results["hand encode+decode"]! <= 500 ? "met" : "not met"} (${results["hand encode+decode"]!.toFixed(0)} ns)`);
}
