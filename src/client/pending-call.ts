// One unary or acked call from the client's side, as one object: it gets a
// connection, submits the request, and settles once with the RESPONSE, a
// timeout, a cancel or a failure, retrying once on a fresh connection when
// the request provably did not run. One object with methods instead of a
// closure per step keeps the per-call cost of the hot path low.

import { RpcError, TransportCode } from "../status/index.ts";
import type { Frame } from "../wire/index.ts";
import { setDeadlineAt, type LongTimeout } from "../util/deadline-timers.ts";
import type { Channel } from "./channel.ts";
import type { CallHandlers, CallTicket, ClientConnection } from "./client-connection.ts";

/**
 * Failures after which the request provably did not run and the next
 * attempt goes to a fresh connection: the old one is draining or gone
 * (GOAWAY, SHUTTING_DOWN) [STATUS-3] [DRAIN-16]. OVERLOADED is not retried:
 * an immediate retry adds to the overload.
 */
export function retryable(error: RpcError): boolean {
  if (error.processed !== "no") return false;
  if (error.layer === "transport") return error.code === TransportCode.UNAVAILABLE || error.code === TransportCode.CONNECTION_LOST;
  return error.code === "SHUTTING_DOWN";
}

/** A call in progress; `promise` settles once [CALL-3] [DEADLINE-6] [CANCEL-1]. */
export class PendingCall<T> implements CallHandlers {
  readonly promise: Promise<T>;
  private resolve!: (value: T) => void;
  private reject!: (error: RpcError) => void;
  private readonly channel: Channel;
  private readonly header: CallTicket["header"];
  private readonly body: Uint8Array;
  private readonly deadline: number;
  private readonly signal: AbortSignal | undefined;
  private readonly decode: (frame: Frame) => T;
  private readonly onAck: (() => void) | undefined;
  private readonly timer: LongTimeout;
  private connection: ClientConnection | undefined;
  private ticket: CallTicket | undefined;
  private attempt = 0;
  private settled = false;

  constructor(
    channel: Channel,
    header: CallTicket["header"],
    body: Uint8Array,
    deadline: number,
    signal: AbortSignal | undefined,
    decode: (frame: Frame) => T,
    onAck: (() => void) | undefined,
  ) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.channel = channel;
    this.header = header;
    this.body = body;
    this.deadline = deadline;
    this.signal = signal;
    this.decode = decode;
    this.onAck = onAck;
    // One deadline covers connecting, queueing and the wait for the RESPONSE [DEADLINE-6].
    this.timer = setDeadlineAt(() => this.onTimeout(), deadline);
    if (signal !== undefined) {
      if (signal.aborted) {
        this.settle(RpcError.transport(TransportCode.CANCELLED, "the call was cancelled before it was sent", "no", signal.reason));
        return;
      }
      signal.addEventListener("abort", this, { once: true });
    }
    this.start();
  }

  /** Gets a connection (at once when one is open) and submits the request. */
  private start(): void {
    const ready = this.channel.ready();
    if (ready !== undefined) return this.submit(ready);
    this.channel.acquire(this.deadline, this.signal).then(
      (connection) => this.submit(connection),
      (error: unknown) => this.fail(RpcError.from(error)),
    );
  }

  private submit(connection: ClientConnection): void {
    if (this.settled) return;
    // A deadline already passed is caught when the request is written (TIMEOUT, not processed) [DEADLINE-5].
    this.connection = connection;
    try {
      this.ticket = connection.submit(this.header, this.deadline, this.body, this);
    } catch (error) {
      this.fail(RpcError.from(error));
    }
  }

  /** Written or still queued: only a written request may have run. */
  private processed(): "maybe" | "no" {
    return this.ticket !== undefined && this.ticket.id !== 0 ? "maybe" : "no";
  }

  /** Forgets the request on its connection: dropped from the queue, or CANCEL sent [CANCEL-1] [DEADLINE-6]. */
  private forget(): void {
    if (this.ticket !== undefined) this.connection?.cancel(this.ticket);
  }

  private onTimeout(): void {
    if (this.settled) return;
    const was = this.processed();
    this.forget();
    const message = this.ticket === undefined ? "the deadline passed before the request was sent [DEADLINE-5]" : "the deadline passed before the response arrived";
    this.settle(RpcError.transport(TransportCode.TIMEOUT, message, was));
  }

  /** The signal fired (EventListener interface, so no closure is needed) [CANCEL-1]. */
  handleEvent(): void {
    if (this.settled) return;
    const was = this.processed();
    this.forget();
    this.settle(RpcError.transport(TransportCode.CANCELLED, "the call was cancelled", was, this.signal?.reason));
  }

  ack(): void {
    this.onAck?.();
  }

  response(frame: Frame): void {
    if (this.settled) return;
    let value: T;
    try {
      value = this.decode(frame);
    } catch (error) {
      return this.settle(RpcError.from(error));
    }
    this.settled = true;
    this.cleanup();
    this.resolve(value);
  }

  fail(error: RpcError): void {
    if (this.settled) return;
    if (this.attempt === 0 && retryable(error) && performance.now() < this.deadline && !this.signal?.aborted) {
      this.attempt++;
      this.ticket = undefined;
      this.connection = undefined;
      return this.start();
    }
    this.settle(error);
  }

  private settle(error: RpcError): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup();
    this.reject(error);
  }

  private cleanup(): void {
    this.timer.clear();
    this.signal?.removeEventListener("abort", this);
  }
}
