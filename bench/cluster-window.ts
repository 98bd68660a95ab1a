// `npm run bench:cluster-window`: how long two servers may run requests of
// the same key at once while the server set changes (spec 21.5). Three
// servers register in a real registry (etcd, then Redis); two cluster
// clients, each with its own watch, send keyed calls over 20 hot keys; then a
// fourth server joins (keys move to it) and, later, one drains (its keys
// move away). Every server logs each call's wall-clock start and end, so
// the overlaps are read off what actually ran. A measurement, not a test:
// it asserts nothing. Needs etcd and redis-server (apt-get install -y
// etcd-server redis-server); a registry that is missing is skipped.
import { createClient, type EndpointSource } from "../src/node.ts";
import { TestService } from "../test/support/test-service.ts";
import { startNode, stopNode, type ClusterNode } from "../test/support/test-cluster.ts";
import { redisServerMissing, startRedisServer } from "../test/support/redis-server.ts";
import { startEtcd } from "../test/support/etcd-server.ts";
import { sleep } from "../src/util/timer.ts";
import { waitUntil } from "../test/support/wait.ts";

const KEYS = 20;
const HOLD_MS = 10;
const LANES = 32;
const wallClock = () => performance.timeOrigin + performance.now();

interface Registry {
  kind: string;
  url: string;
  source(cluster: string): Promise<EndpointSource>;
  close(): Promise<void>;
}

async function registries(): Promise<Registry[]> {
  const found: Registry[] = [];
  const etcd = await startEtcd();
  if (etcd === "not installed") console.log("etcd not installed (apt-get install -y etcd-server): skipped");
  else {
    found.push({ kind: "etcd", url: etcd.url, source: async (cluster) => (await import("../src/cluster/etcd/index.ts")).etcdEndpoints({ urls: [etcd.url], cluster, log: () => {} }), close: () => etcd.destroy() });
  }
  if (redisServerMissing("") !== undefined) console.log("redis-server not installed (apt-get install -y redis-server): skipped");
  else {
    const redis = await startRedisServer();
    found.push({ kind: "redis", url: redis.url, source: async (cluster) => (await import("../src/cluster/redis/index.ts")).redisEndpoints({ urls: [redis.url], cluster, log: () => {} }), close: () => redis.close() });
  }
  return found;
}

/** Pairs of executions of one key on two servers that overlapped in time, with how long they overlapped. */
function overlaps(nodes: ClusterNode[], from: number, to: number): { keys: Set<string>; pairs: number; longestMs: number; firstStart: number; lastEnd: number } {
  const byKey = new Map<string, { node: string; start: number; end: number }[]>();
  for (const node of nodes) {
    for (const d of node.done) {
      if (d.end < from || d.start > to) continue;
      const key = d.text.split("/")[0]!;
      let list = byKey.get(key);
      if (list === undefined) byKey.set(key, (list = []));
      list.push({ node: node.id, start: d.start, end: d.end });
    }
  }
  const keys = new Set<string>();
  let pairs = 0;
  let longestMs = 0;
  let firstStart = Infinity;
  let lastEnd = -Infinity;
  for (const [key, runs] of byKey) {
    runs.sort((a, b) => a.start - b.start);
    for (let i = 0; i < runs.length; i++) {
      for (let j = i + 1; j < runs.length && runs[j]!.start < runs[i]!.end; j++) {
        if (runs[j]!.node === runs[i]!.node) continue;
        keys.add(key);
        pairs++;
        longestMs = Math.max(longestMs, Math.min(runs[i]!.end, runs[j]!.end) - runs[j]!.start);
        firstStart = Math.min(firstStart, runs[j]!.start);
        lastEnd = Math.max(lastEnd, Math.min(runs[i]!.end, runs[j]!.end));
      }
    }
  }
  return { keys, pairs, longestMs, firstStart, lastEnd };
}

async function measure(registry: Registry): Promise<void> {
  const cluster = `window-${process.pid}-${registry.kind}`;
  const flags = (id: string) => ["--times", "--registry", registry.kind, "--url", registry.url, "--cluster", cluster, "--ttl-ms", "10000", "--deregistration-delay-ms", "500", "--id", id];
  const nodes = await Promise.all(["a", "b", "c"].map((id) => startNode(id, "127.0.0.1:0", flags)));
  await Promise.all(nodes.map((n) => n.printed("registered")));
  const changes: { client: number; at: number; message: string }[] = [];
  const clients = await Promise.all([0, 1].map(async (i) => createClient(TestService, {
    endpoints: await registry.source(cluster),
    timeoutMs: 10_000,
    cluster: { log: (message) => changes.push({ client: i, at: wallClock(), message }) },
  })));
  let stop = false;
  let n = 0;
  const lanes = clients.flatMap((client) => Array.from({ length: LANES / 2 }, async () => {
    while (!stop) {
      const key = `k${Math.floor(Math.random() * KEYS)}`;
      await client.echo({ text: `${key}/${n++}`, delayMs: HOLD_MS }, { keys: [key] }).catch(() => undefined);
    }
  }));
  try {
    await sleep(1000);
    const joinStart = wallClock();
    const d = await startNode("d", "127.0.0.1:0", flags);
    nodes.push(d);
    await d.printed("registered");
    await waitUntil(() => d.at.has("registered"));
    const registered = d.at.get("registered")!;
    await sleep(1500);
    const b = nodes[1]!;
    const drainStart = wallClock();
    b.child.kill("SIGTERM");
    await b.printed("deregistered");
    await b.printed("closed");
    await waitUntil(() => b.at.has("deregistered"));
    const deregistered = b.at.get("deregistered")!;
    await sleep(500);
    stop = true;
    await Promise.all(lanes);
    const seen = (id: string, what: "added" | "removed") => changes.filter((c) => c.message.includes(`${what} [${id}]`)).map((c) => c.at);
    const joinSeen = seen("d", "added");
    const leaveSeen = seen("b", "removed");
    const join = overlaps(nodes, joinStart, drainStart);
    const leave = overlaps(nodes, drainStart, wallClock());
    const calls = nodes.reduce((sum, node) => sum + node.done.length, 0);
    const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "-");
    console.log(`\n${registry.kind}: ${calls} keyed calls (${KEYS} keys, ${HOLD_MS} ms each, ${LANES} in flight from 2 clients)`);
    console.log(`calls per server: ${nodes.map((node) => `${node.id} ${node.done.length}`).join(", ")}; d's first call ${ms(Math.min(...d.done.map((x) => x.start)) - registered)} ms after it registered`);
    console.log(`| Change | clients saw it after (ms) | skew between clients (ms) | keys run on two servers at once | overlapping pairs | longest overlap (ms) | window: first to last overlap (ms) |`);
    console.log(`|---|---|---|---|---|---|---|`);
    console.log(`| server joins | ${joinSeen.map((t) => ms(t - registered)).join(", ")} | ${ms(Math.max(...joinSeen) - Math.min(...joinSeen))} | ${join.keys.size} | ${join.pairs} | ${ms(join.longestMs)} | ${ms(join.lastEnd - join.firstStart)} |`);
    console.log(`| server drains | ${leaveSeen.map((t) => ms(t - deregistered)).join(", ")} | ${ms(Math.max(...leaveSeen) - Math.min(...leaveSeen))} | ${leave.keys.size} | ${leave.pairs} | ${ms(leave.longestMs)} | ${ms(leave.lastEnd - leave.firstStart)} |`);
  } finally {
    stop = true;
    await Promise.all(clients.map((c) => c.$close()));
    await Promise.all(nodes.map(stopNode));
  }
}

for (const registry of await registries()) {
  try {
    await measure(registry);
  } finally {
    await registry.close();
  }
}
