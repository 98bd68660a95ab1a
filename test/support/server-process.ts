// A Strata server with the TestService in its own process, for tests that
// crash and restart a server. `server-process.ts <host:port>` listens on
// the address (port 0 picks one) and prints the bound address as its first
// stdout line. On SIGTERM it closes gracefully, prints "closed" and exits 0
// (a line, since Deno's child_process reports a signal as the cause of any
// exit that follows kill()).
import { createServer } from "../../src/node.ts";
import { TestService, testService } from "./test-service.ts";

const address = process.argv[2] ?? "127.0.0.1:0";
const server = createServer({ maxConcurrentRequests: 10_000 }).addService(TestService, testService().impl);

// Installed before the address is printed: a parent may send SIGTERM as soon as it reads it.
process.on("SIGTERM", () => {
  server.close({ graceMs: 2000 }).then(
    () => process.stdout.write("closed\n", () => process.exit(0)),
    (error: unknown) => {
      process.stderr.write(`close failed: ${String(error)}\n`, () => process.exit(1));
    },
  );
});

try {
  const bound = await server.listen(address);
  process.stdout.write(`${bound}\n`);
} catch (error) {
  process.stderr.write(`cannot listen on ${address}: ${(error as Error).stack ?? String(error)}\n`, () => process.exit(1));
}
