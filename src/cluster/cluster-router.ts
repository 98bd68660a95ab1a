// The router of a cluster client: the endpoints a source reports, one
// subchannel each; calls balanced by a policy within their group, keyed
// calls sent to their keys' owner on the hash ring, failed calls retried on
// endpoints they have not failed on within a budget, and endpoints whose
// connections keep failing ejected for a while (spec section 21).

import { RpcError, TransportCode, dispatchCodeName } from "../status/index.ts";
import { DispatchCode } from "../wire/index.ts";
import type { CallConnection } from "../client/call-ticket.ts";
import type { CallRoute, FailedOn, Router } from "../client/router.ts";
import type { Subchannel } from "../client/subchannel.ts";
import type { ClientConnection } from "../client/client-connection.ts";
import { abortedCallError } from "../client/call-abort.ts";
import { sleep } from "../util/timer.ts";
import type { Endpoint } from "./endpoint.ts";
import type { EndpointSource } from "./endpoint-source.ts";
import { ejectionSettings, EndpointHealth, type EjectionOptions } from "./endpoint-health.ts";
import { RetryBudget, type RetryBudgetOptions } from "./retry-budget.ts";
import { requestRoutingKey } from "./routing-key.ts";
import { EndpointGroup, type ClusterMember } from "./endpoint-group.ts";
import { now } from "../util/clock.ts";

/** How calls without a routing key choose an endpoint (keyed calls always go to their owner) [CLUSTER-8]. */
export type BalancePolicy = "p2c" | "round-robin";

/** Options of a cluster client [CLUSTER-4] [CLUSTER-5] [CLUSTER-6]. */
export interface ClusterOptions {
  /** Power of two choices on least outstanding calls (default), or round robin. */
  policy?: BalancePolicy;
  /** The service group calls go to unless they name one; default: every endpoint. */
  group?: string;
  /** Use at most this many endpoints of a group for calls without a routing key, chosen by rendezvous hashing of `clientId` [CLUSTER-8]. */
  subsetSize?: number;
  /** This client's id for subsetting; default a random one. */
  clientId?: string;
  /** Attempts per call, the first included. Default 3 [CLUSTER-4]. */
  maxAttempts?: number;
  /** The retry budget [CLUSTER-5]. */
  retryBudget?: RetryBudgetOptions;
  /** When endpoints are ejected [CLUSTER-6]. */
  ejection?: EjectionOptions;
  /** Where the router says what it did: endpoints added and removed, ejections, an unreadable registry. Default console.warn. */
  log?: (message: string) => void;
}

/** One endpoint of the current set, with its subchannel and health. */
class Member implements ClusterMember {
  endpoint: Endpoint;
  readonly subchannel: Subchannel;
  readonly health = new EndpointHealth();
  /**
   * Its last connection was lost or its last attempt failed, and none has
   * opened since: calls go to other members while there are any, and the
   * router reconnects it in the background, so that no call waits on a
   * connect to a server that may have vanished [CLUSTER-6].
   */
  failing = false;
  /** Whether that background reconnect is running. */
  probing = false;

  constructor(endpoint: Endpoint, subchannel: Subchannel) {
    this.endpoint = endpoint;
    this.subchannel = subchannel;
  }

  /** Calls outstanding on its open connection: what power of two choices compares. */
  outstanding(): number {
    return (this.subchannel.ready() as ClientConnection | undefined)?.outstanding ?? 0;
  }
}

/** Whether a not-processed failure is worth an attempt elsewhere [CLUSTER-4] (spec 8.5). */
function worthRetrying(error: RpcError, idempotent: boolean): boolean {
  if (error.layer === "transport") {
    const connectionFailure = error.code === TransportCode.UNAVAILABLE || error.code === TransportCode.CONNECTION_LOST;
    if (error.processed === "no") return connectionFailure || error.code === TransportCode.CONNECT_FAILED || error.code === TransportCode.VERSION_MISMATCH;
    return idempotent && error.processed === "maybe" && connectionFailure;
  }
  if (error.layer !== "dispatch" || error.processed !== "no") return false;
  return error.code === dispatchCodeName(DispatchCode.SHUTTING_DOWN) || error.code === dispatchCodeName(DispatchCode.OVERLOADED);
}

/** Routes calls over a cluster's endpoints (spec section 21) [CLUSTER-4] [CLUSTER-5] [CLUSTER-6] [CLUSTER-7] [CLUSTER-8]. */
export class ClusterRouter implements Router {
  private readonly source: EndpointSource;
  private readonly subchannelFor: (address: string) => Subchannel;
  private readonly policy: BalancePolicy;
  private readonly defaultGroup: string | undefined;
  private readonly subsetSize: number;
  private readonly clientId: string;
  private readonly maxAttempts: number;
  private readonly budget: RetryBudget;
  private readonly ejection: Required<EjectionOptions>;
  private readonly log: (message: string) => void;
  private members = new Map<string, Member>();
  private groups = new Map<string, EndpointGroup<Member>>();
  /** Set once the source delivered its first set. */
  private known = false;
  private sourceError: Error | undefined;
  /** Calls waiting for the first set, or for a change of it. */
  private waiters = new Set<() => void>();
  private closed = false;
  /** The time of the choice being made, for `healthy`. */
  private now = 0;
  /**
   * Whether a member may take a call that has failed nowhere, at a level of
   * need: at level 0 only when neither ejected nor passed over (made once:
   * the eligibility of almost every call, which allocates nothing) [CLUSTER-6].
   */
  private readonly healthy = (m: Member, level: 0 | 1 | 2): boolean => level > 0 || !(m.health.ejected(this.now) || this.passedOver(m));
  /** The member pick() chose for `route` but could not hand a connection of: where the connect() that follows for it goes. */
  private chosen: { route: CallRoute; member: Member } | undefined;

  constructor(source: EndpointSource, subchannelFor: (address: string) => Subchannel, options: ClusterOptions = {}) {
    this.source = source;
    this.subchannelFor = subchannelFor;
    this.policy = options.policy ?? "p2c";
    if (this.policy !== "p2c" && this.policy !== "round-robin") throw new TypeError(`cluster.policy must be "p2c" or "round-robin", got ${JSON.stringify(this.policy)}`);
    this.defaultGroup = options.group;
    this.subsetSize = options.subsetSize ?? Infinity;
    if (!(this.subsetSize >= 1)) throw new RangeError(`cluster.subsetSize must be 1 or more, got ${this.subsetSize}`);
    this.clientId = options.clientId ?? Math.random().toString(36).slice(2);
    this.maxAttempts = options.maxAttempts ?? 3;
    if (!(Number.isInteger(this.maxAttempts) && this.maxAttempts >= 1)) throw new RangeError(`cluster.maxAttempts must be a positive integer, got ${this.maxAttempts}`);
    this.budget = new RetryBudget(options.retryBudget);
    this.ejection = ejectionSettings(options.ejection);
    this.log = options.log ?? ((message) => console.warn(`strata cluster: ${message}`));
    source.watch({
      endpoints: (set) => this.update(set),
      unavailable: (error) => this.unavailable(error),
    });
  }

  /** The endpoints in use now, for inspection and tests. */
  endpoints(): Endpoint[] {
    return [...this.members.values()].map((m) => m.endpoint);
  }

  private unavailable(error: Error): void {
    this.sourceError = error;
    this.log(`${this.source.description} cannot be read (${error.message}); ${this.known ? `keeping the last ${this.members.size} endpoints` : "no endpoints known yet"} [CLUSTER-3]`);
    this.wake();
  }

  /** Takes a new set: endpoints kept keep their connections; removed ones close once their calls are answered [DRAIN-9]. */
  private update(set: readonly Endpoint[]): void {
    if (this.closed) return;
    if (set.length === 0 && this.members.size > 0) {
      // A registry that lost its data (a Redis restarted empty) reads as an empty cluster until servers
      // rewrite their records: calls could only fail, so the last endpoints stay [CLUSTER-3].
      this.log(`${this.source.description} reports no endpoints; keeping the last ${this.members.size} until it reports some [CLUSTER-3]`);
      return;
    }
    const next = new Map<string, Member>();
    for (const endpoint of set) {
      if (next.has(endpoint.id)) continue;
      const kept = this.members.get(endpoint.id);
      if (kept !== undefined && kept.endpoint.address === endpoint.address) {
        kept.endpoint = endpoint;
        next.set(endpoint.id, kept);
        continue;
      }
      let subchannel: Subchannel;
      try {
        subchannel = this.subchannelFor(endpoint.address);
      } catch (error) {
        this.log(`endpoint ${endpoint.id} skipped: ${(error as Error).message} [CLUSTER-1]`);
        continue;
      }
      const member = new Member(endpoint, subchannel);
      subchannel.onAttempt = (failure) => {
        if (failure !== undefined) return this.failed(member);
        member.failing = false;
        member.health.connected();
      };
      subchannel.onLost = () => this.failed(member);
      next.set(endpoint.id, member);
    }
    const added = [...next.keys()].filter((id) => !this.members.has(id));
    const removed = [...this.members.values()].filter((m) => next.get(m.endpoint.id) !== m);
    for (const member of removed) void member.subchannel.close();
    if (this.known && (added.length > 0 || removed.length > 0)) this.log(`endpoints now ${next.size}: added [${added.join(", ")}], removed [${removed.map((m) => m.endpoint.id).join(", ")}]`);
    this.members = next;
    this.groups = new Map();
    this.known = true;
    this.sourceError = undefined;
    this.wake();
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  /** The endpoints of `name` (every endpoint for undefined), made once per set. */
  private groupOf(route: CallRoute): EndpointGroup<Member> {
    const name = route.group ?? this.defaultGroup;
    const key = name ?? "";
    let group = this.groups.get(key);
    if (group === undefined) {
      const all = [...this.members.values()];
      group = new EndpointGroup(name === undefined ? all : all.filter((m) => m.endpoint.groups.includes(name)), this.subsetSize, this.clientId);
      this.groups.set(key, group);
    }
    return group;
  }

  /** An endpoint failed to connect or lost a connection: counted, and ejected when it keeps failing [CLUSTER-6]. */
  private failed(member: Member): void {
    if (this.members.get(member.endpoint.id) !== member) return;
    member.failing = true;
    this.probe(member);
    const at = now();
    const coolDown = member.health.failed(at, this.ejection, () => {
      let ejected = 0;
      for (const m of this.members.values()) if (m.health.ejected(at)) ejected++;
      return ejected + 1 <= Math.floor(this.members.size * this.ejection.maxShare);
    });
    if (coolDown > 0) this.log(`endpoint ${member.endpoint.id} (${member.endpoint.address}) ejected for ${Math.round(coolDown)} ms after ${this.ejection.failures} failures in a row [CLUSTER-6]`);
  }

  /**
   * Reconnects a failing member in the background: waits out its backoff
   * and tries once (for up to 5 s in all). Calls that pass the member over
   * start the next try, so a dead endpoint is retried while calls flow and
   * left alone, holding nothing open, when they stop [CLUSTER-6].
   */
  private probe(member: Member): void {
    if (member.probing || this.closed || this.members.get(member.endpoint.id) !== member) return;
    member.probing = true;
    const done = () => {
      member.probing = false;
    };
    void member.subchannel.acquire(now() + 5000, undefined, true).then(done, done);
  }

  refusal(route: CallRoute): string | undefined {
    if (route.keys.length === 0 && route.routingKey === undefined) return undefined;
    const key = requestRoutingKey(route.keys, route.routingKey);
    return typeof key === "object" ? key.problem : undefined;
  }

  /**
   * The member a call should go to: a keyed call's owner whatever its state
   * [CLUSTER-8]; else, by routing key or policy, one the call has not failed
   * on and that is not ejected, or failing that any it has not tried
   * [CLUSTER-4] [CLUSTER-6]. `skip` holds members that failed to connect
   * for this call just now.
   */
  private choose(route: CallRoute, avoid: FailedOn, skip: ReadonlySet<Member> | undefined, now: number): Member | undefined {
    const group = this.groupOf(route);
    if (group.all.length === 0) return undefined;
    if (route.keys.length > 0) return group.ring().owner(requestRoutingKey(route.keys, undefined) as string);
    this.now = now;
    const eligible =
      avoid === undefined && skip === undefined
        ? this.healthy
        : (m: Member, level: 0 | 1 | 2) =>
            !(skip?.has(m) ?? false) && (level === 2 || avoid === undefined || !avoid.some((c) => m.subchannel.owns(c))) && this.healthy(m, level);
    if (route.routingKey !== undefined) {
      for (const level of [0, 1, 2] as const) {
        for (const m of group.ring().successors(route.routingKey)) if (eligible(m, level)) return m;
      }
      return undefined;
    }
    return this.policy === "p2c" ? group.powerOfTwo(eligible) : group.roundRobin(eligible);
  }

  pick(route: CallRoute, avoid: FailedOn): CallConnection | undefined {
    const at = now();
    if (avoid === undefined) this.budget.recordCall(at);
    const member = this.choose(route, avoid, undefined, at);
    const ready = member?.subchannel.ready();
    // The call connects at once (OutgoingCall calls connect right after): to the member chosen here, so round robin does not skip one.
    if (ready === undefined && member !== undefined) this.chosen = { route, member };
    return ready;
  }

  async connect(route: CallRoute, deadline: number, signal: AbortSignal | undefined, avoid: FailedOn, waitForReady = false): Promise<CallConnection> {
    let skip: Set<Member> | undefined;
    let lastError: RpcError | undefined;
    let chosen = this.chosen?.route === route ? this.chosen.member : undefined;
    this.chosen = undefined;
    for (;;) {
      if (this.closed) throw RpcError.transport(TransportCode.UNAVAILABLE, "the client is closed", "no");
      if (signal?.aborted) throw abortedCallError(signal, "no", "while connecting; nothing was sent");
      if (now() >= deadline) {
        const last = lastError === undefined ? "" : ` (last attempt: ${lastError.rawMessage})`;
        throw RpcError.transport(TransportCode.TIMEOUT, `the deadline passed while connecting; nothing was sent${last}`, "no", lastError);
      }
      const member = chosen ?? this.choose(route, avoid, skip, now());
      chosen = undefined;
      if (member === undefined) {
        const reason = this.noEndpoint(route, lastError);
        if (!waitForReady && (this.known || this.sourceError !== undefined)) throw reason;
        // Wait for the first set, a change of it, or a backoff to pass, then try every endpoint again.
        await this.waitForChange(Math.min(deadline, now() + (this.known ? 250 : Infinity)), signal);
        skip = undefined;
        continue;
      }
      try {
        // A keyed call has one possible endpoint, its owner, and waits for it when asked to [CLUSTER-8].
        return await member.subchannel.acquire(deadline, signal, waitForReady && route.keys.length > 0);
      } catch (error) {
        const rpcError = RpcError.from(error);
        if (rpcError.code === TransportCode.TIMEOUT || rpcError.code === TransportCode.CANCELLED || this.closed) throw rpcError;
        lastError = rpcError;
        if (route.keys.length > 0 && !waitForReady) throw rpcError;
        (skip ??= new Set()).add(member);
      }
    }
  }

  /** Why no endpoint can take `route`: not processed [CLUSTER-3]. */
  private noEndpoint(route: CallRoute, lastError: RpcError | undefined): RpcError {
    if (lastError !== undefined) return lastError;
    const group = route.group ?? this.defaultGroup;
    const where = group === undefined ? "" : ` in group ${JSON.stringify(group)}`;
    if (!this.known) {
      const why = this.sourceError === undefined ? "" : `: ${this.sourceError.message}`;
      return RpcError.transport(TransportCode.UNAVAILABLE, `no endpoints known yet from ${this.source.description}${why} [CLUSTER-3]`, "no", this.sourceError);
    }
    return RpcError.transport(TransportCode.UNAVAILABLE, `no endpoints${where} (${this.members.size} in all from ${this.source.description})`, "no");
  }

  private waitForChange(until: number, signal: AbortSignal | undefined): Promise<unknown> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.waiters.delete(wake);
        controller.abort();
        resolve();
      };
      const controller = new AbortController();
      this.waiters.add(wake);
      signal?.addEventListener("abort", wake, { once: true });
      if (until < Infinity) void sleep(Math.max(0, until - now()), controller.signal).then(wake);
    });
  }

  /** Whether a failing member without a connection is passed over by calls that have others; starts its reconnect if none is running [CLUSTER-6]. */
  private passedOver(member: Member): boolean {
    if (!member.failing || member.subchannel.ready() !== undefined) return false;
    this.probe(member);
    return true;
  }

  retry(error: RpcError, attempts: number, _route: CallRoute, idempotent: boolean, _connection: CallConnection | undefined): boolean {
    if (attempts >= this.maxAttempts || !worthRetrying(error, idempotent)) return false;
    return this.budget.trySpend();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    await Promise.all([this.source.close(), ...[...this.members.values()].map((m) => m.subchannel.close())]);
  }
}
