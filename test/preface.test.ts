// The connection preface and how a server tells a foreign peer from a
// Strata client. Cites [PREFACE-1] [PREFACE-2] [PREFACE-3] [PREFACE-4].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { encodePreface, httpRefusal, PREFACE_MAGIC, PROTOCOL_VERSION, readPreface } from "../src/wire/index.ts";
import { checkProperty } from "./support/property.ts";
import { hex } from "./support/proto-convert.ts";

const test = suite("preface");
const ascii = (text: string) => new TextEncoder().encode(text);

test("[PREFACE-1] the v1 preface is STRATA then 00 01", () => {
  assert.is(hex(encodePreface()), "53 54 52 41 54 41 00 01");
  assert.is(PROTOCOL_VERSION, 1);
  assert.equal(readPreface(encodePreface()), { kind: "preface", version: 1 });
});

test("[PREFACE-4] the version is read as a big-endian u16, whatever its value", () => {
  checkProperty(
    fc.property(fc.integer({ min: 0, max: 0xffff }), (version) => {
      assert.equal(readPreface(encodePreface(version)), { kind: "preface", version });
    }),
  );
});

test("[PREFACE-2] every strict prefix of a preface asks for more bytes", () => {
  const preface = encodePreface();
  for (let n = 0; n < preface.length; n++) {
    assert.equal(readPreface(preface.subarray(0, n)), { kind: "incomplete" }, `after ${n} bytes`);
  }
});

test("[PREFACE-2] a mismatch is decided at the first differing byte, without waiting for more", () => {
  assert.equal(readPreface(Uint8Array.of(0x00)), { kind: "foreign" }); // an old-style client's size prefix
  assert.equal(readPreface(Uint8Array.of(0x53, 0x54, 0x00)), { kind: "foreign" });
  assert.equal(readPreface(Uint8Array.of(0x16)), { kind: "tls" });
  assert.equal(readPreface(Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00)), { kind: "tls" });
  checkProperty(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 16 }), (bytes) => {
      const isMagicPrefix = Array.from(bytes.subarray(0, PREFACE_MAGIC.length)).every((b, i) => b === PREFACE_MAGIC[i]);
      fc.pre(!isMagicPrefix);
      assert.not.equal(readPreface(bytes).kind, "incomplete");
      assert.not.equal(readPreface(bytes).kind, "preface");
    }),
    { numRuns: 2000 },
  );
});

test("[PREFACE-3] an HTTP request line is recognised; the refusal is one complete HTTP/1.1 400 response", () => {
  for (const line of ["GET / HTTP/1.1\r\n", "POST /rpc HTTP/1.1\r\n", "PRI * HTTP/2.0\r\n", "OPTIONS * HTTP/1.0\r\n"]) {
    assert.equal(readPreface(ascii(line)), { kind: "http" }, line);
  }
  assert.equal(readPreface(ascii("SEARCH / HTTP/1.1")), { kind: "http" });
  const text = new TextDecoder().decode(httpRefusal());
  assert.ok(text.startsWith("HTTP/1.1 400 "));
  assert.ok(text.includes("\r\nConnection: close\r\n"));
  const [head, body] = text.split("\r\n\r\n");
  const length = Number(/Content-Length: (\d+)/.exec(head!)![1]);
  assert.is(new TextEncoder().encode(body).length, length);
});

test.run();
