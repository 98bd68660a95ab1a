// Turns frame bytes into annotated lines (offset, bytes, meaning) for people:
// the demo, traces and failure reports. Not on any hot path.

import { frameTypeName } from "./frame-header.ts";
import { CallMode, Compression, DispatchCode } from "../gen/strata/v1/frame_pb.ts";

/** One annotated group of bytes. */
export interface AnnotatedBytes {
  offset: number;
  bytes: Uint8Array;
  meaning: string;
}

const fieldNames: Record<number, string> = {
  1: "type", 2: "request_id", 3: "body_size", 4: "service", 5: "method", 6: "call_mode", 7: "timeout_ms",
  8: "metadata", 9: "keys", 10: "compression", 11: "dispatch_code", 12: "dispatch_message", 13: "app_code",
  14: "app_message",
};

function enumName(values: Record<string, number>, value: number): string {
  const entry = Object.entries(values).find(([, v]) => v === value);
  return entry ? entry[0] : `unknown ${value}`;
}

function describeValue(fieldNo: number, value: number): string {
  switch (fieldNo) {
    case 1: return frameTypeName(value);
    case 6: return enumName(CallMode, value);
    case 10: return enumName(Compression, value);
    case 11: return enumName(DispatchCode, value);
    default: return String(value);
  }
}

/** Reads a varint at `pos`; returns [value, next position], or undefined when cut short. */
function varint(buf: Uint8Array, pos: number, end: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10 && pos < end; i++) {
    const b = buf[pos++]!;
    value += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return [value, pos];
  }
  return undefined;
}

function text(bytes: Uint8Array): string {
  return JSON.stringify(new TextDecoder().decode(bytes));
}

function annotateFields(buf: Uint8Array, start: number, end: number, names: Record<number, string>, out: AnnotatedBytes[], prefix: string): void {
  let pos = start;
  while (pos < end) {
    const tagStart = pos;
    const tag = varint(buf, pos, end);
    if (!tag) break;
    const [tagValue, afterTag] = tag;
    const fieldNo = Math.floor(tagValue / 8);
    const wireType = tagValue % 8;
    const name = `${prefix}${names[fieldNo] ?? `unknown field ${fieldNo}`}`;
    if (wireType === 0) {
      const v = varint(buf, afterTag, end);
      if (!v) break;
      out.push({ offset: tagStart, bytes: buf.subarray(tagStart, v[1]), meaning: `${name} = ${describeValue(prefix ? 0 : fieldNo, v[0])}` });
      pos = v[1];
    } else if (wireType === 2) {
      const len = varint(buf, afterTag, end);
      if (!len || len[1] + len[0] > end) break;
      const valueStart = len[1];
      const valueEnd = valueStart + len[0];
      if (!prefix && fieldNo === 8) {
        out.push({ offset: tagStart, bytes: buf.subarray(tagStart, valueStart), meaning: `metadata entry, ${len[0]} bytes:` });
        annotateFields(buf, valueStart, valueEnd, { 1: "key", 2: "value" }, out, "  ");
      } else {
        const value = buf.subarray(valueStart, valueEnd);
        const shown = prefix && fieldNo === 2 ? `${value.length} bytes` : text(value);
        out.push({ offset: tagStart, bytes: buf.subarray(tagStart, valueEnd), meaning: `${name} = ${shown}` });
      }
      pos = valueEnd;
    } else {
      out.push({ offset: tagStart, bytes: buf.subarray(tagStart, end), meaning: `${name}: wire type ${wireType}, not annotated` });
      return;
    }
  }
  if (pos < end) out.push({ offset: pos, bytes: buf.subarray(pos, end), meaning: "undecodable bytes" });
}

/**
 * Annotates one frame starting at `buf[0]`: the size prefix, each header
 * field (tag and value) and the body. Tolerates malformed input [FRAME-1].
 */
export function annotateFrame(buf: Uint8Array): AnnotatedBytes[] {
  const out: AnnotatedBytes[] = [];
  if (buf.length < 4) return [{ offset: 0, bytes: buf, meaning: "incomplete header size" }];
  const size = ((buf[0]! << 24) | (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!) >>> 0;
  out.push({ offset: 0, bytes: buf.subarray(0, 4), meaning: `header size = ${size} (u32, big-endian)` });
  const headerEnd = Math.min(4 + size, buf.length);
  annotateFields(buf, 4, headerEnd, fieldNames, out, "");
  if (buf.length > headerEnd) out.push({ offset: headerEnd, bytes: buf.subarray(headerEnd), meaning: `body, ${buf.length - headerEnd} bytes` });
  return out;
}

/** Formats annotated bytes as aligned text lines: offset, hex, meaning. */
export function formatAnnotated(lines: AnnotatedBytes[], maxBytesShown = 12): string {
  return lines
    .map(({ offset, bytes, meaning }) => {
      const shown = Array.from(bytes.subarray(0, maxBytesShown), (b) => b.toString(16).padStart(2, "0")).join(" ");
      const more = bytes.length > maxBytesShown ? " …" : "";
      return `${offset.toString().padStart(4, "0")}  ${(shown + more).padEnd(maxBytesShown * 3 + 1)} ${meaning}`;
    })
    .join("\n");
}
