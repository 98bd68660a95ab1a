// The wallet example (examples/wallet) against a model, over real sockets:
// random deposits, withdrawals, transfers and reads fired without awaiting
// on 3 connections, so they pipeline and interleave. Which calls fail with
// INSUFFICIENT_FUNDS depends on the order the server ran them, so the check
// replays the server's execution log, in start order, through a sequential
// model: every call's result and the final balances must match the replay,
// money is conserved, executions sharing a key never overlap, calls on one
// connection sharing a key start in the order sent, and every call finishes.
// A failing run replays with STRATA_SEED / STRATA_PATH (timing will differ,
// the check does not depend on it).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { createClient, RpcError, type CallOptions, type Client } from "../src/node.ts";
import type { Execution, WalletOp } from "../examples/wallet/execution-log.ts";
import { userKey, WalletError, walletErrorName, WalletService, type WalletMethods } from "../examples/wallet/wallet.ts";
import { createWalletServer, type WalletServer } from "../examples/wallet/wallet-server.ts";
import { checkProperty } from "./support/property.ts";

const test = suite("wallet model");

const USERS = ["ann", "bob", "cy", "dee"] as const;
const CONNECTIONS = 3;
/** Every call must finish within this: generous, for a busy machine; a deadlock would exceed it [KEYS-5]. */
const CALL_BOUND_MS = 10_000;

/** A call's result as the test compares it: the new balances (Transfer: from, to), or the application error code. */
type Result = { ok: true; balances: bigint[] } | { ok: false; code: number } | { failed: string };

// ---------------------------------------------------------------------------
// The sequential model: what one operation does to the balances when
// nothing else runs. Written from the proto's contract, not from the handlers.

function applyOp(balances: Map<string, bigint>, op: WalletOp): Result {
  const get = (user: string) => balances.get(user) ?? 0n;
  const error = (code: WalletError): Result => ({ ok: false, code });
  switch (op.method) {
    case "GetBalance":
      return { ok: true, balances: [get(op.user)] };
    case "Deposit":
      if (op.amount === 0n) return error(WalletError.INVALID_AMOUNT);
      balances.set(op.user, get(op.user) + op.amount);
      return { ok: true, balances: [get(op.user)] };
    case "Withdraw":
      if (op.amount === 0n) return error(WalletError.INVALID_AMOUNT);
      if (get(op.user) < op.amount) return error(WalletError.INSUFFICIENT_FUNDS);
      balances.set(op.user, get(op.user) - op.amount);
      return { ok: true, balances: [get(op.user)] };
    case "Transfer":
      if (op.amount === 0n) return error(WalletError.INVALID_AMOUNT);
      if (op.from === op.to) return error(WalletError.SAME_ACCOUNT);
      if (get(op.from) < op.amount) return error(WalletError.INSUFFICIENT_FUNDS);
      balances.set(op.from, get(op.from) - op.amount);
      balances.set(op.to, get(op.to) + op.amount);
      return { ok: true, balances: [get(op.from), get(op.to)] };
  }
}

function keysOf(op: WalletOp): string[] {
  return op.method === "Transfer" ? [userKey(op.from), userKey(op.to)] : [userKey(op.user)];
}

function describeOp(op: WalletOp): string {
  return op.method === "Transfer" ? `Transfer(${op.from} -> ${op.to}, ${op.amount})`
    : op.method === "GetBalance" ? `GetBalance(${op.user})`
    : `${op.method}(${op.user}, ${op.amount})`;
}

function describeResult(result: Result | undefined): string {
  if (result === undefined) return "(none)";
  if ("failed" in result) return `failed: ${result.failed}`;
  return result.ok ? `ok [${result.balances.join(", ")}]` : `error ${result.code} ${walletErrorName(result.code)}`;
}

// ---------------------------------------------------------------------------
// The system under test: a wallet server, 3 clients (one connection each),
// and the calls in flight.

interface Call {
  readonly traceId: string;
  readonly connection: number;
  /** The order in which the test sent its calls. */
  readonly sendIndex: number;
  readonly op: WalletOp;
  readonly keys: string[];
  result: Result | undefined;
  elapsedMs: number;
  done: Promise<void>;
}

interface Real {
  wallet: WalletServer;
  clients: Array<Client<WalletMethods>>;
  /** Calls sent since the last Settle. */
  pending: Call[];
  /** The peer address the server saw for each connection, learnt from the log. */
  peers: Array<string | undefined>;
  sent: number;
}

interface Model {
  balances: Map<string, bigint>;
  /** Money in and out, from the calls' actual results. */
  deposited: bigint;
  withdrawn: bigint;
  /** Log entries already replayed. */
  replayed: number;
}

function describeCall(call: Call): string {
  return `${describeOp(call.op)} (call ${call.traceId}, connection ${call.connection})`;
}

/** Sends `op` on `connection` and returns at once; the call settles in the background. */
function send(real: Real, connection: number, op: WalletOp, keys = keysOf(op)): Call {
  const client = real.clients[connection]!;
  const call: Call = { traceId: `t${real.sent}`, connection, sendIndex: real.sent++, op, keys, result: undefined, elapsedMs: NaN, done: Promise.resolve() };
  const options: CallOptions = { keys, metadata: { "trace-id": call.traceId }, timeoutMs: CALL_BOUND_MS };
  const started = performance.now();
  let response: Promise<bigint[]>;
  switch (op.method) {
    case "GetBalance":
      response = client.getBalance({ user: op.user }, options).then((r) => [r.balance]);
      break;
    case "Deposit":
      response = client.deposit({ user: op.user, amount: op.amount }, options).then((r) => [r.balance]);
      break;
    case "Withdraw":
      response = client.withdraw({ user: op.user, amount: op.amount }, options).then((r) => [r.balance]);
      break;
    case "Transfer":
      response = client.transfer({ from: op.from, to: op.to, amount: op.amount }, options).then((r) => [r.fromBalance, r.toBalance]);
      break;
  }
  call.done = response.then(
    (balances): Result => ({ ok: true, balances }),
    (error: unknown): Result => {
      const e = RpcError.from(error);
      return e.layer === "application" && typeof e.code === "number" ? { ok: false, code: e.code } : { failed: `${e.layer} ${e.code}: ${e.rawMessage}` };
    },
  ).then((result) => {
    call.result = result;
    call.elapsedMs = performance.now() - started;
  });
  real.pending.push(call);
  return call;
}

async function startReal(): Promise<Real> {
  const wallet = createWalletServer({ delayMs: { min: 0, max: 2 } });
  const address = await wallet.server.listen("memory:");
  const clients = Array.from({ length: CONNECTIONS }, () => createClient(WalletService, { address, timeoutMs: CALL_BOUND_MS }));
  // Connect every client first, so that the commands' calls are written in the order sent.
  await Promise.all(clients.map((c) => c.getBalance({ user: USERS[0] }, { keys: [userKey(USERS[0])] })));
  wallet.log.clear();
  return { wallet, clients, pending: [], peers: [], sent: 0 };
}

async function stopReal(real: Real): Promise<void> {
  await Promise.all(real.pending.map((c) => c.done));
  await Promise.all(real.clients.map((c) => c.$close()));
  await real.wallet.server.close({ graceMs: 1000 });
}

function shareKey(a: { keys: readonly string[] }, b: { keys: readonly string[] }): boolean {
  return a.keys.some((k) => b.keys.includes(k));
}

/** [KEYS-3]: `entries` are in start order; one sharing a key with a later one must have ended before it started. */
function assertNoOverlap(entries: readonly Execution[]): void {
  for (let i = 0; i < entries.length; i++) {
    const x = entries[i]!;
    assert.ok(x.endSeq !== undefined, `${describeOp(x.op)} #${x.requestId} never ended`);
    for (let j = i + 1; j < entries.length; j++) {
      const y = entries[j]!;
      if (!shareKey(x, y)) continue;
      assert.ok(
        x.endSeq! < y.startSeq,
        `${describeOp(x.op)} #${x.requestId} from ${x.peer} and ${describeOp(y.op)} #${y.requestId} from ${y.peer} share a key and ran at the same time [KEYS-3]`,
      );
    }
  }
}

/**
 * Awaits every call sent since the last Settle and checks them against the
 * server's log: each ran once, the replay in start order gives each call's
 * result and the final balances, money is conserved, and the key rules hold.
 */
async function settle(model: Model, real: Real): Promise<void> {
  const calls = real.pending.splice(0);
  await Promise.all(calls.map((c) => c.done));

  // [KEYS-5]: every call finished, well within the bound, with a wallet outcome.
  for (const call of calls) {
    const result = call.result!;
    assert.not.ok("failed" in result, `${describeCall(call)} did not complete: ${describeResult(result)} [KEYS-5]`);
    assert.ok(call.elapsedMs < CALL_BOUND_MS, `${describeCall(call)} took ${call.elapsedMs.toFixed(0)} ms [KEYS-5]`);
  }

  // Each call ran exactly once, as sent; nothing else ran.
  const entries = real.wallet.log.entries.slice(model.replayed);
  model.replayed += entries.length;
  const byTrace = new Map(calls.map((c) => [c.traceId, c]));
  const callOf = new Map<Execution, Call>();
  for (const entry of entries) {
    const call = byTrace.get(entry.traceId ?? "");
    assert.ok(call !== undefined, `the log holds ${describeOp(entry.op)} with trace id ${entry.traceId}, which was not sent or ran twice`);
    byTrace.delete(call.traceId);
    callOf.set(entry, call);
    assert.equal(entry.op, call.op, `call ${call.traceId} ran as sent`);
    assert.equal(entry.keys, call.keys, `call ${call.traceId} carried its keys`);
    // One connection, one peer address, and different connections have different ones.
    real.peers[call.connection] ??= entry.peer;
    assert.is(entry.peer, real.peers[call.connection], `connection ${call.connection} keeps its peer address`);
  }
  assert.is(byTrace.size, 0, `calls that never ran: ${[...byTrace.values()].map(describeCall).join(", ")}`);
  const known = real.peers.filter((p) => p !== undefined);
  assert.is(new Set(known).size, known.length, "each connection has its own peer address");

  // The key rules first: the replay below relies on them.
  assertNoOverlap(entries);

  // [KEYS-4]: calls of one connection sharing a key started in the order sent
  // (and so in request-id order).
  for (let i = 0; i < entries.length; i++) {
    for (let j = i + 1; j < entries.length; j++) {
      const [x, y] = [entries[i]!, entries[j]!];
      const [cx, cy] = [callOf.get(x)!, callOf.get(y)!];
      if (cx.connection !== cy.connection || !shareKey(x, y)) continue;
      assert.ok(cx.sendIndex < cy.sendIndex, `on connection ${cx.connection}, ${describeCall(cy)} was sent before ${describeCall(cx)} but started after it [KEYS-4]`);
      assert.ok(x.requestId < y.requestId, `on connection ${cx.connection}, request #${y.requestId} started before #${x.requestId} [KEYS-4]`);
    }
  }

  // Replay in start order: executions sharing a key ran one at a time in that
  // order, and the others touch other users, so this is the order of effects.
  for (const entry of entries) {
    const call = callOf.get(entry)!;
    const expected = applyOp(model.balances, call.op);
    assert.equal(
      call.result,
      expected,
      `${describeCall(call)}, execution ${entry.index} in start order: got ${describeResult(call.result)}, the replay gives ${describeResult(expected)}`,
    );
    assert.equal(entry.outcome?.ok, (expected as { ok: boolean }).ok, `the log's outcome of ${describeCall(call)}`);
    const result = call.result!;
    if ("ok" in result && result.ok) {
      if (call.op.method === "Deposit") model.deposited += call.op.amount;
      if (call.op.method === "Withdraw") model.withdrawn += call.op.amount;
    }
  }

  // Final balances as the model says, and no money created or lost.
  const stored = real.wallet.store.snapshot();
  for (const user of USERS) {
    assert.is(stored.get(user) ?? 0n, model.balances.get(user) ?? 0n, `${user}'s balance after the replay`);
  }
  assert.is(real.wallet.store.total(), model.deposited - model.withdrawn, "the total is deposits minus successful withdrawals");
}

// ---------------------------------------------------------------------------
// Commands

type Command = fc.AsyncCommand<Model, Real>;

/** Sends one operation without waiting for it. */
class Send implements Command {
  readonly connection: number;
  readonly op: WalletOp;
  constructor(connection: number, op: WalletOp) {
    this.connection = connection;
    this.op = op;
  }
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    send(real, this.connection, this.op);
  }
  toString = () => `${describeOp(this.op)}@c${this.connection}`;
}

/** Lets the calls sent so far make progress before the next ones are sent. */
class Pause implements Command {
  readonly ms: number;
  constructor(ms: number) {
    this.ms = ms;
  }
  check = () => true;
  async run(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.ms));
  }
  toString = () => `Pause(${this.ms})`;
}

class Settle implements Command {
  check = () => true;
  run = settle;
  toString = () => "Settle";
}

const user = fc.constantFrom(...USERS);
const connection = fc.integer({ min: 0, max: CONNECTIONS - 1 });
// Mostly small amounts, so that some withdrawals succeed and some do not; now and then 0 (INVALID_AMOUNT).
const amount = fc.oneof({ arbitrary: fc.bigInt({ min: 1n, max: 40n }), weight: 20 }, { arbitrary: fc.constant(0n), weight: 1 });

/** The commands with their weights; fc.commands takes none, so each appears `weight` times. */
const weightedCommands: Array<[fc.Arbitrary<Command>, number]> = [
  [fc.tuple(connection, user, amount).map(([c, u, a]) => new Send(c, { method: "Deposit", user: u, amount: a })), 4],
  [fc.tuple(connection, user, amount).map(([c, u, a]) => new Send(c, { method: "Withdraw", user: u, amount: a })), 4],
  [fc.tuple(connection, user, fc.integer({ min: 1, max: USERS.length - 1 }), amount).map(([c, from, step, a]) =>
    new Send(c, { method: "Transfer", from, to: USERS[(USERS.indexOf(from) + step) % USERS.length]!, amount: a })), 4],
  [fc.tuple(connection, user).map(([c, u]) => new Send(c, { method: "GetBalance", user: u })), 2],
  // Keys [uid=A, uid=A]: duplicates count once, so it must not wait for itself [KEYS-1].
  [fc.tuple(connection, user, fc.bigInt({ min: 1n, max: 40n })).map(([c, u, a]) => new Send(c, { method: "Transfer", from: u, to: u, amount: a })), 1],
  [fc.integer({ min: 0, max: 3 }).map((ms) => new Pause(ms)), 2],
  [fc.constant(new Settle()), 1],
];
const commandSequences = fc.commands(
  weightedCommands.flatMap(([arbitrary, weight]) => Array.from({ length: weight }, () => arbitrary)),
  { maxCommands: 50, size: "medium" },
);

test("[KEYS-3] [KEYS-4] [KEYS-5] [KEYS-9] model: random pipelined deposits, withdrawals, transfers and reads on 3 connections match a sequential replay of the server's execution log", async () => {
  await checkProperty(
    fc.asyncProperty(commandSequences, async (cmds) => {
      const real = await startReal();
      try {
        const model: Model = { balances: new Map(), deposited: 0n, withdrawn: 0n, replayed: 0 };
        await fc.asyncModelRun(() => ({ model, real }), [...cmds, new Settle()]);
      } finally {
        await stopReal(real);
      }
    }),
    // With fast-check 4 the report omits the failed assertion unless asked to include it.
    { numRuns: 40 },
  );
});

test("[KEYS-5] [KEYS-9] 150 transfers in both directions around a cycle of 4 users, on 3 connections at once, all complete and conserve money", async () => {
  const real = await startReal();
  try {
    for (const u of USERS) send(real, 0, { method: "Deposit", user: u, amount: 100n });
    const model: Model = { balances: new Map(), deposited: 0n, withdrawn: 0n, replayed: 0 };
    await settle(model, real);
    for (let i = 0; i < 150; i++) {
      const from = USERS[i % 4]!;
      const to = USERS[(i + (i % 2 === 0 ? 1 : 3)) % 4]!; // clockwise and counter-clockwise
      send(real, i % CONNECTIONS, { method: "Transfer", from, to, amount: BigInt(1 + (i % 7) * 10) });
    }
    await settle(model, real);
    assert.is(real.wallet.store.total(), 400n);
  } finally {
    await stopReal(real);
  }
});

test("[KEYS-3] without keys the same lock-free handlers race (over-drawn and lost deposits); with keys the same calls are exact", async () => {
  // A fixed store latency: calls that start together all read before any of them writes.
  const wallet = createWalletServer({ requireKeys: false, delayMs: { min: 25, max: 25 } });
  const address = await wallet.server.listen("memory:");
  const clients = [0, 1].map(() => createClient(WalletService, { address, timeoutMs: CALL_BOUND_MS }));
  try {
    /** 8 withdrawals of all of a 100 balance, and 8 deposits of 1, each set sent at once on 2 connections. */
    async function workload(keyed: boolean) {
      const payer = keyed ? "payer-keyed" : "payer-unkeyed";
      const saver = keyed ? "saver-keyed" : "saver-unkeyed";
      const opts = (u: string): CallOptions => (keyed ? { keys: [userKey(u)] } : {});
      await clients[0]!.deposit({ user: payer, amount: 100n }, opts(payer));
      const [withdrawals] = await Promise.all([
        Promise.all(Array.from({ length: 8 }, (_, i) => clients[i % 2]!.$result.withdraw({ user: payer, amount: 100n }, opts(payer)))),
        Promise.all(Array.from({ length: 8 }, (_, i) => clients[i % 2]!.deposit({ user: saver, amount: 1n }, opts(saver)))),
      ]);
      for (const r of withdrawals) {
        assert.ok(r.ok || r.application?.code === WalletError.INSUFFICIENT_FUNDS, `a withdrawal failed otherwise: ${r.error?.message}`);
      }
      const stored = wallet.store.snapshot();
      return { paidOut: 100n * BigInt(withdrawals.filter((r) => r.ok).length), saved: stored.get(saver) ?? 0n };
    }

    const unkeyed = await workload(false);
    assert.ok(unkeyed.paidOut > 100n, `without keys, withdrawals should pay out more than the 100 deposited; paid ${unkeyed.paidOut}`);
    assert.ok(unkeyed.saved < 8n, `without keys, some of 8 deposits of 1 should be lost; the balance is ${unkeyed.saved}`);

    const keyed = await workload(true);
    assert.is(keyed.paidOut, 100n, "with keys exactly one withdrawal of the 100 succeeds");
    assert.is(keyed.saved, 8n, "with keys all 8 deposits count");
    assertNoOverlap(wallet.log.entries.filter((e) => e.keys.length > 0));
  } finally {
    await Promise.all(clients.map((c) => c.$close()));
    await wallet.server.close({ graceMs: 1000 });
  }
});

test("the service refuses a call without the keys of the users it touches (KEYS_REQUIRED), and changes nothing", async () => {
  const real = await startReal();
  try {
    const deposit = send(real, 0, { method: "Deposit", user: "ann", amount: 5n }, []);
    const transfer = send(real, 1, { method: "Transfer", from: "ann", to: "bob", amount: 1n }, [userKey("ann")]);
    await Promise.all([deposit.done, transfer.done]);
    assert.equal(deposit.result, { ok: false, code: WalletError.KEYS_REQUIRED });
    assert.equal(transfer.result, { ok: false, code: WalletError.KEYS_REQUIRED });
    assert.is(real.wallet.store.total(), 0n);
  } finally {
    await stopReal(real);
  }
});

test.run();
