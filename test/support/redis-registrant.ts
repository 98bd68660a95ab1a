// A server process stand-in for test/registry-redis.test.ts: registers one
// endpoint in Redis and prints "registered". With "crash" it then waits to
// be killed, never deregistering; with "exit" it also watches the set until
// it sees itself, deregisters, closes the source and prints "done": the
// process must then exit by itself, with no connection or timer left.
// Usage: redis-registrant.ts <redis url> <cluster> <endpoint id> <ttl ms> crash|exit
import { endpoint } from "../../src/cluster/endpoint.ts";
import { redisEndpoints, redisRegistrar } from "../../src/cluster/redis/index.ts";

const [url, cluster, id, ttl, mode] = process.argv.slice(2) as [string, string, string, string, string];
const registrar = redisRegistrar({ urls: [url], cluster, ttlMs: Number(ttl) });
await registrar.register(endpoint({ id, address: "127.0.0.1:1" }));
console.log("registered");
if (mode === "exit") {
  const source = redisEndpoints({ urls: [url], cluster });
  await new Promise<void>((resolve, reject) => {
    source.watch({
      endpoints: (set) => set.some((e) => e.id === id) && resolve(),
      unavailable: reject,
    });
  });
  await registrar.deregister();
  await source.close();
  console.log("done");
}
