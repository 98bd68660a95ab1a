// Client certificates on a server's TLS connections (spec section 19), for
// every listener that speaks TLS on node:tls: `tls:` sockets and `wss:`
// WebSockets. Whether to ask for one, when a connection is refused for
// its certificate, and the identity handlers see.

import type * as tls from "node:tls";
import type { PeerCertificate } from "./transport.ts";

/** Whether a server's clients present a certificate: "none", "request" (one presented must verify) or "require" [TLS-5]. */
export type ClientCertificateMode = "none" | "request" | "require";

/** Checks a listener's mode and trust anchors before it listens; throws a TypeError naming `owner` and the problem [TLS-5]. */
export function checkClientCertificateMode(owner: string, mode: unknown, trustAnchors: unknown, anchorsOption: string): ClientCertificateMode {
  if (mode === undefined) return "none";
  if (mode !== "none" && mode !== "request" && mode !== "require") throw new TypeError(`clientCertificate must be "none", "request" or "require", got ${JSON.stringify(mode)}`);
  if (mode !== "none" && trustAnchors === undefined) throw new TypeError(`${owner}: clientCertificate "${mode}" needs ${anchorsOption}, the trust anchors client certificates are verified against [TLS-5]`);
  return mode;
}

/** The node:tls server options that ask for client certificates as `mode` says [TLS-5]. */
export function clientCertificateOptions(mode: ClientCertificateMode): { requestCert: boolean; rejectUnauthorized: boolean } {
  return { requestCert: mode !== "none", rejectUnauthorized: mode === "require" };
}

/**
 * Whether a server must end `socket`, whose handshake completed, before any
 * Strata byte: a required certificate missing or unverified, or a requested
 * one presented that did not verify. The runtime's own check is not relied
 * on [TLS-5].
 */
export function refusesClient(socket: tls.TLSSocket, mode: ClientCertificateMode): boolean {
  if (mode === "none" || socket.authorized) return false;
  return mode === "require" || socket.getPeerX509Certificate() !== undefined;
}

/** The identity of the client's certificate when it presented one that verified, else undefined: never an unverified one [TLS-6]. */
export function verifiedPeerCertificate(socket: tls.TLSSocket): PeerCertificate | undefined {
  if (!socket.authorized) return undefined;
  const x509 = socket.getPeerX509Certificate();
  if (x509 === undefined) return undefined;
  return {
    subject: x509.subject,
    subjectAltNames: x509.subjectAltName === undefined ? [] : x509.subjectAltName.split(", "),
    fingerprint256: x509.fingerprint256,
  };
}
