// strata-rpc, the package root for Node, Bun and Deno: the runtime-neutral
// core (strata-rpc/core) with what these runtimes' node: built-ins add,
// imported statically so that a bundler follows every module — TCP and Unix
// sockets for "host:port" and "unix:" addresses, worker threads for isolated
// services, native zlib for gzip bodies.

import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { createClient as createCoreClient, type Client, type ClientOptions } from "./client/client.ts";
import { createServer as createCoreServer, type Server, type ServerOptions } from "./server/server.ts";
import { WorkerPool } from "./server/isolation/worker-pool.ts";
import type { StartIsolationPool } from "./server/isolation/isolation-pool.ts";
import { nativeInflateRaw } from "./server/native-inflate.ts";
import { nativeDeflateRaw } from "./client/native-deflate.ts";
import { tcpTransport } from "./transport/tcp.ts";
import type { TransportsByScheme } from "./transport/default-transport.ts";

export * from "./index.ts";
export { tcpTransport } from "./transport/tcp.ts";
export { cachedEndpoints, fileEndpoints, type FileEndpointsOptions } from "./cluster/file-sources.ts";

/** TCP for "host:port" (and "tcp:host:port"), Unix sockets for "unix:/path": the mappings of section 2.6 [FRAME-3]. */
export const SOCKET_TRANSPORTS: TransportsByScheme = { tcp: tcpTransport, unix: tcpTransport };

const startWorkerPool: StartIsolationPool = (options) => WorkerPool.start(options);

/** A server that listens on TCP and Unix sockets, runs isolated services in worker threads and inflates gzip natively [COMP-9] [STATUS-4]. */
export function createServer(options: ServerOptions = {}): Server {
  return createCoreServer({
    ...options,
    transports: { ...SOCKET_TRANSPORTS, ...options.transports },
    startIsolationPool: options.startIsolationPool ?? startWorkerPool,
    inflateRaw: options.inflateRaw ?? nativeInflateRaw,
  });
}

/**
 * A client that connects over TCP and Unix sockets (section 2.6), besides
 * the transports in its options, and compresses and inflates gzip bodies
 * with native zlib [FRAME-3] [COMP-3] [COMP-8].
 */
export function createClient<S extends GenServiceMethods>(service: GenService<S>, options: ClientOptions): Client<S> {
  return createCoreClient(service, {
    ...options,
    transports: { ...SOCKET_TRANSPORTS, ...options.transports },
    deflateRaw: options.deflateRaw ?? nativeDeflateRaw,
    inflateRaw: options.inflateRaw ?? nativeInflateRaw,
  });
}
