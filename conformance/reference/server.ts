// The reference conformance server: the reference server with
// ConformanceService, in test mode [CONF-1].
//
//   npm run conformance:server                 listens on 127.0.0.1:7401
//   tsx conformance/reference/server.ts HOST:PORT
//   tsx conformance/reference/server.ts --spawn
//
// With --spawn it follows the suite's startup handshake (conformance/README.md):
// one JSON line of settings on stdin, then one JSON line {"address": …} on
// stdout once it listens.
import type { ServerSettings } from "../runner/case.ts";
import { createReferenceServer } from "./server-options.ts";

/** Settings the suite may ask for in spawn mode, plus the address to listen on. */
type SpawnSettings = ServerSettings & { listen?: string };

async function readLine(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) {
    text += String(chunk);
    const end = text.indexOf("\n");
    if (end >= 0) return text.slice(0, end);
  }
  return text;
}

const spawn = process.argv.includes("--spawn");
let settings: SpawnSettings = {};
if (spawn) {
  try {
    settings = JSON.parse(await readLine()) as SpawnSettings;
  } catch (error) {
    console.error(`bad settings line: ${(error as Error).message}`);
    process.exit(2);
  }
}
const server = createReferenceServer(settings);
const positional = process.argv.slice(2).find((a) => !a.startsWith("--"));
const address = await server.listen(settings.listen ?? positional ?? "127.0.0.1:7401");
server.closeOnSignals({ graceMs: 1000 });
if (spawn) process.stdout.write(`${JSON.stringify({ address })}\n`);
else console.log(`conformance server listening on ${address}`);
