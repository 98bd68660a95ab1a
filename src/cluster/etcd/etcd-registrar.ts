// A server announcing itself in etcd (spec 21.2), through the v3 JSON
// gateway over fetch (see etcd-gateway.ts for why not the etcd3 package):
// it grants a lease of TTL seconds, puts its record at
// "<prefix>/<cluster>/endpoints/<id>" attached to the lease, and keeps the
// lease alive every TTL/3 (the gateway answers one POST /v3/lease/keepalive
// with one message, so each refresh is one request). A server that stops
// refreshing (a crash) disappears once the TTL passes; a lease found gone
// (etcd unreachable for longer than the TTL, or an operator revoked it) is
// granted again and the record put again. Deregistering revokes the lease,
// which deletes the record with it [CLUSTER-2].

import { endpointRecord, type Endpoint } from "../endpoint.ts";
import type { Registrar } from "../endpoint-source.ts";
import { setTimer, type Timer } from "../../util/timer.ts";
import { encodeBase64, EtcdCode, EtcdError, EtcdGateway, type Fetch } from "./etcd-gateway.ts";
import { etcdLayout, type EtcdLayout, type EtcdLayoutOptions } from "./etcd-keys.ts";

/** Options of etcdRegistrar. */
export interface EtcdRegistrarOptions extends EtcdLayoutOptions {
  /** The etcd members' client URLs, e.g. ["http://10.0.0.1:2379"]; each call goes to the next when one fails. */
  urls: readonly string[];
  /** The lease's TTL, kept alive every TTL/3. Default 10 s; etcd raises a TTL below its minimum (2 s with default timing) to it. */
  ttlSeconds?: number;
  /** Bounds each request, so deregister() ends even when etcd cannot be reached. Default 1000 ms. */
  requestTimeoutMs?: number;
  /** Where outages and lost leases are reported. Default console.warn. */
  log?: (message: string) => void;
  /** The fetch to call etcd with. Default the global fetch. */
  fetch?: Fetch;
}

const defaultLog = (message: string) => console.warn(`strata etcd registrar: ${message}`);

/** What was registered, in the gateway's base64. */
interface Registration {
  readonly endpoint: Endpoint;
  readonly key: string;
  readonly value: string;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class EtcdRegistrar implements Registrar {
  readonly description: string;
  private readonly gateway: EtcdGateway;
  private readonly layout: EtcdLayout;
  private readonly ttlSeconds: number;
  private readonly log: (message: string) => void;
  private current: Registration | undefined;
  /** The lease the record is attached to, as etcd's decimal ID. */
  private lease: string | undefined;
  private timer: Timer | undefined;
  /** Writes, refreshes and revocations run one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();
  /** Whether the last refresh failed, so each outage is reported once. */
  private failing = false;

  constructor(options: EtcdRegistrarOptions) {
    this.gateway = new EtcdGateway({ urls: options.urls, requestTimeoutMs: options.requestTimeoutMs ?? 1000, fetch: options.fetch }, "etcdRegistrar");
    this.layout = etcdLayout(options);
    this.ttlSeconds = options.ttlSeconds ?? 10;
    if (!(Number.isInteger(this.ttlSeconds) && this.ttlSeconds >= 1)) throw new RangeError(`etcdRegistrar ttlSeconds must be a positive integer, got ${this.ttlSeconds}`);
    this.log = options.log ?? defaultLog;
    this.description = `etcd ${this.gateway.urls.join(",")} ${this.layout.base}`;
  }

  register(endpoint: Endpoint): Promise<void> {
    if (this.current !== undefined && this.current.endpoint.id !== endpoint.id) {
      return Promise.reject(new Error(`${this.description} already registers ${this.current.endpoint.id}; deregister it before registering ${endpoint.id}`));
    }
    this.timer?.clear();
    const registration = { endpoint, key: encodeBase64(this.layout.record(endpoint.id)), value: encodeBase64(endpointRecord(endpoint)) };
    this.current = registration;
    return this.serially(async () => {
      if (this.current !== registration) return; // deregistered or registered anew meanwhile
      try {
        await this.write(registration);
      } catch (error) {
        if (this.current === registration) this.current = undefined;
        throw new Error(`${this.description}: could not register ${endpoint.id}: ${message(error)} [CLUSTER-2]`, { cause: error });
      }
      this.arm(registration);
    });
  }

  /** Puts the record with the current lease, or with a new one when there is none or it is gone. */
  private async write({ key, value }: Registration): Promise<void> {
    if (this.lease !== undefined) {
      try {
        await this.gateway.call("kv/put", { key, value, lease: this.lease });
        return;
      } catch (error) {
        if (!(error instanceof EtcdError && error.code === EtcdCode.NOT_FOUND)) throw error;
        this.lease = undefined;
      }
    }
    const granted = await this.gateway.call<{ ID?: string }>("lease/grant", { TTL: this.ttlSeconds });
    if (granted.ID === undefined) throw new Error("etcd granted a lease without an ID");
    try {
      await this.gateway.call("kv/put", { key, value, lease: granted.ID });
    } catch (error) {
      await this.gateway.call("lease/revoke", { ID: granted.ID }).catch(() => undefined);
      throw error;
    }
    this.lease = granted.ID;
  }

  /** Keeps the lease alive every TTL/3 until deregister(). */
  private arm(registration: Registration): void {
    this.timer?.clear();
    if (this.current !== registration) return;
    this.timer = setTimer(() => {
      this.serially(() => this.refresh(registration)).catch(() => undefined);
    }, (this.ttlSeconds * 1000) / 3, { keepAlive: false });
  }

  private async refresh(registration: Registration): Promise<void> {
    if (this.current !== registration) return;
    const { id } = registration.endpoint;
    try {
      const alive = this.lease !== undefined && Number((await this.gateway.call<{ TTL?: string }>("lease/keepalive", { ID: this.lease })).TTL ?? 0) > 0;
      if (!alive) {
        // etcd answers a lease it no longer has with TTL 0, the record gone with it.
        if (this.lease !== undefined) this.log(`the lease of endpoint ${id} in ${this.description} has ended (etcd was unreachable for longer than its ${this.ttlSeconds} s, or it was revoked): registering it again [CLUSTER-2]`);
        this.lease = undefined;
        await this.write(registration);
      }
      if (this.failing) this.log(`endpoint ${id} refreshed in ${this.description} again`);
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.log(`cannot refresh endpoint ${id} in ${this.description} (${message(error)}); its record ends within ${this.ttlSeconds} s unless a later refresh succeeds [CLUSTER-2]`);
      this.failing = true;
    }
    this.arm(registration);
  }

  deregister(): Promise<void> {
    const registration = this.current;
    this.current = undefined;
    this.timer?.clear();
    return this.serially(async () => {
      const lease = this.lease;
      this.lease = undefined;
      this.failing = false;
      if (lease === undefined) return;
      try {
        await this.gateway.call("lease/revoke", { ID: lease });
      } catch (error) {
        if (error instanceof EtcdError && error.code === EtcdCode.NOT_FOUND) return; // gone already, and the record with it
        // Not waited for further: the lease's TTL removes the record [CLUSTER-2].
        this.log(`cannot remove endpoint ${registration?.endpoint.id ?? "(none)"} from ${this.description} (${message(error)}); its lease ends it within ${this.ttlSeconds} s [CLUSTER-2]`);
      }
    });
  }

  private serially(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/**
 * A Registrar writing the endpoint's record to etcd under the spec 21.2
 * layout, "<prefix>/<cluster>/endpoints/<id>", attached to a lease of
 * `ttlSeconds` kept alive every TTL/3 and granted again when found gone;
 * register() resolves once the record is written, and deregister() revokes
 * the lease, bounded by the request timeout per member [CLUSTER-2].
 */
export function etcdRegistrar(options: EtcdRegistrarOptions): Registrar {
  return new EtcdRegistrar(options);
}
