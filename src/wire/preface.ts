// The connection preface: 8 bytes, "STRATA" then the protocol version as a
// big-endian u16. Its layout is the same in every version, so that a version
// mismatch can always be told apart from a foreign protocol [PREFACE-1].

/** The magic bytes, ASCII "STRATA" [PREFACE-1]. */
export const PREFACE_MAGIC: Uint8Array = new Uint8Array([0x53, 0x54, 0x52, 0x41, 0x54, 0x41]);

/** The length of the preface in bytes [PREFACE-1]. */
export const PREFACE_SIZE = 8;

/** The protocol version this implementation speaks [PREFACE-4]. */
export const PROTOCOL_VERSION = 1;

/** Encodes the 8-byte preface carrying `version` [PREFACE-1]. */
export function encodePreface(version: number = PROTOCOL_VERSION): Uint8Array {
  const bytes = new Uint8Array(PREFACE_SIZE);
  bytes.set(PREFACE_MAGIC, 0);
  bytes[6] = (version >>> 8) & 0xff;
  bytes[7] = version & 0xff;
  return bytes;
}

/** What the first bytes of a connection are, as far as they tell. */
export type PrefaceResult =
  /** A prefix of a valid preface: read more. */
  | { kind: "incomplete" }
  /** A whole preface carrying `version`. */
  | { kind: "preface"; version: number }
  /** Not Strata, and the start of an HTTP/1.x request line [PREFACE-3]. */
  | { kind: "http" }
  /** Not Strata, and a TLS handshake record [PREFACE-2]. */
  | { kind: "tls" }
  /** Not Strata, and nothing recognised, e.g. an old-style client [PREFACE-2]. */
  | { kind: "foreign" };

const HTTP_REQUEST_LINE = /^[A-Z]{1,20} /;

/**
 * Classifies the bytes received so far at the start of a connection. Decides
 * at the first byte that differs from the magic, so that a foreign peer is
 * refused without waiting for more bytes. Implements [PREFACE-2] [PREFACE-4].
 */
export function readPreface(received: Uint8Array): PrefaceResult {
  const n = Math.min(received.length, PREFACE_MAGIC.length);
  for (let i = 0; i < n; i++) {
    if (received[i] !== PREFACE_MAGIC[i]) return classifyForeign(received);
  }
  if (received.length < PREFACE_SIZE) return { kind: "incomplete" };
  return { kind: "preface", version: (received[6]! << 8) | received[7]! };
}

function classifyForeign(received: Uint8Array): PrefaceResult {
  if (received[0] === 0x16 && (received.length < 2 || received[1] === 0x03)) return { kind: "tls" };
  const head = String.fromCharCode(...received.subarray(0, 21));
  if (HTTP_REQUEST_LINE.test(head)) return { kind: "http" };
  return { kind: "foreign" };
}

/**
 * The one HTTP/1.1 response a server may write to a peer that sent an HTTP
 * request, before it closes the connection [PREFACE-3].
 */
export function httpRefusal(): Uint8Array {
  const body = "This port speaks Strata RPC, not HTTP. See spec/protocol.md.\n";
  const text =
    "HTTP/1.1 400 Bad Request\r\n" +
    "Connection: close\r\n" +
    "Content-Type: text/plain; charset=utf-8\r\n" +
    `Content-Length: ${body.length}\r\n` +
    "\r\n" +
    body;
  return new TextEncoder().encode(text);
}
