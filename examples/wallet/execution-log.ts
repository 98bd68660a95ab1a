// The wallet server's record of every handler execution: what ran, on
// which connection, with which keys, from when to when, and how it ended.
import { metadataText, type HandlerContext } from "../../src/node.ts";
import { walletErrorName } from "./wallet.ts";

/** One wallet operation as requested. */
export type WalletOp =
  | { method: "GetBalance"; user: string }
  | { method: "Deposit"; user: string; amount: bigint }
  | { method: "Withdraw"; user: string; amount: bigint }
  | { method: "Transfer"; from: string; to: string; amount: bigint };

/** How an execution ended: the new balances by user, or the application error. */
export type Outcome = { ok: true; balances: Record<string, bigint> } | { ok: false; code: number; message: string };

/** One handler execution, from the start of the handler until it returned. */
export interface Execution {
  /** Position in the log: executions are logged as they start, so this is the start order. */
  readonly index: number;
  readonly op: WalletOp;
  /** The request id, unique per connection. */
  readonly requestId: number;
  /**
   * The client's address as the server sees it, e.g. "127.0.0.1:53012": one
   * per TCP connection (on a unix socket every connection shows the path).
   */
  readonly peer: string;
  /** The keys the request carried, as sent. */
  readonly keys: readonly string[];
  /** The request's `trace-id` metadata, if any. */
  readonly traceId: string | undefined;
  /**
   * A counter shared by all starts and ends of the log: exact even where the
   * clock is coarse. Two executions overlapped in time if neither ended
   * before the other started.
   */
  readonly startSeq: number;
  endSeq: number | undefined;
  /** performance.now() at start and end, in milliseconds. */
  readonly startedAt: number;
  endedAt: number | undefined;
  /** Undefined while running. */
  outcome: Outcome | undefined;
}

/** Options of ExecutionLog. */
export interface ExecutionLogOptions {
  /** Keep at most this many executions, dropping the oldest. Default 100,000. */
  maxEntries?: number;
  /** Called when an execution ends, e.g. to print it. */
  onEnd?: (execution: Execution) => void;
}

/** The executions of a wallet service, in start order. */
export class ExecutionLog {
  readonly entries: Execution[] = [];
  private seq = 0;
  private dropped = 0;
  private readonly maxEntries: number;
  private readonly onEnd: ((execution: Execution) => void) | undefined;

  constructor(options: ExecutionLogOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.onEnd = options.onEnd;
  }

  /** Records the start of a handler. */
  begin(op: WalletOp, context: HandlerContext): Execution {
    const execution: Execution = {
      index: this.dropped + this.entries.length,
      op,
      requestId: context.requestId,
      peer: context.peer,
      keys: [...context.keys],
      traceId: metadataText(context.metadata, "trace-id"),
      startSeq: this.seq++,
      endSeq: undefined,
      startedAt: performance.now(),
      endedAt: undefined,
      outcome: undefined,
    };
    this.entries.push(execution);
    if (this.entries.length > this.maxEntries) {
      const excess = this.entries.length - this.maxEntries;
      this.entries.splice(0, excess);
      this.dropped += excess;
    }
    return execution;
  }

  /** Records the end of a handler, just before it returns. */
  end(execution: Execution, outcome: Outcome): void {
    execution.outcome = outcome;
    execution.endSeq = this.seq++;
    execution.endedAt = performance.now();
    this.onEnd?.(execution);
  }

  /** Forgets every execution. */
  clear(): void {
    this.dropped += this.entries.length;
    this.entries.length = 0;
  }
}

/** One line describing an execution, e.g. for the server's console. */
export function formatExecution(e: Execution): string {
  const op = e.op;
  const what =
    op.method === "Transfer" ? `Transfer(${op.from} -> ${op.to}, ${op.amount})`
    : op.method === "GetBalance" ? `GetBalance(${op.user})`
    : `${op.method}(${op.user}, ${op.amount})`;
  const outcome =
    e.outcome === undefined ? "running"
    : e.outcome.ok ? Object.entries(e.outcome.balances).map(([user, balance]) => `${user}=${balance}`).join(" ")
    : `error ${e.outcome.code} ${walletErrorName(e.outcome.code)}`;
  const ms = e.endedAt === undefined ? "" : ` ${(e.endedAt - e.startedAt).toFixed(1)} ms`;
  return `${what} #${e.requestId} from ${e.peer} keys [${e.keys.join(", ")}]${ms}: ${outcome}`;
}
