// A Map with a fixed capacity that forgets the oldest inserted key first, in
// O(1): a ring of keys in insertion order beside the Map. (Evicting by
// iterating a Map from its start is not O(1) in V8: deleted entries stay in
// the table until it is rehashed, and every iteration walks over them.)

export class FifoMap<V> {
  private readonly map = new Map<number, V>();
  private readonly ring: Float64Array;
  private head = 0;
  private used = 0;

  constructor(readonly capacity: number) {
    this.ring = new Float64Array(capacity);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: number): V | undefined {
    return this.map.get(key);
  }

  has(key: number): boolean {
    return this.map.has(key);
  }

  /**
   * Inserts or replaces. When full, the oldest keys are dropped first; the
   * last value dropped is returned so callers can reuse the object. A key
   * deleted and inserted again may be dropped at its older ring position.
   */
  set(key: number, value: V): V | undefined {
    if (this.map.has(key)) {
      this.map.set(key, value);
      return undefined;
    }
    let evicted: V | undefined;
    while (this.used >= this.capacity || this.map.size >= this.capacity) {
      const old = this.ring[this.head]!;
      this.head = (this.head + 1) % this.capacity;
      this.used--;
      const v = this.map.get(old);
      if (v !== undefined) {
        this.map.delete(old);
        evicted = v;
      }
    }
    this.ring[(this.head + this.used) % this.capacity] = key;
    this.used++;
    this.map.set(key, value);
    return evicted;
  }

  /** Removes the key; its ring slot is skipped when its turn to be dropped comes. */
  delete(key: number): boolean {
    return this.map.delete(key);
  }
}
