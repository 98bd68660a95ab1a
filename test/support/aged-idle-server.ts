// A program whose only pending timer, once its work is done, is the age
// timer of an idle connection, for the test that it still exits on its own
// [DRAIN-18]. A server with a maximum connection age of an hour and no idle
// timeout, and a client, both in this process over an in-memory address (no
// socket to hold the process); after one call it prints "open N", N the
// server's open connections, and does nothing else.
import { createClient, createServer } from "../../src/node.ts";
import { TestService, testService } from "./test-service.ts";

const server = createServer({ maxConnectionAgeMs: 3_600_000, idleTimeoutMs: 0 }).addService(TestService, testService().impl);
const client = createClient(TestService, { address: await server.listen("memory:") });
await client.echo({ text: "open" });
process.stdout.write(`open ${server.stats().connections.current}\n`);
