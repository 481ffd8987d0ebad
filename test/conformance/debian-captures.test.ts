import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/config.js';
import type { Finding } from '../../src/findings/finding.js';
import { scanCaptures } from '../../src/pipeline.js';
import { isAtLeast } from '../helpers/captures.js';

// Every regression capture in Debian's tcpdump and wireshark source packages
// (scripts/fetch-debian-captures.sh puts them in the cache; .ci/run fetches
// them): hundreds of captures sniffwatch was not written against, many of
// them fuzzed or cut short on purpose. Each must scan without an exception,
// with at most located read errors, and stay quiet (nothing of medium or
// above) unless it really holds what a finding says.

const DIR = process.env.SNIFFWATCH_DEBIAN_CAPTURES ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sniffwatch', 'debian-captures');

/** Captures whose medium-or-above findings are right, and what they must include. */
const LOUD: Record<string, { rule: string; why: string }> = {
  'tcpdump/arp-oobr.pcap': { rule: 'arp-binding-flip-flop', why: 'fuzzed ARP: bit-flipped senders contradict each other as a poisoner would' },
  'wireshark/rsasnakeoil2.pcap': { rule: 'tls-weak-version', why: 'an SSL 3.0 session' },
  'wireshark/dhe1.pcapng.gz': { rule: 'tls-weak-version', why: 'a TLS 1.0 session' },
  'wireshark/dmgr.pcapng': { rule: 'tls-weak-version', why: 'a TLS 1.0 session' },
};

/** Not captures at all (CBOR diagnostics, logs, text2pcap input): a located "not a capture file" error. */
const NOT_CAPTURES = /\.(cbordiag|log|txt)$/;

function files(): string[] {
  const out: string[] = [];
  for (const sub of ['tcpdump', 'wireshark']) {
    const d = join(DIR, sub);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d).sort()) out.push(`${sub}/${name}`);
  }
  return out;
}

async function scan(rel: string): Promise<{ findings: Finding[]; errors: string[] }> {
  const r = await scanCaptures([join(DIR, rel)], { config: defaultConfig(), profile: 'production' });
  return { findings: r.findings, errors: r.errors.map((e) => e.message) };
}

if (!existsSync(join(DIR, '.complete'))) {
  test('captures from Debian source packages', (t) => t.skip(`not found in ${DIR}: run scripts/fetch-debian-captures.sh (CI does)`));
} else {
  test('every capture of the tcpdump and wireshark source packages scans, quietly unless it holds an attack', { timeout: 600_000 }, async () => {
    const all = files();
    assert.ok(all.length > 500, `only ${all.length} files in ${DIR}`);
    const problems: string[] = [];
    for (const rel of all) {
      let r;
      try {
        r = await scan(rel);
      } catch (e) {
        problems.push(`${rel}: exception ${(e as Error).stack ?? String(e)}`);
        continue;
      }
      for (const msg of r.errors) {
        // A read error names the file and the byte where reading stopped.
        if (!msg.includes(rel.split('/')[1]!) || !/byte \d+/.test(msg)) problems.push(`${rel}: unlocated error: ${msg}`);
      }
      if (NOT_CAPTURES.test(rel) && !r.errors.some((m) => /not a capture file/.test(m))) problems.push(`${rel}: not a capture, yet no "not a capture file" error`);
      const loud = r.findings.filter((f) => isAtLeast(f, 'medium'));
      const expected = LOUD[rel];
      if (expected) {
        if (!loud.some((f) => f.rule_id === expected.rule)) problems.push(`${rel}: no ${expected.rule} finding (${expected.why})`);
      } else if (loud.length > 0) {
        problems.push(`${rel}: ${loud.map((f) => `${f.severity} ${f.rule_id}: ${f.message}`).join('; ')}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test("Wireshark's WPA capture: every protected data frame is counted as not analysed, as tshark counts them", async (t) => {
    const rel = 'wireshark/wpa-Induction.pcap.gz';
    if (spawnSync('tshark', ['-v']).status !== 0) {
      t.skip('tool missing: tshark');
      return;
    }
    const tshark = spawnSync('tshark', ['-r', join(DIR, rel), '-Y', 'wlan.fc.type == 2 && wlan.fc.protected == 1'], { encoding: 'utf8' });
    const protectedFrames = tshark.stdout.split('\n').filter(Boolean).length;
    assert.ok(protectedFrames > 100, `tshark found ${protectedFrames}`);
    const r = await scan(rel);
    const notice = r.findings.find((f) => f.rule_id === 'decode-wlan-skipped');
    assert.equal(notice?.count, protectedFrames);
    assert.equal(notice?.severity, 'info');
  });
}
