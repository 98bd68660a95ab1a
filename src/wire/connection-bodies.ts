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
import { ProtocolError } from "./protocol-error.ts";

/** Encodes the body of a HELLO frame [HELLO-1]. */
export function encodeHello(init: MessageInitShape<typeof HelloSchema>): Uint8Array {
  return toBinary(HelloSchema, create(HelloSchema, init));
}

/** Decodes the body of a HELLO frame; a ProtocolError citing [HELLO-4] when it is not a Hello. */
export function decodeHello(body: Uint8Array): Hello {
  try {
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
 * it does not decode, [ID-4] when the last request id is above 2^53-1.
 */
export function decodeGoaway(body: Uint8Array): GoawayInfo {
  let goaway: Goaway;
  try {
    goaway = fromBinary(GoawaySchema, body);
  } catch (error) {
    throw new ProtocolError("DRAIN-11", `GOAWAY body does not decode: ${(error as Error).message}`);
  }
  if (goaway.lastRequestId > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ProtocolError("ID-4", "GOAWAY last request id above 2^53-1");
  }
  return { lastRequestId: Number(goaway.lastRequestId), code: goaway.code, message: goaway.message };
}
