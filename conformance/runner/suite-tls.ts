// How the suite speaks TLS to the server under test (spec section 19), on
// tls: and wss:// targets alike: what it trusts, the client certificates it
// holds, and, in spawn mode, the certificate it gives the server to listen
// with.

import { tlsTransport, webSocketTransport } from "../../src/node.ts";
import type { TransportsByScheme } from "../../src/transport/index.ts";
import type { KeyPair } from "./certificates.ts";

/** The suite's TLS material for one run. */
export interface SuiteTls {
  /** PEM trust anchors for the server's certificate; undefined: the runtime's public CAs. */
  readonly ca: string | undefined;
  /** The name the server's certificate must carry, when it is not the target's host [TLS-4]. */
  readonly serverName: string | undefined;
  /** A client certificate the server trusts, for the cases of [TLS-5] and [TLS-6]. */
  readonly client: KeyPair | undefined;
  /** A client certificate from a CA the server does not trust, made by the suite [TLS-5]. */
  readonly foreignClient: KeyPair | undefined;
  /** Spawn mode: the certificate the server listens with, and the CA its client certificates verify against. */
  readonly server: { readonly pair: KeyPair; readonly clientCa: string } | undefined;
}

/**
 * The transports the suite's connections use: `tls:` and `wss:` addresses
 * with the suite's trust anchors, the name it expects, and its client
 * certificate (`null`: none) [TLS-4] [TLS-5].
 */
export function suiteTransports(tls: SuiteTls | undefined, certificate?: KeyPair | null): TransportsByScheme {
  if (tls === undefined) return {};
  const client = certificate === null ? undefined : (certificate ?? tls.client);
  const trust = { ...(tls.ca === undefined ? {} : { ca: tls.ca }), ...(tls.serverName === undefined ? {} : { serverName: tls.serverName }), ...(client ?? {}) };
  return { tls: tlsTransport(trust), wss: webSocketTransport({ clientTls: trust }) };
}
