// One request on the server, from the moment it is in flight until it is
// finished, as one object with one state field. Moving the phase is the
// only way the connection's counters change: the RESPONSEs still owed
// (which a drain waits on), the concurrency slots held [LIMIT-5] and the
// handlers running.

import type { LongTimeout } from "../util/deadline-timers.ts";
import type { KeyTicket } from "./key-scheduler.ts";
import { RequestAbort } from "./request-context.ts";

/**
 * Where a request is. Unstarted: `admitting` (checks and decompression
 * before it holds a slot), `waiting` (holds a slot, waits for its body or
 * keys), `queued` (handed to a handler that queues, a worker pool, which
 * has not begun it). Started: `running`, `answered` (answered or cancelled
 * while its handler runs on), `orphaned` (its connection ended while the
 * handler runs on). Then `finished` [DEADLINE-3] [KEYS-6] [DRAIN-14].
 */
export const Phase = { admitting: 1, waiting: 2, queued: 4, running: 8, answered: 16, orphaned: 32, finished: 64 } as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** Phases in which a unary or acked request is still owed its RESPONSE [CALL-3]. */
const OWES_REPLY = Phase.admitting | Phase.waiting | Phase.queued | Phase.running;
/** Phases that hold a concurrency slot: a RESPONSE or CANCEL gives it back, even if the handler runs on [LIMIT-5]. */
const HOLDS_SLOT = Phase.waiting | Phase.queued | Phase.running | Phase.orphaned;
/** Phases in which the handler has started. */
const STARTED = Phase.running | Phase.answered | Phase.orphaned;

/** The counters a request's phase moves. */
export interface CallLedger {
  /** Unary and acked requests still owed a RESPONSE; a drain closes once it is 0 [DRAIN-4]. */
  owed: number;
  /** Requests holding one of this connection's slots [LIMIT-5]. */
  active: number;
  /** Handlers running, server-wide (for the stats). */
  running: number;
  /** Gives a server-wide slot back [LIMIT-5]. */
  releaseSlot(): void;
}

/** One request between admission and its end [CALL-3] [LIMIT-5] [KEYS-3]. */
export class ServerCall {
  readonly id: number;
  readonly oneway: boolean;
  /** "service/method", for the stats. */
  readonly name: string;
  /** Fires the handler's signal, if it asked for one [DEADLINE-4] [CANCEL-2]. */
  readonly abort = new RequestAbort();
  /** Its place in the key queues, held until the handler returns [KEYS-3]. */
  ticket: KeyTicket | undefined;
  /** Starts the request once admitted; the key queues call it when they grant the keys [KEYS-5]. */
  start: (() => void) | undefined;
  /** The body bytes it counts toward the server's bound while it waits for its keys [KEYS-11]. */
  waitingBytes = 0;
  /** The bytes it counts toward the server's bound while its compressed body waits to be decompressed [COMP-11]. */
  decompressingBytes = 0;
  /** A drain the handler asked for, started once this request is answered [DRAIN-2]. */
  drainAfterMs: number | undefined;
  timer: LongTimeout | undefined;
  private current: Phase = Phase.admitting;
  private readonly ledger: CallLedger;

  constructor(id: number, oneway: boolean, name: string, ledger: CallLedger) {
    this.id = id;
    this.oneway = oneway;
    this.name = name;
    this.ledger = ledger;
    if (!oneway) ledger.owed++;
  }

  get phase(): Phase {
    return this.current;
  }

  /** Whether a RESPONSE is still owed: a unary or acked request not yet answered, cancelled or orphaned [CALL-3]. */
  get owesReply(): boolean {
    return !this.oneway && (this.current & OWES_REPLY) !== 0;
  }

  /** Whether the handler has not started: waiting for a slot, its body, its keys or a worker [DRAIN-15]. */
  get unstarted(): boolean {
    return (this.current & (Phase.admitting | Phase.waiting | Phase.queued)) !== 0;
  }

  /** Moves to `next` and adjusts the counters the two phases differ in. */
  moveTo(next: Phase): void {
    const before = this.current;
    if (before === next || before === Phase.finished) return;
    this.current = next;
    const ledger = this.ledger;
    if (!this.oneway && (before & OWES_REPLY) !== 0 && (next & OWES_REPLY) === 0) ledger.owed--;
    const held = (before & HOLDS_SLOT) !== 0;
    if (held !== ((next & HOLDS_SLOT) !== 0)) {
      if (held) {
        ledger.active--;
        ledger.releaseSlot();
      } else {
        ledger.active++;
      }
    }
    const ran = (before & STARTED) !== 0;
    if (ran !== ((next & STARTED) !== 0)) ledger.running += ran ? -1 : 1;
  }
}
