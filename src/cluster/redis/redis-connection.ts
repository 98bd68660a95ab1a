// One connection to one Redis server, as the registrar and the source use
// it. node-redis reconnects by itself with a bounded backoff; while it is
// down, commands fail at once (no offline queue), and while it is up each
// is bounded by a timeout, so no caller waits on an unreachable or hung
// Redis. Outages are logged once each, not once per reconnect attempt.

import { setTimer } from "../../util/timer.ts";
import { createClient, type RedisClient } from "./redis-module.ts";

/** The longest wait between two reconnect attempts to a Redis server that is down, so a registry that is back is read again soon [CLUSTER-3]. */
export const MAX_RECONNECT_DELAY_MS = 2000;

/** Doubles from 50 ms up to MAX_RECONNECT_DELAY_MS, with up to 50 ms of jitter so many clients do not reconnect in step. */
function reconnectDelay(retries: number): number {
  return Math.min(MAX_RECONNECT_DELAY_MS, 50 * 2 ** retries) + Math.floor(Math.random() * 50);
}

/** `url` with its password replaced by "***", for descriptions and logs (spec 21.2). */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = "***";
    return parsed.href;
  } catch {
    return url;
  }
}

/** Settles as `promise` does, or rejects with `timeoutError()` once `ms` have passed. */
function bounded<T>(promise: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimer(() => reject(timeoutError()), ms);
    promise.then(
      (value) => {
        timer.clear();
        resolve(value);
      },
      (error: unknown) => {
        timer.clear();
        reject(error);
      },
    );
  });
}

/** Options of a RedisConnection (spec 21.2) [CLUSTER-3]. */
export interface RedisConnectionOptions {
  /** The server, e.g. "redis://127.0.0.1:6379". */
  url: string;
  /** Bounds connecting, waiting for a reconnect, and each command. */
  commandTimeoutMs: number;
  /** Where outages and recoveries are reported; undefined: nowhere. */
  log: ((message: string) => void) | undefined;
  /** Called each time the connection is ready: the first time and after each reconnect. */
  onReady?: () => void;
  /** Called when a ready connection is lost. */
  onLost?: () => void;
}

/** One node-redis connection with bounded commands and once-per-outage logs (spec 21.2) [CLUSTER-3]. */
export class RedisConnection {
  /** The server's URL without its password. */
  readonly url: string;
  private readonly client: RedisClient;
  private readonly timeoutMs: number;
  private readonly log: ((message: string) => void) | undefined;
  private lastError: Error | undefined;
  private up = false;
  private down = false;
  private closed = false;
  private readonly waiters = new Set<() => void>();

  constructor(options: RedisConnectionOptions) {
    this.url = redactUrl(options.url);
    this.timeoutMs = options.commandTimeoutMs;
    this.log = options.log;
    this.client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: options.commandTimeoutMs, reconnectStrategy: reconnectDelay },
    });
    // node-redis emits "error" for every failed connection attempt; without a listener it would throw.
    this.client.on("error", (error: Error) => {
      this.lastError = error;
      if (this.closed) return;
      const wasUp = this.up;
      this.up = false;
      if (!this.down) {
        this.down = true;
        this.log?.(`${this.url} ${wasUp ? "lost" : "cannot be reached"}: ${error.message}; reconnecting`);
      }
      if (wasUp) options.onLost?.();
    });
    this.client.on("ready", () => {
      if (this.closed) return;
      if (this.down) this.log?.(`${this.url} can be reached again`);
      this.down = false;
      this.up = true;
      this.lastError = undefined;
      for (const wake of this.waiters) wake();
      options.onReady?.();
    });
    // Failures arrive as "error" events and are retried; connect() rejects only once the client is closed.
    this.client.connect().catch(() => undefined);
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return !this.closed && this.client.isReady;
  }

  private unreachable(): Error {
    if (this.closed) return new Error(`${this.url}: the connection is closed`);
    return new Error(`${this.url} cannot be reached${this.lastError !== undefined ? `: ${this.lastError.message}` : ""}`);
  }

  /** Resolves once the connection is ready; rejects if it is not within the command timeout, or is closed. */
  private whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    if (this.closed) return Promise.reject(this.unreachable());
    return new Promise((resolve, reject) => {
      const settle = () => {
        this.waiters.delete(settle);
        timer.clear();
        if (this.ready) resolve();
        else reject(this.unreachable());
      };
      const timer = setTimer(settle, this.timeoutMs);
      this.waiters.add(settle);
    });
  }

  /**
   * Runs `command` on the client, bounded by the command timeout. When the
   * connection is not ready, waits for it up to that timeout, or, with
   * `waitForReady` false, fails at once.
   */
  async run<T>(what: string, command: (client: RedisClient) => Promise<T>, waitForReady = true): Promise<T> {
    if (!this.ready) {
      if (!waitForReady) throw this.unreachable();
      await this.whenReady();
    }
    return bounded(command(this.client), this.timeoutMs, () => new Error(`${this.url}: ${what} had no answer within ${this.timeoutMs} ms`));
  }

  /** Subscribes to `channel`, now or as soon as the server can be reached; node-redis subscribes again after each reconnect. */
  subscribe(channel: string, listener: (message: string) => void): void {
    this.client.subscribe(channel, (message: string) => listener(message)).catch((error: Error) => {
      if (!this.closed) this.log?.(`${this.url}: cannot subscribe to ${channel}: ${error.message}`);
    });
  }

  /** Closes the connection, waiting for pending commands at most the command timeout; never reconnects after. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const wake of this.waiters) wake();
    try {
      await bounded(this.client.close(), this.timeoutMs, () => new Error("close timed out"));
    } catch {
      // A hung server: drop the socket below.
    } finally {
      if (this.client.isOpen) this.client.destroy();
    }
  }
}
