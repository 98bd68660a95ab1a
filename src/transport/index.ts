// strata-rpc/transport: the runtime-neutral Transport contract, address
// schemes, the in-memory transport and the close that keeps the last frames
// [FRAME-18]. TCP and Unix sockets are the subpath strata-rpc/tcp, which the
// package root passes for "host:port" and "unix:" addresses.
export type {
  ConnectionInfo,
  ConnectOptions,
  ListenOptions,
  PeerCertificate,
  Transport,
  TransportFactory,
  TransportHandlers,
  TransportListener,
} from "./transport.ts";
export { addressScheme, formatHostPort, parseSocketAddress, type SocketAddress } from "./address.ts";
export { clientTransportFor, transportFor, transportForNow, type TransportChoice, type TransportsByScheme } from "./default-transport.ts";
export { memoryPair, memoryTransport, type MemoryPairOptions } from "./memory.ts";
export { lingeringClose, LINGER_MS } from "./lingering-close.ts";
export { webSocketClientTransport, parseWebSocketAddress, type WebSocketClientOptions, type WebSocketClientTls } from "./websocket-client.ts";
export { WEBSOCKET_SUBPROTOCOL, MAX_WEBSOCKET_MESSAGE } from "./websocket-stream.ts";
