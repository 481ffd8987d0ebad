import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_IEEE802_11,
  LINKTYPE_IEEE802_11_AVS,
  LINKTYPE_IEEE802_11_PRISM,
  LINKTYPE_IEEE802_11_RADIOTAP,
  LINKTYPE_PPI,
} from '../../src/capture/linktypes.js';
import { ip4ToString, macToString } from '../../src/decode/addr.js';
import { decodeAmsduSubframeAt, decodeInner } from '../../src/decode/decoder.js';
import { Encap, ETHERTYPE_ARP, ETHERTYPE_IPV4, LinkSkip, Packet } from '../../src/decode/packet.js';
import { arpPayload, ipv4Packet, ipv4UdpFrame, macBytes, tzspHeader, udpDatagram } from '../../src/craft/frames.js';
import { defaultConfig } from '../../src/config/config.js';
import { scanFrames, type TimedFrame } from '../helpers/captures.js';
import { decodeBytes } from '../helpers/decode.js';

// 802.11 as monitor-mode captures hold it. The end-to-end checks (real traffic
// rewritten by scapy, Wireshark's encrypted captures) are in
// test/conformance/wifi-framing.test.ts and debian-captures.test.ts; these
// cover each header's fields and the hostile cases byte by byte.

const AP = '02:00:5e:00:53:ff';
const STA = '02:00:00:00:00:0a';
const HOST = '02:00:00:00:00:0b';
const IP = ipv4Packet('198.18.0.10', '198.18.0.1', 17, udpDatagram(40000, 53, Buffer.from('payload')));

function decode(bytes: Buffer, linktype: number): Packet {
  return decodeBytes(bytes, { linktype });
}

function llcSnap(etherType: number, payload: Buffer): Buffer {
  const h = Buffer.from([0xaa, 0xaa, 0x03, 0, 0, 0, etherType >> 8, etherType & 0xff]);
  return Buffer.concat([h, payload]);
}

interface DataFrame {
  toDs?: boolean;
  fromDs?: boolean;
  qos?: number;
  /** Order bit with QoS: an HT control field follows. */
  ht?: boolean;
  protectedFrame?: boolean;
  moreFragments?: boolean;
  fragment?: number;
  subtype?: number;
  a1: string;
  a2: string;
  a3: string;
  a4?: string;
  body: Buffer;
}

function dataFrame(d: DataFrame): Buffer {
  const qos = d.qos !== undefined;
  const subtype = d.subtype ?? (qos ? 8 : 0);
  const flags = (d.toDs ? 1 : 0) | (d.fromDs ? 2 : 0) | (d.moreFragments ? 4 : 0) | (d.protectedFrame ? 0x40 : 0) | (d.ht ? 0x80 : 0);
  const parts = [Buffer.from([(subtype << 4) | (2 << 2), flags]), Buffer.alloc(2), macBytes(d.a1), macBytes(d.a2), macBytes(d.a3), Buffer.from([d.fragment ?? 0, 0])];
  if (d.a4) parts.push(macBytes(d.a4));
  if (qos) parts.push(Buffer.from([d.qos! & 0xff, d.qos! >> 8]));
  if (qos && d.ht) parts.push(Buffer.alloc(4));
  parts.push(d.body);
  return Buffer.concat(parts);
}

/** The frame's FCS, bit by bit (CRC-32, reflected, as 802.3 and 802.11 define it), little-endian. */
function fcsOf(frame: Buffer): Buffer {
  let crc = 0xffffffff;
  for (const byte of frame) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  const out = Buffer.alloc(4);
  out.writeUInt32LE((crc ^ 0xffffffff) >>> 0);
  return out;
}

/** Radiotap with TSFT (8-byte aligned after an extended presence bitmap) and Flags. */
function radiotap(frame: Buffer, flags = 0, fcs?: Buffer): Buffer {
  const h = Buffer.alloc(8 + 4 + 4 + 8 + 1 + 3);
  h.writeUInt8(0, 0);
  h.writeUInt16LE(h.length, 2);
  h.writeUInt32LE(0x80000003, 4); // TSFT, Flags, and another presence word follows
  h.writeUInt32LE(0, 8);
  // Fields start at 12, TSFT aligns to 16.
  h.writeBigUInt64LE(123n, 16);
  h.writeUInt8(flags, 24);
  return Buffer.concat([h, frame, fcs ?? Buffer.alloc(0)]);
}

test('802.11 data frames: stations from the DS bits, LLC/SNAP payload decoded like Ethernet', () => {
  const cases: { d: DataFrame; src: string; dst: string }[] = [
    { d: { toDs: true, a1: AP, a2: STA, a3: HOST, body: llcSnap(ETHERTYPE_IPV4, IP) }, src: STA, dst: HOST },
    { d: { fromDs: true, a1: STA, a2: AP, a3: HOST, body: llcSnap(ETHERTYPE_IPV4, IP) }, src: HOST, dst: STA },
    { d: { a1: STA, a2: HOST, a3: AP, body: llcSnap(ETHERTYPE_IPV4, IP) }, src: HOST, dst: STA },
    { d: { toDs: true, fromDs: true, a1: AP, a2: AP, a3: HOST, a4: STA, qos: 0, body: llcSnap(ETHERTYPE_IPV4, IP) }, src: STA, dst: HOST },
    { d: { toDs: true, qos: 5, ht: true, a1: AP, a2: STA, a3: HOST, body: llcSnap(ETHERTYPE_IPV4, IP) }, src: STA, dst: HOST },
  ];
  for (const { d, src, dst } of cases) {
    const pkt = decode(dataFrame(d), LINKTYPE_IEEE802_11);
    assert.equal(pkt.malformed, null);
    assert.equal(macToString(pkt.ethSrc), src);
    assert.equal(macToString(pkt.ethDst), dst);
    assert.equal(pkt.etherType, ETHERTYPE_IPV4);
    assert.equal(ip4ToString(pkt.ip4Src), '198.18.0.10');
    assert.equal(pkt.dstPort, 53);
    assert.equal(pkt.buf.toString('latin1', pkt.payloadStart, pkt.payloadEnd), 'payload');
  }
});

test('802.11 mesh control is skipped when LLC/SNAP follows it, not when the QoS bit means something else', () => {
  const mesh = Buffer.concat([Buffer.from([0x01, 0x3f, 1, 0, 0, 0]), macBytes(HOST)]); // one extra address
  const withMesh = dataFrame({ toDs: true, fromDs: true, qos: 0x0100, a1: AP, a2: AP, a3: HOST, a4: STA, body: Buffer.concat([mesh, llcSnap(ETHERTYPE_IPV4, IP)]) });
  assert.equal(decode(withMesh, LINKTYPE_IEEE802_11).dstPort, 53);
  const txop = dataFrame({ toDs: true, fromDs: true, qos: 0x0100, a1: AP, a2: AP, a3: HOST, a4: STA, body: llcSnap(ETHERTYPE_IPV4, IP) });
  assert.equal(decode(txop, LINKTYPE_IEEE802_11).dstPort, 53);
});

test('protected, fragmented and null-data frames: stations known, payload not read', () => {
  const enc = decode(dataFrame({ toDs: true, protectedFrame: true, a1: AP, a2: STA, a3: HOST, body: Buffer.alloc(40, 0x5a) }), LINKTYPE_IEEE802_11);
  assert.equal(enc.linkSkip, LinkSkip.Protected);
  assert.equal(macToString(enc.ethSrc), STA);
  assert.equal(enc.ipVersion, 0);
  const first = decode(dataFrame({ toDs: true, moreFragments: true, a1: AP, a2: STA, a3: HOST, body: llcSnap(ETHERTYPE_IPV4, IP) }), LINKTYPE_IEEE802_11);
  assert.equal(first.linkSkip, LinkSkip.Fragment);
  assert.equal(first.ipVersion, 0);
  const later = decode(dataFrame({ toDs: true, fragment: 1, a1: AP, a2: STA, a3: HOST, body: IP }), LINKTYPE_IEEE802_11);
  assert.equal(later.linkSkip, LinkSkip.Fragment);
  const nullData = decode(dataFrame({ toDs: true, subtype: 4, a1: AP, a2: STA, a3: HOST, body: Buffer.alloc(0) }), LINKTYPE_IEEE802_11);
  assert.equal(nullData.linkSkip, LinkSkip.None);
  assert.equal(nullData.malformed, null);
  assert.equal(nullData.etherType, 0);
});

test('management and control frames are read without a network layer; non-SNAP LLC is not analysed', () => {
  const beacon = Buffer.concat([Buffer.from([0x80, 0x00]), Buffer.alloc(22), Buffer.alloc(12)]);
  const ack = Buffer.concat([Buffer.from([0xd4, 0x00]), Buffer.alloc(8)]);
  for (const f of [beacon, ack]) {
    const pkt = decode(f, LINKTYPE_IEEE802_11);
    assert.equal(pkt.malformed, null);
    assert.equal(pkt.etherType, 0);
  }
  const stp = decode(dataFrame({ toDs: true, a1: AP, a2: STA, a3: HOST, body: Buffer.from([0x42, 0x42, 0x03, 0, 0, 0, 0]) }), LINKTYPE_IEEE802_11);
  assert.equal(stp.etherType, 0);
  assert.equal(stp.malformed, null);
});

test('radiotap: extended presence bitmap, TSFT alignment, FCS checked and trimmed, bad-FCS frames not analysed', () => {
  const frame = dataFrame({ toDs: true, a1: AP, a2: STA, a3: HOST, body: llcSnap(ETHERTYPE_IPV4, IP) });
  const plain = decode(radiotap(frame), LINKTYPE_IEEE802_11_RADIOTAP);
  assert.equal(plain.dstPort, 53);
  assert.equal(plain.malformed, null);
  // FCS at the end: not part of the IP packet, whatever the IP length says.
  assert.equal(fcsOf(Buffer.from('123456789')).readUInt32LE(), 0xcbf43926, 'the CRC-32 check value');
  const withFcs = decode(radiotap(frame, 0x10, fcsOf(frame)), LINKTYPE_IEEE802_11_RADIOTAP);
  assert.equal(withFcs.malformed, null);
  assert.equal(withFcs.l3End, withFcs.end);
  assert.equal(withFcs.end, radiotap(frame, 0x10, Buffer.alloc(4)).length - 4);
  assert.equal(withFcs.buf.toString('latin1', withFcs.payloadStart, withFcs.payloadEnd), 'payload');
  // Damaged on the air but not flagged by the driver: the FCS gives it away.
  const damaged = Buffer.from(frame);
  damaged[damaged.length - 3]! ^= 0x04;
  const unflagged = decode(radiotap(damaged, 0x10, fcsOf(frame)), LINKTYPE_IEEE802_11_RADIOTAP);
  assert.match(unflagged.malformed ?? '', /FCS/);
  assert.equal(unflagged.ipVersion, 0);
  // Captured with a snap length, the frame lost its FCS with its tail: nothing to check or trim.
  const whole = radiotap(frame, 0x10, fcsOf(frame));
  const snapped = decodeBytes(whole.subarray(0, whole.length - 10), { linktype: LINKTYPE_IEEE802_11_RADIOTAP, origlen: whole.length });
  assert.equal(snapped.malformed, null);
  assert.equal(snapped.dstPort, 53);
  const bad = decode(radiotap(frame, 0x50, Buffer.alloc(4)), LINKTYPE_IEEE802_11_RADIOTAP);
  assert.equal(bad.malformedLayer, '802.11');
  assert.match(bad.malformed ?? '', /FCS/);
  assert.equal(bad.ipVersion, 0);
});

test('radiotap, PPI, Prism and AVS headers that lie about their length are malformed, never read past the frame', () => {
  const frame = dataFrame({ toDs: true, a1: AP, a2: STA, a3: HOST, body: llcSnap(ETHERTYPE_IPV4, IP) });
  const long = radiotap(frame);
  long.writeUInt16LE(0xffff, 2);
  assert.equal(decode(long, LINKTYPE_IEEE802_11_RADIOTAP).malformedLayer, 'radiotap');
  const endless = Buffer.alloc(16, 0xff);
  endless.writeUInt8(0, 0);
  endless.writeUInt16LE(16, 2);
  assert.match(decode(endless, LINKTYPE_IEEE802_11_RADIOTAP).malformed ?? '', /presence bitmap/);
  assert.equal(decode(Buffer.from([0, 0, 8]), LINKTYPE_IEEE802_11_RADIOTAP).malformedLayer, 'radiotap');

  const ppi = Buffer.alloc(8 + 4 + 20);
  ppi.writeUInt16LE(ppi.length, 2);
  ppi.writeUInt32LE(105, 4);
  ppi.writeUInt16LE(2, 8);
  ppi.writeUInt16LE(20, 10);
  const ppiFrame = Buffer.concat([ppi, frame]);
  assert.equal(decode(ppiFrame, LINKTYPE_PPI).dstPort, 53);
  const ppiBadField = Buffer.from(ppiFrame);
  ppiBadField.writeUInt16LE(200, 10);
  assert.equal(decode(ppiBadField, LINKTYPE_PPI).malformedLayer, 'ppi');
  const ppiFcsInvalid = Buffer.concat([Buffer.from(ppi), frame, Buffer.alloc(4)]);
  ppiFcsInvalid.writeUInt16LE(0x5, 12 + 8);
  assert.match(decode(ppiFcsInvalid, LINKTYPE_PPI).malformed ?? '', /FCS/);
  const ppiFcs = Buffer.concat([Buffer.from(ppi), frame, fcsOf(frame)]);
  ppiFcs.writeUInt16LE(0x1, 12 + 8);
  const fcsPkt = decode(ppiFcs, LINKTYPE_PPI);
  assert.equal(fcsPkt.end, ppiFcs.length - 4);
  assert.equal(fcsPkt.dstPort, 53);

  const prism = Buffer.alloc(144);
  prism.writeUInt32LE(0x44, 0);
  prism.writeUInt32LE(144, 4);
  assert.equal(decode(Buffer.concat([prism, frame]), LINKTYPE_IEEE802_11_PRISM).dstPort, 53);
  const prismBig = Buffer.from(prism);
  prismBig.writeUInt32BE(144, 4);
  assert.equal(decode(Buffer.concat([prismBig, frame]), LINKTYPE_IEEE802_11_PRISM).dstPort, 53);
  const prismLie = Buffer.from(prism);
  prismLie.writeUInt32LE(100_000, 4);
  assert.equal(decode(Buffer.concat([prismLie, frame]), LINKTYPE_IEEE802_11_PRISM).malformedLayer, 'prism');

  const avs = Buffer.alloc(64);
  avs.writeUInt32BE(0x80211001, 0);
  avs.writeUInt32BE(64, 4);
  assert.equal(decode(Buffer.concat([avs, frame]), LINKTYPE_IEEE802_11_AVS).dstPort, 53);
  assert.equal(decode(Buffer.concat([avs, frame]), LINKTYPE_IEEE802_11_PRISM).dstPort, 53);
  const avsLie = Buffer.from(avs);
  avsLie.writeUInt32BE(4, 4);
  assert.equal(decode(Buffer.concat([avsLie, frame]), LINKTYPE_IEEE802_11_AVS).malformedLayer, 'avs');
});

test('truncated 802.11 headers are malformed at every cut', () => {
  const frame = dataFrame({ toDs: true, fromDs: true, qos: 0, a1: AP, a2: AP, a3: HOST, a4: STA, body: llcSnap(ETHERTYPE_IPV4, IP) });
  for (let cut = 0; cut < frame.length; cut++) {
    const pkt = decode(frame.subarray(0, cut), LINKTYPE_IEEE802_11);
    if (cut < 32) assert.notEqual(pkt.malformed, null, `cut at ${cut}`);
    assert.ok(pkt.payloadEnd <= cut);
  }
});

function amsduSubframe(dst: string, src: string, etherType: number, payload: Buffer): Buffer {
  const body = llcSnap(etherType, payload);
  const h = Buffer.concat([macBytes(dst), macBytes(src), Buffer.from([body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([h, Buffer.alloc((4 - (h.length % 4)) % 4)]);
}

test('A-MSDU: each subframe is a packet of its own, with its own stations', () => {
  const arp = arpPayload({ op: 2, senderMac: HOST, senderIp: '198.18.0.1', targetMac: STA, targetIp: '198.18.0.10' });
  const body = Buffer.concat([amsduSubframe(STA, HOST, ETHERTYPE_ARP, arp), amsduSubframe(STA, AP, ETHERTYPE_IPV4, IP)]);
  const frame = dataFrame({ fromDs: true, qos: 0x0080, a1: STA, a2: AP, a3: AP, body });
  const outer = decode(frame, LINKTYPE_IEEE802_11);
  assert.equal(outer.encap, Encap.Amsdu);
  const inner = new Packet();
  const next = decodeAmsduSubframeAt(outer, inner, outer.innerStart);
  assert.equal(inner.etherType, ETHERTYPE_ARP);
  assert.equal(macToString(inner.ethSrc), HOST);
  assert.ok(next > 0);
  assert.equal(decodeAmsduSubframeAt(outer, inner, next), -1);
  assert.equal(inner.dstPort, 53);
  assert.equal(macToString(inner.ethSrc), AP);
  // A subframe whose length runs past the frame ends the walk, marked.
  const cut = decode(frame.subarray(0, frame.length - 10), LINKTYPE_IEEE802_11);
  const first = decodeAmsduSubframeAt(cut, inner, cut.innerStart);
  assert.equal(decodeAmsduSubframeAt(cut, inner, first), -1);
  assert.match(inner.malformed ?? '', /A-MSDU/);
});

test('TZSP carrying 802.11 from a wireless sensor is followed into the frame', () => {
  const wifi = dataFrame({ toDs: true, a1: AP, a2: STA, a3: HOST, body: llcSnap(ETHERTYPE_IPV4, IP) });
  const outer = decode(ipv4UdpFrame(HOST, STA, '198.18.0.2', '198.18.0.3', 40000, 37008, Buffer.concat([tzspHeader(0, 18), wifi])), LINKTYPE_ETHERNET);
  assert.equal(outer.encap, Encap.Tzsp);
  const inner = new Packet();
  decodeInner(outer, inner);
  assert.equal(macToString(inner.ethSrc), STA);
  assert.equal(inner.dstPort, 53);
});

test('an ARP reply inside an A-MSDU reaches the ARP analyzer; protected frames give one coverage notice', async () => {
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 3; i++) {
    // A poisoner's replies, aggregated with other traffic.
    const arp = arpPayload({ op: 2, senderMac: HOST, senderIp: '198.18.0.1', targetMac: STA, targetIp: '198.18.0.10' });
    const body = Buffer.concat([amsduSubframe(STA, AP, ETHERTYPE_IPV4, IP), amsduSubframe(STA, HOST, ETHERTYPE_ARP, arp)]);
    frames.push({ t: i, frame: dataFrame({ fromDs: true, qos: 0x0080, a1: STA, a2: AP, a3: AP, body }) });
    frames.push({ t: i + 0.5, frame: dataFrame({ toDs: true, protectedFrame: true, a1: AP, a2: STA, a3: HOST, body: Buffer.alloc(60, 7) }) });
  }
  const r = await scanFrames(frames, defaultConfig(), LINKTYPE_IEEE802_11);
  const unsolicited = r.findings.find((f) => f.rule_id === 'arp-unsolicited-reply');
  assert.ok(unsolicited, r.findings.map((f) => f.rule_id).join(', '));
  assert.ok(unsolicited.entities.some((e) => e.type === 'mac' && e.value === HOST));
  assert.match(unsolicited.evidence[0]?.detail ?? '', /inside 802\.11 A-MSDU/);
  const notice = r.findings.find((f) => f.rule_id === 'decode-wlan-skipped');
  assert.equal(notice?.count, 3);
  assert.equal(notice?.severity, 'info');
});
