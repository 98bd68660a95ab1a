// strata-rpc/server: the reference server.
export { createServer, type IsolationOptions, type Server, type ServerOptions } from "./server.ts";
export { defineIsolatedService, type IsolatedService } from "./isolation/isolated-service.ts";
export { KeyScheduler, type KeyDispatch, type KeySchedulerOptions, type KeySchedulerStats, type KeyTicket, type KeyWaitStats } from "./key-scheduler.ts";
export { metadataText, type HandlerContext } from "./handler-context.ts";
export type { RawHandler, ServiceImpl, UnaryHandler } from "./service-registry.ts";
export { LATENCY_BUCKETS_MS, type IsolationStats, type MethodStats, type ServerStats } from "./server-stats.ts";
export type { ServerCallHandler, ServerInterceptor, ServerRequest } from "./interceptor.ts";
export { bearerAuth, type BearerAuthOptions } from "./bearer-auth.ts";
export type { RegisterOptions } from "./server-registration.ts";
