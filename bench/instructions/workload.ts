// The fixed workload that bench/instructions/run.ts counts: N BenchEcho
// calls of 64 B at F in flight, the client and the reference server in this
// process over 127.0.0.1. Arguments: N F.
import { createClient, createServer } from "../../src/node.ts";
import { BenchService } from "../../test/gen/stratatest/v1/testing_pb.ts";

const calls = Number(process.argv[2] ?? 20_000);
const inFlight = Number(process.argv[3] ?? 100);
const server = createServer({ maxConnectionsPerClient: 0 }).addService(BenchService, { benchEcho: (request) => ({ payload: request.payload }) });
const address = await server.listen("127.0.0.1:0");
const client = createClient(BenchService, { address });
const payload = new Uint8Array(64);
await client.benchEcho({ payload });
let issued = 0;
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (issued++ < calls) await client.benchEcho({ payload });
  }),
);
await client.$close();
await server.close({ graceMs: 0 });
