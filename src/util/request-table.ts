// The requests in flight on one connection, by request id: a client's
// table of its calls, a server's of the requests it runs.
//
// A client numbers its requests in order, so the ids in flight at any time
// are, but for a few slow ones, a window of consecutive numbers. Each id is
// first placed in the slot its low bits name, in an array of at least twice
// as many slots as there are requests: ids in such a window never share a
// slot, and finding or removing one is one array read. An id whose slot is
// held by another (an older request still running, or ids a peer picked to
// collide) goes to a hashed IdTable instead, so a peer that numbers its
// requests otherwise costs what the hashed table costs and no more. A
// removal from the hashed table shifts the rest of its probe run back; for
// a window of ids that made setting and taking one cost about 60 ns, against
// under 10 here (docs/performance.md).

// The slots of a table that holds nothing yet are IdTable's, shared: an idle connection allocates none.
import { IdTable, UNALLOCATED_IDS, UNALLOCATED_SIZE, UNALLOCATED_VALUES } from "./id-table.ts";

/** Requests in flight by id, ids being integers from 1 to 2^53-1 [ID-1] [ID-4]; fastest for ids numbered in order. */
export class RequestTable<V> {
  /** The slot of id n is n's low bits; 0 marks an empty slot. */
  private ids: Float64Array = UNALLOCATED_IDS;
  private values: (V | undefined)[] = UNALLOCATED_VALUES;
  private mask = UNALLOCATED_SIZE - 1;
  /** Entries in the slots. */
  private placed = 0;
  /** Entries whose slot was taken when they came; made for the first. */
  private others: IdTable<V> | undefined;
  /** The slot count allocated on the first set(). */
  private readonly initialSize: number;

  constructor(capacity = 16) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.initialSize = size;
  }

  /** How many slots the table has: at least twice its peak size, a power of two (before the first entry, what it will have). */
  get capacity(): number {
    return this.ids === UNALLOCATED_IDS ? this.initialSize : this.ids.length;
  }

  /** How many entries the table holds. */
  get size(): number {
    return this.placed + (this.others === undefined ? 0 : this.others.size);
  }

  /** How many entries are in the hashed table because their slot was taken (for tests). */
  get displaced(): number {
    return this.others === undefined ? 0 : this.others.size;
  }

  get(id: number): V | undefined {
    const at = (id >>> 0) & this.mask;
    if (this.ids[at] === id && id !== 0) return this.values[at];
    return this.others === undefined ? undefined : this.others.get(id);
  }

  /** Adds or replaces the value for `id`, an integer from 1 to 2^53-1. */
  set(id: number, value: V): void {
    if (!(id > 0 && Number.isSafeInteger(id))) throw new RangeError(`request ids are integers from 1 to 2^53-1, got ${id} [ID-1] [ID-4]`);
    if (this.ids === UNALLOCATED_IDS) this.allocate(this.initialSize);
    let at = (id >>> 0) & this.mask;
    const found = this.ids[at];
    if (found === id) {
      this.values[at] = value;
      return;
    }
    // An id already displaced stays where it is, even if its slot has since come free.
    const others = this.others;
    if (others !== undefined && others.size > 0 && others.has(id)) return others.set(id, value);
    if ((this.size + 1) * 2 > this.ids.length) {
      this.grow();
      at = (id >>> 0) & this.mask;
    }
    if (this.ids[at] === 0) {
      this.ids[at] = id;
      this.values[at] = value;
      this.placed++;
      return;
    }
    (this.others ??= new IdTable<V>()).set(id, value);
  }

  /** Removes `id`; returns whether it was there. */
  delete(id: number): boolean {
    const at = (id >>> 0) & this.mask;
    if (this.ids[at] === id && id !== 0) {
      this.removeAt(at);
      return true;
    }
    return this.others !== undefined && this.others.delete(id);
  }

  /** Removes `id` and returns its value, or undefined when it was not there: get and delete in one lookup. */
  take(id: number): V | undefined {
    const at = (id >>> 0) & this.mask;
    if (this.ids[at] === id && id !== 0) {
      const value = this.values[at];
      this.removeAt(at);
      return value;
    }
    return this.others === undefined ? undefined : this.others.take(id);
  }

  /** The entries in id order (the order requests were sent); a copy, so the table may change while they are used. */
  entries(): Array<[number, V]> {
    const out: Array<[number, V]> = this.others === undefined ? [] : this.others.entries();
    const ids = this.ids;
    for (let at = 0; at < ids.length; at++) {
      if (ids[at] !== 0) out.push([ids[at]!, this.values[at]!]);
    }
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** The values, in no particular order; a copy. */
  valueList(): V[] {
    const out: V[] = this.others === undefined ? [] : this.others.valueList();
    const ids = this.ids;
    for (let at = 0; at < ids.length; at++) {
      if (ids[at] !== 0) out.push(this.values[at]!);
    }
    return out;
  }

  clear(): void {
    if (this.ids !== UNALLOCATED_IDS) {
      this.ids.fill(0);
      this.values.fill(undefined);
    }
    this.placed = 0;
    this.others?.clear();
  }

  private removeAt(at: number): void {
    this.ids[at] = 0;
    this.values[at] = undefined;
    this.placed--;
  }

  private allocate(size: number): void {
    this.ids = new Float64Array(size);
    this.values = new Array<V | undefined>(size).fill(undefined);
    this.mask = size - 1;
  }

  /** Twice the slots; every entry is placed again, displaced ones too where their slot is now free. */
  private grow(): void {
    const entries = this.entries();
    this.allocate(this.ids.length * 2);
    this.placed = 0;
    this.others?.clear();
    for (const [id, value] of entries) this.set(id, value);
  }
}
