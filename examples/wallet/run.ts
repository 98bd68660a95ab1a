// `npm run example:wallet`: the wallet server and the demo client in one
// process, on a free port. Afterwards it checks the server's execution log:
// no two executions that shared a key overlapped in time [KEYS-3].
import { runDemo } from "./demo.ts";
import { createWalletServer } from "./wallet-server.ts";

const { server, log } = createWalletServer({ delayMs: { min: 1, max: 5 } });
const address = await server.listen("127.0.0.1:0");
try {
  const result = await runDemo(address);
  let overlaps = 0;
  const entries = log.entries;
  for (let i = 0; i < entries.length; i++) {
    for (let j = i + 1; j < entries.length; j++) {
      const [x, y] = [entries[i]!, entries[j]!];
      if (x.keys.some((k) => y.keys.includes(k)) && y.startSeq < x.endSeq!) overlaps++;
    }
  }
  const peers = new Set(entries.map((e) => e.peer)).size;
  console.log(`server log: ${entries.length} executions from ${peers} connections; executions sharing a key that overlapped: ${overlaps}`);
  if (!result.ok || overlaps > 0) process.exitCode = 1;
} finally {
  await server.close({ graceMs: 1000 });
}
