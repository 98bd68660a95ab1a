// Spawn-mode settings (conformance/README.md) as reference-server options.
import { createServer, type Server, type ServerOptions } from "../../src/index.ts";
import type { ServerSettings } from "../runner/case.ts";
import { conformanceService } from "./conformance-service.ts";

/** Maps the suite's settings onto createServer options; absent settings keep the defaults. */
export function serverOptionsFrom(settings: ServerSettings): ServerOptions {
  return {
    limits: {
      ...(settings.maxHeaderSize ? { maxHeaderSize: settings.maxHeaderSize } : {}),
      ...(settings.maxBodySize ? { maxBodySize: settings.maxBodySize } : {}),
    },
    ...(settings.maxConcurrentRequests !== undefined ? { maxConcurrentRequests: settings.maxConcurrentRequests } : {}),
    ...(settings.idleTimeoutMs !== undefined ? { idleTimeoutMs: settings.idleTimeoutMs } : {}),
    ...(settings.minPingIntervalMs !== undefined ? { minPingIntervalMs: settings.minPingIntervalMs } : {}),
    ...(settings.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: settings.handshakeTimeoutMs } : {}),
  };
}

/**
 * The reference server in test mode: ConformanceService, and AdminService so
 * that the suite checks its counters too [CONF-1] [EXT-7] [EXT-9].
 */
export function createReferenceServer(settings: ServerSettings = {}, extra: ServerOptions = {}): Server {
  const { service, impl } = conformanceService();
  return createServer({ ...serverOptionsFrom(settings), exposeAdminService: true, ...extra }).addBuiltinService(service, impl);
}
