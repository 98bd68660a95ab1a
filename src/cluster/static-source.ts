// The embedded default source: a fixed list of endpoints.

import { endpoint, type Endpoint, type EndpointInit } from "./endpoint.ts";
import type { EndpointListener, EndpointSource } from "./endpoint-source.ts";

/** A fixed endpoint set; "host:port" strings are endpoints whose id is their address [CLUSTER-1]. */
export function staticEndpoints(list: readonly (string | EndpointInit)[]): EndpointSource {
  const set: readonly Endpoint[] = Object.freeze(list.map((item) => endpoint(typeof item === "string" ? { address: item } : item)));
  const ids = new Set<string>();
  for (const e of set) {
    if (ids.has(e.id)) throw new TypeError(`two endpoints have the id ${JSON.stringify(e.id)} [CLUSTER-1]`);
    ids.add(e.id);
  }
  return {
    description: `static list of ${set.length}`,
    watch(listener: EndpointListener) {
      listener.endpoints(set);
    },
    close: () => Promise.resolve(),
  };
}
