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

function rows(): ManifestRow[] {
  return manifestRows().filter((r) => r.file.endsWith('.pcap') && r.expect !== 'malformed' && pcapLinktype(join(CORPUS, r.file)) === LINKTYPE_ETHERNET);
}

/** Link type of a classic pcap file, -1 for anything else. */
function pcapLinktype(path: string): number {
  const head = readFileSync(path).subarray(0, 24);
  if (head.length < 24) return -1;
  const magic = head.readUInt32LE(0);
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) return head.readUInt32LE(20) & 0xffff;
  if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) return head.readUInt32BE(20) & 0xffff;
  return -1;
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
    test(`Wi-Fi framings of ${row.file} yield its Ethernet findings`, (t) => {
      const original = join(CORPUS, row.file);
      const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-wifi-'));
      try {
        const framings = frameCount(original) <= ALL_FRAMINGS_UP_TO ? WIFI_FRAMINGS : (['radiotap'] as const);
        const converted = toWifi(python, original, dir, framings);
        if ('notApplicable' in converted) {
          t.skip(converted.notApplicable);
          return;
        }
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
