import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { runCli } from '../helpers/cli.js';
import { CORPUS, MANIFEST, manifestRows, type ManifestRow } from '../helpers/corpus.js';
import { WIFI_FRAMINGS, scapyPython, toWifi } from '../helpers/wifi.js';

// The public regression captures again, rewritten by scapy as monitor-mode
// Wi-Fi captures (radiotap with and without FCS, PPI, Prism, AVS, bare 802.11,
// A-MSDU): every framing must yield exactly the findings the Ethernet original
// yields. The rewrite keeps each frame's payload, stations and time.

/** Above this many frames only radiotap, the common framing, is tried (scapy writes ~1,500 frames/s). */
const ALL_FRAMINGS_UP_TO = 2000;

const LINKTYPE_ETHERNET = 1;

/** Ethernet captures without 802.1Q/802.1ad tags (Wi-Fi carries none), not malformed on purpose. */
function rows(): ManifestRow[] {
  return manifestRows().filter((r) => r.file.endsWith('.pcap') && r.expect !== 'malformed' && untaggedEthernet(join(CORPUS, r.file)));
}

/** A classic pcap of Ethernet frames none of which is VLAN-tagged. */
function untaggedEthernet(path: string): boolean {
  const data = readFileSync(path);
  if (data.length < 24) return false;
  const magic = data.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && magic !== 0xd4c3b2a1 && magic !== 0x4d3cb2a1) return false;
  const u32 = (off: number): number => (le ? data.readUInt32LE(off) : data.readUInt32BE(off));
  if ((u32(20) & 0xffff) !== LINKTYPE_ETHERNET) return false;
  for (let p = 24; p + 16 <= data.length; ) {
    const caplen = u32(p + 8);
    const type = p + 16 + 14 <= data.length ? data.readUInt16BE(p + 16 + 12) : 0;
    if (type === 0x8100 || type === 0x88a8 || type === 0x9100) return false;
    p += 16 + caplen;
  }
  return true;
}

function frameCount(path: string): number {
  const r = spawnSync('tcpdump', ['-nr', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean).length : Number.MAX_SAFE_INTEGER;
}

/** What a finding says, without where it was seen (frame numbers and sources differ by design). */
function summary(findings: readonly Finding[]): string[] {
  return findings
    .map((f) => {
      const entities = f.entities.map((e) => `${e.type}=${e.value}/${e.role ?? ''}`).sort();
      return `${f.rule_id} ${f.severity} x${f.count}: ${f.message} [${entities.join(', ')}]`;
    })
    .sort();
}

function scan(path: string): Finding[] {
  const run = runCli(['scan', '--format', 'jsonl', '--min-severity', 'info', '--fail-on', 'none', path]);
  assert.equal(run.status, 0, `scan of ${path} exited ${run.status}\n${run.stderr}`);
  return run.findings;
}

const python = scapyPython();
if (!existsSync(MANIFEST)) {
  test('Wi-Fi framings of the public captures', (t) => t.skip(`corpus not found at ${CORPUS}: Wi-Fi framing set not run`));
} else if (python === null) {
  test('Wi-Fi framings of the public captures', (t) => t.skip('tool missing: python3 with scapy (Debian python3-scapy)'));
} else {
  for (const row of rows()) {
    test(`Wi-Fi framings of ${row.file} yield its Ethernet findings`, () => {
      const original = join(CORPUS, row.file);
      const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-wifi-'));
      try {
        const framings = frameCount(original) <= ALL_FRAMINGS_UP_TO ? WIFI_FRAMINGS : (['radiotap'] as const);
        const converted = toWifi(python, original, dir, framings);
        if (!('paths' in converted)) throw new Error(`${row.file}: ${converted.notApplicable}`);
        const expected = summary(scan(original).filter((f) => f.rule_id !== 'decode-unsupported-link'));
        for (const [framing, path] of Object.entries(converted.paths)) {
          assert.deepEqual(summary(scan(path)), expected, `${framing} framing of ${row.file}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}
