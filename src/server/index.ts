// strata-rpc/server: the reference server.
export { createServer, type Server, type ServerOptions } from "./server.ts";
export { metadataText, type HandlerContext } from "./handler-context.ts";
export type { RawHandler, ServiceImpl, UnaryHandler } from "./service-registry.ts";
export { LATENCY_BUCKETS_MS, type MethodStats, type ServerStats } from "./server-stats.ts";
