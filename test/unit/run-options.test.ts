import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseRunArgs } from '../../src/cli/run-options.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/captures.js';

// `run` parses well-formed arguments itself and leaves everything else to commander.

test('well-formed run arguments: defaults, both value forms, the command untouched after -- or the first non-option', () => {
  const a = parseRunArgs(['--policy', 'fail', '--min-severity=high', '--stats', '--', 'make', '-j4', '--', 'x']);
  assert.deepEqual(a?.command, ['make', '-j4', '--', 'x']);
  assert.equal(a?.flags.policy, 'fail');
  assert.equal(a?.flags.minSeverity, 'high');
  assert.equal(a?.flags.stats, true);
  assert.equal(a?.flags.profile, 'ci');
  assert.equal(a?.flags.pollMs, '250');
  assert.equal(a?.flags.format, undefined);
  // Options end at the command's first word, as with commander's passThroughOptions.
  assert.deepEqual(parseRunArgs(['--profile', 'staging', 'ls', '--policy', 'kill'])?.command, ['ls', '--policy', 'kill']);
  assert.equal(parseRunArgs(['--profile', 'staging', 'ls', '--policy', 'kill'])?.flags.policy, 'audit');
});

test('anything unusual is left to commander: help, unknown flags, bad choices, missing values or command', () => {
  for (const args of [['--help', '--', 'ls'], ['-h', 'ls'], ['--bogus', '--', 'ls'], ['--policy', 'nope', '--', 'ls'], ['--policy'], ['--output', '--', 'ls'], ['--stats=1', 'ls'], [], ['--'], ['--policy', 'fail']]) {
    assert.equal(parseRunArgs(args), undefined, args.join(' '));
  }
});

test('run: a bad option stops the job before it starts (exit 2); a good one runs it with its own status', async () => {
  await withTempDir(async (dir) => {
    const marker = join(dir, 'ran');
    const bad = runCli(['run', '--policy', 'bogus', '--', 'touch', marker]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /argument 'bogus' is invalid/);
    assert.equal(existsSync(marker), false);
    assert.equal(runCli(['run', '--poll-ms', '5', '--', 'touch', marker]).status, 2);
    assert.equal(existsSync(marker), false);
    const noFile = runCli(['run', '--output', '--', 'touch', marker]);
    assert.equal(noFile.status, 2);
    assert.match(noFile.stderr, /--output needs a file name/);
    assert.equal(existsSync(marker), false);
    assert.equal(existsSync(join(REPO_ROOT, '--')), false);
    const good = runCli(['run', '--policy', 'fail', '--', 'sh', '-c', `touch ${marker}; exit 7`]);
    assert.equal(good.status, 7, good.stderr);
    assert.equal(existsSync(marker), true);
  });
});
