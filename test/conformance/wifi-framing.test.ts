import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findingSummary, scanAllFindings } from '../helpers/cli.js';
import { CORPUS, MANIFEST, frameCount, untaggedEthernetRows } from '../helpers/corpus.js';
import { WIFI_FRAMINGS, scapyPython, toWifi } from '../helpers/wifi.js';

// The public regression captures again, rewritten by scapy as monitor-mode
// Wi-Fi captures (radiotap with and without FCS, PPI, Prism, AVS, bare 802.11,
// A-MSDU): every framing must yield exactly the findings the Ethernet original
// yields. The rewrite keeps each frame's payload, stations and time.

/** Above this many frames only radiotap, the common framing, is tried (scapy writes ~1,500 frames/s). */
const ALL_FRAMINGS_UP_TO = 2000;

const python = scapyPython();
if (!existsSync(MANIFEST)) {
  test('Wi-Fi framings of the public captures', (t) => t.skip(`corpus not found at ${CORPUS}: Wi-Fi framing set not run`));
} else if (python === null) {
  test('Wi-Fi framings of the public captures', (t) => t.skip('tool missing: python3 with scapy (Debian python3-scapy)'));
} else {
  for (const row of untaggedEthernetRows()) {
    test(`Wi-Fi framings of ${row.file} yield its Ethernet findings`, () => {
      const original = join(CORPUS, row.file);
      const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-wifi-'));
      try {
        const framings = frameCount(original) <= ALL_FRAMINGS_UP_TO ? WIFI_FRAMINGS : (['radiotap'] as const);
        const converted = toWifi(python, original, dir, framings);
        if (!('paths' in converted)) throw new Error(`${row.file}: ${converted.notApplicable}`);
        const expected = findingSummary(scanAllFindings(original).filter((f) => f.rule_id !== 'decode-unsupported-link'));
        for (const [framing, path] of Object.entries(converted.paths)) {
          assert.deepEqual(findingSummary(scanAllFindings(path)), expected, `${framing} framing of ${row.file}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}
