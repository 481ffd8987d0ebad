// End to end: `sniffwatch watch` on a wire that carries the LAN 802.1Q-tagged
// (and QinQ: 802.1ad outside, 802.1Q inside), the way a sensor on a switch's
// SPAN or trunk port sees it. The hosts sit on access ports of VLAN 20 of an
// Open vSwitch (userspace datapath); a mirror copies everything, tagged, to a
// veth whose other end sniffwatch captures. Tags arrive in-frame on the veth
// and the kernel moves the outer one into packet metadata on receive, so
// both libpcap's rebuilding of the tag (auxdata) and the kernel BPF filter's
// VLAN matching are on the path. Needs root, the native addon, dsniff and
// openvswitch-switch.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity, isAtLeast } from '../helpers/captures.js';
import { assertNothingLoud, benignLanTraffic, E2eWorkDir, freshLan, skipUnless, tcpdumpPackets } from '../helpers/e2e.js';
import { sleep, ATTACKER, GATEWAY, UPSTREAM, VICTIM, type Background, type Lan } from '../helpers/netns-lan.js';
import { skipUnlessOvs, startOvs } from '../helpers/ovs.js';
import { skipUnlessPcapAddon, startWatchIn, type WatchRun } from '../helpers/watch.js';

const work = new E2eWorkDir('watch-vlan');
const CVLAN = 20;
const SVLAN = 100;
/** The veth sniffwatch captures; its peer is the mirror's output port. */
const SENSOR_IF = 'span1';
const STATS_LINE = /span1: (\d+) packet\(s\) received, (\d+) dropped by the kernel, (\d+) dropped by the interface, (\d+) analysed/;

/** Tags as tcpdump -e prints them, outermost first: "0x8100/20". */
const DOT1Q = [`0x8100/${CVLAN}`];
const QINQ = [`0x88a8/${SVLAN}`, `0x8100/${CVLAN}`];

/**
 * Moves the LAN's hosts from the Linux bridge to access ports of VLAN 20 on
 * an OVS bridge and mirrors all of it to span0 (a trunk: copies leave tagged).
 * With `qinq`, the mirror's copies go to a provider bridge instead, into a
 * dot1q-tunnel port of S-VLAN 100 (which puts an 802.1ad tag in front), and
 * are flooded from there to span0, a trunk too.
 */
async function taggedSpan(t: TestContext, lan: Lan, qinq: boolean): Promise<void> {
  const dir = mkdtempSync(join(work.path, 'ovs-'));
  const ovs = await startOvs(t, lan, 'bridge', dir);
  const ipIn = (args: string[]): Promise<unknown> => lan.exec('bridge', ['ip', ...args], { timeoutMs: 10_000 });
  await ipIn(['link', 'add', 'span0', 'type', 'veth', 'peer', 'name', SENSOR_IF]);
  for (const dev of ['span0', SENSOR_IF]) await ipIn(['link', 'set', dev, 'up']);
  const ports: string[] = [];
  for (const h of [GATEWAY, VICTIM, ATTACKER]) {
    await ipIn(['link', 'set', `p-${h.name}`, 'nomaster']);
    ports.push('--', 'add-port', 'lan', `p-${h.name}`, `tag=${CVLAN}`);
  }
  await ovs.vsctl(['add-br', 'lan', '--', 'set', 'bridge', 'lan', 'datapath_type=netdev', ...ports]);
  let output = 'span0';
  if (qinq) {
    output = 'to-provider';
    // flood_vlans: no MAC learning in the S-VLAN, so unicast copies are flooded to span0 too
    // (a mirror there would not see frames that came through the patch port from a mirror).
    await ovs.vsctl([
      'add-br', 'provider', '--', 'set', 'bridge', 'provider', 'datapath_type=netdev', `flood_vlans=${SVLAN}`,
      '--', 'add-port', 'lan', 'to-provider', '--', 'set', 'interface', 'to-provider', 'type=patch', 'options:peer=from-lan',
      '--', 'add-port', 'provider', 'from-lan', 'vlan_mode=dot1q-tunnel', `tag=${SVLAN}`, '--', 'set', 'interface', 'from-lan', 'type=patch', 'options:peer=to-provider',
      '--', 'add-port', 'provider', 'span0',
    ]);
  } else {
    await ovs.vsctl(['add-port', 'lan', 'span0']);
  }
  await ovs.vsctl(['--', '--id=@out', 'get', 'port', output, '--', '--id=@m', 'create', 'mirror', 'name=span', 'select-all=true', 'output-port=@out', '--', 'set', 'bridge', 'lan', 'mirrors=@m']);
}

interface WireArpReply {
  ethSrc: string;
  /** Outermost first, "tpid/vid". */
  tags: string[];
  ip: string;
  mac: string;
}

/** ARP replies in a capture with their VLAN tags, read with tcpdump -e (independent of sniffwatch's decoder). */
function taggedArpReplies(pcap: string): WireArpReply[] {
  const out: WireArpReply[] = [];
  for (const line of tcpdumpPackets(pcap, 'arp or vlan', ['-e'])) {
    const m = /^\S+ ([0-9a-f:]{17}) > .*Reply (\d+\.\d+\.\d+\.\d+) is-at ([0-9a-f:]{17})/.exec(line);
    if (!m) continue;
    // "ethertype 802.1Q-QinQ (0x88a8), length 50: vlan 100, p 0, ethertype 802.1Q (0x8100), vlan 20, p 0, ethertype ARP (0x0806), ..."
    const tags = [...line.matchAll(/\((0x[0-9a-f]{4})\),(?: length \d+:)? vlan (\d+),/g)].map((t) => `${t[1]}/${t[2]}`);
    out.push({ ethSrc: m[1]!, tags, ip: m[2]!, mac: m[3]! });
  }
  return out;
}

/** tcpdump writing everything on the sensor's interface to `file`, listening once this resolves. */
async function wireCapture(lan: Lan, file: string): Promise<Background> {
  const td = lan.spawn('bridge', ['tcpdump', '-Z', 'root', '-i', SENSOR_IF, '--immediate-mode', '-U', '-n', '-w', file], 'tcpdump');
  await td.waitFor(/listening on/, 15_000);
  return td;
}

async function setup(t: TestContext, tools: string[], qinq: boolean): Promise<Lan | undefined> {
  if (!skipUnlessPcapAddon(t) || !skipUnlessOvs(t) || !(await skipUnless(t, tools))) return undefined;
  const lan = await freshLan(t);
  await taggedSpan(t, lan, qinq);
  return lan;
}

function startWatch(t: TestContext, lan: Lan, args: string[]): WatchRun {
  return startWatchIn(t, lan.bridgeNs, ['--iface', SENSOR_IF, '--format', 'jsonl', ...args]);
}

function assertCaptured(t: TestContext, w: WatchRun): void {
  const m = STATS_LINE.exec(w.stderr);
  assert.ok(m, `no ${SENSOR_IF} statistics on stderr:\n${w.stderr}`);
  assert.ok(Number(m[4]) > 0, `nothing analysed: ${m[0]}`);
  t.diagnostic(m[0]);
}

async function arpspoofTagged(t: TestContext, qinq: boolean): Promise<void> {
  const lan = await setup(t, ['arpspoof'], qinq);
  if (!lan) return;
  const expectTags = qinq ? QINQ : DOT1Q;
  const evidenceDir = mkdtempSync(join(work.path, 'evidence-'));
  const wirePcap = join(work.path, `wire-${qinq ? 'qinq' : 'dot1q'}-${lan.id}.pcap`);
  const watch = startWatch(t, lan, ['--evidence-dir', evidenceDir]);
  await watch.waitStderr(new RegExp(`watching ${SENSOR_IF} \\(EN10MB`), 15_000);
  const wire = await wireCapture(lan, wirePcap);

  const ping = lan.spawn('victim', ['ping', '-n', '-i', '0.5', '-w', '60', UPSTREAM.ip], 'victim ping');
  await lan.exec('attacker', ['ping', '-n', '-c', '2', '-i', '0.5', GATEWAY.ip], { timeoutMs: 10_000 });
  await sleep(1000);
  const spoof = lan.spawn('attacker', ['arpspoof', '-i', 'eth0', '-t', VICTIM.ip, GATEWAY.ip], 'arpspoof');
  await spoof.waitFor(/is-at/, 10_000);
  let hit: Finding | undefined;
  let error: unknown;
  try {
    hit = await watch.waitFinding(
      (f) => f.attack.techniques.includes('T1557.002') && isAtLeast(f, 'high') && hasEntity(f, 'mac', ATTACKER.mac, 'attacker') && hasEntity(f, 'ip', GATEWAY.ip, 'impersonated'),
      'high T1557.002 finding naming the attacker MAC and the impersonated gateway',
      20_000,
    );
  } catch (e) {
    error = e;
  }
  const stillRunning = spoof.running();
  await spoof.stop('SIGINT', 15_000);
  await ping.stop('SIGINT', 5000);
  await sleep(500);
  await wire.stop('SIGINT', 10_000);
  const exit = await watch.stop('SIGTERM', 20_000);

  await t.test(`the forged replies are on the sensor's wire tagged ${expectTags.join(' + ')}, and nothing untagged (tcpdump -e)`, (st) =>
    work.withPcap(st, wirePcap, () => {
      const replies = taggedArpReplies(wirePcap);
      const forged = replies.filter((r) => r.ethSrc === ATTACKER.mac && r.ip === GATEWAY.ip && r.mac === ATTACKER.mac);
      assert.ok(forged.length > 0, `no forged "${GATEWAY.ip} is-at ${ATTACKER.mac}" reply on ${SENSOR_IF}; ${replies.length} ARP replies`);
      for (const r of replies) assert.deepEqual(r.tags, expectTags, `ARP reply ${r.ip} is-at ${r.mac} from ${r.ethSrc}`);
      st.diagnostic(`${forged.length} forged replies, ${replies.length} ARP replies, all tagged ${expectTags.join(' + ')}`);
    }),
  );
  await t.test('the ARP poisoning finding arrived while arpspoof was still running', () => {
    if (error) throw error;
    assert.ok(hit);
    assert.ok(stillRunning, 'arpspoof had already exited when the finding arrived');
  });
  await t.test('its evidence pcap holds the forged replies with their tags, as sniffwatch captured them', (st) => {
    assert.ok(hit, 'no finding');
    const pcap = hit.evidence.find((e) => e.pcap)?.pcap;
    assert.ok(pcap, `finding has no evidence pcap: ${describe([hit])}`);
    return work.withPcap(st, pcap, () => {
      const forged = taggedArpReplies(pcap).filter((r) => r.ethSrc === ATTACKER.mac && r.ip === GATEWAY.ip && r.mac === ATTACKER.mac);
      assert.ok(forged.length > 0, `no forged reply in ${pcap}`);
      for (const r of forged) assert.deepEqual(r.tags, expectTags);
    });
  });
  await t.test('SIGTERM: exit 1 (--fail-on medium reached), span1 statistics on stderr', (st) => {
    assert.deepEqual(exit, { code: 1, signal: null }, `stderr:\n${watch.stderr}`);
    assertCaptured(st, watch);
  });
}

test('arpspoof on an 802.1Q-tagged wire is reported live', { timeout: 120_000 }, (t) => arpspoofTagged(t, false));

test('arpspoof on a QinQ-tagged wire (802.1ad S-VLAN over 802.1Q) is reported live', { timeout: 120_000 }, (t) => arpspoofTagged(t, true));

test('benign tagged traffic: stations learned from the tagged frames, no medium+ finding, exit 0', { timeout: 90_000 }, async (t) => {
  const lan = await setup(t, ['arping'], false);
  if (!lan) return;
  const evidenceDir = mkdtempSync(join(work.path, 'benign-'));
  const wirePcap = join(evidenceDir, 'wire.pcap');
  // --min-severity info: the station inventory shows what was analysed.
  const watch = startWatch(t, lan, ['--min-severity', 'info', '--evidence-dir', join(evidenceDir, 'evidence')]);
  await watch.waitStderr(new RegExp(`watching ${SENSOR_IF}`), 15_000);
  const wire = await wireCapture(lan, wirePcap);
  await benignLanTraffic(lan, 6);
  await sleep(500);
  await wire.stop('SIGINT', 10_000);
  const exit = await watch.stop('SIGTERM', 20_000);

  await work.withPcap(t, wirePcap, () => {
    const echoes = tcpdumpPackets(wirePcap, `vlan ${CVLAN} and icmp`, ['-e']);
    assert.ok(echoes.length > 0, `no VLAN ${CVLAN} ICMP on ${SENSOR_IF}`);
    const untagged = tcpdumpPackets(wirePcap, 'not vlan');
    assert.deepEqual(untagged, [], `untagged frames on ${SENSOR_IF}`);
  });
  assertNothingLoud(watch.findings, 'benign tagged traffic');
  for (const h of [GATEWAY, VICTIM, ATTACKER]) {
    assert.ok(
      watch.findings.some((f) => f.rule_id === 'arp-new-station' && hasEntity(f, 'ip', h.ip, 'station') && hasEntity(f, 'mac', h.mac, 'station')),
      `no arp-new-station for ${h.ip} at ${h.mac}:\n${describe(watch.findings)}`,
    );
  }
  assert.deepEqual(exit, { code: 0, signal: null }, `stderr:\n${watch.stderr}`);
  assertCaptured(t, watch);
});
