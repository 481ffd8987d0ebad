import { test } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { writeDemoCapture } from '../../src/craft/demo.js';
import { escapeForTerminal } from '../../src/outputs/escape.js';
import { withTempDir } from '../helpers/captures.js';
import { runCli } from '../helpers/cli.js';

test('scan: jsonl has only findings on stdout; exit 1 when one reaches --fail-on', async () => {
  await withTempDir(async (dir) => {
    const pcap = writeDemoCapture(dir);
    const run = runCli(['scan', '--format', 'jsonl', pcap]);
    assert.equal(run.status, 1, run.stderr);
    assert.ok(run.findings.length > 0);
    for (const line of run.stdout.trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line));
    const top = run.findings[0]!;
    assert.equal(top.attack.techniques[0], 'T1557.002');
    assert.ok(top.entities.some((e) => e.type === 'mac' && e.value === '02:53:57:00:00:42' && e.role === 'attacker'));
    assert.equal(top.profile, 'production');
    assert.ok(top.guidance.actions.length > 0 && top.guidance.false_positives.length > 0);
    assert.equal(runCli(['scan', '--format', 'jsonl', '--fail-on', 'critical', pcap]).status, 1);
    assert.equal(runCli(['scan', '--format', 'jsonl', '--fail-on', 'none', pcap]).status, 0);
    const ci = runCli(['scan', '--format', 'jsonl', '--profile', 'ci', pcap]);
    assert.equal(ci.findings[0]!.profile, 'ci');
    assert.notEqual(ci.findings[0]!.guidance.actions, top.guidance.actions);
  });
});

test('scan: pretty output has a table and a summary per technique', async () => {
  await withTempDir(async (dir) => {
    const run = runCli(['scan', '--format', 'pretty', writeDemoCapture(dir)]);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /CRITICAL arp-gateway-impersonation/);
    assert.match(run.stdout, /By technique:\n {2}T1557\.002 +Adversary-in-the-Middle: ARP Cache Poisoning/);
  });
});

test('scan: gzip, directories, bad files: errors name file and byte, the rest is still scanned, exit 2', async () => {
  await withTempDir(async (dir) => {
    const pcap = writeDemoCapture(dir);
    const inputs = join(dir, 'inputs');
    mkdirSync(inputs);
    const bytes = readFileSync(pcap);
    writeFileSync(join(inputs, 'a-capture.gz'), gzipSync(bytes));
    writeFileSync(join(inputs, 'b-truncated.pcap'), bytes.subarray(0, bytes.length - 10));
    writeFileSync(join(inputs, 'c-notes.txt'), 'not a capture\n');
    const run = runCli(['scan', '--format', 'jsonl', inputs]);
    assert.equal(run.status, 2);
    const errors = run.stderr.trim().split('\n');
    assert.equal(errors.length, 2, run.stderr);
    assert.match(errors[0]!, /^sniffwatch: error: .*b-truncated\.pcap: byte \d+: truncated/);
    assert.match(errors[1]!, /^sniffwatch: error: .*c-notes\.txt: byte 0: not a capture file/);
    assert.ok(run.findings.some((f) => f.rule_id === 'arp-gateway-impersonation' && f.evidence[0]!.source.endsWith('a-capture.gz')));
    assert.doesNotMatch(run.stderr, /\bat .+\.js:\d+/);
  });
});

test('scan -: a capture piped in (plain or gzip, also through a FIFO) gives the same findings as the file', async () => {
  await withTempDir(async (dir) => {
    const pcap = writeDemoCapture(dir);
    const bytes = readFileSync(pcap);
    const summary = (r: ReturnType<typeof runCli>): string[] =>
      r.findings.map((f) => `${f.rule_id} ${f.severity} ${f.entities.map((e) => `${e.role}=${e.value}`).join(',')}`).sort();
    const fromFile = runCli(['scan', '--format', 'jsonl', pcap]);
    assert.equal(fromFile.status, 1, fromFile.stderr);
    const want = summary(fromFile);
    assert.ok(want.some((l) => l.startsWith('arp-gateway-impersonation')), want.join('\n'));
    for (const [what, input] of [
      ['plain', bytes],
      ['gzip', gzipSync(bytes)],
    ] as const) {
      const piped = runCli(['scan', '--format', 'jsonl', '-'], 60_000, input);
      assert.equal(piped.status, 1, `${what}: ${piped.stderr}`);
      assert.deepEqual(summary(piped), want, what);
    }
    // A named pipe, written by another process while sniffwatch reads it.
    const fifo = join(dir, 'capture.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', pcap, fifo], { stdio: 'ignore' });
    const viaFifo = runCli(['scan', '--format', 'jsonl', fifo], 60_000);
    writer.kill();
    assert.deepEqual(summary(viaFifo), want, viaFifo.stderr);
    // Garbage on standard input is a located error, as from a file.
    const junk = runCli(['scan', '--format', 'jsonl', '-'], 60_000, Buffer.from('not a capture at all\n'));
    assert.equal(junk.status, 2);
    assert.match(junk.stderr, /^sniffwatch: error: -: byte 0: not a capture file/m);
  });
});

test('usage errors exit 2 with one line; bad configs name the key', async () => {
  await withTempDir(async (dir) => {
    const pcap = writeDemoCapture(dir);
    assert.equal(runCli(['scan', '--bogus', pcap]).status, 2);
    assert.equal(runCli(['scan', '--format', 'xml', pcap]).status, 2);
    assert.equal(runCli(['scan']).status, 2);
    assert.equal(runCli(['scan', '--analyzers', 'nope', pcap]).status, 2);
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'arp:\n  known:\n    198.18.0.1: not-a-mac\n');
    const run = runCli(['scan', '--config', bad, pcap]);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /arp\.known\.198\.18\.0\.1: 'not-a-mac' is not a MAC address/);
    writeFileSync(bad, 'arp:\n  knwon: {}\n');
    assert.match(runCli(['scan', '--config', bad, pcap]).stderr, /unknown key 'knwon'/);
  });
});

test('a configured static binding makes a contradiction high', async () => {
  await withTempDir(async (dir) => {
    const pcap = writeDemoCapture(dir);
    const cfg = join(dir, 'sniffwatch.yml');
    writeFileSync(cfg, 'known:\n  198.18.0.10: "02:53:57:00:00:0a"\n');
    const run = runCli(['scan', '--format', 'jsonl', '--config', cfg, pcap]);
    const v = run.findings.find((f) => f.rule_id === 'arp-static-binding-violation');
    assert.ok(v, run.stdout);
    assert.equal(v.severity, 'high');
    assert.ok(v.entities.some((e) => e.value === '198.18.0.10' && e.role === 'impersonated'));
  });
});

test('attacker-controlled text cannot drive the terminal', () => {
  assert.equal(escapeForTerminal('a\x1b[31mred\x07\u202egnp.exe\n'), 'a\\x1b[31mred\\x07\\u202egnp.exe\\x0a');
});

test('scan: a named input that is neither a file nor a directory is an input error, not a clean scan', () => {
  const run = runCli(['scan', '--format', 'jsonl', '/dev/null']);
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr, /^sniffwatch: error: \/dev\/null: byte 0: not a regular file, pipe or directory$/m);
});
