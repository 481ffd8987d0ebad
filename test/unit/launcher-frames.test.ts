// The `run` launcher's pipe frames (native/procconn/reader.c), through the C
// test beside them: round trips, cut frames and random mutants, with the
// sanitizers where the compiler has them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { findTool } from '../helpers/netns-lan.js';

test('launcher frames: round trips, and mutants parse or are rejected without reading outside the input', { timeout: 120_000 }, (t) => {
  if (process.platform !== 'linux') return t.skip(`needs Linux (kernel headers for the connector): ${process.platform}`);
  if (!findTool('cc')) return t.skip('tool missing: cc (Debian package build-essential)');
  const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-frames-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(REPO_ROOT, 'native', 'procconn');
  const exe = join(dir, 'frames-test');
  const build = (extra: string[]): ReturnType<typeof spawnSync> =>
    spawnSync('cc', ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-O1', '-g', ...extra, `-I${src}`, '-o', exe, join(src, 'frames-test.c'), join(src, 'reader.c')], { encoding: 'utf8' });
  let built = build(['-fsanitize=address,undefined', '-fno-sanitize-recover=all']);
  if (built.status !== 0) {
    t.diagnostic('built without sanitizers (the compiler has none)');
    built = build([]);
  }
  assert.equal(built.status, 0, String(built.stderr));
  const r = spawnSync(exe, ['200000'], { encoding: 'utf8', timeout: 100_000 });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /^ok: 200000 mutants, \d+ frames parsed, \d+ rejected\n$/);
  t.diagnostic(r.stdout.trim());
});
