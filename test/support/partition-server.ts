// A Strata server for the network partition test, run inside a network
// namespace: the TestService, with every Echo it starts written to stdout
// ("ran <text>") synchronously before the handler runs, so the parent knows
// which calls may have run there even while the network is cut (stdout is a
// local pipe). `partition-server.ts <host:port> <maxConcurrentRequests>`
// prints its bound address first. The parent ends it with SIGKILL.
import { writeSync } from "node:fs";
import { createServer } from "../../src/node.ts";
import { TestService, testService } from "./test-service.ts";

const [address = "0.0.0.0:0", maxConcurrent = "4"] = process.argv.slice(2);
const { impl } = testService();
const echo = impl.echo!;
impl.echo = (request, context) => {
  writeSync(1, `ran ${request.text}\n`);
  return echo(request, context);
};
// A small max_concurrent_requests makes the client queue calls on its connection [LIMIT-5]; a
// minimum ping interval below the client's keeps the client's interval as given [PING-8].
const server = createServer({ maxConcurrentRequests: Number(maxConcurrent), minPingIntervalMs: 100 }).addService(TestService, impl);

try {
  writeSync(1, `${await server.listen(address)}\n`);
} catch (error) {
  process.stderr.write(`partition server failed: ${(error as Error).stack ?? String(error)}\n`, () => process.exit(1));
}
