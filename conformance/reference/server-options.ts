// Spawn-mode settings (conformance/README.md) as reference-server options.
import type { ServerOptions } from "../../src/index.ts";
import type { ServerSettings } from "../runner/case.ts";

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
