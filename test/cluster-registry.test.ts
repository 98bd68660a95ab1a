// A cluster of server processes that register themselves in a real
// registry (Redis, etcd), under a cluster client watching it: a server
// killed under load leaves the set when its record's lifetime ends,
// restarts and rejoins, drains with clients moving off before its GOAWAY,
// and with the registry down the clients keep their set and keep working.
// Cites [CLUSTER-2] [CLUSTER-3] [CLUSTER-4].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, RpcError, TransportCode, type EndpointSource } from "../src/node.ts";
import { TestService } from "./support/test-service.ts";
import { killNode, startNode, stopNode, type ClusterNode } from "./support/test-cluster.ts";
import { redisServerMissing, startRedisServer } from "./support/redis-server.ts";
import { startEtcd } from "./support/etcd-server.ts";
import { waitUntil } from "./support/wait.ts";

const suiteOf = suite("cluster registry");
/** uvu cannot report an RpcError (its details are not a string): one escaping a test is rethrown as a plain Error. */
const test = (name: string, body: () => Promise<void>) =>
  suiteOf(name, () => body().catch((error: unknown) => {
    throw RpcError.is(error) ? new Error(`${error.message} (processed ${error.processed})`) : error;
  }));

const TTL_MS = 2000;

/** A registry the test runs, and how servers and clients reach it. */
interface Registry {
  kind: "redis" | "etcd";
  url: string;
  source(cluster: string): Promise<EndpointSource>;
  stop(): Promise<void>;
  close(): Promise<void>;
}

async function redisRegistry(): Promise<Registry | string> {
  const missing = redisServerMissing("the cluster test with a Redis registry");
  if (missing !== undefined) return missing;
  const redis = await startRedisServer();
  return {
    kind: "redis",
    url: redis.url,
    source: async (cluster) => (await import("../src/cluster/redis/index.ts")).redisEndpoints({ urls: [redis.url], cluster, resyncMs: 300, log: () => {} }),
    stop: () => redis.stop(),
    close: () => redis.close(),
  };
}

async function etcdRegistry(): Promise<Registry | string> {
  const etcd = await startEtcd();
  if (etcd === "not installed") return "\n  SKIPPED: the cluster test with an etcd registry needs etcd: apt-get install -y etcd-server\n";
  return {
    kind: "etcd",
    url: etcd.url,
    source: async (cluster) => (await import("../src/cluster/etcd/index.ts")).etcdEndpoints({ urls: [etcd.url], cluster, log: () => {} }),
    stop: () => etcd.kill(),
    close: () => etcd.destroy(),
  };
}

interface Outcome {
  ok: boolean;
  at: number;
  error?: RpcError;
}

for (const start of [redisRegistry, etcdRegistry]) {
  test(`[CLUSTER-2] [CLUSTER-3] servers registered in ${start === redisRegistry ? "Redis" : "etcd"}: killed, restarted, drained, and the registry down`, async () => {
    const registry = await start();
    if (typeof registry === "string") return console.log(registry);
    const cluster = `c${process.pid}-${registry.kind}`;
    const flags = (id: string) => ["--registry", registry.kind, "--url", registry.url, "--cluster", cluster, "--ttl-ms", String(TTL_MS), "--deregistration-delay-ms", "600", "--id", id];
    const nodes: ClusterNode[] = [];
    const logs: { at: number; message: string }[] = [];
    const logged = (pattern: string) => logs.find((l) => l.message.includes(pattern));
    let client: ReturnType<typeof createClient<typeof TestService.method>> | undefined;
    // Set in the end, also on failure: load lanes must not outlive the test (they would spin on a closed client).
    let stop = false;
    try {
      nodes.push(...(await Promise.all(["a", "b", "c"].map((id) => startNode(id, "127.0.0.1:0", flags)))));
      await Promise.all(nodes.map((node) => node.printed("registered")));
      client = createClient(TestService, {
        endpoints: await registry.source(cluster),
        pingIntervalMs: 500,
        timeoutMs: 5000,
        backoff: { initialMs: 20, maxMs: 200 },
        cluster: { log: (message) => logs.push({ at: performance.now(), message }) },
      });
      const outcomes: Outcome[] = [];
      let n = 0;
      const lanes = Array.from({ length: 6 }, async () => {
        while (!stop) {
          const at = performance.now();
          try {
            await client!.echo({ text: `x${n++}`, delayMs: 2 });
            outcomes.push({ ok: true, at });
          } catch (error) {
            outcomes.push({ ok: false, at, error: RpcError.from(error) });
          }
        }
      });
      const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
      await waitUntil(() => nodes.every((node) => node.ran.length > 10), 10_000);

      // Killed: no deregistration; the record's lifetime ends it [CLUSTER-2].
      await killNode(a);
      const killedAt = performance.now();
      await waitUntil(() => logged("removed [a]") !== undefined, TTL_MS + 5000);
      const removedAfter = logged("removed [a]")!.at - killedAt;
      assert.ok(removedAfter < TTL_MS + 2000, `the killed server left the set ${Math.round(removedAfter)} ms after the kill`);
      const failedLate = outcomes.filter((o) => !o.ok && o.at > killedAt + 50);
      assert.equal(failedLate.map((o) => o.error!.message), [], "calls started after the kill all succeed");
      for (const o of outcomes.filter((x) => !x.ok)) assert.is(o.error!.code, TransportCode.CONNECTION_LOST, o.error!.message);

      // Restarted (on a new port, same id): it registers at once and takes traffic again.
      const back = await startNode("a", "127.0.0.1:0", flags, a.ran);
      nodes[0] = back;
      await back.printed("registered");
      const ranBefore = back.ran.length;
      await waitUntil(() => back.ran.length > ranBefore + 10, 10_000);

      // Drained: the record goes first, the client moves off, the GOAWAY comes 600 ms later.
      const failedBefore = outcomes.filter((o) => !o.ok).length;
      b.child.kill("SIGTERM");
      await b.printed("deregistered");
      const deregisteredAt = performance.now();
      await waitUntil(() => logged("removed [b]") !== undefined, 5000);
      assert.ok(logged("removed [b]")!.at - deregisteredAt < 500, "the client moved off before the GOAWAY");
      await b.printed("closed");
      assert.is(outcomes.filter((o) => !o.ok).length, failedBefore, "no call failed during the drain");

      // The registry goes down: the set stays, calls keep succeeding on the servers left [CLUSTER-3].
      await registry.stop();
      const downAt = performance.now();
      const ranOnC = c.ran.length;
      await waitUntil(() => c.ran.length > ranOnC + 50 && performance.now() > downAt + 1500, 10_000);
      assert.is(outcomes.filter((o) => !o.ok && o.at > downAt).length, 0, "calls fail while the registry is down");
      stop = true;
      await Promise.all(lanes);
    } finally {
      stop = true;
      await client?.$close();
      await Promise.all(nodes.map(stopNode));
      await registry.close();
    }
  });
}

suiteOf.run();
