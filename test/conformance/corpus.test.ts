import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { severityRank } from '../../src/findings/finding.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { scapyPython } from '../helpers/wifi.js';
import { CORPUS, MANIFEST, manifestRows, type ManifestRow } from '../helpers/corpus.js';
import { sniffwatchIpFrames, tsharkAvailable, tsharkIpFrames } from '../helpers/ip-frames.js';

// The public regression captures of Zeek, Suricata and tcpdump, each with what
// sniffwatch must make of it (../shared/corpus/pcap/MANIFEST.tsv).


// Expectations whose analyzer does not exist yet. Each is reported as a todo
// naming what is missing, never as a pass; remove the entry when it lands.
const PENDING_EXPECT: Record<string, string> = {};
const PENDING_FILE: Record<string, string> = {
  // Its one frame is a valid renewal whose client identifier has type 0 (RFC 2132 9.14: not a
  // hardware address, here Cisco IOS's "cisco-<mac>-Fa0/0"); the DHCP decoder accepts it.
  'zeek-dhcp_hw-type0.pcap': 'a corrected MANIFEST expectation (benign, not malformed: nothing in the frame is malformed)',
};

type Row = ManifestRow;

function atOrAbove(run: CliRun, level: 'medium'): string[] {
  return run.findings.filter((f) => severityRank(f.severity) >= severityRank(level)).map((f) => `${f.severity} ${f.rule_id}: ${f.message}`);
}

function hasTechnique(run: CliRun, t: string): boolean {
  return run.findings.some((f) => f.attack.techniques.some((x) => x === t || x.startsWith(`${t}.`)));
}

/** What the expectation demands of a finished run; returns a failure description or null. */
function check(row: Row, run: CliRun): string | null {
  const errorLines = run.stderr.split('\n').filter((l) => l.startsWith('sniffwatch: error:'));
  const kind = row.expect.startsWith('cred:') ? 'cred' : row.expect;
  switch (kind) {
    case 'malformed': {
      const located = errorLines.some((l) => l.includes(row.file) && /byte \d+/.test(l));
      const flagged = run.findings.some((f) => f.severity === 'info' && f.rule_id.includes('malformed'));
      return located || flagged ? null : 'neither a located error nor an info malformed finding';
    }
    case 'benign':
    case 'benign-or-T1020.001': {
      if (errorLines.length > 0) return `read error: ${errorLines[0]}`;
      const loud = atOrAbove(run, 'medium');
      if (loud.length === 0 || (kind === 'benign-or-T1020.001' && hasTechnique(run, 'T1020.001'))) return null;
      return `findings of medium or above:\n${loud.join('\n')}`;
    }
    case 'parse':
      return errorLines.length > 0 ? `read error: ${errorLines[0]}` : null;
    case 'T1557':
    case 'T1020.001':
      if (errorLines.length > 0) return `read error: ${errorLines[0]}`;
      return hasTechnique(run, kind) ? null : `no ${kind} finding`;
    case 'flood':
      return run.findings.some((f) => /flood|starvation/.test(f.rule_id)) ? null : 'no flood/starvation finding';
    case 'tunnel':
      // The mirror analyzer's inventory: one finding per tunnel with the number of inner frames decoded.
      return run.findings.some((f) => f.rule_id === 'tunnel-observed' && Number(/: (\d+) inner frames? decoded/.exec(f.message)?.[1] ?? 0) > 0)
        ? null
        : 'no tunnel-observed finding with inner frames decoded';
    case 'cred': {
      const proto = row.expect.slice(5);
      const hit = run.findings.find((f) => f.attack.techniques.includes('T1040') && f.rule_id.includes(proto.split('-')[0]!));
      return hit ? null : `no cleartext-credential finding for ${proto}`;
    }
    default:
      return `unknown expectation '${row.expect}' in MANIFEST.tsv`;
  }
}

/** Suricata's LLMNR cases ship as the scapy scripts that make them; run them to get the capture. */
function materialise(file: string, dir: string): { path?: string; skip?: string } {
  if (!file.endsWith('.py')) return { path: join(CORPUS, file) };
  const python = scapyPython();
  if (!python) return { skip: 'tool missing: python3 with scapy (Debian python3-scapy)' };
  const r = spawnSync(python, [join(CORPUS, file)], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  const out = join(dir, 'input.pcap');
  if (r.status !== 0 || !existsSync(out)) return { skip: `scapy script failed: ${r.stderr.split('\n').filter(Boolean).pop() ?? r.status}` };
  return { path: out };
}

if (!existsSync(MANIFEST)) {
  test('public capture corpus', (t) => t.skip(`corpus not found at ${CORPUS}: conformance set not run`));
} else {
  for (const row of manifestRows()) {
    test(`corpus ${row.file} (${row.expect})`, (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-corpus-'));
      try {
        const input = materialise(row.file, dir);
        if (!input.path) {
          t.skip(input.skip);
          return;
        }
        const run = runCli(['scan', '--format', 'jsonl', '--min-severity', 'info', '--fail-on', 'none', input.path]);
        // Whatever the expectation: no crash, no hang, no stack trace, a defined exit status.
        assert.equal(run.signal, null, `killed by ${run.signal}`);
        assert.ok(run.status === 0 || run.status === 2, `exit status ${run.status}\n${run.stderr}`);
        assert.doesNotMatch(run.stderr, /\n\s+at .+:\d+:\d+/, 'stack trace shown to the user');
        const failure = check(row, run);
        const kind = row.expect.startsWith('cred:') ? 'cred' : row.expect;
        const pending = PENDING_FILE[row.file] ?? PENDING_EXPECT[kind];
        if (failure && pending) {
          t.todo(`needs ${pending}: ${failure}`);
          return;
        }
        assert.equal(failure, null, failure ?? '');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('in every corpus capture, the frames carrying IP are the ones tshark shows IP in', async (t) => {
    if (!tsharkAvailable()) {
      t.skip('tool missing: tshark');
      return;
    }
    let compared = 0;
    for (const row of manifestRows()) {
      const path = join(CORPUS, row.file);
      if (!existsSync(path) || !/\.(pcap|pcapng|cap)$/.test(row.file)) continue;
      const ours = await sniffwatchIpFrames(path);
      assert.notEqual(ours, null, `${row.file}: a link type sniffwatch does not decode`);
      assert.deepEqual(ours, tsharkIpFrames(path), row.file);
      compared++;
    }
    assert.ok(compared > 40, `only ${compared} captures compared`);
  });
}
