// One server of a test cluster, in its own process: the TestService, with
// every Echo it starts written to stdout ("ran <text>") synchronously
// before the handler does anything, so that a parent killing the process
// still knows which calls may have run. `cluster-server.ts <host:port>
// [--id ID]` prints its bound address first. On SIGTERM it closes
// gracefully, prints "closed" and exits 0.
import { writeSync } from "node:fs";
import { createServer } from "../../src/node.ts";
import { TestService, testService } from "./test-service.ts";

const args = process.argv.slice(2);
const address = args[0] ?? "127.0.0.1:0";
const { impl } = testService();
const echo = impl.echo!;
impl.echo = (request, context) => {
  writeSync(1, `ran ${request.text}\n`);
  return echo(request, context);
};
const server = createServer({ maxConcurrentRequests: 10_000 }).addService(TestService, impl);

process.on("SIGTERM", () => {
  server.close({ graceMs: 2000 }).then(
    () => process.stdout.write("closed\n", () => process.exit(0)),
    (error: unknown) => process.stderr.write(`close failed: ${String(error)}\n`, () => process.exit(1)),
  );
});

try {
  const bound = await server.listen(address);
  writeSync(1, `${bound}\n`);
} catch (error) {
  process.stderr.write(`cluster server failed: ${(error as Error).stack ?? String(error)}\n`, () => process.exit(1));
}
