// What a conformance case is: a named check of one or more spec
// requirements, run against a server through a CaseContext. How it fails or
// skips is case-outcome.ts.

import type { CaseContext } from "./context.ts";

/** Server settings a case may need; only spawn mode can provide them. */
export interface ServerSettings {
  maxHeaderSize?: number;
  maxBodySize?: number;
  maxConcurrentRequests?: number;
  idleTimeoutMs?: number;
  minPingIntervalMs?: number;
  handshakeTimeoutMs?: number;
  /** Drain each connection at its own maximum age, within ±10% of this [DRAIN-18]. */
  maxConnectionAgeMs?: number;
  /** The grace period of that drain [DRAIN-18] [DRAIN-10]. */
  maxConnectionAgeGraceMs?: number;
  /**
   * Listen with TLS (section 19): the certificate and key to present, the
   * CA that client certificates must verify against, and whether to ask
   * for them. A case sets only `clientCertificate`; the suite adds the rest
   * when it runs over TLS [TLS-5].
   */
  tls?: SpawnTls;
}

/** TLS settings of a spawned server: PEM text, and whether it asks clients for certificates [TLS-5]. */
export interface SpawnTls {
  cert?: string;
  key?: string;
  ca?: string;
  clientCertificate?: "none" | "request" | "require";
}

/** One conformance case. */
export interface ConformanceCase {
  /** Stable name, "<area>/<what>", e.g. "framing/header-size-zero"; --run and --skip match it. */
  name: string;
  /** The spec section the case belongs to, e.g. "4 Framing". */
  section: string;
  /** The requirement ids it checks, e.g. ["FRAME-4", "FRAME-14"]. */
  requirements: string[];
  /** What it checks, in one line. */
  title: string;
  /** Needs strata.conformance.v1.ConformanceService (Appendix C). */
  usesConformanceService?: boolean;
  /** Optional features the implementation must declare for the case to run. */
  features?: string[];
  /** Settings the server must be started with (spawn mode only). */
  settings?: ServerSettings;
  /** "only": the case runs only against a TLS server (section 19). */
  tls?: "only";
  /** "only": the case runs only against a WebSocket server, ws:// or wss:// (section 18). */
  websocket?: "only";
  /** Runs the check; throws CaseFailure (or anything) to fail. */
  run(context: CaseContext): Promise<void>;
}
