// The seams the next features plug into, used from outside as those
// features will: a router over several servers (the cluster issue) and a
// transport registered by address scheme (TLS, WebSocket), both written
// here against the public interfaces only, with no change to the call path
// or the connection classes. Cites [KEYS-9] [STATUS-3] [DRAIN-3].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  checkedLimits,
  createClient,
  createServer,
  memoryTransport,
  type ConnectionInfo,
  type Transport,
  type TransportFactory,
} from "../src/node.ts";
import { retryable, Subchannel, type CallConnection, type CallRoute, type FailedOn, type Router } from "../src/client/index.ts";
import type { RpcError } from "../src/status/index.ts";
import { TestService, testService } from "./support/test-service.ts";

const test = suite("seams");
const settings = { limits: checkedLimits(undefined), pingIntervalMs: 5000, connectTimeoutMs: 3000 };

/** A router over several addresses: a call with keys goes to the server its first key names, others to the first server; a retry avoids the connection that failed. */
class KeyRouter implements Router {
  readonly subchannels: Subchannel[];
  readonly routes: string[] = [];

  constructor(addresses: string[]) {
    this.subchannels = addresses.map((address) => new Subchannel(() => Promise.resolve(memoryTransport), address, settings));
  }

  private order(route: CallRoute): Subchannel[] {
    const first = route.keys.length > 0 ? Number(route.keys[0]!.slice(-1)) % this.subchannels.length : 0;
    return [...this.subchannels.slice(first), ...this.subchannels.slice(0, first)];
  }

  /** The key's own server; another one only when the call must avoid the server it failed on. */
  pick(route: CallRoute, avoid: FailedOn): CallConnection | undefined {
    for (const subchannel of this.order(route)) {
      if (avoid?.some((c) => subchannel.owns(c))) continue;
      const ready = subchannel.ready();
      if (ready !== undefined) this.routes.push(`${route.method}@${subchannel.address}`);
      return ready;
    }
    return undefined;
  }

  async connect(route: CallRoute, deadline: number, signal: AbortSignal | undefined, avoid: FailedOn): Promise<CallConnection> {
    const candidates = this.order(route).filter((s) => !avoid?.some((c) => s.owns(c)));
    const subchannel = candidates[0] ?? this.subchannels[0]!;
    this.routes.push(`${route.method}@${subchannel.address}`);
    return subchannel.acquire(deadline, signal);
  }

  /** The single-address rule: one retry after a failure that proves the request did not run. */
  retry(error: RpcError, attempts: number): boolean {
    return attempts === 1 && retryable(error);
  }

  async close(): Promise<void> {
    await Promise.all(this.subchannels.map((s) => s.close()));
  }
}

test("[KEYS-9] a router outside src/ sends each call where its keys say, through createClient's router option", async () => {
  const servers = [testService(), testService()];
  const started = servers.map(({ impl }) => createServer().addService(TestService, impl));
  const addresses = await Promise.all(started.map((s) => s.listen("memory:")));
  const router = new KeyRouter(addresses);
  const client = createClient(TestService, { router });
  await client.record({ tag: "k0" }, { keys: ["user-0"] });
  await client.record({ tag: "k1" }, { keys: ["user-1"] });
  await client.record({ tag: "none" });
  await client.$oneway.record({ tag: "k1-oneway" }, { keys: ["user-1"] });
  await client.record({ tag: "k1-after" }, { keys: ["user-1"] });
  assert.equal(servers[0]!.log.recorded, ["k0", "none"]);
  assert.equal(servers[1]!.log.recorded, ["k1", "k1-oneway", "k1-after"]);
  await client.$close();
  await Promise.all(started.map((s) => s.close({ graceMs: 0 })));
});

test("[KEYS-9] a router that tries to change the route it is handed changes no later call", async () => {
  const servers = [testService(), testService()];
  const started = servers.map(({ impl }) => createServer().addService(TestService, impl));
  const addresses = await Promise.all(started.map((s) => s.listen("memory:")));
  let refused = 0;
  const router = new (class extends KeyRouter {
    override pick(route: CallRoute, avoid: FailedOn): CallConnection | undefined {
      try {
        (route.keys as string[]).push("user-1");
      } catch {
        refused++;
      }
      try {
        (route as { method: string }).method = "Echo";
      } catch {
        refused++;
      }
      return super.pick(route, avoid);
    }
  })(addresses);
  const client = createClient(TestService, { router });
  for (const tag of ["a", "b", "c"]) await client.record({ tag });
  assert.equal(servers[0]!.log.recorded, ["a", "b", "c"], "no keys and no other method leaked into later calls");
  assert.equal(servers[1]!.log.recorded, []);
  assert.ok(refused >= 6, `every change refused, ${refused}`);
  await client.$close();
  await Promise.all(started.map((s) => s.close({ graceMs: 0 })));
});

test("[STATUS-3] [DRAIN-3] a retry that must avoid the failed connection goes to another server", async () => {
  const servers = [testService(), testService()];
  // One request at a time on the first server: the client queues the second call, unwritten [LIMIT-5].
  const started = servers.map(({ impl }, i) => createServer({ maxConcurrentRequests: i === 0 ? 1 : 100 }).addService(TestService, impl));
  const addresses = await Promise.all(started.map((s) => s.listen("memory:")));
  const router = new KeyRouter(addresses);
  const client = createClient(TestService, { router });
  await client.record({ tag: "before" });
  const running = client.echo({ text: "running", delayMs: 100 });
  const queued = client.record({ tag: "queued" });
  // The first server drains: its GOAWAY fails the queued call as not processed, and its one retry
  // must avoid that server's connection: the router sends it to the other server.
  const draining = started[0]!.close({ graceMs: 5000 });
  await queued;
  assert.is((await running).text, "running", "the running call finishes on the draining server");
  assert.equal(servers[0]!.log.recorded, ["before"]);
  assert.equal(servers[1]!.log.recorded, ["queued"]);
  await client.$close();
  await draining;
  await started[1]!.close({ graceMs: 0 });
});

test("a transport registered by scheme serves both sides, and handlers see the connection info it reports", async () => {
  const written: number[] = [];
  /** Stands in for TLS or WebSocket: "tap:NAME" rides on memory:NAME, reports itself secure, and counts the bytes written. */
  const tapped = (transport: Transport, info: ConnectionInfo): Transport => ({
    info,
    get bufferedAmount() {
      return transport.bufferedAmount;
    },
    write(bytes) {
      written.push(bytes.length);
      return transport.write(bytes);
    },
    start: (handlers) => transport.start(handlers),
    end: () => transport.end(),
    destroy: () => transport.destroy(),
    pause: () => transport.pause?.(),
    resume: () => transport.resume?.(),
  });
  const tap: TransportFactory = {
    async connect(address, options) {
      const transport = await memoryTransport.connect(`memory:${address.slice(4)}`, options);
      return tapped(transport, { peer: address, secure: true, protocol: "strata/1" });
    },
    async listen(address, options, accept) {
      const listener = await memoryTransport.listen(`memory:${address.slice(4)}`, options, (transport) =>
        accept(tapped(transport, { peer: `${address}#peer`, secure: true, protocol: "strata/1", peerCertificate: { subject: "CN=test", subjectAltNames: [], fingerprint256: "00" } })),
      );
      return { address: `tap:${listener.address.slice(7)}`, close: () => listener.close() };
    },
  };
  const { impl } = testService();
  let seen: ConnectionInfo | undefined;
  const server = createServer({ transports: { tap } }).addService(TestService, {
    ...impl,
    echo: (request, context) => {
      seen = context.connection;
      return { text: request.text };
    },
  });
  const address = await server.listen("tap:seam-test");
  assert.is(address, "tap:seam-test");
  const memory = await server.listen("memory:");
  const client = createClient(TestService, { address, transports: { tap } });
  assert.is((await client.echo({ text: "over tap" })).text, "over tap");
  assert.equal([seen?.secure, seen?.protocol, seen?.peerCertificate?.subject], [true, "strata/1", "CN=test"]);
  assert.ok(written.length > 0, "the bytes went through the registered transport");
  // The same server answers on its other listener too.
  const plain = createClient(TestService, { address: memory });
  assert.is((await plain.echo({ text: "over memory" })).text, "over memory");
  assert.is(seen?.secure, false);
  await client.$close();
  await plain.$close();
  await server.close({ graceMs: 0 });
});

test("[HELLO-9] an address whose scheme no transport serves is refused with an error naming the scheme: by createClient at once, by listen", async () => {
  assert.throws(() => createClient(TestService, { address: "carrier-pigeon:coop-7" }), /no transport for "carrier-pigeon:"/);
  const server = createServer();
  const failure = await server.listen("carrier-pigeon:coop-7").then(() => "listened", (e: Error) => e.message);
  assert.match(failure, /no transport for "carrier-pigeon:"/);
  await server.close();
});

test.run();
