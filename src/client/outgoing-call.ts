// One call from the client's side, in any call mode, as one object: it asks
// the router for a connection, hands the request over, and settles once —
// written (oneway), with the RESPONSE, a timeout, a cancel or a failure —
// retrying on another connection when its router allows (for one address:
// once, when the request provably did not run; for a cluster: on another
// endpoint, within a budget). One object with methods instead of a closure per step keeps the
// per-call cost of the hot path low.

import { dispatchProcessed, RpcError, TransportCode } from "../status/index.ts";
import { responseError } from "../status/wire-status.ts";
import { DispatchCode, type Frame } from "../wire/index.ts";
import { releaseRequestBody } from "./request-body.ts";
import { setDeadlineFor, type DeadlineTarget, type LongTimeout } from "../util/deadline-timers.ts";
import type { CallConnection, CallHandlers, CallTicket, RequestHead } from "./call-ticket.ts";
import type { Router } from "./router.ts";
import { abortedCallError } from "./call-abort.ts";
import { now } from "../util/clock.ts";

/**
 * The retry rule of a client bound to one address: a transport failure
 * after which the request provably did not run, on a connection that is
 * draining or gone (a GOAWAY that did not cover it, a connection lost
 * before it was written), so the next attempt goes to a new connection
 * [STATUS-3] [DRAIN-16]. A dispatch answer is not retried: SHUTTING_DOWN
 * and OVERLOADED come from the one server there is, so retrying them means
 * another server, which only a cluster client has (spec 8.5, [CLUSTER-4]).
 */
export function retryable(error: RpcError): boolean {
  if (error.processed !== "no" || error.layer !== "transport") return false;
  return error.code === TransportCode.UNAVAILABLE || error.code === TransportCode.CONNECTION_LOST;
}

/** How a call waits, chosen per client and per call. */
export interface CallPolicy {
  /** Wait through failed connection attempts until the deadline, instead of failing with the first one's error [HELLO-9]. */
  readonly waitForReady: boolean;
  /** How long a written call's TIMEOUT waits for the server's not-processed answer after the deadline; 0: not at all [DEADLINE-8]. */
  readonly deadlineGraceMs: number;
  /** The method may run twice: a cluster may retry it after a lost connection even when it may have run [CLUSTER-4]. */
  readonly idempotent: boolean;
}

/** How a call's RESPONSE becomes its value; undefined for oneway calls, which settle once written [CALL-4]. */
export type ResponseDecoder<T> = ((frame: Frame) => T) | undefined;

/** A call in progress; `promise` settles once [CALL-3] [DEADLINE-6] [CANCEL-1]. */
export class OutgoingCall<T> implements CallHandlers, CallTicket, DeadlineTarget {
  readonly promise: Promise<T>;
  id = 0;
  readonly head: RequestHead;
  readonly deadline: number;
  readonly body: Uint8Array;
  readonly oneway: boolean;
  private resolve!: (value: T) => void;
  private reject!: (error: RpcError) => void;
  private readonly router: Router;
  private readonly signal: AbortSignal | undefined;
  private readonly policy: CallPolicy;
  private readonly decode: ResponseDecoder<T>;
  private readonly onAck: (() => void) | undefined;
  private timer: LongTimeout | undefined;
  private connection: CallConnection | undefined;
  /** Set once the request was handed to a connection (written or queued there). */
  private submitted = false;
  private attempt = 0;
  /** The connections earlier attempts failed on; undefined until one has failed [CLUSTER-4]. */
  private failedOn: CallConnection[] | undefined;
  private settled = false;
  /** Set once the RESPONSE has arrived and is being read: the deadline no longer fails the call [DEADLINE-8]. */
  private answered = false;
  /** Set while the deadline has passed and the call waits its grace for the server's own answer [DEADLINE-8]. */
  private inGrace = false;

  constructor(
    router: Router,
    head: RequestHead,
    body: Uint8Array,
    deadline: number,
    signal: AbortSignal | undefined,
    policy: CallPolicy,
    decode: ResponseDecoder<T>,
    onAck: (() => void) | undefined,
  ) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.router = router;
    this.head = head;
    this.body = body;
    this.deadline = deadline;
    this.signal = signal;
    this.policy = policy;
    this.decode = decode;
    this.onAck = onAck;
    this.oneway = decode === undefined;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.settle(abortedCallError(signal, "no", "before it was sent"));
        return;
      }
      signal.addEventListener("abort", this, { once: true });
    }
    // One deadline covers connecting, queueing and the wait for the RESPONSE
    // [DEADLINE-6]; a oneway call written at once never needs it.
    if (!this.oneway) this.armDeadline();
    this.start();
  }

  /** The call hears back about its own ticket: no field, no extra object per call. */
  get handlers(): CallHandlers {
    return this;
  }

  private armDeadline(): void {
    if (this.timer === undefined && !this.settled) this.timer = setDeadlineFor(this, this.deadline);
  }

  /**
   * Gets a connection other than those failed on (at once when one is open)
   * and submits the request.
   */
  private start(): void {
    const avoid = this.failedOn;
    const ready = this.router.pick(this.head, avoid);
    if (ready !== undefined) return this.submit(ready);
    this.armDeadline();
    this.router.connect(this.head, this.deadline, this.signal, avoid, this.policy.waitForReady).then(
      (connection) => this.submit(connection),
      (error: unknown) => this.fail(RpcError.from(error)),
    );
  }

  private submit(connection: CallConnection): void {
    if (this.settled) return;
    // A deadline already passed is caught when the request is written (TIMEOUT, not processed) [DEADLINE-5].
    this.connection = connection;
    this.submitted = true;
    try {
      connection.submit(this);
    } catch (error) {
      this.submitted = false;
      return this.fail(RpcError.from(error));
    }
    if (this.id === 0) this.armDeadline(); // queued on the connection
  }

  /** Written or still queued: only a written request may have run. */
  private processed(): "maybe" | "no" {
    return this.id !== 0 ? "maybe" : "no";
  }

  /** Forgets the request on its connection: dropped from the queue, or CANCEL sent [CANCEL-1] [DEADLINE-6]. */
  private forget(): void {
    if (this.submitted) this.connection?.cancel(this);
  }

  /**
   * The deadline passed. A written call first waits its grace for the
   * server's answer, which may prove it never ran (DEADLINE_EXPIRED from a
   * key queue); then, or at once when unwritten, it fails TIMEOUT and sends
   * CANCEL [DEADLINE-6] [DEADLINE-8].
   */
  deadlinePassed(): void {
    if (this.settled || this.answered) return;
    if (this.id !== 0 && !this.inGrace && this.policy.deadlineGraceMs > 0) {
      this.inGrace = true;
      this.timer = setDeadlineFor(this, this.deadline + this.policy.deadlineGraceMs);
      return;
    }
    const was = this.processed();
    this.forget();
    const message = !this.submitted
      ? "the deadline passed while connecting; nothing was sent"
      : this.id === 0
        ? "the deadline passed before the request was sent [DEADLINE-5]"
        : "the deadline passed before the response arrived";
    this.settle(RpcError.transport(TransportCode.TIMEOUT, message, was));
  }

  /**
   * The signal fired (EventListener interface, so no closure is needed):
   * CANCELLED, or TIMEOUT when the signal timed out [CANCEL-1] [DEADLINE-6].
   */
  handleEvent(): void {
    if (this.settled) return;
    if (this.inGrace) return this.expire(); // the deadline passed first
    const was = this.processed();
    this.forget();
    this.settle(abortedCallError(this.signal, was, this.submitted ? "" : "while connecting; nothing was sent"));
  }

  written(): void {
    if (!this.oneway || this.settled) return;
    this.settled = true;
    this.cleanup();
    this.resolve(undefined as T);
  }

  ack(): void {
    this.onAck?.();
  }

  arrived(): void {
    this.answered = true;
  }

  response(frame: Frame): void {
    if (this.settled) return;
    if (this.inGrace) {
      // Past the deadline only an answer proving the request never ran is reported as itself [DEADLINE-8].
      const code = frame.header.dispatchCode;
      if (code !== DispatchCode.OK && dispatchProcessed(code) === "no") return this.settle(responseError(frame.header, frame.body)!);
      return this.expire();
    }
    let value: T;
    try {
      value = this.decode!(frame);
    } catch (error) {
      // A dispatch answer such as SHUTTING_DOWN or OVERLOADED proves the request did not run: the router may retry it [STATUS-3] [CLUSTER-4].
      return this.fail(RpcError.from(error));
    }
    this.settled = true;
    this.cleanup();
    this.resolve(value);
  }

  fail(error: RpcError): void {
    if (this.settled) return;
    if (this.inGrace) return error.processed === "no" ? this.settle(error) : this.expire(); // [DEADLINE-8]
    this.attempt++;
    const failed = this.connection;
    if (now() < this.deadline && !this.signal?.aborted && this.router.retry(error, this.attempt, this.head, this.policy.idempotent, failed)) {
      if (failed !== undefined) (this.failedOn ??= []).push(failed);
      this.id = 0;
      this.submitted = false;
      this.connection = undefined;
      return this.start();
    }
    this.settle(error);
  }

  /** Ends the grace: TIMEOUT, processed maybe (the request was written), and CANCEL if still pending [DEADLINE-6]. */
  private expire(): void {
    this.forget();
    this.settle(RpcError.transport(TransportCode.TIMEOUT, "the deadline passed before the response arrived", "maybe"));
  }

  private settle(error: RpcError): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup();
    this.reject(error);
  }

  /** Once settled: the deadline and the signal let go, and the request body goes back to its pool [FRAME-1]. */
  private cleanup(): void {
    this.timer?.clear();
    this.signal?.removeEventListener("abort", this);
    releaseRequestBody(this.body);
  }
}
