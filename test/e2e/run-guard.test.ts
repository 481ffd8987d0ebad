// End to end: `sniffwatch run` as a CI guard around real commands, with each
// policy. Needs root; see README.md.

import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { CLI, REPO_ROOT } from '../helpers/cli.js';
import { findTool } from '../helpers/netns-lan.js';

const workDir = mkdtempSync(join(tmpdir(), 'sniffwatch-e2e-run-'));
let ping: ChildProcess | undefined;

before(() => {
  // Loopback traffic, so tcpdump -c 1 gets its packet at once.
  if (process.getuid?.() === 0) ping = spawn('ping', ['-q', '-i', '0.005', '127.0.0.1'], { stdio: 'ignore' });
});
after(() => {
  ping?.kill('SIGKILL');
  rmSync(workDir, { recursive: true, force: true });
});

interface GuardRun {
  status: number | null;
  stdout: string;
  stderr: string;
  findings: Finding[];
}

let seq = 0;
function guard(args: string[], command: string[], env: NodeJS.ProcessEnv = process.env): GuardRun {
  const out = join(workDir, `findings-${++seq}.jsonl`);
  const r = spawnSync(process.execPath, [CLI, 'run', '--output', out, ...args, '--', ...command], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000, env });
  assert.ok(!r.error, `sniffwatch run did not run: ${r.error?.message}`);
  let text = '';
  try {
    text = readFileSync(out, 'utf8');
  } catch {
    // no findings file: asserted by the caller
  }
  const findings = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Finding);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, findings };
}

function skipUnlessRoot(t: TestContext, tools: string[] = []): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    t.skip(`needs root on Linux: running as uid ${process.getuid?.()} on ${process.platform}`);
    return true;
  }
  for (const tool of tools) {
    if (!findTool(tool)) {
      t.skip(`tool missing: ${tool} (Debian package ${tool === 'tcpdump' ? 'tcpdump' : tool})`);
      return true;
    }
  }
  return false;
}

/** A job step that runs a short capture on loopback, then carries on and exits 0. */
const SNIFFING_STEP = ['sh', '-c', 'tcpdump -c 1 -i lo -n --immediate-mode >/dev/null 2>&1; echo step-done'];

function tcpdumpFinding(r: GuardRun): Finding | undefined {
  return r.findings.find((f) => f.rule_id === 'host-sniffer-exec' && f.entities.some((e) => e.role === 'sniffer' && / tcpdump -c 1 -i lo -n --immediate-mode$/.test(e.value)));
}

test('audit: the tcpdump inside the command is reported with the ci guidance; the exit status is the command\'s', { timeout: 90_000 }, (t) => {
  if (skipUnlessRoot(t, ['tcpdump'])) return;
  const r = guard(['--policy', 'audit'], SNIFFING_STEP);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'step-done\n', 'stdout belongs to the command');
  const f = tcpdumpFinding(r);
  assert.ok(f, `no host-sniffer-exec for tcpdump: ${r.findings.map((x) => x.message).join('\n')}\n${r.stderr}`);
  assert.deepEqual(f.attack.techniques, ['T1040']);
  assert.equal(f.profile, 'ci');
  assert.match(f.guidance.actions, /Fail the job/);
  assert.match(f.entities.find((e) => e.role === 'executable')?.value ?? '', /\/tcpdump$/);
  assert.match(f.entities.find((e) => e.role === 'parent_chain')?.value ?? '', /^\d+ sh < \d+ node/);
  assert.ok(['medium', 'high', 'critical'].includes(f.severity), f.severity);
  assert.match(r.stderr, /sniffwatch: run: \d+ finding\(s\), \d+ medium or above/);
});

test('fail: the same command makes the run exit 3, saying what the command returned', { timeout: 90_000 }, (t) => {
  if (skipUnlessRoot(t, ['tcpdump'])) return;
  const r = guard(['--policy', 'fail'], SNIFFING_STEP);
  assert.equal(r.status, 3, r.stderr);
  assert.ok(tcpdumpFinding(r), r.stderr);
  assert.match(r.stderr, /policy fail: exit 3 because of \d+ finding\(s\) of medium or above \(the command itself exited 0\)/);
});

test('the command itself is the sniffer: its exec, made while sniffwatch is still loading its sensor, is reported', { timeout: 90_000 }, (t) => {
  if (skipUnlessRoot(t, ['tcpdump'])) return;
  const r = guard(['--policy', 'fail'], ['tcpdump', '-c', '1', '-i', 'lo', '-n', '--immediate-mode']);
  assert.equal(r.status, 3, r.stderr);
  const f = r.findings.find((x) => x.rule_id === 'host-sniffer-exec' && x.entities.some((e) => e.role === 'sniffer' && / tcpdump -c 1 -i lo -n --immediate-mode$/.test(e.value)));
  assert.ok(f, `no host-sniffer-exec for tcpdump: ${r.findings.map((x) => x.message).join('\n')}\n${r.stderr}`);
  assert.match(f.entities.find((e) => e.role === 'parent_chain')?.value ?? '', /^\d+ node/);
});

test('a mirror the command configures in its first milliseconds, before the baseline is read, is reported', { timeout: 90_000 }, (t) => {
  if (skipUnlessRoot(t, ['tc'])) return;
  const ns = `swrun-${process.pid}`;
  t.after(() => spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }));
  // A namespace of its own with a VXLAN device whose remote is inside 198.18.0.0/15, and ingress copies into it.
  const step = [
    `ip netns add ${ns}`,
    `ip -n ${ns} link add vxrun0 type vxlan id 77 remote 198.18.0.99 dstport 4789`,
    `ip -n ${ns} link add vrun0 type veth peer name vrun1`,
    `ip -n ${ns} link set vrun0 up`,
    `tc -n ${ns} qdisc add dev vrun0 ingress`,
    `tc -n ${ns} filter add dev vrun0 ingress u32 match u32 0 0 action mirred egress mirror dev vxrun0`,
    'sleep 1',
  ].join(' && ');
  const r = guard(['--policy', 'fail'], ['sh', '-c', step]);
  assert.equal(r.status, 3, r.stderr);
  const f = r.findings.find((x) => x.rule_id === 'host-traffic-mirror' && /mirrors packets to vxrun0/.test(x.message));
  assert.ok(f, `no host-traffic-mirror for vxrun0: ${r.findings.map((x) => x.message).join('\n')}\n${r.stderr}`);
  assert.ok(f.entities.some((e) => e.type === 'ip' && e.value === '198.18.0.99' && e.role === 'collector'), JSON.stringify(f.entities));
  assert.match(f.message, /configured while the watched command ran/);
});

test('kill: a capture that would never end is killed at once and reported; the run exits 3', { timeout: 90_000 }, (t) => {
  if (skipUnlessRoot(t, ['tcpdump'])) return;
  const started = Date.now();
  // Without the guard this tcpdump runs for 60 s.
  const r = guard(['--policy', 'kill'], ['sh', '-c', 'timeout 60 tcpdump -i lo -n >/dev/null 2>&1; echo "tcpdump status $?"']);
  const took = Date.now() - started;
  t.diagnostic(`guarded run took ${took} ms`);
  assert.equal(r.status, 3, r.stderr);
  assert.ok(took < 30_000, 'the capture was killed, not left to time out');
  assert.match(r.stdout, /^tcpdump status (137|124)\n$/, 'the command carried on after the kill');
  const killedLine = /policy kill: killed pid (\d+) \(tcpdump\) for (host-[a-z-]+)/.exec(r.stderr);
  assert.ok(killedLine, r.stderr);
  const f = r.findings.find((x) => x.rule_id === killedLine[2] && x.entities.some((e) => (e.role === 'sniffer' || e.role === 'capturer') && e.value.startsWith(`${killedLine[1]} tcpdump`)));
  assert.ok(f, `finding for the killed pid: ${r.findings.map((x) => x.message).join('\n')}`);
  assert.ok(f.evidence.some((e) => e.detail === `SIGKILL sent to pid ${killedLine[1]} (policy kill)`), JSON.stringify(f.evidence));
});

test('fallback without the connector: /proc scanning (ppid walk) still catches a capture longer than a poll, and says what it misses', { timeout: 90_000 }, (t) => {
  if (skipUnlessRoot(t, ['tcpdump'])) return;
  const r = guard(['--policy', 'fail', '--poll-ms', '100'], ['sh', '-c', 'timeout 3 tcpdump -i lo -n >/dev/null 2>&1; exit 0'], { ...process.env, SNIFFWATCH_NO_PROCCONN: '1' });
  assert.match(r.stderr, /note: process-events connector unavailable: falling back to \/proc scanning; short-lived processes may be missed/);
  assert.equal(r.status, 3, r.stderr);
  const f = r.findings.find((x) => x.rule_id === 'host-sniffer-exec' && x.entities.some((e) => e.role === 'sniffer' && / tcpdump -i lo -n$/.test(e.value)));
  assert.ok(f, r.findings.map((x) => x.message).join('\n'));
  assert.equal(f.evidence[0]?.source, 'host:proc-scan');
});

test('benign commands: exit status and signals are passed through, nothing medium or above is reported', { timeout: 90_000 }, (t) => {
  if (skipUnlessRoot(t)) return;
  const seven = guard(['--policy', 'fail'], ['sh', '-c', 'exit 7']);
  assert.equal(seven.status, 7, seven.stderr);
  assert.deepEqual(seven.findings, []);
  const term = guard(['--policy', 'fail'], ['sh', '-c', 'kill -TERM $$']);
  assert.equal(term.status, 128 + 15, term.stderr);
  const flags = guard(['--policy', 'fail'], ['ls', '-la', '--color=never', '/']);
  assert.equal(flags.status, 0, `the command's own flags reach it: ${flags.stderr}`);
  assert.match(flags.stdout, /^total \d+/);
  const build = guard(['--policy', 'fail'], ['sh', '-c', `cd ${workDir} && printf 'int main(void){return 0;}\\n' > t.c && cc -o t t.c && ./t && ip link show >/dev/null && ping -c1 127.0.0.1 >/dev/null`]);
  assert.equal(build.status, 0, build.stderr);
  assert.deepEqual(build.findings.filter((f) => ['medium', 'high', 'critical'].includes(f.severity)).map((f) => f.message), []);
  const missing = guard([], ['/nonexistent/command']);
  assert.equal(missing.status, 127);
  assert.match(missing.stderr, /cannot run \/nonexistent\/command: ENOENT/);
});

test('a capture outside the command\'s tree (started before it, still running) is not the job\'s: nothing is reported', { timeout: 90_000 }, async (t) => {
  if (skipUnlessRoot(t, ['tcpdump'])) return;
  const outside = spawn('tcpdump', ['-i', 'lo', '-n', '-w', '/dev/null'], { stdio: 'ignore' });
  try {
    // Until it holds its packet socket.
    await new Promise((r) => setTimeout(r, 700));
    const r = guard(['--policy', 'fail'], ['sh', '-c', 'sleep 0.6; echo step-done']);
    assert.equal(r.status, 0, `${r.stderr}\n${JSON.stringify(r.findings.map((f) => f.message))}`);
    assert.match(r.stdout, /step-done/);
    assert.deepEqual(r.findings.map((f) => f.message), []);
    // The same capture inside the tree is the job's.
    const inside = guard(['--policy', 'fail'], SNIFFING_STEP);
    assert.equal(inside.status, 3, inside.stderr);
    assert.ok(tcpdumpFinding(inside), JSON.stringify(inside.findings.map((f) => f.message)));
  } finally {
    outside.kill('SIGKILL');
  }
});

test('--stats: the guard says what it cost (its own CPU, the command\'s wall time) and how many execs it handled', { timeout: 90_000 }, (t) => {
  if (skipUnlessRoot(t)) return;
  // Four real execs (env), each a process the sensor handles.
  const r = guard(['--stats'], ['sh', '-c', 'for i in 1 2 3 4; do env true; done; sleep 0.2']);
  assert.equal(r.status, 0, r.stderr);
  const m = /sniffwatch: run: stats: command ran (\d+\.\d{3}) s; sniffwatch used (\d+\.\d{3}) s of CPU, (\d+\.\d{3}) s of it after the command started \(user (\d+\.\d{3}) s, system (\d+\.\d{3}) s, [\d.]+ MiB peak RSS\); (\d+) exec event\(s\) handled \((process-events|proc-scan)\), (\d+) lost/.exec(r.stderr);
  assert.ok(m, `no stats line in: ${r.stderr}`);
  const [ran, cpu, after, user, system, execs] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])];
  assert.ok(ran >= 0.2, `the command slept 0.2 s, ran ${ran} s`);
  assert.ok(cpu > 0 && Math.abs(cpu - (user + system)) < 0.002, `CPU ${cpu} = user ${user} + system ${system}`);
  assert.ok(after > 0 && after < cpu, `CPU after the command started (${after} s) is part of the total (${cpu} s): Node's start came before`);
  if (m[7] === 'process-events') assert.ok(execs >= 5, `sh and four env execs at least, got ${execs}`);
  const plain = guard([], ['true']);
  assert.doesNotMatch(plain.stderr, /stats:/, 'no stats line unless asked');
});
