// `npm start`: encodes the first bytes a Strata client sends and a request
// frame, prints them annotated byte by byte, then decodes the stream again
// one byte at a time to show the incremental decoder.
import {
  annotateFrame,
  CallMode,
  createFrameDecoder,
  DEFAULT_LIMITS,
  encodeFrame,
  encodeHello,
  encodePreface,
  formatAnnotated,
  FrameType,
  frameTypeName,
  PROTOCOL_VERSION,
  type Frame,
} from "../src/wire/index.ts";

const utf8 = new TextEncoder();
const hexOf = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");

const preface = encodePreface();
const hello = encodeFrame(
  { type: FrameType.HELLO },
  encodeHello({ pingIntervalMs: 5000, agent: "strata-ts/demo" }),
);
// The body of a request is the method's input, here a message { string name = 1 } with "Ada".
const body = Uint8Array.of(0x0a, 0x03, ...utf8.encode("Ada"));
const request = encodeFrame(
  {
    type: FrameType.REQUEST,
    requestId: 1,
    service: "acme.greet.v1.GreeterService",
    method: "SayHello",
    callMode: CallMode.UNARY,
    timeoutMs: 1500,
    metadata: [{ key: "trace-id", value: utf8.encode("abc") }],
  },
  body,
);

console.log(`Strata RPC wire format, protocol version ${PROTOCOL_VERSION} (spec/protocol.md)\n`);
console.log(`Preface (8 bytes) [PREFACE-1]:\n0000  ${hexOf(preface)}   "STRATA", version ${PROTOCOL_VERSION}\n`);
console.log(`HELLO frame (${hello.length} bytes) [HELLO-1]:\n${formatAnnotated(annotateFrame(hello))}\n`);
console.log(`REQUEST frame (${request.length} bytes) [FRAME-1]:\n${formatAnnotated(annotateFrame(request))}\n`);

const stream = Uint8Array.from([...hello, ...request]);
const frames: Frame[] = [];
const decoder = createFrameDecoder({ limits: DEFAULT_LIMITS, onFrame: (f) => frames.push(f) });
for (const byte of stream) decoder.push(Uint8Array.of(byte));
decoder.end();
console.log(`Decoded again from ${stream.length} one-byte chunks [FRAME-3]:`);
for (const { header, body: b } of frames) {
  const what = header.type === FrameType.REQUEST ? ` ${header.service}/${header.method}, timeout ${header.timeoutMs} ms` : "";
  console.log(`  ${frameTypeName(header.type)} id ${header.requestId}${what}, body ${b.length} bytes`);
}
