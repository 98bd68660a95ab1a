// gzip bodies (RFC 1952) [COMP-3]: decompression bounded by a size limit, so
// that a decompression bomb is refused as soon as it exceeds the limit
// [COMP-5], with every RFC 1952 error, and bytes after the first member,
// refused [COMP-6]. Uses the web-standard DecompressionStream, present on
// Node, Bun, Deno and browsers.

/** Why a gzip body was refused. */
export type GunzipFailure = "too-large" | "corrupt";

/** The result of decompressing a body: its bytes, or why not. */
export type GunzipResult = { ok: true; bytes: Uint8Array } | { ok: false; failure: GunzipFailure; detail: string };

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 as gzip computes it (RFC 1952 section 8). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * Decompresses one gzip member of at most `maxSize` bytes of output. Stops
 * reading as soon as the output passes `maxSize` [COMP-5]. A body holding
 * more than one member fails as corrupt: its trailer's CRC-32 and size then
 * describe only the last member, not the whole output [COMP-6].
 */
export async function gunzip(body: Uint8Array, maxSize: number): Promise<GunzipResult> {
  if (body.length < 18 || body[0] !== 0x1f || body[1] !== 0x8b || body[2] !== 8) {
    return { ok: false, failure: "corrupt", detail: "not a gzip member (RFC 1952 header)" };
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  let crc = 0;
  const reader = new Blob([body as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip")).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxSize) {
        await reader.cancel().catch(() => {});
        return { ok: false, failure: "too-large", detail: `more than ${maxSize} bytes once decompressed` };
      }
      crc = crc32(value, crc);
      chunks.push(value);
    }
  } catch (error) {
    return { ok: false, failure: "corrupt", detail: `gzip error: ${(error as Error).message}` };
  }
  const end = body.length;
  const trailerCrc = (body[end - 8]! | (body[end - 7]! << 8) | (body[end - 6]! << 16) | (body[end - 5]! << 24)) >>> 0;
  const trailerSize = (body[end - 4]! | (body[end - 3]! << 8) | (body[end - 2]! << 16) | (body[end - 1]! << 24)) >>> 0;
  if (trailerCrc !== crc || trailerSize !== size % 0x100000000) {
    return { ok: false, failure: "corrupt", detail: "bytes after the first gzip member" };
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return { ok: true, bytes };
}
