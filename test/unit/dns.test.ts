import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  arpReply,
  arpRequest,
  dhcpv6Payload,
  dnsMessage,
  dnsName,
  duidLl,
  tcpFrame,
  ipv4UdpFrame,
  ipv4UdpFrameWith,
  ipv6Bytes,
  ipv6UdpFrame,
  nbAddress,
  neighborAdvertFrame,
  neighborSolicitFrame,
  netbiosEncodedName,
  ntlmAuthenticateMessage,
  TCP_ACK,
  TCP_PSH,
  type DnsRecordSpec,
  type Host,
} from '../../src/craft/frames.js';
import { ConfigError, defaultConfig, parseConfig } from '../../src/config/config.js';
import { CONFIG_SECTIONS } from '../../src/analyzers/index.js';
import { ip4ToString, ip6ToString, parseIp4 } from '../../src/decode/addr.js';
import {
  decodeNameMessage,
  DnsMessage,
  MAX_ANSWERS,
  NameProto,
  TYPE_A,
  TYPE_AAAA,
  TYPE_CNAME,
  TYPE_NB,
  TYPE_PTR,
  TYPE_SRV,
  TYPE_TXT,
} from '../../src/decode/dns.js';
import { Packet } from '../../src/decode/packet.js';
import { AddrBook, isIp6Id } from '../../src/analyzers/name-resolution/addr-book.js';
import { findNtlmAuthenticate, parseNtlmAuthenticate } from '../../src/decode/ntlmssp.js';
import type { Finding } from '../../src/findings/finding.js';
import { assertNotBlamed, atLeast, describe, hasEntity, scanFrames, type TimedFrame } from '../helpers/captures.js';
import { decodeBytes } from '../helpers/decode.js';

const GW: Host = { mac: '02:00:00:00:00:01', ip: '198.18.0.1' };
const VICTIM: Host = { mac: '02:00:00:00:00:10', ip: '198.18.0.10' };
const OTHER: Host = { mac: '02:00:00:00:00:20', ip: '198.18.0.20' };
const PRINTER: Host = { mac: '02:00:00:00:00:30', ip: '198.18.0.30' };
const ATTACKER: Host = { mac: '02:00:00:00:00:66', ip: '198.18.0.66' };
const SECOND_RESOLVER: Host = { mac: '02:00:00:00:00:02', ip: '198.18.0.2' };
const LLMNR_GROUP = '224.0.0.252';
const LLMNR_MAC = '01:00:5e:00:00:fc';
const MDNS_GROUP = '224.0.0.251';
const MDNS_MAC = '01:00:5e:00:00:fb';

// ---- decoder ---------------------------------------------------------------

/** Decodes one Ethernet frame and its name-service message as the analyzer does. */
function decode(frame: Buffer, proto: NameProto = NameProto.Dns): { ok: boolean; msg: DnsMessage; pkt: Packet } {
  const pkt = decodeBytes(frame);
  const msg = new DnsMessage();
  return { ok: decodeNameMessage(pkt, proto, msg), msg, pkt };
}

function udpTo53(payload: Buffer, sport = 40000, dport = 53): Buffer {
  return ipv4UdpFrame(VICTIM.mac, GW.mac, VICTIM.ip, GW.ip, sport, dport, payload);
}

/** A header claiming one question, then raw bytes. */
function rawQuestion(body: Buffer, counts: [number, number] = [1, 0]): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0x1234, 0);
  head.writeUInt16BE(counts[0], 4);
  head.writeUInt16BE(counts[1], 6);
  return Buffer.concat([head, body]);
}

test('decoder: a compressed answer with A, AAAA, CNAME, PTR, SRV and TXT records', () => {
  const srv = Buffer.concat([Buffer.from([0, 10, 0, 5, 0x01, 0xbb]), dnsName('Target.Example')]);
  const answers: DnsRecordSpec[] = [
    { name: 'WWW.example.com', type: TYPE_CNAME, data: dnsName('web.example.com') },
    { name: 'www.example.com', type: TYPE_A, data: '198.18.0.50', ttl: 300 },
    { name: 'www.example.com', type: TYPE_A, data: '198.18.0.51', ttl: 300 },
    { name: 'www.example.com', type: TYPE_AAAA, data: Buffer.alloc(16, 0x20) },
    { name: 'www.example.com', type: TYPE_PTR, data: dnsName('host.example.com') },
    { name: 'www.example.com', type: TYPE_SRV, data: srv },
    { name: 'www.example.com', type: TYPE_TXT, data: Buffer.from('\x05hello') },
  ];
  const payload = dnsMessage({ id: 0xbeef, flags: 0x8180, questions: [{ name: 'www.example.com', type: TYPE_A }], answers, compress: true });
  const { ok, msg, pkt } = decode(ipv4UdpFrame(GW.mac, VICTIM.mac, GW.ip, VICTIM.ip, 53, 40000, payload));
  assert.ok(ok, pkt.malformed ?? '');
  assert.equal(msg.id, 0xbeef);
  assert.ok(msg.isResponse);
  assert.equal(msg.names.text(0), 'www.example.com');
  assert.equal(msg.qtype, TYPE_A);
  assert.equal(msg.answerCount, answers.length);
  assert.equal(msg.names.text(msg.ansName[0]!), 'www.example.com', 'names are lowercased');
  assert.equal(msg.names.text(msg.ansTarget[0]!), 'web.example.com');
  assert.equal(msg.ansNameCompressed[1], 1, 'answer names equal to the question are pointers');
  assert.equal(ip4ToString(msg.ansAddr4[1]!), '198.18.0.50');
  assert.equal(ip4ToString(msg.ansAddr4[2]!), '198.18.0.51');
  assert.equal(msg.ansTtl[1], 300);
  assert.equal(msg.ansDataLen[3], 16);
  assert.equal(ip6ToString(pkt.buf, msg.ansDataOff[3]!), '2020:2020:2020:2020:2020:2020:2020:2020', 'AAAA data is the address');
  assert.equal(msg.names.text(msg.ansTarget[4]!), 'host.example.com');
  assert.equal(msg.names.text(msg.ansTarget[5]!), 'target.example');
  assert.equal(msg.ansSrvPort[5], 443);
  assert.equal(pkt.buf.toString('latin1', msg.ansDataOff[6]! + 1, msg.ansDataOff[6]! + msg.ansDataLen[6]!), 'hello');
});

test('decoder: pointer loops end with a malformed finding, however they are built', () => {
  // A pointer to itself, two pointers to each other, and a pointer forward to a label that points back.
  const self = rawQuestion(Buffer.from([0xc0, 0x0c, 0, 1, 0, 1]));
  const mutual = rawQuestion(Buffer.from([0xc0, 0x0e, 0xc0, 0x0c, 0, 1, 0, 1]));
  const forward = rawQuestion(Buffer.from([0x01, 0x61, 0xc0, 0x0c, 0, 1, 0, 1]));
  for (const [what, payload] of [['self', self], ['mutual', mutual], ['label then back', forward]] as const) {
    const { ok, pkt } = decode(udpTo53(payload));
    assert.equal(ok, false, what);
    assert.equal(pkt.malformedLayer, 'dns', what);
    assert.match(pkt.malformed ?? '', /pointer/, what);
  }
  // A chain of 40 valid backward pointers (hidden in a TXT record) is cut at the hop limit.
  const chain: number[] = [];
  const first = 31; // header 12 + question "a" 7 + answer name, type, class, ttl, rdlength 12
  for (let k = 0; k < 40; k++) chain.push(0x01, 0x62, 0xc0, k === 0 ? 12 : first + 4 * (k - 1));
  const last = first + 4 * 39;
  const head = Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]);
  const question = Buffer.from([1, 0x61, 0, 0, 1, 0, 1]);
  const txt = Buffer.from([0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 60, 0, chain.length]);
  const a = Buffer.from([0xc0, last, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 9]);
  const { ok, pkt } = decode(udpTo53(Buffer.concat([head, question, txt, Buffer.from(chain), a]), 53, 40000));
  assert.equal(ok, false);
  assert.match(pkt.malformed ?? '', /too many pointer hops/);
});

test('decoder: overlong labels and names, huge counts and truncated records are malformed', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['label of 64', rawQuestion(Buffer.concat([Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])])), /label longer/],
    ['name of 300', rawQuestion(Buffer.concat([...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 0x61)])), Buffer.from([0, 0, 1, 0, 1])])), /name longer than 255/],
    ['65535 answers', rawQuestion(Buffer.concat([dnsName('a.example'), Buffer.from([0, 1, 0, 1])]), [1, 65535]), /counts exceed/],
    ['name cut short', rawQuestion(Buffer.from([5, 0x61, 0x62])), /counts exceed|runs past/],
    ['shorter than a header', Buffer.alloc(7), /shorter than/],
  ];
  const bigRdata = dnsMessage({ id: 1, flags: 0x8180, questions: [{ name: 'a.example', type: 1 }], answers: [{ name: 'a.example', type: 1, data: '198.18.0.5' }] });
  bigRdata.writeUInt16BE(400, bigRdata.length - 6);
  cases.push(['record data past the end', bigRdata, /runs past the end/]);
  const badA = dnsMessage({ id: 1, flags: 0x8180, questions: [{ name: 'a.example', type: 1 }], answers: [{ name: 'a.example', type: 1, data: Buffer.alloc(5) }] });
  cases.push(['A record of 5 bytes', badA, /wrong data length/]);
  for (const [what, payload, reason] of cases) {
    const { ok, pkt } = decode(udpTo53(payload));
    assert.equal(ok, false, what);
    assert.equal(pkt.malformedLayer, 'dns', what);
    assert.match(pkt.malformed ?? '', reason, what);
  }
});

test('decoder: answers beyond the cap, TC responses and snapped captures are not errors', () => {
  const many = Array.from({ length: 40 }, (_, i): DnsRecordSpec => ({ name: 'pool.example', type: TYPE_A, data: `198.18.1.${i}` }));
  const big = decode(ipv4UdpFrame(GW.mac, VICTIM.mac, GW.ip, VICTIM.ip, 53, 40000, dnsMessage({ id: 2, flags: 0x8180, questions: [{ name: 'pool.example', type: 1 }], answers: many, compress: true })));
  assert.ok(big.ok);
  assert.equal(big.msg.answerCount, MAX_ANSWERS);

  const tc = rawQuestion(Buffer.concat([dnsName('a.example'), Buffer.from([0, 1, 0, 1])]), [1, 200]);
  tc.writeUInt16BE(0x8380, 2);
  const truncated = decode(udpTo53(tc, 53, 40000));
  assert.equal(truncated.pkt.malformed, null);

  const full = udpTo53(dnsMessage({ id: 3, flags: 0x8180, questions: [{ name: 'snap.example', type: 1 }], answers: many.slice(0, 5) }), 53, 40000);
  const snapped = decode(full.subarray(0, full.length - 20));
  assert.equal(snapped.ok, false);
  assert.equal(snapped.pkt.malformed, null, 'a snap length is not an attack');
});

test('decoder: DNS and LLMNR over TCP are read only from a segment holding one whole message', () => {
  const m = dnsMessage({ id: 7, flags: 0x0100, questions: [{ name: 'tcp.example', type: 1 }] });
  const prefixed = Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);
  const whole = decode(tcpFrame(VICTIM.mac, GW.mac, VICTIM.ip, GW.ip, 40001, 53, 1, 1, TCP_PSH | TCP_ACK, prefixed));
  assert.ok(whole.ok);
  assert.equal(whole.msg.names.text(0), 'tcp.example');
  const part = decode(tcpFrame(VICTIM.mac, GW.mac, VICTIM.ip, GW.ip, 40001, 53, 1, 1, TCP_PSH | TCP_ACK, prefixed.subarray(0, 10)));
  assert.equal(part.ok, false);
  assert.equal(part.pkt.malformed, null);
});

test('decoder: NBT-NS first-level names become the 15-character name and suffix', () => {
  const q = dnsMessage({ id: 0x8001, flags: 0x0110, questions: [{ name: netbiosEncodedName('FileServ', 0x20), type: TYPE_NB }] });
  const query = decode(ipv4UdpFrame(VICTIM.mac, 'ff:ff:ff:ff:ff:ff', VICTIM.ip, '198.18.0.255', 137, 137, q), NameProto.Nbns);
  assert.ok(query.ok, query.pkt.malformed ?? '');
  assert.equal(query.msg.names.text(0), 'fileserv');
  assert.equal(query.msg.names.suffix[0], 0x20);
  const answer = dnsMessage({
    id: 0x8001,
    flags: 0x8500,
    answers: [{ name: netbiosEncodedName('CORP', 0x1c), type: TYPE_NB, ttl: 300000, data: Buffer.concat([nbAddress('198.18.0.5', 0x8000), nbAddress('198.18.0.6', 0x8000)]) }],
  });
  const resp = decode(ipv4UdpFrame(GW.mac, VICTIM.mac, GW.ip, VICTIM.ip, 137, 137, answer), NameProto.Nbns);
  assert.ok(resp.ok);
  assert.equal(resp.msg.answerCount, 2, 'one answer per NB address');
  assert.equal(resp.msg.names.text(resp.msg.ansName[1]!), 'corp');
  assert.equal(ip4ToString(resp.msg.ansAddr4[1]!), '198.18.0.6');
  assert.equal(resp.msg.ansNbFlags[0], 0x8000);

  const bad = dnsMessage({ id: 1, flags: 0x0110, questions: [{ name: 'ZZ'.repeat(16), type: TYPE_NB }] });
  const malformed = decode(ipv4UdpFrame(VICTIM.mac, 'ff:ff:ff:ff:ff:ff', VICTIM.ip, '198.18.0.255', 137, 137, bad), NameProto.Nbns);
  assert.equal(malformed.ok, false);
  assert.equal(malformed.pkt.malformedLayer, 'nbns');
});

test('NTLMSSP AUTHENTICATE is found raw and base64-encoded in HTTP', () => {
  const msg = ntlmAuthenticateMessage({ user: 'alice', domain: 'CORP', ntResponse: Buffer.alloc(48, 7) });
  const raw = Buffer.concat([Buffer.alloc(30, 0xfe), msg]);
  const at = findNtlmAuthenticate(raw, 0, raw.length);
  assert.equal(at, 30);
  const parsed = parseNtlmAuthenticate(raw, at, raw.length);
  assert.deepEqual({ ...parsed, ntResponse: undefined, lmResponse: undefined }, { user: 'alice', domain: 'CORP', workstation: 'WS01', ntResponse: undefined, lmResponse: undefined });
  assert.deepEqual([parsed?.ntResponse, parsed?.lmResponse], [Buffer.alloc(48, 7), Buffer.alloc(24)]);
  const http = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nAuthorization: NTLM ${msg.toString('base64')}\r\n\r\n`, 'latin1');
  const hat = findNtlmAuthenticate(http, 0, http.length);
  assert.ok(hat > 0);
  assert.equal(parseNtlmAuthenticate(http, hat, http.length)?.user, 'alice');
  const negotiate = Buffer.from('NTLMSSP\0\x01\0\0\0rest-of-negotiate', 'latin1');
  assert.equal(findNtlmAuthenticate(negotiate, 0, negotiate.length), -1, 'type 1 is not a credential');
});

// ---- analyzer --------------------------------------------------------------

function query(client: Host, server: Host, sport: number, id: number, name: string, t: number): TimedFrame {
  return { t, frame: ipv4UdpFrame(client.mac, server.mac, client.ip, server.ip, sport, 53, dnsMessage({ id, flags: 0x0100, questions: [{ name, type: TYPE_A }] })) };
}

function answer(fromMac: string, fromIp: string, client: Host, sport: number, id: number, name: string, addrs: string[], t: number, ttl = 300): TimedFrame {
  const answers = addrs.map((a): DnsRecordSpec => ({ name, type: TYPE_A, data: a, ttl }));
  return { t, frame: ipv4UdpFrame(fromMac, client.mac, fromIp, client.ip, 53, sport, dnsMessage({ id, flags: 0x8180, questions: [{ name, type: TYPE_A }], answers, compress: true })) };
}

/** The victim resolves a few names through the gateway's resolver: teaches the resolver's MAC. */
function dnsBaseline(): TimedFrame[] {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 3; i++) {
    frames.push(query(VICTIM, GW, 41000 + i, 100 + i, `host${i}.example`, i));
    frames.push(answer(GW.mac, GW.ip, VICTIM, 41000 + i, 100 + i, `host${i}.example`, [`198.18.0.${100 + i}`], i + 0.01));
  }
  return frames;
}

test('dnsspoof race: the spoofer answers first from the resolver address with another MAC', async () => {
  const frames = dnsBaseline();
  frames.push(query(VICTIM, GW, 42000, 0x4242, 'intranet.example', 10));
  frames.push(answer(ATTACKER.mac, GW.ip, VICTIM, 42000, 0x4242, 'intranet.example', [ATTACKER.ip], 10.001, 60));
  frames.push(answer(GW.mac, GW.ip, VICTIM, 42000, 0x4242, 'intranet.example', ['198.18.0.50'], 10.004));
  const { findings } = await scanFrames(frames);
  const race = findings.find((f) => f.rule_id === 'dns-spoofed-response-race');
  assert.ok(race, describe(findings));
  assert.equal(race.severity, 'high');
  assert.deepEqual(race.attack.techniques, ['T1557']);
  assert.ok(hasEntity(race, 'mac', ATTACKER.mac, 'attacker'));
  assert.ok(hasEntity(race, 'ip', GW.ip, 'impersonated'));
  assert.ok(hasEntity(race, 'mac', GW.mac, 'server'));
  assert.ok(hasEntity(race, 'ip', VICTIM.ip, 'victim'));
  assert.ok(hasEntity(race, 'host', 'intranet.example', 'queried-name'));
  assert.ok(hasEntity(race, 'ip', ATTACKER.ip, 'spoofed-answer'));
  assert.ok(hasEntity(race, 'ip', '198.18.0.50', 'legitimate-answer'));
  assert.match(race.message, /answered for the server before/);
  const mac = findings.find((f) => f.rule_id === 'dns-response-from-unqueried-server');
  assert.ok(mac && mac.severity === 'medium' && hasEntity(mac, 'mac', ATTACKER.mac, 'attacker'), describe(findings));
});

test('race without history: the answer pointing at an ARP contest winner is the spoofed one, even when it comes second', async () => {
  const frames: TimedFrame[] = [
    { t: 0, frame: arpRequest(ATTACKER, GW.ip) },
    { t: 0.001, frame: arpReply(GW, ATTACKER) },
    { t: 0.1, frame: arpRequest(VICTIM, GW.ip) },
    { t: 0.101, frame: arpReply(GW, VICTIM) },
  ];
  for (let i = 0; i < 3; i++) frames.push({ t: 1 + i, frame: arpReply(ATTACKER, VICTIM, GW.ip) });
  frames.push(query(VICTIM, GW, 42001, 7, 'files.example', 5));
  frames.push(answer(GW.mac, GW.ip, VICTIM, 42001, 7, 'files.example', ['198.18.0.50'], 5.001));
  frames.push(answer(ATTACKER.mac, GW.ip, VICTIM, 42001, 7, 'files.example', [ATTACKER.ip], 5.002));
  const { findings } = await scanFrames(frames);
  const race = findings.find((f) => f.rule_id === 'dns-spoofed-response-race');
  assert.ok(race, describe(findings));
  assert.ok(hasEntity(race, 'mac', ATTACKER.mac, 'attacker'), describe([race]));
  assert.match(race.message, /won an ARP\/DHCP address contest/);
  const contested = findings.find((f) => f.rule_id === 'dns-answer-points-to-contested-host');
  assert.ok(contested && contested.severity === 'high', describe(findings));
  assert.ok(hasEntity(contested, 'ip', ATTACKER.ip, 'attacker'));
  assert.ok(hasEntity(contested, 'ip', VICTIM.ip, 'victim'));
  assert.ok(hasEntity(contested, 'host', 'files.example', 'queried-name'));
  assert.ok(findings.some((f) => f.rule_id.startsWith('arp-') && hasEntity(f, 'mac', ATTACKER.mac, 'attacker')), 'the ARP side is reported too');
});

test('an answer from an address the query was not sent to is medium', async () => {
  const frames = dnsBaseline();
  frames.push(query(VICTIM, GW, 42002, 9, 'mail.example', 10));
  frames.push(answer(OTHER.mac, OTHER.ip, VICTIM, 42002, 9, 'mail.example', ['198.18.0.20'], 10.001));
  const { findings } = await scanFrames(frames);
  const f = findings.find((x) => x.rule_id === 'dns-response-from-unqueried-server');
  assert.ok(f && f.severity === 'medium', describe(findings));
  assert.ok(hasEntity(f, 'ip', OTHER.ip, 'attacker'));
  assert.ok(hasEntity(f, 'ip', GW.ip, 'server'));
  assert.ok(hasEntity(f, 'ip', VICTIM.ip, 'victim'));
});

test('internal names pointing at a contest winner get higher confidence', async () => {
  const config = parseConfig('names:\n  internal_suffixes: [corp.example]\n', 'test.yml', CONFIG_SECTIONS);
  const frames: TimedFrame[] = [
    { t: 0, frame: arpRequest(ATTACKER, GW.ip) },
    { t: 0.001, frame: arpReply(GW, ATTACKER) },
    { t: 0.1, frame: arpRequest(OTHER, GW.ip) },
    { t: 0.101, frame: arpReply(GW, OTHER) },
    { t: 1, frame: arpReply(ATTACKER, VICTIM, OTHER.ip) },
    { t: 1.5, frame: arpReply(ATTACKER, VICTIM, OTHER.ip) },
  ];
  frames.push(query(VICTIM, GW, 42003, 11, 'wiki.corp.example', 5));
  frames.push(answer(GW.mac, GW.ip, VICTIM, 42003, 11, 'wiki.corp.example', [ATTACKER.ip], 5.001));
  frames.push(query(VICTIM, GW, 42004, 12, 'www.public.example', 6));
  frames.push(answer(GW.mac, GW.ip, VICTIM, 42004, 12, 'www.public.example', [ATTACKER.ip], 6.001));
  const { findings } = await scanFrames(frames, config);
  const contested = findings.find((f) => f.rule_id === 'dns-answer-points-to-contested-host');
  assert.ok(contested, describe(findings));
  assert.equal(contested.confidence, 0.85);
  assert.match(contested.message, /wiki\.corp\.example \(an internal name\)/);
  assert.ok(hasEntity(contested, 'host', 'www.public.example', 'queried-name'), 'same attacker and victim: one finding');
});

test('benign: two resolvers answering the same query identically, a multi-address answer, a resolver retrying', async () => {
  const frames = dnsBaseline();
  // The client retries the same query at a second resolver; both answer the same set in different order.
  frames.push(query(VICTIM, GW, 43000, 0x1111, 'cdn.example', 10));
  frames.push(query(VICTIM, SECOND_RESOLVER, 43000, 0x1111, 'cdn.example', 11));
  frames.push(answer(GW.mac, GW.ip, VICTIM, 43000, 0x1111, 'cdn.example', ['198.18.2.1', '198.18.2.2', '198.18.2.3'], 11.01, 300));
  frames.push(answer(SECOND_RESOLVER.mac, SECOND_RESOLVER.ip, VICTIM, 43000, 0x1111, 'cdn.example', ['198.18.2.3', '198.18.2.1', '198.18.2.2'], 11.02, 120));
  // One resolver answering a retransmission with another round-robin subset.
  frames.push(query(VICTIM, GW, 43001, 0x2222, 'pool.example', 12));
  frames.push(query(VICTIM, GW, 43001, 0x2222, 'pool.example', 13));
  frames.push(answer(GW.mac, GW.ip, VICTIM, 43001, 0x2222, 'pool.example', ['198.18.3.1', '198.18.3.2'], 13.01));
  frames.push(answer(GW.mac, GW.ip, VICTIM, 43001, 0x2222, 'pool.example', ['198.18.3.3', '198.18.3.4'], 13.02));
  // An answer with no query seen (capture started late).
  frames.push(answer(GW.mac, GW.ip, VICTIM, 43002, 0x3333, 'late.example', ['198.18.4.1'], 14));
  const { findings, errors } = await scanFrames(frames);
  assert.deepEqual(errors, []);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
});

// ---- LLMNR / NBT-NS / mDNS -------------------------------------------------

function llmnrQuery(client: Host, sport: number, id: number, name: string, t: number): TimedFrame {
  return { t, frame: ipv4UdpFrame(client.mac, LLMNR_MAC, client.ip, LLMNR_GROUP, sport, 5355, dnsMessage({ id, flags: 0, questions: [{ name, type: TYPE_A }] })) };
}

/** Responder's LLMNR_Ans: flags 0x8000, question echoed, answer name uncompressed, TTL 30. */
function responderLlmnr(from: Host, client: Host, sport: number, id: number, name: string, t: number): TimedFrame {
  const payload = dnsMessage({ id, flags: 0x8000, questions: [{ name, type: TYPE_A }], answers: [{ name, type: TYPE_A, ttl: 30, data: from.ip }] });
  return { t, frame: ipv4UdpFrame(from.mac, client.mac, from.ip, client.ip, 5355, sport, payload) };
}

/** A host answering for its own name the way systemd-resolved does (compressed name, TTL 30). */
function ownLlmnr(from: Host, client: Host, sport: number, id: number, name: string, t: number): TimedFrame {
  const payload = dnsMessage({ id, flags: 0x8000, questions: [{ name, type: TYPE_A }], answers: [{ name, type: TYPE_A, ttl: 30, data: from.ip }], compress: true });
  return { t, frame: ipv4UdpFrame(from.mac, client.mac, from.ip, client.ip, 5355, sport, payload) };
}

function nbnsQuery(client: Host, id: number, name: string, t: number): TimedFrame {
  const payload = dnsMessage({ id, flags: 0x0110, questions: [{ name: netbiosEncodedName(name, 0x20), type: TYPE_NB }] });
  return { t, frame: ipv4UdpFrame(client.mac, 'ff:ff:ff:ff:ff:ff', client.ip, '198.18.0.255', 137, 137, payload) };
}

/** Responder's NBT_Ans: flags 0x8500, no question, TTL 300000, NB flags 0. */
function responderNbns(from: Host, client: Host, id: number, name: string, t: number): TimedFrame {
  const payload = dnsMessage({ id, flags: 0x8500, answers: [{ name: netbiosEncodedName(name, 0x20), type: TYPE_NB, ttl: 300000, data: nbAddress(from.ip) }] });
  return { t, frame: ipv4UdpFrame(from.mac, client.mac, from.ip, client.ip, 137, 137, payload) };
}

function mdnsQuery(client: Host, name: string, t: number, sport = 5353): TimedFrame {
  return { t, frame: ipv4UdpFrame(client.mac, MDNS_MAC, client.ip, MDNS_GROUP, sport, 5353, dnsMessage({ id: 0, flags: 0, questions: [{ name, type: TYPE_A }] })) };
}

/** An mDNS host announcing (or answering for) its own name to the group. */
function mdnsAnnounce(from: Host, name: string, t: number): TimedFrame {
  const payload = dnsMessage({ id: 0, flags: 0x8400, answers: [{ name, type: TYPE_A, cls: 0x8001, ttl: 120, data: from.ip }] });
  return { t, frame: ipv4UdpFrame(from.mac, MDNS_MAC, from.ip, MDNS_GROUP, 5353, 5353, payload) };
}

/** Responder's MDNS_Ans: id 0, no question, one A record TTL 120, sent unicast to the querier. */
function responderMdns(from: Host, client: Host, name: string, t: number): TimedFrame {
  const payload = dnsMessage({ id: 0, flags: 0x8400, answers: [{ name, type: TYPE_A, ttl: 120, data: from.ip }] });
  return { t, frame: ipv4UdpFrame(from.mac, client.mac, from.ip, client.ip, 5353, 5353, payload) };
}

test('Responder-style LLMNR poisoning of several names is high, names the poisoner and its victims', async () => {
  const frames: TimedFrame[] = [];
  ['fileserv', 'wpad', 'printr'].forEach((name, i) => {
    frames.push(llmnrQuery(i === 2 ? OTHER : VICTIM, 50000 + i, 10 + i, name, i));
    frames.push(responderLlmnr(ATTACKER, i === 2 ? OTHER : VICTIM, 50000 + i, 10 + i, name, i + 0.001));
  });
  const { findings } = await scanFrames(frames);
  const f = findings.find((x) => x.rule_id === 'llmnr-nbtns-poisoning');
  assert.ok(f, describe(findings));
  assert.equal(f.severity, 'high');
  assert.deepEqual(f.attack.techniques, ['T1557.001']);
  assert.ok(hasEntity(f, 'ip', ATTACKER.ip, 'attacker'));
  assert.ok(hasEntity(f, 'mac', ATTACKER.mac, 'attacker'));
  assert.ok(hasEntity(f, 'ip', VICTIM.ip, 'victim') && hasEntity(f, 'ip', OTHER.ip, 'victim'));
  for (const n of ['fileserv', 'wpad']) assert.ok(hasEntity(f, 'host', n, 'poisoned-name'), n);
  assert.match(f.message, /Responder's LLMNR_Ans/);
  assert.equal(f.confidence, 0.8);
});

test('NTLM authentication from a victim to the poisoner makes it critical and names the account', async () => {
  const frames: TimedFrame[] = [];
  ['fileserv', 'backup'].forEach((name, i) => {
    frames.push(llmnrQuery(VICTIM, 50100 + i, 20 + i, name, i));
    frames.push(responderLlmnr(ATTACKER, VICTIM, 50100 + i, 20 + i, name, i + 0.001));
  });
  // SMB2 SESSION_SETUP carries the AUTHENTICATE message inside SPNEGO; only the NTLMSSP bytes matter here.
  const blob = Buffer.concat([Buffer.alloc(80, 0), ntlmAuthenticateMessage({ user: 'alice', domain: 'CORP', ntResponse: Buffer.alloc(64, 0x42) })]);
  frames.push({ t: 3, frame: tcpFrame(VICTIM.mac, ATTACKER.mac, VICTIM.ip, ATTACKER.ip, 49700, 445, 1000, 2000, TCP_PSH | TCP_ACK, blob) });
  const { findings } = await scanFrames(frames);
  const f = findings.find((x) => x.rule_id === 'llmnr-nbtns-poisoning');
  assert.ok(f, describe(findings));
  assert.equal(f.severity, 'critical');
  assert.ok(hasEntity(f, 'user', 'CORP\\alice', 'victim'));
  assert.match(f.message, /NTLM authentication as CORP\\alice to it on TCP port 445/);
  assert.equal(f.secrets?.length, 1, 'the NT response is kept only as a redacted hash');
});

test('NBT-NS and mDNS poisoning in Responder layout are reported too', async () => {
  const frames: TimedFrame[] = [];
  // Responder's NBT-NS layout is Windows' own, so it takes three names, not two.
  ['FILESERV', 'SQL01', 'BACKUP'].forEach((name, i) => {
    frames.push(nbnsQuery(VICTIM, 0x8000 + i, name, i));
    frames.push(responderNbns(ATTACKER, VICTIM, 0x8000 + i, name, i + 0.001));
  });
  const nb = await scanFrames(frames);
  const f = nb.findings.find((x) => x.rule_id === 'llmnr-nbtns-poisoning');
  assert.ok(f && f.severity === 'high', describe(nb.findings));
  assert.match(f.message, /NBT-NS queries/);
  assert.ok(hasEntity(f, 'host', 'fileserv<20>', 'poisoned-name'));

  const mdns: TimedFrame[] = [];
  ['nas.local', 'printer.local'].forEach((name, i) => {
    mdns.push(mdnsQuery(VICTIM, name, i));
    mdns.push(responderMdns(ATTACKER, VICTIM, name, i + 0.001));
  });
  const m = await scanFrames(mdns);
  const g = m.findings.find((x) => x.rule_id === 'llmnr-nbtns-poisoning');
  assert.ok(g && hasEntity(g, 'ip', ATTACKER.ip, 'attacker'), describe(m.findings));
  assert.match(g.message, /mDNS/);
});

test('a name answered by its owner and then by another host is a conflicting answer', async () => {
  const frames: TimedFrame[] = [
    llmnrQuery(VICTIM, 51000, 1, 'printer1', 0),
    ownLlmnr(PRINTER, VICTIM, 51000, 1, 'printer1', 0.001),
    llmnrQuery(VICTIM, 51001, 2, 'printer1', 10),
    ownLlmnr(ATTACKER, VICTIM, 51001, 2, 'printer1', 10.001),
  ];
  const { findings } = await scanFrames(frames);
  const f = findings.find((x) => x.rule_id === 'llmnr-nbtns-poisoning');
  assert.ok(f, describe(findings));
  assert.ok(hasEntity(f, 'ip', ATTACKER.ip, 'attacker'));
  assert.ok(hasEntity(f, 'ip', PRINTER.ip, 'legitimate'));
  assert.match(f.message, /'printer1' was answered by 198\.18\.0\.30 before/);
});

test('benign: hosts answering for their own names, mDNS announcements, a DC with an alias, group names and WINS stay quiet', async () => {
  const frames: TimedFrame[] = [];
  let t = 0;
  // Each host answers LLMNR for its own name, repeatedly, and by mDNS as name.local.
  for (let round = 0; round < 3; round++) {
    for (const [host, name] of [[PRINTER, 'printer1'], [OTHER, 'laptop7']] as const) {
      frames.push(llmnrQuery(VICTIM, 52000 + round, 100 + round, name, (t += 1)));
      frames.push(ownLlmnr(host, VICTIM, 52000 + round, 100 + round, name, (t += 0.001)));
      frames.push(mdnsQuery(VICTIM, `${name}.local`, (t += 1)));
      frames.push(mdnsAnnounce(host, `${name}.local`, (t += 0.001)));
    }
  }
  // mDNS hosts announcing their names unasked, one of them under several names.
  for (const n of ['a.local', 'b.local', 'c.local', 'd.local']) frames.push(mdnsAnnounce(PRINTER, n, (t += 0.5)));
  // A Windows DC answers, in Windows' (and Responder's) NBT-NS layout, for its name, an alias, and the
  // unique domain-master and master-browser names.
  const dc: [string, number][] = [['DC01', 0x20], ['FILES', 0x20], ['CORP', 0x1b], ['CORP', 0x1d]];
  dc.forEach(([name, suffix], i) => {
    const payload = dnsMessage({ id: 0x7000 + i, flags: 0x8500, answers: [{ name: netbiosEncodedName(name, suffix), type: TYPE_NB, ttl: 300000, data: nbAddress(GW.ip) }] });
    frames.push({ t: (t += 0.5), frame: ipv4UdpFrame(GW.mac, VICTIM.mac, GW.ip, VICTIM.ip, 137, 137, payload) });
  });
  // The master browser answers the workgroup (a group name) for everyone.
  for (let i = 0; i < 4; i++) {
    const payload = dnsMessage({ id: 0x9000 + i, flags: 0x8500, answers: [{ name: netbiosEncodedName(`WORKGROUP${i}`, 0x1d), type: TYPE_NB, ttl: 300000, data: nbAddress(OTHER.ip, 0x8000) }] });
    frames.push({ t: (t += 0.5), frame: ipv4UdpFrame(OTHER.mac, VICTIM.mac, OTHER.ip, VICTIM.ip, 137, 137, payload) });
  }
  const { findings, errors } = await scanFrames(frames);
  assert.deepEqual(errors, []);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));

  // A WINS server answering for many names with its own address is allowed by config.
  const config = parseConfig(`names:\n  responders: [${GW.ip}]\n`, 'test.yml', CONFIG_SECTIONS);
  const wins: TimedFrame[] = [];
  ['A1', 'B2', 'C3', 'D4'].forEach((n, i) => wins.push(responderNbns(GW, VICTIM, i, n, i)));
  const w = await scanFrames(wins, config);
  assert.deepEqual(atLeast(w.findings, 'medium'), [], describe(w.findings));
});

// ---- IPv6 transports and AAAA answers ----------------------------------------

interface Host6 {
  mac: string;
  ip: string;
}

const VICTIM6: Host6 = { mac: VICTIM.mac, ip: 'fe80::a8c1:10ff:fe00:10' };
/** Not an EUI-64 address: the attacker's MAC cannot be read from it. */
const ATTACKER6: Host6 = { mac: ATTACKER.mac, ip: 'fe80::dead:beef:66' };
const PRINTER6: Host6 = { mac: PRINTER.mac, ip: 'fe80::30' };
const LLMNR6_GROUP = 'ff02::1:3';
const LLMNR6_MAC = '33:33:00:01:00:03';
const MDNS6_GROUP = 'ff02::fb';
const MDNS6_MAC = '33:33:00:00:00:fb';

function aaaa(ip: string): Buffer {
  return ipv6Bytes(ip);
}

function llmnr6Query(client: Host6, sport: number, id: number, name: string, t: number, type = TYPE_AAAA): TimedFrame {
  return { t, frame: ipv6UdpFrame(client.mac, LLMNR6_MAC, client.ip, LLMNR6_GROUP, sport, 5355, dnsMessage({ id, flags: 0, questions: [{ name, type }] }), 1) };
}

/** Responder's LLMNR6_Ans: flags 0x8000, AAAA question echoed, one uncompressed AAAA record with its own address, TTL 30, unicast back. */
function responderLlmnr6(from: Host6, client: Host6, sport: number, id: number, name: string, t: number): TimedFrame {
  const payload = dnsMessage({ id, flags: 0x8000, questions: [{ name, type: TYPE_AAAA }], answers: [{ name, type: TYPE_AAAA, ttl: 30, data: aaaa(from.ip) }] });
  return { t, frame: ipv6UdpFrame(from.mac, client.mac, from.ip, client.ip, 5355, sport, payload) };
}

function mdns6Query(client: Host6, name: string, t: number): TimedFrame {
  return { t, frame: ipv6UdpFrame(client.mac, MDNS6_MAC, client.ip, MDNS6_GROUP, 5353, 5353, dnsMessage({ id: 0, flags: 0, questions: [{ name, type: TYPE_AAAA }] }), 255) };
}

/** Responder's MDNS6_Ans: id 0, flags 0x8400, no question, one AAAA record TTL 120, sent unicast to the querier. */
function responderMdns6(from: Host6, client: Host6, name: string, t: number): TimedFrame {
  const payload = dnsMessage({ id: 0, flags: 0x8400, answers: [{ name, type: TYPE_AAAA, ttl: 120, data: aaaa(from.ip) }] });
  return { t, frame: ipv6UdpFrame(from.mac, client.mac, from.ip, client.ip, 5353, 5353, payload, 255) };
}

test('IPv6 LLMNR poisoning in Responder layout names the poisoner by its IPv6 address and MAC, and NTLM over IPv6 makes it critical', async () => {
  const frames: TimedFrame[] = [];
  ['fileserv', 'wpad'].forEach((name, i) => {
    frames.push(llmnr6Query(VICTIM6, 53000 + i, 30 + i, name, i));
    frames.push(responderLlmnr6(ATTACKER6, VICTIM6, 53000 + i, 30 + i, name, i + 0.001));
  });
  // Responder answers the AAAA query the victim also asks over IPv4 with the same IPv6 address.
  frames.push(llmnrQuery(VICTIM, 53010, 40, 'backupsrv', 3));
  const v4 = dnsMessage({ id: 40, flags: 0x8000, questions: [{ name: 'backupsrv', type: TYPE_AAAA }], answers: [{ name: 'backupsrv', type: TYPE_AAAA, ttl: 30, data: aaaa(ATTACKER6.ip) }] });
  frames.push({ t: 3.001, frame: ipv4UdpFrame(ATTACKER.mac, VICTIM.mac, ATTACKER.ip, VICTIM.ip, 5355, 53010, v4) });
  frames.push(responderLlmnr(ATTACKER, VICTIM, 53010, 41, 'backupsrv', 3.002));
  frames.push(llmnrQuery(VICTIM, 53011, 42, 'sqlsrv', 3.5));
  frames.push(responderLlmnr(ATTACKER, VICTIM, 53011, 42, 'sqlsrv', 3.501));
  const blob = Buffer.concat([Buffer.alloc(80, 0), ntlmAuthenticateMessage({ user: 'bob', domain: 'CORP', ntResponse: Buffer.alloc(64, 0x43) })]);
  frames.push({ t: 4, frame: tcpFrame(VICTIM6.mac, ATTACKER6.mac, VICTIM6.ip, ATTACKER6.ip, 49800, 445, 1000, 2000, TCP_PSH | TCP_ACK, blob) });
  const { findings } = await scanFrames(frames);
  const f = findings.find((x) => x.rule_id === 'llmnr-nbtns-poisoning' && hasEntity(x, 'ip', ATTACKER6.ip, 'attacker') && x.message.includes('over IPv6'));
  assert.ok(f, describe(findings));
  assert.equal(f.severity, 'critical', describe([f]));
  assert.deepEqual(f.attack.techniques, ['T1557.001']);
  assert.ok(hasEntity(f, 'mac', ATTACKER6.mac, 'attacker'));
  assert.ok(hasEntity(f, 'ip', VICTIM6.ip, 'victim'));
  for (const n of ['fileserv', 'wpad']) assert.ok(hasEntity(f, 'host', n, 'poisoned-name'), n);
  assert.match(f.message, /Responder's LLMNR_Ans\/LLMNR6_Ans/);
  assert.match(f.message, /fe80::a8c1:10ff:fe00:10 then sent NTLM authentication as CORP\\bob to it on TCP port 445/);
  // Over IPv4 the same station answered with its IPv4 and, for the AAAA question, its IPv6 address.
  const g = findings.find((x) => x.rule_id === 'llmnr-nbtns-poisoning' && hasEntity(x, 'ip', ATTACKER.ip, 'attacker'));
  assert.ok(g, describe(findings));
  assert.ok(hasEntity(g, 'ip', ATTACKER6.ip, 'attacker'), describe([g]));
  assert.ok(hasEntity(g, 'host', 'backupsrv', 'poisoned-name') && hasEntity(g, 'host', 'sqlsrv', 'poisoned-name'), describe([g]));
});

test('IPv6 mDNS poisoning in Responder layout is reported with the IPv6 victim', async () => {
  const frames: TimedFrame[] = [];
  ['nas.local', 'printer.local'].forEach((name, i) => {
    frames.push(mdns6Query(VICTIM6, name, i));
    frames.push(responderMdns6(ATTACKER6, VICTIM6, name, i + 0.001));
  });
  const { findings } = await scanFrames(frames);
  const f = findings.find((x) => x.rule_id === 'llmnr-nbtns-poisoning');
  assert.ok(f && f.severity === 'high', describe(findings));
  assert.ok(hasEntity(f, 'ip', ATTACKER6.ip, 'attacker'));
  assert.ok(hasEntity(f, 'mac', ATTACKER6.mac, 'attacker'));
  assert.ok(hasEntity(f, 'ip', VICTIM6.ip, 'victim'));
  assert.ok(hasEntity(f, 'host', 'nas.local', 'poisoned-name'));
  assert.match(f.message, /mDNS queries over IPv6 for 2 different name\(s\)/);
  assert.match(f.message, /MDNS6_Ans/);
});

test('benign: a host answering only its own name over IPv6 mDNS and LLMNR, and announcing it, stays quiet', async () => {
  const frames: TimedFrame[] = [];
  let t = 0;
  /** The printer's own name with both of its addresses, as Avahi and Bonjour answer. */
  const own = (name: string): Buffer =>
    ipv6UdpFrame(
      PRINTER6.mac,
      MDNS6_MAC,
      PRINTER6.ip,
      MDNS6_GROUP,
      5353,
      5353,
      dnsMessage({
        id: 0,
        flags: 0x8400,
        answers: [
          { name, type: TYPE_AAAA, cls: 0x8001, ttl: 120, data: aaaa(PRINTER6.ip) },
          { name, type: TYPE_A, cls: 0x8001, ttl: 120, data: PRINTER.ip },
        ],
      }),
      255,
    );
  for (let round = 0; round < 4; round++) {
    frames.push(mdns6Query(VICTIM6, 'printer1.local', (t += 1)));
    frames.push({ t: (t += 0.001), frame: own('printer1.local') });
    // The same host by LLMNR over IPv6, its own name only, answered the way systemd-resolved does.
    frames.push(llmnr6Query(VICTIM6, 54000 + round, 200 + round, 'printer1', (t += 1)));
    const payload = dnsMessage({ id: 200 + round, flags: 0x8000, questions: [{ name: 'printer1', type: TYPE_AAAA }], answers: [{ name: 'printer1', type: TYPE_AAAA, ttl: 30, data: aaaa(PRINTER6.ip) }], compress: true });
    frames.push({ t: (t += 0.001), frame: ipv6UdpFrame(PRINTER6.mac, VICTIM6.mac, PRINTER6.ip, VICTIM6.ip, 5355, 54000 + round, payload) });
    // Nobody owns this name: the query goes unanswered.
    frames.push(llmnr6Query(VICTIM6, 54100 + round, 300 + round, `nosuchhost${round}`, (t += 1)));
  }
  // Unsolicited announcements of several of its service names.
  for (const n of ['a.local', 'b.local', 'c.local']) frames.push({ t: (t += 0.5), frame: own(n) });
  const { findings, errors } = await scanFrames(frames);
  assert.deepEqual(errors, []);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
});

const RESOLVER6: Host6 = { mac: GW.mac, ip: 'fd00:53::1' };
const CLIENT6: Host6 = { mac: VICTIM.mac, ip: 'fd00:53::10' };

function query6(client: Host6, server: Host6, sport: number, id: number, name: string, t: number, type = TYPE_AAAA): TimedFrame {
  return { t, frame: ipv6UdpFrame(client.mac, server.mac, client.ip, server.ip, sport, 53, dnsMessage({ id, flags: 0x0100, questions: [{ name, type }] })) };
}

function answer6(fromMac: string, fromIp: string, client: Host6, sport: number, id: number, name: string, addrs: string[], t: number, ttl = 300): TimedFrame {
  const answers = addrs.map((a): DnsRecordSpec => ({ name, type: TYPE_AAAA, data: aaaa(a), ttl }));
  return { t, frame: ipv6UdpFrame(fromMac, client.mac, fromIp, client.ip, 53, sport, dnsMessage({ id, flags: 0x8180, questions: [{ name, type: TYPE_AAAA }], answers, compress: true })) };
}

test('DNS race over IPv6: the spoofer answering AAAA as the resolver from another MAC is named, addresses in canonical text', async () => {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 3; i++) {
    frames.push(query6(CLIENT6, RESOLVER6, 44000 + i, 500 + i, `host${i}.example`, i));
    frames.push(answer6(RESOLVER6.mac, RESOLVER6.ip, CLIENT6, 44000 + i, 500 + i, `host${i}.example`, [`2001:db8::${100 + i}`], i + 0.01));
  }
  frames.push(query6(CLIENT6, RESOLVER6, 44100, 0x6666, 'intranet.example', 10));
  frames.push(answer6(ATTACKER.mac, RESOLVER6.ip, CLIENT6, 44100, 0x6666, 'intranet.example', ['fd00:53:0:0:0:0:0:66'], 10.001, 60));
  frames.push(answer6(RESOLVER6.mac, RESOLVER6.ip, CLIENT6, 44100, 0x6666, 'intranet.example', ['2001:db8::50'], 10.004));
  const { findings } = await scanFrames(frames);
  const race = findings.find((f) => f.rule_id === 'dns-spoofed-response-race');
  assert.ok(race && race.severity === 'high', describe(findings));
  assert.ok(hasEntity(race, 'mac', ATTACKER.mac, 'attacker'), describe([race]));
  assert.ok(hasEntity(race, 'ip', RESOLVER6.ip, 'impersonated'));
  assert.ok(hasEntity(race, 'mac', RESOLVER6.mac, 'server'));
  assert.ok(hasEntity(race, 'ip', CLIENT6.ip, 'victim'));
  assert.ok(hasEntity(race, 'ip', 'fd00:53::66', 'spoofed-answer'), 'answers in RFC 5952 text');
  assert.ok(hasEntity(race, 'ip', '2001:db8::50', 'legitimate-answer'));
  assert.match(race.message, /answered for the server before/);
  const mac = findings.find((f) => f.rule_id === 'dns-response-from-unqueried-server');
  assert.ok(mac && hasEntity(mac, 'mac', ATTACKER.mac, 'attacker') && hasEntity(mac, 'ip', RESOLVER6.ip, 'impersonated'), describe(findings));
});

test('benign: a DNS server answering A and AAAA over IPv6, retransmissions included, stays quiet', async () => {
  const frames: TimedFrame[] = [];
  let t = 0;
  for (let i = 0; i < 20; i++) {
    const name = `svc${i % 5}.example`;
    frames.push(query6(CLIENT6, RESOLVER6, 45000 + i, 700 + i, name, (t += 0.5)));
    if (i % 4 === 0) frames.push(query6(CLIENT6, RESOLVER6, 45000 + i, 700 + i, name, (t += 0.2)));
    frames.push(answer6(RESOLVER6.mac, RESOLVER6.ip, CLIENT6, 45000 + i, 700 + i, name, [`2001:db8::${i % 5}`, `2001:db8::1:${i % 5}`], (t += 0.01), 300 - i));
    frames.push(query6(CLIENT6, RESOLVER6, 46000 + i, 900 + i, name, (t += 0.1), TYPE_A));
    const a = dnsMessage({ id: 900 + i, flags: 0x8180, questions: [{ name, type: TYPE_A }], answers: [{ name, type: TYPE_A, data: `198.18.5.${i % 5}` }], compress: true });
    frames.push({ t: (t += 0.01), frame: ipv6UdpFrame(RESOLVER6.mac, CLIENT6.mac, RESOLVER6.ip, CLIENT6.ip, 53, 46000 + i, a) });
  }
  const { findings, errors } = await scanFrames(frames);
  assert.deepEqual(errors, []);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
});

// ---- answers pointing at a Neighbor Discovery spoofer -------------------------

/** The router's addresses: its link-local and the global one it also serves DNS on. */
const ROUTER_LL = 'fe80::1';
/** The attacker's own global address (not EUI-64: only Neighbor Discovery ties it to its MAC). */
const ATTACKER_G: Host6 = { mac: ATTACKER.mac, ip: 'fd00:53::66' };

/** The router answers the victims' solicitations for both of its addresses, with the Router flag. */
function routerResolved(t: number): TimedFrame[] {
  return [ROUTER_LL, RESOLVER6.ip].flatMap((ip, i) => [
    { t: t + i * 0.01, frame: neighborSolicitFrame(CLIENT6.mac, CLIENT6.ip, ip) },
    { t: t + i * 0.01 + 0.001, frame: neighborAdvertFrame(GW.mac, ip, { target: ip, targetMac: GW.mac, router: true, solicited: true, override: true }, CLIENT6.mac, CLIENT6.ip) },
  ]);
}

/** bettercap ndp.spoof: unsolicited Override advertisements of a router address with the attacker's MAC, sent as the router to the victim. */
function ndpSpoof(t: number, target: string, victim: Host6 = CLIENT6, from = target): TimedFrame {
  return { t, frame: neighborAdvertFrame(ATTACKER.mac, from, { target, targetMac: ATTACKER.mac, router: true, override: true }, victim.mac, victim.ip) };
}

function contestedOf(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.rule_id === 'dns-answer-points-to-contested-host');
}

test('after a Neighbor Discovery takeover, a DNS AAAA answer pointing at the spoofer is reported with its IPv6 address; one pointing at the address it took is not', async () => {
  const frames: TimedFrame[] = [
    ...routerResolved(0),
    // The attacker resolves the victim from its own address: that address is bound to its MAC.
    { t: 0.5, frame: neighborSolicitFrame(ATTACKER.mac, ATTACKER_G.ip, CLIENT6.ip) },
  ];
  for (let i = 0; i < 3; i++) frames.push(ndpSpoof(1 + i, RESOLVER6.ip));
  frames.push(query6(CLIENT6, RESOLVER6, 44200, 0x7701, 'intranet.lan', 5));
  frames.push(answer6(RESOLVER6.mac, RESOLVER6.ip, CLIENT6, 44200, 0x7701, 'intranet.lan', [ATTACKER_G.ip], 5.001));
  // The router's own name at the router's address: a true answer, although the attacker took that binding.
  frames.push(query6(CLIENT6, RESOLVER6, 44201, 0x7702, 'gw.lan', 6));
  frames.push(answer6(RESOLVER6.mac, RESOLVER6.ip, CLIENT6, 44201, 0x7702, 'gw.lan', [RESOLVER6.ip], 6.001));
  const { findings, errors } = await scanFrames(frames);
  assert.deepEqual(errors, []);
  assert.ok(findings.some((f) => f.rule_id === 'ndp-router-impersonation' && hasEntity(f, 'mac', ATTACKER.mac, 'attacker')), describe(findings));
  const contested = contestedOf(findings);
  assert.equal(contested.length, 1, describe(findings));
  const f = contested[0]!;
  assert.equal(f.severity, 'high');
  assert.ok(hasEntity(f, 'ip', ATTACKER_G.ip, 'attacker'), describe([f]));
  assert.ok(hasEntity(f, 'mac', ATTACKER.mac, 'attacker'), describe([f]));
  assert.ok(hasEntity(f, 'ip', CLIENT6.ip, 'victim'));
  assert.ok(hasEntity(f, 'host', 'intranet.lan', 'queried-name'));
  assert.ok(!hasEntity(f, 'host', 'gw.lan'), describe([f]));
  assert.equal(f.confidence, 0.85, 'a .lan name is internal');
  assert.match(f.message, /intranet\.lan \(an internal name\) is at fd00:53::66 \(02:00:00:00:00:66\), a station that took over an IPv6 neighbor binding/);
});

test('after a Neighbor Discovery takeover sent from the spoofer own link-local address, an LLMNR AAAA answer pointing at that address is reported', async () => {
  const frames: TimedFrame[] = [...routerResolved(0)];
  // fake_advertise6-style: the advertisement's source is the attacker's own address, its target the router's.
  for (let i = 0; i < 2; i++) frames.push(ndpSpoof(1 + i, ROUTER_LL, VICTIM6, ATTACKER6.ip));
  frames.push(llmnr6Query(VICTIM6, 55000, 60, 'fileserv', 5));
  frames.push(responderLlmnr6(ATTACKER6, VICTIM6, 55000, 60, 'fileserv', 5.001));
  const { findings } = await scanFrames(frames);
  const contested = contestedOf(findings);
  assert.equal(contested.length, 1, describe(findings));
  const f = contested[0]!;
  assert.ok(hasEntity(f, 'ip', ATTACKER6.ip, 'attacker'), describe([f]));
  assert.ok(hasEntity(f, 'ip', VICTIM6.ip, 'victim'), describe([f]));
  assert.ok(hasEntity(f, 'host', 'fileserv', 'queried-name'));
  assert.match(f.message, /^LLMNR answer from fe80::dead:beef:66 tells fe80::a8c1:10ff:fe00:10 that fileserv \(an internal name\) is at fe80::dead:beef:66/);
});

test('a DNS race over IPv6 where both answers come through the spoofer: the one pointing at the Neighbor Discovery spoofer is the forgery', async () => {
  // The forgery comes first from the attacker's MAC, the resolver's own answer after it; the capture holds no earlier answer of the resolver.
  const race = (t: number, id: number): TimedFrame[] => [
    query6(CLIENT6, RESOLVER6, 44300 + id, id, 'intranet.lan', t),
    answer6(ATTACKER.mac, RESOLVER6.ip, CLIENT6, 44300 + id, id, 'intranet.lan', [ATTACKER_G.ip], t + 0.001),
    answer6(RESOLVER6.mac, RESOLVER6.ip, CLIENT6, 44300 + id, id, 'intranet.lan', ['2001:db8::50'], t + 0.004),
  ];
  const attacked: TimedFrame[] = [...routerResolved(0), { t: 0.5, frame: neighborSolicitFrame(ATTACKER.mac, ATTACKER_G.ip, CLIENT6.ip) }];
  for (let i = 0; i < 3; i++) attacked.push(ndpSpoof(1 + i, RESOLVER6.ip));
  const { findings } = await scanFrames([...attacked, ...race(5, 1)]);
  const f = findings.find((x) => x.rule_id === 'dns-spoofed-response-race');
  assert.ok(f, describe(findings));
  assert.ok(hasEntity(f, 'ip', ATTACKER_G.ip, 'spoofed-answer'), describe([f]));
  assert.ok(hasEntity(f, 'ip', '2001:db8::50', 'legitimate-answer'), describe([f]));
  assert.match(f.message, /it points at fd00:53::66, a station that recently took over an IPv6 neighbor binding/);
  // The same race without the takeover: nothing in the capture tells the two answers apart.
  const unclear = (await scanFrames([...routerResolved(0), ...race(5, 1)])).findings.find((x) => x.rule_id === 'dns-spoofed-response-race');
  assert.ok(unclear, 'the race is still reported');
  assert.match(unclear.message, /which one is forged is unclear from this capture/, describe([unclear]));
  assert.ok(!unclear.entities.some((e) => e.role === 'spoofed-answer'), describe([unclear]));
});

test('benign: the same AAAA answers without a Neighbor Discovery takeover point at no contested host', async () => {
  const frames: TimedFrame[] = [
    ...routerResolved(0),
    { t: 0.5, frame: neighborSolicitFrame(ATTACKER.mac, ATTACKER_G.ip, CLIENT6.ip) },
    // The attacker's link-local is known too, from an advertisement of its own.
    { t: 0.6, frame: neighborAdvertFrame(ATTACKER.mac, ATTACKER6.ip, { target: ATTACKER6.ip, targetMac: ATTACKER.mac, solicited: true, override: true }, VICTIM6.mac, VICTIM6.ip) },
    query6(CLIENT6, RESOLVER6, 44200, 0x7701, 'intranet.lan', 5),
    answer6(RESOLVER6.mac, RESOLVER6.ip, CLIENT6, 44200, 0x7701, 'intranet.lan', [ATTACKER_G.ip], 5.001),
    llmnr6Query(VICTIM6, 55000, 60, 'fileserv', 6),
    responderLlmnr6(ATTACKER6, VICTIM6, 55000, 60, 'fileserv', 6.001),
  ];
  const { findings, errors } = await scanFrames(frames);
  assert.deepEqual(errors, []);
  assert.deepEqual(contestedOf(findings), [], describe(findings));
  assert.ok(!findings.some((f) => f.rule_id.startsWith('ndp-')), describe(findings));
});

test('mitm6: after a rogue DHCPv6 server names itself the DNS server, its AAAA answers pointing at itself are reported as pointing at a contested host', async () => {
  const attackerLl = 'fe80::666';
  const solicit = (t: number): TimedFrame => ({ t, frame: ipv6UdpFrame(CLIENT6.mac, '33:33:00:01:00:02', 'fe80::10', 'ff02::1:2', 546, 547, dhcpv6Payload({ msgType: 1, xid: 7, clientDuid: duidLl(CLIENT6.mac) })) });
  const advertise: TimedFrame = {
    t: 0.01,
    frame: ipv6UdpFrame(ATTACKER.mac, CLIENT6.mac, attackerLl, 'fe80::10', 547, 546, dhcpv6Payload({
      msgType: 2,
      xid: 7,
      clientDuid: duidLl(CLIENT6.mac),
      serverDuid: duidLl(ATTACKER.mac),
      iaNa: { iaid: 1, t1: 200, t2: 250, addresses: [{ address: 'fe80::198:18:0:10', preferred: 300, valid: 300 }] },
      dns: [attackerLl],
    })),
  };
  const victimLl: Host6 = { mac: CLIENT6.mac, ip: 'fe80::10' };
  const mitm6: Host6 = { mac: ATTACKER.mac, ip: attackerLl };
  const lookup = [query6(victimLl, mitm6, 50000, 0x1234, 'wpad.corp.example', 2), answer6(ATTACKER.mac, attackerLl, victimLl, 50000, 0x1234, 'wpad.corp.example', [attackerLl], 2.001)];
  const { findings } = await scanFrames([solicit(0), advertise, ...lookup]);
  assert.ok(findings.some((f) => f.rule_id === 'ipv6-rogue-dhcpv6' && f.severity === 'critical'), describe(findings));
  const hit = contestedOf(findings);
  assert.equal(hit.length, 1, describe(findings));
  assert.ok(hasEntity(hit[0]!, 'ip', attackerLl, 'attacker'), describe(hit));
  assert.ok(hasEntity(hit[0]!, 'ip', 'fe80::10', 'victim'), describe(hit));
  assert.match(hit[0]!.message, /wpad\.corp\.example is at fe80::666 \(02:00:00:00:00:66\), a station that answered DHCPv6 as a rogue server 2 s earlier/);
  assert.ok(hasEntity(hit[0]!, 'mac', ATTACKER.mac, 'attacker'), describe(hit));
  // The same lookup answered by a server nobody contested raises nothing of the kind.
  assert.deepEqual(contestedOf((await scanFrames(lookup)).findings), []);
});

// ---- IPv6 addresses in the names section ----------------------------------------

const SECOND6: Host6 = { mac: SECOND_RESOLVER.mac, ip: 'fd00:53::2' };

test('names.dns_servers with an IPv6 resolver: in a race its answer is the legitimate one', async () => {
  // The client asks both resolvers with one id; they answer differently and nothing else tells them apart.
  const frames: TimedFrame[] = [
    query6(CLIENT6, RESOLVER6, 44300, 0x88, 'files.example', 1),
    query6(CLIENT6, SECOND6, 44300, 0x88, 'files.example', 1.0005),
    answer6(SECOND6.mac, SECOND6.ip, CLIENT6, 44300, 0x88, 'files.example', ['fd00:53::99'], 1.001),
    answer6(RESOLVER6.mac, RESOLVER6.ip, CLIENT6, 44300, 0x88, 'files.example', ['2001:db8::50'], 1.002),
  ];
  const unclear = (await scanFrames(frames)).findings.find((f) => f.rule_id === 'dns-spoofed-response-race');
  assert.ok(unclear && unclear.confidence === 0.4, describe(unclear ? [unclear] : []));
  const config = parseConfig(`names:\n  dns_servers: [${RESOLVER6.ip}]\n`, 'test.yml', CONFIG_SECTIONS);
  const { findings } = await scanFrames(frames, config);
  const race = findings.find((f) => f.rule_id === 'dns-spoofed-response-race');
  assert.ok(race, describe(findings));
  assert.match(race.message, /the likely spoofed one is fd00:53::99 from fd00:53::2 .*it does not come from a configured DNS server/);
  assert.ok(hasEntity(race, 'mac', SECOND6.mac, 'attacker'), describe([race]));
  assert.ok(hasEntity(race, 'ip', '2001:db8::50', 'legitimate-answer'));
  assert.ok(hasEntity(race, 'ip', RESOLVER6.ip, 'server'));
  assert.ok(!race.entities.some((e) => e.role === 'attacker' && (e.value === RESOLVER6.mac || e.value === RESOLVER6.ip)), describe([race]));
});

test('names.responders with an IPv6 address: that host answering LLMNR and mDNS for many names raises nothing medium or above', async () => {
  const WINS6: Host6 = { mac: PRINTER.mac, ip: 'fd00:53::5' };
  const frames: TimedFrame[] = [];
  ['alpha', 'bravo', 'charlie', 'delta'].forEach((name, i) => {
    frames.push(llmnr6Query(VICTIM6, 56000 + i, 70 + i, name, i));
    frames.push(responderLlmnr6(WINS6, VICTIM6, 56000 + i, 70 + i, name, i + 0.001));
    frames.push(mdns6Query(VICTIM6, `${name}.local`, i + 0.5));
    frames.push(responderMdns6(WINS6, VICTIM6, `${name}.local`, i + 0.501));
  });
  const flagged = await scanFrames(frames);
  assert.ok(atLeast(flagged.findings, 'medium').some((f) => f.rule_id === 'llmnr-nbtns-poisoning' && hasEntity(f, 'ip', WINS6.ip, 'attacker')), describe(flagged.findings));
  const config = parseConfig(`names:\n  responders: [${WINS6.ip}]\n`, 'test.yml', CONFIG_SECTIONS);
  const { findings, errors } = await scanFrames(frames, config);
  assert.deepEqual(errors, []);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
});

// ---- race attribution without history (capture started mid-attack) -------

/** A query with the RD and AD bits dig sets, optionally with an EDNS OPT record. */
function digQuery(client: Host, serverMac: string, server: string, sport: number, id: number, name: string, fromMac = client.mac): Buffer {
  return ipv4UdpFrameWith(fromMac, serverMac, client.ip, server, sport, 53, dnsMessage({ id, flags: 0x0120, questions: [{ name, type: TYPE_A }] }), { ttl: 64, df: true });
}

/** dnsmasq on Linux: flags QR AA RD RA, its own TTL, sent from a UDP socket (DF set, IP id 0). */
function dnsmasqAnswer(client: Host, sport: number, id: number, name: string, addr: string): Buffer {
  const payload = dnsMessage({ id, flags: 0x8580, questions: [{ name, type: TYPE_A }], answers: [{ name, type: TYPE_A, ttl: 0, data: addr }], compress: true });
  return ipv4UdpFrameWith(GW.mac, client.mac, GW.ip, client.ip, 53, sport, payload, { ttl: 64, df: true, id: 0 });
}

/** dsniff dnsspoof: the query copied with QR and RA set, one A record at 0xc00c with TTL 60; libnet raw IPv4, TTL 64, no DF, random id. */
function dnsspoofAnswer(client: Host, sport: number, id: number, name: string, addr: string, ipId: number): Buffer {
  const payload = dnsMessage({ id, flags: 0x0120 | 0x8080, questions: [{ name, type: TYPE_A }], answers: [{ name, type: TYPE_A, ttl: 60, data: addr }], compress: true });
  return ipv4UdpFrameWith(ATTACKER.mac, client.mac, GW.ip, client.ip, 53, sport, payload, { ttl: 64, df: false, id: ipId });
}

/** bettercap dns.spoof: flags 0x8000, questions echoed, the record name written out, TTL 1024; gopacket IPv4 with id 0 and no DF. */
function bettercapAnswer(client: Host, sport: number, id: number, name: string, addr: string): Buffer {
  const payload = dnsMessage({ id, flags: 0x8000, questions: [{ name, type: TYPE_A }], answers: [{ name, type: TYPE_A, ttl: 1024, data: addr }] });
  return ipv4UdpFrameWith(ATTACKER.mac, client.mac, GW.ip, client.ip, 53, sport, payload, { ttl: 64, df: false, id: 0 });
}

test('mid-attack dnsspoof: with no earlier answers, the relayed query and the tool layout name the spoofer even when the real answer comes first', async () => {
  // The victim is already poisoned: its queries go to the attacker's MAC, which forwards them to the resolver.
  const frames: TimedFrame[] = [];
  let t = 0;
  for (const [i, name] of ['intranet.example', 'files.intranet.example'].entries()) {
    const sport = 47000 + i;
    frames.push({ t: (t += 1), frame: digQuery(VICTIM, ATTACKER.mac, GW.ip, sport, 0x100 + i, name) });
    frames.push({ t: (t += 0.0002), frame: digQuery(VICTIM, GW.mac, GW.ip, sport, 0x100 + i, name, ATTACKER.mac) });
    frames.push({ t: (t += 0.0003), frame: dnsmasqAnswer(VICTIM, sport, 0x100 + i, name, `198.18.0.${50 + i}`) });
    frames.push({ t: (t += 0.001), frame: dnsspoofAnswer(VICTIM, sport, 0x100 + i, name, ATTACKER.ip, 0x3a7c + i * 977) });
  }
  const { findings } = await scanFrames(frames);
  const races = findings.filter((f) => f.rule_id === 'dns-spoofed-response-race');
  assert.equal(races.length, 1, describe(findings));
  const race = races[0]!;
  assert.equal(race.count, 2);
  assert.ok(hasEntity(race, 'mac', ATTACKER.mac, 'attacker'), describe([race]));
  assert.ok(hasEntity(race, 'mac', GW.mac, 'server'));
  assert.ok(hasEntity(race, 'ip', ATTACKER.ip, 'spoofed-answer'));
  assert.ok(hasEntity(race, 'ip', '198.18.0.50', 'legitimate-answer'));
  assert.equal(race.confidence, 0.8, race.message);
  assert.match(race.message, /also relayed the client's query/);
  assert.match(race.message, /dsniff dnsspoof/);

  // Without the relayed copy (the capture sees only the answers), the layout alone still points at it, with less confidence.
  const bare = frames.filter((_, i) => i % 4 !== 1);
  const b = (await scanFrames(bare)).findings.find((f) => f.rule_id === 'dns-spoofed-response-race');
  assert.ok(b && hasEntity(b, 'mac', ATTACKER.mac, 'attacker'), describe(b ? [b] : []));
  assert.equal(b.confidence, 0.6);
  assert.ok(!hasEntity(b, 'mac', GW.mac, 'attacker'));
});

test('mid-attack bettercap dns.spoof: the answer that drops RD and has its layout is named, even second', async () => {
  const frames: TimedFrame[] = [];
  let t = 0;
  for (let i = 0; i < 2; i++) {
    const sport = 48000 + i;
    frames.push({ t: (t += 1), frame: digQuery(VICTIM, ATTACKER.mac, GW.ip, sport, 0x200 + i, 'intranet.example') });
    frames.push({ t: (t += 0.0003), frame: dnsmasqAnswer(VICTIM, sport, 0x200 + i, 'intranet.example', '198.18.0.50') });
    frames.push({ t: (t += 0.002), frame: bettercapAnswer(VICTIM, sport, 0x200 + i, 'intranet.example', ATTACKER.ip) });
  }
  const { findings } = await scanFrames(frames);
  const race = findings.find((f) => f.rule_id === 'dns-spoofed-response-race');
  assert.ok(race, describe(findings));
  assert.ok(hasEntity(race, 'mac', ATTACKER.mac, 'attacker'), describe([race]));
  assert.ok(hasEntity(race, 'ip', GW.ip, 'impersonated'));
  assert.ok(hasEntity(race, 'ip', ATTACKER.ip, 'spoofed-answer'));
  assert.equal(race.confidence, 0.8, race.message);
  assert.match(race.message, /does not copy the query's RD bit/);
  assert.match(race.message, /bettercap dns\.spoof's answers .*its default TTL 1024 s/);
});

test('mid-attack on-path spoofer that drops the queries it answers and relays the others: the resolver is never blamed', async () => {
  // ettercap arp:remote with dns_spoof: a spoofed name's query is answered in the resolver's name and dropped,
  // another name's query is relayed to the resolver, whose answer comes back through the attacker.
  const answerFrom = (fromMac: string, toMac: string, sport: number, id: number, name: string, addr: string, ttl: number, df: boolean): Buffer =>
    ipv4UdpFrameWith(fromMac, toMac, GW.ip, VICTIM.ip, 53, sport, dnsMessage({ id, flags: 0x8580, questions: [{ name, type: TYPE_A }], answers: [{ name, type: TYPE_A, ttl: 0, data: addr }], compress: true }), { ttl, df });
  const frames: TimedFrame[] = [];
  let t = 0;
  for (let i = 0; i < 3; i++) {
    const spoofed = 50000 + 2 * i;
    frames.push({ t: (t += 1), frame: digQuery(VICTIM, ATTACKER.mac, GW.ip, spoofed, 0x400 + i, 'intranet.example') });
    frames.push({ t: (t += 0.001), frame: answerFrom(ATTACKER.mac, VICTIM.mac, spoofed, 0x400 + i, 'intranet.example', ATTACKER.ip, 64, false) });
    const relayed = spoofed + 1;
    frames.push({ t: (t += 0.5), frame: digQuery(VICTIM, ATTACKER.mac, GW.ip, relayed, 0x500 + i, 'files.corp.example') });
    frames.push({ t: (t += 0.0002), frame: digQuery(VICTIM, GW.mac, GW.ip, relayed, 0x500 + i, 'files.corp.example', ATTACKER.mac) });
    frames.push({ t: (t += 0.0003), frame: answerFrom(GW.mac, ATTACKER.mac, relayed, 0x500 + i, 'files.corp.example', '198.18.0.51', 64, true) });
    frames.push({ t: (t += 0.0003), frame: answerFrom(ATTACKER.mac, VICTIM.mac, relayed, 0x500 + i, 'files.corp.example', '198.18.0.51', 64, true) });
  }
  const { findings } = await scanFrames(frames);
  assertNotBlamed(findings, GW, 'the resolver');
  const f = findings.find((x) => x.rule_id === 'dns-response-from-unqueried-server');
  assert.ok(f && f.severity === 'medium', describe(findings));
  assert.ok(hasEntity(f, 'mac', ATTACKER.mac, 'attacker'), describe([f]));
  assert.ok(hasEntity(f, 'ip', GW.ip, 'impersonated'));
  assert.ok(hasEntity(f, 'mac', GW.mac, 'server'));
  assert.ok(hasEntity(f, 'host', 'intranet.example', 'queried-name'), 'the spoofed answers after the relayed exchange are reported too');
  assert.ok(hasEntity(f, 'ip', ATTACKER.ip, 'answer'));
});

test('a race nothing in the capture can settle says so, names no attacker and has low confidence', async () => {
  const frames: TimedFrame[] = [
    query(VICTIM, GW, 49000, 0x300, 'split.example', 1),
    answer(GW.mac, GW.ip, VICTIM, 49000, 0x300, 'split.example', ['198.18.0.70'], 1.001),
    answer(SECOND_RESOLVER.mac, GW.ip, VICTIM, 49000, 0x300, 'split.example', ['198.18.0.71'], 1.002),
  ];
  const { findings } = await scanFrames(frames);
  const race = findings.find((f) => f.rule_id === 'dns-spoofed-response-race');
  assert.ok(race, describe(findings));
  assert.match(race.message, /which one is forged is unclear from this capture/);
  assert.equal(race.confidence, 0.4);
  assert.ok(!race.entities.some((e) => e.role === 'attacker'), describe([race]));
  assert.ok(hasEntity(race, 'mac', GW.mac, 'suspect') && hasEntity(race, 'mac', SECOND_RESOLVER.mac, 'suspect'));
});

test('address book: IPv6 ids are stable, text is canonical, the least recently used address is forgotten first', () => {
  const book = new AddrBook(4);
  const addr = (i: number): Buffer => ipv6Bytes(`fd00:0:0:0:0:0:0:${(i + 1).toString(16)}`);
  const ids = [0, 1, 2, 3].map((i) => book.intern(addr(i), 0));
  assert.ok(ids.every(isIp6Id) && new Set(ids).size === 4);
  assert.equal(book.text(ids[2]!), 'fd00::3');
  assert.equal(book.text(parseIp4('198.18.0.1')!), '198.18.0.1', 'IPv4 addresses are their own ids');
  // Using the oldest again moves it to the newest end: the next new address forgets the second oldest instead.
  assert.equal(book.intern(addr(0), 0), ids[0]);
  book.intern(addr(4), 0);
  assert.equal(book.size, 4);
  assert.equal(book.find(addr(1), 0), -1);
  assert.equal(book.find(addr(0), 0), ids[0]);
  assert.equal(book.text(ids[0]!), 'fd00::1');
  // A forgotten address that comes back gets its old id, so older references still match it.
  assert.equal(book.intern(addr(1), 0), ids[1]);
  for (let i = 10; i < 200; i++) book.intern(addr(i), 0);
  assert.ok(book.size <= 4);
});

test('a flood of IPv6 queries from ever new addresses keeps the address book and the transactions bounded', async () => {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 20000; i++) {
    const client: Host6 = { mac: VICTIM.mac, ip: `fd00:1::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}` };
    frames.push(query6(client, RESOLVER6, 1024 + (i % 60000), i & 0xffff, `n${i}.example`, i * 0.0001));
  }
  const { stats, errors } = await scanFrames(frames);
  assert.deepEqual(errors, []);
  assert.ok(stats.stateEntries <= 2 * 16384 + 100, `state entries: ${stats.stateEntries}`);
});

test('config: the names section is validated, addresses of both families, a bad one located', () => {
  assert.throws(() => parseConfig('names:\n  dns_servers: [not-an-ip]\n', 'c.yml', CONFIG_SECTIONS), /dns_servers/);
  assert.throws(() => parseConfig('names:\n  resolvers: []\n', 'c.yml', CONFIG_SECTIONS), /unknown key 'resolvers'/);
  for (const [key, bad] of [
    ['dns_servers', 'fd00:53::zz'],
    ['responders', 'fe80::1::2'],
    ['dns_servers', '198.18.0.256'],
  ]) {
    assert.throws(
      () => parseConfig(`names:\n  ${key}: [198.18.0.1, "${bad}"]\n`, 'c.yml', CONFIG_SECTIONS),
      (e: unknown) => e instanceof ConfigError && e.message === `c.yml: names.${key}: '${bad}' is not an IPv4 or IPv6 address`,
    );
  }
  const cfg = parseConfig('names:\n  dns_servers: [198.18.0.1, fd00:53::1, "FD00:53:0::1"]\n  responders: [fe80::5]\n  internal_suffixes: [.Corp.Example.]\n', 'c.yml', CONFIG_SECTIONS);
  const names = cfg.sections.get('names') as { dnsServers: { ip4: number[]; ip6: Buffer[] }; responders: { ip4: number[]; ip6: Buffer[] }; internalSuffixes: string[] };
  assert.deepEqual(names.dnsServers.ip4, [parseIp4('198.18.0.1')!]);
  assert.deepEqual(names.dnsServers.ip6.map((b) => ip6ToString(b, 0)), ['fd00:53::1'], 'the same address written twice is listed once');
  assert.deepEqual(names.responders.ip6.map((b) => ip6ToString(b, 0)), ['fe80::5']);
  assert.deepEqual(names.internalSuffixes, ['corp.example']);
});

test('a query flood keeps the transaction table bounded and hostile messages never stop the scan', async () => {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 40000; i++) {
    const client: Host = { mac: VICTIM.mac, ip: `198.18.${(i >> 8) & 255}.${i & 255}` };
    frames.push(query(client, GW, 1024 + (i % 60000), i & 0xffff, `n${i}.example`, i * 0.0001));
  }
  // Garbage (65535 questions in 14 bytes) to every name-service port.
  for (const port of [53, 137, 5353, 5355]) frames.push({ t: 5, frame: ipv4UdpFrame(ATTACKER.mac, VICTIM.mac, ATTACKER.ip, VICTIM.ip, port, port, Buffer.from([0xc0, 0x0c, 0x81, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c])) });
  const { stats, findings, errors } = await scanFrames(frames, defaultConfig());
  assert.deepEqual(errors, []);
  assert.ok(stats.stateEntries <= 16384 + 100, `state entries: ${stats.stateEntries}`);
  const malformed = findings.filter((f) => f.rule_id === 'decode-malformed').map((f) => f.message);
  assert.deepEqual(malformed.sort(), ['malformed dns: record counts exceed what the message can hold', 'malformed nbns: record counts exceed what the message can hold'], describe(findings));
});
