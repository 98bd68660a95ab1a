// The consistent-hash ring of [CLUSTER-8]: every endpoint of a group has
// 100 × weight points, a routing key belongs to the first point at or after
// its hash. Defined bit for bit in the spec so that clients in every
// language agree on a key's owner.

import type { Endpoint } from "./endpoint.ts";

const utf8 = new TextEncoder();

/** The ring hash of [CLUSTER-8]: 32-bit FNV-1a of the UTF-8 bytes, then the murmur3 finalizer. */
export function ringHash(text: string): number {
  const bytes = utf8.encode(text);
  let x = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    x ^= bytes[i]!;
    x = Math.imul(x, 0x01000193);
  }
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Points each endpoint has per unit of weight [CLUSTER-8]. */
export const POINTS_PER_WEIGHT = 100;

/** Compares two strings as UTF-8 bytes, as [CLUSTER-8] breaks ties. */
function compareBytes(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** A consistent-hash ring over a group's endpoints [CLUSTER-8]. */
export class HashRing<E extends Endpoint = Endpoint> {
  /** The points' hashes, ascending. */
  private readonly points: Uint32Array;
  /** owners[i] is the index in `endpoints` of the endpoint of points[i]. */
  private readonly owners: Uint32Array;
  readonly endpoints: readonly E[];

  constructor(endpoints: readonly E[]) {
    this.endpoints = endpoints;
    const entries: { hash: number; owner: number }[] = [];
    endpoints.forEach((e, owner) => {
      const count = POINTS_PER_WEIGHT * e.weight;
      for (let i = 0; i < count; i++) entries.push({ hash: ringHash(`${e.id}#${i}`), owner });
    });
    entries.sort((a, b) => a.hash - b.hash || compareBytes(endpoints[a.owner]!.id, endpoints[b.owner]!.id));
    this.points = Uint32Array.from(entries, (p) => p.hash);
    this.owners = Uint32Array.from(entries, (p) => p.owner);
  }

  /** The index of the first point at or after `hash`, wrapping to 0 [CLUSTER-8]. */
  private firstPointAt(hash: number): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.points.length ? 0 : lo;
  }

  /** The endpoint owning `routingKey`; undefined for an empty ring [CLUSTER-8]. */
  owner(routingKey: string): E | undefined {
    if (this.points.length === 0) return undefined;
    return this.endpoints[this.owners[this.firstPointAt(ringHash(routingKey))]!];
  }

  /**
   * The endpoints in ring order from `routingKey`'s owner on, each once:
   * where a call that only sticks to a routing key (no keys) moves when its
   * owner cannot take it [CLUSTER-8].
   */
  *successors(routingKey: string): Generator<E> {
    if (this.points.length === 0) return;
    const seen = new Set<number>();
    const start = this.firstPointAt(ringHash(routingKey));
    for (let i = 0; i < this.points.length && seen.size < this.endpoints.length; i++) {
      const owner = this.owners[(start + i) % this.points.length]!;
      if (seen.has(owner)) continue;
      seen.add(owner);
      yield this.endpoints[owner]!;
    }
  }
}
