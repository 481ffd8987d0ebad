import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  dhcpv6Option,
  dhcpv6Payload,
  dhcpv6RelayPayload,
  duidLl,
  arpReply,
  arpRequest,
  icmpv4RedirectFrame,
  icmpv6Frame,
  ipv4UdpFrame,
  ipv6Bytes,
  ipv6UdpFrame,
  ndOption,
  ndRedirectFrame,
  neighborAdvertFrame,
  neighborSolicitFrame,
  routerAdvertBody,
  routerAdvertFrame,
  solicitedNode,
  type Dhcpv6Spec,
  type RouterAdvertSpec,
} from '../../src/craft/frames.js';
import { defaultConfig, ConfigError, parseConfig, type SniffwatchConfig } from '../../src/config/config.js';
import { ip6ToString, parseIp4, parseMac } from '../../src/decode/addr.js';
import { decodeEthernet } from '../../src/decode/decoder.js';
import { decodeDhcp6, Dhcp6Message, dnsNamesToText } from '../../src/decode/dhcpv6.js';
import { decodeIcmp4Redirect, decodeNdRedirect, decodeNeighborMessage, decodeRouterAdvert, Icmp4Redirect, NdRedirect, NeighborMessage, RouterAdvert } from '../../src/decode/icmp6.js';
import { eui64Mac, parseIp6 } from '../../src/decode/ip6-addr.js';
import { Packet } from '../../src/decode/packet.js';
import { IPV6_SECTION } from '../../src/analyzers/ipv6/config.js';
import { ipv6Analyzer } from '../../src/analyzers/ipv6/ipv6-analyzer.js';
import { PacketEngine } from '../../src/analyzers/engine.js';
import type { NetworkModel } from '../../src/analyzers/network-model.js';
import { newRawFrame } from '../../src/capture/frame.js';
import { LINKTYPE_ETHERNET } from '../../src/capture/linktypes.js';
import { FindingAggregator } from '../../src/findings/aggregate.js';
import { CONFIG_SECTIONS } from '../../src/analyzers/index.js';
import type { Finding } from '../../src/findings/finding.js';
import { scanCaptures } from '../../src/pipeline.js';
import { atLeast, describe, hasEntity, scanFrames, withTempDir, writePcap, type TimedFrame } from '../helpers/captures.js';

const ROUTER = { mac: '02:00:00:00:01:01', ll: 'fe80::1' };
const ATTACKER = { mac: '02:00:00:00:06:66', ll: 'fe80::666' };
const VICTIM = { mac: '02:00:00:00:00:10', ll: 'fe80::10' };
const OTHER_SERVER = { mac: '02:00:00:00:00:53', ll: 'fe80::53' };
const PREFIX = 'fd53:7700::';
const ROGUE_PREFIX = 'fd53:7701::';
const DNS = 'fd53:7700::53';

/** The RAs radvd sends on the LAN in these tests. */
const ROUTER_RA: RouterAdvertSpec = {
  lifetime: 1800,
  sourceMac: ROUTER.mac,
  mtu: 1500,
  prefixes: [{ prefix: PREFIX, length: 64 }],
  rdnss: { servers: [DNS] },
  dnssl: { domains: ['lan.example'] },
};

function routerRa(t: number, spec: Partial<RouterAdvertSpec> = {}): TimedFrame {
  return { t, frame: routerAdvertFrame(ROUTER.mac, ROUTER.ll, { ...ROUTER_RA, ...spec }) };
}

/** The router advertising every 200 s, like radvd's default MaxRtrAdvInterval/3. */
function periodicRouter(from: number, count: number): TimedFrame[] {
  return Array.from({ length: count }, (_, i) => routerRa(from + i * 200));
}

/** fe80:: address with the modified EUI-64 identifier of a MAC. */
function eui64LinkLocal(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  const hex = (hi: number, lo: number): string => ((hi << 8) | lo).toString(16);
  return `fe80::${hex(b[0]! ^ 2, b[1]!)}:${hex(b[2]!, 0xff)}:${hex(0xfe, b[3]!)}:${hex(b[4]!, b[5]!)}`;
}

function withIpv6(doc: Record<string, unknown>): SniffwatchConfig {
  const cfg = defaultConfig();
  cfg.sections.set('ipv6', IPV6_SECTION.parse(doc, 'ipv6'));
  return cfg;
}

function only(findings: Finding[], rule: string): Finding[] {
  return findings.filter((f) => f.rule_id === rule);
}

/** Decodes an Ethernet frame into a fresh Packet, as the engine would. */
function packetOf(frame: Buffer): Packet {
  const pkt = new Packet();
  pkt.reset();
  pkt.setBuffer(frame);
  pkt.start = 0;
  pkt.end = frame.length;
  decodeEthernet(pkt, 0);
  return pkt;
}

function raPacket(body: Buffer): Packet {
  return packetOf(icmpv6Frame(ROUTER.mac, '33:33:00:00:00:01', ROUTER.ll, 'ff02::1', 134, 0, body));
}

function dhcp6Packet(payload: Buffer, from = ROUTER, sport = 547, dport = 546): Packet {
  return packetOf(ipv6UdpFrame(from.mac, VICTIM.mac, from.ll, VICTIM.ll, sport, dport, payload));
}

// ---- decoders ---------------------------------------------------------------

test('IPv6 text parses in all its forms; EUI-64 identifiers give back their MAC', () => {
  assert.equal(ip6ToString(parseIp6('fe80::1')!, 0), 'fe80::1');
  assert.equal(ip6ToString(parseIp6('FD53:7700:0:0:0:0:0:53')!, 0), 'fd53:7700::53');
  assert.equal(ip6ToString(parseIp6('::')!, 0), '::');
  assert.equal(ip6ToString(parseIp6('::ffff:198.18.0.1')!, 0), '::ffff:c612:1');
  assert.equal(ip6ToString(parseIp6('1:2:3:4:5:6:7::')!, 0), '1:2:3:4:5:6:7:0');
  for (const bad of ['', 'fe80', 'fe80:::1', '1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '::1.2.3.256', 'fe80::1%eth0', '12345::1']) {
    assert.equal(parseIp6(bad), undefined, bad);
  }
  const ll = parseIp6(eui64LinkLocal('64:00:6a:5b:8e:b3'))!;
  assert.equal(ip6ToString(ll, 0), 'fe80::6600:6aff:fe5b:8eb3');
  assert.equal(eui64Mac(ll, 0), parseMac('64:00:6a:5b:8e:b3'));
  assert.equal(eui64Mac(parseIp6('fe80::1')!, 0), -1);
});

test('router advertisement: header fields and every option kind are decoded', () => {
  const pkt = raPacket(
    routerAdvertBody({
      ...ROUTER_RA,
      curHopLimit: 64,
      managed: true,
      other: true,
      preference: 'high',
      prefixes: [{ prefix: PREFIX, length: 64, valid: 7200, preferred: 3600, flags: 0xc0 }],
      rdnss: { servers: [DNS, 'fd53:7700::54'], lifetime: 600 },
      routes: [{ prefix: 'fd00:1::', length: 48, lifetime: 900 }],
    }),
  );
  const ra = new RouterAdvert();
  assert.equal(decodeRouterAdvert(pkt, ra), true);
  assert.equal(pkt.malformed, null);
  assert.equal(ra.curHopLimit, 64);
  assert.equal(ra.managed, true);
  assert.equal(ra.other, true);
  assert.equal(ra.preference, 1);
  assert.equal(ra.lifetime, 1800);
  assert.equal(ra.sourceMac, parseMac(ROUTER.mac));
  assert.equal(ra.mtu, 1500);
  assert.equal(ra.prefixCount, 1);
  assert.equal(ip6ToString(pkt.buf, ra.prefixOff[0]!), 'fd53:7700::');
  assert.equal(ra.prefixLength[0], 64);
  assert.equal(ra.prefixFlags[0], 0xc0);
  assert.equal(ra.prefixValid[0], 7200);
  assert.equal(ra.prefixPreferred[0], 3600);
  assert.equal(ra.dnsCount, 2);
  assert.deepEqual([ip6ToString(pkt.buf, ra.dnsOff[0]!), ip6ToString(pkt.buf, ra.dnsOff[1]!)], [DNS, 'fd53:7700::54']);
  assert.equal(ra.dnsLifetime[0], 600);
  assert.equal(dnsNamesToText(pkt.buf, ra.dnsslOff, ra.dnsslEnd), 'lan.example');
  assert.equal(ra.routeCount, 1);
  assert.equal(ra.routeLength[0], 48);
  assert.equal(ra.routeBytes[0], 8);
  assert.equal(ra.routeLifetime[0], 900);
});

test('redirects: ICMPv6 target, destination and target link-layer option; ICMPv4 gateway and quoted header', () => {
  const pkt6 = packetOf(ndRedirectFrame(ROUTER.mac, VICTIM.mac, ROUTER.ll, VICTIM.ll, ATTACKER.ll, 'fd53:9::1', ATTACKER.mac, ndOption(4, Buffer.alloc(6 + 48))));
  const r6 = new NdRedirect();
  assert.equal(decodeNdRedirect(pkt6, r6), true);
  assert.equal(ip6ToString(pkt6.buf, r6.targetOff), ATTACKER.ll);
  assert.equal(ip6ToString(pkt6.buf, r6.destinationOff), 'fd53:9::1');
  assert.equal(r6.targetMac, parseMac(ATTACKER.mac));
  assert.equal(r6.hasRedirectedHeader, true);

  const pkt4 = packetOf(icmpv4RedirectFrame('02:00:00:00:06:66', VICTIM.mac, '198.18.0.66', '198.18.0.10', 1, '198.18.0.66', { src: '198.18.0.10', dst: '198.19.0.2' }));
  const r4 = new Icmp4Redirect();
  assert.equal(decodeIcmp4Redirect(pkt4, r4), true);
  assert.equal(r4.code, 1);
  assert.equal(r4.gateway, parseIp4('198.18.0.66'));
  assert.equal(r4.originalSrc, parseIp4('198.18.0.10'));
  assert.equal(r4.originalDst, parseIp4('198.19.0.2'));
  assert.equal(r4.originalProto, 17);
});

test('DHCPv6: identifiers, IA_NA lifetimes, DNS, search list and preference; relay messages are unwrapped', () => {
  const spec: Dhcpv6Spec = {
    msgType: 2,
    xid: 0xabcdef,
    clientDuid: duidLl(VICTIM.mac),
    serverDuid: duidLl(ROUTER.mac),
    preference: 255,
    iaNa: { iaid: 7, t1: 3600, t2: 5400, addresses: [{ address: 'fd53:7700::100', preferred: 4500, valid: 7200 }] },
    dns: [DNS],
    domains: ['lan.example', 'example.org'],
  };
  const m = new Dhcp6Message();
  const pkt = dhcp6Packet(dhcpv6Payload(spec));
  assert.equal(decodeDhcp6(pkt, m), true);
  assert.equal(m.msgType, 2);
  assert.equal(m.transactionId, 0xabcdef);
  assert.equal(m.relayDepth, 0);
  assert.equal(m.clientIdLen, 10);
  assert.equal(m.serverDuidType, 3);
  assert.equal(m.serverDuidMac, parseMac(ROUTER.mac));
  assert.equal(m.preference, 255);
  assert.deepEqual([m.iaT1, m.iaT2], [3600, 5400]);
  assert.equal(m.addrCount, 1);
  assert.equal(ip6ToString(pkt.buf, m.addrOff[0]!), 'fd53:7700::100');
  assert.deepEqual([m.addrPreferred[0], m.addrValid[0]], [4500, 7200]);
  assert.equal(m.dnsCount, 1);
  assert.equal(ip6ToString(pkt.buf, m.dnsOff[0]!), DNS);
  assert.equal(dnsNamesToText(pkt.buf, m.domainOff, m.domainEnd), 'lan.example, example.org');

  const relayed = dhcpv6RelayPayload(13, 0, 'fd53:7700::1', VICTIM.ll, dhcpv6RelayPayload(13, 1, '::', VICTIM.ll, dhcpv6Payload({ ...spec, msgType: 7 })));
  const rp = dhcp6Packet(relayed, ROUTER, 547, 547);
  assert.equal(decodeDhcp6(rp, m), true);
  assert.equal(m.msgType, 7);
  assert.equal(m.outerType, 13);
  assert.equal(m.relayDepth, 2);
  assert.equal(m.serverDuidMac, parseMac(ROUTER.mac));
});

test('every malformed ND case is marked with a constant reason and decoding stops', () => {
  const base = routerAdvertBody({ lifetime: 1800 });
  const opt = (type: number, units: number, fill = 0): Buffer => {
    const b = Buffer.alloc(Math.max(2, units * 8), fill);
    b[0] = type;
    b[1] = units;
    return b;
  };
  const cases: [string, Buffer, RegExp][] = [
    ['truncated', base.subarray(0, 10), /shorter than 16/],
    ['zero-length option', Buffer.concat([base, opt(1, 0)]), /length 0/],
    ['option past end', Buffer.concat([base, opt(1, 2).subarray(0, 10)]), /runs past/],
    ['lone option byte', Buffer.concat([base, Buffer.from([1])]), /runs past/],
    ['65 options', Buffer.concat([base, ...Array.from({ length: 65 }, () => opt(99, 1))]), /more than 64/],
    ['prefix option length', Buffer.concat([base, opt(3, 3)]), /prefix information option is not 32/],
    ['prefix length 129', Buffer.concat([base, (() => { const o = opt(3, 4); o[2] = 129; return o; })()]), /above 128/],
    ['MTU length', Buffer.concat([base, opt(5, 2)]), /MTU option/],
    ['RDNSS without address', Buffer.concat([base, opt(25, 1)]), /RDNSS/],
    ['RDNSS half address', Buffer.concat([base, opt(25, 4)]), /RDNSS/],
    ['DNSSL too short', Buffer.concat([base, opt(31, 1)]), /DNSSL/],
    ['route info too short', Buffer.concat([base, (() => { const o = opt(24, 1); o[2] = 48; return o; })()]), /route information/],
    ['route info too long', Buffer.concat([base, opt(24, 4)]), /route information/],
  ];
  for (const [name, body, reason] of cases) {
    const pkt = raPacket(body);
    assert.equal(decodeRouterAdvert(pkt, new RouterAdvert()), false, name);
    assert.equal(pkt.malformedLayer, 'icmpv6', name);
    assert.match(pkt.malformed ?? '', reason, name);
  }
  const redirect = packetOf(icmpv6Frame(ROUTER.mac, VICTIM.mac, ROUTER.ll, VICTIM.ll, 137, 0, Buffer.alloc(30)));
  assert.equal(decodeNdRedirect(redirect, new NdRedirect()), false);
  assert.match(redirect.malformed ?? '', /shorter than 40/);
  const badRedirectOpt = packetOf(icmpv6Frame(ROUTER.mac, VICTIM.mac, ROUTER.ll, VICTIM.ll, 137, 0, Buffer.concat([Buffer.alloc(36), opt(2, 0)])));
  assert.equal(decodeNdRedirect(badRedirectOpt, new NdRedirect()), false);
  assert.match(badRedirectOpt.malformed ?? '', /length 0/);
});

test('every malformed ICMPv4 redirect case is marked', () => {
  const good = icmpv4RedirectFrame(ATTACKER.mac, VICTIM.mac, '198.18.0.66', '198.18.0.10', 1, '198.18.0.66', { src: '198.18.0.10', dst: '198.19.0.2' });
  const ipStart = 14;
  const icmpStart = ipStart + 20;
  const truncate = (frame: Buffer, icmpLen: number): Buffer => {
    const f = Buffer.from(frame.subarray(0, icmpStart + icmpLen));
    f.writeUInt16BE(20 + icmpLen, ipStart + 2);
    return f;
  };
  const badCode = Buffer.from(good);
  badCode[icmpStart + 1] = 4;
  const notIpv4 = Buffer.from(good);
  notIpv4[icmpStart + 8] = 0x60;
  const cases: [string, Buffer, RegExp][] = [
    ['truncated', truncate(good, 20), /shorter than its header/],
    ['code 4', badCode, /code above 3/],
    ['quoted header not IPv4', notIpv4, /does not carry an IPv4 header/],
  ];
  for (const [name, frame, reason] of cases) {
    const pkt = packetOf(frame);
    assert.equal(decodeIcmp4Redirect(pkt, new Icmp4Redirect()), false, name);
    assert.equal(pkt.malformedLayer, 'icmp', name);
    assert.match(pkt.malformed ?? '', reason, name);
  }
});

test('every malformed DHCPv6 case is marked with a constant reason', () => {
  const head = (type: number): Buffer => Buffer.from([type, 0, 0, 1]);
  const raw = (code: number, data: Buffer, claimedLen = data.length): Buffer => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(code, 0);
    h.writeUInt16BE(claimedLen, 2);
    return Buffer.concat([h, data]);
  };
  let deep = dhcpv6Payload({ msgType: 7, xid: 1 });
  for (let i = 0; i < 9; i++) deep = dhcpv6RelayPayload(13, i, '::', VICTIM.ll, deep);
  const cases: [string, Buffer, RegExp][] = [
    ['truncated', Buffer.from([2, 0]), /shorter than its header/],
    ['option past end', Buffer.concat([head(2), raw(23, Buffer.alloc(16), 32)]), /runs past/],
    ['option header cut', Buffer.concat([head(2), Buffer.from([0, 23])]), /runs past/],
    ['65 options', Buffer.concat([head(2), ...Array.from({ length: 65 }, () => raw(99, Buffer.alloc(0)))]), /more than 64/],
    ['relay too deep', deep, /deeper than 8/],
    ['relay without message', Buffer.concat([Buffer.from([13, 0]), Buffer.alloc(32), raw(18, Buffer.alloc(4))]), /without a relayed message/],
    ['relay header truncated', Buffer.concat([Buffer.from([13, 0]), Buffer.alloc(20)]), /shorter than its header/],
    ['DUID of 1 byte', Buffer.concat([head(2), raw(2, Buffer.alloc(1))]), /DUID/],
    ['DUID of 131 bytes', Buffer.concat([head(2), raw(1, Buffer.alloc(131))]), /DUID/],
    ['IA_NA short', Buffer.concat([head(2), raw(3, Buffer.alloc(8))]), /IA_NA/],
    ['IA address short', Buffer.concat([head(2), raw(3, Buffer.concat([Buffer.alloc(12), raw(5, Buffer.alloc(16))]))]), /IA address/],
    ['IA address past IA_NA', Buffer.concat([head(2), raw(3, Buffer.concat([Buffer.alloc(12), raw(5, Buffer.alloc(24), 40)]))]), /runs past/],
    ['preference of 2 bytes', Buffer.concat([head(2), raw(7, Buffer.alloc(2))]), /preference/],
    ['DNS servers of 20 bytes', Buffer.concat([head(2), raw(23, Buffer.alloc(20))]), /multiple of 16/],
  ];
  for (const [name, payload, reason] of cases) {
    const pkt = dhcp6Packet(payload);
    assert.equal(decodeDhcp6(pkt, new Dhcp6Message()), false, name);
    assert.equal(pkt.malformedLayer, 'dhcpv6', name);
    assert.match(pkt.malformed ?? '', reason, name);
  }
  // The option builder itself is well-formed.
  assert.equal(decodeDhcp6(dhcp6Packet(Buffer.concat([head(7), dhcpv6Option(2, duidLl(ROUTER.mac))])), new Dhcp6Message()), true);
});

test('malformed RAs and DHCPv6 messages become info decode-malformed findings, and nothing else', async () => {
  const frames: TimedFrame[] = [
    { t: 1, frame: icmpv6Frame(ROUTER.mac, '33:33:00:00:00:01', ROUTER.ll, 'ff02::1', 134, 0, Buffer.concat([routerAdvertBody({ lifetime: 1800 }), Buffer.from([3, 0])])) },
    { t: 2, frame: ipv6UdpFrame(ATTACKER.mac, VICTIM.mac, ATTACKER.ll, VICTIM.ll, 547, 546, Buffer.from([2, 0])) },
  ];
  const { findings } = await scanFrames(frames);
  const malformed = only(findings, 'decode-malformed');
  assert.equal(malformed.length, 2, describe(findings));
  assert.ok(malformed.every((f) => f.severity === 'info'));
  assert.ok(malformed.some((f) => f.message.startsWith('malformed icmpv6:')));
  assert.ok(malformed.some((f) => f.message.startsWith('malformed dhcpv6:')));
  assert.deepEqual(atLeast(findings, 'low'), [], describe(findings));
});

// ---- router advertisements ----------------------------------------------------

test('benign: one router advertising periodically raises nothing of low or above', async () => {
  const frames = periodicRouter(0, 6);
  frames.push({ t: 50, frame: icmpv6Frame(VICTIM.mac, '33:33:00:00:00:02', VICTIM.ll, 'ff02::2', 133, 0, Buffer.alloc(4)) });
  frames.push({ t: 50.01, frame: routerAdvertFrame(ROUTER.mac, ROUTER.ll, ROUTER_RA, VICTIM.mac, VICTIM.ll) });
  const { findings, errors } = await scanFrames(frames.sort((a, b) => a.t - b.t));
  assert.deepEqual(errors, []);
  assert.deepEqual(atLeast(findings, 'low'), [], describe(findings));
});

test('benign: a router that withdraws itself once from its own address and MAC is an info shutdown notice', async () => {
  const frames = periodicRouter(0, 4);
  frames.push(routerRa(700, { lifetime: 0 }));
  const { findings } = await scanFrames(frames);
  assert.deepEqual(atLeast(findings, 'low'), [], describe(findings));
  const notice = only(findings, 'ipv6-router-kill');
  assert.equal(notice.length, 1, describe(findings));
  assert.equal(notice[0]!.severity, 'info');
  assert.match(notice[0]!.message, /shutdown/);
});

test('rogue router: a second router offering another prefix and DNS server is critical, naming its link-local address and MAC', async () => {
  const frames = periodicRouter(0, 3);
  frames.push({
    t: 500,
    frame: routerAdvertFrame(ATTACKER.mac, ATTACKER.ll, { lifetime: 1800, preference: 'high', sourceMac: ATTACKER.mac, prefixes: [{ prefix: ROGUE_PREFIX }], rdnss: { servers: [ATTACKER.ll] } }),
  });
  const { findings } = await scanFrames(frames);
  const hit = only(findings, 'ipv6-rogue-router-advertisement');
  assert.equal(hit.length, 1, describe(findings));
  assert.equal(hit[0]!.severity, 'critical');
  assert.deepEqual(hit[0]!.attack.techniques, ['T1557']);
  assert.ok(hasEntity(hit[0]!, 'mac', ATTACKER.mac, 'attacker'));
  assert.ok(hasEntity(hit[0]!, 'ip', ATTACKER.ll, 'attacker'));
  assert.ok(hasEntity(hit[0]!, 'ip', ATTACKER.ll, 'dns-server'));
  assert.ok(hasEntity(hit[0]!, 'mac', ROUTER.mac, 'legitimate'));
  assert.match(hit[0]!.message, /prefix fd53:7701::\/64/);
  assert.match(hit[0]!.message, /second router/);
});

test('rogue router: a second router repeating the established prefix, or with lifetime 0, is high', async () => {
  const same = periodicRouter(0, 2);
  same.push({ t: 450, frame: routerAdvertFrame(ATTACKER.mac, ATTACKER.ll, { lifetime: 600, prefixes: [{ prefix: PREFIX }] }) });
  same.push({ t: 460, frame: routerAdvertFrame(ATTACKER.mac, ATTACKER.ll, { lifetime: 0, managed: true, other: true }) });
  const { findings } = await scanFrames(same);
  const hit = only(findings, 'ipv6-rogue-router-advertisement');
  assert.equal(hit.length, 1, describe(findings));
  assert.equal(hit[0]!.severity, 'high');
  assert.equal(hit[0]!.count, 2);
  assert.equal(only(findings, 'ipv6-router-kill').length, 0, 'a rogue withdrawing itself kills nobody');
});

test("mitm6's RA (managed flag, lifetime 0, no prefix) on a link without a router is medium", async () => {
  const { findings } = await scanFrames([0, 30, 60].map((t) => ({ t, frame: routerAdvertFrame(ATTACKER.mac, ATTACKER.ll, { lifetime: 0, managed: true, other: true }) })));
  const hit = only(findings, 'ipv6-rogue-router-advertisement');
  assert.equal(hit.length, 1, describe(findings));
  assert.equal(hit[0]!.severity, 'medium');
  assert.match(hit[0]!.message, /mitm6/);
  assert.ok(hasEntity(hit[0]!, 'mac', ATTACKER.mac, 'attacker'));
});

test('a rogue heard before the network\'s router loses the trust to the router whose MAC forwards IPv4', async () => {
  // The router's MAC claims 198.18.0.1 and forwards a host's IPv4 traffic; a rogue's RA comes first, then the router's.
  const GW4 = '198.18.0.1';
  const HOST = { mac: VICTIM.mac, ip: '198.18.0.10' };
  const frames: TimedFrame[] = [
    { t: 0, frame: arpRequest(HOST, GW4) },
    { t: 0.001, frame: arpReply({ mac: ROUTER.mac, ip: GW4 }, HOST) },
    { t: 0.01, frame: ipv4UdpFrame(HOST.mac, ROUTER.mac, HOST.ip, '198.19.7.7', 40000, 53, Buffer.alloc(20)) },
    { t: 0.02, frame: ipv4UdpFrame(ROUTER.mac, HOST.mac, '198.19.7.7', HOST.ip, 53, 40000, Buffer.alloc(20)) },
    { t: 1, frame: routerAdvertFrame(ATTACKER.mac, ATTACKER.ll, { lifetime: 1800, sourceMac: ATTACKER.mac, prefixes: [{ prefix: ROGUE_PREFIX, length: 64 }], rdnss: { servers: ['fd53:7701::53'] } }) },
    // The rogue also advertises from a second address of its own: the same device, still established only by order.
    { t: 1.5, frame: routerAdvertFrame(ATTACKER.mac, 'fe80::667', { lifetime: 1800, sourceMac: ATTACKER.mac, prefixes: [{ prefix: ROGUE_PREFIX, length: 64 }] }) },
    routerRa(2),
    { t: 5, frame: routerAdvertFrame(ATTACKER.mac, ATTACKER.ll, { lifetime: 1800, sourceMac: ATTACKER.mac, prefixes: [{ prefix: ROGUE_PREFIX, length: 64 }], rdnss: { servers: ['fd53:7701::53'] } }) },
    routerRa(200),
  ];
  const { findings } = await scanFrames(frames);
  const rogue = only(findings, 'ipv6-rogue-router-advertisement');
  assert.equal(rogue.length, 1, describe(findings));
  assert.ok(hasEntity(rogue[0]!, 'mac', ATTACKER.mac, 'attacker') && hasEntity(rogue[0]!, 'mac', ROUTER.mac, 'legitimate'), describe(rogue));
  assert.match(rogue[0]!.message, /trust moved from fe80::666 \(02:00:00:00:06:66\), fe80::667 \(02:00:00:00:06:66\) to fe80::1, whose MAC forwards IPv4 traffic as a router/);
  assert.ok(!findings.some((f) => f.rule_id.startsWith('ipv6-') && hasEntity(f, 'mac', ROUTER.mac, 'attacker')), describe(findings));

  // Without the router's IPv4 forwarding the first router keeps the trust (what ipv6.routers is for).
  const { findings: unseen } = await scanFrames(frames.slice(4));
  assert.ok(unseen.some((f) => f.rule_id === 'ipv6-rogue-router-advertisement' && hasEntity(f, 'mac', ROUTER.mac, 'attacker')), describe(unseen));
});

test('configured routers: an unlisted router is rogue even first, listed ones are silent, a listed address from another MAC is impersonation', async () => {
  const cfg = withIpv6({ routers: [ROUTER.ll, ROUTER.mac] });
  const frames: TimedFrame[] = [
    { t: 0, frame: routerAdvertFrame(ATTACKER.mac, ATTACKER.ll, { lifetime: 1800, prefixes: [{ prefix: PREFIX }] }) },
    ...periodicRouter(10, 3),
    { t: 700, frame: routerAdvertFrame(ATTACKER.mac, ROUTER.ll, { lifetime: 1800, prefixes: [{ prefix: ROGUE_PREFIX }] }) },
  ];
  const { findings } = await scanFrames(frames, cfg);
  const rogue = only(findings, 'ipv6-rogue-router-advertisement');
  const first = rogue.find((f) => hasEntity(f, 'ip', ATTACKER.ll, 'attacker'));
  assert.ok(first, describe(findings));
  assert.match(first.message, /not a configured router/);
  // Nothing established at t=0 to compare against, so its prefix is new: critical.
  assert.equal(first.severity, 'critical');
  const imp = rogue.find((f) => hasEntity(f, 'ip', ROUTER.ll, 'impersonated'));
  assert.ok(imp, describe(findings));
  assert.ok(hasEntity(imp, 'mac', ATTACKER.mac, 'attacker'));
  assert.equal(imp.severity, 'critical');
  assert.equal(rogue.length, 2, describe(findings));
});

test('config section: addresses and MACs are accepted, anything else is an error naming the key', () => {
  const cfg = parseConfig('ipv6:\n  routers: [fe80::1, "02:00:00:00:01:01"]\n  dhcpv6_servers: [fe80::2]\n', 'sw.yml', CONFIG_SECTIONS);
  const section = cfg.sections.get('ipv6') as ReturnType<typeof IPV6_SECTION.parse>;
  assert.equal(section.routers.ipCount, 1);
  assert.equal(section.routers.macs.size, 1);
  assert.equal(section.dhcpv6Servers.ipCount, 1);
  assert.throws(() => parseConfig('ipv6:\n  routers: [198.18.0.1]\n', 'sw.yml', CONFIG_SECTIONS), (e: unknown) => e instanceof ConfigError && /sw\.yml: ipv6\.routers: '198\.18\.0\.1'/.test(e.message));
  assert.throws(() => parseConfig('ipv6:\n  router: [fe80::1]\n', 'sw.yml', CONFIG_SECTIONS), /unknown key 'router'/);
  assert.throws(() => parseConfig('ipv6:\n  routers: fe80::1\n', 'sw.yml', CONFIG_SECTIONS), /must be a list/);
});

// ---- router kill ----------------------------------------------------------------

test('kill_router6: lifetime-0 RAs in the established router\'s name from another MAC are high, naming attacker and router', async () => {
  const frames = periodicRouter(0, 2);
  for (let i = 0; i < 5; i++) frames.push({ t: 300 + i * 3, frame: routerAdvertFrame(ATTACKER.mac, ROUTER.ll, { lifetime: 0, preference: 'high' }) });
  const { findings } = await scanFrames(frames);
  const kill = only(findings, 'ipv6-router-kill');
  assert.equal(kill.length, 1, describe(findings));
  assert.equal(kill[0]!.severity, 'high');
  assert.equal(kill[0]!.count, 5);
  assert.deepEqual(kill[0]!.attack.techniques, ['T1557']);
  assert.ok(hasEntity(kill[0]!, 'mac', ATTACKER.mac, 'attacker'));
  assert.ok(hasEntity(kill[0]!, 'ip', ROUTER.ll, 'impersonated'));
  assert.ok(hasEntity(kill[0]!, 'mac', ROUTER.mac, 'legitimate'));
  assert.equal(only(findings, 'ipv6-rogue-router-advertisement').length, 0, describe(findings));
});

test('kill_router6 before the router was heard: the EUI-64 address names another MAC', async () => {
  const routerMac = '64:00:6a:5b:8e:b3';
  const routerLl = eui64LinkLocal(routerMac);
  const frames: TimedFrame[] = [
    { t: 0, frame: routerAdvertFrame(ATTACKER.mac, routerLl, { lifetime: 0 }) },
    { t: 1, frame: routerAdvertFrame(routerMac, routerLl, { lifetime: 30, sourceMac: routerMac, prefixes: [{ prefix: PREFIX }] }) },
    { t: 3, frame: routerAdvertFrame(ATTACKER.mac, routerLl, { lifetime: 0 }) },
  ];
  const { findings } = await scanFrames(frames);
  const kill = only(findings, 'ipv6-router-kill');
  assert.equal(kill.length, 1, describe(findings));
  assert.equal(kill[0]!.count, 2);
  assert.ok(hasEntity(kill[0]!, 'mac', routerMac, 'legitimate'));
  assert.ok(hasEntity(kill[0]!, 'mac', ATTACKER.mac, 'attacker'));
  assert.equal(only(findings, 'ipv6-rogue-router-advertisement').length, 0, 'the real router is established, not rogue');
});

test('a source link-layer option naming another MAC than the sender is impersonation', async () => {
  const frames = periodicRouter(0, 2);
  frames.push({ t: 450, frame: routerAdvertFrame(ROUTER.mac, ROUTER.ll, { ...ROUTER_RA, lifetime: 0, sourceMac: ATTACKER.mac }) });
  const { findings } = await scanFrames(frames);
  const kill = only(findings, 'ipv6-router-kill');
  assert.equal(kill.length, 1, describe(findings));
  assert.equal(kill[0]!.severity, 'high');
  assert.match(kill[0]!.message, /source link-layer option names 02:00:00:00:06:66/);
});

test('lifetime-0 RAs from the router\'s own address and MAC that keep alternating with normal ones escalate', async () => {
  const frames: TimedFrame[] = [];
  let t = 0;
  for (let i = 0; i < 4; i++) {
    frames.push(routerRa((t += 10)));
    frames.push(routerRa((t += 10), { lifetime: 0 }));
  }
  const { findings } = await scanFrames(frames);
  const flapping = only(findings, 'ipv6-router-kill').filter((f) => f.severity !== 'info');
  assert.equal(flapping.length, 1, describe(findings));
  assert.equal(flapping[0]!.severity, 'high');
  assert.match(flapping[0]!.message, /again after coming back/);
  assert.ok(hasEntity(flapping[0]!, 'ip', ROUTER.ll, 'impersonated'));
});

test('a router restarted once (withdraw, come back) stays below medium', async () => {
  const frames = periodicRouter(0, 2);
  frames.push(routerRa(250, { lifetime: 0 }), ...periodicRouter(260, 3));
  const { findings } = await scanFrames(frames);
  assert.deepEqual(atLeast(findings, 'low'), [], describe(findings));
});

test('RAs hosts would drop (hop limit below 255, global source) are not analysed', async () => {
  const frames = periodicRouter(0, 2);
  frames.push({ t: 450, frame: icmpv6Frame(ATTACKER.mac, '33:33:00:00:00:01', ATTACKER.ll, 'ff02::1', 134, 0, routerAdvertBody({ lifetime: 1800, prefixes: [{ prefix: ROGUE_PREFIX }] }), 64) });
  frames.push({ t: 451, frame: icmpv6Frame(ATTACKER.mac, '33:33:00:00:00:01', 'fd53:7701::66', 'ff02::1', 134, 0, routerAdvertBody({ lifetime: 1800 })) });
  const { findings } = await scanFrames(frames);
  assert.deepEqual(atLeast(findings, 'low'), [], describe(findings));
});

// ---- RA changes --------------------------------------------------------------------

test('the established router adding a prefix or DNS server after its first minute is medium; within it, learned', async () => {
  const frames = periodicRouter(0, 1);
  frames.push(routerRa(20, { prefixes: [{ prefix: PREFIX }, { prefix: 'fd53:7702::' }] }));
  frames.push(routerRa(400, { prefixes: [{ prefix: PREFIX }, { prefix: 'fd53:7702::' }, { prefix: ROGUE_PREFIX }] }));
  frames.push(routerRa(600, { rdnss: { servers: [DNS, ATTACKER.ll] } }));
  frames.push(routerRa(800, { rdnss: { servers: [DNS, ATTACKER.ll] } }));
  const { findings } = await scanFrames(frames);
  const change = only(findings, 'ipv6-ra-change');
  assert.equal(change.length, 2, describe(findings));
  assert.ok(change.every((f) => f.severity === 'medium'));
  const prefix = change.find((f) => /prefix fd53:7701::\/64/.test(f.message));
  assert.ok(prefix, describe(change));
  assert.match(prefix.message, /before: fd53:7700::\/64, fd53:7702::\/64/);
  const dns = change.find((f) => /DNS server fe80::666/.test(f.message));
  assert.ok(dns && hasEntity(dns, 'ip', ATTACKER.ll, 'dns-server'), describe(change));
  assert.ok(hasEntity(dns, 'mac', ROUTER.mac, 'source'));
});

test("another address of the established router's MAC is the same device: its known options are quiet, a new one is a change", async () => {
  const frames = periodicRouter(0, 2);
  frames.push({ t: 300, frame: routerAdvertFrame(ROUTER.mac, 'fe80::1:2', { ...ROUTER_RA }) });
  frames.push({ t: 310, frame: routerAdvertFrame(ROUTER.mac, 'fe80::1:2', { ...ROUTER_RA, prefixes: [{ prefix: PREFIX }, { prefix: ROGUE_PREFIX }] }) });
  const { findings } = await scanFrames(frames);
  assert.equal(only(findings, 'ipv6-rogue-router-advertisement').length, 0, describe(findings));
  const change = only(findings, 'ipv6-ra-change');
  assert.equal(change.length, 1, describe(findings));
  assert.match(change[0]!.message, /fe80::1:2 now advertises prefix fd53:7701::\/64 \(before: fd53:7700::\/64\)/);
});

// ---- DHCPv6 -------------------------------------------------------------------------

const CLIENT_DUID = duidLl(VICTIM.mac);

function solicit(t: number): TimedFrame {
  return { t, frame: ipv6UdpFrame(VICTIM.mac, '33:33:00:01:00:02', VICTIM.ll, 'ff02::1:2', 546, 547, dhcpv6Payload({ msgType: 1, xid: t, clientDuid: CLIENT_DUID, iaNa: { iaid: 1, t1: 0, t2: 0, addresses: [] } })) };
}

function serverAnswer(t: number, from: { mac: string; ll: string }, msgType: number, spec: Partial<Dhcpv6Spec> = {}): TimedFrame {
  const payload = dhcpv6Payload({
    msgType,
    xid: t,
    clientDuid: CLIENT_DUID,
    serverDuid: duidLl(from.mac),
    iaNa: { iaid: 1, t1: 3600, t2: 5400, addresses: [{ address: 'fd53:7700::100', preferred: 4500, valid: 7200 }] },
    dns: [DNS],
    ...spec,
  });
  return { t, frame: ipv6UdpFrame(from.mac, VICTIM.mac, from.ll, VICTIM.ll, 547, 546, payload) };
}

/** SOLICIT/ADVERTISE/REQUEST/REPLY with the network's server (on the router). */
function legitExchange(t: number): TimedFrame[] {
  return [solicit(t), serverAnswer(t + 0.01, ROUTER, 2), { ...solicit(t + 1), t: t + 1 }, serverAnswer(t + 1.01, ROUTER, 7)];
}

test('benign: the network\'s DHCPv6 server answering a client is at most low', async () => {
  const frames = [...periodicRouter(0, 1).map((f) => ({ ...f, frame: routerAdvertFrame(ROUTER.mac, ROUTER.ll, { ...ROUTER_RA, managed: true, other: true }) })), ...legitExchange(5), ...legitExchange(4000)];
  const { findings } = await scanFrames(frames);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
  const first = only(findings, 'ipv6-rogue-dhcpv6');
  assert.equal(first.length, 1, describe(findings));
  assert.equal(first[0]!.severity, 'low');
  assert.equal(first[0]!.count, 1);
  assert.ok(hasEntity(first[0]!, 'mac', ROUTER.mac, 'server'));
});

test('rogue DHCPv6: a second server answering is high, naming it and the client', async () => {
  const frames = [...legitExchange(0), solicit(100), serverAnswer(100.01, OTHER_SERVER, 2, { dns: ['fd53:7700::99'] })];
  const { findings } = await scanFrames(frames);
  const rogue = only(findings, 'ipv6-rogue-dhcpv6').filter((f) => f.severity !== 'low');
  assert.equal(rogue.length, 1, describe(findings));
  assert.equal(rogue[0]!.severity, 'high');
  assert.deepEqual(rogue[0]!.attack.techniques, ['T1557.003']);
  assert.ok(hasEntity(rogue[0]!, 'mac', OTHER_SERVER.mac, 'attacker'));
  assert.ok(hasEntity(rogue[0]!, 'ip', OTHER_SERVER.ll, 'attacker'));
  assert.ok(hasEntity(rogue[0]!, 'ip', VICTIM.ll, 'victim'));
  assert.ok(hasEntity(rogue[0]!, 'mac', ROUTER.mac, 'legitimate'));
  assert.match(rogue[0]!.message, /second DHCPv6 server/);
});

test('rogue DHCPv6: the mitm6 pattern (own link-local as DNS, 300 s lease, T1 200) is critical even as the first server', async () => {
  const mitm6: Partial<Dhcpv6Spec> = {
    dns: [ATTACKER.ll],
    iaNa: { iaid: 1, t1: 200, t2: 250, addresses: [{ address: 'fe80::198:18:0:10', preferred: 300, valid: 300 }] },
    domains: ['corp.example'],
  };
  const frames = [solicit(0), serverAnswer(0.01, ATTACKER, 2, mitm6), solicit(1), serverAnswer(1.01, ATTACKER, 7, mitm6)];
  const { findings } = await scanFrames(frames);
  const hit = only(findings, 'ipv6-rogue-dhcpv6');
  assert.equal(hit.length, 1, describe(findings));
  assert.equal(hit[0]!.severity, 'critical');
  assert.equal(hit[0]!.count, 2, 'the REPLY aggregates into the same finding: mitm6 is never established');
  assert.match(hit[0]!.message, /mitm6/);
  assert.match(hit[0]!.message, /link-local address to lease/);
  assert.ok(hasEntity(hit[0]!, 'ip', ATTACKER.ll, 'attacker'));
  assert.ok(hasEntity(hit[0]!, 'ip', ATTACKER.ll, 'dns-server'));
  assert.ok(hasEntity(hit[0]!, 'mac', ATTACKER.mac, 'attacker'));
});

test('a server naming its own link-local address as DNS with a long lease is not the mitm6 pattern', async () => {
  const frames = [solicit(0), serverAnswer(0.01, ROUTER, 2, { dns: [ROUTER.ll] })];
  const { findings } = await scanFrames(frames);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
});

test('rogue DHCPv6: the first server on a link whose router announces no DHCPv6 (M=0, O=0) is high', async () => {
  const frames = [...periodicRouter(0, 1), solicit(10), serverAnswer(10.01, OTHER_SERVER, 2)];
  const { findings } = await scanFrames(frames);
  const hit = only(findings, 'ipv6-rogue-dhcpv6');
  assert.equal(hit.length, 1, describe(findings));
  assert.equal(hit[0]!.severity, 'high');
  assert.match(hit[0]!.message, /announce no DHCPv6/);
});

test('configured DHCPv6 servers: the listed one is silent, any other is high, also behind a relay', async () => {
  const cfg = withIpv6({ dhcpv6_servers: [ROUTER.ll] });
  const relayed = dhcpv6RelayPayload(13, 0, 'fd53:7700::1', VICTIM.ll, dhcpv6Payload({ msgType: 7, xid: 9, clientDuid: CLIENT_DUID, serverDuid: duidLl(OTHER_SERVER.mac) }));
  const frames = [
    ...legitExchange(0),
    { t: 50, frame: ipv6UdpFrame(OTHER_SERVER.mac, ROUTER.mac, OTHER_SERVER.ll, ROUTER.ll, 547, 547, relayed) },
  ];
  const { findings } = await scanFrames(frames, cfg);
  const hit = only(findings, 'ipv6-rogue-dhcpv6');
  assert.equal(hit.length, 1, describe(findings));
  assert.equal(hit[0]!.severity, 'high');
  assert.match(hit[0]!.message, /not a configured DHCPv6 server/);
  assert.match(hit[0]!.message, /relayed 1 time/);
  assert.ok(hasEntity(hit[0]!, 'mac', OTHER_SERVER.mac, 'attacker'));
});

// ---- redirects ------------------------------------------------------------------------

test('ICMPv6 redirect to a host that is not a router is high: sender attacker, receiver victim, target attacker-controlled', async () => {
  const frames = [...periodicRouter(0, 1), { t: 5, frame: ndRedirectFrame(ATTACKER.mac, VICTIM.mac, ATTACKER.ll, VICTIM.ll, ATTACKER.ll, 'fd53:9::1', ATTACKER.mac) }];
  const { findings } = await scanFrames(frames);
  const hit = only(findings, 'icmp-redirect');
  assert.equal(hit.length, 1, describe(findings));
  assert.equal(hit[0]!.severity, 'high');
  assert.deepEqual(hit[0]!.attack.techniques, ['T1557']);
  assert.ok(hasEntity(hit[0]!, 'mac', ATTACKER.mac, 'attacker'));
  assert.ok(hasEntity(hit[0]!, 'ip', ATTACKER.ll, 'attacker'));
  assert.ok(hasEntity(hit[0]!, 'ip', VICTIM.ll, 'victim'));
  assert.ok(hasEntity(hit[0]!, 'ip', ATTACKER.ll, 'attacker-controlled'));
  assert.ok(hasEntity(hit[0]!, 'ip', 'fd53:9::1', 'redirected'));
});

test('ICMPv6 redirect to the established router, or on-link to the destination, is medium; claiming the destination is high', async () => {
  const second = { mac: '02:00:00:00:01:02', ll: 'fe80::2' };
  const frames = [
    ...periodicRouter(0, 1),
    { t: 5, frame: ndRedirectFrame(second.mac, VICTIM.mac, second.ll, VICTIM.ll, ROUTER.ll, 'fd53:9::1') },
    { t: 6, frame: ndRedirectFrame(ROUTER.mac, VICTIM.mac, ROUTER.ll, VICTIM.ll, 'fe80::20', 'fe80::20', '02:00:00:00:00:20') },
    { t: 7, frame: ndRedirectFrame(ATTACKER.mac, VICTIM.mac, ATTACKER.ll, VICTIM.ll, 'fe80::30', 'fe80::30', ATTACKER.mac) },
    // Dropped by hosts: multicast destination field; hop limit below 255.
    { t: 8, frame: ndRedirectFrame(ATTACKER.mac, VICTIM.mac, ATTACKER.ll, VICTIM.ll, ATTACKER.ll, 'ff02::1') },
  ];
  const { findings } = await scanFrames(frames);
  const hits = only(findings, 'icmp-redirect');
  assert.equal(hits.length, 3, describe(findings));
  assert.equal(hits.find((f) => hasEntity(f, 'mac', second.mac, 'attacker'))?.severity, 'medium');
  assert.equal(hits.find((f) => hasEntity(f, 'mac', ROUTER.mac, 'attacker'))?.severity, 'medium');
  assert.equal(hits.find((f) => hasEntity(f, 'mac', ATTACKER.mac, 'attacker'))?.severity, 'high');
});

test('ICMPv4 redirect: to a known gateway medium, to any other address high; one finding per sender and gateway', async () => {
  const cfg = defaultConfig();
  cfg.arp.gateways.add(parseIp4('198.18.0.1')!);
  const original = { src: '198.18.0.10', dst: '198.19.0.2' };
  const frames: TimedFrame[] = [
    { t: 1, frame: ipv4UdpFrame(VICTIM.mac, ATTACKER.mac, '198.18.0.10', '198.19.0.2', 40000, 53, Buffer.alloc(20)) },
    { t: 1.001, frame: icmpv4RedirectFrame(ATTACKER.mac, VICTIM.mac, '198.18.0.66', '198.18.0.10', 1, '198.18.0.1', original) },
    { t: 2.001, frame: icmpv4RedirectFrame(ATTACKER.mac, VICTIM.mac, '198.18.0.66', '198.18.0.10', 1, '198.18.0.1', original) },
    { t: 3, frame: icmpv4RedirectFrame(ATTACKER.mac, '02:00:00:00:00:11', '198.18.0.1', '198.18.0.11', 0, '198.18.0.66', original) },
  ];
  const { findings } = await scanFrames(frames, cfg);
  const hits = only(findings, 'icmp-redirect');
  assert.equal(hits.length, 2, describe(findings));
  const toGateway = hits.find((f) => hasEntity(f, 'ip', '198.18.0.1', 'attacker-controlled'))!;
  assert.equal(toGateway.severity, 'medium');
  assert.equal(toGateway.count, 2);
  assert.ok(hasEntity(toGateway, 'ip', '198.18.0.66', 'attacker'));
  assert.ok(hasEntity(toGateway, 'mac', ATTACKER.mac, 'attacker'));
  assert.ok(hasEntity(toGateway, 'ip', '198.18.0.10', 'victim'));
  assert.ok(hasEntity(toGateway, 'ip', '198.19.0.2', 'redirected'));
  const forged = hits.find((f) => hasEntity(f, 'ip', '198.18.0.66', 'attacker-controlled'))!;
  assert.equal(forged.severity, 'high');
  assert.ok(hasEntity(forged, 'ip', '198.18.0.1', 'attacker'), 'the forged source is named as sent');
  assert.ok(hasEntity(forged, 'mac', ATTACKER.mac, 'attacker'));
});

// ---- bounds ---------------------------------------------------------------------------

test('an RA and DHCPv6 flood from random senders keeps state bounded and findings capped', async () => {
  const frames = periodicRouter(0, 1);
  for (let i = 0; i < 3000; i++) {
    const mac = `02:aa:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    const ll = `fe80::aa:${i.toString(16)}`;
    frames.push({ t: 10 + i * 0.001, frame: routerAdvertFrame(mac, ll, { lifetime: 1800, prefixes: [{ prefix: `fd53:${(i & 0xffff).toString(16)}::` }] }) });
    frames.push({ t: 10 + i * 0.001 + 0.0005, frame: serverAnswer(0, { mac, ll }, 2).frame });
  }
  const { findings, stats, suppressed } = await withTempDir((dir) =>
    scanCaptures([writePcap(join(dir, 'flood.pcap'), frames)], { config: defaultConfig(), profile: 'production', analyzers: ['ipv6'] }),
  );
  // Two routers and servers kept, plus one neighbor binding per sender.
  assert.ok(stats.stateEntries <= 2 + 3000, `state entries ${stats.stateEntries}`);
  assert.equal(only(findings, 'ipv6-rogue-router-advertisement').length, 1000);
  assert.ok((suppressed.get('ipv6-rogue-router-advertisement') ?? 0) > 0);
});

// ---- neighbor discovery spoofing ----------------------------------------------------

const PEER = { mac: '02:00:00:00:00:20', ll: 'fe80::20' };

/** `from` asks for `target` (with its source link-layer option); the owner answers, solicited, with Override. */
function resolve(t: number, from: { mac: string; ll: string }, owner: { mac: string; ll: string }, router = false): TimedFrame[] {
  return [
    { t, frame: neighborSolicitFrame(from.mac, from.ll, owner.ll) },
    { t: t + 0.001, frame: neighborAdvertFrame(owner.mac, owner.ll, { target: owner.ll, targetMac: owner.mac, solicited: true, override: true, router }, from.mac, from.ll) },
  ];
}

/** parasite6: answers the same solicitation for `target` with the attacker's MAC. */
function parasiteAnswer(t: number, asker: { mac: string; ll: string }, target: string, router = false): TimedFrame {
  return { t, frame: neighborAdvertFrame(ATTACKER.mac, target, { target, targetMac: ATTACKER.mac, solicited: true, override: true, router }, asker.mac, asker.ll) };
}

test('neighbor solicitation and advertisement: target, flags and link-layer options; truncated ones are marked', () => {
  const ns = packetOf(neighborSolicitFrame(VICTIM.mac, VICTIM.ll, ROUTER.ll));
  const n = new NeighborMessage();
  assert.equal(decodeNeighborMessage(ns, n), true);
  assert.equal(n.type, 135);
  assert.equal(ip6ToString(ns.buf, n.targetOff), ROUTER.ll);
  assert.equal(ip6ToString(ns.buf, ns.ip6DstOff), solicitedNode(ROUTER.ll).ip);
  assert.equal(n.sourceMac, parseMac(VICTIM.mac));
  assert.equal(n.targetMac, -1);
  assert.deepEqual([n.router, n.solicited, n.override], [false, false, false]);
  const dad = packetOf(neighborSolicitFrame(VICTIM.mac, '::', 'fd53:7700::10'));
  assert.equal(decodeNeighborMessage(dad, n), true);
  assert.equal(n.sourceMac, -1, 'a DAD probe carries no source link-layer option');

  const na = packetOf(neighborAdvertFrame(ROUTER.mac, ROUTER.ll, { target: ROUTER.ll, targetMac: ROUTER.mac, router: true, solicited: true, override: true }, VICTIM.mac, VICTIM.ll));
  assert.equal(decodeNeighborMessage(na, n), true);
  assert.equal(n.type, 136);
  assert.equal(ip6ToString(na.buf, n.targetOff), ROUTER.ll);
  assert.deepEqual([n.router, n.solicited, n.override], [true, true, true]);
  assert.equal(n.targetMac, parseMac(ROUTER.mac));
  assert.equal(n.sourceMac, -1);
  const bare = packetOf(neighborAdvertFrame(ROUTER.mac, ROUTER.ll, { target: ROUTER.ll, targetMac: null, override: false }));
  assert.equal(decodeNeighborMessage(bare, n), true);
  assert.deepEqual([n.targetMac, n.override], [-1, false]);

  const short = packetOf(icmpv6Frame(ATTACKER.mac, VICTIM.mac, ATTACKER.ll, VICTIM.ll, 136, 0, Buffer.alloc(12)));
  assert.equal(decodeNeighborMessage(short, n), false);
  assert.equal(short.malformedLayer, 'icmpv6');
  assert.match(short.malformed ?? '', /shorter than 24/);
  const zeroOpt = packetOf(icmpv6Frame(ATTACKER.mac, VICTIM.mac, ATTACKER.ll, VICTIM.ll, 135, 0, Buffer.concat([Buffer.alloc(20), Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])])));
  assert.equal(decodeNeighborMessage(zeroOpt, n), false);
  assert.match(zeroOpt.malformed ?? '', /length 0/);
});

test('parasite6: answering solicitations for the router and a host with its own MAC is critical, naming attacker, router and victim', async () => {
  const frames: TimedFrame[] = [...periodicRouter(0, 1)];
  for (const t of [1, 6, 11]) {
    frames.push(...resolve(t, VICTIM, ROUTER, true), parasiteAnswer(t + 0.002, VICTIM, ROUTER.ll, true));
    frames.push(...resolve(t + 1, ROUTER, VICTIM), parasiteAnswer(t + 1.002, ROUTER, VICTIM.ll));
  }
  const { findings, errors } = await scanFrames(frames.sort((a, b) => a.t - b.t));
  assert.deepEqual(errors, []);
  const imp = only(findings, 'ndp-router-impersonation');
  assert.equal(imp.length, 1, describe(findings));
  assert.equal(imp[0]!.severity, 'critical');
  assert.deepEqual(imp[0]!.attack.techniques, ['T1557']);
  assert.ok(hasEntity(imp[0]!, 'mac', ATTACKER.mac, 'attacker'), describe(imp));
  assert.ok(hasEntity(imp[0]!, 'ip', ROUTER.ll, 'impersonated'), describe(imp));
  assert.ok(hasEntity(imp[0]!, 'mac', ROUTER.mac, 'legitimate'), describe(imp));
  assert.ok(hasEntity(imp[0]!, 'ip', VICTIM.ll, 'victim'), describe(imp));
  const flips = only(findings, 'ndp-binding-flip-flop');
  const routerFlip = flips.find((f) => hasEntity(f, 'ip', ROUTER.ll, 'impersonated'));
  assert.equal(routerFlip?.severity, 'critical', describe(flips));
  assert.ok(hasEntity(routerFlip, 'mac', ATTACKER.mac, 'attacker'));
  const hostFlip = flips.find((f) => hasEntity(f, 'ip', VICTIM.ll, 'impersonated'));
  assert.equal(hostFlip?.severity, 'high', describe(flips));
  assert.ok(hasEntity(hostFlip, 'mac', ATTACKER.mac, 'attacker'));
  assert.ok(hasEntity(hostFlip, 'mac', VICTIM.mac, 'legitimate'));
  const takeover = only(findings, 'ndp-address-takeover').find((f) => hasEntity(f, 'ip', VICTIM.ll, 'impersonated'));
  assert.equal(takeover?.severity, 'high', describe(findings));
  assert.ok(hasEntity(takeover, 'mac', ATTACKER.mac, 'attacker'));
  // The real owners are never the ones blamed.
  for (const owner of [ROUTER.mac, VICTIM.mac]) {
    assert.ok(!atLeast(findings, 'medium').some((f) => hasEntity(f, 'mac', owner, 'attacker')), describe(atLeast(findings, 'medium')));
  }
});

test("fake_advertise6: repeated unsolicited Override advertisements of the router's link-local address are router impersonation, the repetition a low flood", async () => {
  const frames: TimedFrame[] = [...periodicRouter(0, 1)];
  for (let i = 0; i < 6; i++) {
    frames.push({ t: 2 + i, frame: neighborAdvertFrame(ATTACKER.mac, ROUTER.ll, { target: ROUTER.ll, targetMac: ATTACKER.mac, override: true }) });
  }
  const { findings } = await scanFrames(frames);
  const imp = only(findings, 'ndp-router-impersonation');
  assert.equal(imp.length, 1, describe(findings));
  assert.equal(imp[0]!.severity, 'high');
  assert.ok(hasEntity(imp[0]!, 'mac', ATTACKER.mac, 'attacker'));
  assert.ok(hasEntity(imp[0]!, 'ip', ROUTER.ll, 'impersonated'));
  assert.ok(hasEntity(imp[0]!, 'mac', ROUTER.mac, 'legitimate'));
  const flood = only(findings, 'ndp-unsolicited-override');
  assert.equal(flood.length, 1, describe(findings));
  assert.equal(flood[0]!.severity, 'low');
  assert.ok(hasEntity(flood[0]!, 'mac', ATTACKER.mac, 'attacker'));
});

test('benign neighbor discovery stays below medium: resolution, DAD, a new address announced once, a replaced NIC, anycast/proxy and virtual router MACs', async () => {
  const newAddr = 'fd53:7700::10';
  const replaced = '02:00:00:00:00:21';
  const vrrp = '00:00:5e:00:02:01';
  const frames: TimedFrame[] = [
    ...periodicRouter(0, 3),
    ...resolve(1, VICTIM, ROUTER, true),
    ...resolve(1.5, ROUTER, VICTIM),
    ...resolve(2, VICTIM, PEER),
    // DAD for a new address, then the host announces it once.
    { t: 3, frame: neighborSolicitFrame(VICTIM.mac, '::', newAddr) },
    { t: 4, frame: neighborAdvertFrame(VICTIM.mac, newAddr, { target: newAddr, targetMac: VICTIM.mac, override: true }) },
    ...resolve(5, ROUTER, { mac: VICTIM.mac, ll: newAddr }),
    // The peer's NIC is replaced: its address answers from the new MAC from then on.
    { t: 100, frame: neighborAdvertFrame(replaced, PEER.ll, { target: PEER.ll, targetMac: replaced, override: true }) },
    ...resolve(101, VICTIM, { mac: replaced, ll: PEER.ll }),
    // A proxy answering for the router with Override clear does not replace bindings.
    { t: 110, frame: neighborAdvertFrame(ATTACKER.mac, ATTACKER.ll, { target: ROUTER.ll, targetMac: ATTACKER.mac, solicited: true, override: false }, VICTIM.mac, VICTIM.ll) },
    // A redundancy pair's virtual MAC taking a router address over and back.
    ...resolve(120, VICTIM, { mac: ROUTER.mac, ll: 'fd53:7700::1' }, true),
    { t: 121, frame: neighborAdvertFrame(vrrp, 'fd53:7700::1', { target: 'fd53:7700::1', targetMac: vrrp, router: true, override: true }) },
    { t: 122, frame: neighborAdvertFrame(ROUTER.mac, 'fd53:7700::1', { target: 'fd53:7700::1', targetMac: ROUTER.mac, router: true, override: true }) },
    { t: 123, frame: neighborAdvertFrame(vrrp, 'fd53:7700::1', { target: 'fd53:7700::1', targetMac: vrrp, router: true, override: true }) },
  ];
  const { findings, errors } = await scanFrames(frames.sort((a, b) => a.t - b.t));
  assert.deepEqual(errors, []);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
  const moved = only(findings, 'ndp-address-takeover').filter((f) => f.severity === 'low');
  assert.equal(moved.length, 1, describe(findings));
  assert.ok(hasEntity(moved[0]!, 'mac', replaced, 'current'));
  assert.ok(hasEntity(moved[0]!, 'mac', PEER.mac, 'previous'));
  assert.equal(only(findings, 'ndp-router-impersonation').length, 0, describe(findings));
  assert.equal(only(findings, 'ndp-unsolicited-override').length, 0, describe(findings));
});

/** The network model after the ipv6 analyzer has seen `frames` (timestamps from 0). */
function networkAfter(frames: readonly TimedFrame[]): NetworkModel {
  const engine = new PacketEngine([ipv6Analyzer], defaultConfig(), new FindingAggregator({ profile: 'production' }));
  const raw = newRawFrame();
  raw.linktype = LINKTYPE_ETHERNET;
  for (const f of frames) {
    raw.data = f.frame;
    raw.caplen = raw.origlen = f.frame.length;
    raw.tsSec = Math.floor(f.t);
    raw.tsNsec = Math.round((f.t - raw.tsSec) * 1e9);
    engine.handleFrame(raw);
  }
  return engine.network;
}

test('a neighbor takeover makes the attacker a contest winner: its own addresses count, the addresses it took do not', () => {
  const own = 'fd53:7700::66';
  const frames: TimedFrame[] = [
    ...resolve(1, VICTIM, ROUTER, true),
    ...resolve(1.5, ROUTER, VICTIM),
    ...resolve(1.7, VICTIM, PEER),
    // The attacker resolves the router from its own global address.
    { t: 2, frame: neighborSolicitFrame(ATTACKER.mac, own, ROUTER.ll) },
  ];
  const quiet = networkAfter(frames);
  assert.equal(quiet.ip6ContestsWon, false, 'no contest, nothing to look up');
  assert.equal(quiet.contestWonAt6(ipv6Bytes(own), 0), undefined);

  // parasite6 answers for the router at t=10 s, then sends a spoofed advertisement from its own link-local address at t=20 s.
  frames.push(...resolve(10, VICTIM, ROUTER, true), parasiteAnswer(10.002, VICTIM, ROUTER.ll, true));
  frames.push({ t: 20, frame: neighborAdvertFrame(ATTACKER.mac, ATTACKER.ll, { target: VICTIM.ll, targetMac: ATTACKER.mac, override: true }, ROUTER.mac, ROUTER.ll) });
  const network = networkAfter(frames);
  assert.equal(network.ip6ContestsWon, true);
  const wonAt = (ip: string): number | undefined => network.contestWonAt6(ipv6Bytes(ip), 0);
  const start = wonAt(own);
  assert.ok(start !== undefined, 'its own address, bound to its MAC');
  assert.equal(wonAt(ATTACKER.ll), start, 'the source address of its advertisement');
  assert.equal(wonAt(eui64LinkLocal(ATTACKER.mac)), start, 'an address derived from its MAC that Neighbor Discovery has not shown');
  assert.equal(wonAt(ROUTER.ll), undefined, 'the router address it took belongs to the router');
  assert.equal(wonAt(VICTIM.ll), undefined, 'the victim address it took belongs to the victim');
  assert.equal(wonAt(PEER.ll), undefined);
  assert.equal(network.contestWinnerMac6(ipv6Bytes(own), 0), parseMac(ATTACKER.mac));
  assert.equal(network.contestWinnerMac6(ipv6Bytes(ROUTER.ll), 0), -1);
  assert.equal(network.contestWinnerMac6(ipv6Bytes(PEER.ll), 0), -1, 'a station that won nothing');
  // A replaced NIC (one move, no rival) makes no winner.
  const replaced = networkAfter([...resolve(1, VICTIM, PEER), { t: 5, frame: neighborAdvertFrame('02:00:00:00:00:21', PEER.ll, { target: PEER.ll, targetMac: '02:00:00:00:00:21', override: true }) }]);
  assert.equal(replaced.ip6ContestsWon, false);
});

test('a neighbor advertisement flood from random MACs and addresses keeps state bounded', async () => {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 20_000; i++) {
    const mac = `02:bb:00:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    const ip = `fd53:7700::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`;
    frames.push({ t: 1 + i * 0.0001, frame: neighborAdvertFrame(mac, ip, { target: ip, targetMac: mac, override: true }) });
  }
  const { findings, stats } = await withTempDir((dir) =>
    scanCaptures([writePcap(join(dir, 'na-flood.pcap'), frames)], { config: defaultConfig(), profile: 'production', analyzers: ['ipv6'] }),
  );
  assert.ok(stats.stateEntries <= 8192 + 4096, `state entries ${stats.stateEntries}`);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
});
