// The endpoints of one service group as a cluster client balances them:
// all of them for the hash ring, a rendezvous subset for calls without a
// routing key, and the two policies over that subset (spec 21.3).

import type { Endpoint } from "./endpoint.ts";
import { HashRing } from "./hash-ring.ts";
import { rendezvousSubset } from "./rendezvous-subset.ts";

/** What a group needs of a cluster member. */
export interface ClusterMember {
  readonly endpoint: Endpoint;
  /** Calls outstanding from this client. */
  outstanding(): number;
}

/**
 * Whether a member may take the call at a level of need: 0 healthy, not
 * failed on by the call, not skipped; 1 also ejected ones [CLUSTER-6];
 * 2 also those the call failed on, when all have [CLUSTER-4].
 */
export type Eligible<M> = (member: M, level: 0 | 1 | 2) => boolean;

const LEVELS = [0, 1, 2] as const;

/** A group's endpoints, its ring, and the balancing policies over its subset [CLUSTER-4] [CLUSTER-8]. */
export class EndpointGroup<M extends ClusterMember> {
  readonly all: readonly M[];
  /** The subset calls without a routing key are balanced over. */
  private readonly balanced: readonly M[];
  /** Cumulative weights of `balanced`; undefined when all weights are equal. */
  private readonly cumulative: Float64Array | undefined;
  private madeRing: { ring: HashRing; byId: Map<string, M> } | undefined;
  private next = 0;

  constructor(members: readonly M[], subsetSize: number, clientId: string) {
    this.all = members;
    if (members.length <= subsetSize) this.balanced = members;
    else {
      const chosen = new Set(rendezvousSubset(members.map((m) => m.endpoint), clientId, subsetSize));
      this.balanced = members.filter((m) => chosen.has(m.endpoint));
    }
    const weights = this.balanced.map((m) => m.endpoint.weight);
    if (weights.some((w) => w !== weights[0])) {
      let sum = 0;
      this.cumulative = Float64Array.from(weights, (w) => (sum += w));
    }
    this.next = Math.floor(Math.random() * Math.max(1, this.balanced.length));
  }

  /** The consistent-hash ring over every member, made on first use [CLUSTER-8]. */
  ring(): { owner(routingKey: string): M | undefined; successors(routingKey: string): Generator<M> } {
    if (this.madeRing === undefined) {
      const byId = new Map(this.all.map((m) => [m.endpoint.id, m] as const));
      this.madeRing = { ring: new HashRing(this.all.map((m) => m.endpoint)), byId };
    }
    const { ring, byId } = this.madeRing;
    return {
      owner: (routingKey) => {
        const e = ring.owner(routingKey);
        return e === undefined ? undefined : byId.get(e.id);
      },
      successors: function* (routingKey) {
        for (const e of ring.successors(routingKey)) yield byId.get(e.id)!;
      },
    };
  }

  /** A random index of `balanced`, in proportion to weight. */
  private draw(): number {
    const n = this.balanced.length;
    const cumulative = this.cumulative;
    if (cumulative === undefined) return Math.floor(Math.random() * n);
    const target = Math.random() * cumulative[n - 1]!;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! <= target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * A random index of `balanced` other than `taken`, in proportion to
   * weight: two choices are always two members, so a loaded one is never
   * chosen for want of another to compare it with.
   */
  private drawOther(taken: number): number {
    const n = this.balanced.length;
    if (this.cumulative === undefined) return (taken + 1 + Math.floor(Math.random() * (n - 1))) % n;
    // Weighted: redraw; a member holding nearly all the weight falls back to its neighbour.
    for (let tries = 0; tries < 8; tries++) {
      const j = this.draw();
      if (j !== taken) return j;
    }
    return (taken + 1) % n;
  }

  /**
   * Power of two choices: of two members drawn by weight, the one with
   * fewer outstanding calls; when the draws find no eligible one, the first
   * eligible member at the lowest level of need.
   */
  powerOfTwo(eligible: Eligible<M>): M | undefined {
    const list = this.balanced;
    if (list.length === 1) return this.firstEligible(eligible, 0);
    for (let tries = 0; tries < 2; tries++) {
      const i = this.draw();
      const a = list[i]!;
      const b = list[this.drawOther(i)]!;
      const okA = eligible(a, 0);
      const okB = eligible(b, 0);
      if (okA && okB) return b.outstanding() < a.outstanding() ? b : a;
      if (okA) return a;
      if (okB) return b;
    }
    return this.firstEligible(eligible, Math.floor(Math.random() * list.length));
  }

  /** Round robin over the subset, skipping members not eligible at level 0, then falling back as powerOfTwo does. */
  roundRobin(eligible: Eligible<M>): M | undefined {
    const list = this.balanced;
    for (let i = 0; i < list.length; i++) {
      const m = list[this.next++ % list.length]!;
      if (eligible(m, 0)) return m;
    }
    return this.firstEligible(eligible, 0);
  }

  /** The first member from `start` on eligible at the lowest level, the subset before the rest [CLUSTER-4] [CLUSTER-6]. */
  private firstEligible(eligible: Eligible<M>, start: number): M | undefined {
    // Plain loops: this runs on every call of a one-member group, so it allocates nothing.
    for (const level of LEVELS) {
      const m = firstOf(this.balanced, eligible, level, start) ?? (this.balanced === this.all ? undefined : firstOf(this.all, eligible, level, start));
      if (m !== undefined) return m;
    }
    return undefined;
  }
}

/** The first member of `list` from `start` on, wrapping, eligible at `level`. */
function firstOf<M>(list: readonly M[], eligible: Eligible<M>, level: 0 | 1 | 2, start: number): M | undefined {
  for (let i = 0; i < list.length; i++) {
    const m = list[(start + i) % list.length]!;
    if (eligible(m, level)) return m;
  }
  return undefined;
}
