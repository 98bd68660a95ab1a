// A server announcing itself in one or several independent Redis servers
// (spec 21.2): in each, the record with a PX expiry, then its index entry
// scored with that expiry, then a message on the change channel, in one
// MULTI so a reader never sees half of it. Rewritten every TTL/3, and at
// once to a server that was down and can be reached again, so a server that
// stops refreshing (a crash) disappears by itself once its TTL passes
// [CLUSTER-2].

import type { Endpoint } from "../endpoint.ts";
import { endpointRecord } from "../endpoint.ts";
import type { Registrar } from "../endpoint-source.ts";
import { setTimer, type Timer } from "../../util/timer.ts";
import { RedisConnection, redactUrl } from "./redis-connection.ts";
import { redisLayout, type RedisLayout, type RedisLayoutOptions } from "./redis-keys.ts";

/** Options of redisRegistrar (spec 21.2) [CLUSTER-2]. */
export interface RedisRegistrarOptions extends RedisLayoutOptions {
  /** One or several independent Redis servers, e.g. ["redis://10.0.0.1:6379"]; the record is written to each. */
  urls: readonly string[];
  /** The record's lifetime, rewritten every ttlMs/3. Default 10000 ms. */
  ttlMs?: number;
  /** Bounds connecting and each command, so deregister() ends even when Redis cannot be reached. Default 1000 ms. */
  commandTimeoutMs?: number;
  /** Where outages and failed refreshes are reported. Default console.warn. */
  log?: (message: string) => void;
}

const defaultLog = (message: string) => console.warn(`strata redis registrar: ${message}`);

/** What was registered: the endpoint, and a number that changes with every register and deregister. */
interface Registration {
  readonly endpoint: Endpoint;
  readonly generation: number;
}

class RedisRegistrar implements Registrar {
  readonly description: string;
  private readonly urls: readonly string[];
  private readonly layout: RedisLayout;
  private readonly ttlMs: number;
  private readonly commandTimeoutMs: number;
  private readonly log: (message: string) => void;
  private connections: RedisConnection[] | undefined;
  private current: Registration | undefined;
  private generation = 0;
  private timer: Timer | undefined;
  /** The write in flight to each server, which a reconnect joins instead of starting another. */
  private readonly writing = new Map<RedisConnection, { registration: Registration; promise: Promise<void> }>();
  /** The servers whose last write failed, so each outage is reported once. */
  private readonly failing = new Set<RedisConnection>();

  constructor(options: RedisRegistrarOptions) {
    if (!Array.isArray(options.urls) || options.urls.length === 0) throw new TypeError("redisRegistrar needs urls: one or more Redis URLs");
    this.urls = [...options.urls];
    this.layout = redisLayout(options);
    this.ttlMs = options.ttlMs ?? 10_000;
    if (!(this.ttlMs >= 3 && Number.isFinite(this.ttlMs))) throw new RangeError(`redisRegistrar ttlMs must be a finite number of 3 ms or more, got ${this.ttlMs}`);
    this.commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    if (!(this.commandTimeoutMs > 0)) throw new RangeError(`redisRegistrar commandTimeoutMs must be positive, got ${this.commandTimeoutMs}`);
    this.log = options.log ?? defaultLog;
    this.description = `redis ${this.urls.map(redactUrl).join(",")} ${this.layout.base}`;
  }

  async register(endpoint: Endpoint): Promise<void> {
    if (this.current !== undefined && this.current.endpoint.id !== endpoint.id) {
      throw new Error(`${this.description} already registers ${this.current.endpoint.id}; deregister it before registering ${endpoint.id}`);
    }
    this.timer?.clear();
    const registration = { endpoint, generation: ++this.generation };
    this.current = registration;
    this.connections ??= this.urls.map((url) => {
      const connection: RedisConnection = new RedisConnection({
        url,
        commandTimeoutMs: this.commandTimeoutMs,
        log: this.log,
        // A server that was down may have lost the record: write it back now rather than at the next refresh.
        onReady: () => void this.writeTo(connection).catch(() => undefined),
      });
      return connection;
    });
    const connections = this.connections;
    const results = await Promise.allSettled(connections.map((connection) => this.writeTo(connection, registration)));
    if (this.current !== registration) return;
    if (results.some((result) => result.status === "fulfilled")) {
      this.arm();
      return;
    }
    const failures = results.map((result) => ((result as PromiseRejectedResult).reason as Error).message);
    this.current = undefined;
    this.connections = undefined;
    await Promise.all(connections.map((connection) => connection.close()));
    throw new Error(`${this.description}: could not register ${endpoint.id} in any Redis: ${failures.join("; ")} [CLUSTER-2]`);
  }

  /** Writes the registration to one server, joining a write of it already in flight there; resolves once written. */
  private writeTo(connection: RedisConnection, registration = this.current): Promise<void> {
    if (registration === undefined) return Promise.resolve();
    const inFlight = this.writing.get(connection);
    if (inFlight !== undefined && inFlight.registration === registration) return inFlight.promise;
    // A write of an older registration (register() again with new attributes) goes first, then this one.
    const promise = (inFlight?.promise.catch(() => undefined) ?? Promise.resolve())
      .then(() => this.write(connection, registration))
      .finally(() => {
        if (this.writing.get(connection)?.promise === promise) this.writing.delete(connection);
      });
    this.writing.set(connection, { registration, promise });
    return promise;
  }

  private async write(connection: RedisConnection, { endpoint, generation }: Registration): Promise<void> {
    const { id } = endpoint;
    const record = endpointRecord(endpoint);
    try {
      await connection.run(`register ${id}`, (client) => {
        // Checked once connected: a deregister() while this waited must not be undone by it.
        if (this.generation !== generation) return Promise.resolve([]);
        return client
          .multi()
          .set(this.layout.record(id), record, { expiration: { type: "PX", value: this.ttlMs } })
          .zAdd(this.layout.index, { score: Date.now() + this.ttlMs, value: id })
          .publish(this.layout.channel, id)
          .exec();
      });
    } catch (error) {
      if (!this.failing.has(connection) && this.generation === generation) {
        this.failing.add(connection);
        this.log(`cannot write endpoint ${id} to ${connection.url} (${(error as Error).message}); it expires there within ${this.ttlMs} ms unless a later refresh succeeds [CLUSTER-2]`);
      }
      throw error;
    }
    if (this.failing.delete(connection)) this.log(`endpoint ${id} written to ${connection.url} again`);
  }

  /** Refreshes every TTL/3 until deregister(), on a fixed beat: a server that is slow to answer or down delays no other. */
  private arm(): void {
    this.timer?.clear();
    this.timer = setTimer(() => {
      if (this.current === undefined || this.connections === undefined) return;
      for (const connection of this.connections) void this.writeTo(connection).catch(() => undefined);
      this.arm();
    }, this.ttlMs / 3, { keepAlive: false });
  }

  async deregister(): Promise<void> {
    const registration = this.current;
    const connections = this.connections;
    this.current = undefined;
    this.connections = undefined;
    this.generation++;
    this.timer?.clear();
    if (connections === undefined) return;
    await Promise.all(connections.map(async (connection) => {
      if (registration !== undefined) {
        const { id } = registration.endpoint;
        try {
          // A server that cannot be reached now is not waited for: the record's expiry removes it there [CLUSTER-2].
          await connection.run(`deregister ${id}`, (client) =>
            client.multi().del(this.layout.record(id)).zRem(this.layout.index, id).publish(this.layout.channel, id).exec(), false);
        } catch (error) {
          this.log(`cannot remove endpoint ${id} from ${connection.url} (${(error as Error).message}); it expires there within ${this.ttlMs} ms [CLUSTER-2]`);
        }
      }
      await connection.close();
    }));
    this.failing.clear();
  }
}

/**
 * A Registrar writing the endpoint to every Redis server in `urls` under
 * the spec 21.2 layout, with a PX expiry of `ttlMs` refreshed every ttlMs/3;
 * register() resolves once at least one server has the record, and
 * deregister() removes it from each server it can reach, bounded by the
 * command timeout, and closes every connection [CLUSTER-2].
 */
export function redisRegistrar(options: RedisRegistrarOptions): Registrar {
  return new RedisRegistrar(options);
}
