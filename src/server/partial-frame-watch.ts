// The frame a connection is in the middle of receiving: it must finish
// within the frame transfer timeout, however slowly its bytes come (each
// byte resets the idle timer, not this one) [FRAME-19], and its buffer
// counts toward the server's bound on partial frames [FRAME-20].

import { GoawayCode, ProtocolError, type FrameDecoder } from "../wire/index.ts";
import { setTimer, type Timer } from "../util/timer.ts";

/** Reports a connection's partial-frame buffer to the server. */
export interface PartialFrameLedger {
  /** The buffer changed by `delta` bytes; false when all connections together are over the server's bound [FRAME-20]. */
  holdPartialFrame(delta: number): boolean;
}

/** Who hears that a frame took too long. */
export interface FrameTimeoutListener {
  /** A frame took longer than `limitMs` to arrive [FRAME-19]. */
  frameTransferTimedOut(limitMs: number): void;
}

/** Watches the partial frame of one connection's decoder [FRAME-19] [FRAME-20]. */
export class PartialFrameWatch {
  private readonly decoder: FrameDecoder;
  private readonly ledger: PartialFrameLedger;
  private readonly limitMs: number;
  private readonly listener: FrameTimeoutListener;
  /** Runs while a frame is arriving; `timedFrame` is the decoder's frame count when it started [FRAME-19]. */
  private timer: Timer | undefined;
  private timedFrame = -1;
  /** The partial-frame buffer last reported to the server [FRAME-20]. */
  private held = 0;

  /** `limitMs` 0: no transfer timeout; `listener` hears when a frame takes longer than `limitMs` to arrive. */
  constructor(decoder: FrameDecoder, ledger: PartialFrameLedger, limitMs: number, listener: FrameTimeoutListener) {
    this.decoder = decoder;
    this.ledger = ledger;
    this.limitMs = limitMs;
    this.listener = listener;
  }

  /** After each chunk: reports the buffer (throws the FRAME-20 connection error past the server's bound) and times the frame. */
  afterChunk(): void {
    const decoder = this.decoder;
    const reserved = decoder.reserved;
    if (reserved !== this.held) {
      const within = this.ledger.holdPartialFrame(reserved - this.held);
      this.held = reserved;
      if (!within) {
        throw new ProtocolError("FRAME-20", "the server holds as many partial frames as it can; try again later", GoawayCode.INTERNAL_ERROR);
      }
    }
    const limit = this.limitMs;
    if (limit <= 0) return;
    // A header read to its end, with its body still to come, is a frame in progress too.
    if (decoder.buffered === 0 && !decoder.readingBody) {
      this.timer?.clear();
      this.timer = undefined;
      return;
    }
    if (this.timer !== undefined && decoder.frames === this.timedFrame) return;
    this.timer?.clear();
    this.timedFrame = decoder.frames;
    this.timer = setTimer(() => {
      this.timer = undefined;
      this.listener.frameTransferTimedOut(limit);
    }, limit);
  }

  /** The connection closed: its buffer no longer counts, and no timer runs. */
  close(): void {
    if (this.held > 0) this.ledger.holdPartialFrame(-this.held);
    this.held = 0;
    this.timer?.clear();
  }
}
