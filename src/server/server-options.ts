// The options of createServer and of an isolated service, each with its
// default and the requirement it serves.

import type { FrameLimits, RawInflater } from "../wire/index.ts";
import type { TransportFactory, TransportsByScheme } from "../transport/index.ts";
import type { Logger } from "../util/logger.ts";
import type { KeyDispatch } from "./key-scheduler.ts";
import type { ServerInterceptor } from "./interceptor.ts";
import type { StartIsolationPool } from "./isolation/isolation-pool.ts";

/** Options of createServer; every one has a default. */
export interface ServerOptions {
  /** Largest header and body this server accepts; declared in its HELLO [LIMIT-2] [LIMIT-3]. */
  limits?: Partial<FrameLimits>;
  /** Close connections that send nothing for this long, after a GOAWAY; 0 = never. Default 60 s [IDLE-1]. */
  idleTimeoutMs?: number;
  /** Clients may ping no more often than this; at most half the idle timeout. Default 1 s, or half the idle timeout if less [PING-6]. */
  minPingIntervalMs?: number;
  /**
   * Requests of one connection in progress at once; 0 = no limit. Default
   * 100, as HTTP/2 recommends. With the response size, it bounds the memory a
   * client that stops reading can tie up [LIMIT-5] [SEC-1].
   */
  maxConcurrentRequests?: number;
  /**
   * Gzip bodies inflated at once across the server (each connection inflates
   * one at a time); with max_body_size it bounds the memory decompression
   * holds. Default 4 [COMP-9].
   */
  maxDecompressions?: number;
  /**
   * Bytes of compressed requests waiting to be decompressed, each counting its
   * compressed body and what it will decompress to (the smaller of its gzip
   * ISIZE and maxBodySize), and 12 KiB for each connection they keep alive,
   * all connections together and those of closed connections too (oneway
   * requests run on [DRAIN-15]); a request past it is answered OVERLOADED,
   * unless nothing else counts. 0 = no bound. Default 256 MiB [COMP-11].
   */
  maxDecompressingBytes?: number;
  /** Requests in progress across the server; 0 = no limit. Default 0 [LIMIT-5]. */
  maxServerRequests?: number;
  /** The whole handshake must finish within this, from accept. Default 10 s [PREFACE-6] [HELLO-5]. */
  handshakeTimeoutMs?: number;
  /** Send handler error messages to callers (never stack traces). Default false [STATUS-5]. */
  exposeHandlerErrors?: boolean;
  /**
   * Wrap every handler, first one outermost: for authentication, logging,
   * metrics. See ServerInterceptor [STATUS-13].
   */
  interceptors?: ServerInterceptor[];
  /** Where unexpected handler failures are reported; metadata values are never logged. Default: the console [SEC-2]. */
  logger?: Logger;
  /** Accept backlog. Default 511. */
  backlog?: number;
  /** Outgoing bytes buffered per connection before it stops reading. Default 1 MiB. */
  highWaterMark?: number;
  /**
   * Unwritten output one connection may hold (its peer not reading) before
   * it is closed; 0 = no bound. Default 64 MiB [SEC-3].
   */
  maxConnectionOutputBytes?: number;
  /** Unwritten output of all connections together; past it, the connection writing is closed. 0 = no bound. Default 512 MiB [SEC-3]. */
  maxServerOutputBytes?: number;
  /**
   * The longest one frame may take to arrive, first byte to last, however
   * slowly its bytes come; then GOAWAY(IDLE_TIMEOUT) and close. 0 = no bound.
   * Default 30 s [FRAME-19].
   */
  frameTransferTimeoutMs?: number;
  /**
   * Buffers of frames still arriving, all connections together; a connection
   * whose partial frame takes it past this is closed. 0 = no bound. Default
   * 256 MiB [FRAME-20].
   */
  maxPartialFrameBytes?: number;
  /** Connections open at once from one client IP address; more are closed at once. 0 = no bound. Default 256 [SEC-4]. */
  maxConnectionsPerClient?: number;
  /**
   * Drain each connection once it has been open this long, so that
   * long-lived clients reconnect and spread onto servers added later; each
   * connection's own age is drawn within ±10% of it. Infinity (the default):
   * no bound [DRAIN-18].
   */
  maxConnectionAgeMs?: number;
  /** How long the requests of a connection drained for its age may take to finish. Default 10 s [DRAIN-18] [DRAIN-10]. */
  maxConnectionAgeGraceMs?: number;
  /** Offer the built-in strata.admin.v1.AdminService (stats to any caller). Default false [EXT-7]. */
  exposeAdminService?: boolean;
  /**
   * Offer the built-in strata.reflection.v1.ReflectionService: every
   * service's name and schema to any caller, for tools that have no .proto
   * files. Off by default, since it shows the whole API surface [EXT-10] [SEC-5].
   */
  exposeReflectionService?: boolean;
  /** One transport for every address this server listens on, whatever its scheme. */
  transport?: TransportFactory;
  /**
   * Transports by address scheme, e.g. `{ tls: tlsTransport }`, besides
   * in-process streams for "memory:"; createServer from "strata-rpc" adds
   * TCP for "host:port" and Unix sockets for "unix:".
   */
  transports?: TransportsByScheme;
  /** Runs isolated services (addIsolatedService); createServer from "strata-rpc" passes worker threads [STATUS-4]. */
  startIsolationPool?: StartIsolationPool;
  /** Inflates gzip bodies natively, off the event loop; without it, in JavaScript. createServer from "strata-rpc" passes node:zlib [COMP-9]. */
  inflateRaw?: RawInflater;
  /**
   * Offer keyed dispatch: requests sharing a key run one at a time, in
   * order, across all connections. Default true; false answers keyed
   * requests UNSUPPORTED [KEYS-2] [KEYS-3].
   */
  keyedDispatch?: boolean;
  /** Requests waiting or running per key before OVERLOADED; 0 = no bound. Default 1000 [KEYS-8]. */
  maxKeyQueueLength?: number;
  /**
   * Bytes of requests waiting for their keys (bodies, keys, metadata, and 12 KiB for each connection
   * they keep alive), all connections together and
   * those of closed connections too (oneway requests run on [DRAIN-15]);
   * a request past it is answered OVERLOADED, unless nothing else counts. 0 = no bound. Default 256 MiB [KEYS-11].
   */
  maxKeyWaitingBytes?: number;
  /**
   * Replaces the reference KeyScheduler, e.g. with an instrumented one or,
   * in the conformance suite's mutants, a broken one. Implies keyedDispatch.
   */
  keyScheduler?: KeyDispatch;
}

/** How an isolated service runs: see Server.addIsolatedService. */
export interface IsolationOptions {
  /** Worker threads, each running one call at a time. Default 2. */
  workers?: number;
  /**
   * How long a handler may run on after its deadline passed or its call was
   * cancelled before its worker is terminated (and its keys released).
   * Default 1000 ms.
   */
  terminateGraceMs?: number;
  /**
   * Calls that may wait for a free worker; past it, calls are refused
   * OVERLOADED, not processed. Default 1000 [LIMIT-5].
   */
  maxQueued?: number;
  /**
   * The longest a handler may run, with a deadline or without, before it is
   * told to stop and, after terminateGraceMs, its worker is replaced; so
   * handlers that hang cannot hold every worker for ever. Infinity: no
   * bound. Default 60 s.
   */
  maxRunMs?: number;
  /**
   * The worker's first module, for a bundle: the built package's
   * `strata-rpc/isolation-worker` emitted as its own file. Default: beside
   * the pool's code (worker-entry.js; in a bundle, beside the bundle).
   */
  workerEntry?: URL | string;
}
