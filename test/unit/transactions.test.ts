import assert from 'node:assert/strict';
import test from 'node:test';
import { Layout, MAX_KEPT_ADDRESSES, MAX_SERVERS_PER_QUERY, TransactionTable } from '../../src/analyzers/name-resolution/transactions.js';
import { ip6ToString } from '../../src/decode/addr.js';

const CAPACITY = 300;

/** Fills transaction `k` with values derived from k, so any mix-up of rows shows. */
function fill(table: TransactionTable, k: number): void {
  const t = table.add(k * 7 + 1);
  t.clientIp = 1e9 + k;
  t.clientPort = k % 65536;
  t.id = (k * 31) % 65536;
  t.nameHash = (k * 2654435761) >>> 0;
  t.time = 1_700_000_000_000 + k;
  t.clientMac = 0x020000000000 + k;
  t.queryFlags = 0x0100 | (k % 2) * 0x8000;
  t.queryAr = 65535 - (k % 3);
  t.queryLen = (k * 17 + 12) % 65536;
  t.queryVlan = 4095 - (k % 4096);
  // Set before the first answer's shape, which must keep it.
  t.firstIdentity = (k % 5) - 1;
  for (let s = 0; s < MAX_SERVERS_PER_QUERY + 2; s++) t.addServer(k + (s % 3));
  t.answered = k % 2 === 0;
  t.raced = k % 3 === 0;
  t.setFirst({ src: k + 5, mac: 0x0200000000ff + k, ipTtl: 255 - (k % 2), df: k % 2 === 1, flags: 0xffff - (k % 2), arCount: 65535 - (k % 2), layout: Layout.Bettercap, recordTtl: 300 + k });
  for (let a = 0; a <= MAX_KEPT_ADDRESSES; a++) {
    t.addFirstAddr4(k + a);
    t.addFirstAddr6(addr6(k, a), 0);
  }
}

function addr6(k: number, a: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(0xfd000000, 0);
  b[11] = a;
  b.writeUInt32BE(k, 12);
  return b;
}

function check(table: TransactionTable, k: number): void {
  const t = table.get(k * 7 + 1);
  assert.ok(t, `transaction ${k} is missing`);
  assert.equal(t.clientIp, 1e9 + k);
  assert.equal(t.clientPort, k % 65536);
  assert.equal(t.id, (k * 31) % 65536);
  assert.equal(t.nameHash, (k * 2654435761) >>> 0);
  assert.equal(t.time, 1_700_000_000_000 + k);
  assert.equal(t.clientMac, 0x020000000000 + k);
  assert.equal(t.relayMac, -1, 'a new transaction has no relay');
  assert.equal(t.queryFlags, 0x0100 | (k % 2) * 0x8000);
  assert.equal(t.queryAr, 65535 - (k % 3));
  assert.equal(t.queryLen, (k * 17 + 12) % 65536);
  assert.equal(t.queryVlan, 4095 - (k % 4096));
  assert.equal(t.firstIdentity, (k % 5) - 1);
  // Distinct servers only: k, k+1, k+2.
  assert.deepEqual(t.servers(), [k, k + 1, k + 2]);
  assert.ok(t.hasServer(k + 2) && !t.hasServer(k + 3));
  assert.equal(t.answered, k % 2 === 0);
  assert.equal(t.raced, k % 3 === 0);
  assert.equal(t.taught, false);
  assert.deepEqual(t.firstShape(), { src: k + 5, mac: 0x0200000000ff + k, ipTtl: 255 - (k % 2), df: k % 2 === 1, flags: 0xffff - (k % 2), arCount: 65535 - (k % 2), layout: Layout.Bettercap, recordTtl: 300 + k });
  assert.equal(t.firstIpTtl, 255 - (k % 2));
  assert.deepEqual(t.firstAddr4(), [k, k + 1, k + 2, k + 3]);
  assert.deepEqual(
    t.firstAddr6Texts(),
    [0, 1, 2, 3].map((a) => ip6ToString(addr6(k, a), 0)),
  );
}

test('transaction rows keep every field apart while the table grows, and the oldest row is reused once full', () => {
  const table = new TransactionTable(CAPACITY);
  for (let k = 0; k < CAPACITY; k++) fill(table, k);
  assert.equal(table.size, CAPACITY);
  for (let k = 0; k < CAPACITY; k++) check(table, k);
  // Full: each new transaction forgets the oldest, and gets a clean row.
  for (let k = CAPACITY; k < CAPACITY + 50; k++) {
    fill(table, k);
    assert.equal(table.get((k - CAPACITY) * 7 + 1), undefined, `transaction ${k - CAPACITY} should be forgotten`);
  }
  assert.equal(table.size, CAPACITY);
  for (let k = 50; k < CAPACITY + 50; k++) check(table, k);
});

test('reset clears a reused row, lists included', () => {
  const table = new TransactionTable(4);
  fill(table, 9);
  const t = table.get(9 * 7 + 1)!;
  t.relayMac = 0x02aa;
  t.reset();
  assert.deepEqual([t.servers(), t.firstAddr4(), t.firstAddr6Texts()], [[], [], []]);
  assert.equal(t.answered || t.raced || t.taught || t.firstDf, false);
  assert.equal(t.relayMac, -1);
  assert.equal(t.firstIdentity, -1);
  assert.deepEqual([t.clientPort, t.id, t.queryFlags, t.queryAr, t.queryLen, t.queryVlan, t.firstIpTtl], [0, 0, 0, 0, 0, 0, 0]);
});
