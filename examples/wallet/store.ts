// Where the wallet keeps balances: an asynchronous store with no
// transactions or locks, like a database reached over the network.

/** Where balances live: asynchronous, like a database, and with no transactions or locks. */
export interface BalanceStore {
  /** The user's balance; 0 for a user never written. */
  get(user: string): Promise<bigint>;
  put(user: string, balance: bigint): Promise<void>;
}

/** Options of MemoryStore. */
export interface MemoryStoreOptions {
  /** Each get and put takes a random time in [min, max] ms, like a round trip to a database. Default 0 to 2 ms. */
  delayMs?: { min: number; max: number };
}

/**
 * An in-memory BalanceStore with simulated latency: a get reads the value
 * when its delay has passed, a put writes it when its delay has passed.
 * Even with a delay of 0 each operation yields to the event loop (a timer),
 * as real I/O would.
 */
export class MemoryStore implements BalanceStore {
  private readonly balances = new Map<string, bigint>();
  private readonly min: number;
  private readonly max: number;

  constructor(options: MemoryStoreOptions = {}) {
    this.min = options.delayMs?.min ?? 0;
    this.max = options.delayMs?.max ?? 2;
    if (!(this.min >= 0 && this.max >= this.min)) throw new RangeError(`delayMs needs 0 <= min <= max, got ${this.min}..${this.max}`);
  }

  async get(user: string): Promise<bigint> {
    await this.latency();
    return this.balances.get(user) ?? 0n;
  }

  async put(user: string, balance: bigint): Promise<void> {
    await this.latency();
    this.balances.set(user, balance);
  }

  /** The balances now, without latency: for tests and reports, not for handlers. */
  snapshot(): Map<string, bigint> {
    return new Map(this.balances);
  }

  /** The sum of all balances now. */
  total(): bigint {
    let sum = 0n;
    for (const balance of this.balances.values()) sum += balance;
    return sum;
  }

  private latency(): Promise<void> {
    const ms = this.min + Math.random() * (this.max - this.min);
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}
