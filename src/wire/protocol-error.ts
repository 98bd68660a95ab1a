import { GoawayCode } from "../gen/strata/v1/frame_pb.ts";

const brand = Symbol.for("strata-rpc.ProtocolError");

/**
 * A violation of the wire protocol found while decoding or validating bytes
 * from a peer. `code` is the violated requirement id of spec/protocol.md
 * (e.g. "FRAME-5"), `goawayCode` the code the receiver sends in its GOAWAY
 * before closing; the message starts with the id in brackets, as the GOAWAY
 * message must [DRAIN-7]. Supports the connection-error procedure of
 * [FRAME-14].
 */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  /** The violated requirement id, e.g. "FRAME-5". */
  readonly code: string;
  /**
   * The code of the GOAWAY to send before closing; undefined when none is
   * sent because the stream has already ended [FRAME-12].
   */
  readonly goawayCode: GoawayCode | undefined;

  /** `goawayCode` null: the stream has ended, no GOAWAY is sent [FRAME-12]. */
  constructor(code: string, message: string, goawayCode: GoawayCode | null = GoawayCode.PROTOCOL_ERROR) {
    super(`[${code}] ${message}`);
    this.code = code;
    this.goawayCode = goawayCode ?? undefined;
    Object.defineProperty(this, brand, { value: true });
  }

  /** Whether `value` is a ProtocolError, also from another copy of this package. */
  static is(value: unknown): value is ProtocolError {
    return typeof value === "object" && value !== null && brand in value;
  }
}
