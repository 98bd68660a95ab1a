// A process that registers one endpoint in etcd and then only stays alive,
// for a test that kills it to show its record ends with its lease.
// Arguments: <etcd url> <cluster> <endpoint id> <ttl seconds>.
import { endpoint } from "../../src/cluster/endpoint.ts";
import { etcdRegistrar } from "../../src/cluster/etcd/index.ts";

const [url, cluster, id, ttl] = process.argv.slice(2);
const registrar = etcdRegistrar({ urls: [url!], cluster: cluster!, ttlSeconds: Number(ttl) });
await registrar.register(endpoint({ id: id!, address: "127.0.0.1:1" }));
console.log("registered");
// The registrar's timers do not keep a process alive: this does, until the test kills it.
setInterval(() => {}, 1 << 30);
