// Raw deflate through the runtime's native zlib (node:zlib on Node, Bun and
// Deno): the work runs off the event loop, the output is bounded before it is
// allocated [COMP-5], and the input the deflate stream took is reported, so
// that bytes after a gzip member are seen [COMP-6]. Loaded by the server
// when it listens, like the TCP transport.
import { inflateRaw } from "node:zlib";
import type { RawInflater } from "../wire/index.ts";

interface InflateInfo {
  buffer: Uint8Array;
  engine: { bytesWritten: number };
}

/** Inflates `data`, at most `maxOutput` bytes of output [COMP-5] [COMP-6]. */
export const nativeInflateRaw: RawInflater = (data, maxOutput) =>
  new Promise((resolve, reject) => {
    // maxOutputLength must be at least 1; an empty output needs no room.
    inflateRaw(data, { info: true, maxOutputLength: Math.max(1, maxOutput) } as never, (error, result) => {
      if (error !== null) {
        if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") resolve("too-large");
        else reject(error);
        return;
      }
      const { buffer, engine } = result as unknown as InflateInfo;
      resolve({ output: new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length), consumed: engine.bytesWritten });
    });
  });
