// The wallet example server: `npm run example:wallet:server [-- ADDRESS]`
// (else STRATA_ADDRESS, default 127.0.0.1:7401). Prints every execution
// from its log unless given --quiet or STRATA_QUIET; Ctrl-C or SIGTERM
// drains it gracefully.
import { formatExecution } from "./execution-log.ts";
import { createWalletServer } from "./wallet-server.ts";

const { server } = createWalletServer({
  delayMs: { min: 1, max: 5 },
  log: { maxEntries: 10_000, ...(process.env["STRATA_QUIET"] || process.argv.includes("--quiet") ? {} : { onEnd: (execution) => console.log(formatExecution(execution)) }) },
});
const address = await server.listen(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? process.env["STRATA_ADDRESS"] ?? "127.0.0.1:7401");
server.closeOnSignals({ graceMs: 5000 });
console.log(`wallet listening on ${address}`);
