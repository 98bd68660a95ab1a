// A subchannel: one multiplexed connection to one address at a time,
// opened lazily, replaced after a GOAWAY or a failure, reconnected with
// exponential backoff and jitter while calls wait (each no longer than its
// own deadline). Routers hand out its connection.

import { RpcError, TransportCode } from "../status/index.ts";
import type { TransportFactory } from "../transport/index.ts";
import type { CallConnection } from "./call-ticket.ts";
import type { ClientConnection, ClientConnectionSettings } from "./client-connection.ts";
import { openClientConnection } from "./client-handshake.ts";
import { sleep } from "../util/timer.ts";
import { abortedCallError } from "./call-abort.ts";
import { now } from "../util/clock.ts";

/** Backoff between failed connection attempts. */
export interface BackoffOptions {
  /** First delay after a failure. Default 50 ms. */
  initialMs?: number;
  /** Largest delay. Default 2000 ms. */
  maxMs?: number;
}

/** One address, one connection at a time (draining ones finish on their own) [DRAIN-3]. */
export class Subchannel {
  private current: ClientConnection | undefined;
  private connecting: Promise<ClientConnection> | undefined;
  private failures = 0;
  private retryAt = 0;
  private lastError: RpcError | undefined;
  private closed = false;
  private readonly all = new Set<ClientConnection>();
  /** Every connection it ever opened, closed ones included: a retry avoids this endpoint even after its failed connection is gone [CLUSTER-4]. */
  private readonly ever = new WeakSet<ClientConnection>();
  private readonly factory: () => Promise<TransportFactory>;
  private readonly settings: ClientConnectionSettings;
  private readonly backoff: Required<BackoffOptions>;

  /** The address this subchannel connects to. */
  readonly address: string;

  /** Hears of each attempt to connect: undefined when it opened, else its error (how a cluster counts failures) [CLUSTER-6]. */
  onAttempt: ((error: RpcError | undefined) => void) | undefined;

  /** Hears of each connection that ended by failing, with or without calls on it [CLUSTER-6]. */
  onLost: (() => void) | undefined;

  constructor(factory: () => Promise<TransportFactory>, address: string, settings: ClientConnectionSettings, backoff: BackoffOptions = {}) {
    this.factory = factory;
    this.address = address;
    this.settings = settings;
    this.backoff = { initialMs: backoff.initialMs ?? 50, maxMs: backoff.maxMs ?? 2000 };
  }

  /** Whether `connection` is or was one of this subchannel's (open, draining or closed): how a router tells where a failed call was [STATUS-3] [CLUSTER-4]. */
  owns(connection: CallConnection | undefined): boolean {
    return connection !== undefined && this.ever.has(connection as ClientConnection);
  }

  /** Whether a call failing fast would fail at once now: the last attempt failed and its backoff has not passed [HELLO-9]. */
  backingOff(): boolean {
    return this.current === undefined && this.retryAt > now();
  }

  /** The open, usable connection, if there is one: the common case, with no promise or timer. */
  ready(): ClientConnection | undefined {
    return !this.closed && this.current?.usable ? this.current : undefined;
  }

  /**
   * A usable connection, opening one if needed (a router that must avoid a
   * connection chooses another subchannel instead). Fail-fast (the
   * default): when the attempt fails, or the subchannel is backing off
   * after one that failed, rejects with that attempt's error (CONNECT_FAILED,
   * PROTOCOL_ERROR, VERSION_MISMATCH) at once. With `waitForReady`, waits out
   * the backoff and tries again until `deadline`, then fails TIMEOUT.
   * Either way not processed: nothing was written; a fired signal fails it
   * CANCELLED (TIMEOUT for a timeout signal) [HELLO-9] [DEADLINE-6] [CANCEL-1].
   */
  async acquire(deadline: number, signal?: AbortSignal, waitForReady = false): Promise<ClientConnection> {
    for (;;) {
      if (this.closed) throw RpcError.transport(TransportCode.UNAVAILABLE, "the client is closed", "no");
      if (signal?.aborted) throw abortedCallError(signal, "no", "while connecting; nothing was sent");
      if (now() >= deadline) {
        const last = this.lastError === undefined ? "" : ` (last attempt: ${this.lastError.rawMessage})`;
        throw RpcError.transport(TransportCode.TIMEOUT, `the deadline passed while connecting; nothing was sent${last}`, "no", this.lastError);
      }
      if (this.current?.usable) return this.current;
      const wait = this.retryAt - now();
      if (wait > 0) {
        // Backing off after a failed attempt: no new one for this call [HELLO-9].
        if (!waitForReady) throw this.lastError ?? RpcError.transport(TransportCode.CONNECT_FAILED, `cannot connect to ${this.address}`, "no");
        await sleep(Math.min(wait, deadline - now()), signal);
        continue;
      }
      try {
        return await this.connect();
      } catch (error) {
        if (!waitForReady) throw error;
      }
    }
  }

  private connect(): Promise<ClientConnection> {
    if (this.connecting === undefined) {
      this.connecting = (async () => {
        try {
          const connection = await openClientConnection(await this.factory(), this.address, this.settings);
          this.failures = 0;
          this.retryAt = 0;
          this.lastError = undefined;
          this.onAttempt?.(undefined);
          this.all.add(connection);
          this.ever.add(connection);
          connection.onceClosed(() => {
            this.all.delete(connection);
            if (this.current === connection) this.current = undefined;
            if (connection.lost && !this.closed) this.onLost?.();
          });
          if (this.closed) connection.close();
          else this.current = connection;
          return connection;
        } catch (error) {
          const rpcError = RpcError.from(error);
          this.lastError = rpcError;
          this.failures++;
          // Exponential backoff with jitter: a random point in the upper half of the delay.
          const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** (this.failures - 1));
          this.retryAt = now() + delay * (0.5 + Math.random() / 2);
          this.onAttempt?.(rpcError);
          throw rpcError;
        } finally {
          this.connecting = undefined;
        }
      })();
    }
    return this.connecting;
  }

  /**
   * Stops new calls; open connections close once their calls are answered
   * [DRAIN-9]. Resolves when every connection is closed (a connection being
   * opened is closed as soon as it opens).
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    await Promise.all([...this.all].map((connection) => new Promise<void>((resolve) => {
      connection.onceClosed(resolve);
      connection.close();
    })));
  }
}
