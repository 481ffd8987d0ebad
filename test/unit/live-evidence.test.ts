// The evidence ring of live capture and the evidence pcaps written from it:
// the ring keeps exactly the newest frames within both caps, byte for byte,
// and a finding's evidence file holds its referenced frames (read back with
// the project's own reader) and is bounded.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newRawFrame, type RawFrame } from '../../src/capture/frame.js';
import { LINKTYPE_ETHERNET } from '../../src/capture/linktypes.js';
import { EvidenceStore } from '../../src/capture/live/evidence-store.js';
import { LatencyRecorder } from '../../src/capture/live/latency.js';
import { PacketRing } from '../../src/capture/live/packet-ring.js';
import { readCapture } from '../../src/capture/reader.js';
import type { Finding } from '../../src/findings/finding.js';

const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-live-evidence-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic bytes for frame n, so any overwrite in the ring shows. */
function bytesOf(n: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (n * 31 + i * 7) & 0xff;
  return b;
}

function frameOf(n: number, len: number, scratch: RawFrame = newRawFrame()): RawFrame {
  // Put the bytes at an offset inside a larger buffer, as the live batch buffer does.
  const data = Buffer.alloc(len + 100);
  bytesOf(n, len).copy(data, 37);
  scratch.data = data;
  scratch.offset = 37;
  scratch.caplen = len;
  scratch.origlen = len + 5;
  scratch.frameNo = n;
  scratch.tsSec = 1_800_000_000 + n;
  scratch.tsNsec = 123_456_789;
  scratch.linktype = LINKTYPE_ETHERNET;
  return scratch;
}

test('ring keeps the newest frames within the frame cap, intact', () => {
  const ring = new PacketRing(8, 1 << 20, LINKTYPE_ETHERNET);
  for (let n = 1; n <= 20; n++) ring.push(frameOf(n, 60 + n));
  assert.equal(ring.size, 8);
  assert.equal(ring.frameNoAt(0), 13);
  assert.equal(ring.frameNoAt(7), 20);
  assert.equal(ring.indexOf(12), -1, 'evicted frame still found');
  for (let n = 13; n <= 20; n++) {
    const i = ring.indexOf(n);
    assert.ok(i >= 0, `frame ${n} missing`);
    assert.deepEqual(ring.bytesAt(i), bytesOf(n, 60 + n), `frame ${n} corrupted`);
    assert.equal(ring.origlenAt(i), 60 + n + 5);
    assert.equal(ring.timeMicrosAt(i), (1_800_000_000 + n) * 1e6 + 123_456);
  }
});

test('ring byte cap: random sizes never corrupt a frame that is still held', () => {
  const bytes = 65536;
  const ring = new PacketRing(1000, bytes, LINKTYPE_ETHERNET);
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const lens = new Map<number, number>();
  const scratch = newRawFrame();
  for (let n = 1; n <= 5000; n++) {
    const len = rnd() % 9 === 0 ? 20000 + (rnd() % 20000) : rnd() % 1600;
    lens.set(n, len);
    ring.push(frameOf(n, len, scratch));
    // Everything held is contiguous, newest last, and byte-exact.
    let held = 0;
    for (let i = 0; i < ring.size; i++) {
      const fn = ring.frameNoAt(i);
      assert.equal(fn, n - ring.size + 1 + i, 'held frames are not the newest, in order');
      held += ring.caplenAt(i);
    }
    assert.ok(held <= bytes, `ring holds ${held} bytes, more than its ${bytes}`);
    assert.equal(ring.frameNoAt(ring.size - 1), n, 'newest frame not held');
    if (n % 97 === 0) {
      for (let i = 0; i < ring.size; i++) {
        const fn = ring.frameNoAt(i);
        assert.deepEqual(ring.bytesAt(i), bytesOf(fn, lens.get(fn)!), `frame ${fn} corrupted after ${n} pushes`);
      }
    }
  }
  // A frame larger than the arena is skipped, not half-stored.
  const before = ring.size;
  ring.push(frameOf(6000, bytes + 1));
  assert.equal(ring.size, before);
});

function finding(id: string, source: string, frames: number[]): Finding {
  return {
    id,
    rule_id: id.split(':')[0]!,
    title: 't',
    severity: 'high',
    confidence: 0.9,
    attack: { tactics: [], techniques: ['T1557.002'] },
    message: 'm',
    first_seen: '',
    last_seen: '',
    count: frames.length,
    entities: [],
    evidence: frames.map((frame) => ({ source, frame })),
    evidence_dropped: 0,
    profile: 'production',
    guidance: { summary: '', implications: '', actions: '', false_positives: [] },
  };
}

async function framesIn(file: string): Promise<{ frameBytes: Buffer[]; linktype: number }> {
  const frameBytes: Buffer[] = [];
  let linktype = -1;
  const s = await readCapture(file, (f) => {
    linktype = f.linktype;
    frameBytes.push(Buffer.from(f.data.subarray(f.offset, f.offset + f.caplen)));
  });
  assert.equal(s.error, undefined, `evidence file unreadable: ${s.error?.message}`);
  return { frameBytes, linktype };
}

test('evidence file holds the referenced frames plus context, and names itself on the evidence', async () => {
  const ring = new PacketRing(4096, 1 << 20, LINKTYPE_ETHERNET);
  for (let n = 1; n <= 200; n++) ring.push(frameOf(n, 100));
  const notes: string[] = [];
  const store = new EvidenceStore({ dir: join(dir, 'a'), maxTotalBytes: 1 << 20, maxFileBytes: 1 << 20, contextFrames: 5, note: (l) => notes.push(l) });
  // Frame 3 referenced but (pretend) from an unknown source; 150 and 180 from the ring.
  const f = finding('arp-gateway-impersonation:198.18.0.1|x', 'live:br0', [150, 180]);
  f.evidence.push({ source: 'live:other', frame: 3 });
  store.save(f, new Map([['live:br0', ring]]));
  assert.deepEqual(notes, []);
  const file = f.evidence[0]!.pcap;
  assert.ok(file && existsSync(file), 'evidence item has no pcap file');
  assert.equal(f.evidence[1]!.pcap, file);
  assert.equal(f.evidence[2]!.pcap, undefined, 'a frame not in the file must not name it');
  const { frameBytes, linktype } = await framesIn(file);
  assert.equal(linktype, LINKTYPE_ETHERNET);
  // 5 context frames before frame 180 (175..179), then 150 and 180, in time order.
  const expected = [150, 175, 176, 177, 178, 179, 180].map((n) => bytesOf(n, 100));
  assert.deepEqual(frameBytes, expected);
  assert.ok(statSync(file).mode & 0o600);
  assert.equal(statSync(join(dir, 'a')).mode & 0o077, 0, 'evidence directory must be private');

  // Escalation rewrites the same file; frames gone from the ring are not referenced.
  for (let n = 201; n <= 5000; n++) ring.push(frameOf(n, 100));
  f.evidence.push({ source: 'live:br0', frame: 4999 });
  store.save(f, new Map([['live:br0', ring]]));
  assert.equal(f.evidence[3]!.pcap, file);
  assert.equal(readdirSync(join(dir, 'a')).length, 1, 'one file per finding id');
  const again = await framesIn(file);
  assert.deepEqual(again.frameBytes.at(-1), bytesOf(4999, 100));
  assert.ok(!again.frameBytes.some((b) => b.equals(bytesOf(150, 100))), 'an evicted frame cannot be in the file');
});

test('evidence files stop at the total cap, said once', () => {
  const ring = new PacketRing(4096, 1 << 20, LINKTYPE_ETHERNET);
  for (let n = 1; n <= 100; n++) ring.push(frameOf(n, 1000));
  const notes: string[] = [];
  // Each file: 24 + 3 x (16 + 1000) bytes = 3072.
  const store = new EvidenceStore({ dir: join(dir, 'b'), maxTotalBytes: 7000, maxFileBytes: 1 << 20, contextFrames: 2, note: (l) => notes.push(l) });
  const rings = new Map([['live:eth0', ring]]);
  const fs = [10, 20, 30, 40].map((n) => finding(`rule-x:${n}`, 'live:eth0', [n]));
  for (const f of fs) store.save(f, rings);
  assert.equal(readdirSync(join(dir, 'b')).length, 2);
  assert.ok(store.totalBytes <= 7000);
  assert.equal(fs[2]!.evidence[0]!.pcap, undefined);
  assert.equal(notes.length, 1, `expected one note about the cap, got ${JSON.stringify(notes)}`);
  assert.match(notes[0]!, /evidence cap/);
});

test('file names do not carry attacker-controlled text', () => {
  const store = new EvidenceStore({ dir: join(dir, 'c'), maxTotalBytes: 1 << 20, maxFileBytes: 1 << 20, contextFrames: 0, note: () => undefined });
  const name = store.fileFor(finding('dns-spoof:../../etc/passwd\n', 'x', []));
  assert.match(name, /\/dns-spoof-[0-9a-f]{16}\.pcap$/);
});

test('latency percentiles', () => {
  const l = new LatencyRecorder(100);
  assert.equal(l.summary(), undefined);
  for (let i = 1; i <= 100; i++) l.record(i);
  assert.equal(l.percentile(50), 50);
  assert.equal(l.percentile(99), 99);
  assert.equal(l.max, 100);
  for (let i = 0; i < 100; i++) l.record(1000);
  assert.equal(l.percentile(50), 1000, 'only the window counts');
});
