/**
 * A short list of distinct numbers with a fixed capacity. Clearing keeps its
 * storage, so per-message records that are reused (DNS transactions) do not
 * allocate a new array each time, as `array.length = 0` followed by push does.
 */
export class NumberList {
  private readonly items: Float64Array;
  length = 0;

  constructor(readonly capacity: number) {
    this.items = new Float64Array(capacity);
  }

  clear(): void {
    this.length = 0;
  }

  includes(x: number): boolean {
    for (let i = 0; i < this.length; i++) if (this.items[i] === x) return true;
    return false;
  }

  /** Adds x unless it is already there or the list is full. */
  add(x: number): void {
    if (this.length < this.capacity && !this.includes(x)) this.items[this.length++] = x;
  }

  toArray(): number[] {
    return Array.from(this.items.subarray(0, this.length));
  }
}
