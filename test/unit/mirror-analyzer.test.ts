import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIG_SECTIONS } from '../../src/analyzers/index.js';
import { ConfigError, defaultConfig, parseConfig, sectionOf, type SniffwatchConfig } from '../../src/config/config.js';
import { mirrorConfig } from '../../src/analyzers/mirror/mirror-analyzer.js';
import {
  arpFrame,
  erspanIIHeader,
  erspanIIIHeader,
  ethernet,
  geneveHeader,
  grePacket,
  ipv4GreFrame,
  ipv4Packet,
  tcpFrame,
  ipv4UdpFrame,
  ipv6UdpFrame,
  tcpSegment,
  tzspHeader,
  vxlanHeader,
  TCP_ACK,
  TCP_SYN,
  ZERO_MAC,
} from '../../src/craft/frames.js';
import { parseIp4 } from '../../src/decode/addr.js';
import type { Finding } from '../../src/findings/finding.js';
import { atLeast, describe, hasEntity, scanFrames, type TimedFrame } from '../helpers/captures.js';

// The mirror analyzer on crafted captures: ERSPAN/TZSP sessions, tunnels that
// carry copies versus overlays, the collector allowlist, the tunnel inventory
// and its bounds.

const SWITCH = { mac: '02:00:00:00:00:05', ip: '198.18.0.5' };
const COLLECTOR = { mac: '02:00:00:00:00:30', ip: '198.18.0.30' };
const VTEP1 = { mac: '02:00:00:00:00:11', ip: '198.18.0.11' };
const VTEP2 = { mac: '02:00:00:00:00:12', ip: '198.18.0.12' };
/** Hosts whose traffic is mirrored or carried. */
const HOST_A = { mac: '02:00:00:00:01:0a', ip: '198.19.0.10' };
const HOST_B = { mac: '02:00:00:00:01:0b', ip: '198.19.0.20' };
const GATEWAY = { mac: '02:00:00:00:01:01', ip: '198.19.0.1' };

const T1020 = 'T1020.001';

/** One TCP exchange between A and B as it appears on A's port: A->B towards the gateway's MAC, B->A from it. */
function conversation(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    out.push(tcpFrame(HOST_A.mac, GATEWAY.mac, HOST_A.ip, HOST_B.ip, 40000, 443, 1000 + i, 0, i === 0 ? TCP_SYN : TCP_ACK, Buffer.alloc(10)));
    out.push(tcpFrame(GATEWAY.mac, HOST_A.mac, HOST_B.ip, HOST_A.ip, 443, 40000, 5000 + i, 1001 + i, i === 0 ? TCP_SYN | TCP_ACK : TCP_ACK, Buffer.alloc(20)));
  }
  return out;
}

function vxlan(from: { mac: string; ip: string }, to: { mac: string; ip: string }, vni: number, inner: Buffer, sport = 50000): Buffer {
  return ipv4UdpFrame(from.mac, to.mac, from.ip, to.ip, sport, 4789, Buffer.concat([vxlanHeader(vni), inner]));
}

function timed(frames: Buffer[], step = 0.05): TimedFrame[] {
  return frames.map((frame, i) => ({ t: i * step, frame }));
}

function withCollectors(...ips: string[]): SniffwatchConfig {
  return parseConfig(`mirror:\n  collectors: [${ips.join(', ')}]\n`, 'test.yml', CONFIG_SECTIONS);
}

function t1020(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.attack.techniques.includes(T1020));
}

function observed(findings: readonly Finding[]): string[] {
  return findings.filter((f) => f.rule_id === 'tunnel-observed').map((f) => f.message);
}

const erspanSessions: { name: string; frame: (inner: Buffer) => Buffer; session?: string }[] = [
  { name: 'ERSPAN type I', frame: (inner) => ipv4GreFrame(SWITCH.mac, COLLECTOR.mac, SWITCH.ip, COLLECTOR.ip, grePacket(0x88be, inner)) },
  {
    name: 'ERSPAN type II',
    frame: (inner) => ipv4GreFrame(SWITCH.mac, COLLECTOR.mac, SWITCH.ip, COLLECTOR.ip, grePacket(0x88be, Buffer.concat([erspanIIHeader(300), inner]), { sequence: 1 })),
    session: 'ERSPAN type II session 300',
  },
  {
    name: 'ERSPAN type III',
    frame: (inner) => ipv4GreFrame(SWITCH.mac, COLLECTOR.mac, SWITCH.ip, COLLECTOR.ip, grePacket(0x22eb, Buffer.concat([erspanIIIHeader(301, { platform: true }), inner]))),
    session: 'ERSPAN type III session 301',
  },
  {
    name: 'TZSP',
    frame: (inner) => ipv4UdpFrame(SWITCH.mac, COLLECTOR.mac, SWITCH.ip, COLLECTOR.ip, 40001, 37008, Buffer.concat([tzspHeader(0, 1, Buffer.from([0x00, 0x01])), inner])),
  },
];

for (const s of erspanSessions) {
  test(`${s.name} to a collector not allowed is T1020.001, naming collector, source, session and mirrored hosts`, async () => {
    const { findings } = await scanFrames(timed(conversation(3).map(s.frame)));
    const hits = t1020(findings);
    assert.equal(hits.length, 1, describe(findings));
    const hit = hits[0]!;
    assert.equal(hit.rule_id, 'mirror-erspan-tzsp');
    assert.equal(hit.severity, 'high');
    assert.deepEqual(hit.attack.tactics, ['TA0010', 'TA0009']);
    assert.ok(hasEntity(hit, 'ip', COLLECTOR.ip, 'collector'), JSON.stringify(hit.entities));
    assert.ok(hasEntity(hit, 'ip', SWITCH.ip, 'source'));
    assert.ok(hasEntity(hit, 'ip', HOST_A.ip, 'mirrored'));
    assert.ok(hasEntity(hit, 'ip', HOST_B.ip, 'mirrored'));
    if (s.session) assert.ok(hasEntity(hit, 'interface', s.session, 'session'), JSON.stringify(hit.entities));
    assert.match(hit.message, new RegExp(`^${s.name} .*${COLLECTOR.ip.replace(/\./g, '\\.')}, which is not an allowed collector`));
    // The inner frames are analysed too, and the inventory counts them.
    assert.deepEqual(observed(findings), [`${s.name} ${SWITCH.ip} -> ${COLLECTOR.ip}${s.session ? ` (session ${s.session.split(' ').pop()})` : ''}: 6 inner frames decoded`]);
  });
}

test('an allowed collector silences T1020.001 for ERSPAN, TZSP and tunnel copies, but tunnels are still inventoried', async () => {
  const frames = [...erspanSessions.flatMap((s) => conversation(2).map(s.frame)), ...conversation(3).map((f) => vxlan(SWITCH, COLLECTOR, 7, f))];
  const loud = await scanFrames(timed(frames));
  assert.equal(new Set(t1020(loud.findings).map((f) => f.rule_id)).size, 2, describe(loud.findings));
  const { findings } = await scanFrames(timed(frames), withCollectors(COLLECTOR.ip));
  assert.deepEqual(t1020(findings), [], describe(findings));
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
  assert.equal(observed(findings).length, 5, observed(findings).join('\n'));
  // A different collector on the list does not cover this one.
  const other = await scanFrames(timed(frames), withCollectors('198.18.0.31'));
  assert.equal(t1020(other.findings).length, 5);
});

test('VXLAN delivering both directions of a conversation to one collector is mirroring', async () => {
  const { findings } = await scanFrames(timed(conversation(4).map((f) => vxlan(SWITCH, COLLECTOR, 42, f))));
  const hit = findings.find((f) => f.rule_id === 'mirror-tunnel-copies');
  assert.ok(hit, describe(findings));
  assert.equal(hit.severity, 'high');
  assert.deepEqual(hit.attack.techniques, [T1020]);
  assert.ok(hasEntity(hit, 'ip', COLLECTOR.ip, 'collector'));
  assert.ok(hasEntity(hit, 'ip', SWITCH.ip, 'source'));
  assert.ok(hasEntity(hit, 'interface', 'VXLAN vni 42', 'session'));
  assert.ok(hasEntity(hit, 'ip', HOST_A.ip, 'mirrored') && hasEntity(hit, 'ip', HOST_B.ip, 'mirrored'));
  assert.equal(hit.evidence[0]?.detail, `inside VXLAN ${SWITCH.ip}->${COLLECTOR.ip} id 42`);
  assert.deepEqual(observed(findings), [`VXLAN ${SWITCH.ip} -> ${COLLECTOR.ip} (vni 42): 8 inner frames decoded`]);
});

test('VXLAN mirroring over IPv6 is reported with the IPv6 collector', async () => {
  const frames = conversation(2).map((f) => ipv6UdpFrame(SWITCH.mac, COLLECTOR.mac, '2001:db8::5', '2001:db8::30', 50000, 4789, Buffer.concat([vxlanHeader(8), f])));
  const { findings } = await scanFrames(timed(frames));
  const hit = findings.find((f) => f.rule_id === 'mirror-tunnel-copies');
  assert.ok(hit && hasEntity(hit, 'ip', '2001:db8::30', 'collector') && hasEntity(hit, 'ip', '2001:db8::5', 'source'), describe(findings));
  assert.deepEqual(observed(findings), ['VXLAN 2001:db8::5 -> 2001:db8::30 (vni 8): 4 inner frames decoded']);
});

test('a VXLAN overlay (A->B to one VTEP, B->A to the other) is not mirroring', async () => {
  const frames: Buffer[] = [];
  conversation(10).forEach((f, i) => frames.push(i % 2 === 0 ? vxlan(VTEP1, VTEP2, 5, f) : vxlan(VTEP2, VTEP1, 5, f)));
  const { findings } = await scanFrames(timed(frames));
  assert.deepEqual(atLeast(findings, 'low'), [], describe(findings));
  assert.deepEqual(observed(findings).sort(), [
    `VXLAN ${VTEP1.ip} -> ${VTEP2.ip} (vni 5): 10 inner frames decoded`,
    `VXLAN ${VTEP2.ip} -> ${VTEP1.ip} (vni 5): 10 inner frames decoded`,
  ]);
});

test('routed traffic hairpinning through a gateway behind the far VTEP is not mirroring: the MACs do not reverse', async () => {
  // A and B both behind VTEP1, their gateway behind VTEP2: both directions go VTEP1 -> VTEP2, both towards the gateway MAC.
  const frames: Buffer[] = [];
  for (let i = 0; i < 5; i++) {
    frames.push(vxlan(VTEP1, VTEP2, 5, tcpFrame(HOST_A.mac, GATEWAY.mac, HOST_A.ip, HOST_B.ip, 40000, 443, i, 0, TCP_ACK, Buffer.alloc(4))));
    frames.push(vxlan(VTEP1, VTEP2, 5, tcpFrame(HOST_B.mac, GATEWAY.mac, HOST_B.ip, HOST_A.ip, 443, 40000, i, 0, TCP_ACK, Buffer.alloc(4))));
  }
  const { findings } = await scanFrames(timed(frames));
  assert.deepEqual(t1020(findings), [], describe(findings));
});

test('GRE carrying IP copies between two other hosts is mirroring even when the ports differ', async () => {
  // Plain IP inside GRE has no MACs; the hosts are neither tunnel endpoint, so the address pair decides.
  const gre = (src: string, dst: string, sport: number, dport: number): Buffer =>
    ipv4GreFrame(SWITCH.mac, COLLECTOR.mac, SWITCH.ip, COLLECTOR.ip, grePacket(0x0800, ipv4Packet(src, dst, 6, tcpSegment(sport, dport, 1, 0, TCP_ACK, Buffer.alloc(8))), { key: 9 }));
  const { findings } = await scanFrames(timed([gre(HOST_A.ip, HOST_B.ip, 1000, 80), gre(HOST_B.ip, HOST_A.ip, 2000, 3000)]));
  const hit = findings.find((f) => f.rule_id === 'mirror-tunnel-copies');
  assert.ok(hit, describe(findings));
  assert.ok(hasEntity(hit, 'interface', 'GRE key 9', 'session'));
});

test('between the tunnel endpoints themselves, conversations are matched only on their ports, not on the address pair alone', async () => {
  const gre = (src: string, dst: string, sport: number, dport: number): Buffer =>
    ipv4GreFrame(VTEP1.mac, VTEP2.mac, VTEP1.ip, VTEP2.ip, grePacket(0x0800, ipv4Packet(src, dst, 6, tcpSegment(sport, dport, 1, 0, TCP_ACK, Buffer.alloc(8)))));
  // Unrelated exchanges between VTEP1 and VTEP2 in both directions: not two directions of one conversation.
  const { findings } = await scanFrames(timed([gre(VTEP1.ip, VTEP2.ip, 1000, 80), gre(VTEP2.ip, VTEP1.ip, 2000, 3000)]));
  assert.deepEqual(t1020(findings), [], describe(findings));
  // The same conversation in both directions is.
  const both = await scanFrames(timed([gre(VTEP1.ip, VTEP2.ip, 1000, 80), gre(VTEP2.ip, VTEP1.ip, 80, 1000)]));
  assert.equal(t1020(both.findings).length, 1, describe(both.findings));
});

test('GENEVE carrying raw IP copies of both directions is mirroring', async () => {
  const inner = conversation(2).map((f) => f.subarray(14));
  const frames = inner.map((ip) => ipv4UdpFrame(SWITCH.mac, COLLECTOR.mac, SWITCH.ip, COLLECTOR.ip, 40002, 6081, Buffer.concat([geneveHeader(77, 0x0800), ip])));
  const { findings } = await scanFrames(timed(frames));
  assert.ok(findings.some((f) => f.rule_id === 'mirror-tunnel-copies' && hasEntity(f, 'ip', COLLECTOR.ip, 'collector')), describe(findings));
});

test('IP in IP (tc mirred into an ipip device) carrying both directions to one collector is mirroring; a site-to-site tunnel is not', async () => {
  const inner = conversation(2).map((f) => f.subarray(14));
  const ipip = (from: { mac: string; ip: string }, to: { mac: string; ip: string }, ip: Buffer): Buffer => ethernet(to.mac, from.mac, 0x0800, ipv4Packet(from.ip, to.ip, 4, ip));
  const { findings } = await scanFrames(timed(inner.map((ip) => ipip(SWITCH, COLLECTOR, ip))));
  const hit = findings.find((f) => f.rule_id === 'mirror-tunnel-copies');
  assert.ok(hit, describe(findings));
  assert.ok(hasEntity(hit, 'ip', COLLECTOR.ip, 'collector'));
  assert.match(hit.message, /^IP-in-IP 198\.18\.0\.5 -> 198\.18\.0\.30 carries copies of the traffic between 198\.19\.0\.(10 and 198\.19\.0\.20|20 and 198\.19\.0\.10):/);
  // Each direction through the tunnel endpoint on its own side: a tunnel between two sites.
  const siteToSite = await scanFrames(timed(inner.map((ip, i) => (i % 2 === 0 ? ipip(VTEP1, VTEP2, ip) : ipip(VTEP2, VTEP1, ip)))));
  assert.deepEqual(t1020(siteToSite.findings), [], describe(siteToSite.findings));
  assert.deepEqual(observed(siteToSite.findings).sort(), [`IP-in-IP ${VTEP1.ip} -> ${VTEP2.ip}: 2 inner frames decoded`, `IP-in-IP ${VTEP2.ip} -> ${VTEP1.ip}: 2 inner frames decoded`]);
});

test('a long mirror session is one finding per session, updated at most once a minute', async () => {
  const frames = conversation(200).map(erspanSessions[1]!.frame);
  const { findings } = await scanFrames(frames.map((frame, i) => ({ t: i * 0.5, frame })));
  const hits = t1020(findings);
  assert.equal(hits.length, 1, describe(findings));
  // 200 s of traffic: the first frame, the mirrored hosts as they appear, then once a minute.
  assert.ok(hits[0]!.count >= 3 && hits[0]!.count <= 8, `count ${hits[0]!.count}`);
  assert.ok(hits[0]!.entities.length <= 3 + 4);
  assert.match(observed(findings)[0]!, /: 400 inner frames decoded$/);
});

test('tunnel state is bounded: thousands of tunnels are inventoried without the table growing past its cap', async () => {
  const inner = conversation(1)[0]!;
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 5000; i++) {
    const src = `198.18.${(i >> 8) & 255}.${i & 255}`;
    frames.push({ t: i * 0.001, frame: ipv4UdpFrame(VTEP1.mac, VTEP2.mac, src, VTEP2.ip, 50000, 4789, Buffer.concat([vxlanHeader(1), inner])) });
  }
  const { findings, stats, suppressed } = await scanFrames(frames);
  assert.ok(stats.stateEntries <= 4096 + 16, `state entries ${stats.stateEntries}`);
  // Forgotten tunnels are reported as they are evicted; the aggregator keeps 1000 findings per rule and counts the rest.
  assert.equal(observed(findings).length + (suppressed.get('tunnel-observed') ?? 0), 5000);
  assert.deepEqual(t1020(findings), []);
});

test('the mirror config section: collectors are IPv4 addresses, unknown keys and bad addresses are errors', () => {
  const cfg = withCollectors('198.18.0.30', '10.0.0.1');
  assert.deepEqual([...sectionOf(cfg, mirrorConfig).collectors], [parseIp4('198.18.0.30'), parseIp4('10.0.0.1')]);
  assert.deepEqual([...sectionOf(defaultConfig(), mirrorConfig).collectors], []);
  assert.throws(() => parseConfig('mirror:\n  collectors: [not-an-ip]\n', 'bad.yml', CONFIG_SECTIONS), (e: unknown) => e instanceof ConfigError && /bad\.yml: mirror\.collectors/.test(e.message));
  assert.throws(() => parseConfig('mirror:\n  colectors: [10.0.0.1]\n', 'bad.yml', CONFIG_SECTIONS), /unknown key 'colectors'/);
  assert.throws(() => parseConfig('mirror:\n  collectors: 10.0.0.1\n', 'bad.yml', CONFIG_SECTIONS), /must be a list/);
});

test('ERSPAN inner frames that are ARP still name the mirrored host', async () => {
  const arp = arpFrame({ op: 1, senderMac: HOST_A.mac, senderIp: HOST_A.ip, targetMac: ZERO_MAC, targetIp: HOST_B.ip });
  const { findings } = await scanFrames(timed([erspanSessions[2]!.frame(arp), erspanSessions[2]!.frame(arp)]));
  const hit = t1020(findings)[0];
  assert.ok(hit && hasEntity(hit, 'ip', HOST_A.ip, 'mirrored'), describe(findings));
});
