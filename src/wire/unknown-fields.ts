// A bound on the unknown fields of a body. protobuf-es keeps every unknown
// field as an object, so a 4 MiB body of 2 million one-byte unknown fields
// blocks the event loop for about a second; counting them first is a plain
// byte scan, an order of magnitude cheaper, and lets the receiver refuse such
// a body as undecodable [LIMIT-8].

import type { DescMessage } from "@bufbuild/protobuf";
import { readVarint, varintEnd } from "./varint.ts";

/** Unknown fields a body may hold, at all nesting levels together, before it is refused [LIMIT-8]. */
export const MAX_UNKNOWN_FIELDS = 10_000;

/** Field numbers of a message type, and the message types of its message-valued fields, by number. */
interface Shape {
  readonly known: Set<number>;
  readonly nested: Map<number, DescMessage>;
}

const shapes = new WeakMap<DescMessage, Shape>();

function shapeOf(schema: DescMessage): Shape {
  let shape = shapes.get(schema);
  if (shape === undefined) {
    const known = new Set<number>();
    const nested = new Map<number, DescMessage>();
    for (const field of schema.fields) {
      known.add(field.number);
      if ((field.fieldKind === "message" || field.fieldKind === "list") && field.message !== undefined && !field.delimitedEncoding) nested.set(field.number, field.message);
    }
    shape = { known, nested };
    shapes.set(schema, shape);
  }
  return shape;
}

/** Thrown inside the scan when the bytes are malformed: protobuf-es then reports them its own way. */
const MALFORMED = Symbol("malformed");

/**
 * Whether `bytes`, as a message of type `schema`, holds more than `max`
 * unknown fields, counting nested messages too. Malformed bytes return
 * false: decoding them fails anyway, with the decoder's own error [LIMIT-8].
 */
export function exceedsUnknownFields(schema: DescMessage, bytes: Uint8Array, max: number = MAX_UNKNOWN_FIELDS): boolean {
  const budget = { left: max };
  try {
    return scan(shapeOf(schema), bytes, 0, bytes.length, budget, 0);
  } catch (error) {
    if (error === MALFORMED) return false;
    throw error;
  }
}

function scan(shape: Shape, bytes: Uint8Array, start: number, end: number, budget: { left: number }, depth: number): boolean {
  if (depth > 100) throw MALFORMED;
  let pos = start;
  while (pos < end) {
    const tag = readVarint(bytes, pos, end);
    if (tag < 0) throw MALFORMED;
    pos = varintEnd;
    const fieldNo = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (!shape.known.has(fieldNo) && --budget.left < 0) return true;
    switch (wireType) {
      case 0:
        if (readVarint(bytes, pos, end) < 0) throw MALFORMED;
        pos = varintEnd;
        break;
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2: {
        const length = readVarint(bytes, pos, end);
        if (length < 0) throw MALFORMED;
        pos = varintEnd;
        if (length > end - pos) throw MALFORMED;
        const nested = shape.nested.get(fieldNo);
        if (nested !== undefined && scan(shapeOf(nested), bytes, pos, pos + length, budget, depth + 1)) return true;
        pos += length;
        break;
      }
      case 3:
      case 4:
        // Groups: each start and end tag counts as a field; their contents are scanned as they come.
        break;
      default:
        throw MALFORMED;
    }
    if (pos > end) throw MALFORMED;
  }
  return false;
}
