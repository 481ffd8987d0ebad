// End to end: the host sensor library watching this machine while real
// sniffers, ARP spoofers, a scapy sniffer, a tc mirror into a VXLAN tunnel and
// a private Open vSwitch in a namespace run, and while benign commands run.
// Needs root; see README.md.
//
// Other processes on the machine (other test suites) are seen too: every
// assertion is tied to the pid of a process this file started.

import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportSink } from '../../src/analyzers/report-sink.js';
import { parseConfig, type SniffwatchConfig } from '../../src/config/config.js';
import { FindingAggregator } from '../../src/findings/aggregate.js';
import { severityRank, type Finding } from '../../src/findings/finding.js';
import { SecretRedactor } from '../../src/findings/redact.js';
import { HOST_CONFIG, startHostSensors, type HostSensors } from '../../src/host/index.js';
import { freshLan, skipUnless } from '../helpers/e2e.js';
import { canRunNetns, createLan, findTool, sleep, GATEWAY, UPSTREAM, VICTIM, type Lan } from '../helpers/netns-lan.js';
import { skipUnlessOvs, startOvs } from '../helpers/ovs.js';

const ADDON = new URL('../../../native/procconn/build/Release/procconn.node', import.meta.url);
const workDir = mkdtempSync(join(tmpdir(), 'sniffwatch-e2e-host-'));
const children = new Set<ChildProcess>();

interface Watcher {
  sensor: HostSensors;
  aggregator: FindingAggregator;
}

function config(yaml: string): SniffwatchConfig {
  return parseConfig(yaml, 'e2e.yml', [HOST_CONFIG]);
}

async function watcher(cfg: SniffwatchConfig, pollMs: number): Promise<Watcher> {
  const aggregator = new FindingAggregator({ profile: 'production' });
  const sensor = await startHostSensors({ config: cfg, report: reportSink(aggregator, new SecretRedactor(false)), pollMs });
  return { sensor, aggregator };
}

let rootWhy: string | undefined;
let main: Watcher | undefined;
let ping: ChildProcess | undefined;

before(async () => {
  rootWhy = process.platform !== 'linux' ? `needs Linux: platform is ${process.platform}` : process.getuid?.() !== 0 ? `needs root: running as uid ${process.getuid?.()}` : undefined;
  if (rootWhy) return;
  main = await watcher(config('host:\n  mirror_poll_seconds: 1\n'), 200);
  // Loopback traffic for the captures that wait for packets (every 5 ms: tcpdump -c 1 gets its packet at once).
  ping = start('ping', ['-q', '-i', '0.005', '127.0.0.1']);
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await main?.sensor.stop();
  rmSync(workDir, { recursive: true, force: true });
});

function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  children.add(c);
  c.stdout?.resume();
  c.stderr?.resume();
  c.on('exit', () => children.delete(c));
  return c;
}

function exited(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
}

function stderrOf(c: ChildProcess): { text: () => string; waitFor: (re: RegExp, ms: number) => Promise<void> } {
  let text = '';
  c.stderr?.on('data', (d: Buffer) => {
    text += d.toString();
  });
  return {
    text: () => text,
    waitFor: async (re, ms) => {
      const end = Date.now() + ms;
      while (!re.test(text)) {
        if (Date.now() > end || c.exitCode !== null) throw new Error(`no ${re} in: ${text.slice(-500)}`);
        await sleep(50);
      }
    },
  };
}

function pidOf(value: string): number {
  return Number(value.split(' ')[0]);
}

/** The finding of `rule` whose acting process (not an ancestor) is `pid` (and that passes `also`). */
function findingFor(w: Watcher, rule: string, pid: number, also: (f: Finding) => boolean = () => true): Finding | undefined {
  return w.aggregator.findings().find((f) => f.rule_id === rule && f.entities.some((e) => e.type === 'process' && e.role !== 'parent_chain' && e.role !== 'capturer' && pidOf(e.value) === pid) && also(f));
}

async function waitFinding(w: Watcher, rule: string, pid: number, ms = 10_000, also?: (f: Finding) => boolean): Promise<Finding> {
  const end = Date.now() + ms;
  for (;;) {
    const f = findingFor(w, rule, pid, also);
    if (f) return f;
    if (Date.now() > end) {
      const seen = w.aggregator.findings().map((x) => `${x.rule_id}: ${x.message}`).join('\n');
      throw new Error(`no ${rule} for pid ${pid} within ${ms} ms; findings:\n${seen.slice(-3000)}`);
    }
    await sleep(50);
  }
}

function entity(f: Finding, role: string): string | undefined {
  return f.entities.find((e) => e.role === role)?.value;
}

/** Checks pid, executable and arguments of the acting process (a finding aggregates identical runs, so other pids may be listed too). */
function assertProcess(f: Finding, role: string, pid: number, exe: RegExp, argv: string): void {
  const mine = f.entities.find((e) => e.type === 'process' && e.role === role && pidOf(e.value) === pid);
  assert.equal(mine?.value, `${pid} ${argv}`, `${f.rule_id}: process entity among ${JSON.stringify(f.entities)}`);
  assert.match(entity(f, 'executable') ?? '', exe, `${f.rule_id}: executable`);
}

function skipWithout(t: TestContext, tool: string, pkg: string): boolean {
  if (rootWhy) {
    t.skip(rootWhy);
    return true;
  }
  if (!findTool(tool)) {
    t.skip(`tool missing: ${tool} (Debian package ${pkg})`);
    return true;
  }
  return false;
}

function skipWithoutAddon(t: TestContext): boolean {
  if (existsSync(ADDON)) return false;
  t.skip('native addon procconn not built (npm run build:native; needs build-essential)');
  return true;
}

/** A sensor that polls once a minute: only the connector can see a short-lived process. */
async function connectorWatcher(): Promise<Watcher> {
  return watcher(config('host:\n  mirror_poll_seconds: 3600\n'), 60_000);
}

test('tcpdump -c 1 -i lo that exits in milliseconds is seen through the process-events connector', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'tcpdump', 'tcpdump') || skipWithoutAddon(t)) return;
  const w = await connectorWatcher();
  try {
    assert.equal(w.sensor.stats().mode, 'process-events', w.sensor.notes.join('; '));
    const t0 = process.hrtime.bigint();
    // --immediate-mode: without it the first packet waits for the 1 s TPACKET_V3 block timeout.
    const td = start('tcpdump', ['-c', '1', '-i', 'lo', '-n', '--immediate-mode']);
    const exit = await exited(td);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    t.diagnostic(`tcpdump -c 1 lived ${ms.toFixed(1)} ms (exit ${exit.code ?? exit.signal})`);
    assert.equal(exit.code, 0);
    await w.sensor.flush();
    const f = findingFor(w, 'host-sniffer-exec', td.pid!);
    assert.ok(f, `no host-sniffer-exec for pid ${td.pid}: ${JSON.stringify(w.aggregator.findings().map((x) => x.message))} ${JSON.stringify(w.sensor.stats())} ${w.sensor.notes.join('; ')}`);
    assertProcess(f, 'sniffer', td.pid!, /\/tcpdump$/, 'tcpdump -c 1 -i lo -n --immediate-mode');
    assert.deepEqual(f.attack.techniques, ['T1040']);
    assert.equal(f.evidence[0]?.source, 'host:process-events');
    assert.equal(entity(f, 'capture_interface'), 'lo');
  } finally {
    await w.sensor.stop();
  }
});

/** State letter of /proc/PID/stat ('Z' for a zombie), '' when there is no such process. */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return '';
  }
}

test('a blocked event loop: tcpdump -c 1 and its shell exit before JavaScript runs, and the finding still has pid, executable, argv and parents', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'tcpdump', 'tcpdump') || skipWithoutAddon(t)) return;
  const w = await connectorWatcher();
  try {
    assert.equal(w.sensor.stats().mode, 'process-events', w.sensor.notes.join('; '));
    const sh = start('sh', ['-c', 'tcpdump -c 1 -i lo -n --immediate-mode >/dev/null 2>&1 & echo $!; wait $!']);
    let out = '';
    sh.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    // 'exit' can come before the pipe's data: the pid is read once stdout is closed too.
    const closed = new Promise<void>((resolve) => sh.once('close', () => resolve()));
    // Busy for a second (a loaded `watch`), and on until the shell is a zombie that only this blocked
    // process could reap: by then tcpdump has exited and been reaped, nothing of it is left in /proc.
    const busy = Date.now() + 1000;
    const end = Date.now() + 20_000;
    while (Date.now() < busy || (procState(sh.pid!) !== 'Z' && Date.now() < end)) {
      // the event loop handles nothing meanwhile
    }
    assert.equal(procState(sh.pid!), 'Z', 'the shell and its tcpdump exited while the event loop was blocked');
    await closed;
    const pid = Number(out.trim());
    assert.ok(Number.isInteger(pid) && pid > 0, `tcpdump pid from the shell: ${JSON.stringify(out)}`);
    assert.equal(procState(pid), '', 'tcpdump is gone from /proc');
    const f = await waitFinding(w, 'host-sniffer-exec', pid);
    assertProcess(f, 'sniffer', pid, /\/tcpdump$/, 'tcpdump -c 1 -i lo -n --immediate-mode');
    assert.match(entity(f, 'parent_chain') ?? '', new RegExp(`^${sh.pid} sh < ${process.pid} node`));
    assert.equal(f.evidence[0]?.source, 'host:process-events');
    assert.doesNotMatch(f.message, /exited before it could be fully inspected/, 'read completely at the exec');
    t.diagnostic(JSON.stringify(w.sensor.stats()));
  } finally {
    await w.sensor.stop();
  }
});

test('events the kernel could not deliver are counted and reported (small buffer, blocked event loop, fork storm)', { timeout: 60_000 }, async (t) => {
  if (rootWhy) {
    t.skip(rootWhy);
    return;
  }
  if (skipWithoutAddon(t)) return;
  const aggregator = new FindingAggregator({ profile: 'production' });
  const sensor = await startHostSensors({ config: config('host:\n  mirror_poll_seconds: 3600\n'), report: reportSink(aggregator, new SecretRedactor(false)), pollMs: 60_000, rcvbufBytes: 65536 });
  try {
    const storm = start('sh', ['-c', 'i=0; while [ $i -lt 3000 ]; do /bin/true; i=$((i+1)); done']);
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      // block the event loop: the 64 KiB socket buffer overflows
    }
    await exited(storm);
    await sensor.flush();
    const s = sensor.stats();
    t.diagnostic(`received ${s.execs} execs, ${s.lost} events lost`);
    assert.ok(s.lost > 0, 'loss was counted');
    const f = aggregator.findings().find((x) => x.rule_id === 'host-sensor-events-lost');
    assert.ok(f, 'host-sensor-events-lost reported');
    assert.match(f.message, new RegExp(`^\\d+ process event\\(s\\) lost .*; ${s.lost} in total`));
    assert.equal(s.mode, 'process-events', 'the connector keeps working after the overflow');
    const after = s.execs;
    const again = start('/bin/true', []);
    await exited(again);
    await sensor.flush();
    assert.ok(sensor.stats().execs > after, 'events are received again after the overflow');
  } finally {
    await sensor.stop();
  }
});

test('tcpdump writing a file: exec, packet socket and promiscuous lo', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'tcpdump', 'tcpdump')) return;
  const file = join(workDir, 'td.pcap');
  const td = start('tcpdump', ['-Z', 'root', '-i', 'lo', '-n', '-U', '-w', file]);
  const err = stderrOf(td);
  await err.waitFor(/listening on/, 15_000);
  const exec = await waitFinding(main!, 'host-sniffer-exec', td.pid!);
  assertProcess(exec, 'sniffer', td.pid!, /\/tcpdump$/, `tcpdump -Z root -i lo -n -U -w ${file}`);
  assert.equal(entity(exec, 'capture_file'), file);
  assert.ok(severityRank(exec.severity) >= severityRank('high'), `writes a file under a build tool (node): ${exec.severity}`);
  const sock = await waitFinding(main!, 'host-packet-socket', td.pid!);
  assert.equal(entity(sock, 'capture_interface'), 'lo');
  assert.match(sock.message, /ETH_P_ALL/);
  const end = Date.now() + 10_000;
  while (!main!.aggregator.findings().some((f) => f.rule_id === 'host-promiscuous-interface' && entity(f, 'promiscuous_interface') === 'lo')) {
    assert.ok(Date.now() < end, 'no host-promiscuous-interface for lo');
    await sleep(50);
  }
  td.kill('SIGINT');
  await exited(td);
});

test('tshark is reported, the dumpcap it starts is not reported separately', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'tshark', 'tshark')) return;
  const file = join(workDir, 'ts.pcapng');
  const ts = start('tshark', ['-i', 'lo', '-a', 'duration:3', '-w', file]);
  const f = await waitFinding(main!, 'host-sniffer-exec', ts.pid!, 15_000);
  assertProcess(f, 'sniffer', ts.pid!, /\/tshark$/, `tshark -i lo -a duration:3 -w ${file}`);
  await exited(ts);
  await main!.sensor.flush();
  const dumpcapUnderTshark = main!.aggregator.findings().filter((x) => x.rule_id === 'host-sniffer-exec' && /^dumpcap/.test(x.message) && (entity(x, 'parent_chain') ?? '').startsWith(`${ts.pid} `));
  assert.deepEqual(dumpcapUnderTshark, []);
});

test('dumpcap run directly is reported', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'dumpcap', 'tshark')) return;
  const file = join(workDir, 'dc.pcapng');
  const dc = start('dumpcap', ['-i', 'lo', '-a', 'duration:2', '-w', file]);
  const f = await waitFinding(main!, 'host-sniffer-exec', dc.pid!, 15_000);
  assertProcess(f, 'sniffer', dc.pid!, /\/dumpcap$/, `dumpcap -i lo -a duration:2 -w ${file}`);
  assert.equal(entity(f, 'capture_file'), file);
  await exited(dc);
});

test('ngrep is reported', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'ngrep', 'ngrep')) return;
  const ng = start('ngrep', ['-q', '-d', 'lo', '-n', '3', '']);
  const f = await waitFinding(main!, 'host-sniffer-exec', ng.pid!, 15_000);
  assertProcess(f, 'sniffer', ng.pid!, /\/ngrep$/, "ngrep -q -d lo -n 3 ''");
  ng.kill('SIGKILL');
  await exited(ng);
});

test('netsniff-ng is reported', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'netsniff-ng', 'netsniff-ng')) return;
  const file = join(workDir, 'ns.pcap');
  const ns = start('netsniff-ng', ['--in', 'lo', '--out', file, '--num', '20', '--silent']);
  const f = await waitFinding(main!, 'host-sniffer-exec', ns.pid!, 15_000);
  assertProcess(f, 'sniffer', ns.pid!, /\/netsniff-ng$/, `netsniff-ng --in lo --out ${file} --num 20 --silent`);
  assert.equal(entity(f, 'capture_file'), file);
  ns.kill('SIGKILL');
  await exited(ns);
});

test('a scapy sniffer in python3 -c is reported with its code and packet socket', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'python3', 'python3')) return;
  const py = '/usr/bin/python3';
  const probe = spawn(py, ['-c', 'import scapy.all'], { stdio: 'ignore' });
  if ((await exited(probe)).code !== 0) {
    t.skip('python3-scapy missing for /usr/bin/python3 (Debian package python3-scapy)');
    return;
  }
  const code = "from scapy.all import sniff; sniff(iface='lo', count=1000000, timeout=30)";
  const sc = start(py, ['-c', code]);
  const f = await waitFinding(main!, 'host-sniffer-exec', sc.pid!, 15_000);
  assertProcess(f, 'sniffer', sc.pid!, /\/python3(\.\d+)?$/, `${py} -c '${code.replace(/'/g, "'\\''")}'`);
  assert.match(f.message, /^scapy is capturing traffic on lo/);
  assert.match(f.evidence[0]?.detail ?? '', /recognised by code \(scapy sniff\(\)\)/);
  await waitFinding(main!, 'host-packet-socket', sc.pid!, 20_000);
  sc.kill('SIGKILL');
  await exited(sc);
});

let lan: Lan | undefined;
async function theLan(t: TestContext): Promise<Lan | undefined> {
  const why = rootWhy ?? (await canRunNetns());
  if (why) {
    t.skip(why);
    return undefined;
  }
  lan ??= await createLan();
  return lan;
}
after(async () => lan?.destroy());

test('arpspoof in a namespace is reported as ARP poisoning (T1557.002) with its namespace', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'arpspoof', 'dsniff')) return;
  const l = await theLan(t);
  if (!l) return;
  const sp = l.spawn('attacker', ['arpspoof', '-i', 'eth0', '-t', VICTIM.ip, GATEWAY.ip], 'arpspoof');
  const f = await waitFinding(main!, 'host-arp-spoof-tool-exec', sp.pid);
  assertProcess(f, 'attacker', sp.pid, /\/arpspoof$/, `arpspoof -i eth0 -t ${VICTIM.ip} ${GATEWAY.ip}`);
  assert.deepEqual(f.attack.techniques, ['T1557.002']);
  assert.equal(entity(f, 'network_namespace'), `netns ${l.host('attacker').ns}`);
  await sp.stop('SIGKILL');
});

test('ettercap arp:remote in a namespace: ARP poisoning and its packet socket on eth0', { timeout: 90_000 }, async (t) => {
  if (skipWithout(t, 'ettercap', 'ettercap-text-only')) return;
  const l = await theLan(t);
  if (!l) return;
  const et = l.spawn('attacker', ['ettercap', '-T', '-q', '-i', 'eth0', '-M', 'arp:remote', `/${VICTIM.ip}//`, `/${GATEWAY.ip}//`], 'ettercap');
  const f = await waitFinding(main!, 'host-arp-spoof-tool-exec', et.pid);
  assertProcess(f, 'attacker', et.pid, /\/ettercap$/, `ettercap -T -q -i eth0 -M arp:remote /${VICTIM.ip}// /${GATEWAY.ip}//`);
  assert.equal(entity(f, 'capture_interface'), 'eth0');
  // ettercap holds two: one on eth0, one on all interfaces.
  const sock = await waitFinding(main!, 'host-packet-socket', et.pid, 20_000, (x) => entity(x, 'capture_interface') === 'eth0');
  assert.match(sock.message, /^ettercap \(pid \d+, .+\) holds a packet socket on eth0 in netns /);
  assert.equal(entity(sock, 'network_namespace'), `netns ${l.host('attacker').ns}`);
  await et.stop('SIGKILL');
});

test('tc mirred into a VXLAN device is traffic duplication to the tunnel remote; an allowed collector is info', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'tc', 'iproute2')) return;
  const l = await theLan(t);
  if (!l) return;
  const ns = `netns ${l.host('gateway').ns}`;
  await l.exec('gateway', ['ip', 'link', 'add', 'vxsw0', 'type', 'vxlan', 'id', '4242', 'remote', UPSTREAM.ip, 'dstport', '4789', 'dev', 'eth1']);
  await l.exec('gateway', ['ip', 'link', 'set', 'vxsw0', 'up']);
  await l.exec('gateway', ['tc', 'qdisc', 'add', 'dev', 'eth0', 'clsact']);
  await l.exec('gateway', ['tc', 'filter', 'add', 'dev', 'eth0', 'ingress', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'mirror', 'dev', 'vxsw0']);
  // The tc mirror (source eth0), not the finding about the tunnel device alone (low, seen before the filter existed).
  const mine = (w: Watcher): Finding | undefined =>
    w.aggregator.findings().find((f) => f.rule_id === 'host-traffic-mirror' && entity(f, 'network_namespace') === ns && entity(f, 'source') === 'eth0' && entity(f, 'mirror_port') === 'vxsw0' && entity(f, 'collector') === UPSTREAM.ip);
  const end = Date.now() + 20_000;
  while (!mine(main!)) {
    assert.ok(Date.now() < end, `no host-traffic-mirror in ${ns}: ${JSON.stringify(main!.aggregator.findings().filter((f) => f.rule_id === 'host-traffic-mirror').map((f) => f.message))}`);
    await sleep(100);
  }
  const f = mine(main!)!;
  assert.equal(f.severity, 'high');
  assert.deepEqual(f.attack.techniques, ['T1020.001']);
  assert.equal(entity(f, 'source'), 'eth0');
  assert.match(f.message, /tc mirred action \d+ on eth0 ingress mirrors packets to vxsw0; copies go to 198\.19\.0\.2 through vxlan device vxsw0 \(id 4242\)/);

  const allowed = await watcher(config(`host:\n  mirror_collectors: [${UPSTREAM.ip}]\n`), 1000);
  try {
    const end2 = Date.now() + 20_000;
    while (!mine(allowed)) {
      assert.ok(Date.now() < end2, 'no host-traffic-mirror with the allowed collector');
      await sleep(100);
    }
    assert.equal(mine(allowed)!.severity, 'info');
    assert.match(mine(allowed)!.message, /collector allowed by config/);
  } finally {
    await allowed.sensor.stop();
  }
});

test('host.allowed_mirrors: a tc filter and a tunnel device named there are info; an unnamed tunnel is still reported', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'tc', 'iproute2')) return;
  const l = await theLan(t);
  if (!l) return;
  const ns = `netns ${l.host('victim').ns}`;
  for (const [dev, id, port] of [['vxok0', '77', '4791'], ['vxno0', '78', '4792'], ['vxother0', '79', '4793']] as const) {
    await l.exec('victim', ['ip', 'link', 'add', dev, 'type', 'vxlan', 'id', id, 'remote', UPSTREAM.ip, 'dstport', port, 'dev', 'eth0']);
    await l.exec('victim', ['ip', 'link', 'set', dev, 'up']);
  }
  await l.exec('victim', ['tc', 'qdisc', 'add', 'dev', 'eth0', 'clsact']);
  await l.exec('victim', ['tc', 'filter', 'add', 'dev', 'eth0', 'ingress', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'mirror', 'dev', 'vxno0']);
  const w = await watcher(config('host:\n  mirror_poll_seconds: 1\n  allowed_mirrors:\n    - { tc_filter: "eth0 ingress" }\n    - { device: vxok0 }\n'), 1000);
  try {
    const find = (pred: (f: Finding) => boolean): Finding | undefined =>
      w.aggregator.findings().find((f) => f.rule_id === 'host-traffic-mirror' && entity(f, 'network_namespace') === ns && pred(f));
    const tcMirror = (f: Finding): boolean => entity(f, 'source') === 'eth0' && entity(f, 'mirror_port') === 'vxno0';
    const tunnel = (dev: string) => (f: Finding): boolean => entity(f, 'source') === undefined && entity(f, 'mirror_port') === dev;
    const end = Date.now() + 20_000;
    while (!find(tcMirror) || !find(tunnel('vxok0')) || !find(tunnel('vxother0'))) {
      assert.ok(Date.now() < end, `not all host-traffic-mirror findings in ${ns}: ${JSON.stringify(w.aggregator.findings().filter((f) => f.rule_id === 'host-traffic-mirror').map((f) => f.message))}`);
      await sleep(100);
    }
    const [mirror, ok, other] = [find(tcMirror)!, find(tunnel('vxok0'))!, find(tunnel('vxother0'))!];
    for (const f of [mirror, ok, other]) t.diagnostic(`${f.severity}: ${f.message}`);
    assert.equal(mirror.severity, 'info', mirror.message);
    assert.match(mirror.message, /tc mirred action \d+ on eth0 ingress mirrors packets to vxno0; copies go to 198\.19\.0\.2 .*; allowed by config \(tc_filter=eth0 ingress\)/);
    assert.equal(ok.severity, 'info', ok.message);
    assert.match(ok.message, /^vxlan device vxok0 sends to 198\.19\.0\.2, .*; allowed by config \(device=vxok0\)$/);
    assert.equal(other.severity, 'low', other.message);
    assert.doesNotMatch(other.message, /allowed by config/);
  } finally {
    await w.sensor.stop();
  }
});

test('ports a switch daemon makes promiscuous in another network namespace (seen in the kernel log) are info, naming it', { timeout: 90_000 }, async (t) => {
  if (rootWhy) {
    t.skip(rootWhy);
    return;
  }
  if (!skipUnlessOvs(t) || !(await skipUnless(t, []))) return;
  const l = await freshLan(t);
  const dir = mkdtempSync(join(workDir, 'ovs-'));
  const ovs = await startOvs(t, l, 'bridge', dir);
  const ovsPid = Number(readFileSync(join(dir, 'ovs-vswitchd.pid'), 'utf8').trim());
  // A name no other namespace uses, so the kernel log's line is this port's.
  const port = `ovk${process.pid % 100_000}`;
  await l.exec('bridge', ['ip', 'link', 'add', port, 'type', 'veth', 'peer', 'name', `${port}b`]);
  await l.exec('bridge', ['ip', 'link', 'set', port, 'up']);
  await ovs.vsctl(['add-br', 'ovsk', '--', 'set', 'bridge', 'ovsk', 'datapath_type=netdev', '--', 'add-port', 'ovsk', port]);
  const mine = (): Finding | undefined => main!.aggregator.findings().find((f) => f.rule_id === 'host-promiscuous-interface' && entity(f, 'promiscuous_interface') === port);
  const end = Date.now() + 20_000;
  while (!mine()) {
    assert.ok(Date.now() < end, `no host-promiscuous-interface for ${port}`);
    await sleep(100);
  }
  const f = mine()!;
  t.diagnostic(`${f.severity}: ${f.message}`);
  assert.equal(f.severity, 'info', f.message);
  assert.equal(f.message, `${port} is promiscuous as a port of the switch daemon ovs-vswitchd (pid ${ovsPid}): by design`);
  assert.ok(f.entities.some((e) => e.type === 'process' && pidOf(e.value) === ovsPid), JSON.stringify(f.entities));
  assert.match(f.evidence[0]?.detail ?? '', /network namespace not given by the kernel log/);
});

test('benign: compilers, a tiny cc build, curl to a loopback server, ip, ping raise nothing medium or above', { timeout: 60_000 }, async (t) => {
  if (rootWhy) {
    t.skip(rootWhy);
    return;
  }
  for (const tool of ['gcc', 'cc', 'curl', 'ip', 'ping']) {
    if (!findTool(tool)) {
      t.skip(`tool missing: ${tool}`);
      return;
    }
  }
  const server = createServer((_req, res) => res.end('ok\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const execsBefore = main!.sensor.stats().execs;
  const script = [
    'gcc --version >/dev/null',
    `cd ${workDir}`,
    "printf 'int main(void){return 0;}\\n' > t.c",
    'cc -o t t.c',
    './t',
    `curl -sf -o /dev/null http://127.0.0.1:${port}/`,
    'ip link show >/dev/null',
    'ip -j addr >/dev/null',
    'ping -c1 127.0.0.1 >/dev/null',
  ].join(' && ');
  const sh = start('sh', ['-c', script]);
  const exit = await exited(sh);
  server.close();
  assert.equal(exit.code, 0, 'the benign commands ran');
  await main!.sensor.flush();
  await sleep(600); // a few packet-socket polls
  const execs = main!.sensor.stats().execs - execsBefore;
  t.diagnostic(`${execs} exec events while the benign commands ran`);
  if (main!.sensor.stats().mode === 'process-events') assert.ok(execs >= 8, 'the sensor saw the benign executions');
  const involved = main!.aggregator.findings().filter((f) => f.entities.some((e) => e.type === 'process' && (pidOf(e.value) === sh.pid || e.value.split(' < ').some((x) => pidOf(x) === sh.pid))));
  assert.deepEqual(
    involved.filter((f) => severityRank(f.severity) >= severityRank('medium')).map((f) => `${f.rule_id} ${f.severity}: ${f.message}`),
    [],
  );
});

after(() => {
  ping?.kill('SIGKILL');
});
