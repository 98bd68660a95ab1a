// Bodies of the connection-level frames HELLO and GOAWAY: protobuf messages,
// decoded with protobuf-es (they are not on the hot path).

import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  GoawayCode,
  GoawaySchema,
  HelloSchema,
  type Goaway,
  type Hello,
} from "../gen/strata/v1/frame_pb.ts";
import { ProtoReader } from "./proto-reader.ts";
import { ProtocolError } from "./protocol-error.ts";

const VARINT = 0;
const LENGTH_DELIMITED = 2;

/** Wire types each known Hello field may use; compression is a packed or unpacked repeated enum. */
const HELLO_WIRE_TYPES: ReadonlyMap<number, readonly number[]> = new Map([
  [1, [VARINT]], [2, [VARINT]], [3, [VARINT]], [4, [VARINT]], [5, [VARINT]], [6, [VARINT]],
  [7, [VARINT, LENGTH_DELIMITED]], [8, [LENGTH_DELIMITED]], [9, [LENGTH_DELIMITED]],
]);

/** Wire types each known Goaway field may use. */
const GOAWAY_WIRE_TYPES: ReadonlyMap<number, readonly number[]> = new Map([
  [1, [VARINT]], [2, [VARINT]], [3, [LENGTH_DELIMITED]],
]);

/**
 * Walks a message's fields and rejects what protobuf-es would let through
 * but the header rules forbid: a known field with the wrong wire type, and
 * every malformation ProtoReader detects [FRAME-6].
 */
function checkFields(body: Uint8Array, wireTypes: ReadonlyMap<number, readonly number[]>): void {
  const reader = new ProtoReader(body, 0, body.length);
  while (reader.pos < body.length) {
    const tag = reader.tag();
    const fieldNo = tag >>> 3;
    const wireType = tag & 7;
    const allowed = wireTypes.get(fieldNo);
    if (allowed !== undefined && !allowed.includes(wireType)) {
      throw new Error(`field ${fieldNo} has wire type ${wireType}`);
    }
    reader.skip(wireType, fieldNo, 0);
  }
}

/** Encodes the body of a HELLO frame [HELLO-1]. */
export function encodeHello(init: MessageInitShape<typeof HelloSchema>): Uint8Array {
  return toBinary(HelloSchema, create(HelloSchema, init));
}

/**
 * Decodes the body of a HELLO frame; a ProtocolError citing [HELLO-4] when
 * it is not a Hello under the header's decoding rules [FRAME-6].
 */
export function decodeHello(body: Uint8Array): Hello {
  try {
    checkFields(body, HELLO_WIRE_TYPES);
    return fromBinary(HelloSchema, body);
  } catch (error) {
    throw new ProtocolError("HELLO-4", `HELLO body does not decode: ${(error as Error).message}`);
  }
}

/** What a GOAWAY says, with the last request id as a number [DRAIN-1]. */
export interface GoawayInfo {
  lastRequestId: number;
  code: GoawayCode;
  message: string;
}

/** Encodes the body of a GOAWAY frame [DRAIN-1]. */
export function encodeGoaway(info: GoawayInfo): Uint8Array {
  return toBinary(
    GoawaySchema,
    create(GoawaySchema, { lastRequestId: BigInt(info.lastRequestId), code: info.code, message: info.message }),
  );
}

/**
 * Decodes the body of a GOAWAY frame; a ProtocolError citing [DRAIN-11] when
 * it does not decode under the header's rules [FRAME-6], its last request id
 * above 2^53-1 included.
 */
export function decodeGoaway(body: Uint8Array): GoawayInfo {
  let goaway: Goaway;
  try {
    checkFields(body, GOAWAY_WIRE_TYPES);
    goaway = fromBinary(GoawaySchema, body);
  } catch (error) {
    throw new ProtocolError("DRAIN-11", `GOAWAY body does not decode: ${(error as Error).message}`);
  }
  if (goaway.lastRequestId > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ProtocolError("DRAIN-11", "GOAWAY last request id above 2^53-1");
  }
  return { lastRequestId: Number(goaway.lastRequestId), code: goaway.code, message: goaway.message };
}
