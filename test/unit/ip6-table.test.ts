import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv6Bytes } from '../../src/craft/frames.js';
import { ip6ToString } from '../../src/decode/addr.js';
import { fnv1a } from '../../src/decode/dns.js';
import { Ip6Table } from '../../src/util/ip6-table.js';

const addr = (i: number): Buffer => ipv6Bytes(`fd00::${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}`);

test('ip6 table: the oldest address is forgotten first, values go with it, and a returning address gets its old key', () => {
  const t = new Ip6Table<string>(3, 4);
  const slots = [0, 1, 2].map((i) => t.intern(addr(i), 0));
  const keys = slots.map((s) => t.keyAt(s));
  slots.forEach((s, i) => t.setValue(s, `v${i}`));
  assert.equal(t.intern(addr(1), 0), slots[1], 'a known address keeps its slot');
  assert.equal(t.textAt(slots[2]!), 'fd00::2');
  assert.equal(t.wordAt(slots[2]!, 3), 2);
  t.intern(addr(3), 0);
  assert.equal(t.size, 3);
  assert.equal(t.find(addr(0), 0), -1, 'the least recently added is forgotten');
  assert.equal(t.valueAt(t.find(addr(1), 0)), 'v1');
  const back = t.intern(addr(0), 0);
  assert.equal(t.keyAt(back), keys[0], 'same key as before');
  assert.equal(t.valueAt(back), undefined, 'a forgotten value does not come back');
  assert.equal(t.slotOf(keys[1]!), -1, 'the next oldest made room');
});

test('ip6 table: refresh moves an older entry to the newest end, with its value; pinned entries are never forgotten', () => {
  const t = new Ip6Table<number>(4, 4, 2);
  const pinned = t.pin(addr(100), 0);
  assert.equal(t.pin(addr(100), 0), pinned, 'pinning twice is one entry');
  const s0 = t.intern(addr(0), 0);
  t.setValue(s0, 42);
  for (let i = 1; i < 4; i++) t.intern(addr(i), 0);
  const key0 = t.keyAt(s0);
  const moved = t.refresh(s0);
  assert.equal(t.keyAt(moved), key0);
  assert.equal(t.valueAt(moved), 42);
  assert.equal(t.refresh(moved), moved, 'the newest entry stays where it is');
  t.intern(addr(4), 0);
  assert.notEqual(t.find(addr(0), 0), -1, 'the refreshed address survives');
  assert.equal(t.find(addr(1), 0), -1, 'the oldest unrefreshed one went');
  for (let i = 10; i < 1000; i++) t.intern(addr(i), 0);
  assert.equal(t.find(addr(100), 0), pinned);
  assert.equal(t.refresh(pinned), pinned);
  assert.equal(t.size, 5);
  t.pin(addr(101), 0);
  assert.equal(t.pin(addr(102), 0), -1, 'no pinned slot left');
});

test('ip6 table: addresses with the same hash are told apart by their bytes, and given up on past the probes', () => {
  // Two addresses whose FNV-1a hashes collide, found by a birthday search.
  const spread = (i: number): Buffer => {
    const x = Buffer.from(ipv6Bytes('fd00::'));
    x.writeUInt32BE(i, 4);
    x.writeUInt32BE(Math.imul(i, 0x9e3779b1) >>> 0, 12);
    return x;
  };
  const seen = new Map<number, number>();
  let pair: [number, number] | undefined;
  for (let i = 0; !pair && i < 4_000_000; i++) {
    const h = fnv1a(spread(i), 0, 16);
    const j = seen.get(h);
    if (j !== undefined) pair = [j, i];
    else seen.set(h, i);
  }
  assert.ok(pair, 'a colliding pair');
  const [a, b] = pair.map(spread) as [Buffer, Buffer];
  const one = new Ip6Table(8, 1);
  assert.notEqual(one.intern(a, 0), -1);
  assert.equal(one.intern(b, 0), -1, 'its only key is taken');
  assert.equal(one.find(b, 0), -1, 'a hit on the hash alone is not a match');
  const two = new Ip6Table(8, 2);
  const sa = two.intern(a, 0);
  const sb = two.intern(b, 0);
  assert.notEqual(sb, -1);
  assert.equal(two.keyAt(sb), (two.keyAt(sa) + 1) >>> 0, 'the next key');
  assert.equal(two.find(a, 0), sa);
  assert.equal(two.find(b, 0), sb);
  assert.equal(two.textAt(sb), ip6ToString(b, 0));
});
