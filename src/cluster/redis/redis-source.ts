// A cluster client learning its endpoints from one or several independent
// Redis servers (spec 21.2). It subscribes to the change channel on a
// connection of its own (Redis allows nothing else on a subscribed one)
// and reads the set after messages, coalescing a burst into one read, and
// every resync interval, since pub/sub reaches only the clients connected
// at the time. Keyspace notifications are not used. A read takes the live
// index entries (ZRANGE BYSCORE from now) and MGETs their records; entries
// without a record are stale. The set is the union over the servers that
// answered (where they disagree on an id, the first server in the list with
// a valid record wins); when none did, the client keeps its last set
// [CLUSTER-3].

import { parseEndpointRecord, endpointRecord, type Endpoint } from "../endpoint.ts";
import type { EndpointListener, EndpointSource } from "../endpoint-source.ts";
import { setTimer, type Timer } from "../../util/timer.ts";
import { RedisConnection, redactUrl } from "./redis-connection.ts";
import { redisLayout, type RedisLayout, type RedisLayoutOptions } from "./redis-keys.ts";

/** Options of redisEndpoints (spec 21.2) [CLUSTER-3]. */
export interface RedisEndpointsOptions extends RedisLayoutOptions {
  /** One or several independent Redis servers; the set is the union of those that can be read. */
  urls: readonly string[];
  /** How often the set is read even without a message. Default 5000 ms. */
  resyncMs?: number;
  /** How long after a message the set is read, so that a burst of messages costs one read. Default 20 ms. */
  debounceMs?: number;
  /** Bounds connecting and each read. Default 2000 ms. */
  commandTimeoutMs?: number;
  /** Where skipped records and outages are reported. Default console.warn. */
  log?: (message: string) => void;
}

const defaultLog = (message: string) => console.warn(`strata redis source: ${message}`);

/**
 * Index entries this long past their expiry are removed by readers. The
 * margin keeps a reader whose clock runs ahead from removing entries that
 * are live for the others; such an entry is ignored anyway.
 */
const STALE_ENTRY_MARGIN_MS = 60_000;

/** One Redis server: a connection for reads and one for the subscription. */
interface Server {
  readonly reads: RedisConnection;
  readonly changes: RedisConnection;
}

/** What one server holds: index ids with their record text, null where the record is gone. */
type ServerRecords = Array<readonly [id: string, text: string | null]>;

class RedisSource implements EndpointSource {
  readonly description: string;
  private readonly urls: readonly string[];
  private readonly layout: RedisLayout;
  private readonly resyncMs: number;
  private readonly debounceMs: number;
  private readonly commandTimeoutMs: number;
  private readonly log: (message: string) => void;
  private listener: EndpointListener | undefined;
  private servers: Server[] = [];
  private closed = false;
  private syncing = false;
  private again = false;
  private due: Timer | undefined;
  private resync: Timer | undefined;
  /** The last set delivered, as comparable text; undefined before the first. */
  private delivered: string | undefined;
  private outage = false;
  /** Bad records already reported, so that each is logged once and not at every read. */
  private reported = new Set<string>();

  constructor(options: RedisEndpointsOptions) {
    if (!Array.isArray(options.urls) || options.urls.length === 0) throw new TypeError("redisEndpoints needs urls: one or more Redis URLs");
    this.urls = [...options.urls];
    this.layout = redisLayout(options);
    this.resyncMs = options.resyncMs ?? 5000;
    if (!(this.resyncMs > 0)) throw new RangeError(`redisEndpoints resyncMs must be positive, got ${this.resyncMs}`);
    this.debounceMs = options.debounceMs ?? 20;
    if (!(this.debounceMs >= 0)) throw new RangeError(`redisEndpoints debounceMs must be 0 or more, got ${this.debounceMs}`);
    this.commandTimeoutMs = options.commandTimeoutMs ?? 2000;
    if (!(this.commandTimeoutMs > 0)) throw new RangeError(`redisEndpoints commandTimeoutMs must be positive, got ${this.commandTimeoutMs}`);
    this.log = options.log ?? defaultLog;
    this.description = `redis ${this.urls.map(redactUrl).join(",")} ${this.layout.base}`;
  }

  watch(listener: EndpointListener): void {
    if (this.listener !== undefined) throw new Error(`${this.description} is already watched`);
    if (this.closed) throw new Error(`${this.description} is closed`);
    this.listener = listener;
    const changed = () => this.schedule(this.debounceMs);
    this.servers = this.urls.map((url) => {
      const reads = new RedisConnection({ url, commandTimeoutMs: this.commandTimeoutMs, log: this.log, onReady: changed, onLost: changed });
      // Messages sent while the subscription was down are lost: read again once it is back.
      const changes = new RedisConnection({ url, commandTimeoutMs: this.commandTimeoutMs, log: undefined, onReady: changed });
      changes.subscribe(this.layout.channel, changed);
      return { reads, changes };
    });
    this.schedule(0);
  }

  /** Reads the set after `delayMs`, unless a read is due already; during a read, once more after it. */
  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    if (this.due !== undefined) return;
    this.due = setTimer(() => {
      this.due = undefined;
      void this.sync();
    }, delayMs, { keepAlive: false });
  }

  private async sync(): Promise<void> {
    this.resync?.clear();
    this.syncing = true;
    try {
      const now = Date.now();
      // Only the first read waits for connections still being made; later, a server that is down fails at once.
      const wait = this.delivered === undefined && !this.outage;
      const results = await Promise.allSettled(this.servers.map((server) => this.read(server, now, wait)));
      if (!this.closed) this.deliver(results);
    } catch (error) {
      this.log(`reading ${this.description} failed: ${(error as Error).message}`);
    } finally {
      this.syncing = false;
    }
    if (this.closed) return;
    if (this.again) {
      this.again = false;
      this.schedule(this.debounceMs);
    }
    this.resync = setTimer(() => this.schedule(0), this.resyncMs, { keepAlive: false });
  }

  /** The live index entries of one server and their records. */
  private read({ reads }: Server, now: number, waitForReady: boolean): Promise<ServerRecords> {
    return reads.run("read the endpoints", async (client) => {
      const ids = await client.zRange(this.layout.index, now, "+inf", { BY: "SCORE" });
      const texts = ids.length === 0 ? [] : await client.mGet(ids.map((id) => this.layout.record(id)));
      client.zRemRangeByScore(this.layout.index, "-inf", `(${now - STALE_ENTRY_MARGIN_MS}`).catch(() => undefined);
      return ids.map((id, i) => [id, texts[i] ?? null] as const);
    }, waitForReady);
  }

  private deliver(results: PromiseSettledResult<ServerRecords>[]): void {
    const listener = this.listener!;
    if (results.every((result) => result.status === "rejected")) {
      if (this.outage) return;
      this.outage = true;
      const reasons = results.map((result) => ((result as PromiseRejectedResult).reason as Error).message);
      listener.unavailable(new Error(`${this.description} cannot be read: ${reasons.join("; ")} [CLUSTER-3]`));
      return;
    }
    const set = new Map<string, Endpoint>();
    const bad = new Set<string>();
    for (const result of results) {
      if (result.status === "rejected") continue;
      for (const [id, text] of result.value) {
        if (text === null || set.has(id)) continue;
        const parsed = parseEndpointRecord(text);
        const problem = "problem" in parsed ? parsed.problem : parsed.id !== id ? `its id is ${JSON.stringify(parsed.id)}` : undefined;
        if (problem === undefined) {
          set.set(id, parsed as Endpoint);
          continue;
        }
        const report = `record ${this.layout.record(id)} skipped: ${problem}: ${text.slice(0, 200)} [CLUSTER-1]`;
        bad.add(report);
        if (!this.reported.has(report)) this.log(report);
      }
    }
    this.reported = bad;
    const endpoints = [...set.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const text = endpoints.map(endpointRecord).join("\n");
    // After an outage the set is delivered even when unchanged: it tells the listener the registry is read again.
    if (text === this.delivered && !this.outage) return;
    this.delivered = text;
    this.outage = false;
    listener.endpoints(endpoints);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.due?.clear();
    this.resync?.clear();
    await Promise.all(this.servers.flatMap(({ reads, changes }) => [reads.close(), changes.close()]));
  }
}

/**
 * An EndpointSource reading the spec 21.2 Redis layout from every server in
 * `urls`: after each change message and every `resyncMs`, delivering the
 * union of the servers it can read when it changed, skipping bad records
 * with a log line [CLUSTER-1], and reporting unavailable once per outage
 * while keeping the last set when no server can be read [CLUSTER-3].
 */
export function redisEndpoints(options: RedisEndpointsOptions): EndpointSource {
  return new RedisSource(options);
}
