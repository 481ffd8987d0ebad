import assert from 'node:assert/strict';
import test from 'node:test';
import { FifoMap } from '../../src/analyzers/name-resolution/fifo-map.js';

// The table against a plain reference: a Map plus an array of keys in insertion order.
class ReferenceFifo {
  readonly map = new Map<number, number>();
  order: number[] = [];
  constructor(readonly capacity: number) {}
  set(key: number, value: number): number | undefined {
    if (this.map.has(key)) {
      this.map.set(key, value);
      return undefined;
    }
    let evicted: number | undefined;
    while (this.order.length >= this.capacity || this.map.size >= this.capacity) {
      const old = this.order.shift()!;
      if (this.map.has(old)) {
        evicted = this.map.get(old);
        this.map.delete(old);
      }
    }
    this.order.push(key);
    this.map.set(key, value);
    return evicted;
  }
  delete(key: number): boolean {
    return this.map.delete(key);
  }
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

test('FifoMap behaves like a Map that forgets the oldest insertion first', () => {
  for (const capacity of [1, 2, 7, 64, 1000]) {
    const random = rng(capacity);
    const table = new FifoMap<number>(capacity);
    const ref = new ReferenceFifo(capacity);
    // Few distinct keys force collisions, re-insertions and deletions of live keys; large keys exercise doubles.
    const keySpace = capacity * 3;
    for (let step = 0; step < 20_000; step++) {
      const r = random();
      const k = Math.floor(random() * keySpace);
      const key = r < 0.5 ? k : k * 2_097_152 + 0x1234567;
      if (r < 0.15) {
        assert.equal(table.delete(key), ref.delete(key), `delete ${key} at step ${step}`);
      } else if (r < 0.6) {
        assert.equal(table.set(key, step), ref.set(key, step), `set ${key} at step ${step}`);
      } else {
        assert.equal(table.get(key), ref.map.get(key), `get ${key} at step ${step}`);
        assert.equal(table.has(key), ref.map.has(key));
      }
      assert.equal(table.size, ref.map.size);
    }
    for (const [key, value] of ref.map) assert.equal(table.get(key), value);
  }
});

test('FifoMap keeps negative, fractional and 53-bit keys apart', () => {
  const table = new FifoMap<string>(8);
  const keys = [0, -1, 0.5, 2 ** 53 - 1, 2 ** 32, 2 ** 32 + 1, -(2 ** 40)];
  keys.forEach((k, i) => table.set(k, `v${i}`));
  keys.forEach((k, i) => assert.equal(table.get(k), `v${i}`));
  assert.equal(table.get(1), undefined);
});
