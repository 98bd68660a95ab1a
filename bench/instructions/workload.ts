// The fixed workload that bench/instructions/run.ts counts: N BenchEcho
// calls of 64 B at F in flight, the client and the reference server in this
// process over 127.0.0.1. Arguments: N F [TARGET [POLICY [TIMEOUT_MS]]].
//   TARGET  "address" (default): a client of one address;
//           "cluster-K": a cluster client (endpoints) over K servers in this
//           process, each on its own 127.0.0.1 port, so the router's own cost
//           per call counts against the same transport;
//   POLICY  the cluster's balancing policy: "p2c" (default) or "round-robin";
//   TIMEOUT_MS  the client's call timeout (default the client's, 3000): under
//           valgrind on a busy machine a call of a cluster client over three
//           servers at 1 in flight now and then stalls past 3 s.
import { createClient, createServer, type Server } from "../../src/node.ts";
import { BenchService } from "../../test/gen/stratatest/v1/testing_pb.ts";

const calls = Number(process.argv[2] ?? 20_000);
const inFlight = Number(process.argv[3] ?? 100);
const target = process.argv[4] ?? "address";
const policy = process.argv[5] ?? "p2c";
const timeoutMs = process.argv[6] === undefined ? undefined : Number(process.argv[6]);
const clusterSize = target === "address" ? 0 : Number(/^cluster-(\d+)$/.exec(target)?.[1] ?? NaN);
if (!(clusterSize >= 0) || (policy !== "p2c" && policy !== "round-robin")) throw new Error(`usage: workload.ts N F [address|cluster-K [p2c|round-robin [TIMEOUT_MS]]], got ${target} ${policy}`);

const servers: Server[] = Array.from({ length: Math.max(1, clusterSize) }, () =>
  createServer({ maxConnectionsPerClient: 0 }).addService(BenchService, { benchEcho: (request) => ({ payload: request.payload }) }),
);
const addresses = await Promise.all(servers.map((s) => s.listen("127.0.0.1:0")));
const timeout = timeoutMs === undefined ? {} : { timeoutMs };
const client =
  clusterSize === 0 ? createClient(BenchService, { address: addresses[0]!, ...timeout }) : createClient(BenchService, { endpoints: addresses, cluster: { policy }, ...timeout });
const payload = new Uint8Array(64);
// One call opens the connection; a cluster client makes enough at once to open one to every server.
if (clusterSize === 0) await client.benchEcho({ payload });
else await Promise.all(Array.from({ length: 4 * clusterSize }, () => client.benchEcho({ payload })));
let issued = 0;
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (issued++ < calls) await client.benchEcho({ payload });
  }),
);
await client.$close();
await Promise.all(servers.map((s) => s.close({ graceMs: 0 })));
