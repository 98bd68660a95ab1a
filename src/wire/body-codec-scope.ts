// What the body codecs (message-encoder.ts, message-decoder.ts) handle
// themselves, and what they share: proto3 messages other than the
// well-known types, whose local form protobuf-es may change (wrappers are
// unboxed, Struct is a JSON object). Everything else goes to protobuf-es.

import type { DescMessage } from "@bufbuild/protobuf";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";

const EDITION_PROTO3 = 999;

/** Protobuf wire types [FRAME-1]. */
export const WIRE_VARINT = 0;
export const WIRE_64 = 1;
export const WIRE_DELIMITED = 2;
export const WIRE_32 = 5;

/** Thrown inside a body codec's own path when protobuf-es must take over; never escapes the codec. */
export const FALLBACK = Symbol("fallback");

/** Whether the body codecs encode and decode messages of `schema` themselves [FRAME-1]. */
export function codecHandles(schema: DescMessage): boolean {
  return schema.file.edition === EDITION_PROTO3 && !isWrapperDesc(schema) && !schema.typeName.startsWith("google.protobuf.");
}
