// The wallet across several servers: a cluster client sends each user's
// calls to the server that owns the user's ledger on the hash ring. Users
// are named `{ledger}name`, so the key `uid={ledger}name` routes by its
// ledger tag and a transfer within a ledger has one owner; a transfer
// across ledgers has none and is refused before it is sent [CLUSTER-7]
// [CLUSTER-8]. Each server keeps its own balances, so the demo also checks
// that every user's balance lives on its owner only.
import { createClient, endpoint, HashRing, RpcError, TransportCode, type Client } from "../../src/node.ts";
import { userKey, WalletError, WalletService, type WalletMethods } from "./wallet.ts";

/** What the cluster demo found; `ok` is false if money was lost or created, or a balance lived on a server that does not own it. */
export interface ClusterDemoResult {
  ok: boolean;
  transfers: { done: number; insufficient: number; refused: number };
  /** The ledgers each server owns, by server address. */
  owners: Record<string, string[]>;
}

const LEDGERS = 12;
const USERS_PER_LEDGER = 3;
const DEPOSIT = 1000n;

/** Runs the demo against wallet servers at `addresses`, making `transfers` concurrent transfers, printing with `print`. */
export async function runClusterDemo(addresses: string[], transfers = 300, print: (line: string) => void = console.log): Promise<ClusterDemoResult> {
  const endpoints = addresses.map((address, i) => endpoint({ id: `wallet-${i}`, address }));
  const client = createClient(WalletService, { endpoints, timeoutMs: 10_000, cluster: { log: () => {} } });
  const direct = addresses.map((address) => createClient(WalletService, { address, timeoutMs: 10_000 }));
  const ledgers = Array.from({ length: LEDGERS }, (_, l) => Array.from({ length: USERS_PER_LEDGER }, (_, u) => `{ledger-${l}}user-${u}`));
  const users = ledgers.flat();
  const keysOf = (...who: string[]) => ({ keys: who.map(userKey) });
  try {
    const balanceOn = async (c: Client<WalletMethods>, user: string) => (await c.getBalance({ user }, keysOf(user))).balance;
    const before = (await Promise.all(users.map((u) => balanceOn(client, u)))).reduce((a, b) => a + b, 0n);
    await Promise.all(users.map((user) => client.deposit({ user, amount: DEPOSIT }, keysOf(user))));
    print(`wallet cluster demo on ${addresses.length} servers: ${users.length} users in ${LEDGERS} ledgers, ${DEPOSIT} deposited each`);

    const counts = { done: 0, insufficient: 0, refused: 0 };
    const one = async (i: number) => {
      // Every tenth transfer crosses ledgers: no one server owns both users, so the client refuses it.
      const across = i % 10 === 9;
      const ledger = ledgers[i % LEDGERS]!;
      const from = ledger[i % USERS_PER_LEDGER]!;
      const to = across ? ledgers[(i + 1) % LEDGERS]![0]! : ledger[(i + 1) % USERS_PER_LEDGER]!;
      const amount = BigInt(1 + ((i * 37) % 60));
      try {
        await client.transfer({ from, to, amount }, keysOf(from, to));
        counts.done++;
      } catch (error) {
        const e = RpcError.from(error);
        if (e.layer === "application" && e.code === WalletError.INSUFFICIENT_FUNDS) counts.insufficient++;
        else if (across && e.code === TransportCode.INVALID_INPUT && e.processed === "no") counts.refused++;
        else throw e;
      }
    };
    await Promise.all(Array.from({ length: transfers }, (_, i) => one(i)));
    print(`${transfers} concurrent transfers: ${counts.done} done, ${counts.insufficient} INSUFFICIENT_FUNDS, ${counts.refused} across ledgers refused before sending (INVALID_INPUT, not processed)`);

    const after = (await Promise.all(users.map((u) => balanceOn(client, u)))).reduce((a, b) => a + b, 0n);
    const expected = before + DEPOSIT * BigInt(users.length);
    const totalHolds = after === expected;
    print(`total ${after}, expected ${expected}: ${totalHolds ? "invariant holds" : "MONEY WAS LOST OR CREATED"}`);

    // Asked directly, a server that does not own a user has never seen it: balance 0.
    const ring = new HashRing(endpoints);
    const owners: Record<string, string[]> = {};
    let misplaced = 0;
    for (const user of users) {
      const ledger = user.slice(1, user.indexOf("}"));
      const owner = ring.owner(ledger)!;
      (owners[owner.address] ??= []).includes(ledger) || owners[owner.address]!.push(ledger);
      const held = await Promise.all(direct.map((c) => balanceOn(c, user)));
      held.forEach((balance, i) => {
        if (balance !== 0n && addresses[i] !== owner.address) misplaced++;
      });
    }
    for (const [address, owned] of Object.entries(owners)) print(`  ${address} owns ${owned.join(", ")}`);
    print(misplaced === 0 ? "every balance lives on its ledger's owner only" : `${misplaced} balances found on servers that do not own them`);
    return { ok: totalHolds && misplaced === 0 && counts.refused > 0, transfers: counts, owners };
  } finally {
    await Promise.all([client.$close(), ...direct.map((c) => c.$close())]);
  }
}
