import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/config.js';
import { arpFrame, ethernet, hsrpFrame, ipv4UdpFrame, hsrpPayload, ipv4Packet, ipv6Packet, ipv6UdpFrame, udpDatagram, vrrpFrame, vrrpPayload, type HsrpSpec } from '../../src/craft/frames.js';
import { decodeHsrp, decodeVrrp, FhrpAuth, FhrpMessage, FhrpRole } from '../../src/decode/fhrp.js';
import { CONFIG_SECTIONS } from '../../src/analyzers/index.js';
import type { Finding } from '../../src/findings/finding.js';
import { atLeast, describe, hasEntity, scanFrames, type TimedFrame } from '../helpers/captures.js';
import { decodeBytes } from '../helpers/decode.js';

const R1 = { mac: '02:00:00:00:01:01', ip: '198.18.0.2' };
const R2 = { mac: '02:00:00:00:01:02', ip: '198.18.0.3' };
const R3 = { mac: '02:00:00:00:01:03', ip: '198.18.0.4' };
const EVIL = { mac: '02:00:00:00:06:66', ip: '198.18.0.66' };
const VIP = '198.18.0.1';
const HSRP_VMAC = '00:00:0c:07:ac:01';
const ACTIVE = 16;
const STANDBY = 8;
const SPEAK = 4;

const hello = (state: number, priority: number, extra: Partial<HsrpSpec> = {}): HsrpSpec => ({ state, priority, group: 1, virtualIp: VIP, ...extra });

/** Two routers of HSRP group 1, R1 active from the virtual MAC and R2 standby, hellos every 3 s from t0 for n rounds. */
function hsrpGroup(t0: number, n: number): TimedFrame[] {
  const out: TimedFrame[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ t: t0 + i * 3, frame: hsrpFrame(HSRP_VMAC, R1.ip, hello(ACTIVE, 110)) });
    out.push({ t: t0 + i * 3 + 0.5, frame: hsrpFrame(R2.mac, R2.ip, hello(STANDBY, 100)) });
  }
  return out;
}

function byRule(findings: readonly Finding[], rule: string): Finding[] {
  return findings.filter((f) => f.rule_id === rule);
}

test('HSRPv1: fields, roles and keys are decoded', () => {
  const m = new FhrpMessage();
  const pkt = decodeBytes(hsrpFrame(HSRP_VMAC, R1.ip, hello(ACTIVE, 110, { key: 'sekrit', holdSeconds: 12 })));
  assert.ok(decodeHsrp(pkt, m));
  assert.deepEqual([m.version, m.group, m.priority, m.role, m.holdMs, m.vipCount, m.auth], [1, 1, 110, FhrpRole.Active, 12_000, 1, FhrpAuth.Text]);
  assert.equal(pkt.buf.toString('latin1', m.authOff, m.authOff + m.authLen), 'sekrit');
  assert.ok(decodeHsrp(decodeBytes(hsrpFrame(R2.mac, R2.ip, hello(STANDBY, 100))), m));
  assert.equal(m.role, FhrpRole.Candidate);
  assert.ok(decodeHsrp(decodeBytes(hsrpFrame(R2.mac, R2.ip, hello(SPEAK, 100, { opcode: 1 }))), m));
  assert.equal(m.role, FhrpRole.Coup);
  assert.ok(decodeHsrp(decodeBytes(hsrpFrame(R2.mac, R2.ip, hello(SPEAK, 100, { opcode: 2 }))), m));
  assert.equal(m.role, FhrpRole.Resign);
  // An interface-state advertisement (opcode 3) names no group: passed over, not malformed.
  const advert = decodeBytes(hsrpFrame(R2.mac, R2.ip, hello(SPEAK, 100, { opcode: 3 })));
  assert.equal(decodeHsrp(advert, m), false);
  assert.equal(advert.malformed, null);
});

test('HSRPv2: the group state TLV (IPv4 and IPv6) and the text authentication TLV', () => {
  const m = new FhrpMessage();
  const v4 = decodeBytes(hsrpFrame(R1.mac, R1.ip, hello(6, 150, { version: 2, group: 300, identifier: R1.mac, key: 'k2' })));
  assert.ok(decodeHsrp(v4, m));
  assert.deepEqual([m.version, m.group, m.priority, m.role, m.holdMs, m.identifier, m.auth, m.vipFamily], [2, 300, 150, FhrpRole.Active, 10_000, 0x020000000101, FhrpAuth.Text, 4]);
  const payload = hsrpPayload(hello(5, 90, { version: 2, group: 7, virtualIp: 'fe80::1', key: null }));
  const v6 = decodeBytes(ipv6UdpFrame(R2.mac, '33:33:00:00:00:66', 'fe80::2', 'ff02::66', 2029, 2029, payload, 255));
  assert.ok(decodeHsrp(v6, m));
  assert.deepEqual([m.group, m.role, m.vipFamily, m.vipCount, m.auth], [7, FhrpRole.Candidate, 16, 1, FhrpAuth.None]);
});

test('VRRP: versions 2 and 3, passwords, and CARP passed over', () => {
  const m = new FhrpMessage();
  const v2 = decodeBytes(vrrpFrame(R1.ip, { vrid: 42, priority: 200, addresses: [VIP, '198.18.0.250'], intervalSeconds: 2, password: 'vrrppass' }));
  assert.ok(decodeVrrp(v2, m));
  assert.deepEqual([m.version, m.group, m.priority, m.role, m.vipCount, m.holdMs, m.auth], [2, 42, 200, FhrpRole.Active, 2, 6000, FhrpAuth.Text]);
  assert.equal(v2.buf.toString('latin1', m.authOff, m.authOff + m.authLen), 'vrrppass');
  const resign = decodeBytes(vrrpFrame(R1.ip, { version: 3, vrid: 5, priority: 0, addresses: [VIP] }));
  assert.ok(decodeVrrp(resign, m));
  assert.deepEqual([m.version, m.role, m.auth], [3, FhrpRole.Resign, FhrpAuth.None]);
  const v6 = decodeBytes(ethernet('33:33:00:00:00:12', '00:00:5e:00:02:07', 0x86dd, ipv6Packet('fe80::2', 'ff02::12', 112, vrrpPayload({ version: 3, vrid: 7, priority: 100, addresses: ['fe80::1', '2001:db8::1'] }), 255)));
  assert.ok(decodeVrrp(v6, m));
  assert.deepEqual([m.vipFamily, m.vipCount], [16, 2]);
  const carp = Buffer.alloc(36);
  carp[0] = 0x21;
  carp[3] = 7;
  const carpPkt = decodeBytes(ethernet('01:00:5e:00:00:12', '00:00:5e:00:01:01', 0x0800, ipv4Packet(R1.ip, '224.0.0.18', 112, carp, 255)));
  assert.equal(decodeVrrp(carpPkt, m), false);
  assert.equal(carpPkt.malformed, null);
});

test('a client that happens to use port 1985 is not read as HSRP', async () => {
  const dns = Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0, 0, 1, 0, 1]);
  const r = await scanFrames([{ t: 0, frame: ipv4UdpFrame(R1.mac, R2.mac, R1.ip, R2.ip, 1985, 53, dns) }, { t: 1, frame: ipv4UdpFrame(R1.mac, R2.mac, R1.ip, R2.ip, 40000, 1985, Buffer.from('hello')) }]);
  assert.deepEqual(r.findings.filter((f) => f.rule_id === 'decode-malformed'), [], describe(r.findings));
});

test('truncated HSRP and VRRP are malformed, located, and never read past the message', () => {
  const m = new FhrpMessage();
  const cases: [Buffer, string][] = [
    [ethernet('01:00:5e:00:00:02', R1.mac, 0x0800, ipv4Packet(R1.ip, '224.0.0.2', 17, udpDatagram(1985, 1985, hsrpPayload(hello(ACTIVE, 1)).subarray(0, 12)), 1)), 'hsrp'],
    [ethernet('01:00:5e:00:00:66', R1.mac, 0x0800, ipv4Packet(R1.ip, '224.0.0.102', 17, udpDatagram(1985, 1985, Buffer.from([1, 40, 2, 0, 6])), 1)), 'hsrp'],
    [ethernet('01:00:5e:00:00:66', R1.mac, 0x0800, ipv4Packet(R1.ip, '224.0.0.102', 17, udpDatagram(1985, 1985, Buffer.concat([Buffer.from([1, 30]), Buffer.alloc(30)])), 1)), 'hsrp'],
    [ethernet('01:00:5e:00:00:12', R1.mac, 0x0800, ipv4Packet(R1.ip, '224.0.0.18', 112, vrrpPayload({ vrid: 1, priority: 100, addresses: [VIP, VIP, VIP] }).subarray(0, 14), 255)), 'vrrp'],
    [ethernet('01:00:5e:00:00:12', R1.mac, 0x0800, ipv4Packet(R1.ip, '224.0.0.18', 112, Buffer.from([0x51, 1, 100, 0, 0, 1, 0, 0]), 255)), 'vrrp'],
  ];
  for (const [frame, layer] of cases) {
    const pkt = decodeBytes(frame);
    const ok = layer === 'hsrp' ? decodeHsrp(pkt, m) : decodeVrrp(pkt, m);
    assert.equal(ok, false);
    assert.equal(pkt.malformedLayer, layer, `${pkt.malformed}`);
  }
});

test('an HSRP group electing and failing over among its own routers raises nothing of medium or above', async () => {
  const frames = [
    ...hsrpGroup(0, 5),
    // R1 stops; R2, long seen as standby, takes over from the virtual MAC; R3 joins as a standby.
    ...[0, 1, 2, 3].map((i) => ({ t: 30 + i * 3, frame: hsrpFrame(HSRP_VMAC, R2.ip, hello(ACTIVE, 100)) })),
    ...[0, 1, 2].map((i) => ({ t: 31 + i * 3, frame: hsrpFrame(R3.mac, R3.ip, hello(STANDBY, 90)) })),
  ];
  const r = await scanFrames(frames);
  assert.deepEqual(atLeast(r.findings, 'medium'), [], describe(r.findings));
  assert.deepEqual(byRule(r.findings, 'fhrp-new-active-router'), [], describe(r.findings));
  // HSRP's default key is a group without authentication: low.
  const keys = byRule(r.findings, 'cred-fhrp-auth');
  assert.ok(keys.length >= 2 && keys.every((f) => f.severity === 'low' && f.message.includes('without authentication')), describe(r.findings));
  assert.ok(keys.every((f) => !JSON.stringify(f).includes('cisco')), 'the key is redacted');
});

test('a newcomer preempting like a router is low; claiming the role from its own MAC with priority 255 is a high takeover', async () => {
  const newcomer = await scanFrames([
    ...hsrpGroup(0, 4),
    { t: 13, frame: hsrpFrame(R3.mac, R3.ip, hello(SPEAK, 200, { opcode: 1 })) },
    { t: 13.1, frame: hsrpFrame(HSRP_VMAC, R3.ip, hello(ACTIVE, 200)) },
  ]);
  assert.deepEqual(atLeast(newcomer.findings, 'medium'), [], describe(newcomer.findings));
  const low = byRule(newcomer.findings, 'fhrp-new-active-router');
  assert.equal(low.length, 1, describe(newcomer.findings));
  assert.ok(hasEntity(low[0]!, 'ip', R3.ip, 'router') && hasEntity(low[0]!, 'ip', R1.ip, 'displaced-router'), describe(low));

  const attack = await scanFrames([...hsrpGroup(0, 4), { t: 13, frame: hsrpFrame(EVIL.mac, EVIL.ip, hello(ACTIVE, 255)) }, ...hsrpGroup(14, 2)]);
  const hit = byRule(attack.findings, 'fhrp-takeover');
  assert.equal(hit.length, 1, describe(attack.findings));
  assert.equal(hit[0]!.severity, 'high');
  assert.deepEqual(hit[0]!.attack.techniques, ['T1557']);
  assert.ok(hasEntity(hit[0]!, 'ip', EVIL.ip, 'attacker') && hasEntity(hit[0]!, 'mac', EVIL.mac, 'attacker'), describe(hit));
  assert.ok(hasEntity(hit[0]!, 'ip', VIP, 'virtual-gateway') && hasEntity(hit[0]!, 'ip', R1.ip, 'displaced-router'), describe(hit));
  assert.match(hit[0]!.message, /virtual MAC 00:00:0c:07:ac:01/);
  assert.match(hit[0]!.message, /priority 255/);
  // The real router reclaiming the role afterwards is no finding of its own.
  assert.equal(atLeast(attack.findings, 'medium').length, 1, describe(attack.findings));
});

test('takeover evidence: a forged TTL, HSRP priority 255 alone (medium), another key (medium), a configured router list', async () => {
  const ttl = await scanFrames([...hsrpGroup(0, 3), { t: 10, frame: hsrpFrame(HSRP_VMAC, EVIL.ip, hello(ACTIVE, 150), 64) }]);
  const t1 = byRule(ttl.findings, 'fhrp-takeover');
  assert.equal(t1[0]?.severity, 'high', describe(ttl.findings));
  assert.match(t1[0]!.message, /TTL is 64, where every HSRP router sends 1/);

  const p255 = await scanFrames([...hsrpGroup(0, 3), { t: 10, frame: hsrpFrame(HSRP_VMAC, EVIL.ip, hello(ACTIVE, 255)) }]);
  assert.equal(byRule(p255.findings, 'fhrp-takeover')[0]?.severity, 'medium', describe(p255.findings));

  const key = await scanFrames([...hsrpGroup(0, 3), { t: 10, frame: hsrpFrame(HSRP_VMAC, EVIL.ip, hello(ACTIVE, 150, { key: 'guess' })) }]);
  const k = byRule(key.findings, 'fhrp-takeover');
  assert.equal(k[0]?.severity, 'medium', describe(key.findings));
  assert.match(k[0]!.message, /key differs/);

  const cfg = parseConfig(`fhrp:\n  routers: [${R1.ip}, ${R2.ip}]\n`, 'sw.yml', CONFIG_SECTIONS);
  const listed = await scanFrames([...hsrpGroup(0, 3), { t: 10, frame: hsrpFrame(R3.mac, R3.ip, hello(SPEAK, 200, { opcode: 1 })) }], cfg);
  const c = byRule(listed.findings, 'fhrp-takeover');
  assert.equal(c[0]?.severity, 'high', describe(listed.findings));
  assert.match(c[0]!.message, /not one of the routers listed in fhrp.routers/);
  assert.throws(() => parseConfig('fhrp:\n  routers: [not-an-address]\n', 'sw.yml', CONFIG_SECTIONS), /fhrp.routers: 'not-an-address'/);
});

test('VRRP: preemption by a newcomer is low; priority 255 for an address it does not own, or a forged TTL, is high', async () => {
  const spec = (priority: number) => ({ vrid: 9, priority, addresses: [VIP] });
  const master = (t0: number, n: number): TimedFrame[] => Array.from({ length: n }, (_, i) => ({ t: t0 + i, frame: vrrpFrame(R1.ip, spec(100)) }));
  const preempt = await scanFrames([...master(0, 5), ...Array.from({ length: 3 }, (_, i) => ({ t: 5 + i, frame: vrrpFrame(R2.ip, spec(150)) }))]);
  assert.deepEqual(atLeast(preempt.findings, 'medium'), [], describe(preempt.findings));
  assert.equal(byRule(preempt.findings, 'fhrp-new-active-router').length, 1, describe(preempt.findings));

  const owner = await scanFrames([...master(0, 5), { t: 5, frame: vrrpFrame(EVIL.ip, spec(255)) }]);
  const o = byRule(owner.findings, 'fhrp-takeover');
  assert.equal(o[0]?.severity, 'high', describe(owner.findings));
  assert.match(o[0]!.message, /reserves for the owner of the virtual address/);

  const forged = await scanFrames([...master(0, 5), { t: 5, frame: vrrpFrame(EVIL.ip, spec(200), EVIL.mac, 64) }]);
  const f = byRule(forged.findings, 'fhrp-takeover');
  assert.equal(f[0]?.severity, 'high', describe(forged.findings));
  assert.ok(hasEntity(f[0]!, 'mac', EVIL.mac, 'attacker'), describe(f));

  // The address owner itself (priority 255, its own address) is the group's rightful master.
  const real = await scanFrames([...master(0, 3), ...Array.from({ length: 3 }, (_, i) => ({ t: 3 + i, frame: vrrpFrame(VIP, spec(255)) }))]);
  assert.deepEqual(atLeast(real.findings, 'medium'), [], describe(real.findings));
});

test('keepalived-style VRRP (adverts and gratuitous ARP from the routers own MACs): failover and failback are ARP handovers, a stranger taking the address is not', async () => {
  const spec = (priority: number) => ({ vrid: 51, priority, addresses: [VIP] });
  const advert = (r: { mac: string; ip: string }, priority: number, t: number): TimedFrame => ({ t, frame: vrrpFrame(r.ip, spec(priority), r.mac) });
  const garp = (mac: string, t: number): TimedFrame => ({ t, frame: arpFrame({ op: 1, senderMac: mac, senderIp: VIP, targetMac: '00:00:00:00:00:00', targetIp: VIP }) });
  const frames: TimedFrame[] = [
    advert(R1, 150, 0),
    garp(R1.mac, 0.01),
    advert(R1, 150, 1),
    advert(R1, 150, 2),
    // R1 dies; R2, silent until now, takes over 3.6 s after R1's last advertisement (its gratuitous ARP first).
    garp(R2.mac, 5.6),
    advert(R2, 100, 5.61),
    advert(R2, 100, 6.6),
    // R1 comes back and preempts (a known router).
    advert(R1, 150, 7),
    garp(R1.mac, 7.01),
    advert(R1, 150, 8),
  ];
  const benign = await scanFrames(frames);
  assert.deepEqual(atLeast(benign.findings, 'medium'), [], describe(benign.findings));
  const handovers = byRule(benign.findings, 'arp-binding-changed');
  assert.ok(handovers.length === 2 && handovers.every((f) => f.severity === 'info' && f.message.includes('VRRPv2 group 51')), describe(benign.findings));

  // While R1 is alive, a stranger's gratuitous ARP for the virtual address is a gateway binding change.
  const stranger = await scanFrames([...frames, garp(EVIL.mac, 8.5)]);
  const moved = atLeast(stranger.findings, 'medium').filter((f) => f.rule_id.startsWith('arp-') && hasEntity(f, 'mac', EVIL.mac));
  assert.ok(moved.length > 0, describe(stranger.findings));

  // A stranger announcing the group's address as another virtual router of its own: a high takeover, and no handover.
  const otherGroup = await scanFrames([...frames, { t: 8.4, frame: vrrpFrame(EVIL.ip, { vrid: 52, priority: 100, addresses: [VIP] }, EVIL.mac) }, garp(EVIL.mac, 8.5)]);
  const hit = byRule(otherGroup.findings, 'fhrp-takeover');
  assert.equal(hit[0]?.severity, 'high', describe(otherGroup.findings));
  assert.match(hit[0]!.message, /the virtual address of VRRPv2 group 51, as VRRPv2 group 52/);
  assert.ok(atLeast(otherGroup.findings, 'medium').some((f) => f.rule_id.startsWith('arp-') && hasEntity(f, 'mac', EVIL.mac)), describe(otherGroup.findings));
});

test('a spray of HSRP groups and speakers keeps state bounded', async () => {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 3000; i++) {
    const src = `198.18.${(i >> 8) & 0xff}.${i & 0xff}`;
    frames.push({ t: i * 0.001, frame: hsrpFrame(HSRP_VMAC, src, hello(ACTIVE, i & 0xff, { group: i & 0xff })) });
  }
  const r = await scanFrames(frames);
  assert.ok(r.stats.stateEntries < 20_000, `state entries ${r.stats.stateEntries}`);
});
