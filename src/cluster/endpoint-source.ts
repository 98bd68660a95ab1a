// The seam between a cluster client and where it learns its endpoints: a
// static list, a file, Redis, etcd (spec 21.2).

import type { Endpoint } from "./endpoint.ts";

/** What a source tells the client that watches it [CLUSTER-3]. */
export interface EndpointListener {
  /** The whole current set, each time it changes (the first time as soon as it is known). */
  endpoints(set: readonly Endpoint[]): void;
  /** The registry cannot be read now; the client keeps the last set it had [CLUSTER-3]. */
  unavailable(error: Error): void;
}

/** Where a cluster client learns its endpoints [CLUSTER-3]. */
export interface EndpointSource {
  /** Says what it reads, for logs and errors, e.g. "etcd http://127.0.0.1:2379 strata/payments". */
  readonly description: string;
  /** Starts delivering sets to `listener`; called once per source. */
  watch(listener: EndpointListener): void;
  /** Stops watching and releases its connections. */
  close(): Promise<void>;
}

/** Where a server announces itself, keeping its record alive until it deregisters [CLUSTER-2]. */
export interface Registrar {
  readonly description: string;
  /** Writes the record with a lifetime of its own and keeps refreshing it; resolves once written. */
  register(endpoint: Endpoint): Promise<void>;
  /** Removes the record and stops refreshing; resolves once removed, or once the registry proved unreachable (its lifetime then ends it) [CLUSTER-2]. */
  deregister(): Promise<void>;
}
