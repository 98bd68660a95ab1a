// The requests of one connection, from REQUEST to RESPONSE: admission
// (section 7.5), decompression (12), the concurrency slots (14), keys (15),
// the handler, its deadline and cancellation (9), and the one answer each
// request is owed (8). Each request is a ServerCall whose phase alone moves
// the counters a drain and the limits read.

import { CallMode, Compression, DispatchCode, encodeFrame, FrameType, type FrameHeader, type FrameLimits } from "../wire/index.ts";
import { dispatchCodeName } from "../status/index.ts";
import { notProcessedCode, type ResponseStatus } from "../status/wire-status.ts";
import { handlerFailureAnswer, logUnsendableResponse } from "./handler-failure.ts";
import type { ConnectionInfo } from "../transport/index.ts";
import { setDeadlineAt } from "../util/deadline-timers.ts";
import { RequestTable } from "../util/request-table.ts";
import { InterceptorRefusal, runIntercepted } from "./intercepted-run.ts";
import { RunTimer } from "./run-timer.ts";
import { admissionCheck, EXPIRED_BEFORE_START, isRefusal, type AdmissionScope } from "./admission.ts";
import type { ConnectionHost, ConnectionSettings } from "./connection-host.ts";
import { MethodRefTable } from "./method-ref-table.ts";
import { RequestContext, type ContextOwner } from "./request-context.ts";
import { writeResponse, type ByteSink } from "./response-writer.ts";
import { Phase, ServerCall, type CallLedger } from "./server-call.ts";
import type { RegisteredMethod } from "./service-registry.ts";
import { UNOFFERED_METHODS } from "./server-stats.ts";
import { ConnectionInflater } from "./connection-inflater.ts";
import { ConnectionWaiting, holdWhileWaiting, ownBytes, stopWaiting } from "./waiting-requests.ts";
import { now } from "../util/clock.ts";

/** What the pipeline needs from its connection. */
export interface PipelineConnection extends ByteSink {
  readonly info: ConnectionInfo;
  /** The client's limits from its HELLO [HELLO-7]. */
  readonly clientLimits: FrameLimits;
  /** The last_request_id of this connection's GOAWAY, once it is draining [DRAIN-8]. */
  readonly goawayLastId: number | undefined;
  /** Starts a drain of the connection [DRAIN-2]. */
  drain(graceMs: number): void;
  /** Closes a draining connection once no RESPONSE is owed [DRAIN-4]. */
  closeIfDrained(): void;
}

/**
 * How the requests of a connection end with it: at EOF (queued oneway
 * requests still run), at the end of a drain's grace period (queued unary
 * and acked requests are answered SHUTTING_DOWN), or at a connection error
 * [DRAIN-10] [DRAIN-14] [DRAIN-15].
 */
export type Ending = "eof" | "grace" | "error";

const EMPTY = new Uint8Array(0);
/** The status of a handler's output sent without metadata [CALL-3]. */
const OK: ResponseStatus = Object.freeze({});

/** What decoded() returns for a body that is not the input: the call has been refused. */
const REFUSED = Symbol("refused");

/** The requests of one connection [CALL-3] [LIMIT-5] [KEYS-3] [DEADLINE-3] [DRAIN-14]. */
export class RequestPipeline implements CallLedger, ContextOwner<ServerCall>, AdmissionScope {
  owed = 0;
  active = 0;
  private readonly connection: PipelineConnection;
  private readonly settings: ConnectionSettings;
  private readonly host: ConnectionHost;
  /** Small at first: most connections have few requests in flight; it grows as needed. */
  private readonly calls = new RequestTable<ServerCall>(8);
  /** The connection's method references; made for the first request that carries one [REF-2]. */
  private methodRefs: MethodRefTable | undefined;
  /** Gzip bodies of this connection, inflated one at a time, in order [COMP-9] [COMP-11]; made for the first. */
  private inflater: ConnectionInflater | undefined;
  /** Its requests that wait for keys, which count it too while they keep it alive [KEYS-11]. */
  private readonly keyWaiting: ConnectionWaiting;
  /** Times the handler runs for the stats; the connection says when it reads a chunk [EXT-8]. */
  readonly runs: RunTimer;

  constructor(connection: PipelineConnection, settings: ConnectionSettings, host: ConnectionHost) {
    this.connection = connection;
    this.settings = settings;
    this.host = host;
    this.runs = new RunTimer(host.stats);
    this.keyWaiting = new ConnectionWaiting(host.holdKeyWaiting);
  }

  get running(): number {
    return this.host.stats.requestsInFlight;
  }

  set running(value: number) {
    this.host.stats.requestsInFlight = value;
  }

  releaseSlot(): void {
    this.host.releaseSlot();
  }

  get registry() {
    return this.host.registry;
  }

  get keyedDispatch(): boolean {
    return this.host.keys !== undefined;
  }

  get goawayLastId(): number | undefined {
    return this.connection.goawayLastId;
  }

  /** Takes up a received REQUEST: refused, or in flight from here [CALL-5] [KEYS-4]. */
  request(header: FrameHeader, body: Uint8Array, receivedAt: number): void {
    this.host.stats.requestsTotal++;
    const id = header.requestId;
    const deadline = header.timeoutMs === undefined ? undefined : receivedAt + header.timeoutMs;
    // A method reference binds, or fills in the names it is bound to, before any check: whatever becomes of the request [REF-2].
    // One that names no method is refused in place of the names' checks [REF-3] [CALL-10].
    const method = (header.methodRef === 0 ? undefined : (this.methodRefs ??= new MethodRefTable()).take(header)) ?? admissionCheck(header, deadline, receivedAt, this);
    if (isRefusal(method)) return this.reject(header, method.code, method.message);
    // From here the request is in flight: CANCEL, its deadline, EOF and drain
    // all see it, also while its body is still being decompressed.
    const call = new ServerCall(id, header.callMode === CallMode.ONEWAY, method.name, this);
    // A keyed request takes its place in the key queues now, in the order the
    // requests are taken up, even if its body is still to be decompressed [KEYS-4] [KEYS-9].
    if (header.keys.length > 0) {
      call.ticket = this.host.keys!.enqueue(header.keys, () => call.start?.());
      if (call.ticket === undefined) {
        call.moveTo(Phase.finished);
        return this.reject(header, DispatchCode.OVERLOADED, "a key's queue is full [KEYS-8]");
      }
    }
    this.calls.set(id, call);
    if (header.compression === Compression.GZIP) return this.inflateThenAdmit(header, body, method, deadline, call);
    this.admit(header, body, method, deadline, call);
  }

  /**
   * Admitted before it is inflated, so the concurrency limits bound the
   * bombs a client can pipeline [COMP-9] [LIMIT-5]; then inflated by native
   * zlib, one at a time per connection and a few per server.
   */
  private inflateThenAdmit(header: FrameHeader, compressed: Uint8Array, method: RegisteredMethod, deadline: number | undefined, call: ServerCall): void {
    if (!this.claimSlot(call)) return;
    this.inflater ??= new ConnectionInflater(this.host, this.settings.limits.maxBodySize);
    const queued = this.inflater.inflate(header, compressed, call, (result) => {
      // Cancelled, or its connection ended and took it along [CANCEL-2] [DRAIN-14].
      if (result === undefined || call.phase === Phase.finished) return;
      if (!result.ok) {
        if (result.failure === "too-large") this.refuse(call, DispatchCode.REQUEST_TOO_LARGE, `the body is ${result.detail} [COMP-5]`);
        else this.refuse(call, DispatchCode.INVALID_ARGUMENT, `the body does not decompress: ${result.detail} [COMP-6]`);
        return;
      }
      if (deadline !== undefined && deadline <= now()) {
        return this.refuse(call, DispatchCode.DEADLINE_EXPIRED, EXPIRED_BEFORE_START);
      }
      this.admit(header, result.bytes, method, deadline, call);
    });
    if (!queued) this.refuse(call, DispatchCode.OVERLOADED, "the server holds as many compressed requests waiting to be decompressed as it can [COMP-11]");
  }

  /** Refuses a request at admission, before it is in flight: answered with a not-processed code, or dropped if oneway [CALL-5]. */
  private reject(header: FrameHeader, code: DispatchCode, message: string): void {
    // Counted under the method's own name only if the server offers it: names
    // a client makes up all share one entry, so the stats stay bounded [EXT-9].
    const offered = this.host.registry.service(header.service)?.get(header.method);
    this.host.stats.recordRejected(offered?.name ?? UNOFFERED_METHODS, dispatchCodeName(code));
    if (header.callMode !== CallMode.ONEWAY) this.send(header.requestId, { dispatchCode: code, dispatchMessage: message }, EMPTY);
  }

  /** Answers an in-flight request whose handler has not started, and removes it [STATUS-6]. */
  private refuse(call: ServerCall, code: DispatchCode, message: string): void {
    this.host.stats.recordRejected(call.name, dispatchCodeName(code));
    if (call.owesReply) this.send(call.id, { dispatchCode: code, dispatchMessage: message }, EMPTY);
    this.remove([call]);
    this.connection.closeIfDrained();
  }

  /**
   * The last admission checks (input, concurrency), then the ACK; then the
   * request runs, at once or when it holds its keys [CALL-6] [LIMIT-5] [KEYS-5].
   */
  private admit(header: FrameHeader, body: Uint8Array, method: RegisteredMethod, deadline: number | undefined, call: ServerCall): void {
    const waits = call.ticket !== undefined && !call.ticket.granted;
    // A request that waits keeps its body for as long as it waits: a view into the read it came in
    // would keep all of that read, which [KEYS-11] does not count.
    if (waits) body = ownBytes(body);
    const input = this.decoded(header, body, method, call);
    if (input === REFUSED) return;
    if (call.phase === Phase.admitting && !this.claimSlot(call)) return;
    // Waiting for its keys, perhaps past its connection's end: counted toward the server's bound, an
    // admission check like the others, so before any ACK [KEYS-11] [CALL-6].
    if (waits && !holdWhileWaiting(this.keyWaiting, header, body, call)) return this.refuse(call, DispatchCode.OVERLOADED, "the server holds as many requests waiting for keys as it can [KEYS-11]");
    if (header.callMode === CallMode.ACKED) {
      // The deadline was checked as of the frame's arrival; an ACK says the request was admitted, so
      // the check is made again now: the frame may have waited behind other handlers or a paused read [CALL-6].
      if (deadline !== undefined && deadline <= now()) {
        return this.refuse(call, DispatchCode.DEADLINE_EXPIRED, EXPIRED_BEFORE_START);
      }
      this.connection.write(ackFrame(call.id));
    }
    if (!waits) this.run(header, input, method, deadline, call);
    // Decoded, a body can take many times its size (an object for each two-byte entry): a waiting
    // request keeps only the body it counts, and decodes it again when it starts [KEYS-11].
    else {
      call.start = () => {
        const again = this.decoded(header, body, method, call);
        if (again !== REFUSED) this.run(header, again, method, deadline, call);
      };
    }
    // Armed only for a request still in progress: no timer fires while a handler runs without
    // yielding, so one that answered synchronously never needed it, and costs no timer work.
    if (deadline !== undefined && call.phase !== Phase.finished) call.timer = setDeadlineAt(() => this.onDeadline(call), deadline);
  }

  /**
   * The concurrency checks: a request holds a slot of the connection's and
   * the server's limits from here until it is answered, waiting or running;
   * false (and answered OVERLOADED) when a limit is reached [LIMIT-5].
   */
  private claimSlot(call: ServerCall): boolean {
    const limit = this.settings.maxConcurrentRequests;
    if (limit > 0 && this.active >= limit) {
      this.refuse(call, DispatchCode.OVERLOADED, `${limit} requests of this connection are in progress [LIMIT-5]`);
      return false;
    }
    if (!this.host.acquireSlot()) {
      this.refuse(call, DispatchCode.OVERLOADED, "the server is at its limit of requests in progress [LIMIT-5]");
      return false;
    }
    call.moveTo(Phase.waiting);
    return true;
  }

  /**
   * A request's deadline passed: one not started leaves the queues, answered
   * DEADLINE_EXPIRED; a running one is signalled and answered
   * DEADLINE_EXCEEDED at once, though it keeps its keys until its handler
   * returns [KEYS-6] [DEADLINE-3] [DEADLINE-4] [KEYS-3].
   */
  private onDeadline(call: ServerCall): void {
    if (call.unstarted) {
      const where = call.phase === Phase.queued ? "for a worker [DEADLINE-3]" : "for its keys [KEYS-6]";
      this.host.stats.recordRejected(call.name, "DEADLINE_EXPIRED");
      if (call.owesReply) this.send(call.id, { dispatchCode: DispatchCode.DEADLINE_EXPIRED, dispatchMessage: `the deadline passed while the request waited ${where}` }, EMPTY);
      this.remove([call]);
      this.connection.closeIfDrained();
      return;
    }
    call.abort.abort(new DOMException("the deadline passed", "TimeoutError"));
    // The caller has given up; say so at once rather than when the handler returns [DEADLINE-4].
    this.answer(call, { dispatchCode: DispatchCode.DEADLINE_EXCEEDED, dispatchMessage: "the deadline passed while the handler ran" }, EMPTY);
  }

  /**
   * Removes requests that have not started: first all of them, then their
   * tickets, so releasing one cannot start another that is being removed
   * [KEYS-6] [DRAIN-14].
   */
  private remove(calls: ServerCall[]): void {
    for (const call of calls) {
      stopWaiting(this.keyWaiting, call);
      const queued = call.phase === Phase.queued;
      call.timer?.clear();
      this.calls.delete(call.id);
      call.moveTo(Phase.finished);
      // Its handler's own queue lets go of it on the signal, without running it.
      if (queued) call.abort.abort(new DOMException("the request was removed before it started", "AbortError"));
    }
    for (const call of calls) call.ticket?.release();
  }

  /** A handler asked for a drain once its request is answered: now if it already is [DRAIN-2]. */
  drainAfter(call: ServerCall, graceMs: number): void {
    call.drainAfterMs = graceMs;
    if (!call.owesReply) this.connection.drain(graceMs);
  }

  /**
   * A queueing handler (a worker pool) is about to start a request it held:
   * false when it must not, because the request was removed or its deadline
   * has passed (then answered DEADLINE_EXPIRED) [DEADLINE-3] [CANCEL-2].
   */
  begin(call: ServerCall, _requestId: number, deadline: number | undefined): boolean {
    if (call.phase !== Phase.queued) return !call.unstarted && call.phase !== Phase.finished;
    if (deadline !== undefined && deadline <= now()) {
      this.onDeadline(call);
      return false;
    }
    call.moveTo(Phase.running);
    return true;
  }

  /** The body decoded as the method's input; or REFUSED, the call answered INVALID_ARGUMENT, when it is not [STATUS-4]. */
  private decoded(header: FrameHeader, body: Uint8Array, method: RegisteredMethod, call: ServerCall): unknown {
    try {
      return method.decode(body);
    } catch (error) {
      this.refuse(call, DispatchCode.INVALID_ARGUMENT, `the body is not ${header.service}/${header.method}'s input: ${(error as Error).message}`);
      return REFUSED;
    }
  }

  /** Starts the handler of an admitted request that holds its keys, if it has any [KEYS-5]. */
  private run(header: FrameHeader, input: unknown, method: RegisteredMethod, deadline: number | undefined, call: ServerCall): void {
    stopWaiting(this.keyWaiting, call);
    if (call.phase === Phase.finished) return;
    const started = now();
    // The run before it, if it is still untimed, ended here: counted before this handler can read the stats [EXT-8].
    this.runs.starting(started);
    if (deadline !== undefined && deadline <= started) {
      // Checked again at start: a request can get its keys in the same turn its deadline passes [DEADLINE-3].
      return this.onDeadline(call);
    }
    // A queueing handler starts the request later, when it calls begin().
    call.moveTo(method.queues ? Phase.queued : Phase.running);
    const context = new RequestContext(header, this.connection.info, call.abort, deadline, this, call);
    let result: Uint8Array | Promise<Uint8Array>;
    try {
      const intercept = this.host.intercept;
      result = intercept === undefined ? method.invoke(input, context) : runIntercepted(intercept, header, input, method, context, call);
    } catch (error) {
      return this.finish(call, context, started, undefined, error);
    }
    // A handler that answered synchronously is finished without a promise.
    if (result instanceof Uint8Array) this.finish(call, context, started, result, undefined);
    else {
      result.then(
        (output) => this.finish(call, context, started, output, undefined),
        (error: unknown) => this.finish(call, context, started, undefined, error),
      );
    }
  }

  /** A handler returned (`output`) or failed (`error`): answer if still owed, then release what the request held [KEYS-3]. */
  private finish(call: ServerCall, context: RequestContext<ServerCall>, started: number, output: Uint8Array | undefined, error: unknown): void {
    if (call.unstarted) return this.finishUnstarted(call, error);
    if (call.phase === Phase.finished) return;
    let failed = output === undefined;
    const refused = error instanceof InterceptorRefusal;
    try {
      if (refused) {
        this.host.stats.recordRejected(call.name, dispatchCodeName(error.code));
        this.answer(call, { dispatchCode: error.code, dispatchMessage: error.message }, EMPTY);
      } else if (!failed) {
        // A response that cannot be sent as it is goes out as HANDLER_ERROR, and counts as an error.
        const metadata = context.metadataToSend;
        failed = !this.answer(call, metadata === undefined ? OK : { metadata }, output!);
      } else {
        const { status, body } = handlerFailureAnswer(error, { name: call.name, id: call.id, peer: context.peer }, context.responseMetadata, this.settings.exposeHandlerErrors, this.host.logger);
        this.answer(call, status, body);
      }
    } catch {
      // A bug in answering must not take the server down: answer HANDLER_ERROR if still owed.
      failed = true;
      try {
        this.answer(call, { dispatchCode: DispatchCode.HANDLER_ERROR, dispatchMessage: "handler failed" }, EMPTY);
      } catch {
        // The connection is beyond answering; its close fails the call at the client.
      }
    }
    // Counted before its keys are released: that may start a handler on another connection.
    if (!refused) this.runs.returned(call.name, started, failed, call.ticket === undefined);
    call.timer?.clear();
    // The keys are released only now that the handler has returned [KEYS-3].
    call.ticket?.release();
    this.calls.delete(call.id);
    call.moveTo(Phase.finished);
    this.connection.closeIfDrained();
  }

  /**
   * A queueing handler gave back a request it never began: answered with the
   * not-processed code it chose (OVERLOADED when its queue is full,
   * SHUTTING_DOWN when it closed), unless the request was already answered
   * and removed [STATUS-6].
   */
  private finishUnstarted(call: ServerCall, error: unknown): void {
    const code = notProcessedCode(error);
    if (code !== undefined) return this.refuse(call, code, (error as { rawMessage: string }).rawMessage);
    this.refuse(call, DispatchCode.INTERNAL, "the request could not be handed to its handler");
  }

  /**
   * Sends the one RESPONSE a started request is owed, unless it was answered
   * or abandoned [CALL-3]; false when it could not be sent as given and
   * went out as HANDLER_ERROR instead [STATUS-11].
   */
  private answer(call: ServerCall, status: ResponseStatus, body: Uint8Array): boolean {
    if (!call.owesReply) return true;
    let sent = true;
    try {
      this.send(call.id, status, body);
    } catch (error) {
      // Whatever went wrong, the caller still gets its one answer [STATUS-11], and the server's log says why.
      logUnsendableResponse(this.host.logger, { name: call.name, id: call.id, peer: this.connection.info.peer }, error);
      const message = this.settings.exposeHandlerErrors ? `response could not be sent: ${(error as Error).message}` : "handler failed";
      this.send(call.id, { dispatchCode: DispatchCode.HANDLER_ERROR, dispatchMessage: message }, EMPTY);
      sent = false;
    }
    // A request stops holding its slot once its RESPONSE is written, even if its handler runs on [LIMIT-5].
    call.moveTo(Phase.answered);
    if (call.drainAfterMs !== undefined) this.connection.drain(call.drainAfterMs);
    this.connection.closeIfDrained();
    return sent;
  }

  private send(id: number, status: ResponseStatus, body: Uint8Array): void {
    writeResponse(this.connection, id, status, body, this.connection.clientLimits);
  }

  /** CANCEL: no RESPONSE follows; a request not started never starts, a running one is signalled [CANCEL-2] [CANCEL-3] [CANCEL-4]. */
  cancel(id: number): void {
    const call = this.calls.get(id);
    if (call === undefined || call.oneway) return; // not in flight: ignored [CANCEL-3]
    if (call.unstarted) {
      this.remove([call]);
    } else {
      call.abort.abort(new DOMException("the caller cancelled the request", "AbortError"));
      // Nothing is owed any more: the slot is free at once, so the client's next queued call fits [LIMIT-5].
      call.moveTo(Phase.answered);
    }
    this.connection.closeIfDrained();
  }

  /** The requests in flight, lowest id first: answers and releases go out in the order the requests came. */
  private inIdOrder(): ServerCall[] {
    return this.calls.entries().map(([, call]) => call);
  }

  /** Whether requests still wait to start (after EOF: oneway requests waiting for keys) [DRAIN-15]. */
  hasUnstarted(): boolean {
    for (const call of this.calls.valueList()) if (call.unstarted) return true;
    return false;
  }

  /** Drops the requests that have not started, without answering: the server's grace period is over [DRAIN-15]. */
  dropUnstarted(): void {
    this.remove(this.inIdOrder().filter((call) => call.unstarted));
  }

  /**
   * Ends the connection's requests: running unary and acked handlers are
   * signalled; unstarted unary and acked requests are removed (answered
   * SHUTTING_DOWN at the end of a grace period); unstarted oneway requests
   * still run after EOF and are dropped otherwise [DRAIN-9] [DRAIN-10]
   * [DRAIN-14] [DRAIN-15].
   */
  end(reason: string, ending: Ending): void {
    const unstarted: ServerCall[] = [];
    for (const call of this.inIdOrder()) {
      if (call.unstarted) {
        if (call.oneway && ending === "eof") continue;
        if (call.owesReply && ending === "grace") {
          this.send(call.id, { dispatchCode: DispatchCode.SHUTTING_DOWN, dispatchMessage: "the drain grace period ended before the request started [DRAIN-10]" }, EMPTY);
        }
        unstarted.push(call);
        continue;
      }
      if (call.oneway) continue;
      if (call.phase === Phase.running) call.moveTo(Phase.orphaned);
      call.abort.abort(new DOMException(reason, "AbortError"));
    }
    this.remove(unstarted);
  }
}

/** The ACK of an acked request [CALL-6]. */
function ackFrame(id: number): Uint8Array {
  return encodeFrame({ type: FrameType.ACK, requestId: id });
}
