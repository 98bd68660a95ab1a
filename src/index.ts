// strata-rpc: the package root. Wire codec, status types, server and client.
export * from "./wire/index.ts";
export * from "./status/index.ts";
export * from "./server/index.ts";
export * from "./client/index.ts";
export type { Transport, TransportFactory, TransportListener } from "./transport/index.ts";
