import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DistinctCounter } from '../../src/analyzers/dhcp/dhcp-analyzer.js';
import { dhcpConfigSection } from '../../src/analyzers/dhcp/dhcp-config.js';
import { ConfigError, defaultConfig, parseConfig, type SniffwatchConfig } from '../../src/config/config.js';
import { arpReply, arpRequest, BROADCAST_MAC, dhcpFrame, dhcpPayload, ipv4UdpFrame, type DhcpFields } from '../../src/craft/frames.js';
import { parseIp4, parseMac } from '../../src/decode/addr.js';
import { DHCP_MALFORMED, DhcpMessage, decodeDhcp } from '../../src/decode/dhcp.js';
import { Packet } from '../../src/decode/packet.js';
import { scanCaptures } from '../../src/pipeline.js';
import { assertNotBlamed, atLeast, describe, hasEntity, scanFrames, withTempDir, writePcap, type TimedFrame } from '../helpers/captures.js';
import { decodeBytes } from '../helpers/decode.js';

const DISCOVER = 1;
const OFFER = 2;
const REQUEST = 3;
const ACK = 5;
const INFORM = 8;

const SERVER = { mac: '02:00:00:00:00:01', ip: '198.18.0.1' };
const ROGUE = { mac: '02:00:00:00:00:66', ip: '198.18.0.66' };
const CLIENT = { mac: '02:00:00:00:00:10', ip: '198.18.0.10' };
const OTHER_CLIENT = { mac: '02:00:00:00:00:20', ip: '198.18.0.20' };
const DNS = '198.19.0.53';
const BCAST = '255.255.255.255';

// --- decoder ------------------------------------------------------------------

function decodeUdp(payload: Buffer, sport = 67, dport = 68): { pkt: Packet; msg: DhcpMessage; ok: boolean } {
  const frame = ipv4UdpFrame(SERVER.mac, CLIENT.mac, SERVER.ip, CLIENT.ip, sport, dport, payload);
  const pkt = decodeBytes(frame);
  assert.equal(pkt.malformed, null);
  const msg = new DhcpMessage();
  const ok = decodeDhcp(pkt, msg);
  return { pkt, msg, ok };
}

function offerFields(extra: Partial<DhcpFields> = {}): DhcpFields {
  return {
    op: 2,
    xid: 0xdeadbeef,
    chaddr: CLIENT.mac,
    msgType: OFFER,
    yiaddr: CLIENT.ip,
    serverId: SERVER.ip,
    routers: [SERVER.ip],
    dns: [DNS],
    leaseTime: 3600,
    ...extra,
  };
}

test('decoder: a DHCP OFFER yields every field as numbers', () => {
  const { msg, ok, pkt } = decodeUdp(
    dhcpPayload(
      offerFields({
        giaddr: '198.18.0.254',
        hops: 1,
        routers: ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.4', '198.18.0.5'],
        dns: [DNS, '198.19.0.54'],
        clientId: Buffer.from([1, 2, 0, 0, 0, 0, 0x10]),
        requestedIp: '198.18.0.11',
      }),
    ),
  );
  assert.ok(ok, pkt.malformed ?? '');
  assert.equal(msg.op, 2);
  assert.equal(msg.htype, 1);
  assert.equal(msg.hlen, 6);
  assert.equal(msg.hops, 1);
  assert.equal(msg.xid, 0xdeadbeef);
  assert.equal(msg.yiaddr, parseIp4(CLIENT.ip));
  assert.equal(msg.giaddr, parseIp4('198.18.0.254'));
  assert.equal(msg.ciaddr, 0);
  assert.equal(msg.chaddr, parseMac(CLIENT.mac));
  assert.equal(msg.msgType, OFFER);
  assert.equal(msg.serverId, parseIp4(SERVER.ip));
  assert.equal(msg.requestedIp, parseIp4('198.18.0.11'));
  assert.equal(msg.leaseTime, 3600);
  assert.equal(msg.routerCount, 4, 'routers beyond four are counted, not kept');
  assert.equal(msg.routerTotal, 5);
  assert.deepEqual([...msg.routers], ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.4'].map((x) => parseIp4(x)));
  assert.equal(msg.dnsCount, 2);
  assert.equal(msg.dnsServers[1], parseIp4('198.19.0.54'));
  assert.equal(msg.clientIdType, 1);
  assert.equal(msg.clientIdLen, 6);
  assert.equal(pkt.buf[msg.clientIdOff + 5], 0x10);
  assert.equal(msg.overload, 0);
});

test('decoder: split options accumulate, options may end without End, overloaded file and sname fields are parsed', () => {
  // RFC 3396: a second option 3 continues the first.
  const split = decodeUdp(dhcpPayload(offerFields({ routers: ['198.18.0.1'], rawOptions: Buffer.from([3, 4, 198, 18, 0, 2]), end: false, padTo: 0 })));
  assert.ok(split.ok, split.pkt.malformed ?? '');
  assert.equal(split.msg.routerCount, 2);
  assert.equal(split.msg.routers[1], parseIp4('198.18.0.2'));

  // Option 52 = 3: options continue in file (offset 108), then sname (offset 44).
  const payload = dhcpPayload(offerFields({ routers: undefined, dns: undefined, rawOptions: Buffer.from([52, 1, 3]) }));
  Buffer.from([3, 4, 198, 18, 0, 9, 255]).copy(payload, 108);
  Buffer.from([6, 4, 198, 19, 0, 9, 255]).copy(payload, 44);
  const over = decodeUdp(payload);
  assert.ok(over.ok, over.pkt.malformed ?? '');
  assert.equal(over.msg.overload, 3);
  assert.equal(over.msg.routers[0], parseIp4('198.18.0.9'));
  assert.equal(over.msg.dnsServers[0], parseIp4('198.19.0.9'));

  // Client identifier type 0 (a name, not a hardware address) is valid (RFC 2132 9.14).
  const named = decodeUdp(dhcpPayload(offerFields({ clientId: Buffer.from('\x00cisco-cc00.0ac4.0000-Fa0/0', 'latin1') })));
  assert.ok(named.ok);
  assert.equal(named.msg.clientIdType, 0);
});

test('decoder: option 1 gives the subnet mask when its ones are contiguous', () => {
  assert.equal(decodeUdp(dhcpPayload(offerFields({ subnetMask: '255.254.0.0' }))).msg.subnetMask, parseIp4('255.254.0.0'));
  assert.equal(decodeUdp(dhcpPayload(offerFields({ subnetMask: '255.255.255.255' }))).msg.subnetMask, 0xffffffff);
  assert.equal(decodeUdp(dhcpPayload(offerFields({ subnetMask: '255.0.255.0' }))).msg.subnetMask, -1, 'not a mask');
  assert.equal(decodeUdp(dhcpPayload(offerFields())).msg.subnetMask, -1, 'absent');
  const { pkt, ok } = decodeUdp(dhcpPayload(offerFields({ rawOptions: Buffer.from([1, 3, 255, 255, 0]) })));
  assert.equal(ok, false);
  assert.equal(pkt.malformed, DHCP_MALFORMED.badAddressOption);
});

test('decoder: every malformed case is flagged with its constant reason', () => {
  const cases: [string, Buffer, string][] = [
    ['truncated', dhcpPayload(offerFields()).subarray(0, 200), DHCP_MALFORMED.truncated],
    ['op 3', dhcpPayload({ ...offerFields(), op: 3 as 2 }), DHCP_MALFORMED.badOp],
    ['hlen 17', dhcpPayload(offerFields({ hlen: 17 })), DHCP_MALFORMED.hlenTooLong],
    ['ethernet hlen 4', dhcpPayload(offerFields({ hlen: 4 })), DHCP_MALFORMED.ethernetHlen],
    ['htype 0 hlen 6', dhcpPayload(offerFields({ htype: 0 })), DHCP_MALFORMED.htypeZero],
    ['bad cookie', dhcpPayload(offerFields({ cookie: 0 })), DHCP_MALFORMED.badCookie],
    ['no room for a cookie', dhcpPayload(offerFields()).subarray(0, 238), DHCP_MALFORMED.badCookie],
    ['option past the end', dhcpPayload(offerFields({ rawOptions: Buffer.from([12, 40, 0x41]), end: false, padTo: 0 })), DHCP_MALFORMED.optionOverrun],
    ['option code without length', dhcpPayload(offerFields({ rawOptions: Buffer.from([12]), end: false, padTo: 0 })), DHCP_MALFORMED.optionOverrun],
    ['message type of 2 bytes', dhcpPayload(offerFields({ msgType: undefined, rawOptions: Buffer.from([53, 2, 2, 0]) })), DHCP_MALFORMED.badMessageType],
    ['server id of 3 bytes', dhcpPayload(offerFields({ serverId: undefined, rawOptions: Buffer.from([54, 3, 1, 2, 3]) })), DHCP_MALFORMED.badAddressOption],
    ['requested ip of 5 bytes', dhcpPayload(offerFields({ rawOptions: Buffer.from([50, 5, 1, 2, 3, 4, 5]) })), DHCP_MALFORMED.badAddressOption],
    ['router of 6 bytes', dhcpPayload(offerFields({ routers: undefined, rawOptions: Buffer.from([3, 6, 1, 2, 3, 4, 5, 6]) })), DHCP_MALFORMED.badAddressOption],
    ['empty DNS option', dhcpPayload(offerFields({ dns: undefined, rawOptions: Buffer.from([6, 0]) })), DHCP_MALFORMED.badAddressOption],
    ['lease time of 2 bytes', dhcpPayload(offerFields({ leaseTime: undefined, rawOptions: Buffer.from([51, 2, 0, 1]) })), DHCP_MALFORMED.badLeaseTime],
    ['overload value 4', dhcpPayload(offerFields({ rawOptions: Buffer.from([52, 1, 4]) })), DHCP_MALFORMED.badOverload],
    ['client id of 1 byte', dhcpPayload(offerFields({ rawOptions: Buffer.from([61, 1, 1]) })), DHCP_MALFORMED.badClientId],
  ];
  for (const [name, payload, reason] of cases) {
    const { ok, pkt } = decodeUdp(payload);
    assert.equal(ok, false, name);
    assert.equal(pkt.malformedLayer, 'dhcp', name);
    assert.equal(pkt.malformed, reason, name);
  }
  // An option running past the end of an overloaded file field.
  const payload = dhcpPayload(offerFields({ rawOptions: Buffer.from([52, 1, 1]) }));
  payload.fill(0, 108, 236);
  Buffer.from([12, 200]).copy(payload, 230);
  const over = decodeUdp(payload);
  assert.equal(over.ok, false);
  assert.equal(over.pkt.malformed, DHCP_MALFORMED.optionOverrun);
});

test('a malformed DHCP message becomes one info decode-malformed finding and nothing else', async () => {
  const bad = dhcpFrame(ROGUE.mac, BROADCAST_MAC, ROGUE.ip, BCAST, offerFields({ cookie: 0x01020304 }));
  const { findings } = await scanFrames([
    { t: 0, frame: bad },
    { t: 1, frame: bad },
  ]);
  assert.equal(findings.length, 1, describe(findings));
  assert.equal(findings[0]!.rule_id, 'decode-malformed');
  assert.equal(findings[0]!.severity, 'info');
  assert.match(findings[0]!.message, /dhcp: missing or bad DHCP magic cookie/);
  assert.equal(findings[0]!.count, 2);
});

test('DistinctCounter counts distinct 48-bit values up to its limit and clears', () => {
  const c = new DistinctCounter(100);
  for (let i = 0; i < 100; i++) assert.equal(c.add(0x020000000000 + i * 7919), true);
  assert.equal(c.add(0x020000000000), false, 'limit reached');
  assert.equal(c.count, 100);
  c.clear();
  assert.equal(c.count, 0);
  assert.equal(c.add(0x020000000000), true);
  assert.equal(c.add(0x020000000000), false, 'duplicate');
  assert.equal(c.add(0), true, 'zero is a value, not the empty marker');
});

// --- analyzer -------------------------------------------------------------------

interface Exchange {
  server?: { mac: string; ip: string };
  client?: { mac: string; ip: string };
  xid: number;
  routers?: string[];
  dns?: string[];
}

/** DISCOVER, OFFER, REQUEST, ACK between a client and a server on the local segment. */
function dora(t: number, e: Exchange): TimedFrame[] {
  const s = e.server ?? SERVER;
  const c = e.client ?? CLIENT;
  const reply = (msgType: number): DhcpFields => ({
    op: 2,
    xid: e.xid,
    chaddr: c.mac,
    msgType,
    yiaddr: c.ip,
    serverId: s.ip,
    routers: e.routers ?? [SERVER.ip],
    dns: e.dns ?? [DNS],
    leaseTime: 3600,
  });
  return [
    { t, frame: dhcpFrame(c.mac, BROADCAST_MAC, '0.0.0.0', BCAST, { op: 1, xid: e.xid, chaddr: c.mac, msgType: DISCOVER }) },
    { t: t + 0.01, frame: dhcpFrame(s.mac, c.mac, s.ip, c.ip, reply(OFFER)) },
    { t: t + 0.02, frame: dhcpFrame(c.mac, BROADCAST_MAC, '0.0.0.0', BCAST, { op: 1, xid: e.xid, chaddr: c.mac, msgType: REQUEST, serverId: s.ip, requestedIp: c.ip }) },
    { t: t + 0.03, frame: dhcpFrame(s.mac, c.mac, s.ip, c.ip, reply(ACK)) },
  ];
}

function offerFrom(t: number, s: { mac: string; ip: string }, xid: number, over: Partial<DhcpFields> = {}, client = CLIENT, yiaddr = '198.18.0.150'): TimedFrame {
  return {
    t,
    frame: dhcpFrame(s.mac, client.mac, s.ip, yiaddr, {
      op: 2,
      xid,
      chaddr: client.mac,
      msgType: OFFER,
      yiaddr,
      serverId: s.ip,
      routers: [s.ip],
      dns: [s.ip],
      ...over,
    }),
  };
}

function withDhcp(section: Record<string, unknown>): SniffwatchConfig {
  const cfg = defaultConfig();
  cfg.sections.set('dhcp', dhcpConfigSection.parse(section, 'test: dhcp'));
  return cfg;
}

test('benign: DORA, renewals, INFORM, relayed exchanges and a PXE proxy raise nothing of medium or above', async () => {
  const frames: TimedFrame[] = [...dora(0, { xid: 1 }), ...dora(0.5, { xid: 2, client: OTHER_CLIENT })];
  // Renewal: unicast REQUEST with ciaddr, ACK; repeated as lease timers fire.
  for (let i = 0; i < 4; i++) {
    const t = 10 + i * 30;
    frames.push({ t, frame: dhcpFrame(CLIENT.mac, SERVER.mac, CLIENT.ip, SERVER.ip, { op: 1, xid: 100 + i, chaddr: CLIENT.mac, msgType: REQUEST, ciaddr: CLIENT.ip }) });
    frames.push({
      t: t + 0.01,
      frame: dhcpFrame(SERVER.mac, CLIENT.mac, SERVER.ip, CLIENT.ip, { op: 2, xid: 100 + i, chaddr: CLIENT.mac, msgType: ACK, ciaddr: CLIENT.ip, yiaddr: CLIENT.ip, serverId: SERVER.ip, routers: [SERVER.ip], dns: [DNS] }),
    });
  }
  // INFORM and its ACK (no address handed out).
  frames.push({ t: 200, frame: dhcpFrame(OTHER_CLIENT.mac, SERVER.mac, OTHER_CLIENT.ip, SERVER.ip, { op: 1, xid: 300, chaddr: OTHER_CLIENT.mac, msgType: INFORM, ciaddr: OTHER_CLIENT.ip }) });
  frames.push({ t: 200.01, frame: dhcpFrame(SERVER.mac, OTHER_CLIENT.mac, SERVER.ip, OTHER_CLIENT.ip, { op: 2, xid: 300, chaddr: OTHER_CLIENT.mac, msgType: ACK, ciaddr: OTHER_CLIENT.ip, serverId: SERVER.ip, dns: [DNS] }) });
  // A PXE proxyDHCP server answers the DISCOVER with boot options only: no address, router or DNS.
  frames.push({ t: 0.015, frame: dhcpFrame('02:00:00:00:00:50', CLIENT.mac, '198.18.0.50', BCAST, { op: 2, xid: 1, chaddr: CLIENT.mac, msgType: OFFER, serverId: '198.18.0.50' }) });
  // A central server answering two relays, with each subnet's own router (server <-> relay legs, port 67 both ways),
  // and the relay handing the answer to a client on a remote segment seen through the same sensor.
  const CENTRAL = { mac: '02:00:00:00:01:01', ip: '198.19.1.1' };
  const RELAY_MAC = '02:00:00:00:01:fe';
  for (const [i, relay] of ['198.18.4.1', '198.18.5.1'].entries()) {
    const xid = 500 + i;
    const client = `02:00:00:00:04:0${i}`;
    const yi = relay.replace(/\.1$/, '.50');
    const t = 300 + i;
    frames.push({ t, frame: dhcpFrame(RELAY_MAC, CENTRAL.mac, relay, CENTRAL.ip, { op: 1, xid, chaddr: client, msgType: DISCOVER, giaddr: relay, hops: 1 }, 67, 67) });
    frames.push({ t: t + 0.01, frame: dhcpFrame(CENTRAL.mac, RELAY_MAC, CENTRAL.ip, relay, { op: 2, xid, chaddr: client, msgType: OFFER, giaddr: relay, yiaddr: yi, serverId: CENTRAL.ip, routers: [relay], dns: [DNS] }, 67, 67) });
    frames.push({ t: t + 0.02, frame: dhcpFrame(RELAY_MAC, CENTRAL.mac, relay, CENTRAL.ip, { op: 1, xid, chaddr: client, msgType: REQUEST, giaddr: relay, serverId: CENTRAL.ip, requestedIp: yi }, 67, 67) });
    frames.push({ t: t + 0.03, frame: dhcpFrame(CENTRAL.mac, RELAY_MAC, CENTRAL.ip, relay, { op: 2, xid, chaddr: client, msgType: ACK, giaddr: relay, yiaddr: yi, serverId: CENTRAL.ip, routers: [relay], dns: [DNS] }, 67, 67) });
  }
  // A client retransmitting its DISCOVER a few times before an answer.
  for (let i = 0; i < 5; i++) frames.push({ t: 400 + i * 4, frame: dhcpFrame('02:00:00:00:00:30', BROADCAST_MAC, '0.0.0.0', BCAST, { op: 1, xid: 600, chaddr: '02:00:00:00:00:30', msgType: DISCOVER }) });
  frames.sort((a, b) => a.t - b.t);
  const { findings, errors } = await scanFrames(frames);
  assert.deepEqual(errors, []);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
  assert.deepEqual(findings.filter((f) => f.rule_id.startsWith('dhcp-')), [], describe(findings));
});

test('rogue server handing out itself as router and DNS: critical dhcp-rogue-server naming attacker, victim and redirect', async () => {
  const frames = [...dora(0, { xid: 1 }), offerFrom(5, ROGUE, 2), ...dora(5, { xid: 2 }), offerFrom(9, ROGUE, 3)].sort((a, b) => a.t - b.t);
  const { findings } = await scanFrames(frames);
  const rogue = findings.filter((f) => f.rule_id === 'dhcp-rogue-server');
  assert.equal(rogue.length, 1, `one finding per rogue server\n${describe(findings)}`);
  const hit = rogue[0]!;
  assert.equal(hit.severity, 'critical');
  assert.equal(hit.count, 2);
  assert.deepEqual(hit.attack.techniques, ['T1557.003']);
  assert.deepEqual(hit.attack.tactics, ['TA0006', 'TA0009']);
  assert.ok(hasEntity(hit, 'ip', ROGUE.ip, 'attacker'), JSON.stringify(hit.entities));
  assert.ok(hasEntity(hit, 'mac', ROGUE.mac, 'attacker'));
  assert.ok(hasEntity(hit, 'mac', CLIENT.mac, 'victim'));
  assert.ok(hasEntity(hit, 'ip', '198.18.0.150', 'victim'));
  assert.ok(hasEntity(hit, 'ip', ROGUE.ip, 'attacker-controlled'));
  assert.ok(hasEntity(hit, 'ip', SERVER.ip, 'legitimate'));
  assert.ok(hasEntity(hit, 'mac', SERVER.mac, 'legitimate'));
  assert.match(hit.message, /rogue DHCP server 198\.18\.0\.66 .*router 198\.18\.0\.66 \(not a trusted router\)/);
  // The legitimate server is not reported, and the two offers for xid 2 compete.
  assert.ok(!findings.some((f) => f.rule_id === 'dhcp-rogue-server' && hasEntity(f, 'ip', SERVER.ip, 'attacker')));
  const competing = findings.find((f) => f.rule_id === 'dhcp-competing-offers');
  assert.ok(competing, describe(findings));
  assert.equal(competing.severity, 'medium');
  assert.ok(hasEntity(competing, 'ip', ROGUE.ip, 'suspect'));
  assert.ok(hasEntity(competing, 'ip', SERVER.ip, 'server'));
  assert.match(competing.message, /transaction 0x2 /);
});

test('a second server handing out the same router and DNS is high, not critical; one competing offer per server pair', async () => {
  const frames = [...dora(0, { xid: 1 }), ...dora(5, { xid: 2 }), offerFrom(5.015, ROGUE, 2, { routers: [SERVER.ip], dns: [DNS] }), ...dora(8, { xid: 3 }), offerFrom(8.015, ROGUE, 3, { routers: [SERVER.ip], dns: [DNS] })].sort((a, b) => a.t - b.t);
  const { findings } = await scanFrames(frames);
  const rogue = findings.find((f) => f.rule_id === 'dhcp-rogue-server');
  assert.ok(rogue, describe(findings));
  assert.equal(rogue.severity, 'high');
  assert.ok(hasEntity(rogue, 'ip', SERVER.ip, 'offered-router'));
  const competing = findings.filter((f) => f.rule_id === 'dhcp-competing-offers');
  assert.equal(competing.length, 1);
  assert.equal(competing[0]!.count, 2);
});

/** Option 121 (RFC 3442): each route as its prefix length, the destination's significant octets and a router. */
function classlessRoutes(routes: readonly [string, number, string][], code = 121): Buffer {
  const body = Buffer.concat(
    routes.map(([dest, width, router]) => Buffer.concat([Buffer.from([width]), Buffer.from(dest.split('.').map(Number).slice(0, (width + 7) >> 3)), Buffer.from(router.split('.').map(Number))])),
  );
  return Buffer.concat([Buffer.from([code, body.length]), body]);
}

const TUNNELVISION: [string, number, string][] = [
  ['0.0.0.0', 1, ROGUE.ip],
  ['128.0.0.0', 1, ROGUE.ip],
];

test('decoder: classless static routes (options 121 and 249) and the WPAD URL (252); a prefix over 32 bits is malformed', () => {
  const wpad = Buffer.from('http://198.18.0.66/wpad.dat');
  const { msg, ok } = decodeUdp(
    dhcpPayload(offerFields({ rawOptions: Buffer.concat([classlessRoutes([...TUNNELVISION, ['10.20.0.0', 16, '198.18.0.2'], ['0.0.0.0', 0, SERVER.ip]]), classlessRoutes([['172.16.0.0', 12, '198.18.0.3']], 249), Buffer.from([252, wpad.length]), wpad]) })),
  );
  assert.ok(ok);
  assert.equal(msg.routeCount, 5);
  assert.deepEqual([...msg.routeWidth.subarray(0, 5)], [1, 1, 16, 0, 12]);
  assert.deepEqual([...msg.routeDest.subarray(0, 5)], [0, 0x80000000, 0x0a140000, 0, 0xac100000]);
  assert.deepEqual([...msg.routeGateway.subarray(0, 5)], [0xc6120042, 0xc6120042, 0xc6120002, 0xc6120001, 0xc6120003]);
  assert.equal(msg.wpadLen, wpad.length);
  const bad = decodeUdp(dhcpPayload(offerFields({ rawOptions: Buffer.from([121, 5, 33, 10, 0, 0, 0]) })));
  assert.equal(bad.ok, false);
  assert.equal(bad.pkt.malformed, DHCP_MALFORMED.badRoute);
});

test('TunnelVision: a rogue handing out the network\'s router and DNS with /1 routes through itself is critical, and dhcp-route-injection names it', async () => {
  const frames = [...dora(0, { xid: 1 }), offerFrom(5, ROGUE, 2, { routers: [SERVER.ip], dns: [DNS], rawOptions: classlessRoutes(TUNNELVISION) })].sort((a, b) => a.t - b.t);
  const { findings } = await scanFrames(frames);
  const rogue = findings.find((f) => f.rule_id === 'dhcp-rogue-server');
  assert.ok(rogue, describe(findings));
  assert.equal(rogue.severity, 'critical');
  assert.match(rogue.message, /static routes 0\.0\.0\.0\/1 via 198\.18\.0\.66, 128\.0\.0\.0\/1 via 198\.18\.0\.66 \(through a router the trusted servers do not hand out\)/);
  const inj = findings.find((f) => f.rule_id === 'dhcp-route-injection');
  assert.ok(inj, describe(findings));
  assert.equal(inj.severity, 'high');
  assert.deepEqual(inj.attack.techniques, ['T1557.003']);
  assert.ok(hasEntity(inj, 'ip', ROGUE.ip, 'attacker') && hasEntity(inj, 'mac', ROGUE.mac, 'attacker') && hasEntity(inj, 'ip', ROGUE.ip, 'attacker-controlled'), describe([inj]));
  assert.ok(hasEntity(inj, 'mac', CLIENT.mac, 'victim'));
  assert.match(inj.message, /untrusted DHCP server 198\.18\.0\.66 .*traffic to all IPv4 addresses goes through 198\.18\.0\.66 .*TunnelVision/);
});

test('routes: a trusted server routing its own subnets stays quiet; one routing a /8 through another router is dhcp-route-injection; a rogue\'s WPAD URL is critical', async () => {
  const narrow = offerFrom(1, SERVER, 11, { routers: [SERVER.ip], dns: [DNS], rawOptions: classlessRoutes([['10.20.0.0', 16, '198.18.0.2'], ['0.0.0.0', 0, SERVER.ip]]) });
  const quiet = await scanFrames([...dora(0, { xid: 1 }), narrow].sort((a, b) => a.t - b.t));
  assert.ok(!quiet.findings.some((f) => f.rule_id === 'dhcp-route-injection' || f.rule_id === 'dhcp-rogue-server'), describe(quiet.findings));
  const wide = offerFrom(1, SERVER, 12, { routers: [SERVER.ip], dns: [DNS], rawOptions: classlessRoutes([['10.0.0.0', 8, '198.18.0.99']]) });
  const { findings } = await scanFrames([...dora(0, { xid: 1 }), wide].sort((a, b) => a.t - b.t));
  const inj = findings.find((f) => f.rule_id === 'dhcp-route-injection');
  assert.ok(inj, describe(findings));
  assert.ok(hasEntity(inj, 'ip', SERVER.ip, 'server') && hasEntity(inj, 'ip', '198.18.0.99', 'attacker-controlled'), describe([inj]));
  assert.match(inj.message, /trusted DHCP server 198\.18\.0\.1 .*10\.0\.0\.0\/8 via 198\.18\.0\.99.*0\.4% of IPv4 addresses/);
  const url = Buffer.from('http://198.18.0.66/wpad.dat\0');
  const wpad = await scanFrames([...dora(0, { xid: 1 }), offerFrom(5, ROGUE, 2, { routers: [SERVER.ip], dns: [DNS], rawOptions: Buffer.concat([Buffer.from([252, url.length]), url]) })].sort((a, b) => a.t - b.t));
  const rogue = wpad.findings.find((f) => f.rule_id === 'dhcp-rogue-server');
  assert.ok(rogue, describe(wpad.findings));
  assert.equal(rogue.severity, 'critical');
  assert.match(rogue.message, /proxy auto-configuration \(WPAD\) http:\/\/198\.18\.0\.66\/wpad\.dat(;|$)/);
});

test('the trusted server\'s WPAD URL is learned, and a different one later is dhcp-option-change', async () => {
  const wpad = (url: string): Buffer => Buffer.concat([Buffer.from([252, url.length]), Buffer.from(url)]);
  const ack = (t: number, xid: number, url: string): TimedFrame => offerFrom(t, SERVER, xid, { msgType: ACK, routers: [SERVER.ip], dns: [DNS], rawOptions: wpad(url) });
  const frames = [...dora(0, { xid: 1 }), ack(1, 2, 'http://proxy.corp.example/wpad.dat'), ack(2, 3, 'http://proxy.corp.example/wpad.dat'), ack(3, 4, 'http://198.18.0.66/wpad.dat')];
  const { findings } = await scanFrames(frames.sort((a, b) => a.t - b.t));
  const changes = findings.filter((f) => f.rule_id === 'dhcp-option-change');
  assert.equal(changes.length, 1, describe(findings));
  assert.ok(hasEntity(changes[0]!, 'ip', SERVER.ip, 'server'));
  assert.match(changes[0]!.message, /now hands out proxy auto-configuration \(WPAD, option 252\) http:\/\/198\.18\.0\.66\/wpad\.dat .*handed out http:\/\/proxy\.corp\.example\/wpad\.dat before/);
});

test('configured servers: a rogue seen first is still the rogue, and configured routers make its redirect critical', async () => {
  const config = withDhcp({ servers: [SERVER.ip], routers: [SERVER.ip], dns_servers: [DNS] });
  const frames = [offerFrom(0, ROGUE, 1, { routers: ['198.18.0.77'], dns: [DNS] }), ...dora(1, { xid: 2 })];
  const { findings } = await scanFrames(frames, config);
  const rogue = findings.filter((f) => f.rule_id === 'dhcp-rogue-server');
  assert.equal(rogue.length, 1, describe(findings));
  assert.equal(rogue[0]!.severity, 'critical');
  assert.ok(hasEntity(rogue[0]!, 'ip', ROGUE.ip, 'attacker'));
  assert.ok(hasEntity(rogue[0]!, 'ip', '198.18.0.77', 'attacker-controlled'));
  assert.ok(hasEntity(rogue[0]!, 'ip', DNS, 'offered-dns-server'));
  assert.match(rogue[0]!.message, /configured servers: 198\.18\.0\.1/);
});

test('without configured servers, a rogue answering first loses the trust to the server clients renew with, or whose answers a relay forwards', async () => {
  const RELAY = '198.18.0.254';
  const renewal = (t: number): TimedFrame[] => [
    { t, frame: dhcpFrame(OTHER_CLIENT.mac, SERVER.mac, OTHER_CLIENT.ip, SERVER.ip, { op: 1, xid: 77, chaddr: OTHER_CLIENT.mac, msgType: REQUEST, ciaddr: OTHER_CLIENT.ip }) },
  ];
  const scenarios: [string, TimedFrame[]][] = [
    // The capture starts during the attack: the rogue's OFFER is the first answer, then another client renews with the real server.
    ['renewal', [offerFrom(0, ROGUE, 1), ...renewal(0.5), ...dora(1, { xid: 1 }), offerFrom(1.015, ROGUE, 2), ...dora(2, { xid: 3 }), offerFrom(3, ROGUE, 4)]],
    // The real server's answers reach the segment through a relay agent.
    ['relay', [offerFrom(0, ROGUE, 1), offerFrom(0.01, SERVER, 1, { giaddr: RELAY, routers: [SERVER.ip], dns: [DNS] }), offerFrom(3, ROGUE, 4)]],
  ];
  for (const [what, frames] of scenarios) {
    const { findings } = await scanFrames(frames.sort((a, b) => a.t - b.t));
    const rogue = findings.filter((f) => f.rule_id === 'dhcp-rogue-server' && hasEntity(f, 'ip', ROGUE.ip, 'attacker'));
    assert.equal(rogue.length, 1, `${what}: the rogue is reported\n${describe(findings)}`);
    assert.ok(hasEntity(rogue[0]!, 'ip', SERVER.ip, 'legitimate'), `${what}: ${JSON.stringify(rogue[0]!.entities)}`);
    assert.match(rogue[0]!.message, /trust moved from 198\.18\.0\.66 to 198\.18\.0\.1/, what);
    assertNotBlamed(
      findings.filter((f) => f.rule_id.startsWith('dhcp-')),
      SERVER,
      `${what}: the real server`,
    );
  }
  // Without that evidence the first server seen keeps the trust (what the configured list is for).
  const { findings } = await scanFrames([offerFrom(0, ROGUE, 1), ...dora(1, { xid: 1 })]);
  assert.ok(findings.some((f) => f.rule_id === 'dhcp-rogue-server' && hasEntity(f, 'ip', SERVER.ip, 'attacker')), describe(findings));
});

/** The gateway claims its address by ARP, then forwards a client's traffic to and from a remote address. */
function gatewayForwarding(t: number, gateway = SERVER, client = OTHER_CLIENT): TimedFrame[] {
  const remote = '198.19.7.7';
  return [
    { t, frame: arpRequest(client, gateway.ip) },
    { t: t + 0.001, frame: arpReply(gateway, client) },
    { t: t + 0.01, frame: ipv4UdpFrame(client.mac, gateway.mac, client.ip, remote, 40000, 53, Buffer.alloc(20)) },
    { t: t + 0.02, frame: ipv4UdpFrame(gateway.mac, client.mac, remote, client.ip, 53, 40000, Buffer.alloc(20)) },
  ];
}

test('a first server handing out a router other than the gateway seen forwarding is the rogue, alone or answering first', async () => {
  // The rogue is the only server the capture holds: nothing but the gateway's forwarding shows it.
  const lone = await scanFrames([...gatewayForwarding(0), offerFrom(5, ROGUE, 1, { subnetMask: '255.255.255.0' }), offerFrom(9, ROGUE, 2)]);
  const rogue = lone.findings.filter((f) => f.rule_id === 'dhcp-rogue-server');
  assert.equal(rogue.length, 1, describe(lone.findings));
  const hit = rogue[0]!;
  assert.equal(hit.severity, 'critical');
  assert.equal(hit.count, 2);
  assert.ok(hasEntity(hit, 'ip', ROGUE.ip, 'attacker'), JSON.stringify(hit.entities));
  assert.ok(hasEntity(hit, 'mac', ROGUE.mac, 'attacker'));
  assert.ok(hasEntity(hit, 'ip', ROGUE.ip, 'attacker-controlled'));
  assert.ok(hasEntity(hit, 'ip', SERVER.ip, 'gateway'));
  assert.match(hit.message, /the subnet's gateway, seen forwarding traffic, is 198\.18\.0\.1/);

  // The rogue answers first, then the real server, which hands out that gateway, takes the trust.
  const first = await scanFrames([...gatewayForwarding(0), offerFrom(5, ROGUE, 1), ...dora(6, { xid: 2 }), offerFrom(9, ROGUE, 3)].sort((a, b) => a.t - b.t));
  const blamed = first.findings.filter((f) => f.rule_id === 'dhcp-rogue-server');
  assert.equal(blamed.length, 1, describe(first.findings));
  assert.ok(hasEntity(blamed[0]!, 'ip', ROGUE.ip, 'attacker'));
  assert.ok(hasEntity(blamed[0]!, 'ip', SERVER.ip, 'legitimate'), JSON.stringify(blamed[0]!.entities));
  assertNotBlamed(first.findings.filter((f) => f.rule_id.startsWith('dhcp-')), SERVER, 'the real server');

  // A rogue trusted before any gateway was seen loses the trust to a server handing out the gateway seen since.
  const late = await scanFrames([offerFrom(0, ROGUE, 1), ...gatewayForwarding(2), ...dora(6, { xid: 2 }), offerFrom(9, ROGUE, 3)].sort((a, b) => a.t - b.t));
  const moved = late.findings.filter((f) => f.rule_id === 'dhcp-rogue-server');
  assert.equal(moved.length, 1, describe(late.findings));
  assert.ok(hasEntity(moved[0]!, 'ip', ROGUE.ip, 'attacker'));
  assert.match(moved[0]!.message, /trust moved from 198\.18\.0\.66 to 198\.18\.0\.1, which hands out 198\.18\.0\.1, a gateway seen forwarding traffic/);

  // Option 1 puts the lease in 198.18.0.0/15, where the gateway seen forwarding is 198.19.0.1.
  const UPSTREAM_GATEWAY = { mac: '02:00:00:00:00:09', ip: '198.19.0.1' };
  const wide = await scanFrames([...gatewayForwarding(0, UPSTREAM_GATEWAY), offerFrom(5, ROGUE, 1, { subnetMask: '255.254.0.0' })]);
  const wideHit = wide.findings.find((f) => f.rule_id === 'dhcp-rogue-server');
  assert.ok(wideHit && hasEntity(wideHit, 'ip', UPSTREAM_GATEWAY.ip, 'gateway'), describe(wide.findings));
});

test('a rogue forwarding the traffic of the victims it leased to is no gateway for judging DHCP servers', async () => {
  // The real server answers first; a rogue answers, its victim follows it, and it forwards the victim's
  // traffic (ettercap's dhcp_spoof does). The real gateway is never seen forwarding in this capture.
  const frames = [
    ...dora(0, { xid: 1 }),
    offerFrom(1, ROGUE, 2),
    ...gatewayForwarding(2, ROGUE, CLIENT),
    offerFrom(4, ROGUE, 3),
    ...dora(5, { xid: 4, client: OTHER_CLIENT }),
  ];
  const { findings } = await scanFrames(frames.sort((a, b) => a.t - b.t));
  const dhcp = findings.filter((f) => f.rule_id.startsWith('dhcp-'));
  assert.ok(dhcp.some((f) => f.rule_id === 'dhcp-rogue-server' && hasEntity(f, 'ip', ROGUE.ip, 'attacker')), describe(findings));
  assertNotBlamed(dhcp, SERVER, 'the real server');
  assert.ok(!dhcp.some((f) => /trust moved/.test(f.message)), describe(findings));
});

test('a first server is trusted when it hands out the gateway seen forwarding, or when no gateway is known on its subnet', async () => {
  const cases: [string, TimedFrame[]][] = [
    ['hands out the gateway', [...gatewayForwarding(0), ...dora(5, { xid: 1 }), ...dora(6, { xid: 2, client: OTHER_CLIENT })]],
    // The forwarding gateway is on another /24 than the lease, and without option 1 a /24 is assumed: nothing to compare with.
    ['gateway on another subnet', [...gatewayForwarding(0, { mac: '02:00:00:00:00:09', ip: '198.19.0.1' }), offerFrom(5, ROGUE, 1)]],
  ];
  for (const [what, frames] of cases) {
    const { findings } = await scanFrames(frames.sort((a, b) => a.t - b.t));
    assert.deepEqual(
      findings.filter((f) => f.rule_id.startsWith('dhcp-')),
      [],
      `${what}\n${describe(findings)}`,
    );
  }
  // A relayed answer's router is on the relay's subnet, which the local gateway says nothing about.
  const relayed = await scanFrames([
    ...gatewayForwarding(0),
    offerFrom(5, { mac: '02:00:00:00:01:01', ip: '198.19.1.1' }, 1, { giaddr: '198.18.0.254', routers: ['198.18.0.254'], dns: [DNS] }, CLIENT, '198.18.0.150'),
  ]);
  assert.deepEqual(relayed.findings.filter((f) => f.rule_id === 'dhcp-rogue-server'), [], describe(relayed.findings));
});

test('configured redundant servers answering the same DISCOVER differently are neither rogue nor competing', async () => {
  const SECOND = { mac: '02:00:00:00:00:02', ip: '198.18.0.2' };
  const config = withDhcp({ servers: [SERVER.ip, SECOND.ip] });
  const frames = [...dora(0, { xid: 1 }), offerFrom(0.015, SECOND, 1, { routers: [SERVER.ip], dns: [DNS] }), ...dora(3, { xid: 2 }), offerFrom(3.015, SECOND, 2, { routers: [SERVER.ip], dns: [DNS] })];
  const { findings } = await scanFrames(frames.sort((a, b) => a.t - b.t), config);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
});

/** A relay agent on the client's segment and the two servers of a failover pair behind it. */
const RELAY = { mac: '02:00:00:00:00:fe', ip: '198.18.0.254' };
const RELAY_2 = { mac: '02:00:00:00:00:fd', ip: '198.18.0.253' };
const POOL_A = '198.19.5.1';
const POOL_B = '198.19.5.2';

/** An OFFER or ACK of `serverId` that `relay` sends on to the client from the giaddr it filled in. */
function relayedAnswer(t: number, relay: { mac: string; ip: string }, serverId: string, xid: number, msgType = OFFER, client = CLIENT, yiaddr = '198.18.0.150', over: Partial<DhcpFields> = {}): TimedFrame {
  return {
    t,
    frame: dhcpFrame(relay.mac, client.mac, relay.ip, yiaddr, {
      op: 2, xid, chaddr: client.mac, msgType, yiaddr, serverId, giaddr: relay.ip, routers: [RELAY.ip], dns: [DNS], leaseTime: 3600, ...over,
    }),
  };
}

test('a failover pair behind the relay agent (split scope: both offer, different addresses) is neither rogue nor competing', async () => {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 4; i++) {
    const t = i * 20;
    frames.push(
      { t, frame: dhcpFrame(CLIENT.mac, BROADCAST_MAC, '0.0.0.0', BCAST, { op: 1, xid: 10 + i, chaddr: CLIENT.mac, msgType: DISCOVER }) },
      relayedAnswer(t + 0.01, RELAY, i % 2 === 0 ? POOL_A : POOL_B, 10 + i, OFFER, CLIENT, '198.18.0.150'),
      relayedAnswer(t + 0.02, RELAY, i % 2 === 0 ? POOL_B : POOL_A, 10 + i, OFFER, CLIENT, '198.18.0.190'),
      relayedAnswer(t + 0.04, RELAY, i % 2 === 0 ? POOL_A : POOL_B, 10 + i, ACK, CLIENT, '198.18.0.150'),
    );
  }
  // The same server relayed by the second router of a redundant pair, which is seen forwarding traffic.
  frames.push(...gatewayForwarding(100, RELAY_2), relayedAnswer(101, RELAY_2, POOL_A, 20, OFFER, OTHER_CLIENT, '198.18.0.151'));
  const { findings } = await scanFrames(frames);
  assert.deepEqual(atLeast(findings, 'low').filter((f) => f.rule_id.startsWith('dhcp-')), [], describe(findings));

  // A rogue on the segment is still the rogue, and one forging relayed answers from its own MAC too.
  for (const [what, rogue] of [
    ['direct', offerFrom(30.015, ROGUE, 11)],
    ['forged relay', relayedAnswer(30.015, { mac: ROGUE.mac, ip: RELAY.ip }, ROGUE.ip, 11, OFFER, CLIENT, '198.18.0.222', { routers: [ROGUE.ip], dns: [ROGUE.ip] })],
    ['forged relay of a trusted server', relayedAnswer(30.015, { mac: ROGUE.mac, ip: ROGUE.ip }, POOL_A, 11, OFFER, CLIENT, '198.18.0.222', { giaddr: ROGUE.ip, routers: [ROGUE.ip], dns: [ROGUE.ip] })],
  ] as const) {
    const attacked = await scanFrames([...frames, rogue]);
    const hit = attacked.findings.find((f) => f.rule_id === 'dhcp-rogue-server');
    assert.ok(hit, `${what}: ${describe(attacked.findings)}`);
    assert.equal(hit.severity, 'critical', what);
    assert.ok(hasEntity(hit, 'mac', ROGUE.mac, 'attacker'), `${what}: ${JSON.stringify(hit.entities)}`);
    for (const server of [POOL_A, POOL_B]) assert.ok(!attacked.findings.some((f) => f.rule_id.startsWith('dhcp-') && hasEntity(f, 'ip', server, 'attacker')), `${what}: ${server} blamed`);
  }
});

test('another MAC answering with the trusted server identifier is reported as impersonation', async () => {
  const frames = [...dora(0, { xid: 1 }), offerFrom(3, { mac: ROGUE.mac, ip: SERVER.ip }, 2, { routers: [ROGUE.ip], dns: [ROGUE.ip] })];
  const { findings } = await scanFrames(frames);
  const hit = findings.find((f) => f.rule_id === 'dhcp-rogue-server');
  assert.ok(hit, describe(findings));
  assert.equal(hit.severity, 'critical');
  assert.ok(hasEntity(hit, 'ip', SERVER.ip, 'impersonated'));
  assert.ok(hasEntity(hit, 'mac', ROGUE.mac, 'attacker'));
  assert.ok(hasEntity(hit, 'mac', SERVER.mac, 'legitimate'));
  assert.ok(hasEntity(hit, 'ip', ROGUE.ip, 'attacker-controlled'));
  assert.match(hit.message, /answers as trusted DHCP server 198\.18\.0\.1/);
});

test('the trusted server changing its DNS servers is dhcp-option-change; the same options again are not', async () => {
  const frames = [...dora(0, { xid: 1 }), ...dora(60, { xid: 2 }), ...dora(120, { xid: 3, dns: ['198.18.0.99'] }), ...dora(180, { xid: 4, dns: ['198.18.0.99'] })];
  const { findings } = await scanFrames(frames);
  const change = findings.filter((f) => f.rule_id === 'dhcp-option-change');
  assert.equal(change.length, 1, describe(findings));
  assert.equal(change[0]!.severity, 'medium');
  assert.equal(change[0]!.count, 1, 'the new address is reported once, then known');
  assert.ok(hasEntity(change[0]!, 'ip', '198.18.0.99', 'new-dns-server'));
  assert.ok(hasEntity(change[0]!, 'ip', SERVER.ip, 'server'));
  assert.match(change[0]!.message, /DNS servers \(option 6\) 198\.18\.0\.99 .* handed out 198\.19\.0\.53 before/);
  assert.ok(!findings.some((f) => f.rule_id === 'dhcp-rogue-server'));
});

test('the trusted server\'s router becomes a gateway for the ARP analyzer', async () => {
  // The attacker, which has its own address, claims the router's address. Without DHCP the
  // router is not known as a gateway: an ordinary takeover (medium).
  const claim = (t: number): TimedFrame[] => [
    { t, frame: arpRequest(SERVER, CLIENT.ip) },
    { t: t + 0.001, frame: arpReply(CLIENT, SERVER) },
    { t: t + 0.1, frame: arpRequest(ROGUE, CLIENT.ip) },
    { t: t + 0.101, frame: arpReply(CLIENT, ROGUE) },
    { t: t + 1, frame: arpReply(ROGUE, CLIENT, SERVER.ip) },
  ];
  const without = await scanFrames(claim(10));
  assert.ok(without.findings.some((f) => f.rule_id === 'arp-ip-takeover'), describe(without.findings));
  assert.ok(!without.findings.some((f) => f.rule_id === 'arp-gateway-impersonation'));
  const withDhcpLease = await scanFrames([...dora(0, { xid: 1 }), ...claim(10)]);
  const hit = withDhcpLease.findings.find((f) => f.rule_id === 'arp-gateway-impersonation');
  assert.ok(hit, describe(withDhcpLease.findings));
  assert.ok(hasEntity(hit, 'ip', SERVER.ip, 'impersonated'));
});

function discover(t: number, ethSrc: string, chaddr: string, xid: number): TimedFrame {
  return { t, frame: dhcpFrame(ethSrc, BROADCAST_MAC, '0.0.0.0', BCAST, { op: 1, xid, chaddr, msgType: DISCOVER }) };
}

function fakeMac(i: number): string {
  return `0a:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255, 0x5a].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

test('starvation from one station with random client addresses: dhcp-starvation naming the station', async () => {
  const frames: TimedFrame[] = [...dora(0, { xid: 1 })];
  for (let i = 0; i < 80; i++) frames.push(discover(5 + i * 0.02, ROGUE.mac, fakeMac(i), 1000 + i));
  const { findings } = await scanFrames(frames);
  const hit = findings.find((f) => f.rule_id === 'dhcp-starvation');
  assert.ok(hit, describe(findings));
  assert.equal(hit.severity, 'high');
  assert.equal(hit.confidence, 0.9);
  assert.deepEqual(hit.attack.techniques, ['T1557.003']);
  assert.ok(hasEntity(hit, 'mac', ROGUE.mac, 'attacker'));
  assert.ok(hasEntity(hit, 'mac', fakeMac(0), 'claimed-client'));
  // The window opened with the real client's DISCOVER at t=0: its address and two messages count too.
  assert.match(hit.message, /^50 distinct client hardware addresses sent DHCP DISCOVER\/REQUEST within 6\.0 s on the local segment \(51 messages; threshold 50 per 10\.0 s\), mostly sent by 02:00:00:00:00:66/);
  // 80 DISCOVERs from one MAC are a flood as well.
  assert.ok(findings.some((f) => f.rule_id === 'dhcp-flood' && hasEntity(f, 'mac', ROGUE.mac, 'attacker')));
});

test('starvation with forged Ethernet sources (yersinia) is reported without naming a station', async () => {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 60; i++) frames.push(discover(i * 0.01, fakeMac(i), fakeMac(i), 2000 + i));
  const { findings } = await scanFrames(frames);
  const hit = findings.find((f) => f.rule_id === 'dhcp-starvation');
  assert.ok(hit, describe(findings));
  assert.equal(hit.confidence, 0.75, 'rule default');
  assert.match(hit.message, /nearly each from an Ethernet source equal to its forged client address/);
  assert.ok(!hit.entities.some((e) => e.role === 'attacker'));
  assert.ok(!findings.some((f) => f.rule_id === 'dhcp-flood'), 'no single client floods');
});

test('clients arriving at a normal pace, or fewer than the threshold at once, are not starvation', async () => {
  const frames: TimedFrame[] = [];
  // 120 clients over 4 minutes (5 per 10 s), each with DISCOVER and REQUEST.
  for (let i = 0; i < 120; i++) {
    frames.push(discover(i * 2, fakeMac(i), fakeMac(i), 3000 + i));
    frames.push({ t: i * 2 + 0.5, frame: dhcpFrame(fakeMac(i), BROADCAST_MAC, '0.0.0.0', BCAST, { op: 1, xid: 3000 + i, chaddr: fakeMac(i), msgType: REQUEST, serverId: SERVER.ip }) });
  }
  // A burst of 40 (below 50) after a power cut.
  for (let i = 0; i < 40; i++) frames.push(discover(300 + i * 0.05, fakeMac(500 + i), fakeMac(500 + i), 4000 + i));
  const { findings } = await scanFrames(frames);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
  // The same burst is starvation with a lower configured threshold.
  const strict = await scanFrames(frames, withDhcp({ starvation_clients: 30, starvation_window_seconds: 5 }));
  const hit = strict.findings.find((f) => f.rule_id === 'dhcp-starvation');
  assert.ok(hit, describe(strict.findings));
  assert.match(hit.message, /threshold 30 per 5\.0 s/);
});

test('relayed starvation names the relay, not as attacker', async () => {
  const RELAY = { mac: '02:00:00:00:01:fe', ip: '198.18.4.1' };
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 60; i++) {
    frames.push({ t: i * 0.05, frame: dhcpFrame(RELAY.mac, SERVER.mac, RELAY.ip, SERVER.ip, { op: 1, xid: 5000 + i, chaddr: fakeMac(i), msgType: DISCOVER, giaddr: RELAY.ip, hops: 1 }, 67, 67) });
  }
  const { findings } = await scanFrames(frames);
  const hit = findings.find((f) => f.rule_id === 'dhcp-starvation');
  assert.ok(hit, describe(findings));
  assert.ok(hasEntity(hit, 'ip', RELAY.ip, 'relay'));
  assert.ok(hasEntity(hit, 'mac', RELAY.mac, 'relay'));
  assert.ok(!hit.entities.some((e) => e.role === 'attacker'));
  assert.match(hit.message, /behind relay 198\.18\.4\.1/);
  assert.ok(!findings.some((f) => f.rule_id === 'dhcp-flood'), 'a relay forwarding many clients is not a flooding client');
});

test('one client sending INFORMs from many source addresses is dhcp-flood; a relayed flood names the client and relay', async () => {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 100; i++) {
    frames.push({ t: i * 0.05, frame: dhcpFrame(CLIENT.mac, SERVER.mac, `198.18.1.${i + 1}`, SERVER.ip, { op: 1, xid: 0xa42cec51, chaddr: CLIENT.mac, msgType: INFORM, ciaddr: CLIENT.ip }) });
  }
  const RELAY = { mac: '02:00:00:00:01:fe', ip: '198.18.4.1' };
  for (let i = 0; i < 60; i++) {
    frames.push({ t: 10 + i * 0.05, frame: dhcpFrame(RELAY.mac, SERVER.mac, RELAY.ip, SERVER.ip, { op: 1, xid: 7000 + i, chaddr: OTHER_CLIENT.mac, msgType: REQUEST, giaddr: RELAY.ip }, 67, 67) });
  }
  const { findings } = await scanFrames(frames);
  const direct = findings.find((f) => f.rule_id === 'dhcp-flood' && hasEntity(f, 'mac', CLIENT.mac, 'attacker'));
  assert.ok(direct, describe(findings));
  assert.equal(direct.severity, 'medium');
  assert.match(direct.message, /sent 50 DHCP messages within 2\.5 s \(last: INFORM, from 50 source addresses\)/);
  const relayed = findings.find((f) => f.rule_id === 'dhcp-flood' && hasEntity(f, 'mac', OTHER_CLIENT.mac, 'client'));
  assert.ok(relayed, describe(findings));
  assert.ok(hasEntity(relayed, 'ip', RELAY.ip, 'relay'));
  assert.ok(!findings.some((f) => f.rule_id === 'dhcp-starvation'));
});

test('state stays bounded under a long starvation run answered by a server', async () => {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 20000; i++) {
    const mac = fakeMac(i);
    frames.push(discover(i * 0.001, mac, mac, i));
    frames.push(offerFrom(i * 0.001 + 0.0005, SERVER, i, { routers: [SERVER.ip], dns: [DNS] }, { mac, ip: '0.0.0.0' }, `198.18.${(i >> 8) & 255}.${i & 255}`));
  }
  await withTempDir(async (dir) => {
    const r = await scanCaptures([writePcap(join(dir, 'big.pcap'), frames)], { config: defaultConfig(), profile: 'production', analyzers: ['dhcp'] });
    assert.ok(r.stats.stateEntries <= 4096 + 8192 + 16, `state entries ${r.stats.stateEntries}`);
    assert.ok(r.findings.some((f) => f.rule_id === 'dhcp-starvation'));
    assert.deepEqual(r.findings.filter((f) => f.rule_id === 'dhcp-rogue-server'), []);
  });
});

test('config: the dhcp section is validated', () => {
  const sections = [dhcpConfigSection];
  const cfg = parseConfig('dhcp:\n  servers: [198.18.0.1]\n  routers: [198.18.0.1]\n  dns_servers: [198.19.0.53]\n  starvation_clients: 20\n  starvation_window_seconds: 30\n', 'c.yml', sections);
  const d = cfg.sections.get('dhcp') as ReturnType<typeof dhcpConfigSection.parse>;
  assert.ok(d.servers.has(parseIp4('198.18.0.1')!));
  assert.equal(d.starvationClients, 20);
  assert.equal(d.starvationWindowMs, 30_000);
  assert.equal(d.clientFloodMessages, 50);
  assert.throws(() => parseConfig('dhcp:\n  server: [198.18.0.1]\n', 'c.yml', sections), (e: unknown) => e instanceof ConfigError && /c\.yml: dhcp: unknown key 'server'/.test(e.message));
  assert.throws(() => parseConfig('dhcp:\n  servers: [198.18.0]\n', 'c.yml', sections), /not an IPv4 address/);
  assert.throws(() => parseConfig('dhcp:\n  starvation_clients: 0\n', 'c.yml', sections), /starvation_clients must be a positive integer/);
  assert.throws(() => parseConfig('dhcp:\n  starvation_clients: 1000000\n', 'c.yml', sections), /at most 65536/);
});
