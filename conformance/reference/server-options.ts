// Spawn-mode settings (conformance/README.md) as reference-server options.
import { bearerAuth, createContextKey, createServer, tlsTransport, webSocketTransport, type Server, type ServerOptions } from "../../src/node.ts";
import type { TransportsByScheme } from "../../src/transport/index.ts";
import { ConformanceService } from "../gen/strata/conformance/v1/conformance_pb.ts";
import type { ServerSettings, SpawnTls } from "../runner/case.ts";
import { conformanceService } from "./conformance-service.ts";

/**
 * The transport that listens with the suite's certificates: a wss:// address
 * takes them as webSocketTransport's listener options, any other as
 * tlsTransport's (sections 18, 19) [TLS-5].
 */
function listenerWith(tls: SpawnTls, listen: string | undefined): TransportsByScheme {
  if (!listen?.startsWith("wss:")) return { tls: tlsTransport(tls) };
  return { wss: webSocketTransport({ cert: tls.cert, key: tls.key, clientCa: tls.ca, clientCertificate: tls.clientCertificate }) };
}

/** Maps the suite's settings (and the address to listen on, for the TLS listener) onto createServer options; absent settings keep the defaults. */
export function serverOptionsFrom(settings: ServerSettings & { listen?: string }): ServerOptions {
  return {
    limits: {
      ...(settings.maxHeaderSize ? { maxHeaderSize: settings.maxHeaderSize } : {}),
      ...(settings.maxBodySize ? { maxBodySize: settings.maxBodySize } : {}),
    },
    ...(settings.maxConcurrentRequests !== undefined ? { maxConcurrentRequests: settings.maxConcurrentRequests } : {}),
    ...(settings.idleTimeoutMs !== undefined ? { idleTimeoutMs: settings.idleTimeoutMs } : {}),
    ...(settings.minPingIntervalMs !== undefined ? { minPingIntervalMs: settings.minPingIntervalMs } : {}),
    ...(settings.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: settings.handshakeTimeoutMs } : {}),
    ...(settings.maxConnectionAgeMs !== undefined ? { maxConnectionAgeMs: settings.maxConnectionAgeMs } : {}),
    ...(settings.maxConnectionAgeGraceMs !== undefined ? { maxConnectionAgeGraceMs: settings.maxConnectionAgeGraceMs } : {}),
    ...(settings.tls !== undefined ? { transports: listenerWith(settings.tls, settings.listen) } : {}),
  };
}

/** The token ConformanceService.Authenticated accepts [CONF-9]. */
export const CONFORMANCE_TOKEN = "conformance-token";

/** Who a conformance call authenticated as. */
const caller = createContextKey<string | undefined>(undefined, { description: "conformance caller" });

/** Authenticated runs only with the conformance token; other calls need none [CONF-9] [STATUS-13]. */
export const conformanceAuth = bearerAuth({
  identity: caller,
  verify: (token) => (token === CONFORMANCE_TOKEN ? "conformance" : undefined),
  appliesTo: (request) => request.service === ConformanceService.typeName && request.method === "Authenticated",
});

/**
 * The reference server in test mode: ConformanceService, and AdminService and
 * ReflectionService so that the suite checks them too [CONF-1] [EXT-7]
 * [EXT-9] [EXT-10].
 */
export function createReferenceServer(settings: ServerSettings & { listen?: string } = {}, extra: ServerOptions = {}): Server {
  const { service, impl } = conformanceService();
  return createServer({ ...serverOptionsFrom(settings), exposeAdminService: true, exposeReflectionService: true, interceptors: [conformanceAuth], ...extra }).addBuiltinService(service, impl);
}
