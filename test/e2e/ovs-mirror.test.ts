// End to end: Open vSwitch mirrors (T1020.001) found by `sniffwatch watch`'s
// host sensor in a real OVS: a private ovsdb-server and ovs-vswitchd (userspace
// datapath) whose database sniffwatch reaches through OVS_RUNDIR, as
// ovs-vsctl does. Mirrors to a GRE and an ERSPAN tunnel and to a local SPAN
// port; a collector listed in host.mirror_collectors stays informational.
// Needs root and openvswitch-switch.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity } from '../helpers/captures.js';
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
async function ovsLan(t: TestContext): Promise<Setup | undefined> {
  if (!skipUnlessOvs(t) || !(await skipUnless(t, []))) return undefined;
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
