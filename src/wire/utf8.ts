// UTF-8 for header strings: exact byte lengths for sizing a frame before it
// is written, an encoder that writes in place, and a strict decoder.
// Encoding follows the WHATWG TextEncoder (a lone surrogate becomes U+FFFD),
// so the bytes equal those protobuf-es writes for the same string.

const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Longest ASCII run decoded by hand; longer strings go to TextDecoder. */
const SHORT_STRING = 48;

/** Returns the number of bytes `text` takes in UTF-8 [CONV-1]. */
export function utf8Length(text: string): number {
  const length = text.length;
  let bytes = length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      bytes += 1;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2; // 4 bytes for 2 UTF-16 units
        i++;
      } else {
        bytes += 2; // lone high surrogate: U+FFFD, 3 bytes
      }
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/** Writes `text` as UTF-8 at `pos` and returns the position after it [CONV-1]. */
export function writeUtf8(text: string, buf: Uint8Array, pos: number): number {
  const length = text.length;
  for (let i = 0; i < length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      buf[pos++] = c;
    } else if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6);
      buf[pos++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < length ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        buf[pos++] = 0xf0 | (c >> 18);
        buf[pos++] = 0x80 | ((c >> 12) & 0x3f);
        buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
        buf[pos++] = 0x80 | (c & 0x3f);
      } else {
        buf[pos++] = 0xef; // U+FFFD replaces a lone surrogate
        buf[pos++] = 0xbf;
        buf[pos++] = 0xbd;
      }
    } else {
      buf[pos++] = 0xe0 | (c >> 12);
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
      buf[pos++] = 0x80 | (c & 0x3f);
    }
  }
  return pos;
}

/**
 * Decodes `buf[start, end)` as UTF-8, or returns undefined if the bytes are
 * not valid UTF-8 [CONV-1].
 */
export function readUtf8(buf: Uint8Array, start: number, end: number): string | undefined {
  if (end - start <= SHORT_STRING) {
    let text = "";
    let i = start;
    for (; i < end; i++) {
      const b = buf[i]!;
      if (b >= 0x80) break;
      text += String.fromCharCode(b);
    }
    if (i === end) return text;
  }
  try {
    return strictDecoder.decode(buf.subarray(start, end));
  } catch {
    return undefined;
  }
}
