// strata-rpc, the package root for Node, Bun and Deno: the runtime-neutral
// core (strata-rpc/core) with what these runtimes' node: built-ins add,
// imported statically so that a bundler follows every module — TCP and Unix
// sockets for "host:port" and "unix:" addresses, TLS for "tls:host:port", worker threads for isolated
// services, native zlib for gzip bodies.

import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { createClient as createCoreClient, type Client, type ClientOptions } from "./client/client.ts";
import { createServer as createCoreServer, type Server, type ServerOptions } from "./server/server.ts";
import { WorkerPool } from "./server/isolation/worker-pool.ts";
import type { StartIsolationPool } from "./server/isolation/isolation-pool.ts";
import { nativeInflateRaw } from "./server/native-inflate.ts";
import { nativeDeflateRaw } from "./client/native-deflate.ts";
import { tcpTransport } from "./transport/tcp.ts";
import { tlsTransport } from "./transport/tls.ts";
import { webSocketTransport } from "./transport/websocket.ts";
import type { TransportsByScheme } from "./transport/default-transport.ts";

export * from "./index.ts";
export { tcpTransport } from "./transport/tcp.ts";
export { TLS_ALPN_PROTOCOL, tlsTransport, type Pem, type TlsOptions } from "./transport/tls.ts";
export { webSocketTransport, type WebSocketOptions } from "./transport/websocket.ts";
export { cachedEndpoints, fileEndpoints, type FileEndpointsOptions } from "./cluster/file-sources.ts";

/**
 * TCP for "host:port" (and "tcp:host:port"), Unix sockets for "unix:/path"
 * (section 2.6), and TLS for "tls:host:port" trusting the runtime's public
 * CAs (section 19; pass `tls: tlsTransport({ ... })` for your own CA, a
 * certificate to listen with, or client certificates), and WebSocket for
 * "ws://host:port/path" and "wss://…" (section 18; the `ws` package is
 * loaded when first used) [FRAME-3] [TLS-4] [WS-1].
 */
export const SOCKET_TRANSPORTS: TransportsByScheme = { tcp: tcpTransport, unix: tcpTransport, tls: tlsTransport(), ws: webSocketTransport(), wss: webSocketTransport() };

const startWorkerPool: StartIsolationPool = (options) => WorkerPool.start(options);

/** A server that listens on TCP, TLS (with the transport of `tlsTransport({ cert, key })`) and Unix sockets, runs isolated services in worker threads and inflates gzip natively [COMP-9] [STATUS-4]. */
export function createServer(options: ServerOptions = {}): Server {
  return createCoreServer({
    ...options,
    transports: { ...SOCKET_TRANSPORTS, ...options.transports },
    startIsolationPool: options.startIsolationPool ?? startWorkerPool,
    inflateRaw: options.inflateRaw ?? nativeInflateRaw,
  });
}

/**
 * A client that connects over TCP, TLS and Unix sockets (sections 2.6, 19), besides
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
