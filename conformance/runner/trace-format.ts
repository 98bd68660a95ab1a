// The trace of a failed case, as a person reads it: each direction is read
// as the byte stream it is — a preface, then frames reassembled across
// reads (several in one read, or one split over many) — and every frame is
// annotated field by field, with the bodies of HELLO, GOAWAY, PING and PONG
// decoded. Bytes that are not frames (an HTTP answer, deliberate garbage)
// are shown as hex.

import { toJsonString } from "@bufbuild/protobuf";
import { GoawayCode, HelloSchema } from "../../src/gen/strata/v1/frame_pb.ts";
import { annotateFrame, decodeGoaway, decodeHeader, decodeHello, formatAnnotated, FrameType, PREFACE_MAGIC, PREFACE_SIZE } from "../../src/wire/index.ts";
import type { TraceLog } from "./peer.ts";

/** Frames above this size are not reassembled in a trace; the rest of the stream is shown as hex. */
const MAX_TRACED_FRAME = 64 << 20;
const INDENT = "            ";

function hex(bytes: Uint8Array, max = 64): string {
  const shown = Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return bytes.length > max ? `${shown} … (${bytes.length} bytes)` : shown;
}

/** What a connection-level body says, in one line, or undefined for other frames. */
function bodyMeaning(type: number, body: Uint8Array): string | undefined {
  try {
    if (type === FrameType.HELLO) return `HELLO ${toJsonString(HelloSchema, decodeHello(body))}`;
    if (type === FrameType.GOAWAY) {
      const g = decodeGoaway(body);
      const code = Object.entries(GoawayCode).find(([, value]) => value === g.code)?.[0] ?? String(g.code);
      return `GOAWAY ${code}, last_request_id ${g.lastRequestId}, message ${JSON.stringify(g.message)}`;
    }
    if (type === FrameType.PING || type === FrameType.PONG) return `payload (${body.length} bytes) ${hex(body)}`;
  } catch (error) {
    return `undecodable body: ${(error as Error).message}`;
  }
  return undefined;
}

/** One direction of a connection, read incrementally. */
class StreamReader {
  private pending = new Uint8Array(0);
  private prefaceDone = false;
  /** Set once the stream stopped parsing as frames; the rest is shown raw. */
  private raw = false;

  /** The lines describing what `chunk` completes. */
  read(chunk: Uint8Array): string[] {
    if (this.raw) return [`bytes ${hex(chunk)}`];
    const joined = new Uint8Array(this.pending.length + chunk.length);
    joined.set(this.pending);
    joined.set(chunk, this.pending.length);
    let offset = 0;
    const lines: string[] = [];
    if (!this.prefaceDone) {
      const magic = joined.subarray(0, PREFACE_MAGIC.length);
      if (magic.every((b, i) => b === PREFACE_MAGIC[i])) {
        if (joined.length < PREFACE_SIZE) return this.keep(joined, `${joined.length} bytes of a preface so far`);
        lines.push(`preface "STRATA", version ${(joined[6]! << 8) | joined[7]!}`);
        offset = PREFACE_SIZE;
      }
      this.prefaceDone = true;
    }
    while (offset < joined.length) {
      const rest = joined.subarray(offset);
      if (rest.length < 4) return [...lines, ...this.keep(rest, `${rest.length} bytes of a frame's header size so far`)];
      const size = ((rest[0]! << 24) | (rest[1]! << 16) | (rest[2]! << 8) | rest[3]!) >>> 0;
      if (size === 0 || size > MAX_TRACED_FRAME) return [...lines, ...this.giveUp(rest)];
      if (rest.length < 4 + size) return [...lines, ...this.keep(rest, `${rest.length} bytes of a frame (header of ${size} bytes) so far`)];
      let header;
      try {
        header = decodeHeader(rest, 4, 4 + size);
      } catch {
        return [...lines, ...this.giveUp(rest)];
      }
      const total = 4 + size + header.bodySize;
      if (header.bodySize > MAX_TRACED_FRAME) return [...lines, ...this.giveUp(rest)];
      if (rest.length < total) return [...lines, ...this.keep(rest, `${rest.length} of a frame's ${total} bytes so far`)];
      const frame = rest.subarray(0, total);
      lines.push(formatAnnotated(annotateFrame(frame)));
      const meaning = bodyMeaning(header.type, frame.subarray(4 + size));
      if (meaning !== undefined) lines.push(`      = ${meaning}`);
      offset += total;
    }
    this.pending = new Uint8Array(0);
    return lines;
  }

  private keep(rest: Uint8Array, note: string): string[] {
    this.pending = rest.slice();
    return [`(${note})`];
  }

  private giveUp(rest: Uint8Array): string[] {
    this.raw = true;
    this.pending = new Uint8Array(0);
    return [`bytes that are not frames: ${hex(rest)}`];
  }
}

/** Formats a case's trace for a failure report; with several connections, each line names its own. */
export function formatTrace(trace: TraceLog): string {
  const readers = new Map<string, StreamReader>();
  const reader = (key: string) => readers.get(key) ?? readers.set(key, new StreamReader()).get(key)!;
  return trace.entries
    .map((entry) => {
      const which = trace.connections > 1 ? `#${entry.connection} ` : "";
      const head = `${entry.atMs.toFixed(0).padStart(6)} ms ${which}${entry.direction}`;
      if (entry.direction === "closed") return `${head} EOF`;
      const lines = reader(`${entry.connection} ${entry.direction}`).read(entry.bytes);
      return `${head}\n${lines.join("\n").replace(/^/gm, INDENT)}`;
    })
    .join("\n");
}
