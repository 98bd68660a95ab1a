// Turns frame bytes into annotated lines (offset, bytes, meaning) for people:
// the demo, traces and failure reports. Not on any hot path.

import { frameTypeName } from "./frame-header.ts";
import { CallMode, Compression, DispatchCode } from "../gen/strata/v1/frame_pb.ts";
import { readVarint, varintEnd } from "./varint.ts";

/** One annotated group of bytes. */
export interface AnnotatedBytes {
  offset: number;
  bytes: Uint8Array;
  meaning: string;
}

const fieldNames: Record<number, string> = {
  1: "type", 2: "request_id", 3: "body_size", 4: "service", 5: "method", 6: "call_mode", 7: "timeout_ms",
  8: "metadata", 9: "keys", 10: "compression", 11: "dispatch_code", 12: "dispatch_message", 13: "app_code",
  14: "app_message", 15: "method_ref",
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

function text(bytes: Uint8Array): string {
  return JSON.stringify(new TextDecoder().decode(bytes));
}

function annotateFields(buf: Uint8Array, start: number, end: number, names: Record<number, string>, out: AnnotatedBytes[], prefix: string): void {
  let pos = start;
  while (pos < end) {
    const tagStart = pos;
    const tagValue = readVarint(buf, pos, end);
    if (tagValue < 0) break;
    const afterTag = varintEnd;
    const fieldNo = Math.floor(tagValue / 8);
    const wireType = tagValue % 8;
    const name = `${prefix}${names[fieldNo] ?? `unknown field ${fieldNo}`}`;
    if (wireType === 0) {
      const value = readVarint(buf, afterTag, end);
      if (value < 0) break;
      out.push({ offset: tagStart, bytes: buf.subarray(tagStart, varintEnd), meaning: `${name} = ${describeValue(prefix ? 0 : fieldNo, value)}` });
      pos = varintEnd;
    } else if (wireType === 2) {
      const length = readVarint(buf, afterTag, end);
      if (length < 0 || varintEnd + length > end) break;
      const valueStart = varintEnd;
      const valueEnd = valueStart + length;
      if (!prefix && fieldNo === 8) {
        out.push({ offset: tagStart, bytes: buf.subarray(tagStart, valueStart), meaning: `metadata entry, ${length} bytes:` });
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
