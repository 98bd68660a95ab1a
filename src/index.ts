// strata-rpc: the package root. Wire codec, status types, server and client.
export * from "./wire/index.ts";
export * from "./status/index.ts";
export * from "./server/index.ts";
export * from "./client/index.ts";
export * from "./cluster/index.ts";
export type { ConnectionInfo, PeerCertificate, Transport, TransportFactory, TransportListener } from "./transport/index.ts";
export { memoryPair, memoryTransport, webSocketClientTransport, WEBSOCKET_SUBPROTOCOL, type WebSocketClientOptions } from "./transport/index.ts";
export { createContextKey, createContextValues, type ContextKey, type ContextValues } from "./util/context-values.ts";
export { consoleLogger, silentLogger, type Logger } from "./util/logger.ts";
