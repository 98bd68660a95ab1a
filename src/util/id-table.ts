// A table of the requests in flight on one connection, by request id.
//
// Why not a Map: V8 rebuilds a Map's hash table now and then as entries
// come and go, and the table it leaves behind keeps a pointer to its
// successor. Once a full garbage collection has moved one table to the old
// generation, each young successor survives the next scavenge through that
// pointer and is moved too, with every value it holds, and so on until the
// next full collection: under a steady stream of calls, most per-call
// objects ended up promoted (measured: about 3 MB per scavenge, and 10-17 ms
// scavenges, against 1 ms without). This table is one array of slots,
// reused as long as it is large enough, with linear probing and no
// tombstones, so nothing it drops points anywhere.
//
// Ids are placed by a hash keyed with secrets drawn once per process
// (murmur3's finalizer over both halves of the id), so ids a peer picks
// to share a slot cannot be predicted and linear probing stays short. Ids
// go up to 2^53-1 [ID-4], so they are kept in a Float64Array, which holds
// them exactly.

const SECRET_LOW = (Math.random() * 0x100000000) | 0;
/** Odd, so that multiplying by it loses nothing of the high half. */
const SECRET_HIGH = ((Math.random() * 0x100000000) | 1) >>> 0;

/**
 * The slots of every table that holds nothing yet, shared and never written
 * but by clear()'s zeros: a connection that never carries a request (one
 * held idle, with heartbeats) allocates no slots of its own.
 */
export const UNALLOCATED_SIZE = 16;
/** The ids of a table that holds nothing yet, all 0; never written [ID-1]. */
export const UNALLOCATED_IDS = new Float64Array(UNALLOCATED_SIZE);
/** The values of a table that holds nothing yet, all undefined; never written [ID-1]. */
export const UNALLOCATED_VALUES: undefined[] = new Array<undefined>(UNALLOCATED_SIZE).fill(undefined);

/** Requests in flight by id; ids are integers from 1 to 2^53-1 [ID-1] [ID-4]. */
export class IdTable<V> {
  private ids: Float64Array = UNALLOCATED_IDS;
  private values: (V | undefined)[] = UNALLOCATED_VALUES;
  private mask = UNALLOCATED_SIZE - 1;
  /** 32 minus log2 of the slot count: the shift that keeps a hash's top bits. */
  private shift = 32 - Math.log2(UNALLOCATED_SIZE);
  private count = 0;
  /** The slot count allocated on the first set(). */
  private readonly initialSize: number;

  constructor(capacity = 16) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.initialSize = size;
  }

  private allocate(size: number): void {
    this.ids = new Float64Array(size);
    this.values = new Array<V | undefined>(size).fill(undefined);
    this.mask = size - 1;
    this.shift = 32 - Math.log2(size);
  }

  /** The slot where probing for `id` starts. */
  private home(id: number): number {
    let h = id ^ SECRET_LOW ^ Math.imul(id / 0x100000000, SECRET_HIGH);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> this.shift;
  }

  /** How many slots the table has: twice its peak size at most, rounded up to a power of two (before the first entry, what it will have). */
  get capacity(): number {
    return this.ids === UNALLOCATED_IDS ? this.initialSize : this.ids.length;
  }

  /** How many entries the table holds. */
  get size(): number {
    return this.count;
  }

  get(id: number): V | undefined {
    const ids = this.ids;
    const mask = this.mask;
    for (let at = this.home(id); ; at = (at + 1) & mask) {
      const found = ids[at]!;
      if (found === id) return this.values[at];
      if (found === 0) return undefined;
    }
  }

  has(id: number): boolean {
    return this.slotOf(id) >= 0;
  }

  /** Adds or replaces the value for `id`, an integer from 1 to 2^53-1. */
  set(id: number, value: V): void {
    if (!(id > 0 && Number.isSafeInteger(id))) throw new RangeError(`request ids are integers from 1 to 2^53-1, got ${id} [ID-1] [ID-4]`);
    if (this.ids === UNALLOCATED_IDS) this.allocate(this.initialSize);
    else if ((this.count + 1) * 2 > this.ids.length) this.grow();
    const ids = this.ids;
    const mask = this.mask;
    for (let at = this.home(id); ; at = (at + 1) & mask) {
      const found = ids[at]!;
      if (found === id) {
        this.values[at] = value;
        return;
      }
      if (found === 0) {
        ids[at] = id;
        this.values[at] = value;
        this.count++;
        return;
      }
    }
  }

  /** Removes `id`; returns whether it was there. */
  delete(id: number): boolean {
    const at = this.slotOf(id);
    if (at < 0) return false;
    this.removeAt(at);
    return true;
  }

  /** Removes `id` and returns its value, or undefined when it was not there: get and delete in one lookup. */
  take(id: number): V | undefined {
    const at = this.slotOf(id);
    if (at < 0) return undefined;
    const value = this.values[at];
    this.removeAt(at);
    return value;
  }

  /** The slot holding `id`, or -1. */
  private slotOf(id: number): number {
    const ids = this.ids;
    const mask = this.mask;
    for (let at = this.home(id); ; at = (at + 1) & mask) {
      const found = ids[at]!;
      // Empty first: 0 marks an empty slot, never an id (a lookup of 0 finds nothing).
      if (found === 0) return -1;
      if (found === id) return at;
    }
  }

  private removeAt(at: number): void {
    const ids = this.ids;
    const values = this.values;
    const mask = this.mask;
    // Backward-shift deletion: move later entries of the probe run into the gap.
    let gap = at;
    for (let next = (gap + 1) & mask; ; next = (next + 1) & mask) {
      const moving = ids[next]!;
      if (moving === 0) break;
      const home = this.home(moving);
      // The entry at `next` may fill the gap only if its home is not inside (gap, next].
      const between = gap <= next ? home > gap && home <= next : home > gap || home <= next;
      if (between) continue;
      ids[gap] = moving;
      values[gap] = values[next];
      gap = next;
    }
    ids[gap] = 0;
    values[gap] = undefined;
    this.count--;
  }

  /** The entries in id order (the order requests were sent); a copy, so the table may change while they are used. */
  entries(): Array<[number, V]> {
    const out: Array<[number, V]> = [];
    for (let at = 0; at < this.ids.length; at++) {
      if (this.ids[at] !== 0) out.push([this.ids[at]!, this.values[at]!]);
    }
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** The values, in no particular order; a copy. */
  valueList(): V[] {
    const out: V[] = [];
    for (let at = 0; at < this.ids.length; at++) {
      if (this.ids[at] !== 0) out.push(this.values[at]!);
    }
    return out;
  }

  clear(): void {
    if (this.ids !== UNALLOCATED_IDS) {
      this.ids.fill(0);
      this.values.fill(undefined);
    }
    this.count = 0;
  }

  private grow(): void {
    const oldIds = this.ids;
    const oldValues = this.values;
    this.allocate(oldIds.length * 2);
    this.count = 0;
    for (let at = 0; at < oldIds.length; at++) {
      if (oldIds[at] !== 0) this.set(oldIds[at]!, oldValues[at]!);
    }
  }
}
