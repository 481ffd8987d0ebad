import { fnv1a } from '../decode/dns.js';
import { IP6_WORDS, ip6EqualsStored, storedIp6ToString, storeIp6 } from '../decode/ip6-addr.js';

// A bounded table keyed by IPv6 address, read straight from a packet buffer
// without allocating. An address's key is an FNV-1a hash of its 16 bytes
// (the next `probes` keys are tried on a collision; only crafted collisions
// get past the first), and the bytes are compared on every hit. Entries live
// in a ring of `capacity` slots, the oldest forgotten first when a new address
// needs room; `refresh` moves an entry to the newest end (an LRU refresh, for
// tables that want one). A forgotten address gets the same key again when it
// comes back, unless a colliding address took that key meanwhile. Pinned
// entries sit after the ring and are never forgotten.
//
// Slots are positions and change when an entry is refreshed; keys do not.

export class Ip6Table<V = undefined> {
  /** key -> slot */
  private readonly slots = new Map<number, number>();
  private readonly words: Uint32Array;
  /** Key held by each slot, -1 when the slot was vacated by a refresh. */
  private readonly keys: Float64Array;
  private readonly values: (V | undefined)[];
  private head = 0;
  private used = 0;
  private pinned = 0;

  constructor(
    readonly capacity: number,
    private readonly probes: number,
    private readonly maxPinned = 0,
  ) {
    const total = capacity + maxPinned;
    this.words = new Uint32Array(total * IP6_WORDS);
    this.keys = new Float64Array(total).fill(-1);
    this.values = new Array<V | undefined>(total).fill(undefined);
  }

  get size(): number {
    return this.slots.size;
  }

  /** Slot of the address at buf[off], or -1 when the table does not hold it. */
  find(buf: Buffer, off: number): number {
    const h = fnv1a(buf, off, 16);
    for (let p = 0; p < this.probes; p++) {
      const slot = this.slots.get((h + p) >>> 0);
      if (slot !== undefined && ip6EqualsStored(this.words, slot, buf, off)) return slot;
    }
    return -1;
  }

  /**
   * Slot of the address at buf[off], entering it when new (its value then
   * undefined, the oldest entry forgotten when the ring is full); -1 only
   * when every probe key is held by other addresses.
   */
  intern(buf: Buffer, off: number): number {
    const h = fnv1a(buf, off, 16);
    let free = -1;
    for (let p = 0; p < this.probes; p++) {
      const key = (h + p) >>> 0;
      const slot = this.slots.get(key);
      if (slot === undefined) {
        if (free === -1) free = key;
      } else if (ip6EqualsStored(this.words, slot, buf, off)) {
        return slot;
      }
    }
    if (free === -1) return -1;
    const slot = this.append(free);
    storeIp6(this.words, slot, buf, off);
    return slot;
  }

  /** Enters the address at buf[off] for good (after the ring); its slot, or -1 when the pinned slots or its probe keys are all taken. */
  pin(buf: Buffer, off: number): number {
    const known = this.find(buf, off);
    if (known !== -1 || this.pinned >= this.maxPinned) return known;
    const h = fnv1a(buf, off, 16);
    for (let p = 0; p < this.probes; p++) {
      const key = (h + p) >>> 0;
      if (this.slots.has(key)) continue;
      const slot = this.capacity + this.pinned++;
      this.keys[slot] = key;
      this.slots.set(key, slot);
      storeIp6(this.words, slot, buf, off);
      return slot;
    }
    return -1;
  }

  /** Moves a ring entry in the older half to the newest end; returns its slot from now on. */
  refresh(slot: number): number {
    if (slot >= this.capacity || this.age(slot) >= this.used >>> 1) return slot;
    const key = this.keys[slot]!;
    const value = this.values[slot];
    this.keys[slot] = -1;
    this.values[slot] = undefined;
    this.slots.delete(key);
    // Evicting leaves words in place, so the vacated slot still holds the address to copy.
    const to = this.append(key);
    this.words.copyWithin(to * IP6_WORDS, slot * IP6_WORDS, (slot + 1) * IP6_WORDS);
    this.values[to] = value;
    return to;
  }

  /** The key of the entry in `slot` (stable while the address is held, and usually after). */
  keyAt(slot: number): number {
    return this.keys[slot]!;
  }

  /** Slot of the entry under `key`, or -1. */
  slotOf(key: number): number {
    return this.slots.get(key) ?? -1;
  }

  valueAt(slot: number): V | undefined {
    return this.values[slot];
  }

  setValue(slot: number, value: V): void {
    this.values[slot] = value;
  }

  /** Word `i` (0-3, big-endian) of the address in `slot`. */
  wordAt(slot: number, i: number): number {
    return this.words[slot * IP6_WORDS + i]!;
  }

  /** The address in `slot` as canonical text (RFC 5952), for findings. */
  textAt(slot: number): string {
    return storedIp6ToString(this.words, slot);
  }

  /** Position of a ring slot from the oldest (0) to the newest (used - 1). */
  private age(slot: number): number {
    return (slot - this.head + this.capacity) % this.capacity;
  }

  /** Takes the ring slot after the newest for `key`, forgetting the oldest entries when full. */
  private append(key: number): number {
    while (this.used >= this.capacity) {
      const old = this.keys[this.head]!;
      if (old !== -1) {
        this.slots.delete(old);
        this.keys[this.head] = -1;
        this.values[this.head] = undefined;
      }
      this.head = (this.head + 1) % this.capacity;
      this.used--;
    }
    const slot = (this.head + this.used) % this.capacity;
    this.used++;
    this.keys[slot] = key;
    this.slots.set(key, slot);
    return slot;
  }
}
