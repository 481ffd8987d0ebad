// A Map with a capacity that drops its oldest entry in O(1) when a new key
// would exceed it. Entries are kept in insertion order in a linked list beside
// the Map; `touch` moves one to the newest end (an LRU refresh).
//
// Evicting from a plain Map with `map.delete(map.keys().next().value)` is not
// O(1) in V8: deleted entries stay in the table until it is rehashed and
// every new iterator walks over them from the start, so a flood of distinct
// keys (random MACs, addresses, transaction ids) turns each eviction into a
// scan: 400,000 ARP replies from distinct stations took 12 s that way.

interface Entry<K, V> {
  key: K;
  value: V;
  older: Entry<K, V> | null;
  newer: Entry<K, V> | null;
}

export class BoundedMap<K, V> {
  private readonly map = new Map<K, Entry<K, V>>();
  private oldest: Entry<K, V> | null = null;
  private newest: Entry<K, V> | null = null;
  /** The entry removed last, reused for the next new key. */
  private spare: Entry<K, V> | null = null;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const e = this.map.get(key);
    return e === undefined ? undefined : e.value;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /**
   * Replaces the value of a known key in place (its position is kept), or
   * adds the key as the newest, first dropping the oldest entry when full.
   * Returns the value dropped, so callers can reuse the object.
   */
  set(key: K, value: V): V | undefined {
    const known = this.map.get(key);
    if (known !== undefined) {
      known.value = value;
      return undefined;
    }
    const dropped = this.map.size >= this.capacity ? this.shift() : undefined;
    const e = this.spare ?? { key, value, older: null, newer: null };
    this.spare = null;
    e.key = key;
    e.value = value;
    this.link(e);
    this.map.set(key, e);
    return dropped;
  }

  /** Moves a known key to the newest end; false if it is not in the map. */
  touch(key: K): boolean {
    const e = this.map.get(key);
    if (e === undefined) return false;
    if (e !== this.newest) {
      this.unlink(e);
      this.link(e);
    }
    return true;
  }

  delete(key: K): boolean {
    const e = this.map.get(key);
    if (e === undefined) return false;
    this.remove(e);
    return true;
  }

  /** Removes the oldest entry and returns its value. */
  shift(): V | undefined {
    const e = this.oldest;
    if (e === null) return undefined;
    const value = e.value;
    this.remove(e);
    return value;
  }

  /** Values from the oldest to the newest. The loop may delete the current key, no other. */
  *values(): IterableIterator<V> {
    for (let e = this.oldest; e !== null; ) {
      const next = e.newer;
      yield e.value;
      e = next;
    }
  }

  /** Keys from the oldest to the newest. The loop may delete the current key, no other. */
  *keys(): IterableIterator<K> {
    for (let e = this.oldest; e !== null; ) {
      const next = e.newer;
      yield e.key;
      e = next;
    }
  }

  private remove(e: Entry<K, V>): void {
    this.map.delete(e.key);
    this.unlink(e);
    e.value = undefined as V;
    this.spare = e;
  }

  private link(e: Entry<K, V>): void {
    e.older = this.newest;
    e.newer = null;
    if (this.newest !== null) this.newest.newer = e;
    else this.oldest = e;
    this.newest = e;
  }

  private unlink(e: Entry<K, V>): void {
    if (e.older !== null) e.older.newer = e.newer;
    else this.oldest = e.newer;
    if (e.newer !== null) e.newer.older = e.older;
    else this.newest = e.older;
    e.older = e.newer = null;
  }
}
