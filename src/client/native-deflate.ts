// Raw deflate through the runtime's native zlib (node:zlib on Node, Bun and
// Deno), off the event loop, for the request bodies a client sends gzip
// [COMP-3] [COMP-7]. Passed by the package root, like the TCP transport;
// the core client never imports it.
import { deflateRaw } from "node:zlib";
import type { RawDeflater } from "../wire/index.ts";

/** Compresses `data` as raw deflate with zlib's default level [COMP-3]. */
export const nativeDeflateRaw: RawDeflater = (data) =>
  new Promise((resolve, reject) => {
    deflateRaw(data, (error, result) => {
      if (error !== null) reject(error);
      else resolve(new Uint8Array(result.buffer, result.byteOffset, result.length));
    });
  });
