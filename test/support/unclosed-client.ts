// A program that makes calls and never closes its client, for the test that
// it still exits on its own. `unclosed-client.ts <host:port>`: an Echo that
// the server holds for 300 ms without a deadline (so only the pending call
// keeps the process alive meanwhile), then a quick one; prints the replies'
// texts, one a line, and does nothing else.
import { createClient } from "../../src/node.ts";
import { TestService } from "./test-service.ts";

const client = createClient(TestService, { address: process.argv[2]!, pingIntervalMs: 1000 });
const held = await client.echo({ text: "held", delayMs: 300 }, { timeoutMs: Infinity });
process.stdout.write(`${held.text}\n`);
const quick = await client.echo({ text: "quick" });
process.stdout.write(`${quick.text}\n`);
