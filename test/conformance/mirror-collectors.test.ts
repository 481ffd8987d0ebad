import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliRun } from '../helpers/cli.js';

// The MANIFEST's tunnel and T1020.001 captures raise T1020.001 only where the
// configuration does not allow the collector: the same file, scanned with its
// collector listed under mirror.collectors, must raise none (and still
// inventory the tunnel).

const CORPUS = new URL('../../../../shared/corpus/pcap/', import.meta.url).pathname;

const CASES = [
  { file: 'zeek-erspanII.pcap', collector: '1.1.1.1' },
  { file: 'zeek-tunnels_gre-erspan3-dot1q.pcap', collector: '172.31.1.135' },
  // AWS VPC Traffic Mirroring: both directions of the mirrored ENI's traffic, in VXLAN, to one target.
  { file: 'sv-vxlan-decoder-03_vxlan.pcap', collector: '172.31.17.188' },
];

function scan(file: string, config?: string): CliRun {
  const args = ['scan', '--format', 'jsonl', '--min-severity', 'info', '--fail-on', 'none'];
  if (config) args.push('--config', config);
  const run = runCli([...args, file]);
  assert.equal(run.status, 0, run.stderr);
  return run;
}

const t1020 = (run: CliRun): string[] =>
  run.findings.filter((f) => f.attack.techniques.includes('T1020.001')).map((f) => `${f.rule_id}: ${f.message}`);

for (const c of CASES) {
  test(`corpus ${c.file}: T1020.001 unless ${c.collector} is an allowed collector`, (t) => {
    const path = join(CORPUS, c.file);
    if (!existsSync(path)) {
      t.skip(`corpus file not found: ${path}`);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-mirror-'));
    try {
      const open = scan(path);
      assert.ok(
        open.findings.some((f) => f.attack.techniques.includes('T1020.001') && f.entities.some((e) => e.role === 'collector' && e.value === c.collector)),
        `no T1020.001 finding naming collector ${c.collector}:\n${t1020(open).join('\n')}`,
      );
      const config = join(dir, 'sniffwatch.yml');
      writeFileSync(config, `mirror:\n  collectors: [${c.collector}]\n`);
      const allowed = scan(path, config);
      assert.deepEqual(t1020(allowed), []);
      assert.ok(allowed.findings.some((f) => f.rule_id === 'tunnel-observed'), 'the tunnel is still inventoried');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
