// gzip bodies (RFC 1952) [COMP-3]: exactly one member, its header parsed
// here, its deflate data inflated by the runtime's native zlib (an injected
// RawInflater) with the output bounded by the body limit [COMP-5] and by the
// size the trailer declares [COMP-10], and its
// trailer checked here: CRC-32, ISIZE, and no byte after it [COMP-6].
// Without a native inflater (browsers), the web-standard DecompressionStream
// is used; it cannot tell where a member ends, so there a body is refused
// unless its last trailer describes the whole output.

/** Why a gzip body was refused. */
export type GunzipFailure = "too-large" | "corrupt";

/** The result of decompressing a body: its bytes, or why not. */
export type GunzipResult = { ok: true; bytes: Uint8Array } | { ok: false; failure: GunzipFailure; detail: string };

/**
 * Inflates raw deflate data, producing at most `maxOutput` bytes: resolves
 * with the output and the number of input bytes the deflate stream took
 * (bytes after its end are not consumed), `"too-large"` when the output
 * would pass `maxOutput`, or rejects when the data is not valid deflate.
 */
export type RawInflater = (data: Uint8Array, maxOutput: number) => Promise<{ output: Uint8Array; consumed: number } | "too-large">;

/**
 * Compresses bytes as raw deflate data (RFC 1951, no zlib or gzip framing),
 * e.g. node:zlib's deflateRaw; `gzip` adds the member's header and trailer.
 */
export type RawDeflater = (data: Uint8Array) => Promise<Uint8Array>;

/** CRC-32 lookup tables for 8 bytes at a time (slice-by-8): table k is for a byte k positions back. */
const CRC_TABLES = (() => {
  const tables = new Uint32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    tables[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n]!;
    for (let k = 1; k < 8; k++) {
      c = tables[c & 0xff]! ^ (c >>> 8);
      tables[k * 256 + n] = c >>> 0;
    }
  }
  return tables;
})();

/** CRC-32 as gzip computes it (RFC 1952 section 8), 8 bytes per step. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  const t = CRC_TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const lo = (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    c =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const RESERVED_FLAGS = 0xe0;

const corrupt = (detail: string): GunzipResult => ({ ok: false, failure: "corrupt", detail });

/** Parses a member's header (RFC 1952 2.3.1); returns where its deflate data starts, or why it is not a header. */
export function gzipDataStart(body: Uint8Array): number | string {
  if (body.length < 18 || body[0] !== 0x1f || body[1] !== 0x8b) return "not a gzip member (RFC 1952 header)";
  if (body[2] !== 8) return `compression method ${body[2]}, not deflate`;
  const flags = body[3]!;
  if ((flags & RESERVED_FLAGS) !== 0) return "reserved header flags set";
  let pos = 10;
  if (flags & FEXTRA) {
    if (pos + 2 > body.length) return "truncated header";
    pos += 2 + (body[pos]! | (body[pos + 1]! << 8));
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    while (pos < body.length && body[pos] !== 0) pos++;
    pos++; // the terminating zero
  }
  if (flags & FHCRC) {
    if (pos + 2 > body.length) return "truncated header";
    const expected = body[pos]! | (body[pos + 1]! << 8);
    if ((crc32(body.subarray(0, pos)) & 0xffff) !== expected) return "header CRC-16 mismatch";
    pos += 2;
  }
  return pos > body.length - 8 ? "truncated header" : pos;
}

/** The fixed 10-byte member header this encoder writes: deflate, no flags, no time, OS unknown. */
const GZIP_HEADER = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff);

/**
 * One gzip member (RFC 1952) holding `body` [COMP-3]: a 10-byte header,
 * the deflate data `deflate` makes, and the trailer with CRC-32 and ISIZE.
 */
export async function gzip(body: Uint8Array, deflate: RawDeflater): Promise<Uint8Array> {
  const data = await deflate(body);
  const member = new Uint8Array(GZIP_HEADER.length + data.length + 8);
  member.set(GZIP_HEADER);
  member.set(data, GZIP_HEADER.length);
  const view = new DataView(member.buffer, member.byteOffset, member.length);
  view.setUint32(member.length - 8, crc32(body), true);
  view.setUint32(member.length - 4, body.length % 0x100000000, true);
  return member;
}

function readU32le(body: Uint8Array, at: number): number {
  return (body[at]! | (body[at + 1]! << 8) | (body[at + 2]! << 16) | (body[at + 3]! << 24)) >>> 0;
}

/**
 * The size a gzip body declares it decompresses to: its trailer's ISIZE, the
 * last four bytes of a body that is one member [COMP-3]; 0 for a body too
 * short to have a trailer. Decompression never yields more [COMP-10].
 */
export function gzipDeclaredSize(body: Uint8Array): number {
  return body.length < 18 ? 0 : readU32le(body, body.length - 4);
}

/**
 * How a body that decompressed past `limit` is refused: past what its
 * trailer declares, it is corrupt (or over 4 GiB, as ISIZE counts modulo
 * 2^32, which is more than any max_body_size) [COMP-10]; else too large [COMP-5].
 */
function pastLimit(declared: number, maxSize: number): GunzipResult {
  if (declared < maxSize) return corrupt(`more than the ${declared} bytes its trailer declares (ISIZE)`);
  return { ok: false, failure: "too-large", detail: `more than ${maxSize} bytes once decompressed` };
}

/**
 * Decompresses a body that must be exactly one gzip member, producing at
 * most `maxSize` bytes, and no more than its trailer declares [COMP-3]
 * [COMP-5] [COMP-6] [COMP-10]: the header is parsed, the deflate data
 * inflated by `inflate` (native zlib), and the trailer's CRC-32 and ISIZE
 * checked; any byte after the trailer, a second member (also after an
 * empty one) included, makes the body corrupt.
 */
export async function gunzip(body: Uint8Array, maxSize: number, inflate?: RawInflater): Promise<GunzipResult> {
  if (inflate === undefined) return gunzipWithStreams(body, maxSize);
  const start = gzipDataStart(body);
  if (typeof start === "string") return corrupt(start);
  const declared = gzipDeclaredSize(body);
  const limit = Math.min(maxSize, declared);
  let inflated: Awaited<ReturnType<RawInflater>>;
  try {
    inflated = await inflate(body.subarray(start), limit);
  } catch (error) {
    return corrupt(`deflate error: ${(error as Error).message}`);
  }
  // An inflater may give a byte more than asked for when asked for none.
  if (inflated === "too-large" || inflated.output.length > limit) return pastLimit(declared, maxSize);
  const trailer = start + inflated.consumed;
  if (trailer + 8 > body.length) return corrupt("truncated member (no complete trailer)");
  if (trailer + 8 < body.length) return corrupt(`${body.length - trailer - 8} bytes after the first gzip member`);
  const { output } = inflated;
  if (readU32le(body, trailer + 4) !== output.length % 0x100000000) return corrupt("ISIZE does not match the decompressed size");
  if (readU32le(body, trailer) !== crc32(output)) return corrupt("CRC-32 does not match the decompressed data");
  return { ok: true, bytes: output };
}

/** The fallback without native zlib: DecompressionStream, bounded as it reads [COMP-5] [COMP-10]. */
async function gunzipWithStreams(body: Uint8Array, maxSize: number): Promise<GunzipResult> {
  const start = gzipDataStart(body);
  if (typeof start === "string") return corrupt(start);
  const declared = gzipDeclaredSize(body);
  const limit = Math.min(maxSize, declared);
  const chunks: Uint8Array[] = [];
  let size = 0;
  let crc = 0;
  const reader = new Blob([body as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip")).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        return pastLimit(declared, maxSize);
      }
      crc = crc32(value, crc);
      chunks.push(value);
    }
  } catch (error) {
    return corrupt(`gzip error: ${(error as Error).message}`);
  }
  const end = body.length;
  // Several members decompress as one: only a trailer that describes the whole output passes.
  if (readU32le(body, end - 8) !== crc || readU32le(body, end - 4) !== size % 0x100000000) return corrupt("bytes after the first gzip member");
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return { ok: true, bytes };
}
