// The wallet example across three servers, each in its own process: a
// cluster client, concurrent transfers within ledgers, transfers across
// ledgers refused before sending, the total unchanged, and each balance on
// its ledger's owner only. Cites [CLUSTER-7] [CLUSTER-8] [KEYS-3].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { runClusterDemo } from "../examples/wallet/cluster-demo.ts";
import { exited, firstLine, spawnTs, type TsChild } from "./support/spawn-runtime.ts";

const test = suite("wallet cluster");

test("[CLUSTER-8] the wallet across 3 server processes: concurrent transfers, the total holds, balances live on their owners", async () => {
  const children: TsChild[] = [];
  try {
    const addresses: string[] = [];
    for (let i = 0; i < 3; i++) {
      const child = spawnTs("examples/wallet/server.ts", ["127.0.0.1:0", "--quiet"]);
      children.push(child);
      const line = await firstLine(child, 20_000);
      addresses.push(/wallet listening on (\S+)/.exec(line)![1]!);
    }
    const lines: string[] = [];
    const result = await runClusterDemo(addresses, 300, (line) => lines.push(line));
    assert.ok(result.ok, lines.join("\n"));
    assert.is(result.transfers.refused, 30);
    assert.is(result.transfers.done + result.transfers.insufficient, 270);
    assert.is(Object.keys(result.owners).length, 3, "every server owns some ledgers");
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await Promise.all(children.map((c) => exited(c, 10_000)));
  }
});

test.run();
