import { test } from 'node:test';
import { createHmac } from 'node:crypto';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/config.js';
import { berElement, berInteger, ipv4UdpFrame, ipv6UdpFrame, snmpPayload, snmpV1TrapPayload, snmpV3Payload, type SnmpV3Options } from '../../src/craft/frames.js';
import { BerStatus, BerTlv, readBerInt, readTlv } from '../../src/decode/ber.js';
import { PDU_GET, PDU_GET_NEXT, PDU_RESPONSE, PDU_SET, PDU_TRAP_V2, SnmpDecode, SnmpMessage, decodeSnmp } from '../../src/decode/snmp.js';
import type { Finding } from '../../src/findings/finding.js';
import { scanCaptures } from '../../src/pipeline.js';
import { atLeast, describe, hasEntity, scanFrames, withTempDir, writePcap, type TimedFrame } from '../helpers/captures.js';
import { usmKey, usmLineMatches, type UsmHash } from '../helpers/challenge-response.js';
import { rng } from '../helpers/fuzz.js';

const MANAGER = { mac: '02:00:00:00:00:10', ip: '198.18.0.10' };
const AGENT = { mac: '02:00:00:00:00:20', ip: '198.18.0.20' };
const SECRET = 's3cretCommunity';
const RULE = 'cred-snmp-community';

function request(community: string, pdu: number, requestId: number, t: number, version: 0 | 1 = 1, dport = 161): TimedFrame {
  return { t, frame: ipv4UdpFrame(MANAGER.mac, AGENT.mac, MANAGER.ip, AGENT.ip, 40000, dport, snmpPayload({ version, community, pdu, requestId })) };
}

function response(community: string, requestId: number, t: number, errorStatus = 0, version: 0 | 1 = 1, sport = 161): TimedFrame {
  const payload = snmpPayload({ version, community, pdu: PDU_RESPONSE, requestId, errorStatus, varbinds: [{ oid: '1.3.6.1.2.1.1.5.0', value: berElement(0x04, Buffer.from('agent')) }] });
  return { t, frame: ipv4UdpFrame(AGENT.mac, MANAGER.mac, AGENT.ip, MANAGER.ip, sport, 40000, payload) };
}

function cred(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.rule_id === RULE);
}

function decode(payload: Buffer): { r: SnmpDecode; m: SnmpMessage } {
  const m = new SnmpMessage();
  return { r: decodeSnmp(payload, 0, payload.length, m), m };
}

/** The community must never appear in anything printed, except the redacted secret entry. */
function assertNoPlaintext(findings: readonly Finding[], community: string): void {
  for (const f of findings) {
    const visible = { ...f, secrets: undefined };
    assert.ok(!JSON.stringify(visible).includes(community), `community leaked into ${f.rule_id}: ${JSON.stringify(visible)}`);
    for (const s of f.secrets ?? []) assert.equal(s.value, undefined, 'secret shown without --show-secrets');
  }
}

// --- BER and SNMP decoding

test('BER: long-form lengths up to 4 bytes, never past the limit', () => {
  const t = new BerTlv();
  const value = Buffer.alloc(300, 7);
  const el = berElement(0x04, value);
  assert.equal(readTlv(el, 0, el.length, t), BerStatus.Ok);
  assert.deepEqual([t.tag, t.start, t.end], [0x04, 4, 304]);
  // Lengths that point past the data, however they are encoded.
  assert.equal(readTlv(Buffer.from([0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00]), 0, 7, t), BerStatus.Overrun);
  assert.equal(readTlv(Buffer.from([0x04, 0x82, 0x01]), 0, 3, t), BerStatus.Truncated);
  assert.equal(readTlv(Buffer.from([0x04, 0x05, 1, 2]), 0, 4, t), BerStatus.Overrun);
  // The limit of the enclosing element counts, not the buffer.
  assert.equal(readTlv(Buffer.from([0x04, 0x03, 1, 2, 3]), 0, 4, t), BerStatus.Overrun);
  assert.equal(readTlv(Buffer.from([0x04, 0x85, 0, 0, 0, 0, 1, 9]), 0, 8, t), BerStatus.BadLength);
  assert.equal(readTlv(Buffer.from([0x04, 0x80, 1, 0, 0]), 0, 5, t), BerStatus.BadLength);
  assert.equal(readTlv(Buffer.from([0x1f, 0x01, 0x00]), 0, 3, t), BerStatus.UnsupportedTag);
  assert.equal(readTlv(Buffer.from([0x04]), 0, 1, t), BerStatus.Truncated);
  assert.equal(readTlv(Buffer.from([0x04, 0x00]), 0, 99, t), BerStatus.Ok, 'a limit past the buffer is clamped');
});

test('BER: INTEGERs, signed, up to 32 bits', () => {
  for (const v of [0, 1, 127, 128, 255, 256, -1, -128, -129, 2147483647, -2147483648, 4294967295]) {
    const el = berInteger(v);
    assert.equal(readBerInt(el, 2, el.length), v, `value ${v}`);
  }
  assert.ok(Number.isNaN(readBerInt(Buffer.from([1, 2, 3, 4, 5, 6]), 0, 6)));
  assert.ok(Number.isNaN(readBerInt(Buffer.from([1, 2, 3, 4, 5]), 0, 5)), 'five bytes only with a zero pad');
  assert.ok(Number.isNaN(readBerInt(Buffer.alloc(0), 0, 0)));
});

test('SNMP: v1/v2c header fields, community location and exact layout', () => {
  const payload = snmpPayload({ version: 1, community: SECRET, pdu: PDU_GET_NEXT, requestId: 895734538 });
  const { r, m } = decode(payload);
  assert.equal(r, SnmpDecode.Ok);
  assert.equal(m.version, 1);
  assert.equal(payload.toString('latin1', m.communityStart, m.communityEnd), SECRET);
  assert.equal(m.pduType, PDU_GET_NEXT);
  assert.equal(m.requestId, 895734538);
  assert.equal(m.exact, true);
  // Trailing bytes after the message make it ambiguous, not malformed.
  const trailing = decode(Buffer.concat([payload, Buffer.from([0, 0])]));
  assert.equal(trailing.r, SnmpDecode.Ok);
  assert.equal(trailing.m.exact, false);
});

test('SNMP: v3 is recognised and has no community', () => {
  const { r, m } = decode(snmpV3Payload(42));
  assert.equal(r, SnmpDecode.Ok);
  assert.equal(m.version, 3);
  assert.equal(m.communityStart, -1);
});

test('SNMP: traps, and authenticationFailure in v1 and v2 form', () => {
  const v1 = decode(snmpV1TrapPayload('trapper', AGENT.ip, 4));
  assert.equal(v1.r, SnmpDecode.Ok);
  assert.equal(v1.m.authFailureTrap, true);
  assert.equal(v1.m.trapAgentAddr, 0xc6120014);
  assert.equal(decode(snmpV1TrapPayload('trapper', AGENT.ip, 0)).m.authFailureTrap, false);
  const v2 = snmpPayload({
    version: 1,
    community: 'trapper',
    pdu: PDU_TRAP_V2,
    requestId: 9,
    varbinds: [
      { oid: '1.3.6.1.2.1.1.3.0', value: berElement(0x43, Buffer.from([1])) },
      { oid: '1.3.6.1.6.3.1.1.4.1.0', value: Buffer.from([0x06, 0x09, 0x2b, 6, 1, 6, 3, 1, 1, 5, 5]) },
    ],
  });
  assert.equal(decode(v2).m.authFailureTrap, true);
});

test('SNMP: malformed BER (huge, indefinite, truncated lengths) is reported, never read past', () => {
  const good = snmpPayload({ version: 1, community: SECRET, pdu: PDU_GET, requestId: 7 });
  const cases: [string, Buffer][] = [
    ['message length 4 GiB', Buffer.concat([Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), good.subarray(2)])],
    ['indefinite message length', Buffer.concat([Buffer.from([0x30, 0x80]), good.subarray(2)])],
    ['community length past the message', (() => {
      const b = Buffer.from(good);
      b[6] = 0x7f; // community OCTET STRING length
      return b;
    })()],
    ['community with a 4-byte length', Buffer.from([0x30, 0x0b, 0x02, 0x01, 0x01, 0x04, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x41, 0x42])],
    ['unknown PDU tag', Buffer.from([0x30, 0x0a, 0x02, 0x01, 0x01, 0x04, 0x01, 0x41, 0xbf, 0x02, 0x02, 0x00])],
    ['PDU without request-id', Buffer.from([0x30, 0x09, 0x02, 0x01, 0x01, 0x04, 0x01, 0x41, 0xa0, 0x01, 0x05])],
    ['unknown version', Buffer.from([0x30, 0x05, 0x02, 0x01, 0x02, 0x04, 0x00])],
    ['truncated after the community', good.subarray(0, 6 + SECRET.length + 2)],
  ];
  for (const [name, b] of cases) {
    const { r, m } = decode(b);
    assert.equal(r, SnmpDecode.Malformed, name);
    assert.ok(m.malformed && m.malformed.length > 0, name);
  }
  assert.equal(decode(Buffer.from('GET / HTTP/1.0')).r, SnmpDecode.NotSnmp);
});

test('SNMP: random corruption of real messages never throws and stays in bounds', () => {
  const seeds = [
    snmpPayload({ version: 1, community: SECRET, pdu: PDU_GET, requestId: 1 }),
    snmpV1TrapPayload('x', AGENT.ip, 4),
    snmpV3Payload(5),
  ];
  let x = 12345;
  const rnd = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  const m = new SnmpMessage();
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(seeds[i % seeds.length]!);
    for (let k = 0; k <= rnd(4); k++) b[rnd(b.length)] = rnd(256);
    const cut = b.subarray(0, b.length - rnd(4));
    const r = decodeSnmp(cut, 0, cut.length, m);
    if (r === SnmpDecode.Ok && m.communityStart >= 0) assert.ok(m.communityEnd <= cut.length && m.communityStart <= m.communityEnd);
  }
});

// --- the analyzer, through the real pipeline

test('a secret community answered by the agent is high, with manager, agent and version, and never in clear', async () => {
  const { findings } = await scanFrames([request(SECRET, PDU_GET, 1001, 0.1), response(SECRET, 1001, 0.101)]);
  const hits = cred(findings);
  assert.equal(hits.length, 1, describe(findings));
  const f = hits[0]!;
  assert.equal(f.severity, 'high');
  assert.deepEqual(f.attack.techniques, ['T1040']);
  assert.deepEqual(f.attack.tactics, ['TA0006', 'TA0007']);
  assert.ok(hasEntity(f, 'ip', MANAGER.ip, 'client'));
  assert.ok(hasEntity(f, 'ip', AGENT.ip, 'server'));
  assert.ok(hasEntity(f, 'protocol', 'SNMPv2c', 'version'));
  assert.match(f.message, /accepted/);
  assert.equal(f.secrets?.length, 1);
  assert.equal(f.secrets![0]!.length, SECRET.length);
  assert.match(f.secrets![0]!.hash, /^[0-9a-f]{12}$/);
  assertNoPlaintext(findings, SECRET);
});

test('an unanswered secret community is medium and called likely wrong', async () => {
  const { findings } = await scanFrames([request('guessMe', PDU_GET, 5, 0.1), request('guessMe', PDU_GET, 6, 1.2)]);
  const f = cred(findings)[0];
  assert.ok(f, describe(findings));
  assert.equal(f.severity, 'medium');
  assert.match(f.message, /likely wrong/);
  assertNoPlaintext(findings, 'guessMe');
});

test("the well-known 'public' is low when answered, info when not", async () => {
  const answered = cred((await scanFrames([request('public', PDU_GET, 1, 0.1, 0), response('public', 1, 0.11, 0, 0)])).findings);
  assert.equal(answered.length, 1);
  assert.equal(answered[0]!.severity, 'low');
  assert.ok(hasEntity(answered[0]!, 'protocol', 'SNMPv1', 'version'));
  assert.match(answered[0]!.message, /well-known default/);
  const unanswered = cred((await scanFrames([request('public', PDU_GET, 1, 0.1)])).findings);
  assert.equal(unanswered[0]?.severity, 'info');
});

test('SetRequest: an accepted write is high, even with public; a refused one says so', async () => {
  const accepted = cred((await scanFrames([request('public', PDU_SET, 77, 0.1), response('public', 77, 0.11)])).findings);
  assert.equal(accepted[0]?.severity, 'high');
  assert.match(accepted[0]!.message, /SetRequest .*accepted.*write access/);
  const refused = cred((await scanFrames([request('public', PDU_SET, 78, 0.1), response('public', 78, 0.11, 6)])).findings);
  assert.equal(refused[0]?.severity, 'medium');
  assert.match(refused[0]!.message, /refused \(error-status 6\)/);
  const secretRefused = cred((await scanFrames([request(SECRET, PDU_SET, 79, 0.1), response(SECRET, 79, 0.11, 6)])).findings);
  assert.equal(secretRefused[0]?.severity, 'high', 'a refused write still proves a working read community');
});

test('an authenticationFailure trap from the agent marks the last unanswered community as rejected', async () => {
  const trap: TimedFrame = { t: 0.2, frame: ipv4UdpFrame(AGENT.mac, MANAGER.mac, AGENT.ip, MANAGER.ip, 40001, 162, snmpV1TrapPayload('trapCommunity', AGENT.ip, 4)) };
  const { findings } = await scanFrames([request('wrongOne', PDU_GET, 3, 0.1), trap]);
  const hits = cred(findings);
  const trapFinding = hits.find((f) => /authenticationFailure/.test(f.message));
  assert.ok(trapFinding, describe(findings));
  assert.match(trapFinding.message, new RegExp(`rejected the community ${MANAGER.ip.replace(/\./g, '\\.')} sent`));
  assert.equal(trapFinding.severity, 'medium', 'the trap community itself is exposed');
  const req = hits.find((f) => f !== trapFinding);
  assert.equal(req?.severity, 'medium');
  assert.equal(req?.count, 2, 'the rejection is reported on the request finding too');
  assertNoPlaintext(findings, 'wrongOne');
  assertNoPlaintext(findings, 'trapCommunity');
});

test('SNMPv3 produces no community finding', async () => {
  const frames: TimedFrame[] = [
    { t: 0.1, frame: ipv4UdpFrame(MANAGER.mac, AGENT.mac, MANAGER.ip, AGENT.ip, 40000, 161, snmpV3Payload(9)) },
    { t: 0.2, frame: ipv4UdpFrame(AGENT.mac, MANAGER.mac, AGENT.ip, MANAGER.ip, 161, 40000, snmpV3Payload(9)) },
  ];
  const { findings } = await scanFrames(frames);
  assert.deepEqual(findings.map((f) => f.rule_id), [], describe(findings));
});

// SNMPv3 with the User-based Security Model: HMACs computed from a password
// as net-snmp does (RFC 3414 A.2), so the reported line must verify with it.
const ENGINE = Buffer.from('80001f888059dc486145a26322', 'hex');
const V3_PASSWORD = 'v3-auth-Pass';
// usmStatsWrongDigests.0 and usmStatsNotInTimeWindows.0 (1.3.6.1.6.3.15.1.1.{5,2}.0)
const WRONG_DIGESTS = Buffer.from([0x2b, 6, 1, 6, 3, 15, 1, 1, 5, 0]);
const NOT_IN_TIME = Buffer.from([0x2b, 6, 1, 6, 3, 15, 1, 1, 2, 0]);

/** HMAC lengths of RFC 3414 and RFC 7860. */
const AUTH_BYTES: Record<UsmHash, number> = { md5: 12, sha1: 12, sha224: 16, sha256: 24, sha384: 32, sha512: 48 };

function signedV3(msgId: number, o: SnmpV3Options, password = V3_PASSWORD, hash: UsmHash = 'sha1'): Buffer {
  const n = AUTH_BYTES[hash];
  const msg = snmpV3Payload(msgId, { ...o, engineId: ENGINE, auth: Buffer.alloc(n) });
  const mac = createHmac(hash, usmKey(password, ENGINE, hash)).update(msg).digest().subarray(0, n);
  mac.copy(msg, msg.indexOf(Buffer.concat([Buffer.from([0x04, n]), Buffer.alloc(n)])) + 2);
  return msg;
}

function v3Frame(fromManager: boolean, t: number, payload: Buffer, port = 40000): TimedFrame {
  return fromManager
    ? { t, frame: ipv4UdpFrame(MANAGER.mac, AGENT.mac, MANAGER.ip, AGENT.ip, port, 161, payload) }
    : { t, frame: ipv4UdpFrame(AGENT.mac, MANAGER.mac, AGENT.ip, MANAGER.ip, 161, port, payload) };
}

function v3Login(findings: readonly Finding[], user: string, outcome: string): Finding {
  const f = findings.find((x) => x.rule_id === 'cred-snmpv3' && hasEntity(x, 'user', user, `login-${outcome}`));
  assert.ok(f, `no cred-snmpv3 for ${user} (${outcome}):\n${describe(findings)}`);
  assert.ok(hasEntity(f, 'ip', MANAGER.ip, 'client') && hasEntity(f, 'host', `${AGENT.ip}:161`, 'server'), describe([f]));
  assert.equal(f.severity, 'low');
  return f;
}

test('SNMPv3 USM: authenticated requests reported low with a hashcat 25000 line that verifies; wrong digests refused; polling adds nothing', async () => {
  const frames: TimedFrame[] = [
    // authNoPriv SHA: accepted with an authenticated Response, then polled five more times.
    v3Frame(true, 1, signedV3(100, { flags: 5, user: 'alice' })),
    v3Frame(false, 1.01, signedV3(100, { flags: 1, user: 'alice', pdu: PDU_RESPONSE })),
    // authNoPriv MD5 with a wrong password: a Report of usmStatsWrongDigests, unauthenticated.
    v3Frame(true, 2, signedV3(200, { flags: 5, user: 'bob' }, 'not-it', 'md5'), 40001),
    v3Frame(false, 2.01, snmpV3Payload(200, { flags: 0, user: 'bob', engineId: ENGINE, pdu: 0xa8, oid: WRONG_DIGESTS }), 40001),
    // authPriv: the scoped PDU encrypted both ways.
    v3Frame(true, 3, signedV3(300, { flags: 7, user: 'carol', encrypted: Buffer.alloc(40, 9) }), 40002),
    v3Frame(false, 3.01, signedV3(300, { flags: 3, user: 'carol', encrypted: Buffer.alloc(60, 7) }), 40002),
    // The right password with a stale clock: usmStatsNotInTimeWindows comes back authenticated.
    v3Frame(true, 4, signedV3(400, { flags: 5, user: 'dave' }), 40003),
    v3Frame(false, 4.01, signedV3(400, { flags: 1, user: 'dave', pdu: 0xa8, oid: NOT_IN_TIME }), 40003),
  ];
  for (let i = 0; i < 5; i++) {
    frames.push(v3Frame(true, 5 + i, signedV3(500 + i, { flags: 5, user: 'alice' })), v3Frame(false, 5.01 + i, signedV3(500 + i, { flags: 1, user: 'alice', pdu: PDU_RESPONSE })));
  }
  const { findings } = await scanFrames(frames, defaultConfig(), undefined, true);
  const alice = v3Login(findings, 'alice', 'succeeded');
  assert.equal(alice.count, 1);
  assert.deepEqual(alice.attack.techniques, ['T1040']);
  assert.match(alice.message, /SNMPv3 USM authNoPriv \(HMAC-96, MD5 or SHA-1\).*unencrypted/);
  const line = alice.secrets![0]!.value!;
  assert.match(line, /^\$SNMPv3\$0\$1\$30[0-9a-f]+\$80001f888059dc486145a26322\$[0-9a-f]{24}$/);
  assert.ok(usmLineMatches(line, V3_PASSWORD), line);
  assert.ok(!usmLineMatches(line, 'another'), line);
  const bob = v3Login(findings, 'bob', 'failed');
  assert.ok(usmLineMatches(bob.secrets![0]!.value!, 'not-it'));
  const carol = v3Login(findings, 'carol', 'succeeded');
  assert.doesNotMatch(carol.message, /unencrypted/);
  assert.ok(usmLineMatches(carol.secrets![0]!.value!, V3_PASSWORD));
  assert.match(v3Login(findings, 'dave', 'succeeded').message, /usmStatsNotInTimeWindows/);
  assert.deepEqual(atLeast(findings, 'medium'), []);
});

test('SNMPv3 USM with SHA-2 HMACs (RFC 7860): each length gets its hashcat tag, and the line verifies with that hash only', async () => {
  const cases: [UsmHash, string, RegExp][] = [
    ['sha224', '3', /HMAC-SHA-224-128/],
    ['sha256', '4', /HMAC-SHA-256-192/],
    ['sha384', '5', /HMAC-SHA-384-256/],
    ['sha512', '6', /HMAC-SHA-512-384/],
  ];
  const frames: TimedFrame[] = [];
  cases.forEach(([hash], i) => {
    const user = `user-${hash}`;
    frames.push(v3Frame(true, 1 + i, signedV3(10 + i, { flags: 5, user }, V3_PASSWORD, hash), 40100 + i));
    frames.push(v3Frame(false, 1.01 + i, signedV3(10 + i, { flags: 1, user, pdu: PDU_RESPONSE }, V3_PASSWORD, hash), 40100 + i));
  });
  const { findings } = await scanFrames(frames, defaultConfig(), undefined, true);
  for (const [hash, tag, name] of cases) {
    const f = v3Login(findings, `user-${hash}`, 'succeeded');
    assert.match(f.message, name);
    const line = f.secrets![0]!.value!;
    assert.match(line, new RegExp(`^\\$SNMPv3\\$${tag}\\$\\d+\\$30[0-9a-f]+\\$${ENGINE.toString('hex')}\\$[0-9a-f]{${AUTH_BYTES[hash] * 2}}$`));
    assert.ok(usmLineMatches(line, V3_PASSWORD), line);
    assert.ok(!usmLineMatches(line, 'another'), line);
    // The tag names the hash: the same fields under the 96-bit tag do not verify.
    assert.ok(!usmLineMatches(line.replace(`$SNMPv3$${tag}$`, '$SNMPv3$0$'), V3_PASSWORD), line);
  }
});

test('SNMPv3 USM: broken security parameters are malformed, mutations never throw, redacted by default', async () => {
  const valid = signedV3(7, { flags: 5, user: 'erin' });
  const frames: TimedFrame[] = [v3Frame(true, 1, valid), v3Frame(false, 1.01, signedV3(7, { flags: 1, user: 'erin', pdu: PDU_RESPONSE }))];
  const broken = Buffer.from(valid);
  // The USM SEQUENCE's first element (engine ID) tagged as an INTEGER.
  broken[broken.indexOf(Buffer.concat([Buffer.from([0x04, ENGINE.length]), ENGINE]))] = 0x02;
  frames.push(v3Frame(true, 2, broken, 40009));
  const r = rng(5);
  for (let n = 0; n < 300; n++) {
    const b = Buffer.from(valid);
    for (let k = 0; k < 3; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    frames.push(v3Frame(n % 2 === 0, 3 + n * 0.01, b, 41000 + (n >> 1)));
  }
  const { findings } = await scanFrames(frames);
  assert.ok(findings.some((f) => f.rule_id === 'decode-malformed' && /User-based Security Model/.test(f.message)), describe(findings));
  const erin = v3Login(findings, 'erin', 'succeeded');
  assert.equal(erin.secrets?.[0]?.value, undefined);
});

test('other ports: an exact SNMP message counts, a look-alike does not and is not called malformed', async () => {
  const onOddPort = cred((await scanFrames([request(SECRET, PDU_GET, 11, 0.1, 1, 1161), response(SECRET, 11, 0.11, 0, 1, 1161)])).findings);
  assert.equal(onOddPort[0]?.severity, 'high');
  assert.ok(hasEntity(onOddPort[0]!, 'ip', AGENT.ip, 'server'));
  // Valid SNMP followed by junk, and a BER SEQUENCE that is not SNMP, on port 5000.
  const junk = Buffer.concat([snmpPayload({ version: 1, community: SECRET, pdu: PDU_GET, requestId: 1 }), Buffer.from([1, 2, 3])]);
  const ldapLike = berElement(0x30, Buffer.concat([berInteger(1), berElement(0x63, Buffer.alloc(4))]));
  const { findings } = await scanFrames([
    { t: 0.1, frame: ipv4UdpFrame(MANAGER.mac, AGENT.mac, MANAGER.ip, AGENT.ip, 40000, 5000, junk) },
    { t: 0.2, frame: ipv4UdpFrame(MANAGER.mac, AGENT.mac, MANAGER.ip, AGENT.ip, 40000, 5000, ldapLike) },
  ]);
  assert.deepEqual(findings.map((f) => f.rule_id), [], describe(findings));
});

test('malformed SNMP on port 161 becomes an info decode-malformed finding, and the scan goes on', async () => {
  const huge = Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01]);
  const { findings, errors } = await scanFrames([
    { t: 0.1, frame: ipv4UdpFrame(MANAGER.mac, AGENT.mac, MANAGER.ip, AGENT.ip, 40000, 161, huge) },
    request(SECRET, PDU_GET, 12, 0.2),
    response(SECRET, 12, 0.21),
  ]);
  assert.deepEqual(errors, []);
  const bad = findings.find((f) => f.rule_id === 'decode-malformed');
  assert.ok(bad, describe(findings));
  assert.equal(bad.severity, 'info');
  assert.match(bad.message, /snmp/);
  assert.equal(cred(findings)[0]?.severity, 'high');
});

test('SNMP over IPv6: manager and agent in IPv6 text', async () => {
  const [m6, a6] = ['fd53:7700::10', 'fd53:7700::20'];
  const { findings } = await scanFrames([
    { t: 0.1, frame: ipv6UdpFrame(MANAGER.mac, AGENT.mac, m6, a6, 40000, 161, snmpPayload({ version: 1, community: SECRET, pdu: PDU_GET, requestId: 4 })) },
    { t: 0.2, frame: ipv6UdpFrame(AGENT.mac, MANAGER.mac, a6, m6, 161, 40000, snmpPayload({ version: 1, community: SECRET, pdu: PDU_RESPONSE, requestId: 4 })) },
  ]);
  const f = cred(findings)[0];
  assert.ok(f, describe(findings));
  assert.equal(f.severity, 'high');
  assert.ok(hasEntity(f, 'ip', m6, 'client') && hasEntity(f, 'ip', a6, 'server'), JSON.stringify(f.entities));
  assert.match(f.message, /\[fd53:7700::20\]:161/);
});

test('a datagram cut short (first fragment, snapped capture) is not judged and not called malformed', async () => {
  const whole = request(SECRET, PDU_GET, 13, 0.1).frame;
  const { findings } = await scanFrames([{ t: 0.1, frame: whole.subarray(0, whole.length - 10) }]);
  assert.deepEqual(findings.map((f) => f.rule_id), [], describe(findings));
});

test('--show-secrets reveals the community; a configured salt makes the key hash match the secret hash', async () => {
  const config = defaultConfig();
  config.secretSalt = 'unit-test-salt';
  await withTempDir(async (dir) => {
    const pcap = writePcap(join(dir, 'in.pcap'), [request(SECRET, PDU_GET, 1, 0.1), response(SECRET, 1, 0.11)]);
    const shown = cred((await scanCaptures([pcap], { config, profile: 'production', showSecrets: true })).findings);
    assert.equal(shown[0]?.secrets?.[0]?.value, SECRET);
    const hidden = cred((await scanCaptures([pcap], { config, profile: 'production' })).findings);
    assert.ok(hidden[0]!.id.endsWith(`|${hidden[0]!.secrets![0]!.hash}`), hidden[0]!.id);
    assert.ok(!hidden[0]!.id.includes(SECRET));
  });
});

test('one finding per manager, agent and community; table size stays bounded', async () => {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 6000; i++) frames.push(request(`c${i}`, PDU_GET, i, 0.001 * i));
  const { findings, stats } = await scanFrames(frames);
  assert.equal(cred(findings).length, 1000, 'one per community, capped by the aggregator');
  assert.ok(stats.stateEntries <= 2 * 4096 + 64, `state ${stats.stateEntries}`);
  const repeat = await scanFrames([request(SECRET, PDU_GET, 1, 0.1), request(SECRET, PDU_GET, 2, 0.2), response(SECRET, 2, 0.21), request(SECRET, PDU_GET, 3, 0.3)]);
  assert.equal(cred(repeat.findings).length, 1);
  assert.equal(atLeast(repeat.findings, 'high').length, 1);
});
