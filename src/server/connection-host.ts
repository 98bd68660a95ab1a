// What the connections of one server share: the settings they all apply
// and the server-wide state they draw on (services, key queues, limits
// counted across connections, stats).

import type { FrameLimits, RawInflater } from "../wire/index.ts";
import type { KeyDispatch } from "./key-scheduler.ts";
import type { ServiceRegistry } from "./service-registry.ts";
import type { StatsCollector } from "./server-stats.ts";
import type { TaskLimiter } from "./task-limiter.ts";
import type { ConnectionInfo } from "../transport/index.ts";
import type { ServerCallHandler } from "./interceptor.ts";
import type { Logger } from "../util/logger.ts";
import type { ConnectionAgeSettings } from "./connection-age.ts";

/** What the server needs to know of a connection that has closed. */
export interface HostedConnection {
  readonly info: ConnectionInfo;
  /** Whether requests still wait to start (oneway requests after EOF) [DRAIN-15]. */
  hasUnstarted(): boolean;
  /** Whether it ended with requests still to start, until none is left [DRAIN-15]. */
  readonly lingering: boolean;
}

/** Settings every connection of a server shares, its maximum age [DRAIN-18] among them. */
export interface ConnectionSettings extends ConnectionAgeSettings {
  /** What this server declared in its HELLO. */
  readonly limits: FrameLimits;
  readonly idleTimeoutMs: number;
  /** Clients may ping no more often than this [PING-6]. */
  readonly minPingIntervalMs: number;
  readonly maxConcurrentRequests: number;
  readonly handshakeTimeoutMs: number;
  /** Put handler error messages in dispatch_message (off: a fixed safe message) [STATUS-5]. */
  readonly exposeHandlerErrors: boolean;
  /** The preface and HELLO frame the server sends, encoded once. */
  readonly greeting: Uint8Array;
  /** Unwritten output a connection may hold before it is closed; 0 = no bound [SEC-3]. */
  readonly maxConnectionOutputBytes: number;
  /** The longest one frame may take to arrive, from its first byte to its last; 0 = no bound [FRAME-19]. */
  readonly frameTransferTimeoutMs: number;
}

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly registry: ServiceRegistry;
  readonly stats: StatsCollector;
  /** The server-wide key queues, or undefined when the server does not offer keyed dispatch [KEYS-2] [KEYS-9]. */
  readonly keys: KeyDispatch | undefined;
  /** Native raw inflate for gzip bodies; undefined where the runtime has none [COMP-6]. */
  inflate: RawInflater | undefined;
  /** Bounds the decompressions in progress across the server [COMP-9]. */
  readonly decompressions: TaskLimiter;
  /**
   * Tells the server that this connection's unwritten output changed by
   * `delta` bytes; false when the server's total is over its bound and the
   * connection must give its output up [SEC-3].
   */
  holdOutput(delta: number): boolean;
  /**
   * Tells the server that the buffers of this connection's partial frame
   * changed by `delta` bytes; false when all connections together are over
   * the server's bound [FRAME-20].
   */
  holdPartialFrame(delta: number): boolean;
  /** The bodies of requests waiting for keys changed by `delta` bytes; false when that takes them past the server's bound [KEYS-11]. */
  holdKeyWaiting(delta: number): boolean;
  /** What compressed requests waiting to be decompressed count changed by `delta` bytes; false when that takes them past the server's bound [COMP-11]. */
  holdDecompressing(delta: number): boolean;
  /** Takes a server-wide request slot; false when the server is at its limit [LIMIT-5]. */
  acquireSlot(): boolean;
  releaseSlot(): void;
  /** The server's interceptors around every handler, chained once; undefined without any. */
  readonly intercept: ServerCallHandler | undefined;
  /** Where unexpected handler failures are reported [SEC-2]. */
  readonly logger: Logger;
  /** Called once when the connection is gone. */
  closed(connection: HostedConnection): void;
  /** Called once when a connection that ended with requests still to start has none left [DRAIN-15]. */
  settled(connection: HostedConnection): void;
}
