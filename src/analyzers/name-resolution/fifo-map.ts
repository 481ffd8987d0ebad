import { randomBytes } from 'node:crypto';

// A map from numbers to values with a fixed capacity that forgets the oldest
// inserted key first, in O(1): an open-addressing hash table (linear probing,
// at most half full, backward-shift deletion) over typed arrays beside a ring
// of keys in insertion order. It replaces a Map because these tables are
// consulted for every name-service message: Map lookups on keys beyond the
// small-integer range cost a few hundred nanoseconds each, and evicting by
// iterating a Map is not O(1) in V8. The hash is seeded per table so keys an
// attacker chooses cannot be made to collide.

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

export class FifoMap<V> {
  /** slot -> key; NaN marks an empty slot (no separate occupancy array: one cache line less per probe). */
  private readonly keys: Float64Array;
  private readonly vals: (V | undefined)[];
  private readonly mask: number;
  private readonly seed = randomBytes(4).readInt32BE(0);
  /** Keys in insertion order; a deleted key's entry stays until its turn comes. */
  private readonly ring: Float64Array;
  private head = 0;
  private used = 0;
  private count = 0;

  /** Keys are numbers other than NaN. */
  constructor(readonly capacity: number) {
    let slots = 8;
    while (slots < capacity * 2) slots *= 2;
    this.keys = new Float64Array(slots).fill(NaN);
    this.vals = new Array<V | undefined>(slots).fill(undefined);
    this.mask = slots - 1;
    this.ring = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  get(key: number): V | undefined {
    const i = this.find(key);
    return i >= 0 ? this.vals[i] : undefined;
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  /**
   * Inserts or replaces. When full, the oldest keys are dropped first; the
   * last value dropped is returned so callers can reuse the object. A key
   * deleted and inserted again may be dropped at its older ring position.
   */
  set(key: number, value: V): V | undefined {
    const found = this.find(key);
    if (found >= 0) {
      this.vals[found] = value;
      return undefined;
    }
    let evicted: V | undefined;
    let slot = -1 - found;
    if (this.used >= this.capacity || this.count >= this.capacity) {
      evicted = this.evictOldest();
      // The removal may have shifted entries: probe again for the free slot.
      slot = -1 - this.find(key);
    }
    this.ring[(this.head + this.used) % this.capacity] = key;
    this.used++;
    this.keys[slot] = key;
    this.vals[slot] = value;
    this.count++;
    return evicted;
  }

  /** Makes room for one key by dropping the oldest; returns the last value dropped. */
  evictOldest(): V | undefined {
    let evicted: V | undefined;
    while (this.used >= this.capacity || this.count >= this.capacity) {
      const old = this.ring[this.head]!;
      this.head = (this.head + 1) % this.capacity;
      this.used--;
      const i = this.find(old);
      if (i >= 0) {
        evicted = this.vals[i];
        this.removeAt(i);
      }
    }
    return evicted;
  }

  /** Removes the key; its ring entry is skipped when its turn to be dropped comes. */
  delete(key: number): boolean {
    const i = this.find(key);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  private home(key: number): number {
    F64[0] = key;
    let h = Math.imul(U32[0]! ^ this.seed, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ U32[1]!, 0xc2b2ae35);
    h ^= h >>> 16;
    return h & this.mask;
  }

  /** The key's slot, or -1 - (the empty slot where it would go). */
  private find(key: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.home(key);
    while (true) {
      const k = keys[i]!;
      if (k === key) return i;
      if (k !== k) return -1 - i;
      i = (i + 1) & mask;
    }
  }

  /** Empties slot i and moves later entries of its probe run back, so lookups never stop early. */
  private removeAt(i: number): void {
    const { keys, vals, mask } = this;
    this.count--;
    let hole = i;
    let j = i;
    while (true) {
      j = (j + 1) & mask;
      const k = keys[j]!;
      if (k !== k) break;
      const home = this.home(k);
      // The entry at j may fill the hole only if its home is not cyclically inside (hole, j].
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      keys[hole] = keys[j]!;
      vals[hole] = vals[j];
      hole = j;
    }
    keys[hole] = NaN;
    vals[hole] = undefined;
  }
}
