import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ethernet, ipv4Packet, ipv4UdpFrame } from '../../src/craft/frames.js';
import { describe, hasEntity, scanFrames, type TimedFrame } from '../helpers/captures.js';
import { mutated, rng } from '../helpers/fuzz.js';

// OSPFv2 and RIPv2 authentication as routers send it, crafted per RFC 2328
// appendix D and RFC 4822, with keyed-MD5 digests computed from a key: the
// reported line must crack with that key (MD5 of the hashed bytes and the key
// padded to 16 bytes, as John's net-md5 computes it) and not with another.

const ROUTER = { mac: '02:00:00:00:00:fe', ip: '198.18.0.254' };
const OTHER = { mac: '02:00:00:00:00:fd', ip: '198.18.0.253' };
const OSPF_MAC = '01:00:5e:00:00:05';
const RIP_MAC = '01:00:5e:00:00:09';

/** The key as keyed MD5 appends it: NUL-padded (or cut) to 16 bytes. */
function key16(key: string): Buffer {
  const k = Buffer.alloc(16);
  k.write(key.slice(0, 16), 'latin1');
  return k;
}

type Auth = { kind: 'none' } | { kind: 'simple'; key: string } | { kind: 'md5'; key: string; keyId: number; seq: number } | { kind: 'sha'; keyId: number };

/** An OSPFv2 Hello from `router` (router ID = its address, area 0.0.0.0). */
function ospfHello(router: { mac: string; ip: string }, auth: Auth): Buffer {
  const body = Buffer.alloc(20);
  body.writeUInt32BE(0xffffff00, 0);
  body.writeUInt16BE(10, 4);
  body[6] = 0x02;
  body[7] = 1;
  body.writeUInt32BE(40, 8);
  const header = Buffer.alloc(24);
  header[0] = 2;
  header[1] = 1;
  header.writeUInt16BE(24 + body.length, 2);
  Buffer.from(router.ip.split('.').map(Number)).copy(header, 4);
  let trailer = Buffer.alloc(0);
  if (auth.kind === 'simple') {
    header.writeUInt16BE(1, 14);
    key16(auth.key).copy(header, 16, 0, 8);
  } else if (auth.kind === 'md5' || auth.kind === 'sha') {
    header.writeUInt16BE(2, 14);
    header[18] = auth.keyId;
    header[19] = auth.kind === 'md5' ? 16 : 32;
    header.writeUInt32BE(auth.kind === 'md5' ? auth.seq : 1, 20);
  }
  const packet = Buffer.concat([header, body]);
  if (auth.kind === 'md5') trailer = createHash('md5').update(packet).update(key16(auth.key)).digest();
  if (auth.kind === 'sha') trailer = Buffer.alloc(32, 0x5a);
  return ethernet(OSPF_MAC, router.mac, 0x0800, ipv4Packet(router.ip, '224.0.0.5', 89, Buffer.concat([packet, trailer]), 1));
}

/** A RIPv2 response from `router` announcing one route. */
function ripResponse(router: { mac: string; ip: string }, auth: Auth): Buffer {
  const route = Buffer.from('00020000c6130000ffffff000000000000000001', 'hex');
  const head = Buffer.from([2, 2, 0, 0]);
  let payload: Buffer;
  if (auth.kind === 'none') {
    payload = Buffer.concat([head, route]);
  } else if (auth.kind === 'simple') {
    payload = Buffer.concat([head, Buffer.from([0xff, 0xff, 0, 2]), key16(auth.key), route]);
  } else {
    const authEntry = Buffer.alloc(20);
    authEntry.writeUInt16BE(0xffff, 0);
    authEntry.writeUInt16BE(3, 2);
    authEntry.writeUInt16BE(4 + 20 + 20, 4);
    authEntry[6] = auth.keyId;
    authEntry[7] = auth.kind === 'md5' ? 20 : 24;
    authEntry.writeUInt32BE(auth.kind === 'md5' ? auth.seq : 1, 8);
    const hashed = Buffer.concat([head, authEntry, route, Buffer.from([0xff, 0xff, 0, 1])]);
    const digest = auth.kind === 'md5' ? createHash('md5').update(hashed).update(key16(auth.key)).digest() : Buffer.alloc(20, 0x5a);
    payload = Buffer.concat([hashed, digest]);
  }
  return ipv4UdpFrame(router.mac, RIP_MAC, router.ip, '224.0.0.9', 520, 520, payload);
}

/** Does a net-md5 line crack with `key`? */
function netMd5Cracks(line: string, key: string): boolean {
  const m = /^\$netmd5\$([0-9a-f]+)\$([0-9a-f]{32})$/.exec(line);
  return m !== null && createHash('md5').update(Buffer.from(m[1]!, 'hex')).update(key16(key)).digest('hex') === m[2];
}

const every = (t0: number, n: number, step: number, f: (i: number) => Buffer): TimedFrame[] => Array.from({ length: n }, (_, i) => ({ t: t0 + i * step, frame: f(i) }));

test('OSPF and RIPv2 simple passwords are medium cred-routing-auth naming the router, once a minute while the key stays; keyed MD5 is low with a net-md5 line that cracks with the key', async () => {
  const frames = [
    ...every(0, 9, 10, () => ospfHello(ROUTER, { kind: 'simple', key: 'ospfpw' })),
    ...every(1, 4, 30, () => ripResponse(ROUTER, { kind: 'simple', key: 'rip-simple-pw' })),
    ...every(2, 3, 10, (i) => ospfHello(OTHER, { kind: 'md5', key: 'Ospf-Md5-Key', keyId: 7, seq: 1000 + i })),
    ...every(3, 2, 30, (i) => ripResponse(OTHER, { kind: 'md5', key: 'Rip-Md5-Key', keyId: 3, seq: 500 + i })),
  ].sort((a, b) => a.t - b.t);
  const { findings } = await scanFrames(frames, undefined, undefined, true);
  const hits = findings.filter((f) => f.rule_id === 'cred-routing-auth');
  assert.equal(hits.length, 4, describe(findings));
  const find = (ip: string, proto: string) => hits.find((f) => hasEntity(f, 'ip', ip, 'router') && hasEntity(f, 'protocol', proto))!;

  const ospf = find(ROUTER.ip, 'OSPFv2');
  assert.ok(ospf, describe(hits));
  assert.equal(ospf.severity, 'medium');
  assert.deepEqual(ospf.attack.techniques, ['T1040']);
  assert.ok(hasEntity(ospf, 'mac', ROUTER.mac, 'router'));
  assert.match(ospf.message, /sends its OSPFv2 key in cleartext \(Hello, router ID 198\.18\.0\.254, area 0\.0\.0\.0\)/);
  assert.deepEqual(ospf.secrets?.map((s) => s.value), ['ospfpw']);
  // Nine hellos over 80 s: the first, and again once a minute had passed.
  assert.equal(ospf.count, 2);

  const rip = find(ROUTER.ip, 'RIPv2');
  assert.equal(rip.severity, 'medium');
  assert.deepEqual(rip.secrets?.map((s) => s.value), ['rip-simple-pw']);

  for (const [proto, key] of [
    ['OSPFv2', 'Ospf-Md5-Key'],
    ['RIPv2', 'Rip-Md5-Key'],
  ] as const) {
    const f = find(OTHER.ip, proto);
    assert.ok(f, `${proto}: ${describe(hits)}`);
    assert.equal(f.severity, 'low', proto);
    assert.equal(f.count, 1, proto);
    assert.match(f.message, /keyed MD5 \(key ID \d\)/);
    const line = f.secrets![0]!.value!;
    assert.ok(netMd5Cracks(line, key), `${proto}: ${line} does not crack with the key`);
    assert.ok(!netMd5Cracks(line, `${key}x`), `${proto}: ${line} cracks with another key`);
  }
});

test('routers without authentication or with HMAC-SHA stay quiet; a changed key is reported again; the key is redacted by default', async () => {
  const quiet = await scanFrames([
    { t: 0, frame: ospfHello(ROUTER, { kind: 'none' }) },
    { t: 1, frame: ripResponse(ROUTER, { kind: 'none' }) },
    { t: 2, frame: ospfHello(OTHER, { kind: 'sha', keyId: 1 }) },
    { t: 3, frame: ripResponse(OTHER, { kind: 'sha', keyId: 1 }) },
  ]);
  assert.deepEqual(quiet.findings, [], describe(quiet.findings));

  const changed = await scanFrames([
    { t: 0, frame: ospfHello(ROUTER, { kind: 'simple', key: 'first' }) },
    { t: 10, frame: ospfHello(ROUTER, { kind: 'simple', key: 'first' }) },
    { t: 20, frame: ospfHello(ROUTER, { kind: 'simple', key: 'second' }) },
  ]);
  const f = changed.findings.find((x) => x.rule_id === 'cred-routing-auth')!;
  assert.equal(f.count, 2, describe(changed.findings));
  assert.equal(f.secrets?.length, 2);
  assert.ok(f.secrets!.every((s) => s.value === undefined && /^[0-9a-f]{12}$/.test(s.hash)), JSON.stringify(f.secrets));
});

test('truncated or inconsistent OSPF and RIP packets are flagged malformed; mutated packets never throw', async () => {
  const hello = ospfHello(ROUTER, { kind: 'md5', key: 'k', keyId: 1, seq: 1 });
  const rip = ripResponse(ROUTER, { kind: 'md5', key: 'k', keyId: 1, seq: 1 });
  const ospfStart = 14 + 20;
  const ripStart = 14 + 20 + 8;
  // OSPF length beyond the packet; the digest cut off; RIP's trailer offset past the end.
  const longOspf = Buffer.from(hello);
  longOspf.writeUInt16BE(400, ospfStart + 2);
  const shortDigest = ethernet(OSPF_MAC, ROUTER.mac, 0x0800, ipv4Packet(ROUTER.ip, '224.0.0.5', 89, hello.subarray(ospfStart, hello.length - 8), 1));
  const badTrailer = Buffer.from(rip);
  badTrailer.writeUInt16BE(900, ripStart + 8);
  const frames: TimedFrame[] = [
    { t: 0, frame: longOspf },
    { t: 1, frame: shortDigest },
    { t: 2, frame: badTrailer },
  ];
  const next = rng(5);
  for (let n = 0; n < 400; n++) frames.push({ t: 10 + n, frame: n % 2 === 0 ? mutated(hello, 3, next, ospfStart) : mutated(rip, 3, next, ripStart) });
  const { findings, errors } = await scanFrames(frames);
  assert.deepEqual(errors, []);
  const malformed = findings.filter((f) => f.rule_id === 'decode-malformed').map((f) => f.message);
  for (const reason of [/malformed ospf: OSPF packet length beyond the bytes present/, /malformed ospf: OSPF cryptographic digest beyond the bytes present/, /malformed rip: RIPv2 authentication trailer outside the packet/]) {
    assert.ok(malformed.some((m) => reason.test(m)), `${reason}: ${malformed.join('; ')}`);
  }
});
