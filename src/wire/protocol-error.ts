import { GoawayCode } from "../gen/strata/v1/frame_pb.ts";

const brand = Symbol.for("strata-rpc.ProtocolError");

/**
 * A violation of the wire protocol found while decoding or validating bytes
 * from a peer. `requirement` names the violated requirement id of
 * spec/protocol.md (e.g. "FRAME-5"), `goawayCode` the code the receiver sends
 * in its GOAWAY before closing. Implements the connection-error procedure of
 * [FRAME-14].
 */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  readonly requirement: string;
  readonly goawayCode: GoawayCode;

  constructor(requirement: string, message: string, goawayCode: GoawayCode = GoawayCode.PROTOCOL_ERROR) {
    super(`[${requirement}] ${message}`);
    this.requirement = requirement;
    this.goawayCode = goawayCode;
    Object.defineProperty(this, brand, { value: true });
  }

  /** Whether `value` is a ProtocolError, also from another copy of this package. */
  static is(value: unknown): value is ProtocolError {
    return typeof value === "object" && value !== null && brand in value;
  }
}
