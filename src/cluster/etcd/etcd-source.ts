// A cluster client learning its endpoints from etcd (spec 21.2), through the
// v3 JSON gateway over fetch (see etcd-gateway.ts for why not the etcd3
// package). It lists the range "<prefix>/<cluster>/endpoints/" with the
// revision of that read, then watches the range from the next revision: a
// streaming POST /v3/watch whose body is one JSON message per line. Each
// message's events are applied to the set, and a changed set is delivered.
//
// When the watch or a read fails, the source reports the registry
// unavailable once per outage, keeps its last set [CLUSTER-3], and tries
// again after a backoff (250 ms doubling to 5 s), watching from where it
// left off; only when etcd reports that revision compacted does it list
// again. While a watch is open, its member is asked every probe interval
// whether it still answers, so a member cut off without a FIN or reset (a
// partition) does not leave the source silently stale.

import { endpointRecord, parseEndpointRecord, type Endpoint } from "../endpoint.ts";
import type { EndpointListener, EndpointSource } from "../endpoint-source.ts";
import { setTimer, sleep, type Timer } from "../../util/timer.ts";
import { decodeBase64, encodeBase64, EtcdError, EtcdGateway, prefixRangeEnd, type Fetch } from "./etcd-gateway.ts";
import { etcdLayout, type EtcdLayout, type EtcdLayoutOptions } from "./etcd-keys.ts";

/** Options of etcdEndpoints. */
export interface EtcdEndpointsOptions extends EtcdLayoutOptions {
  /** The etcd members' client URLs, e.g. ["http://10.0.0.1:2379"]; each call goes to the next when one fails. */
  urls: readonly string[];
  /** Bounds each read, and the wait for a watch to be answered. Default 2000 ms. */
  requestTimeoutMs?: number;
  /** How often the member serving the watch is asked whether it still answers. Default 10000 ms; 0: never. */
  probeIntervalMs?: number;
  /** The first wait after a failure, doubling with each failure in a row. Default 250 ms. */
  retryMs?: number;
  /** The longest wait between attempts. Default 5000 ms. */
  maxRetryMs?: number;
  /** Where skipped records, compactions and recoveries are reported. Default console.warn. */
  log?: (message: string) => void;
  /** The fetch to call etcd with. Default the global fetch. */
  fetch?: Fetch;
}

const defaultLog = (message: string) => console.warn(`strata etcd source: ${message}`);

/** What a range or watch event carries of a key (64-bit integers are decimal strings). */
interface KeyValue {
  key?: string;
  value?: string;
  mod_revision?: string;
}

interface RangeResponse {
  header?: { revision?: string };
  kvs?: KeyValue[];
}

interface WatchResponse {
  header?: { revision?: string };
  created?: boolean;
  canceled?: boolean;
  compact_revision?: string;
  cancel_reason?: string;
  events?: Array<{ type?: "PUT" | "DELETE"; kv?: KeyValue }>;
}

/** An endpoint of the set and its record's text, to tell a rewrite from a change. */
interface Entry {
  readonly endpoint: Endpoint;
  readonly text: string;
}

/** Why the watch loop starts over: it must list again first. */
class ListAgain extends Error {}

class EtcdSource implements EndpointSource {
  readonly description: string;
  private readonly gateway: EtcdGateway;
  private readonly layout: EtcdLayout;
  private readonly range: { key: string; range_end: string };
  private readonly probeIntervalMs: number;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private readonly log: (message: string) => void;
  private listener: EndpointListener | undefined;
  private readonly stop = new AbortController();
  private running: Promise<void> | undefined;
  private set = new Map<string, Entry>();
  /** The set's revision: every change up to it is applied. Undefined until listed, and when it must be listed again. */
  private revision: bigint | undefined;
  /** The last set delivered, as comparable text; undefined before the first. */
  private delivered: string | undefined;
  private outage = false;
  private delay: number;

  constructor(options: EtcdEndpointsOptions) {
    this.gateway = new EtcdGateway({ urls: options.urls, requestTimeoutMs: options.requestTimeoutMs ?? 2000, fetch: options.fetch }, "etcdEndpoints");
    this.layout = etcdLayout(options);
    this.range = { key: encodeBase64(this.layout.endpoints), range_end: prefixRangeEnd(this.layout.endpoints) };
    this.probeIntervalMs = options.probeIntervalMs ?? 10_000;
    if (!(this.probeIntervalMs >= 0)) throw new RangeError(`etcdEndpoints probeIntervalMs must be 0 or more, got ${this.probeIntervalMs}`);
    this.retryMs = options.retryMs ?? 250;
    this.maxRetryMs = options.maxRetryMs ?? 5000;
    if (!(this.retryMs > 0 && this.maxRetryMs >= this.retryMs)) throw new RangeError(`etcdEndpoints needs 0 < retryMs <= maxRetryMs, got ${this.retryMs} and ${this.maxRetryMs}`);
    this.delay = this.retryMs;
    this.log = options.log ?? defaultLog;
    this.description = `etcd ${this.gateway.urls.join(",")} ${this.layout.base}`;
  }

  watch(listener: EndpointListener): void {
    if (this.listener !== undefined) throw new Error(`${this.description} is already watched`);
    if (this.stop.signal.aborted) throw new Error(`${this.description} is closed`);
    this.listener = listener;
    // Only a listener that throws can end the loop early.
    this.running = this.run().catch((error: unknown) => this.log(`stopped watching: ${(error as Error).message}`));
  }

  private async run(): Promise<void> {
    const { signal } = this.stop;
    while (!signal.aborted) {
      try {
        if (this.revision === undefined) await this.list();
        await this.follow();
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ListAgain) {
          this.log(error.message);
          this.revision = undefined;
          // Rare, but a registry that kept forcing it must not get a tight loop of reads.
          if (await sleep(this.retryMs, signal)) return;
          continue;
        }
        this.failed(error as Error);
        const jitter = 0.8 + 0.4 * Math.random(); // so that clients cut off together do not come back together
        if (await sleep(this.delay * jitter, signal)) return;
        this.delay = Math.min(this.delay * 2, this.maxRetryMs);
      }
    }
  }

  /** Reads the whole range and delivers it. */
  private async list(): Promise<void> {
    const response = await this.gateway.call<RangeResponse>("kv/range", this.range, this.stop.signal);
    const set = new Map<string, Entry>();
    for (const kv of response.kvs ?? []) {
      const id = this.layout.idOf(decodeBase64(kv.key));
      const entry = this.entry(id, kv);
      if (entry !== undefined) set.set(id, entry);
    }
    this.set = set;
    this.revision = BigInt(response.header?.revision ?? "0");
    this.readable();
  }

  /** Watches from the set's revision + 1, applying events, until the watch fails (throws) or must start over (ListAgain). */
  private async follow(): Promise<void> {
    const from = this.revision! + 1n;
    const watch = new AbortController();
    const onStop = () => watch.abort();
    this.stop.signal.addEventListener("abort", onStop, { once: true });
    let probe: Timer | undefined;
    let probeFailure: Error | undefined;
    try {
      const { member, messages } = await this.gateway.openStream("watch", { create_request: { ...this.range, start_revision: String(from) } }, watch.signal);
      const armProbe = () => {
        if (this.probeIntervalMs === 0 || watch.signal.aborted) return;
        probe = setTimer(() => {
          this.gateway.callAt(member, "kv/range", { key: this.range.key, count_only: true }, watch.signal).then(armProbe, (error: Error) => {
            if (watch.signal.aborted) return;
            probeFailure = error;
            watch.abort();
          });
        }, this.probeIntervalMs);
      };
      armProbe();
      try {
        for await (const message of messages) this.apply(member, message as WatchResponse);
      } catch (error) {
        throw probeFailure ?? error;
      }
      throw probeFailure ?? new EtcdError(`${member}/v3/watch`, "ended the watch", { retryable: true });
    } finally {
      probe?.clear();
      watch.abort();
      this.stop.signal.removeEventListener("abort", onStop);
    }
  }

  private apply(member: string, message: WatchResponse): void {
    if (message.created === true) {
      // A store whose revision went back (restored from a backup, or a new cluster) would never send the events between.
      const current = BigInt(message.header?.revision ?? "0");
      if (current < this.revision!) throw new ListAgain(`etcd ${member} is at revision ${current}, before the ${this.revision} already read: listing ${this.layout.endpoints} again`);
      this.readable();
      return;
    }
    if (message.canceled === true) {
      const compacted = BigInt(message.compact_revision ?? "0");
      if (compacted > 0n) throw new ListAgain(`etcd ${member} compacted the revisions after ${this.revision} (up to ${compacted}): listing ${this.layout.endpoints} again`);
      throw new EtcdError(`${member}/v3/watch`, `cancelled the watch: ${message.cancel_reason ?? "no reason given"}`, { retryable: true });
    }
    const events = message.events ?? [];
    if (events.length === 0) return;
    for (const { type, kv } of events) {
      if (kv === undefined) continue;
      const id = this.layout.idOf(decodeBase64(kv.key));
      const entry = type === "DELETE" ? undefined : this.entry(id, kv);
      // A record rewritten as a bad one is gone as well: the server it named no longer vouches for it [CLUSTER-1].
      if (entry === undefined) this.set.delete(id);
      else this.set.set(id, entry);
      const revision = BigInt(kv.mod_revision ?? "0");
      if (revision > this.revision!) this.revision = revision;
    }
    this.deliver();
  }

  /** The entry of a record, or undefined, logged, when it is not a good one for its key [CLUSTER-1]. */
  private entry(id: string, kv: KeyValue): Entry | undefined {
    const text = decodeBase64(kv.value);
    const parsed = parseEndpointRecord(text);
    const problem = "problem" in parsed ? parsed.problem : parsed.id !== id ? `its id ${JSON.stringify(parsed.id)} is not the key's` : undefined;
    if (problem === undefined) return { endpoint: parsed as Endpoint, text };
    this.log(`record ${this.layout.record(id)} skipped: ${problem}: ${text.slice(0, 200)} [CLUSTER-1]`);
    return undefined;
  }

  /** The registry answered: ends an outage, delivering the set even when unchanged, so the listener knows it is read again. */
  private readable(): void {
    this.delay = this.retryMs;
    if (this.outage) this.log(`${this.description} can be read again`);
    this.deliver();
  }

  private deliver(): void {
    const endpoints = [...this.set.values()].map((entry) => entry.endpoint).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const text = endpoints.map(endpointRecord).join("\n");
    if (text === this.delivered && !this.outage) return;
    this.delivered = text;
    this.outage = false;
    this.listener!.endpoints(endpoints);
  }

  private failed(error: Error): void {
    if (this.outage) return;
    this.outage = true;
    this.listener!.unavailable(new Error(`${error.message} [CLUSTER-3]`, { cause: error }));
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.running;
  }
}

/**
 * An EndpointSource reading the spec 21.2 etcd layout through etcd's v3
 * JSON gateway over fetch: it lists "<prefix>/<cluster>/endpoints/", then
 * watches it from the next revision and delivers each changed set, skipping
 * bad records with a log line [CLUSTER-1]; when etcd cannot be read it
 * reports unavailable once per outage and keeps its last set [CLUSTER-3].
 */
export function etcdEndpoints(options: EtcdEndpointsOptions): EndpointSource {
  return new EtcdSource(options);
}
