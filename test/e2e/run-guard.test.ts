// End to end: `sniffwatch run` as a CI guard around real commands, with each
// policy, started both ways: by Node (`node dist/src/cli/main.js run`) and by
// the `sniffwatch` command (bin/sniffwatch), which goes through the native
// launcher when it is built. Needs root; see README.md.

import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

const BIN = join(REPO_ROOT, 'bin', 'sniffwatch');
const LAUNCHER = join(REPO_ROOT, 'native', 'procconn', 'build', 'Release', 'sniffwatch-run');

/** How `run` is started: by Node, or by the sniffwatch command through the launcher. */
type Entry = 'node' | 'launcher';
const ENTRIES: readonly Entry[] = ['node', 'launcher'];

/** The process that starts the command, as the parent chain names it. */
const STARTER: Record<Entry, string> = { node: 'node', launcher: 'sniffwatch-run' };

let seq = 0;
function guard(args: string[], command: string[], env: NodeJS.ProcessEnv = process.env, entry: Entry = 'node'): GuardRun {
  const out = join(workDir, `findings-${++seq}.jsonl`);
  const argv = ['run', '--output', out, ...args, '--', ...command];
  const r = entry === 'node' ? spawnSync(process.execPath, [CLI, ...argv], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000, env }) : spawnSync(BIN, argv, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000, env });
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

function skipUnlessRoot(t: TestContext, tools: string[] = [], entry: Entry = 'node'): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    t.skip(`needs root on Linux: running as uid ${process.getuid?.()} on ${process.platform}`);
    return true;
  }
  if (entry === 'launcher' && !existsSync(LAUNCHER)) {
    t.skip(`launcher not built: ${LAUNCHER} (npm run build:native, with build-essential installed)`);
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

for (const entry of ENTRIES) {
  const started = entry === 'node' ? 'started by node' : 'started by the sniffwatch command';

  test(`${started}: audit: the tcpdump inside the command is reported with the ci guidance; the exit status is the command's`, { timeout: 90_000 }, (t) => {
    if (skipUnlessRoot(t, ['tcpdump'], entry)) return;
    const r = guard(['--policy', 'audit'], SNIFFING_STEP, process.env, entry);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'step-done\n', 'stdout belongs to the command');
    const f = tcpdumpFinding(r);
    assert.ok(f, `no host-sniffer-exec for tcpdump: ${r.findings.map((x) => x.message).join('\n')}\n${r.stderr}`);
    assert.deepEqual(f.attack.techniques, ['T1040']);
    assert.equal(f.profile, 'ci');
    assert.match(f.guidance.actions, /Fail the job/);
    assert.match(f.entities.find((e) => e.role === 'executable')?.value ?? '', /\/tcpdump$/);
    assert.match(f.entities.find((e) => e.role === 'parent_chain')?.value ?? '', new RegExp(`^\\d+ sh < \\d+ ${STARTER[entry]}`));
    assert.ok(['medium', 'high', 'critical'].includes(f.severity), f.severity);
    assert.match(r.stderr, /sniffwatch: run: \d+ finding\(s\), \d+ medium or above/);
  });

  test(`${started}: fail: the same command makes the run exit 3, saying what the command returned`, { timeout: 90_000 }, (t) => {
    if (skipUnlessRoot(t, ['tcpdump'], entry)) return;
    const r = guard(['--policy', 'fail'], SNIFFING_STEP, process.env, entry);
    assert.equal(r.status, 3, r.stderr);
    assert.ok(tcpdumpFinding(r), r.stderr);
    assert.match(r.stderr, /policy fail: exit 3 because of \d+ finding\(s\) of medium or above \(the command itself exited 0\)/);
  });

  test(`${started}: the command itself is the sniffer: its exec, made while sniffwatch is still loading its sensor, is reported`, { timeout: 90_000 }, (t) => {
    if (skipUnlessRoot(t, ['tcpdump'], entry)) return;
    const r = guard(['--policy', 'fail'], ['tcpdump', '-c', '1', '-i', 'lo', '-n', '--immediate-mode'], process.env, entry);
    assert.equal(r.status, 3, r.stderr);
    const f = r.findings.find((x) => x.rule_id === 'host-sniffer-exec' && x.entities.some((e) => e.role === 'sniffer' && / tcpdump -c 1 -i lo -n --immediate-mode$/.test(e.value)));
    assert.ok(f, `no host-sniffer-exec for tcpdump: ${r.findings.map((x) => x.message).join('\n')}\n${r.stderr}`);
    assert.match(f.entities.find((e) => e.role === 'parent_chain')?.value ?? '', new RegExp(`^\\d+ ${STARTER[entry]}`));
  });

  test(`${started}: a mirror the command configures in its first milliseconds, before the baseline is read, is reported`, { timeout: 90_000 }, (t) => {
    if (skipUnlessRoot(t, ['tc'], entry)) return;
    const ns = `swrun-${process.pid}-${entry}`;
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
    const r = guard(['--policy', 'fail'], ['sh', '-c', step], process.env, entry);
    assert.equal(r.status, 3, r.stderr);
    const f = r.findings.find((x) => x.rule_id === 'host-traffic-mirror' && /mirrors packets to vxrun0/.test(x.message));
    assert.ok(f, `no host-traffic-mirror for vxrun0: ${r.findings.map((x) => x.message).join('\n')}\n${r.stderr}`);
    assert.ok(f.entities.some((e) => e.type === 'ip' && e.value === '198.18.0.99' && e.role === 'collector'), JSON.stringify(f.entities));
    assert.match(f.message, /configured while the watched command ran/);
  });

  test(`${started}: kill: a capture that would never end is killed at once and reported; the run exits 3`, { timeout: 90_000 }, (t) => {
    if (skipUnlessRoot(t, ['tcpdump'], entry)) return;
    const begin = Date.now();
    // Without the guard this tcpdump runs for 60 s.
    const r = guard(['--policy', 'kill'], ['sh', '-c', 'timeout 60 tcpdump -i lo -n >/dev/null 2>&1; echo "tcpdump status $?"'], process.env, entry);
    const took = Date.now() - begin;
    t.diagnostic(`guarded run took ${took} ms`);
    assert.equal(r.status, 3, r.stderr);
    assert.ok(took < 30_000, 'the capture was killed, not left to time out');
    assert.match(r.stdout, /^tcpdump status (137|124)\n$/, 'the command carried on after the kill');
    const killedLine = /policy kill: killed pid (\d+) \(tcpdump\) for (host-[a-z-]+)/.exec(r.stderr);
    assert.ok(killedLine, r.stderr);
    const f = r.findings.find((x) => x.rule_id === killedLine[2] && x.entities.some((e) => (e.role === 'sniffer' || e.role === 'capturer') && e.value.startsWith(`${killedLine[1]} tcpdump`)));
    assert.ok(f, `finding for the killed pid: ${r.findings.map((x) => x.message).join('\n')}`);
    assert.ok(f.evidence.some((e) => e.detail === `SIGKILL sent to pid ${killedLine[1]} (policy kill)`), JSON.stringify(f.evidence));
    // Killing needs the complete sensor before the command: the launcher hands the run to Node.
    const parent = r.findings.flatMap((x) => x.entities).find((e) => e.role === 'parent_chain')?.value ?? '';
    assert.match(parent, /^\d+ timeout < \d+ sh < \d+ node/);
  });

  test(`${started}: fallback without the connector: /proc scanning (ppid walk) still catches a capture longer than a poll, and says what it misses`, { timeout: 90_000 }, (t) => {
    if (skipUnlessRoot(t, ['tcpdump'], entry)) return;
    const r = guard(['--policy', 'fail', '--poll-ms', '100'], ['sh', '-c', 'timeout 3 tcpdump -i lo -n >/dev/null 2>&1; exit 0'], { ...process.env, SNIFFWATCH_NO_PROCCONN: '1' }, entry);
    assert.match(r.stderr, /note: process-events connector unavailable: falling back to \/proc scanning; short-lived processes may be missed/);
    assert.equal(r.status, 3, r.stderr);
    const f = r.findings.find((x) => x.rule_id === 'host-sniffer-exec' && x.entities.some((e) => e.role === 'sniffer' && / tcpdump -i lo -n$/.test(e.value)));
    assert.ok(f, r.findings.map((x) => x.message).join('\n'));
    assert.equal(f.evidence[0]?.source, 'host:proc-scan');
  });

  test(`${started}: benign commands: exit status and signals are passed through, nothing medium or above is reported`, { timeout: 90_000 }, (t) => {
    if (skipUnlessRoot(t, [], entry)) return;
    const seven = guard(['--policy', 'fail'], ['sh', '-c', 'exit 7'], process.env, entry);
    assert.equal(seven.status, 7, seven.stderr);
    assert.deepEqual(seven.findings, []);
    const term = guard(['--policy', 'fail'], ['sh', '-c', 'kill -TERM $$'], process.env, entry);
    assert.equal(term.status, 128 + 15, term.stderr);
    const flags = guard(['--policy', 'fail'], ['ls', '-la', '--color=never', '/'], process.env, entry);
    assert.equal(flags.status, 0, `the command's own flags reach it: ${flags.stderr}`);
    assert.match(flags.stdout, /^total \d+/);
    const build = guard(['--policy', 'fail'], ['sh', '-c', `cd ${workDir} && printf 'int main(void){return 0;}\\n' > t-${entry}.c && cc -o t-${entry} t-${entry}.c && ./t-${entry} && ip link show >/dev/null && ping -c1 127.0.0.1 >/dev/null`], process.env, entry);
    assert.equal(build.status, 0, build.stderr);
    assert.deepEqual(build.findings.filter((f) => ['medium', 'high', 'critical'].includes(f.severity)).map((f) => f.message), []);
    const missing = guard([], ['/nonexistent/command'], process.env, entry);
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /cannot run \/nonexistent\/command: ENOENT/);
  });

  test(`${started}: a signal sent to sniffwatch goes to the command, whose exit status is kept`, { timeout: 90_000 }, async (t) => {
    if (skipUnlessRoot(t, [], entry)) return;
    const argv = ['run', '--policy', 'fail', '--', 'sh', '-c', 'trap "echo got-term; exit 5" TERM; echo ready; sleep 20 & wait'];
    const child = entry === 'node' ? spawn(process.execPath, [CLI, ...argv], { cwd: REPO_ROOT }) : spawn(BIN, argv, { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.startsWith('ready\n') && !child.killed) setTimeout(() => child.kill('SIGTERM'), 300);
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const status = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    assert.equal(stdout, 'ready\ngot-term\n', stderr);
    assert.equal(status, 5, stderr);
  });

  test(`${started}: a capture outside the command's tree (started before it, still running) is not the job's: nothing is reported`, { timeout: 90_000 }, async (t) => {
    if (skipUnlessRoot(t, ['tcpdump'], entry)) return;
    const outside = spawn('tcpdump', ['-i', 'lo', '-n', '-w', '/dev/null'], { stdio: 'ignore' });
    try {
      // Until it holds its packet socket.
      await new Promise((r) => setTimeout(r, 700));
      const r = guard(['--policy', 'fail'], ['sh', '-c', 'sleep 0.6; echo step-done'], process.env, entry);
      assert.equal(r.status, 0, `${r.stderr}\n${JSON.stringify(r.findings.map((f) => f.message))}`);
      assert.match(r.stdout, /step-done/);
      assert.deepEqual(r.findings.map((f) => f.message), []);
      // The same capture inside the tree is the job's.
      const inside = guard(['--policy', 'fail'], SNIFFING_STEP, process.env, entry);
      assert.equal(inside.status, 3, inside.stderr);
      assert.ok(tcpdumpFinding(inside), JSON.stringify(inside.findings.map((f) => f.message)));
    } finally {
      outside.kill('SIGKILL');
    }
  });

  test(`${started}: --stats: the guard says what it cost (its own CPU, the command's wall time) and how many execs it handled`, { timeout: 90_000 }, (t) => {
    if (skipUnlessRoot(t, [], entry)) return;
    // Four real execs (env), each a process the sensor handles.
    const r = guard(['--stats'], ['sh', '-c', 'for i in 1 2 3 4; do env true; done; sleep 0.2'], process.env, entry);
    assert.equal(r.status, 0, r.stderr);
    const m = /sniffwatch: run: stats: command ran (\d+\.\d{3}) s; sniffwatch used (\d+\.\d{3}) s of CPU, (\d+\.\d{3}) s of it after the command started \(user (\d+\.\d{3}) s, system (\d+\.\d{3}) s(?:, launcher (\d+\.\d{3}) s)?, [\d.]+ MiB peak RSS\); (\d+) exec event\(s\) handled \((process-events|proc-scan)\), (\d+) lost/.exec(r.stderr);
    assert.ok(m, `no stats line in: ${r.stderr}`);
    const [ran, cpu, after, user, system, launcher, execs] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0), Number(m[7])];
    assert.ok(ran >= 0.2, `the command slept 0.2 s, ran ${ran} s`);
    assert.ok(cpu > 0 && Math.abs(cpu - (user + system + launcher)) < 0.002, `CPU ${cpu} = user ${user} + system ${system} + launcher ${launcher}`);
    if (entry === 'node') assert.ok(after > 0 && after < cpu, `CPU after the command started (${after} s) is part of the total (${cpu} s): Node's start came before`);
    else assert.ok(m[6] !== undefined && after === cpu, `the launcher started the command before Node: all of sniffwatch's CPU (${cpu} s, launcher ${m[6]} s) came after (${after} s)`);
    if (m[8] === 'process-events') assert.ok(execs >= 5, `sh and four env execs at least, got ${execs}`);
    const plain = guard([], ['true'], process.env, entry);
    assert.doesNotMatch(plain.stderr, /stats:/, 'no stats line unless asked');
  });
}

test('the sniffwatch command finds the launcher through a link (as npm installs it) and takes the Node path when told to', { timeout: 90_000 }, (t) => {
  if (skipUnlessRoot(t, ['tcpdump'], 'launcher')) return;
  const link = join(workDir, 'sniffwatch-link');
  symlinkSync(BIN, link);
  const via = (env: NodeJS.ProcessEnv): Finding | undefined => {
    const out = join(workDir, `findings-${++seq}.jsonl`);
    const r = spawnSync(link, ['run', '--output', out, '--', 'tcpdump', '-c', '1', '-i', 'lo', '-n', '--immediate-mode'], { cwd: workDir, encoding: 'utf8', timeout: 60_000, env });
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(out, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Finding).find((f) => f.rule_id === 'host-sniffer-exec');
  };
  assert.match(via(process.env)?.entities.find((e) => e.role === 'parent_chain')?.value ?? '', /^\d+ sniffwatch-run/);
  assert.match(via({ ...process.env, SNIFFWATCH_NO_LAUNCHER: '1' })?.entities.find((e) => e.role === 'parent_chain')?.value ?? '', /^\d+ node/);
});

test('the sniffwatch command hands run to Node what the launcher does not take: a configuration to check first, a bad option, an output file that cannot be written', { timeout: 90_000 }, (t) => {
  if (skipUnlessRoot(t, ['tcpdump'], 'launcher')) return;
  const config = join(workDir, 'allow.yaml');
  writeFileSync(config, 'host:\n  allow: []\n');
  const withConfig = guard(['--policy', 'fail', '--config', config], ['tcpdump', '-c', '1', '-i', 'lo', '-n', '--immediate-mode'], process.env, 'launcher');
  assert.equal(withConfig.status, 3, withConfig.stderr);
  const f = withConfig.findings.find((x) => x.rule_id === 'host-sniffer-exec');
  assert.match(f?.entities.find((e) => e.role === 'parent_chain')?.value ?? '', /^\d+ node/, 'the configuration was checked by Node before the command started');
  const bad = guard(['--config', join(workDir, 'missing.yaml')], ['sh', '-c', 'echo ran'], process.env, 'launcher');
  assert.equal(bad.status, 2, bad.stderr);
  assert.equal(bad.stdout, '', 'a configuration that does not load stops the job before it starts');
  const unknown = spawnSync(BIN, ['run', '--no-such-option', '--', 'sh', '-c', 'echo ran'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(unknown.status, 2, unknown.stderr);
  assert.equal(unknown.stdout, '');
  assert.match(unknown.stderr, /unknown option '--no-such-option'/);
  const unwritable = spawnSync(BIN, ['run', '--output', '/nonexistent-dir/out.jsonl', '--', 'sh', '-c', 'echo ran'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.notEqual(unwritable.status, 0);
  assert.equal(unwritable.stdout, '', 'an output file that cannot be written stops the job before it starts');
  assert.match(unwritable.stderr, /--output \/nonexistent-dir\/out\.jsonl: ENOENT/);
});
