// createServer: services, limits and timeouts in; a listening Strata server
// out, with graceful shutdown and stats.

import { create, toBinary } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { Compression, HelloSchema } from "../gen/strata/v1/frame_pb.ts";
import { checkedLimits, encodeFrame, encodePreface, FrameType } from "../wire/index.ts";
import { METHOD_REFS_FEATURE } from "../wire/request-rules.ts";
import { transportFor, type Transport, type TransportListener } from "../transport/index.ts";
import { addAdminService } from "./admin-service.ts";
import { addReflectionService } from "./reflection-service.ts";
import { connectionAgeSettings } from "./connection-age.ts";
import { endpointToRegister, ServerRegistrations, type RegisterOptions } from "./server-registration.ts";
import type { Endpoint, EndpointInit } from "../cluster/endpoint.ts";
import type { Registrar } from "../cluster/endpoint-source.ts";
import { KeyScheduler } from "./key-scheduler.ts";
import { ServerConnection, type ConnectionHost, type ConnectionSettings } from "./server-connection.ts";
import { TaskLimiter } from "./task-limiter.ts";
import type { QueueingContext } from "./handler-context.ts";
import { ServiceRegistry, type RawHandler, type ServiceImpl } from "./service-registry.ts";
import { StatsCollector, type IsolationStats, type ServerStats } from "./server-stats.ts";
import { setTimer, sleep } from "../util/timer.ts";
import { consoleLogger } from "../util/logger.ts";
import { chainServerInterceptors } from "./interceptor.ts";
import type { IsolationOptions, ServerOptions } from "./server-options.ts";
import type { IsolationPool } from "./isolation/isolation-pool.ts";
import { VERSION } from "../version.ts";
import { now } from "../util/clock.ts";

export type { IsolationOptions, ServerOptions } from "./server-options.ts";

/** A Strata server: add services, listen, inspect, close. */
export interface Server {
  /** Adds a generated service and its handlers. */
  addService<S extends GenServiceMethods>(service: GenService<S>, impl: ServiceImpl<S>): Server;
  /**
   * Adds a service whose handlers run in a pool of worker threads, loaded
   * from `module` (a module whose default export is
   * `defineIsolatedService(service, handlers)`). A handler that crashes its
   * worker (uncaught exception, exit, or running on past its deadline,
   * cancel or maxRunMs) fails only its own request with HANDLER_CRASHED; the
   * worker is replaced and the server carries on. A call that only waited
   * for a worker is answered not processed [DEADLINE-3] [STATUS-6]. Node,
   * Bun and Deno (node:worker_threads).
   */
  addIsolatedService<S extends GenServiceMethods>(service: GenService<S>, module: URL | string, options?: IsolationOptions): Server;
  /** Adds raw byte handlers under a service name. */
  addRawService(serviceName: string, handlers: Record<string, RawHandler>): Server;
  /**
   * Adds a service with a reserved `strata.` name that the spec defines, such
   * as the conformance service in a test mode [EXT-5] [CONF-1].
   */
  addBuiltinService<S extends GenServiceMethods>(service: GenService<S>, impl: ServiceImpl<S>): Server;
  /**
   * Listens on "host:port" (port 0 picks one), "unix:/path", "memory:NAME"
   * or an address of a scheme given in `transports`; each call adds a
   * listener, so one server can listen on several addresses and transports
   * at once. Resolves with the bound address.
   */
  listen(address: string): Promise<string>;
  /**
   * Serves one connection accepted elsewhere (an HTTP upgrade, an in-memory
   * pair), exactly as a listener's connections are served.
   */
  serve(transport: Transport): void;
  /**
   * Stops accepting, sends GOAWAY on every connection, lets requests in
   * progress finish for up to `graceMs` (default 10 s), then closes [DRAIN-2].
   */
  close(options?: { graceMs?: number }): Promise<void>;
  /**
   * Announces this server in a registry (etcdRegistrar, redisRegistrar, or
   * any Registrar): writes `endpoint` (its address defaults to the last
   * listen's, unless that is a wildcard such as 0.0.0.0) with a lifetime the
   * registrar keeps refreshing. close() removes the record first, waits
   * `deregistrationDelayMs`, and only then sends GOAWAY [CLUSTER-2].
   * Resolves with the endpoint as written.
   */
  register(registrar: Registrar, endpoint?: Partial<EndpointInit>, options?: RegisterOptions): Promise<Endpoint>;
  /** Connections, requests and per-method counters and latency histograms. */
  stats(): ServerStats;
  /** On SIGTERM and SIGINT, close gracefully (runtimes with `process.on` only); returns a function that removes the hooks. */
  closeOnSignals(options?: { graceMs?: number; signals?: string[] }): () => void;
}

/** Creates a server; see ServerOptions for the defaults. */
export function createServer(options: ServerOptions = {}): Server {
  const limits = checkedLimits(options.limits);
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  // By default at most half the idle timeout, so heartbeats can always keep a connection open [IDLE-1].
  const minPingIntervalMs = options.minPingIntervalMs ?? (idleTimeoutMs > 0 ? Math.min(1000, Math.floor(idleTimeoutMs / 2)) : 1000);
  if (idleTimeoutMs > 0 && minPingIntervalMs > idleTimeoutMs / 2) {
    throw new RangeError(`minPingIntervalMs (${minPingIntervalMs}) must be at most half of idleTimeoutMs (${idleTimeoutMs}) [IDLE-1]`);
  }
  const maxConcurrentRequests = options.maxConcurrentRequests ?? 100;
  const keys =
    options.keyScheduler ??
    (options.keyedDispatch === false ? undefined : new KeyScheduler({ maxQueuePerKey: options.maxKeyQueueLength ?? 1000 }));
  const hello = toBinary(HelloSchema, create(HelloSchema, {
    maxHeaderSize: limits.maxHeaderSize,
    maxBodySize: limits.maxBodySize,
    maxConcurrentRequests,
    idleTimeoutMs,
    minPingIntervalMs,
    compression: [Compression.GZIP], // request bodies may be gzip [COMP-2] [COMP-3]
    // [KEYS-2] [REF-1]
    features: keys === undefined ? [METHOD_REFS_FEATURE] : ["keyed-dispatch", METHOD_REFS_FEATURE],
    agent: `strata-ts/${VERSION}`,
  }));
  const preface = encodePreface();
  const helloFrame = encodeFrame({ type: FrameType.HELLO }, hello);
  const greeting = new Uint8Array(preface.length + helloFrame.length);
  greeting.set(preface);
  greeting.set(helloFrame, preface.length);
  const settings: ConnectionSettings = {
    limits,
    idleTimeoutMs,
    minPingIntervalMs,
    maxConcurrentRequests,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    exposeHandlerErrors: options.exposeHandlerErrors ?? false,
    greeting,
    maxConnectionOutputBytes: options.maxConnectionOutputBytes ?? 64 * 1024 * 1024,
    frameTransferTimeoutMs: options.frameTransferTimeoutMs ?? 30_000,
    ...connectionAgeSettings(options),
  };
  const maxPartialFrameBytes = options.maxPartialFrameBytes ?? 256 * 1024 * 1024;
  let partialFrameBytes = 0;
  const maxKeyWaitingBytes = options.maxKeyWaitingBytes ?? 256 * 1024 * 1024;
  let keyWaitingBytes = 0;
  const maxDecompressingBytes = options.maxDecompressingBytes ?? 256 * 1024 * 1024;
  let decompressingBytes = 0;
  const maxConnectionsPerClient = options.maxConnectionsPerClient ?? 256;
  /** Open connections by client IP address, when they are bounded [SEC-4]. */
  const perClient = new Map<string, number>();
  const maxServerOutputBytes = options.maxServerOutputBytes ?? 512 * 1024 * 1024;
  let outputHeld = 0;
  const registry = new ServiceRegistry();
  const stats = new StatsCollector(keys);
  if (options.exposeAdminService) addAdminService(registry, () => stats.snapshot());
  if (options.exposeReflectionService) addReflectionService(registry);
  const connections = new Set<ServerConnection>();
  const pools: Array<Promise<IsolationPool>> = [];
  /** Closed connections whose oneway requests still wait for keys [DRAIN-15]. */
  const lingering = new Set<ServerConnection>();
  const listeners: TransportListener[] = [];
  const registrations = new ServerRegistrations();
  const maxServerRequests = options.maxServerRequests ?? 0;
  let requestsInProgress = 0;
  let closing: Promise<void> | undefined;
  let allClosed: (() => void) | undefined;

  const host: ConnectionHost = {
    registry,
    stats,
    keys,
    inflate: options.inflateRaw, // native zlib off the event loop where the runtime has it [COMP-9]
    decompressions: new TaskLimiter(options.maxDecompressions ?? 4),
    intercept: options.interceptors !== undefined && options.interceptors.length > 0 ? chainServerInterceptors(options.interceptors) : undefined,
    logger: options.logger ?? consoleLogger,
    holdPartialFrame: (delta: number) => {
      partialFrameBytes += delta;
      return maxPartialFrameBytes <= 0 || delta <= 0 || partialFrameBytes <= maxPartialFrameBytes;
    },
    holdKeyWaiting: (delta: number) => {
      // Never the only request: one larger than the bound alone would be refused however idle the server.
      if (delta > 0 && maxKeyWaitingBytes > 0 && keyWaitingBytes > 0 && keyWaitingBytes + delta > maxKeyWaitingBytes) return false;
      keyWaitingBytes += delta;
      return true;
    },
    holdDecompressing: (delta: number) => {
      if (delta > 0 && maxDecompressingBytes > 0 && decompressingBytes > 0 && decompressingBytes + delta > maxDecompressingBytes) return false;
      decompressingBytes += delta;
      return true;
    },
    holdOutput: (delta: number) => {
      outputHeld += delta;
      return maxServerOutputBytes <= 0 || outputHeld <= maxServerOutputBytes;
    },
    acquireSlot: () => {
      if (maxServerRequests > 0 && requestsInProgress >= maxServerRequests) return false;
      requestsInProgress++;
      return true;
    },
    releaseSlot: () => {
      requestsInProgress--;
    },
    closed: (closedConnection) => {
      const connection = closedConnection as ServerConnection;
      if (!connections.delete(connection)) return;
      const client = maxConnectionsPerClient > 0 ? connection.info.remoteAddress : undefined;
      if (client !== undefined) {
        const left = (perClient.get(client) ?? 1) - 1;
        if (left > 0) perClient.set(client, left);
        else perClient.delete(client);
      }
      if (connection.lingering) {
        lingering.add(connection);
        stats.connectionsLingering = lingering.size;
      }
      stats.connectionsCurrent--;
      stats.connectionsClosed++;
      if (connections.size === 0) allClosed?.();
    },
    settled: (connection) => {
      lingering.delete(connection as ServerConnection);
      stats.connectionsLingering = lingering.size;
    },
  };

  const accept = (transport: Transport) => {
    if (closing !== undefined) {
      transport.destroy();
      return;
    }
    // Beyond its bound, a client's next connection is closed before the preface [SEC-4].
    const client = transport.info.remoteAddress;
    if (client !== undefined && maxConnectionsPerClient > 0) {
      const open = perClient.get(client) ?? 0;
      if (open >= maxConnectionsPerClient) {
        stats.connectionsRefused++;
        transport.destroy();
        return;
      }
      perClient.set(client, open + 1);
    }
    const connection = new ServerConnection(transport, settings, host);
    connections.add(connection);
    stats.connectionsCurrent++;
    stats.connectionsAccepted++;
    connection.start();
  };

  const server: Server = {
    addService(service, impl) {
      registry.addService(service, impl);
      return server;
    },
    addIsolatedService(service, module, { workers = 2, terminateGraceMs = 1000, maxQueued = 1000, maxRunMs = 60_000, workerEntry } = {}) {
      const start = options.startIsolationPool;
      const pool =
        start === undefined
          ? Promise.reject(new Error(`${service.typeName}: isolated services need worker threads; create the server with createServer from "strata-rpc" (Node, Bun, Deno) or pass startIsolationPool`))
          : start({ module: String(module), service: service.typeName, workers, terminateGraceMs, maxQueued, maxRunMs, workerEntry: workerEntry === undefined ? undefined : String(workerEntry) });
      pools.push(
        pool.then((started) => {
          // Only the methods the module implements exist; others are UNKNOWN_METHOD, not processed [STATUS-4].
          registry.addDelegatedService(service, started.methods, (method, input, context) => started.run(method, input, context));
          stats.pools.set(service.typeName, () => started.stats());
          return started;
        }),
      );
      pools.at(-1)!.catch(() => {}); // reported by listen()
      return server;
    },
    addRawService(name, handlers) {
      registry.addRawService(name, handlers);
      return server;
    },
    addBuiltinService(service, impl) {
      registry.addBuiltinService(service, impl);
      return server;
    },
    async listen(address) {
      if (closing !== undefined) throw new Error("the server is closed");
      // A handler module that does not load fails here, not at the first call.
      await Promise.all(pools);
      const factory = await transportFor(address, options);
      const listener = await factory.listen(address, { backlog: options.backlog ?? 511, highWaterMark: options.highWaterMark, handshakeTimeoutMs: settings.handshakeTimeoutMs }, accept);
      if (closing !== undefined) {
        // close() ran while this listen was under way: do not leave the port bound.
        await listener.close();
        throw new Error("the server was closed while it started listening");
      }
      listeners.push(listener);
      return listener.address;
    },
    async register(registrar, init = {}, registerOptions = {}) {
      if (closing !== undefined) throw new Error("the server is closed");
      const announced = endpointToRegister(init, listeners.at(-1)?.address);
      await registrations.add(registrar, announced, registerOptions);
      return announced;
    },
    close({ graceMs = 10_000 } = {}) {
      if (closing !== undefined) return closing;
      if (!(graceMs >= 0)) return Promise.reject(new RangeError(`graceMs must be 0 or more (Infinity: no limit), got ${graceMs}`));
      const graceEnds = now() + graceMs;
      /** Oneway requests of closed connections may start until the grace period ends; then they are dropped [DRAIN-15]. */
      const dropLingering = async () => {
        const waiting = [...lingering].filter((c) => c.hasUnstarted());
        if (waiting.length > 0) await sleep(Math.max(0, graceEnds - now()));
        for (const connection of waiting) connection.dropUnstarted();
        lingering.clear();
        stats.connectionsLingering = 0;
      };
      closing = (async () => {
        // Clients move away while the server still answers: the records go before any GOAWAY [CLUSTER-2].
        await registrations.deregisterAll();
        // Stop accepting first, but do not wait for it: a listener's close
        // completes only once its connections are gone, which the drain does.
        const stopped = Promise.all(listeners.map((l) => l.close()));
        const stopWorkers = () => Promise.allSettled(pools.map(async (pool) => (await pool).close()));
        if (connections.size === 0) {
          await stopped;
          await dropLingering();
          await stopWorkers();
          return;
        }
        const done = new Promise<void>((resolve) => {
          allClosed = resolve;
        });
        for (const connection of [...connections]) connection.drain(graceMs);
        // A connection whose peer never reads is cut once the grace period has passed.
        const hardStop = setTimer(() => {
          for (const connection of [...connections]) connection.destroy();
        }, graceMs + 2500);
        await done;
        hardStop.clear();
        await stopped;
        await dropLingering();
        await stopWorkers();
      })();
      return closing;
    },
    serve: accept,
    stats: () => stats.snapshot(),
    closeOnSignals({ graceMs, signals = ["SIGTERM", "SIGINT"] } = {}) {
      const proc = (globalThis as { process?: { on(s: string, f: () => void): void; off(s: string, f: () => void): void } }).process;
      if (proc === undefined) return () => {};
      const handler = () => {
        void server.close(graceMs === undefined ? {} : { graceMs });
      };
      for (const signal of signals) proc.on(signal, handler);
      return () => {
        for (const signal of signals) proc.off(signal, handler);
      };
    },
  };
  return server;
}
