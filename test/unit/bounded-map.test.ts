import assert from 'node:assert/strict';
import test from 'node:test';
import { BoundedMap } from '../../src/util/bounded-map.js';

test('BoundedMap drops the oldest insertion when full and returns it', () => {
  const m = new BoundedMap<string, number>(3);
  assert.equal(m.set('a', 1), undefined);
  m.set('b', 2);
  m.set('c', 3);
  assert.equal(m.set('a', 10), undefined, 'replacing a known key drops nothing');
  assert.equal(m.set('d', 4), 10, "'a' is still the oldest: replacing keeps the position");
  assert.deepEqual([...m.values()], [2, 3, 4]);
  assert.equal(m.has('a'), false);
  assert.equal(m.size, 3);
});

test('touch makes a key the newest; delete and shift remove', () => {
  const m = new BoundedMap<number, string>(3);
  m.set(1, 'one');
  m.set(2, 'two');
  m.set(3, 'three');
  assert.equal(m.touch(1), true);
  assert.equal(m.touch(9), false);
  assert.equal(m.set(4, 'four'), 'two');
  assert.deepEqual([...m.values()], ['three', 'one', 'four']);
  assert.equal(m.delete(1), true);
  assert.equal(m.delete(1), false);
  assert.equal(m.shift(), 'three');
  assert.deepEqual([...m.values()], ['four']);
  assert.equal(m.shift(), 'four');
  assert.equal(m.shift(), undefined);
  assert.equal(m.size, 0);
  m.set(5, 'five');
  assert.deepEqual([...m.values()], ['five']);
});

test('BoundedMap agrees with a Map plus an insertion-order list on random operations', () => {
  let seed = 7;
  const random = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  const cap = 50;
  const m = new BoundedMap<number, number>(cap);
  const ref = new Map<number, number>();
  let order: number[] = [];
  for (let step = 0; step < 50_000; step++) {
    const key = Math.floor(random() * 150);
    const r = random();
    if (r < 0.5) {
      let dropped: number | undefined;
      if (!ref.has(key) && ref.size >= cap) {
        const oldest = order.shift()!;
        dropped = ref.get(oldest);
        ref.delete(oldest);
      }
      if (!ref.has(key)) order.push(key);
      ref.set(key, step);
      assert.equal(m.set(key, step), dropped, `set ${key} at step ${step}`);
    } else if (r < 0.7) {
      const had = ref.delete(key);
      if (had) order = order.filter((k) => k !== key);
      assert.equal(m.delete(key), had);
    } else if (r < 0.85) {
      const had = ref.has(key);
      if (had) order = [...order.filter((k) => k !== key), key];
      assert.equal(m.touch(key), had);
    } else {
      assert.equal(m.get(key), ref.get(key));
    }
    assert.equal(m.size, ref.size);
  }
  assert.deepEqual([...m.values()], order.map((k) => ref.get(k)));
});

test('a loop over keys or values may delete the entry it is on', () => {
  const m = new BoundedMap<number, number>(10);
  for (let i = 0; i < 6; i++) m.set(i, i * 10);
  for (const k of m.keys()) if (k % 2 === 0) m.delete(k);
  assert.deepEqual([...m.keys()], [1, 3, 5]);
  for (const v of m.values()) if (v === 30) m.delete(3);
  assert.deepEqual([...m.values()], [10, 50]);
});
