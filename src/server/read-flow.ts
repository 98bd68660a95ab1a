// Backpressure on one server connection: output past the high-water mark
// stops reading until the peer takes it, input already read waits
// undecoded instead of starting more work, a burst of requests yields to
// the event loop, and output a peer leaves unread is bounded [SEC-1]
// [SEC-3] [SEC-6].

import type { Frame } from "../wire/index.ts";
import type { Transport } from "../transport/index.ts";
import { setTimer, type Timer } from "../util/timer.ts";
import { FrameType } from "../wire/index.ts";

/** What the flow needs from its connection. */
export interface FlowOwner {
  /** Whether the connection is closed: nothing more is read or written. */
  readonly closed: boolean;
  /** Handles one frame, stamped with the time it was received. */
  handleFrame(frame: Frame, receivedAt: number): void;
  /** A frame from the backlog broke the protocol. */
  protocolError(error: unknown): void;
  /** Output waits past the connection's or the server's bound: the connection must be closed at once [SEC-3]. */
  outputOverflow(): void;
  /** Stops decoding the chunk being decoded after the frame just read; the rest comes back through hold() [SEC-6]. */
  stopDecoding(): void;
  /** Decodes bytes kept while reading waited, received at `receivedAt`; their frames come back through frameRead() [SEC-6]. */
  decodeHeld(bytes: Uint8Array, receivedAt: number): void;
  /** The peer sent more than the connection keeps while reading waits: it must be closed at once [SEC-6]. */
  inputOverflow(): void;
}

/** How a connection reports its unwritten output to the server [SEC-3]. */
export interface OutputLedger {
  /** The output of this connection changed by `delta` bytes; false when the server's total is over its bound. */
  holdOutput(delta: number): boolean;
}

/**
 * Requests handled before reading yields to the event loop. Large enough
 * that 100 pipelined requests per read never wait, small enough that a
 * burst cannot start more than this many handlers before the high-water
 * mark is checked [SEC-1].
 */
const REQUESTS_PER_TURN = 256;

/** The backlog of every connection that has never held a frame back; never written to. */
const NO_BACKLOG: Array<{ frame: Frame; receivedAt: number }> = [];
/** The held input of every connection that has never kept any; never written to. */
const NO_HELD: Array<{ bytes: Uint8Array; receivedAt: number }> = [];

/** Reading and writing of one connection under backpressure [SEC-1] [SEC-3]. */
export class ReadFlow {
  /** Set while output is over the high-water mark: no reading until it drains. */
  paused = false;
  /**
   * Frames read but not yet handled because output is over the high-water
   * mark: one chunk can hold a thousand small requests, so pausing the
   * socket alone would not bound the work admitted [SEC-1].
   */
  private backlog: Array<{ frame: Frame; receivedAt: number }> = NO_BACKLOG;
  /**
   * Input received while frames must wait, kept as it came and decoded
   * only once they can be handled: a decoded frame costs a hundred bytes or
   * more however small it is, so frames decoded ahead of a pause let a
   * 1 MiB message of 6-byte frames hold some 70 MiB [SEC-6].
   */
  private held: Array<{ bytes: Uint8Array; receivedAt: number }> = NO_HELD;
  private heldBytes = 0;
  /** Input this connection keeps while frames wait, at most [SEC-6]. */
  private readonly maxHeldBytes: number;
  /**
   * Requests handled in this turn of the event loop. Handlers answer
   * asynchronously, so the high-water mark cannot be seen while one chunk is
   * being handled; after REQUESTS_PER_TURN requests, reading yields for their
   * responses to be written (and the mark to be checked) first [SEC-1].
   */
  private requestsThisTurn = 0;
  private yieldTimer: Timer | undefined;
  /** The unwritten output last reported to the server [SEC-3]. */
  private heldOutput = 0;
  private readonly transport: Transport;
  private readonly owner: FlowOwner;
  private readonly ledger: OutputLedger;
  /** Unwritten output this connection may hold; 0 = no bound [SEC-3]. */
  private readonly maxOutputBytes: number;

  constructor(transport: Transport, owner: FlowOwner, ledger: OutputLedger, maxOutputBytes: number, maxHeldBytes: number) {
    this.transport = transport;
    this.owner = owner;
    this.ledger = ledger;
    this.maxOutputBytes = maxOutputBytes;
    this.maxHeldBytes = maxHeldBytes;
  }

  /** Whether a chunk that arrives now must be kept for later, not decoded: frames wait, or input kept earlier does [SEC-6]. */
  get holding(): boolean {
    return this.paused || this.yieldTimer !== undefined || this.backlog.length > 0 || this.held.length > 0;
  }

  /**
   * Keeps input to decode once frames can be handled: behind what is kept
   * already, or before it (`first`) for the rest of the chunk being decoded.
   * Past the bound (a transport that cannot pause, or a peer that sent far
   * more than one read), the connection is closed [SEC-6].
   */
  hold(bytes: Uint8Array, receivedAt: number, first = false): void {
    if (this.held === NO_HELD) this.held = [];
    if (first) this.held.unshift({ bytes, receivedAt });
    else this.held.push({ bytes, receivedAt });
    this.heldBytes += bytes.length;
    if (this.heldBytes > this.maxHeldBytes) this.owner.inputOverflow();
  }

  /** True for the one turn reading yields to the event loop: ours alone, not the peer's silence [IDLE-3]. */
  get yielding(): boolean {
    return this.yieldTimer !== undefined;
  }

  /** A chunk arrived: a new turn of the event loop, unless a yield is pending. */
  chunkArrived(): void {
    if (this.yieldTimer === undefined) this.requestsThisTurn = 0;
  }

  /** A frame was read: handled now, or kept in order behind the backlog while reading must wait. */
  frameRead(frame: Frame, receivedAt: number): void {
    if (this.paused || this.yieldTimer !== undefined || this.backlog.length > 0) {
      // Made for the first frame that must wait: most connections never need one.
      if (this.backlog === NO_BACKLOG) this.backlog = [];
      this.backlog.push({ frame, receivedAt });
      // The rest of its chunk stays undecoded until this frame can be handled [SEC-6].
      this.owner.stopDecoding();
      return;
    }
    this.handleCounted(frame, receivedAt);
  }

  /** Handles a frame; after REQUESTS_PER_TURN requests, stops reading until the next macrotask [SEC-1]. */
  private handleCounted(frame: Frame, receivedAt: number): void {
    this.owner.handleFrame(frame, receivedAt);
    if (frame.header.type !== FrameType.REQUEST || ++this.requestsThisTurn < REQUESTS_PER_TURN) return;
    if (this.owner.closed || this.yieldTimer !== undefined) return;
    this.transport.pause?.();
    this.yieldTimer = setTimer(() => {
      this.yieldTimer = undefined;
      this.requestsThisTurn = 0;
      this.pumpBacklog();
    }, 0);
  }

  /** Handles frames read earlier, then decodes input kept, in order, while output has room and no yield is pending; then reads again. */
  private pumpBacklog(): void {
    try {
      while (!this.paused && this.yieldTimer === undefined && !this.owner.closed) {
        if (this.backlog.length > 0) {
          const next = this.backlog.shift()!;
          this.handleCounted(next.frame, next.receivedAt);
          continue;
        }
        if (this.held.length === 0) break;
        const kept = this.held.shift()!;
        this.heldBytes -= kept.bytes.length;
        this.owner.decodeHeld(kept.bytes, kept.receivedAt);
      }
    } catch (error) {
      this.owner.protocolError(error);
      return;
    }
    if (!this.paused && this.yieldTimer === undefined && !this.owner.closed) this.transport.resume?.();
  }

  /**
   * Writes bytes (`owned`: see Transport.write); past the high-water mark,
   * stops reading until the peer catches up, so a client that never reads
   * cannot grow our memory.
   */
  write(bytes: Uint8Array, owned: boolean): void {
    if (!this.transport.write(bytes, owned) && !this.paused) {
      this.paused = true;
      this.transport.pause?.();
    }
    if (this.paused) this.checkHeldOutput();
  }

  /**
   * Bounds the output a peer leaves unread: past the connection's bound, or
   * while the server's total is past its own, the connection is closed at
   * once (its peer reads nothing, so no GOAWAY would arrive) [SEC-3].
   */
  private checkHeldOutput(): void {
    const buffered = this.transport.bufferedAmount;
    const withinServer = this.ledger.holdOutput(buffered - this.heldOutput);
    this.heldOutput = buffered;
    const max = this.maxOutputBytes;
    if ((max > 0 && buffered > max) || !withinServer) this.owner.outputOverflow();
  }

  /** The transport's buffer drained: handle what was read before the pause, in order, until output fills up again. */
  drained(): void {
    if (this.heldOutput > 0) {
      this.ledger.holdOutput(-this.heldOutput);
      this.heldOutput = 0;
    }
    if (!this.paused || this.owner.closed) return;
    this.paused = false;
    this.pumpBacklog();
  }

  /** The connection closed: its output no longer counts, its kept input is dropped, and no yield is pending. */
  close(): void {
    if (this.heldOutput > 0) this.ledger.holdOutput(-this.heldOutput);
    this.heldOutput = 0;
    this.held = NO_HELD;
    this.heldBytes = 0;
    this.yieldTimer?.clear();
  }
}
