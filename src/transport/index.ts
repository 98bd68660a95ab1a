// strata-rpc/transport: the runtime-neutral Transport interface. The TCP /
// Unix-socket implementation is the subpath strata-rpc/tcp, loaded on demand
// by servers and clients that are given no transport.
export type {
  ConnectOptions,
  ListenOptions,
  Transport,
  TransportFactory,
  TransportHandlers,
  TransportListener,
} from "./transport.ts";
export { defaultTransport } from "./default-transport.ts";
