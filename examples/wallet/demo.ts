// The wallet demo that client.ts and run.ts run: deposits, a withdrawal that
// fails with an application error, then concurrent transfers in both
// directions on two connections, and the final balances, whose total must
// equal what was deposited.
import { createClient, RpcError, type Client } from "../../src/node.ts";
import { userKey, WalletError, walletErrorName, WalletService, type WalletMethods } from "./wallet.ts";

/** What the demo found; `ok` is false if the total changed. */
export interface DemoResult {
  ok: boolean;
  balances: Record<string, bigint>;
}

/** Runs the demo against a wallet server at `address`, printing with `print`. */
export async function runDemo(address: string, print: (line: string) => void = console.log): Promise<DemoResult> {
  // Two clients, so two connections: keyed dispatch orders calls across connections too [KEYS-9].
  const first = createClient(WalletService, { address, timeoutMs: 10_000 });
  const second = createClient(WalletService, { address, timeoutMs: 10_000 });
  const [a, b] = ["alice", "bob"] as const;
  try {
    const balance = async (client: Client<WalletMethods>, user: string) =>
      (await client.getBalance({ user }, { keys: [userKey(user)] })).balance;
    const before = (await balance(first, a)) + (await balance(first, b));
    print(`wallet demo against ${address}; alice and bob start with ${before} in total`);

    const deposited = 100n + 50n;
    const afterA = await first.deposit({ user: a, amount: 100n }, { keys: [userKey(a)] });
    const afterB = await second.deposit({ user: b, amount: 50n }, { keys: [userKey(b)] });
    print(`deposit 100 to alice -> ${afterA.balance}; deposit 50 to bob -> ${afterB.balance}`);

    try {
      await first.withdraw({ user: a, amount: 1_000_000n }, { keys: [userKey(a)] });
      print("withdraw 1000000 from alice: unexpectedly succeeded");
    } catch (error) {
      const e = RpcError.from(error);
      if (e.layer !== "application" || e.code !== WalletError.INSUFFICIENT_FUNDS) throw e;
      print(`withdraw 1000000 from alice: expected failure: layer=${e.layer} code=${e.code} (${walletErrorName(e.code)}) message=${JSON.stringify(e.rawMessage)} processed=${e.processed}`);
    }

    // 20 transfers alice -> bob on connection 1 and 20 bob -> alice on
    // connection 2, all sent at once. Each carries both keys; the server
    // runs them one at a time per user, and never deadlocks [KEYS-5].
    const transfers: Array<Promise<string>> = [];
    for (let i = 0; i < 20; i++) {
      const amount = BigInt(1 + (i % 5) * 4);
      const outcome = (p: Promise<unknown>) =>
        p.then(
          () => "done",
          (error: unknown) => {
            const e = RpcError.from(error);
            if (e.layer === "application" && e.code === WalletError.INSUFFICIENT_FUNDS) return "insufficient";
            throw e;
          },
        );
      transfers.push(outcome(first.transfer({ from: a, to: b, amount }, { keys: [userKey(a), userKey(b)] })));
      transfers.push(outcome(second.transfer({ from: b, to: a, amount }, { keys: [userKey(b), userKey(a)] })));
    }
    const outcomes = await Promise.all(transfers);
    const done = outcomes.filter((o) => o === "done").length;
    print(`40 concurrent transfers (20 alice -> bob on connection 1, 20 bob -> alice on connection 2): ${done} done, ${outcomes.length - done} INSUFFICIENT_FUNDS`);

    const balances = { [a]: await balance(first, a), [b]: await balance(second, b) };
    const total = balances[a]! + balances[b]!;
    const ok = total === before + deposited;
    print(`final: alice=${balances[a]} bob=${balances[b]} total=${total}, expected ${before + deposited}: ${ok ? "invariant holds" : "MONEY WAS LOST OR CREATED"}`);
    return { ok, balances };
  } finally {
    await Promise.all([first.$close(), second.$close()]);
  }
}
