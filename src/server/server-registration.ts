// A server's records in registries: written once it listens, removed when
// it closes, before its GOAWAYs, so that clients move away while it still
// answers [CLUSTER-2].

import { endpoint, type Endpoint, type EndpointInit } from "../cluster/endpoint.ts";
import type { Registrar } from "../cluster/endpoint-source.ts";
import { sleep } from "../util/timer.ts";

/** Options of Server.register [CLUSTER-2]. */
export interface RegisterOptions {
  /** How long close() waits between removing the record and sending GOAWAY. Default 0: watching clients hear of the removal within milliseconds. */
  deregistrationDelayMs?: number;
  /** The longest close() waits for a registry to confirm the removal; past it the record's own lifetime ends it. Default 2000 ms. */
  deregistrationTimeoutMs?: number;
}

/** Hosts a registration cannot be reached at from elsewhere: the address to announce must then be given. */
const WILDCARD = /^(0\.0\.0\.0|\[?::\]?|)$/;

/** The endpoint `init` describes, its address defaulting to `bound` (the last listener's), checked [CLUSTER-1]. */
export function endpointToRegister(init: Partial<EndpointInit>, bound: string | undefined): Endpoint {
  const address = init.address ?? bound;
  if (address === undefined) throw new TypeError("register() needs endpoint.address, or a listen() before it");
  const host = address.startsWith("unix:") || address.startsWith("memory:") ? "local" : address.slice(0, address.lastIndexOf(":")).replace(/^tcp:\/\//, "");
  if (init.address === undefined && WILDCARD.test(host)) {
    throw new TypeError(`the server listens on ${address}, which other hosts cannot dial: give register() the address to announce (endpoint.address)`);
  }
  return endpoint({ ...init, address });
}

/** The registrations of one server, removed together when it closes [CLUSTER-2]. */
export class ServerRegistrations {
  private readonly entries: { registrar: Registrar; options: RegisterOptions }[] = [];

  /** Writes `announced` through `registrar` and keeps it until deregisterAll. */
  async add(registrar: Registrar, announced: Endpoint, options: RegisterOptions): Promise<void> {
    await registrar.register(announced);
    this.entries.push({ registrar, options });
  }

  /** Removes every record, each bounded by its timeout, then waits the longest deregistration delay [CLUSTER-2]. */
  async deregisterAll(): Promise<void> {
    if (this.entries.length === 0) return;
    const entries = this.entries.splice(0);
    await Promise.all(entries.map(({ registrar, options }) =>
      Promise.race([registrar.deregister().catch(() => undefined), sleep(options.deregistrationTimeoutMs ?? 2000)])));
    const delay = Math.max(...entries.map(({ options }) => options.deregistrationDelayMs ?? 0));
    if (delay > 0) await sleep(delay);
  }
}
