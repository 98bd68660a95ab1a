// The cluster client and the registry entries as a user imports them from
// the installed package: two servers behind a list of endpoints, and the
// etcd and Redis entries loaded. `node cluster.js without-redis` checks
// instead that strata-rpc/redis, with the optional redis package removed,
// fails with a message saying what to install. Exits 1 with the reason on
// the first failure.
import { createClient, createServer, endpoint, HashRing } from "strata-rpc";
import { GreeterService } from "./gen/scratch/v1/work_pb.js";

if (process.argv[2] === "without-redis") {
  const failure = await import("strata-rpc/redis").then(() => undefined, (error) => error);
  if (failure === undefined || !String(failure.message).includes("npm install redis")) {
    console.error(`strata-rpc/redis without redis: expected a message naming npm install redis, got ${failure?.message}`);
    process.exit(1);
  }
  console.log(`strata-rpc/redis without the redis package fails with: ${failure.message.split(" (")[0]}`);
  process.exit(0);
}

const seen = [];
const servers = [];
for (const name of ["a", "b"]) {
  const server = createServer().addService(GreeterService, {
    sayHello(request) {
      seen.push(name);
      return { message: `${name}: ${request.name}` };
    },
  });
  servers.push({ server, endpoint: endpoint({ id: name, address: await server.listen("127.0.0.1:0") }) });
}
const endpoints = servers.map((s) => s.endpoint);
const client = createClient(GreeterService, { endpoints, cluster: { policy: "round-robin", log: () => {} } });
try {
  for (let i = 0; i < 10; i++) await client.sayHello({ name: `call ${i}` });
  if (seen.filter((n) => n === "a").length !== 5) throw new Error(`round robin over two servers: ${seen.join(",")}`);
  const owner = new HashRing(endpoints).owner("user-1").id;
  const reply = await client.sayHello({ name: "keyed" }, { keys: ["{user-1}:profile"] });
  if (!reply.message.startsWith(`${owner}:`)) throw new Error(`a keyed call went to ${reply.message}, not its owner ${owner}`);
  const { etcdEndpoints, etcdRegistrar } = await import("strata-rpc/etcd");
  const { redisEndpoints, redisRegistrar } = await import("strata-rpc/redis");
  for (const f of [etcdEndpoints, etcdRegistrar, redisEndpoints, redisRegistrar]) if (typeof f !== "function") throw new Error("a registry entry lacks its functions");
  console.log("cluster client: round robin over two servers, a keyed call on its owner, strata-rpc/etcd and strata-rpc/redis load");
} finally {
  await client.$close();
  await Promise.all(servers.map((s) => s.server.close({ graceMs: 0 })));
}
