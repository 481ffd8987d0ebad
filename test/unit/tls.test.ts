import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TCP_ACK,
  TCP_PSH,
  ethernet,
  tcpFrame,
  ipv6Packet,
  ssl2ClientHello,
  ssl2ServerHello,
  tlsClientHelloMessage,
  tlsExtension,
  tlsRecord,
  tlsServerHelloMessage,
  tcpSegment,
  type TlsHelloSpec,
} from '../../src/craft/frames.js';
import { SSL2, SSL3, TLS10, TLS11, TLS12, TLS13, TLS_MALFORMED, TlsHello, TlsScan, scanHello } from '../../src/decode/tls.js';
import type { Finding } from '../../src/findings/finding.js';
import { atLeast, describe, hasEntity, scanFrames, type TimedFrame } from '../helpers/captures.js';

const CLIENT = { mac: '02:00:00:00:00:10', ip: '198.18.0.10', port: 50123 };
const SERVER = { mac: '02:00:00:00:00:20', ip: '198.18.0.20', port: 4433 };
const RULE = 'tls-weak-version';
const GREASE = 0x3a3a;
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

function clientHello(spec: TlsHelloSpec, recordVersion = TLS10): Buffer {
  return tlsRecord(22, recordVersion, tlsClientHelloMessage(spec));
}

function serverHello(spec: TlsHelloSpec): Buffer {
  return tlsRecord(22, spec.legacyVersion === SSL3 ? SSL3 : TLS12, tlsServerHelloMessage(spec));
}

let clientSeq = 1000;
let serverSeq = 9000;
function fromClient(payload: Buffer, t: number, seq = clientSeq, port = CLIENT.port): TimedFrame {
  clientSeq = seq + payload.length;
  return { t, frame: tcpFrame(CLIENT.mac, SERVER.mac, CLIENT.ip, SERVER.ip, port, SERVER.port, seq, serverSeq, TCP_ACK | TCP_PSH, payload) };
}
function fromServer(payload: Buffer, t: number, port = CLIENT.port): TimedFrame {
  const f = { t, frame: tcpFrame(SERVER.mac, CLIENT.mac, SERVER.ip, CLIENT.ip, SERVER.port, port, serverSeq, clientSeq, TCP_ACK | TCP_PSH, payload) };
  serverSeq += payload.length;
  return f;
}

function weak(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.rule_id === RULE);
}

function scan(bytes: Buffer): { r: TlsScan; h: TlsHello } {
  const h = new TlsHello();
  return { r: scanHello(bytes, 0, bytes.length, Buffer.alloc(8192), h), h };
}

// --- decoding

test('ClientHello: highest offered version from supported_versions (GREASE and drafts handled), else legacy_version', () => {
  let s = scan(clientHello({ legacyVersion: TLS12, supportedVersions: [GREASE, TLS13, TLS12] }));
  assert.equal(s.r, TlsScan.Ok);
  assert.deepEqual([s.h.type, s.h.version, s.h.viaSupportedVersions], [1, TLS13, true]);
  s = scan(clientHello({ legacyVersion: TLS12, supportedVersions: [0x7f1c, TLS12] }));
  assert.equal(s.h.version, TLS13, 'draft 28 counts as TLS 1.3');
  s = scan(clientHello({ legacyVersion: TLS10 }));
  assert.deepEqual([s.r, s.h.version], [TlsScan.Ok, TLS10]);
  s = scan(clientHello({ legacyVersion: SSL3, noExtensions: true }, SSL3));
  assert.deepEqual([s.r, s.h.version], [TlsScan.Ok, SSL3]);
});

test('ServerHello: selected version from supported_versions, else legacy_version; HelloRetryRequest recognised', () => {
  let s = scan(serverHello({ legacyVersion: TLS12, supportedVersions: [TLS13] }));
  assert.deepEqual([s.r, s.h.type, s.h.version, s.h.helloRetry], [TlsScan.Ok, 2, TLS13, false]);
  s = scan(serverHello({ legacyVersion: TLS10 }));
  assert.deepEqual([s.r, s.h.version], [TlsScan.Ok, TLS10]);
  s = scan(serverHello({ legacyVersion: TLS12, supportedVersions: [TLS13], random: HRR_RANDOM }));
  assert.equal(s.h.helloRetry, true);
  s = scan(serverHello({ legacyVersion: 0x0305 }));
  assert.deepEqual([s.r, s.h.malformed], [TlsScan.Malformed, TLS_MALFORMED.version]);
});

test('SSL 2.0-format hellos are recognised only when their lengths add up', () => {
  let s = scan(ssl2ClientHello(SSL2));
  assert.deepEqual([s.r, s.h.type, s.h.version, s.h.ssl2Format], [TlsScan.Ok, 1, SSL2, true]);
  s = scan(ssl2ClientHello(TLS10));
  assert.deepEqual([s.r, s.h.version], [TlsScan.Ok, TLS10], 'v2-compatible hello offering TLS 1.0');
  s = scan(ssl2ServerHello());
  assert.deepEqual([s.r, s.h.type, s.h.version], [TlsScan.Ok, 2, SSL2]);
  const off = ssl2ClientHello(SSL2);
  off[1]! += 1;
  assert.equal(scan(off).r, TlsScan.NotHello);
});

test('malformed hellos: bogus extension lengths, odd version lists, long session ids', () => {
  const cases: [string, Buffer, string][] = [];
  // An extension claiming more bytes than the block holds.
  const bogusExt = Buffer.from(tlsClientHelloMessage({ legacyVersion: TLS12, extensions: [tlsExtension(0, Buffer.alloc(6))] }));
  bogusExt.writeUInt16BE(0x4000, bogusExt.length - 6 - 2);
  cases.push(['extension length past the block', tlsRecord(22, TLS10, bogusExt), TLS_MALFORMED.extension]);
  // The extensions block length disagreeing with the hello.
  const badBlock = Buffer.from(tlsClientHelloMessage({ legacyVersion: TLS12, extensions: [tlsExtension(0, Buffer.alloc(6))] }));
  badBlock.writeUInt16BE(3, badBlock.length - 10 - 2);
  cases.push(['extensions block length', tlsRecord(22, TLS10, badBlock), TLS_MALFORMED.extensions]);
  // supported_versions with an odd list length.
  cases.push(['supported_versions odd', clientHello({ legacyVersion: TLS12, extensions: [tlsExtension(43, Buffer.from([3, 3, 4, 3]))] }), TLS_MALFORMED.supportedVersions]);
  cases.push(['server supported_versions of 4 bytes', serverHello({ legacyVersion: TLS12, extensions: [tlsExtension(43, Buffer.from([3, 4, 3, 3]))] }), TLS_MALFORMED.supportedVersions]);
  // session_id length 200.
  const longSid = Buffer.from(tlsClientHelloMessage({ legacyVersion: TLS12 }));
  longSid[4 + 34] = 200;
  cases.push(['session id', tlsRecord(22, TLS10, longSid), TLS_MALFORMED.sessionId]);
  // Cipher suites length odd.
  const oddCiphers = Buffer.from(tlsClientHelloMessage({ legacyVersion: TLS12 }));
  oddCiphers.writeUInt16BE(3, 4 + 35);
  cases.push(['cipher suites', tlsRecord(22, TLS10, oddCiphers), TLS_MALFORMED.ciphers]);
  for (const [name, bytes, reason] of cases) {
    const s = scan(bytes);
    assert.equal(s.r, TlsScan.Malformed, name);
    assert.equal(s.h.malformed, reason, name);
  }
});

test('truncated records ask for more; huge handshake lengths are refused; fragments across records are joined', () => {
  const full = clientHello({ legacyVersion: TLS12, supportedVersions: [TLS13, TLS12] });
  for (const cut of [1, 3, 5, 9, 40, full.length - 1]) assert.equal(scan(full.subarray(0, cut)).r, TlsScan.NeedMore, `cut at ${cut}`);
  const huge = Buffer.from(full);
  huge.writeUIntBE(0xffffff, 6, 3);
  assert.equal(scan(huge).r, TlsScan.TooBig);
  // The same hello in three records of a few bytes each.
  const msg = tlsClientHelloMessage({ legacyVersion: TLS12, supportedVersions: [TLS13, TLS12] });
  const split = Buffer.concat([tlsRecord(22, TLS10, msg.subarray(0, 3)), tlsRecord(22, TLS10, msg.subarray(3, 50)), tlsRecord(22, TLS10, msg.subarray(50))]);
  const s = scan(split);
  assert.deepEqual([s.r, s.h.version], [TlsScan.Ok, TLS13]);
  // Application data, alerts and other handshake messages are not hellos.
  assert.equal(scan(tlsRecord(23, TLS12, Buffer.alloc(40, 1))).r, TlsScan.NotHello);
  assert.equal(scan(tlsRecord(22, TLS12, Buffer.from([11, 0, 0, 3, 0, 0, 0]))).r, TlsScan.NotHello);
  assert.equal(scan(Buffer.from('+OK POP3 ready\r\n')).r, TlsScan.NotHello);
});

test('random corruption of hellos never throws', () => {
  const seeds = [
    clientHello({ legacyVersion: TLS12, supportedVersions: [GREASE, TLS13, TLS12], extensions: [tlsExtension(0, Buffer.alloc(12, 0x61))] }),
    serverHello({ legacyVersion: TLS12, supportedVersions: [TLS13] }),
    ssl2ClientHello(TLS10),
    ssl2ServerHello(),
  ];
  let x = 99;
  const rnd = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  const h = new TlsHello();
  const scratch = Buffer.alloc(512);
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(seeds[i % seeds.length]!);
    for (let k = 0; k <= rnd(4); k++) b[rnd(b.length)] = rnd(256);
    const r = scanHello(b, 0, b.length - rnd(6), scratch, h);
    if (r === TlsScan.Ok) assert.ok(h.msgEnd <= h.msgBuf.length);
  }
});

// --- the analyzer, through the real pipeline

test('TLS 1.0 negotiated on any port is medium, naming client, server:port and both versions', async () => {
  const { findings } = await scanFrames([fromClient(clientHello({ legacyVersion: TLS10 }), 0.1), fromServer(serverHello({ legacyVersion: TLS10 }), 0.11)]);
  const f = weak(findings);
  assert.equal(f.length, 1, describe(findings));
  assert.equal(f[0]!.severity, 'medium');
  assert.deepEqual(f[0]!.attack.techniques, ['T1557']);
  assert.deepEqual(f[0]!.attack.tactics, ['TA0006', 'TA0009']);
  assert.ok(hasEntity(f[0]!, 'ip', CLIENT.ip, 'client'));
  assert.ok(hasEntity(f[0]!, 'ip', SERVER.ip, 'server'));
  assert.ok(hasEntity(f[0]!, 'host', `${SERVER.ip}:${SERVER.port}`, 'service'));
  assert.ok(hasEntity(f[0]!, 'protocol', 'TLS 1.0', 'negotiated'));
  assert.ok(hasEntity(f[0]!, 'protocol', 'TLS 1.0', 'offered'));
});

test('a client offering TLS 1.3 that ends up on TLS 1.1 is a downgrade: high', async () => {
  const { findings } = await scanFrames([
    fromClient(clientHello({ legacyVersion: TLS12, supportedVersions: [GREASE, TLS13, TLS12, TLS11] }), 0.1),
    fromServer(serverHello({ legacyVersion: TLS11 }), 0.11),
  ]);
  const f = weak(findings)[0];
  assert.ok(f, describe(findings));
  assert.equal(f.severity, 'high');
  assert.match(f.message, /downgrade/);
  assert.ok(hasEntity(f, 'protocol', 'TLS 1.3', 'offered'));
  assert.ok(hasEntity(f, 'protocol', 'TLS 1.1', 'negotiated'));
});

test('SSL 3.0 and SSL 2.0 are high', async () => {
  const ssl3 = weak((await scanFrames([fromClient(clientHello({ legacyVersion: SSL3, noExtensions: true }, SSL3), 0.1), fromServer(serverHello({ legacyVersion: SSL3, noExtensions: true }), 0.11)])).findings);
  assert.equal(ssl3[0]?.severity, 'high');
  assert.ok(hasEntity(ssl3[0]!, 'protocol', 'SSL 3.0', 'negotiated'));
  const ssl2 = weak((await scanFrames([fromClient(ssl2ClientHello(SSL2), 0.1), fromServer(ssl2ServerHello(), 0.11)])).findings);
  assert.equal(ssl2[0]?.severity, 'high');
  assert.ok(hasEntity(ssl2[0]!, 'protocol', 'SSL 2.0', 'negotiated'));
});

test('TLS 1.2 and 1.3 raise nothing, HelloRetryRequest included', async () => {
  const { findings } = await scanFrames([
    fromClient(clientHello({ legacyVersion: TLS12, supportedVersions: [TLS13, TLS12] }), 0.1),
    fromServer(serverHello({ legacyVersion: TLS12, supportedVersions: [TLS13], random: HRR_RANDOM }), 0.11),
    fromClient(clientHello({ legacyVersion: TLS12, supportedVersions: [TLS13, TLS12] }), 0.12),
    fromServer(serverHello({ legacyVersion: TLS12, supportedVersions: [TLS13] }), 0.13),
    fromClient(clientHello({ legacyVersion: TLS12 }), 0.2, 5000, 50200),
    fromServer(serverHello({ legacyVersion: TLS12 }), 0.21, 50200),
    fromClient(tlsRecord(23, TLS12, Buffer.alloc(64, 0x42)), 0.3),
  ]);
  assert.deepEqual(findings.map((f) => `${f.rule_id} ${f.severity}`), [], describe(findings));
});

test('a ClientHello split across two segments is joined: the downgrade is still seen', async () => {
  const hello = clientHello({ legacyVersion: TLS12, supportedVersions: [TLS13, TLS12], extensions: [tlsExtension(0xfe0d, Buffer.alloc(1400, 0x61))] });
  const { findings } = await scanFrames([
    fromClient(hello.subarray(0, 1000), 0.1, 1000),
    fromClient(hello.subarray(1000), 0.1001, 2000),
    fromServer(serverHello({ legacyVersion: TLS10 }), 0.11),
  ]);
  const f = weak(findings)[0];
  assert.ok(f, describe(findings));
  assert.equal(f.severity, 'high');
  assert.ok(hasEntity(f, 'protocol', 'TLS 1.3', 'offered'));
});

test('a split hello with a gap is dropped; the ServerHello alone still counts', async () => {
  const hello = clientHello({ legacyVersion: TLS12, supportedVersions: [TLS13, TLS12], extensions: [tlsExtension(0xfe0d, Buffer.alloc(1400, 0x61))] });
  const { findings } = await scanFrames([
    fromClient(hello.subarray(0, 1000), 0.1, 1000),
    fromClient(hello.subarray(1100), 0.1001, 2100),
    fromServer(serverHello({ legacyVersion: TLS11 }), 0.11),
  ]);
  const f = weak(findings)[0];
  assert.ok(f, describe(findings));
  assert.equal(f.severity, 'medium');
  assert.match(f.message, /ClientHello was not captured/);
});

test('a hello after STARTTLS on a plaintext port is found', async () => {
  const { findings } = await scanFrames([
    fromServer(Buffer.from('+OK POP3 ready\r\n'), 0.05),
    fromClient(Buffer.from('STLS\r\n'), 0.06),
    fromServer(Buffer.from('+OK Begin TLS\r\n'), 0.07),
    fromClient(clientHello({ legacyVersion: TLS11 }), 0.1),
    fromServer(serverHello({ legacyVersion: TLS11 }), 0.11),
  ]);
  assert.equal(weak(findings)[0]?.severity, 'medium', describe(findings));
});

test('TLS over IPv6: the service is named [address]:port', async () => {
  const [c6, s6] = ['fd53:7700::10', 'fd53:7700::20'];
  const seg = (src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer =>
    ethernet(CLIENT.mac, SERVER.mac, 0x86dd, ipv6Packet(src, dst, 6, tcpSegment(sport, dport, 1, 1, TCP_ACK | TCP_PSH, payload)));
  const { findings } = await scanFrames([
    { t: 0.1, frame: seg(c6, s6, 50000, 443, clientHello({ legacyVersion: TLS11 })) },
    { t: 0.2, frame: seg(s6, c6, 443, 50000, serverHello({ legacyVersion: TLS11 })) },
  ]);
  const f = weak(findings)[0];
  assert.ok(f, describe(findings));
  assert.ok(hasEntity(f, 'host', `[${s6}]:443`, 'service'), JSON.stringify(f.entities));
  assert.ok(hasEntity(f, 'ip', c6, 'client'));
  assert.ok(hasEntity(f, 'protocol', 'TLS 1.1', 'offered'));
});

test('a malformed ServerHello is an info decode-malformed finding, not a version finding', async () => {
  const bad = Buffer.from(tlsServerHelloMessage({ legacyVersion: TLS10, extensions: [tlsExtension(0xff01, Buffer.from([0]))] }));
  bad.writeUInt16BE(0x0fff, bad.length - 3); // the renegotiation_info extension claims 4095 bytes
  const { findings } = await scanFrames([fromClient(clientHello({ legacyVersion: TLS10 }), 0.1), fromServer(tlsRecord(22, TLS10, bad), 0.11)]);
  assert.deepEqual(weak(findings), []);
  const m = findings.find((f) => f.rule_id === 'decode-malformed');
  assert.ok(m, describe(findings));
  assert.equal(m.severity, 'info');
  assert.match(m.message, /tls/);
  assert.deepEqual(atLeast(findings, 'low'), []);
});

test('connection state stays bounded under many unanswered hellos', async () => {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 12000; i++) frames.push(fromClient(clientHello({ legacyVersion: TLS12 }), 0.0001 * i, 1, 1024 + (i % 60000)));
  // Half-hellos that never complete hold buffers; they are capped too.
  for (let i = 0; i < 1000; i++) frames.push(fromClient(clientHello({ legacyVersion: TLS12 }).subarray(0, 20), 2 + 0.0001 * i, 1, 20000 + i));
  const { stats, findings } = await scanFrames(frames);
  assert.deepEqual(weak(findings), []);
  assert.ok(stats.stateEntries <= 8192 + 64, `state ${stats.stateEntries}`);
});
