/**
 * A short list of distinct numbers with a fixed capacity. Clearing keeps its
 * storage, so per-message records that are reused (DNS transactions) do not
 * allocate a new array each time, as `array.length = 0` followed by push does.
 * The storage is a plain array: a DNS transaction table filling up creates
 * thousands of these, and small typed arrays cost more to allocate and collect
 * (measured: `names` ~40 ms faster on the bench capture).
 */
export class NumberList {
  private readonly items: number[];
  length = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<number>(capacity).fill(0);
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
    return this.items.slice(0, this.length);
  }
}
