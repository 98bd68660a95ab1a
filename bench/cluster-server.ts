// A server process of bench/cluster.ts: the reference server with
// BenchService (an echo of opaque bytes) on 127.0.0.1. It prints its address
// as one JSON line, then answers commands on stdin, one per line:
//   stats  print {"requests": N}, the requests it has received so far
//   exit   stop
// It also stops when stdin closes, so it never outlives the harness.
import { createInterface } from "node:readline";
import { createServer } from "../src/node.ts";
import { tcpTransport } from "../src/transport/tcp.ts";
import { BenchService } from "../test/gen/stratatest/v1/testing_pb.ts";

const server = createServer({ transport: tcpTransport, maxConnectionsPerClient: 0 }).addService(BenchService, {
  benchEcho: (request) => ({ payload: request.payload }),
});
const address = await server.listen("127.0.0.1:0");
process.stdout.write(`${JSON.stringify({ address })}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void server.close({ graceMs: 500 }).then(() => process.exit(0));
};
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line === "stats") process.stdout.write(`${JSON.stringify({ requests: server.stats().requests.total })}\n`);
  else if (line === "exit") stop();
});
lines.on("close", stop);
