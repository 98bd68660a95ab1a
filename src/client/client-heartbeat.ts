// The client's heartbeat on one connection: PINGs that find a dead or
// half-open server, and keep a client that only receives from being closed
// as idle. One timer, set for the next moment something is due.

import { encodeFrame, FrameType, type Hello } from "../wire/index.ts";
import { setTimer, type Timer } from "../util/timer.ts";
import { now } from "../util/clock.ts";

/** The heartbeat never keeps the process alive by itself; pending calls do [PING-4]. */
const UNREFERENCED = Object.freeze({ keepAlive: false });

/** What the heartbeat needs from its connection. */
export interface HeartbeatConnection {
  /** Whether calls wait for answers here [PING-9]. */
  readonly hasPending: boolean;
  /** Writes a frame to the server. */
  write(bytes: Uint8Array): void;
  /** Nothing arrived within an interval of a PING: the connection is dead [PING-5]. */
  dead(message: string): void;
}

/**
 * The effective PING interval: ours, at most half the server's idle
 * timeout, at least the server's minimum [PING-8].
 */
export function pingInterval(ours: number, hello: Hello): number {
  let interval = ours;
  if (hello.idleTimeoutMs > 0) interval = Math.min(interval, hello.idleTimeoutMs / 2);
  return Math.max(interval, hello.minPingIntervalMs || 1000);
}

/**
 * Pings when nothing was received for the interval, and declares the
 * connection dead when nothing arrives for another interval after a PING:
 * a dead or half-open connection is found within 2 intervals of the last
 * byte [PING-4] [PING-5]. With calls pending, it also pings when nothing
 * was sent for half the server's idle timeout, so a client that only
 * receives is not closed as idle [PING-9]. Bytes arriving between timer
 * firings only move the next moment, checked when the timer fires.
 */
export class ClientHeartbeat {
  private readonly connection: HeartbeatConnection;
  private readonly interval: number;
  private readonly idleHalf: number;
  private lastByteAt = now();
  private lastPingAt = -Infinity;
  private lastSentAt = now();
  private pingOutstandingSince: number | undefined;
  private timer: Timer | undefined;
  private stopped = false;

  constructor(connection: HeartbeatConnection, intervalMs: number, serverIdleTimeoutMs: number) {
    this.connection = connection;
    this.interval = intervalMs;
    this.idleHalf = serverIdleTimeoutMs / 2;
    this.arm();
  }

  /** Bytes arrived from the server: any byte proves it alive [PING-5]. */
  received(): void {
    this.lastByteAt = now();
    this.pingOutstandingSince = undefined;
  }

  /** A request was written at `at` (a performance.now() value) [PING-9]. */
  sent(at: number): void {
    this.lastSentAt = at;
  }

  /** The connection closed: no more PINGs. */
  stop(): void {
    this.stopped = true;
    this.timer?.clear();
  }

  private nextDue(): number {
    const interval = this.interval;
    if (this.pingOutstandingSince !== undefined) return this.pingOutstandingSince + interval;
    let due = Math.max(this.lastByteAt, this.lastPingAt) + interval;
    if (this.idleHalf > 0 && this.connection.hasPending) due = Math.min(due, Math.max(this.lastSentAt + this.idleHalf, this.lastPingAt + interval));
    return due;
  }

  private arm(): void {
    this.timer = setTimer(this.tick, Math.max(1, this.nextDue() - now()), UNREFERENCED);
  }

  private readonly tick = (): void => {
    if (this.stopped) return;
    const interval = this.interval;
    const t = now();
    if (this.pingOutstandingSince !== undefined && t - this.pingOutstandingSince >= interval) {
      this.connection.dead(`no answer from the server within ${interval} ms of a PING: the connection is dead [PING-5]`);
      return;
    }
    const silent = t - this.lastByteAt >= interval;
    const quiet = this.idleHalf > 0 && this.connection.hasPending && t - this.lastSentAt >= this.idleHalf;
    if ((silent || quiet) && t - this.lastPingAt >= interval) {
      this.lastPingAt = t;
      if (silent) this.pingOutstandingSince = t;
      this.lastSentAt = t;
      this.connection.write(encodeFrame({ type: FrameType.PING }, new Uint8Array(8)));
    }
    this.arm();
  };
}
