// The cluster client against real servers on 127.0.0.1: how calls spread,
// where keyed calls go, what is refused, retried and ejected (spec 21.3,
// 21.5). Cites [CLUSTER-4] [CLUSTER-5] [CLUSTER-6] [CLUSTER-7] [CLUSTER-8].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema, EchoResponseSchema } from "./gen/stratatest/v1/testing_pb.ts";
import { createClient, createServer, DispatchCode, endpoint, FrameType, GoawayCode, HashRing, TransportCode, type Endpoint, type EndpointListener, type EndpointSource, type Server } from "../src/node.ts";
import { keyRoutingKey } from "../src/cluster/routing-key.ts";
import { startScriptedServer } from "./support/scripted-server.ts";
import { TestService, testService, type TestLog } from "./support/test-service.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { startTcpProxy } from "./support/tcp-proxy.ts";
import { waitUntil } from "./support/wait.ts";

const test = suite("cluster router");
const quiet = { log: () => {} };

interface Running {
  server: Server;
  log: TestLog;
  address: string;
  id: string;
}

async function startServers(n: number, prefix = "s"): Promise<Running[]> {
  return Promise.all(Array.from({ length: n }, async (_, i) => {
    const { impl, log } = testService();
    const server = createServer().addService(TestService, impl);
    const address = await server.listen("127.0.0.1:0");
    return { server, log, address, id: `${prefix}${i}` };
  }));
}

const stopAll = (servers: Running[]) => Promise.all(servers.map((s) => s.server.close({ graceMs: 0 })));

/** A source the test changes by hand, as a registry would. */
class ManualSource implements EndpointSource {
  readonly description = "the test's list";
  private listener: EndpointListener | undefined;
  private pending: Endpoint[] | undefined;
  constructor(initial?: Endpoint[]) {
    this.pending = initial;
  }
  watch(listener: EndpointListener): void {
    this.listener = listener;
    if (this.pending !== undefined) listener.endpoints(this.pending);
  }
  set(endpoints: Endpoint[]): void {
    this.listener!.endpoints(endpoints);
  }
  fail(error: Error): void {
    this.listener!.unavailable(error);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Runs `count` calls, `concurrency` at a time. */
async function inParallel(count: number, concurrency: number, call: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await call(next++);
  }));
}

test("[CLUSTER-4] power of two choices spreads calls over every endpoint within a bounded imbalance", async () => {
  const servers = await startServers(4);
  const client = createClient(TestService, { endpoints: servers.map((s) => ({ id: s.id, address: s.address })), cluster: quiet });
  await inParallel(800, 16, (i) => client.echo({ text: `c${i}`, delayMs: i % 3 }));
  const counts = servers.map((s) => s.log.echoed.length);
  assert.is(counts.reduce((a, b) => a + b), 800);
  for (const c of counts) assert.ok(c > 800 / 4 / 2 && c < 800 / 4 * 2, `calls per server: ${counts.join(", ")}`);
  await client.$close();
  await stopAll(servers);
});

test("[CLUSTER-4] round robin takes the endpoints in turn", async () => {
  const servers = await startServers(3);
  const client = createClient(TestService, { endpoints: servers.map((s) => s.address), cluster: { ...quiet, policy: "round-robin" } });
  for (let i = 0; i < 30; i++) await client.echo({ text: `r${i}` });
  assert.equal(servers.map((s) => s.log.echoed.length), [10, 10, 10]);
  await client.$close();
  await stopAll(servers);
});

test("[CLUSTER-8] every keyed call goes to its routing key's owner on the ring, whatever the policy", async () => {
  const servers = await startServers(4);
  const endpoints = servers.map((s) => endpoint({ id: s.id, address: s.address }));
  const ring = new HashRing(endpoints);
  const client = createClient(TestService, { endpoints, cluster: quiet });
  const keys = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? `{ledger-${i % 7}}:acct-${i}` : `user-${i}`));
  await inParallel(keys.length * 3, 12, (i) => client.record({ tag: keys[i % keys.length]! }, { keys: [keys[i % keys.length]!] }));
  for (const s of servers) {
    for (const tag of s.log.recorded) assert.is(ring.owner(keyRoutingKey(tag))!.id, s.id, `${tag} ran on ${s.id}`);
  }
  assert.ok(servers.every((s) => s.log.recorded.length > 0), "every server owns some keys");
  // A call without keys that names a routing key sticks to its owner too.
  for (let i = 0; i < 5; i++) await client.echo({ text: "sticky" }, { routingKey: "session-7" });
  const sticky = servers.filter((s) => s.log.echoed.includes("sticky"));
  assert.equal(sticky.map((s) => s.id), [ring.owner("session-7")!.id]);
  await client.$close();
  await stopAll(servers);
});

test("[CLUSTER-7] a call whose keys route apart is refused before anything is sent: INVALID_INPUT, not processed", async () => {
  const servers = await startServers(2);
  const client = createClient(TestService, { endpoints: servers.map((s) => s.address), cluster: quiet });
  const error = await rpcFailure(client.record({ tag: "split" }, { keys: ["uid=a", "uid=b"] }));
  assert.is(error.code, TransportCode.INVALID_INPUT);
  assert.is(error.processed, "no");
  assert.match(error.message, "CLUSTER-7");
  const disagree = await rpcFailure(client.record({ tag: "disagree" }, { keys: ["{l}a"], routingKey: "other" }));
  assert.is(disagree.code, TransportCode.INVALID_INPUT);
  // The same transfer with a shared tag goes through, on one server.
  await client.record({ tag: "together" }, { keys: ["{l}a", "{l}b"] });
  assert.equal(servers.flatMap((s) => s.log.recorded), ["together"]);
  // A client bound to one address does not refuse: one server owns every key.
  const single = createClient(TestService, { address: servers[0]!.address });
  await single.record({ tag: "single" }, { keys: ["uid=a", "uid=b"] });
  await single.$close();
  await client.$close();
  await stopAll(servers);
});

test("[CLUSTER-4] an endpoint that refuses connections is passed over: fail-fast calls succeed on the others", async () => {
  const servers = await startServers(2);
  const dead = await startServers(1, "dead");
  const deadAddress = dead[0]!.address;
  await stopAll(dead);
  const client = createClient(TestService, { endpoints: [deadAddress, ...servers.map((s) => s.address)], cluster: quiet });
  await inParallel(60, 6, (i) => client.echo({ text: `f${i}` }));
  assert.is(servers[0]!.log.echoed.length + servers[1]!.log.echoed.length, 60);
  await client.$close();
  await stopAll(servers);
});

/** A scripted server answering every request with `code` (not processed), counting them. */
async function refusingServer(code: DispatchCode) {
  return startScriptedServer((connection, frame) => {
    if (frame.header.type !== FrameType.REQUEST) return;
    connection.send({ type: FrameType.RESPONSE, requestId: frame.header.requestId, dispatchCode: code, dispatchMessage: "busy" });
  });
}

function echoServer() {
  return startScriptedServer((connection, frame) => {
    if (frame.header.type !== FrameType.REQUEST) return;
    const text = fromBinary(EchoRequestSchema, frame.body).text;
    connection.send({ type: FrameType.RESPONSE, requestId: frame.header.requestId }, toBinary(EchoResponseSchema, create(EchoResponseSchema, { text })));
  });
}

test("[CLUSTER-4] a not-processed failure is retried on another endpoint, never the one it failed on", async () => {
  const busy = await Promise.all([refusingServer(DispatchCode.OVERLOADED), refusingServer(DispatchCode.SHUTTING_DOWN)]);
  const good = await echoServer();
  const client = createClient(TestService, { endpoints: [...busy, good].map((s) => s.address), cluster: { ...quiet, maxAttempts: 3 } });
  for (let i = 0; i < 40; i++) assert.is((await client.echo({ text: `x${i}` })).text, `x${i}`);
  assert.is(good.requests.length, 40);
  // Each busy server saw a call at most once per call: a retry never went back to it.
  assert.ok(busy[0]!.requests.length <= 40 && busy[1]!.requests.length <= 40);
  assert.ok(busy[0]!.requests.length + busy[1]!.requests.length > 0, "some first attempts went to the busy servers");
  // With every endpoint refusing, a call makes maxAttempts attempts on distinct endpoints, then fails with the last answer.
  const allBusy = createClient(TestService, { endpoints: busy.map((s) => s.address), cluster: { ...quiet, maxAttempts: 5 } });
  const before = busy[0]!.requests.length + busy[1]!.requests.length;
  const error = await rpcFailure(allBusy.echo({ text: "nowhere" }));
  assert.is(error.layer, "dispatch");
  assert.is(error.processed, "no");
  // Two endpoints: the third attempt onwards may reuse them only because every one has failed the call.
  assert.is(busy[0]!.requests.length + busy[1]!.requests.length - before, 5);
  await Promise.all([client.$close(), allBusy.$close()]);
  await Promise.all([...busy, good].map((s) => s.close()));
});

test("[CLUSTER-5] the retry budget bounds retries under a full outage to its share of the calls", async () => {
  const busy = await Promise.all([refusingServer(DispatchCode.OVERLOADED), refusingServer(DispatchCode.OVERLOADED), refusingServer(DispatchCode.OVERLOADED)]);
  const client = createClient(TestService, { endpoints: busy.map((s) => s.address), cluster: { ...quiet, maxAttempts: 3, retryBudget: { ratio: 0.1, floorPerSecond: 0.5 } } });
  const calls = 300;
  for (let i = 0; i < calls; i++) await rpcFailure(client.echo({ text: `o${i}` }));
  const attempts = busy.reduce((sum, s) => sum + s.requests.length, 0);
  // 10% of 300 calls plus a floor of 0.5/s over the 10 s window: at most 35 retries, where 3 attempts each would be 600.
  assert.ok(attempts - calls <= 35, `${attempts - calls} retries for ${calls} calls`);
  assert.ok(attempts - calls >= 20, `the budget allowed only ${attempts - calls} retries`);
  await client.$close();
  await Promise.all(busy.map((s) => s.close()));
});

test("[CLUSTER-4] a call that may have run is retried only when the method is idempotent", async () => {
  const servers = await startServers(1);
  // The first endpoint accepts the call and then loses the connection; the second answers.
  const proxy = await startTcpProxy(servers[0]!.address);
  const good = await echoServer();
  let cut = 0;
  const lossy = await startScriptedServer((connection, frame) => {
    if (frame.header.type !== FrameType.REQUEST) return;
    cut++;
    connection.destroy();
  });
  const endpoints = [lossy.address, good.address];
  const plain = createClient(TestService, { endpoints, cluster: { ...quiet, policy: "round-robin" } });
  // Round robin starts anywhere: make calls until one has reached the lossy endpoint.
  let lost;
  for (let i = 0; i < 4 && lost === undefined; i++) {
    const outcome = await plain.$result.echo({ text: `p${i}` });
    if (!outcome.ok) lost = outcome.error;
  }
  assert.ok(lost !== undefined, "a call reached the lossy endpoint");
  assert.is(lost.code, TransportCode.CONNECTION_LOST);
  assert.is(lost.processed, "maybe");
  const idempotent = createClient(TestService, { endpoints, cluster: { ...quiet, policy: "round-robin" } });
  const cutBefore = cut;
  for (let i = 0; i < 4; i++) assert.is((await idempotent.echo({ text: `i${i}` }, { idempotent: true })).text, `i${i}`);
  assert.ok(cut > cutBefore, "some idempotent calls went to the lossy endpoint first and were retried");
  await Promise.all([plain.$close(), idempotent.$close()]);
  await Promise.all([lossy.close(), good.close(), proxy.close(), stopAll(servers)]);
});

test("[CLUSTER-4] a retry never returns to an endpoint the call failed on, even once that connection is gone and the next endpoint refuses", async () => {
  // a drains: GOAWAY saying the request was not taken (UNAVAILABLE, not processed [DRAIN-16]), then closes; it is not failing, only leaving.
  let cuts = 0;
  const lossy = await startScriptedServer((connection, frame) => {
    if (frame.header.type !== FrameType.REQUEST) return;
    cuts++;
    connection.goaway({ lastRequestId: 0, code: GoawayCode.NO_ERROR, message: "draining" });
    connection.destroy();
  });
  const dead = await startServers(1, "dead");
  const refusing = dead[0]!.address;
  await stopAll(dead);
  const good = await echoServer();
  const endpoints = [endpoint({ id: "a", address: lossy.address }), endpoint({ id: "b", address: refusing }), endpoint({ id: "c", address: good.address })];
  const ring = new HashRing(endpoints);
  // A routing key whose ring order is a, b, c: the retry after a's lost connection meets b first, which refuses.
  let routingKey = "";
  for (let i = 0; routingKey === ""; i++) {
    if ([...ring.successors(`r${i}`)].map((e) => e.id).join() === "a,b,c") routingKey = `r${i}`;
  }
  const client = createClient(TestService, { endpoints, cluster: { ...quiet, maxAttempts: 3 } });
  assert.is((await client.echo({ text: "through" }, { routingKey })).text, "through");
  assert.is(cuts, 1);
  assert.is(good.requests.length, 1);
  await client.$close();
  await Promise.all([lossy.close(), good.close()]);
});

test("[CLUSTER-6] with every endpoint ejected, calls still try them and succeed once a server is back", async () => {
  const servers = await startServers(2);
  const addresses = servers.map((s) => s.address);
  await stopAll(servers);
  const logs: string[] = [];
  const client = createClient(TestService, {
    endpoints: addresses,
    backoff: { initialMs: 1, maxMs: 1 },
    cluster: { log: (m) => logs.push(m), ejection: { failures: 1, baseMs: 60_000, maxMs: 60_000, maxShare: 1 } },
  });
  const error = await rpcFailure(client.echo({ text: "down" }));
  assert.is(error.code, TransportCode.CONNECT_FAILED);
  assert.is(error.processed, "no");
  await waitUntil(() => logs.filter((m) => m.includes("ejected")).length === 2);
  // Both ejected for a minute; one server comes back on its port.
  const { impl, log } = testService();
  const back = createServer().addService(TestService, impl);
  await back.listen(addresses[1]!);
  // Ejected for a minute, yet a call that may wait (2 s) reaches the server that came back.
  assert.is((await client.echo({ text: "up again" }, { waitForReady: true, timeoutMs: 2000 })).text, "up again");
  assert.equal(log.echoed, ["up again"]);
  await client.$close();
  await back.close({ graceMs: 0 });
});

test("[CLUSTER-6] ejection never takes more than its share of the endpoints out", async () => {
  const alive = await startServers(1);
  const dead = await startServers(3, "dead");
  const deadAddresses = dead.map((s) => s.address);
  await stopAll(dead);
  const logs: string[] = [];
  const client = createClient(TestService, {
    endpoints: [...deadAddresses, alive[0]!.address],
    backoff: { initialMs: 1, maxMs: 1 },
    cluster: { log: (m) => logs.push(m), ejection: { failures: 1, baseMs: 60_000, maxMs: 60_000, maxShare: 0.5 } },
  });
  for (let i = 0; i < 40; i++) await client.echo({ text: `e${i}` });
  assert.is(logs.filter((m) => m.includes("ejected")).length, 2, logs.join("\n"));
  await client.$close();
  await stopAll(alive);
});

test("groups: a call names its group, or the client is bound to one", async () => {
  const servers = await startServers(4);
  const endpoints = servers.map((s, i) => ({ id: s.id, address: s.address, groups: i < 2 ? ["blue"] : ["green"] }));
  const client = createClient(TestService, { endpoints, cluster: quiet });
  for (let i = 0; i < 20; i++) await client.echo({ text: "g" }, { group: "green" });
  assert.equal(servers.map((s) => s.log.echoed.length > 0), [false, false, true, true]);
  const bound = createClient(TestService, { endpoints, cluster: { ...quiet, group: "blue" } });
  for (let i = 0; i < 20; i++) await bound.echo({ text: "b" });
  assert.ok(servers[0]!.log.echoed.includes("b") && servers[1]!.log.echoed.includes("b"));
  assert.ok(!servers[2]!.log.echoed.includes("b") && !servers[3]!.log.echoed.includes("b"));
  const none = await rpcFailure(client.echo({ text: "x" }, { group: "red" }));
  assert.is(none.code, TransportCode.UNAVAILABLE);
  assert.match(none.message, "red");
  await Promise.all([client.$close(), bound.$close()]);
  await stopAll(servers);
});

test("subsetting: a client uses at most subsetSize endpoints for calls without a routing key", async () => {
  const servers = await startServers(5);
  const client = createClient(TestService, { endpoints: servers.map((s) => s.address), cluster: { ...quiet, subsetSize: 2, clientId: "client-a" } });
  await inParallel(100, 8, (i) => client.echo({ text: `s${i}` }));
  assert.is(servers.filter((s) => s.log.echoed.length > 0).length, 2);
  await client.$close();
  await stopAll(servers);
});

test("[CLUSTER-3] membership changes: calls in flight on a removed endpoint finish; new calls go to the rest", async () => {
  const servers = await startServers(3);
  const endpoints = servers.map((s) => endpoint({ id: s.id, address: s.address }));
  const source = new ManualSource(endpoints);
  const client = createClient(TestService, { endpoints: source, cluster: quiet });
  // Calls on every server, each holding for a while.
  const slow = Array.from({ length: 30 }, (_, i) => client.echo({ text: `slow${i}`, delayMs: 150 }));
  await waitUntil(() => servers.every((s) => s.log.echoed.length > 0));
  source.set(endpoints.slice(1));
  const removedBefore = servers[0]!.log.echoed.length;
  const answers = await Promise.all(slow);
  assert.is(answers.length, 30);
  for (let i = 0; i < 30; i++) await client.echo({ text: `after${i}` });
  assert.is(servers[0]!.log.echoed.length, removedBefore, "no new call reached the removed endpoint");
  // The registry becomes unreadable: the set stays.
  source.fail(new Error("registry down"));
  assert.is((await client.echo({ text: "still" })).text, "still");
  // A registry that lost its data reads as empty: the last set stays too.
  source.set([]);
  assert.is((await client.echo({ text: "after an empty read" })).text, "after an empty read");
  await client.$close();
  await stopAll(servers);
});

test("[CLUSTER-3] calls made before the first set wait for it; a source that cannot be read fails them, not processed", async () => {
  const servers = await startServers(1);
  const source = new ManualSource();
  const client = createClient(TestService, { endpoints: source, cluster: quiet });
  const early = client.echo({ text: "early" });
  source.set([endpoint({ address: servers[0]!.address })]);
  assert.is((await early).text, "early");
  const unread = new ManualSource();
  const stranded = createClient(TestService, { endpoints: unread, cluster: quiet });
  const waiting = stranded.echo({ text: "x" });
  unread.fail(new Error("connection refused"));
  const error = await rpcFailure(waiting);
  assert.is(error.code, TransportCode.UNAVAILABLE);
  assert.is(error.processed, "no");
  assert.match(error.message, "connection refused");
  await Promise.all([client.$close(), stranded.$close()]);
  await stopAll(servers);
});

test.run();
