import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { constants as zc, createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { readCapture } from '../../src/capture/reader.js';
import type { CaptureSummary, RawFrame, ReadOptions } from '../../src/capture/frame.js';
import { PcapWriter } from '../../src/capture/pcap-writer.js';
import { LINKTYPE_ETHERNET, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_RAW } from '../../src/capture/linktypes.js';

const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-reader-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileSeq = 0;
function put(data: Buffer | string, name = `f${++fileSeq}.bin`): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

interface Got {
  frameNo: number;
  fileOffset: number;
  caplen: number;
  origlen: number;
  linktype: number;
  tsSec: number;
  tsNsec: number;
  interfaceId: number;
  bytes: Buffer;
}

async function readAll(file: string, opts?: ReadOptions): Promise<{ s: CaptureSummary; frames: Got[] }> {
  const frames: Got[] = [];
  const s = await readCapture(
    file,
    (f) => {
      frames.push({
        frameNo: f.frameNo,
        fileOffset: f.fileOffset,
        caplen: f.caplen,
        origlen: f.origlen,
        linktype: f.linktype,
        tsSec: f.tsSec,
        tsNsec: f.tsNsec,
        interfaceId: f.interfaceId,
        bytes: Buffer.from(f.data.subarray(f.offset, f.offset + f.caplen)),
      });
    },
    opts,
  );
  return { s, frames };
}

// ---- builders -------------------------------------------------------------

type Endian = 'le' | 'be';

function u16(v: number, e: Endian): Buffer {
  const b = Buffer.alloc(2);
  if (e === 'le') b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}

function u32(v: number, e: Endian): Buffer {
  const b = Buffer.alloc(4);
  if (e === 'le') b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}

function i64(v: bigint, e: Endian): Buffer {
  const b = Buffer.alloc(8);
  if (e === 'le') b.writeBigInt64LE(v);
  else b.writeBigInt64BE(v);
  return b;
}

function payload(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

interface PcapRec {
  sec: number;
  frac: number;
  data: Buffer;
  origlen?: number;
}

/** Builds a classic pcap; returns the bytes and each record's offset. */
function pcap(magic: number, e: Endian, linktypeField: number, recs: PcapRec[], recExtra = 0): { buf: Buffer; offsets: number[] } {
  const parts = [u32(magic, e), u16(2, e), u16(4, e), u32(0, e), u32(0, e), u32(262144, e), u32(linktypeField, e)];
  const offsets: number[] = [];
  let off = 24;
  for (const r of recs) {
    offsets.push(off);
    const h = [u32(r.sec, e), u32(r.frac, e), u32(r.data.length, e), u32(r.origlen ?? r.data.length, e), Buffer.alloc(recExtra)];
    parts.push(...h, r.data);
    off += 16 + recExtra + r.data.length;
  }
  return { buf: Buffer.concat(parts), offsets };
}

function pad4(b: Buffer): Buffer {
  const n = (4 - (b.length % 4)) % 4;
  return n === 0 ? b : Buffer.concat([b, Buffer.alloc(n)]);
}

function block(type: number, body: Buffer, e: Endian): Buffer {
  const p = pad4(body);
  const len = 12 + p.length;
  return Buffer.concat([u32(type, e), u32(len, e), p, u32(len, e)]);
}

function shb(e: Endian): Buffer {
  return block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d, e), u16(1, e), u16(0, e), Buffer.alloc(8, 0xff)]), e);
}

function opt(code: number, value: Buffer, e: Endian): Buffer {
  return Buffer.concat([u16(code, e), u16(value.length, e), pad4(value)]);
}

function idb(e: Endian, linktype: number, snaplen: number, opts: Buffer[] = []): Buffer {
  const o = opts.length ? Buffer.concat([...opts, opt(0, Buffer.alloc(0), e)]) : Buffer.alloc(0);
  return block(1, Buffer.concat([u16(linktype, e), u16(0, e), u32(snaplen, e), o]), e);
}

function splitTs(units: bigint): [number, number] {
  return [Number(units >> 32n), Number(units & 0xffffffffn)];
}

function epb(e: Endian, ifId: number, units: bigint, data: Buffer, origlen = data.length): Buffer {
  const [hi, lo] = splitTs(units);
  return block(6, Buffer.concat([u32(ifId, e), u32(hi, e), u32(lo, e), u32(data.length, e), u32(origlen, e), data]), e);
}

function opb(e: Endian, ifId: number, units: bigint, data: Buffer, origlen = data.length): Buffer {
  const [hi, lo] = splitTs(units);
  return block(2, Buffer.concat([u16(ifId, e), u16(0, e), u32(hi, e), u32(lo, e), u32(data.length, e), u32(origlen, e), data]), e);
}

function spb(e: Endian, origlen: number, body: Buffer): Buffer {
  return block(3, Buffer.concat([u32(origlen, e), body]), e);
}

/** Concatenates blocks and returns each one's offset. */
function cat(blocks: Buffer[]): { buf: Buffer; offsets: number[] } {
  const offsets: number[] = [];
  let off = 0;
  for (const b of blocks) {
    offsets.push(off);
    off += b.length;
  }
  return { buf: Buffer.concat(blocks), offsets };
}

// ---- classic pcap -----------------------------------------------------------

const PCAP_VARIANTS: { name: string; magic: number; e: Endian; nsec: boolean }[] = [
  { name: 'a1b2c3d4 little-endian (usec)', magic: 0xa1b2c3d4, e: 'le', nsec: false },
  { name: 'a1b2c3d4 big-endian (usec)', magic: 0xa1b2c3d4, e: 'be', nsec: false },
  { name: 'a1b23c4d little-endian (nsec)', magic: 0xa1b23c4d, e: 'le', nsec: true },
  { name: 'a1b23c4d big-endian (nsec)', magic: 0xa1b23c4d, e: 'be', nsec: true },
];

for (const v of PCAP_VARIANTS) {
  test(`pcap ${v.name}: every field of every frame`, async () => {
    const recs: PcapRec[] = [
      { sec: 1700000000, frac: v.nsec ? 123456789 : 123456, data: payload(60, 1) },
      { sec: 1700000001, frac: v.nsec ? 999999999 : 999999, data: payload(1514, 2), origlen: 1514 },
      { sec: 4000000000, frac: 0, data: payload(5, 3), origlen: 9000 },
    ];
    // FCS bits in the upper half of the link-type field must be ignored.
    const { buf, offsets } = pcap(v.magic, v.e, 0x10000000 | LINKTYPE_ETHERNET, recs);
    const { s, frames } = await readAll(put(buf));
    assert.equal(s.error, undefined);
    assert.equal(s.format, 'pcap');
    assert.equal(s.compressed, false);
    assert.equal(s.frames, 3);
    assert.equal(frames.length, 3);
    frames.forEach((f, i) => {
      assert.equal(f.frameNo, i + 1);
      assert.equal(f.fileOffset, offsets[i]);
      assert.equal(f.caplen, recs[i].data.length);
      assert.equal(f.origlen, recs[i].origlen ?? recs[i].data.length);
      assert.equal(f.linktype, LINKTYPE_ETHERNET);
      assert.equal(f.interfaceId, 0);
      assert.equal(f.tsSec, recs[i].sec);
      assert.equal(f.tsNsec, v.nsec ? recs[i].frac : recs[i].frac * 1000);
      assert.deepEqual(f.bytes, recs[i].data);
    });
  });
}

test('pcap: Kuznetzov modified format (a1b2cd34, 24-byte record headers)', async () => {
  const recs = [
    { sec: 10, frac: 5, data: payload(40, 1) },
    { sec: 11, frac: 6, data: payload(41, 2) },
  ];
  const { buf, offsets } = pcap(0xa1b2cd34, 'le', LINKTYPE_ETHERNET, recs, 8);
  const { s, frames } = await readAll(put(buf));
  assert.equal(s.error, undefined);
  assert.deepEqual(frames.map((f) => f.fileOffset), offsets);
  assert.deepEqual(frames.map((f) => f.bytes), recs.map((r) => r.data));
  assert.equal(frames[1].tsNsec, 6000);
});

test('pcap: header only means zero frames and no error', async () => {
  const { s, frames } = await readAll(put(pcap(0xa1b2c3d4, 'le', LINKTYPE_RAW, []).buf));
  assert.equal(s.error, undefined);
  assert.equal(s.format, 'pcap');
  assert.equal(s.frames, 0);
  assert.equal(frames.length, 0);
});

test('firstFrameNo continues numbering; one RawFrame object is reused without copying', async () => {
  const recs = Array.from({ length: 50 }, (_, i) => ({ sec: i, frac: 0, data: payload(100 + i, i) }));
  const file = put(pcap(0xa1b2c3d4, 'le', LINKTYPE_ETHERNET, recs).buf);
  const seen = new Set<RawFrame>();
  const buffers = new Set<Buffer>();
  const nos: number[] = [];
  const s = await readCapture(
    file,
    (f) => {
      seen.add(f);
      buffers.add(f.data);
      nos.push(f.frameNo);
      assert.ok(f.data.length > f.caplen, 'data should be the working buffer, not a per-frame slice');
    },
    { firstFrameNo: 101 },
  );
  assert.equal(s.frames, 50);
  assert.equal(seen.size, 1);
  assert.equal(buffers.size, 1);
  assert.deepEqual(nos, Array.from({ length: 50 }, (_, i) => 101 + i));
});

// ---- pcapng -------------------------------------------------------------------

test('pcapng timestamps: every resolution splits 64-bit counts exactly, on both sides of 2^53', async () => {
  // Resolutions: microseconds (default), milliseconds, nanoseconds, 2^-20 s, 2^-30 s, 10^-7 s.
  const resolutions: { tsresol: number | undefined; perSec: bigint }[] = [
    { tsresol: undefined, perSec: 1_000_000n },
    { tsresol: 3, perSec: 1_000n },
    { tsresol: 9, perSec: 1_000_000_000n },
    { tsresol: 0x80 | 20, perSec: 1n << 20n },
    { tsresol: 0x80 | 30, perSec: 1n << 30n },
    { tsresol: 7, perSec: 10_000_000n },
  ];
  let seed = 12345;
  const rand32 = (): bigint => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return BigInt(seed);
  };
  const counts: bigint[] = [0n, 1n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, (0x1fffffn << 32n) | 0xffffffffn, 0x200000n << 32n];
  for (let i = 0; i < 40; i++) counts.push(((rand32() & 0x3fffffn) << 32n) | rand32());
  const blocks: Buffer[] = [shb('le')];
  for (const r of resolutions) blocks.push(idb('le', LINKTYPE_ETHERNET, 0, r.tsresol === undefined ? [] : [opt(9, Buffer.from([r.tsresol]), 'le')]));
  const want: [number, number][] = [];
  for (let k = 0; k < resolutions.length; k++) {
    const per = resolutions[k]!.perSec;
    // The last unit before a whole second, at the largest seconds below 2^53 units: where one division rounds up.
    const q = (1n << 53n) / per - 1n;
    for (const c of [...counts, q * per + per - 1n, (q - 12345n) * per + per - 1n]) {
      blocks.push(epb('le', k, c, payload(14, k)));
      want.push([Number(c / per), Number(((c % per) * 1_000_000_000n) / per)]);
    }
  }
  const { s, frames } = await readAll(put(cat(blocks).buf));
  assert.equal(s.error, undefined);
  assert.deepEqual(
    frames.map((f) => [f.tsSec, f.tsNsec]),
    want,
  );
});

test('pcapng: two sections, mixed byte order, interfaces with different link types and tsresol, SPB, OPB, skipped blocks', async () => {
  const E1: Endian = 'le';
  const E2: Endian = 'be';
  const d = (n: number, seed: number): Buffer => payload(n, seed);
  const blocks = [
    shb(E1),
    block(4, Buffer.from([0, 0, 0, 0]), E1), // NRB, skipped
    // if0: Ethernet, microseconds (default), snaplen 64, if_tsoffset 1000 s
    idb(E1, LINKTYPE_ETHERNET, 64, [opt(14, i64(1000n, E1), E1)]),
    // if1: raw IP, nanoseconds (if_tsresol 9), no snaplen
    idb(E1, LINKTYPE_RAW, 0, [opt(2, Buffer.from('eth0'), E1), opt(9, Buffer.from([9]), E1)]),
    epb(E1, 0, 1700000000_654321n, d(60, 1)), // frame 1
    epb(E1, 1, 1700000000_123456789n, d(61, 2), 1500), // frame 2
    block(0x40000bad, Buffer.from('custom block content'), E1), // custom, skipped
    spb(E1, 100, d(100, 3)), // frame 3: caplen = snaplen 64
    spb(E1, 30, d(30, 4)), // frame 4: caplen = origlen 30
    spb(E1, 200, d(48, 5)), // frame 5: caplen = body 48
    opb(E1, 1, 5_000000007n, d(33, 6)), // frame 6
    block(5, Buffer.alloc(20), E1), // ISB, skipped
    shb(E2),
    // section 2 resets interfaces: if0 Linux SLL with 2^-20 s units
    idb(E2, LINKTYPE_LINUX_SLL, 65535, [opt(9, Buffer.from([0x80 | 20]), E2)]),
    // if1: IPv6 with milliseconds
    idb(E2, LINKTYPE_IPV6, 65535, [opt(9, Buffer.from([3]), E2)]),
    // if2: Ethernet with picoseconds (beyond the fast path)
    idb(E2, LINKTYPE_ETHERNET, 65535, [opt(9, Buffer.from([12]), E2)]),
    epb(E2, 1, 1700000000_250n, d(70, 7)), // frame 7
    epb(E2, 0, (1234n << 20n) | 524288n, d(71, 8)), // frame 8: 1234.5 s
    epb(E2, 2, 12345678_123456789012n, d(72, 9)), // frame 9: 64-bit picoseconds only span ~213 days
    block(0x0bad, Buffer.alloc(0), E2), // empty unknown block, skipped
  ];
  const { buf, offsets } = cat(blocks);
  const off = (i: number): number => offsets[i];
  const { s, frames } = await readAll(put(buf));
  assert.equal(s.error, undefined);
  assert.equal(s.format, 'pcapng');
  assert.equal(s.compressed, false);
  assert.equal(s.frames, 9);
  const want: Omit<Got, 'bytes'>[] = [
    { frameNo: 1, fileOffset: off(4), caplen: 60, origlen: 60, linktype: LINKTYPE_ETHERNET, tsSec: 1700001000, tsNsec: 654321000, interfaceId: 0 },
    { frameNo: 2, fileOffset: off(5), caplen: 61, origlen: 1500, linktype: LINKTYPE_RAW, tsSec: 1700000000, tsNsec: 123456789, interfaceId: 1 },
    { frameNo: 3, fileOffset: off(7), caplen: 64, origlen: 100, linktype: LINKTYPE_ETHERNET, tsSec: 0, tsNsec: 0, interfaceId: 0 },
    { frameNo: 4, fileOffset: off(8), caplen: 30, origlen: 30, linktype: LINKTYPE_ETHERNET, tsSec: 0, tsNsec: 0, interfaceId: 0 },
    { frameNo: 5, fileOffset: off(9), caplen: 48, origlen: 200, linktype: LINKTYPE_ETHERNET, tsSec: 0, tsNsec: 0, interfaceId: 0 },
    { frameNo: 6, fileOffset: off(10), caplen: 33, origlen: 33, linktype: LINKTYPE_RAW, tsSec: 5, tsNsec: 7, interfaceId: 1 },
    { frameNo: 7, fileOffset: off(16), caplen: 70, origlen: 70, linktype: LINKTYPE_IPV6, tsSec: 1700000000, tsNsec: 250000000, interfaceId: 1 },
    { frameNo: 8, fileOffset: off(17), caplen: 71, origlen: 71, linktype: LINKTYPE_LINUX_SLL, tsSec: 1234, tsNsec: 500000000, interfaceId: 0 },
    { frameNo: 9, fileOffset: off(18), caplen: 72, origlen: 72, linktype: LINKTYPE_ETHERNET, tsSec: 12345678, tsNsec: 123456789, interfaceId: 2 },
  ];
  assert.deepEqual(
    frames.map(({ bytes: _bytes, ...rest }) => rest),
    want,
  );
  const dataOf = [d(60, 1), d(61, 2), d(64, 3), d(30, 4), d(48, 5), d(33, 6), d(70, 7), d(71, 8), d(72, 9)];
  frames.forEach((f, i) => assert.deepEqual(f.bytes, dataOf[i], `frame ${i + 1} bytes`));
});

test('pcapng: blocks larger than the read chunk, and large skipped blocks, raw and gzip', async () => {
  const big = payload(3 * 1024 * 1024 + 3, 42);
  const { buf } = cat([
    shb('le'),
    idb('le', LINKTYPE_ETHERNET, 0),
    epb('le', 0, 1n, payload(100, 1)),
    block(0x0bad, Buffer.alloc(5 * 1024 * 1024, 1), 'le'),
    epb('le', 0, 2n, big),
    epb('le', 0, 3n, payload(100, 3)),
  ]);
  for (const [name, data] of [
    ['raw', buf],
    ['gzip', gzipSync(buf)],
  ] as const) {
    const { s, frames } = await readAll(put(data));
    assert.equal(s.error, undefined, name);
    assert.equal(s.compressed, name === 'gzip');
    assert.equal(frames.length, 3, name);
    assert.deepEqual(frames[1].bytes, big, name);
    assert.deepEqual(frames[2].bytes, payload(100, 3), name);
  }
});

test('gzip of pcap and of pcapng: same frames, compressed flag set', async () => {
  const recs = Array.from({ length: 20 }, (_, i) => ({ sec: 100 + i, frac: i, data: payload(200 + i, i) }));
  const p = pcap(0xa1b2c3d4, 'be', LINKTYPE_ETHERNET, recs);
  const plain = await readAll(put(p.buf));
  const gz = await readAll(put(gzipSync(p.buf)));
  assert.equal(gz.s.error, undefined);
  assert.equal(gz.s.compressed, true);
  assert.equal(gz.s.format, 'pcap');
  assert.deepEqual(gz.frames, plain.frames);

  const ng = cat([shb('be'), idb('be', LINKTYPE_RAW, 0), epb('be', 0, 5n, payload(99, 1)), epb('be', 0, 6n, payload(98, 2))]);
  const gzng = await readAll(put(gzipSync(ng.buf), 'capture.pcap'));
  assert.equal(gzng.s.error, undefined);
  assert.equal(gzng.s.compressed, true);
  assert.equal(gzng.s.format, 'pcapng');
  assert.deepEqual(gzng.frames.map((f) => f.fileOffset), [ng.offsets[2], ng.offsets[3]]);
  assert.deepEqual(gzng.frames[1].bytes, payload(98, 2));
});

test('content decides the format, not the file name', async () => {
  const ng = cat([shb('le'), idb('le', LINKTYPE_RAW, 0), epb('le', 0, 5n, payload(20, 1))]);
  const { s } = await readAll(put(ng.buf, 'misleading.pcap.gz'));
  assert.equal(s.format, 'pcapng');
  assert.equal(s.compressed, false);
  assert.equal(s.frames, 1);
});

// ---- malformed input --------------------------------------------------------

function assertError(s: CaptureSummary, offset: number, reason: RegExp): void {
  assert.ok(s.error, 'expected summary.error');
  assert.equal(s.error.name, 'CaptureError');
  assert.equal(s.error.file, s.file);
  assert.match(s.error.reason, reason);
  assert.equal(s.error.offset, offset, `offset for "${s.error.reason}"`);
}

const threeRecs = (): PcapRec[] => [
  { sec: 1, frac: 1, data: payload(100, 1) },
  { sec: 2, frac: 2, data: payload(200, 2) },
  { sec: 3, frac: 3, data: payload(300, 3) },
];

test('malformed: empty file', async () => {
  const { s, frames } = await readAll(put(Buffer.alloc(0)));
  assertError(s, 0, /^empty file$/);
  assert.equal(s.format, 'unknown');
  assert.equal(frames.length, 0);
});

test('malformed: 10-byte file (start of a pcap header)', async () => {
  const { s, frames } = await readAll(put(pcap(0xa1b2c3d4, 'le', 1, []).buf.subarray(0, 10)));
  assertError(s, 0, /truncated pcap file header: 10 of 24 bytes/);
  assert.equal(s.format, 'pcap');
  assert.equal(frames.length, 0);
});

test('malformed: 3-byte file', async () => {
  const { s } = await readAll(put(Buffer.from([1, 2, 3])));
  assertError(s, 0, /too short.*3 bytes/);
});

test('malformed: HTML instead of a capture', async () => {
  const { s, frames } = await readAll(put('<!DOCTYPE html><html><body>404</body></html>\n'));
  assertError(s, 0, /^not a capture file \(starts with 3c 21 44 4f\)$/);
  assert.equal(s.format, 'unknown');
  assert.equal(frames.length, 0);
});

test('malformed: truncated file header (pcap 23 bytes, pcapng SHB cut short)', async () => {
  const a = await readAll(put(pcap(0xa1b23c4d, 'be', 1, []).buf.subarray(0, 23)));
  assertError(a.s, 0, /truncated pcap file header: 23 of 24 bytes/);
  const b = await readAll(put(shb('le').subarray(0, 20)));
  assertError(b.s, 0, /truncated block: length 28, 20 bytes remain/);
  assert.equal(b.s.format, 'pcapng');
});

test('malformed: truncated record header keeps earlier frames', async () => {
  const { buf, offsets } = pcap(0xa1b2c3d4, 'le', 1, threeRecs());
  const { s, frames } = await readAll(put(buf.subarray(0, offsets[2] + 10)));
  assertError(s, offsets[2], /truncated record header: 10 of 16 bytes/);
  assert.equal(s.frames, 2);
  assert.deepEqual(frames.map((f) => f.bytes), [payload(100, 1), payload(200, 2)]);
});

test('malformed: truncated record body keeps earlier frames', async () => {
  const { buf, offsets } = pcap(0xa1b2c3d4, 'be', 1, threeRecs());
  const { s, frames } = await readAll(put(buf.subarray(0, offsets[2] + 16 + 120)));
  assertError(s, offsets[2], /^truncated record: header says 300 bytes, 120 remain$/);
  assert.equal(frames.length, 2);
});

test('malformed: caplen of 4 GiB is reported, not allocated', async () => {
  const { buf, offsets } = pcap(0xa1b2c3d4, 'le', 1, threeRecs());
  buf.writeUInt32LE(0xffffffff, offsets[1] + 8);
  const { s, frames } = await readAll(put(buf));
  assertError(s, offsets[1], /caplen 4294967295 exceeds the 262144-byte limit/);
  assert.equal(frames.length, 1);
});

function ngWithBadBlock(bad: Buffer): { buf: Buffer; badOffset: number } {
  const { buf, offsets } = cat([shb('le'), idb('le', 1, 0), epb('le', 0, 1n, payload(50, 1)), bad, epb('le', 0, 2n, payload(50, 2))]);
  return { buf, badOffset: offsets[3] };
}

test('malformed: pcapng block length not a multiple of 4', async () => {
  const bad = epb('le', 0, 1n, payload(50, 1));
  bad.writeUInt32LE(bad.length + 2, 4);
  const { buf, badOffset } = ngWithBadBlock(bad);
  const { s, frames } = await readAll(put(buf));
  assertError(s, badOffset, new RegExp(`^pcapng block length ${bad.length + 2} is not a multiple of 4$`));
  assert.equal(frames.length, 1);
});

test('malformed: pcapng block length smaller than 12', async () => {
  const { buf, badOffset } = ngWithBadBlock(Buffer.concat([u32(6, 'le'), u32(8, 'le'), u32(8, 'le')]));
  const { s, frames } = await readAll(put(buf));
  assertError(s, badOffset, /block length 8 is less than 12/);
  assert.equal(frames.length, 1);
});

test('malformed: pcapng block length above 16 MiB', async () => {
  const { buf, badOffset } = ngWithBadBlock(Buffer.concat([u32(6, 'le'), u32(0x7ffffffc, 'le'), u32(0, 'le')]));
  const { s, frames } = await readAll(put(buf));
  assertError(s, badOffset, /block length 2147483644 exceeds/);
  assert.equal(frames.length, 1);
});

test('malformed: a pcapng block running past the end of the file keeps earlier frames (packet and skipped blocks)', async () => {
  for (const type of [6, 0x0bad]) {
    const { buf, offsets } = cat([shb('le'), idb('le', 1, 0), epb('le', 0, 1n, payload(50, 1)), Buffer.concat([u32(type, 'le'), u32(1 << 20, 'le'), Buffer.alloc(32)])]);
    const { s, frames } = await readAll(put(buf));
    assertError(s, offsets[3], /^truncated block: length 1048576, 40 bytes remain$/);
    assert.deepEqual(frames.map((f) => f.bytes), [payload(50, 1)]);
  }
});

test('malformed: pcapng trailing length mismatch (packet block and skipped block)', async () => {
  for (const type of [6, 0x0bad]) {
    const bad = type === 6 ? epb('le', 0, 1n, payload(50, 1)) : block(type, Buffer.alloc(16), 'le');
    bad.writeUInt32LE(bad.length + 4, bad.length - 4);
    const { buf, badOffset } = ngWithBadBlock(bad);
    const { s, frames } = await readAll(put(buf));
    assertError(s, badOffset, new RegExp(`trailing length ${bad.length + 4} does not match leading length ${bad.length}`));
    assert.equal(frames.length, 1);
  }
});

test('malformed: EPB before any IDB', async () => {
  const { buf, offsets } = cat([shb('le'), epb('le', 0, 1n, payload(10, 1))]);
  const { s, frames } = await readAll(put(buf));
  assertError(s, offsets[1], /names interface 0 but the section declares 0 interface/);
  assert.equal(frames.length, 0);
});

test('malformed: EPB naming an undeclared interface, including one from a previous section', async () => {
  const a = cat([shb('le'), idb('le', 1, 0), epb('le', 0, 1n, payload(10, 1)), epb('le', 3, 1n, payload(10, 1))]);
  const ra = await readAll(put(a.buf));
  assertError(ra.s, a.offsets[3], /names interface 3 but the section declares 1 interface/);
  assert.equal(ra.frames.length, 1);
  // A new section header resets the interface list.
  const b = cat([shb('le'), idb('le', 1, 0), idb('le', 1, 0), epb('le', 1, 1n, payload(10, 1)), shb('be'), idb('be', 1, 0), epb('be', 1, 1n, payload(10, 1))]);
  const rb = await readAll(put(b.buf));
  assertError(rb.s, b.offsets[6], /names interface 1 but the section declares 1 interface/);
  assert.equal(rb.frames.length, 1);
});

test('malformed: EPB captured length larger than its block', async () => {
  const bad = epb('le', 0, 1n, payload(52, 1));
  bad.writeUInt32LE(400, 20);
  const { buf, badOffset } = ngWithBadBlock(bad);
  const { s } = await readAll(put(buf));
  assertError(s, badOffset, /captured length 400 exceeds its block body \(52 bytes\)/);
});

test('malformed: truncated gzip keeps the frames before the cut', async () => {
  // Incompressible payloads so the cut lands mid-stream.
  const recs = Array.from({ length: 200 }, (_, i) => ({ sec: i, frac: 0, data: Buffer.from(Array.from({ length: 500 }, () => Math.floor(Math.random() * 256))) }));
  const { buf, offsets } = pcap(0xa1b2c3d4, 'le', 1, recs);
  const gz = gzipSync(buf);
  const cut = gz.subarray(0, Math.floor(gz.length * 0.6));
  const partial = gunzipSync(cut, { finishFlush: zc.Z_SYNC_FLUSH });
  const complete = offsets.filter((o, i) => o + 16 + recs[i].data.length <= partial.length).length;
  assert.ok(complete > 50);
  const { s, frames } = await readAll(put(cut));
  assertError(s, partial.length, /gzip data is truncated.*decompressed/);
  assert.equal(s.compressed, true);
  assert.equal(s.format, 'pcap');
  assert.equal(frames.length, complete);
  frames.forEach((f, i) => assert.deepEqual(f.bytes, recs[i].data));
});

test('malformed: gzip of garbage, and gzip of a non-capture', async () => {
  const a = await readAll(put(Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('this is not deflate data at all '.repeat(4))])));
  assertError(a.s, 0, /gzip data is corrupt.*decompressed/);
  assert.equal(a.s.compressed, true);
  assert.equal(a.s.format, 'unknown');
  const b = await readAll(put(gzipSync(Buffer.from('<html></html>'))));
  assertError(b.s, 0, /not a capture file \(starts with 3c 68 74 6d\).*decompressed/);
  const c = await readAll(put(gzipSync(Buffer.alloc(0))));
  assertError(c.s, 0, /empty file.*decompressed/);
});

test('malformed: truncated record inside gzip reports a decompressed offset', async () => {
  const { buf, offsets } = pcap(0xa1b2c3d4, 'le', 1, threeRecs());
  const { s, frames } = await readAll(put(gzipSync(buf.subarray(0, offsets[2] + 20))));
  assertError(s, offsets[2], /truncated record: header says 300 bytes, 4 remain \(offset in decompressed data\)/);
  assert.equal(frames.length, 2);
});

test('malformed: nonexistent path and a directory', async () => {
  const a = await readAll(join(dir, 'does-not-exist.pcap'));
  assertError(a.s, 0, /cannot open file \(ENOENT/);
  assert.equal(a.s.format, 'unknown');
  assert.equal(a.s.frames, 0);
  const sub = join(dir, 'a-directory');
  mkdirSync(sub);
  const b = await readAll(sub);
  assertError(b.s, 0, /EISDIR/);
});

test('an exception thrown by onFrame propagates (it is a caller bug, not an input problem)', async () => {
  const file = put(pcap(0xa1b2c3d4, 'le', 1, threeRecs()).buf);
  await assert.rejects(
    readCapture(file, () => {
      throw new RangeError('boom');
    }),
    /boom/,
  );
});

// ---- large input: bounded memory, progress --------------------------------------

async function checkLargeFile(file: string, frameCount: number, compressed: boolean): Promise<string> {
  const size = statSync(file).size;
  const rss0 = process.memoryUsage.rss();
  let peak = rss0;
  const progress: [number, number][] = [];
  let bad = 0;
  const s = await readCapture(
    file,
    (f) => {
      const idx = f.frameNo - 1;
      const len = 60 + ((idx * 7919) % 1455);
      if (f.caplen !== len || f.data.readUInt32BE(f.offset) !== idx || f.data[f.offset + len - 1] !== (idx & 0xff)) bad++;
      if ((idx & 4095) === 0) peak = Math.max(peak, process.memoryUsage.rss());
    },
    { onProgress: (done, total) => progress.push([done, total]) },
  );
  peak = Math.max(peak, process.memoryUsage.rss());
  assert.equal(s.error, undefined);
  assert.equal(s.compressed, compressed);
  assert.equal(s.frames, frameCount);
  assert.equal(bad, 0, 'frames with wrong content');
  const growthMB = (peak - rss0) / 1e6;
  assert.ok(growthMB < 100, `rss grew by ${growthMB.toFixed(1)} MB`);
  // Progress: monotonic, about every 4 MiB, ending at the file size.
  assert.ok(progress.length >= 1);
  assert.ok(progress.length <= Math.ceil(size / (4 << 20)) + 1, `${progress.length} progress calls for ${size} bytes`);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i][0] - progress[i - 1][0] >= 4 << 20 || i === progress.length - 1);
  assert.deepEqual(progress[progress.length - 1], [size, size]);
  return `${(size / 1e6).toFixed(1)} MB ${compressed ? 'gzip' : 'pcap'}, ${frameCount} frames: rss grew ${growthMB.toFixed(1)} MB, ${progress.length} progress calls`;
}

test('a ~50 MB pcap streams with bounded memory (raw and gzip)', async (t) => {
  const file = join(dir, 'big.pcap');
  const w = new PcapWriter(file, LINKTYPE_ETHERNET);
  const frame = Buffer.alloc(1514);
  for (let i = 0; i < frame.length; i++) frame[i] = i & 0xff;
  let n = 0;
  for (let written = 24; written < 50e6; n++) {
    const len = 60 + ((n * 7919) % 1455);
    frame.writeUInt32BE(n, 0);
    frame[len - 1] = n & 0xff;
    w.write(frame, 1.7e15 + n, len, 0, len);
    frame[len - 1] = (len - 1) & 0xff;
    written += 16 + len;
  }
  w.close();
  t.diagnostic(await checkLargeFile(file, n, false));
  const gzFile = join(dir, 'big.pcap.gz');
  await pipeline(createReadStream(file), createGzip({ level: 1 }), createWriteStream(gzFile));
  rmSync(file);
  t.diagnostic(await checkLargeFile(gzFile, n, true));
});

// ---- shared corpus cross-checked with tcpdump -------------------------------------

const CORPUS = '/work/shared/corpus/pcap';

/** Packet count according to tcpdump, or undefined when tcpdump reports a problem with the file. */
function tcpdumpCount(file: string): number | undefined {
  // --count (tcpdump >= 4.99) counts packets; `wc -l` over decoded output
  // overcounts, since some printers (VXLAN, for one) use two lines per packet.
  const r = spawnSync('tcpdump', ['--count', '-n', '-r', file], { encoding: 'utf8' });
  const m = /^(\d+) packets?$/m.exec(r.stdout ?? '');
  if (r.status === 0 && m) return Number(m[1]);
  if (r.status !== 0 && /unrecognized option|invalid option/.test(r.stderr ?? '')) {
    // Older tcpdump: count lines that start with a -tt timestamp.
    const o = spawnSync('tcpdump', ['-n', '-tt', '-r', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (o.status !== 0) return undefined;
    return (o.stdout.match(/^\d+\.\d+ /gm) ?? []).length;
  }
  return undefined;
}

test('corpus: frame counts match tcpdump', async (t) => {
  if (!existsSync(CORPUS)) {
    t.skip(`skipped: ${CORPUS} does not exist`);
    return;
  }
  const probe = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    t.skip(`skipped: tcpdump is not on PATH (${probe.error.message})`);
    return;
  }
  const files = readdirSync(CORPUS)
    .filter((n) => /\.pcap(ng)?$/.test(n))
    .sort();
  assert.ok(files.length > 0, `no *.pcap/*.pcapng files in ${CORPUS}`);
  for (const name of files) {
    await t.test(name, async (st) => {
      const file = join(CORPUS, name);
      const expected = tcpdumpCount(file);
      if (expected === undefined) {
        st.skip('tcpdump could not read this file, so there is nothing to compare with');
        return;
      }
      let n = 0;
      const s = await readCapture(file, () => {
        n++;
      });
      assert.equal(s.error, undefined);
      assert.equal(n, expected);
      assert.equal(s.frames, expected);
    });
  }
});
