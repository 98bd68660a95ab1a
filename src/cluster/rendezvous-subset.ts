// Subsetting by rendezvous hashing: each client talks to a bounded number
// of a group's endpoints, and a fleet that grows or shrinks by one changes
// the subsets of few clients (spec 21.3).

import type { Endpoint } from "./endpoint.ts";
import { ringHash } from "./hash-ring.ts";

/**
 * The `size` endpoints with the highest weighted rendezvous score for
 * `clientId` (score w / -ln(u), u the hash of client and endpoint id in (0, 1)),
 * in their original order; all of them when there are no more than `size`.
 */
export function rendezvousSubset<E extends Endpoint>(endpoints: readonly E[], clientId: string, size: number): E[] {
  if (endpoints.length <= size) return [...endpoints];
  const scored = endpoints.map((e, index) => {
    const u = (ringHash(`${clientId}#${e.id}`) + 0.5) / 2 ** 32;
    return { index, score: e.weight / -Math.log(u) };
  });
  scored.sort((a, b) => b.score - a.score);
  return scored.slice(0, size).sort((a, b) => a.index - b.index).map((s) => endpoints[s.index]!);
}
