// The wallet service of examples/wallet: balances in an asynchronous store,
// updated by handlers that take no locks. Each handler reads, awaits the
// store, and writes, so two calls on one user running at once would lose an
// update or over-draw. They never run at once because every call carries the
// keys `uid=<user>` of the users it touches, and the server's keyed dispatch
// runs calls that share a key one at a time, across all connections, in the
// order it read them, without deadlock [KEYS-3] [KEYS-4] [KEYS-5] [KEYS-9].
import { RpcError, type HandlerContext, type ServiceImpl } from "../../src/node.ts";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { WalletError, WalletErrorSchema, WalletService } from "../gen/acme/wallet/v1/wallet_pb.ts";
import type { ExecutionLog, WalletOp } from "./execution-log.ts";
import type { BalanceStore } from "./store.ts";

export { WalletError, WalletService };

/** The method map of WalletService, as createClient and addService see it. */
export type WalletMethods = typeof WalletService extends GenService<infer M> ? M : never;

/** The largest balance a uint64 holds. */
export const MAX_BALANCE = 2n ** 64n - 1n;

/** The ordering key of a user's balance; every call sends one per user it touches. */
export function userKey(user: string): string {
  return `uid=${user}`;
}

/** The name of a WalletError code, e.g. "INSUFFICIENT_FUNDS", or the number for an unknown one. */
export function walletErrorName(code: number | string): string {
  const value = WalletErrorSchema.values.find((v) => v.number === code);
  return value === undefined ? String(code) : value.name.replace(/^WALLET_ERROR_/, "");
}

/** Options of createWalletService. */
export interface WalletServiceOptions {
  /**
   * Refuse calls that lack the key `uid=<user>` of a user they touch, with
   * WalletError.KEYS_REQUIRED: the handlers are correct only under keyed
   * dispatch. Default true; false only to show what goes wrong without keys.
   */
  requireKeys?: boolean;
}

const utf8 = new TextEncoder();

function fail(code: WalletError, message: string): never {
  throw RpcError.application(code, message);
}

function checkUser(user: string): void {
  const bytes = utf8.encode(user).length;
  if (bytes === 0 || bytes > 64) fail(WalletError.INVALID_USER, `a user id is 1 to 64 bytes, got ${bytes}`);
}

function checkAmount(amount: bigint): void {
  if (amount === 0n) fail(WalletError.INVALID_AMOUNT, "the amount must be at least 1");
}

/**
 * The WalletService handlers over `store`, logging every execution to `log`.
 * Validation comes first, then read, await, write: no locks, no retries, no
 * transactions; correctness comes from keyed dispatch alone.
 */
export function createWalletService(store: BalanceStore, log: ExecutionLog, options: WalletServiceOptions = {}): ServiceImpl<WalletMethods> {
  const requireKeys = options.requireKeys ?? true;

  function checkKeys(context: HandlerContext, users: string[]): void {
    if (!requireKeys) return;
    const missing = users.map(userKey).filter((key) => !context.keys.includes(key));
    if (missing.length > 0) fail(WalletError.KEYS_REQUIRED, `the call must carry the key${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
  }

  /** Runs `body` as one logged execution; returns what it returns. */
  async function logged<T>(op: WalletOp, context: HandlerContext, body: () => Promise<[T, Record<string, bigint>]>): Promise<T> {
    const execution = log.begin(op, context);
    try {
      const [response, balances] = await body();
      log.end(execution, { ok: true, balances });
      return response;
    } catch (error) {
      const e = RpcError.from(error);
      log.end(execution, { ok: false, code: typeof e.code === "number" ? e.code : 0, message: e.rawMessage });
      throw error;
    }
  }

  return {
    getBalance(request, context) {
      const { user } = request;
      return logged({ method: "GetBalance", user }, context, async () => {
        checkUser(user);
        checkKeys(context, [user]);
        const balance = await store.get(user);
        return [{ balance }, { [user]: balance }];
      });
    },

    deposit(request, context) {
      const { user, amount } = request;
      return logged({ method: "Deposit", user, amount }, context, async () => {
        checkUser(user);
        checkAmount(amount);
        checkKeys(context, [user]);
        const balance = await store.get(user);
        if (balance + amount > MAX_BALANCE) fail(WalletError.INVALID_AMOUNT, `${user}'s balance would exceed ${MAX_BALANCE}`);
        await store.put(user, balance + amount);
        return [{ balance: balance + amount }, { [user]: balance + amount }];
      });
    },

    withdraw(request, context) {
      const { user, amount } = request;
      return logged({ method: "Withdraw", user, amount }, context, async () => {
        checkUser(user);
        checkAmount(amount);
        checkKeys(context, [user]);
        const balance = await store.get(user);
        if (balance < amount) fail(WalletError.INSUFFICIENT_FUNDS, `${user} has ${balance}, cannot withdraw ${amount}`);
        await store.put(user, balance - amount);
        return [{ balance: balance - amount }, { [user]: balance - amount }];
      });
    },

    transfer(request, context) {
      const { from, to, amount } = request;
      return logged({ method: "Transfer", from, to, amount }, context, async () => {
        checkUser(from);
        checkUser(to);
        checkAmount(amount);
        // Rejected rather than treated as a no-op: a self-transfer is almost
        // always a client bug, and a success would hide it.
        if (from === to) fail(WalletError.SAME_ACCOUNT, `cannot transfer from ${from} to itself`);
        checkKeys(context, [from, to]);
        const fromBalance = await store.get(from);
        const toBalance = await store.get(to);
        if (fromBalance < amount) fail(WalletError.INSUFFICIENT_FUNDS, `${from} has ${fromBalance}, cannot transfer ${amount}`);
        if (toBalance + amount > MAX_BALANCE) fail(WalletError.INVALID_AMOUNT, `${to}'s balance would exceed ${MAX_BALANCE}`);
        // Two separate writes, no transaction: between them the money is in
        // neither account, which no other call on these users can observe.
        await store.put(from, fromBalance - amount);
        await store.put(to, toBalance + amount);
        return [{ fromBalance: fromBalance - amount, toBalance: toBalance + amount }, { [from]: fromBalance - amount, [to]: toBalance + amount }];
      });
    },
  };
}
