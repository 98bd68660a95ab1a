// The wallet example server: `npm run example:wallet:server` (address from
// STRATA_ADDRESS, default 127.0.0.1:7401). Prints every execution from its
// log; Ctrl-C or SIGTERM drains it gracefully.
import { formatExecution } from "./execution-log.ts";
import { createWalletServer } from "./wallet-server.ts";

const { server } = createWalletServer({
  delayMs: { min: 1, max: 5 },
  log: { maxEntries: 10_000, onEnd: (execution) => console.log(formatExecution(execution)) },
});
const address = await server.listen(process.env["STRATA_ADDRESS"] ?? "127.0.0.1:7401");
server.closeOnSignals({ graceMs: 5000 });
console.log(`wallet listening on ${address}`);
