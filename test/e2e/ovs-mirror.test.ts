// End to end: Open vSwitch mirrors (T1020.001) found by `sniffwatch watch`'s
// host sensor in a real OVS: a private ovsdb-server and ovs-vswitchd (userspace
// datapath) whose database sniffwatch reaches through OVS_RUNDIR, as
// ovs-vsctl does. Mirrors to a GRE and an ERSPAN tunnel and to a local SPAN
// port; a collector listed in host.mirror_collectors, or a mirror named in
// host.allowed_mirrors, stays informational.
// The ports ovs-vswitchd makes promiscuous are its own doing (info), while a
// tcpdump on one of them is still reported. Needs root and openvswitch-switch.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { atLeast, describe, hasEntity } from '../helpers/captures.js';
import { E2eWorkDir, freshLan, skipUnless } from '../helpers/e2e.js';
import { skipUnlessOvs, startOvs, type Ovs } from '../helpers/ovs.js';
import { startWatchIn, type WatchRun } from '../helpers/watch.js';
import type { Lan } from '../helpers/netns-lan.js';

const work = new E2eWorkDir('ovs-mirror');
const BRIDGE = 'ovsbr';
const GRE_COLLECTOR = '198.18.9.9';
const ERSPAN_COLLECTOR = '198.18.9.10';

interface Setup {
  lan: Lan;
  ovs: Ovs;
  dir: string;
}

/**
 * A netdev OVS bridge in the LAN's bridge namespace with the victim's and the
 * attacker's ports (moved off the Linux bridge) and two tunnel ports.
 */
async function ovsLan(t: TestContext, tools: string[] = []): Promise<Setup | undefined> {
  if (!skipUnlessOvs(t) || !(await skipUnless(t, tools))) return undefined;
  const lan = await freshLan(t);
  const dir = mkdtempSync(join(work.path, 'ovs-'));
  const ovs = await startOvs(t, lan, 'bridge', dir);
  for (const port of ['p-victim', 'p-attacker']) await lan.exec('bridge', ['ip', 'link', 'set', port, 'nomaster'], { timeoutMs: 10_000 });
  await ovs.vsctl([
    'add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, 'datapath_type=netdev',
    '--', 'add-port', BRIDGE, 'p-victim',
    '--', 'add-port', BRIDGE, 'p-attacker',
    '--', 'add-port', BRIDGE, 'gre0', '--', 'set', 'interface', 'gre0', 'type=gre', `options:remote_ip=${GRE_COLLECTOR}`,
    '--', 'add-port', BRIDGE, 'erspan0', '--', 'set', 'interface', 'erspan0', 'type=erspan', `options:remote_ip=${ERSPAN_COLLECTOR}`, 'options:key=7', 'options:erspan_ver=1', 'options:erspan_idx=3',
  ]);
  return { lan, ovs, dir };
}

/** Adds mirror `name` to the bridge: copies of the victim's port (or of every port) sent out of `output`. */
async function addMirror(ovs: Ovs, name: string, output: string, selectAll: boolean): Promise<void> {
  const src = selectAll ? [] : ['--', '--id=@src', 'get', 'port', 'p-victim'];
  const select = selectAll ? ['select-all=true'] : ['select-src-port=@src', 'select-dst-port=@src'];
  await ovs.vsctl([
    ...src,
    '--', '--id=@out', 'get', 'port', output,
    '--', '--id=@m', 'create', 'mirror', `name=${name}`, ...select, 'output-port=@out',
    '--', 'add', 'bridge', BRIDGE, 'mirrors', '@m',
  ]);
}

/** `sniffwatch watch` with the host sensor (mirrors polled every second), pointed at the private OVS through OVS_RUNDIR. */
function watchHost(t: TestContext, s: Setup, configYaml: string, args: string[] = []): WatchRun {
  const config = join(s.dir, `sniffwatch-${Date.now()}.yml`);
  writeFileSync(config, `host:\n  mirror_poll_seconds: 1\n${configYaml}`);
  return startWatchIn(
    t,
    s.lan.bridgeNs,
    ['--host', '--iface', 'br0', '--format', 'jsonl', '--config', config, '--fail-on', 'none', '--evidence-dir', join(s.dir, 'evidence'), ...args],
    { OVS_RUNDIR: s.ovs.rundir },
  );
}

function mirrorFinding(w: WatchRun, mirror: string, timeoutMs = 20_000): Promise<Finding> {
  return w.waitFinding((f) => f.rule_id === 'host-traffic-mirror' && f.message.includes(`Open vSwitch mirror ${mirror} `), `host-traffic-mirror finding for OVS mirror ${mirror}`, timeoutMs);
}

test('OVS mirrors to a GRE tunnel, an ERSPAN tunnel and a local port are reported with bridge, ports and collector', { timeout: 90_000 }, async (t) => {
  const s = await ovsLan(t);
  if (!s) return;
  // One mirror exists before sniffwatch starts, the others are configured while it runs.
  await addMirror(s.ovs, 'tap-victim', 'gre0', false);
  const watch = watchHost(t, s, '');
  const gre = await mirrorFinding(watch, 'tap-victim');
  await addMirror(s.ovs, 'copy-all', 'erspan0', true);
  await addMirror(s.ovs, 'span-ids', 'p-attacker', true);
  const erspan = await mirrorFinding(watch, 'copy-all');
  const local = await mirrorFinding(watch, 'span-ids');
  await watch.stop('SIGTERM', 20_000);
  for (const f of [gre, erspan, local]) t.diagnostic(`${f.severity}: ${f.message}`);

  await t.test('mirror of the victim port into GRE: high, names mirror, bridge, selected port, output port and remote', () => {
    const all = describe([gre]);
    assert.equal(gre.severity, 'high', all);
    assert.deepEqual(gre.attack.techniques, ['T1020.001'], all);
    assert.match(gre.message, new RegExp(`Open vSwitch mirror tap-victim \\(port p-victim\\) sends copies to port gre0 \\(gre tunnel\\) on bridge ${BRIDGE}; copies go to ${GRE_COLLECTOR.replace(/\./g, '\\.')}`), all);
    assert.ok(hasEntity(gre, 'interface', 'p-victim', 'source'), all);
    assert.ok(hasEntity(gre, 'interface', 'gre0', 'mirror_port'), all);
    assert.ok(hasEntity(gre, 'ip', GRE_COLLECTOR, 'collector'), all);
  });
  await t.test('select-all mirror into ERSPAN: high, all ports, remote named', () => {
    const all = describe([erspan]);
    assert.equal(erspan.severity, 'high', all);
    assert.match(erspan.message, new RegExp(`mirror copy-all \\(all ports\\) sends copies to port erspan0 \\(erspan tunnel\\) on bridge ${BRIDGE}; copies go to ${ERSPAN_COLLECTOR.replace(/\./g, '\\.')}`), all);
    assert.ok(hasEntity(erspan, 'interface', 'erspan0', 'mirror_port'), all);
    assert.ok(hasEntity(erspan, 'ip', ERSPAN_COLLECTOR, 'collector'), all);
  });
  await t.test('select-all mirror to a local port: medium, no collector', () => {
    const all = describe([local]);
    assert.equal(local.severity, 'medium', all);
    assert.match(local.message, new RegExp(`mirror span-ids \\(all ports\\) sends copies to port p-attacker on bridge ${BRIDGE}`), all);
    assert.ok(hasEntity(local, 'interface', 'p-attacker', 'mirror_port'), all);
    assert.ok(!local.entities.some((e) => e.role === 'collector'), all);
  });
});

test('a mirror whose tunnel remote is in host.mirror_collectors is reported at info only', { timeout: 90_000 }, async (t) => {
  const s = await ovsLan(t);
  if (!s) return;
  await addMirror(s.ovs, 'to-broker', 'gre0', true);
  await addMirror(s.ovs, 'to-unknown', 'erspan0', true);
  const watch = watchHost(t, s, `  mirror_collectors: [${GRE_COLLECTOR}]\n`, ['--min-severity', 'info']);
  const allowed = await mirrorFinding(watch, 'to-broker');
  const other = await mirrorFinding(watch, 'to-unknown');
  await watch.stop('SIGTERM', 20_000);
  for (const f of [allowed, other]) t.diagnostic(`${f.severity}: ${f.message}`);
  assert.equal(allowed.severity, 'info', describe([allowed]));
  assert.match(allowed.message, /collector allowed by config/);
  assert.ok(hasEntity(allowed, 'ip', GRE_COLLECTOR, 'collector'), describe([allowed]));
  // The allowlist covers that collector only.
  assert.equal(other.severity, 'high', describe([other]));
});

test('a mirror named in host.allowed_mirrors is info; another mirror on the same bridge is still reported', { timeout: 90_000 }, async (t) => {
  const s = await ovsLan(t);
  if (!s) return;
  await addMirror(s.ovs, 'to-broker', 'gre0', true);
  await addMirror(s.ovs, 'to-elsewhere', 'erspan0', true);
  await addMirror(s.ovs, 'span-attacker', 'p-attacker', false);
  const watch = watchHost(t, s, `  allowed_mirrors:\n    - { ovs_mirror: to-broker, bridge: ${BRIDGE} }\n    - { ovs_mirror: to-broker, bridge: other-bridge }\n`, ['--min-severity', 'info']);
  const allowed = await mirrorFinding(watch, 'to-broker');
  const tunnel = await mirrorFinding(watch, 'to-elsewhere');
  const span = await mirrorFinding(watch, 'span-attacker');
  await watch.stop('SIGTERM', 20_000);
  for (const f of [allowed, tunnel, span]) t.diagnostic(`${f.severity}: ${f.message}`);
  const all = describe([allowed, tunnel, span]);
  assert.equal(allowed.severity, 'info', all);
  assert.match(allowed.message, new RegExp(`allowed by config \\(ovs_mirror=to-broker bridge=${BRIDGE}\\)`), all);
  // Still described in full: the allowlist lowers the severity, it does not hide where copies go.
  assert.ok(hasEntity(allowed, 'ip', GRE_COLLECTOR, 'collector'), all);
  assert.equal(tunnel.severity, 'high', all);
  assert.equal(span.severity, 'medium', all);
  assert.doesNotMatch(tunnel.message + span.message, /allowed by config/, all);
});

/** Interfaces of the bridge namespace ovs-vswitchd makes promiscuous: its two system ports and the tap devices of its netdev datapath and bridge. */
const OVS_PROMISC = ['p-victim', 'p-attacker', 'ovs-netdev', BRIDGE];

function promiscFinding(w: WatchRun, ifname: string, pred: (f: Finding) => boolean = () => true): Promise<Finding> {
  return w.waitFinding(
    (f) => f.rule_id === 'host-promiscuous-interface' && hasEntity(f, 'interface', ifname, 'promiscuous_interface') && pred(f),
    `host-promiscuous-interface finding for ${ifname}`,
    20_000,
  );
}

function actingPid(f: Finding, role: string): number[] {
  return f.entities.filter((e) => e.type === 'process' && e.role === role).map((e) => Number(e.value.split(' ')[0]));
}

test('ports ovs-vswitchd makes promiscuous are info naming it; tcpdump on one of them is still reported', { timeout: 90_000 }, async (t) => {
  const s = await ovsLan(t, ['tcpdump']);
  if (!s) return;
  const watch = watchHost(t, s, '', ['--min-severity', 'info']);
  const ports = await Promise.all(OVS_PROMISC.map((i) => promiscFinding(watch, i)));
  const daemonSocket = await watch.waitFinding(
    (f) => f.rule_id === 'host-packet-socket' && /\/ovs-vswitchd$/.test(f.entities.find((e) => e.role === 'executable')?.value ?? ''),
    'host-packet-socket finding for ovs-vswitchd',
    20_000,
  );
  for (const f of [...ports, daemonSocket]) t.diagnostic(`${f.severity}: ${f.message}`);

  await t.test('the switch daemon\'s own promiscuity and packet sockets raise nothing medium or above', () => {
    for (const f of ports) assert.match(f.message, /promiscuous as a port of the switch daemon ovs-vswitchd \(pid \d+\)/, describe([f]));
    const ovsFindings = watch.findings.filter(
      (f) => (f.rule_id === 'host-promiscuous-interface' && OVS_PROMISC.some((i) => hasEntity(f, 'interface', i, 'promiscuous_interface'))) || f === daemonSocket,
    );
    assert.deepEqual(atLeast(ovsFindings, 'medium'), [], describe(ovsFindings));
  });

  const file = join(s.dir, 'p-victim.pcap');
  const td = s.lan.spawn('bridge', ['tcpdump', '-Z', 'root', '-i', 'p-victim', '-n', '-U', '-w', file], 'tcpdump');
  t.after(() => td.stop('SIGKILL', 1000));
  await td.waitFor(/listening on/, 15_000);
  const exec = await watch.waitFinding((f) => f.rule_id === 'host-sniffer-exec' && actingPid(f, 'sniffer').includes(td.pid), `host-sniffer-exec for tcpdump pid ${td.pid}`, 20_000);
  const promisc = await promiscFinding(watch, 'p-victim', (f) => actingPid(f, 'capturer').includes(td.pid));
  await td.stop('SIGINT', 10_000);
  await watch.stop('SIGTERM', 20_000);
  for (const f of [exec, promisc]) t.diagnostic(`${f.severity}: ${f.message}`);

  await t.test('tcpdump on a port the switch holds: host-sniffer-exec as usual, and the port\'s promiscuity rises to medium naming tcpdump', () => {
    const all = describe([exec, promisc]);
    assert.ok(atLeast([exec], 'medium').length === 1, all);
    assert.ok(hasEntity(exec, 'process', `${td.pid} tcpdump -Z root -i p-victim -n -U -w ${file}`, 'sniffer'), all);
    assert.ok(hasEntity(exec, 'interface', 'p-victim', 'capture_interface'), all);
    assert.doesNotMatch(exec.message, /allowed by config/, all);
    assert.equal(promisc.severity, 'medium', all);
    assert.match(promisc.message, new RegExp(`capturing: tcpdump \\(pid ${td.pid}\\)`), all);
  });
});
