// The page test/sticky-proxy.test.ts loads in headless Chromium: it
// connects through the proxy named in its URL five times, a new client and
// connection each time, asks which server answered, and leaves the answers
// in window.results. The browser keeps the proxy's cookie between them.
import { createClient } from "../../src/browser.ts";
import { TestService } from "../gen/stratatest/v1/testing_pb.ts";

const results: { servers: string[]; failure?: string } = { servers: [] };
(window as unknown as { results: typeof results }).results = results;

async function run(): Promise<void> {
  const address = new URLSearchParams(location.search).get("server")!;
  for (let i = 0; i < 5; i++) {
    const client = createClient(TestService, { address });
    results.servers.push((await client.echo({ text: "who" })).text);
    await client.$close();
  }
}

(window as unknown as { done: Promise<void> }).done = run().catch((error) => {
  results.failure = String((error as Error).stack ?? error);
});
