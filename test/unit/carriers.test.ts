import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LINKTYPE_C_HDLC,
  LINKTYPE_C_HDLC_WITH_DIR,
  LINKTYPE_FRELAY,
  LINKTYPE_IPNET,
  LINKTYPE_IPOIB,
  LINKTYPE_NFLOG,
  LINKTYPE_PFLOG,
  LINKTYPE_PKTAP,
  LINKTYPE_PPP,
  LINKTYPE_PPP_ETHER,
  LINKTYPE_PPP_HDLC,
  LINKTYPE_PPP_WITH_DIR,
} from '../../src/capture/linktypes.js';
import { ip4ToString } from '../../src/decode/addr.js';
import { Encap, ETHERTYPE_IPV4, InnerKind, type Packet } from '../../src/decode/packet.js';
import { ethernet, ipv4Packet, udpDatagram } from '../../src/craft/frames.js';
import { decodeBytes } from '../helpers/decode.js';

// Carrier, WAN and capture pseudo-headers (src/decode/carriers.ts and the
// link types of decoder.ts): each shape a capture of another tool may hold,
// and each hostile one, which must be flagged with its layer, never thrown.
// The same framings written by scapy over the public captures are checked
// against tshark in test/conformance/carrier-framing.test.ts.

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const UDP = ipv4Packet('198.18.0.10', '198.18.0.1', 17, udpDatagram(5353, 53, Buffer.from('payload')));
const MPLS = 0x8847;
const NSH = 0x894f;
const MACSEC = 0x88e5;

function bytes(...parts: Array<Buffer | number[]>): Buffer {
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
}

function label(value: number, bottom: boolean): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(((value << 12) | (bottom ? 0x100 : 0) | 64) >>> 0);
  return b;
}

function assertUdp(pkt: Packet, what: string): void {
  assert.equal(pkt.malformed, null, `${what}: ${pkt.malformed}`);
  assert.equal(pkt.ipVersion, 4, what);
  assert.equal(ip4ToString(pkt.ip4Src), '198.18.0.10', what);
  assert.equal(pkt.dstPort, 53, what);
}

test('PPP and Cisco HDLC link types, with and without HDLC framing, direction bytes and compressed protocols', () => {
  assertUdp(decodeBytes(bytes([0xff, 0x03, 0x00, 0x21], UDP), { linktype: LINKTYPE_PPP }), 'PPP in HDLC-like framing');
  assertUdp(decodeBytes(bytes([0x00, 0x21], UDP), { linktype: LINKTYPE_PPP }), 'PPP without framing');
  assertUdp(decodeBytes(bytes([0x21], UDP), { linktype: LINKTYPE_PPP }), 'PPP with a compressed protocol field');
  assertUdp(decodeBytes(bytes([0x01, 0xff, 0x03, 0x00, 0x21], UDP), { linktype: LINKTYPE_PPP_WITH_DIR }), 'PPP with direction');
  assertUdp(decodeBytes(bytes([0xff, 0x03, 0x00, 0x21], UDP), { linktype: LINKTYPE_PPP_HDLC }), 'PPP_HDLC');
  assertUdp(decodeBytes(bytes([0x0f, 0x00, 0x08, 0x00], UDP), { linktype: LINKTYPE_PPP_HDLC }), 'Cisco PPP with HDLC framing');
  assertUdp(decodeBytes(bytes([0x8f, 0x00, 0x08, 0x00], UDP), { linktype: LINKTYPE_C_HDLC }), 'Cisco HDLC broadcast');
  assertUdp(decodeBytes(bytes([0x00, 0x0f, 0x00, 0x08, 0x00], UDP), { linktype: LINKTYPE_C_HDLC_WITH_DIR }), 'Cisco HDLC with direction');
  assertUdp(decodeBytes(bytes([0x0f, 0x00, 0x88, 0x47], label(16, true), UDP), { linktype: LINKTYPE_C_HDLC }), 'MPLS over Cisco HDLC');
  assertUdp(decodeBytes(bytes([0xff, 0x03, 0x02, 0x81], label(16, true), UDP), { linktype: LINKTYPE_PPP }), 'MPLS over PPP');
  assertUdp(decodeBytes(bytes([0x11, 0x00, 0x12, 0x34, 0x00, 0x40, 0x00, 0x21], UDP), { linktype: LINKTYPE_PPP_ETHER }), 'PPPoE link type');
  // Control protocols (LCP, SLARP) carry nothing analysed: not decoded, not malformed.
  for (const [frame, linktype] of [
    [bytes([0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0, 0, 0, 0]), LINKTYPE_PPP],
    [bytes([0x8f, 0x00, 0x80, 0x35], Buffer.alloc(18)), LINKTYPE_C_HDLC],
  ] as const) {
    const pkt = decodeBytes(frame, { linktype });
    assert.equal(pkt.ipVersion, 0);
    assert.equal(pkt.malformed, null);
  }
});

test('MPLS stacks, pseudowires, PPPoE sessions, MACsec, NSH and Arista timestamps inside Ethernet', () => {
  assertUdp(decodeBytes(ethernet(B, A, MPLS, bytes(label(100, false), label(200, false), label(16, true), UDP))), 'three labels');
  assertUdp(decodeBytes(ethernet(B, A, 0x8848, bytes(label(16, true), UDP), [7])), 'multicast MPLS behind a VLAN tag');
  const pseudowire = decodeBytes(ethernet(B, A, MPLS, bytes(label(3000, false), label(77, true), [0, 0, 0, 0], ethernet('02:00:00:00:00:c1', '02:00:00:00:00:c2', ETHERTYPE_IPV4, UDP))));
  assertUdp(pseudowire, 'Ethernet pseudowire');
  assert.equal(pseudowire.ethSrc, 0x0200000000c2, 'the customer frame is the link layer');
  assertUdp(decodeBytes(ethernet(B, A, 0x8864, bytes([0x11, 0x00, 0x00, 0x01, 0x00, 0x40, 0x00, 0x21], UDP))), 'PPPoE session');
  const sci = [1, 2, 3, 4, 5, 6, 0, 1];
  const icv = Buffer.alloc(16, 0xaa);
  assertUdp(decodeBytes(ethernet(B, A, MACSEC, bytes([0x20, 0x00, 0, 0, 0, 9], sci, [0x08, 0x00], UDP, icv))), 'MACsec, integrity only');
  // Encrypted MACsec cannot be read: left undecoded, not malformed.
  const encrypted = decodeBytes(ethernet(B, A, MACSEC, bytes([0x2c, 0x00, 0, 0, 0, 9], sci, Buffer.alloc(60, 0x5a), icv)));
  assert.equal(encrypted.ipVersion, 0);
  assert.equal(encrypted.malformed, null);
  const nshHeader = [0x00, 0x06, 0x01, 0x01, 0, 0, 1, 0xff, ...Array<number>(16).fill(0)];
  assertUdp(decodeBytes(ethernet(B, A, NSH, bytes(nshHeader, UDP))), 'NSH carrying IPv4');
  const arista = (version: number, ts: number): number[] => [0x00, 0x01, version >> 8, version & 0xff, ...Array<number>(ts).fill(7)];
  assertUdp(decodeBytes(ethernet(B, A, 0xd28b, bytes(arista(0x0010, 8), [0x08, 0x00], UDP))), 'Arista 64-bit timestamp');
  const tagged = decodeBytes(ethernet(B, A, 0xd28b, bytes(arista(0x0120, 6), [0x81, 0x00, 0x00, 0x64, 0x08, 0x00], UDP)));
  assertUdp(tagged, 'Arista 48-bit timestamp, then a VLAN tag');
  assert.equal(tagged.vlans[0], 100);
  assertUdp(decodeBytes(ethernet(B, A, 0x8909, bytes([1, 1, 0, 1, 0, 42, 0x08, 0x00], UDP))), 'Cisco MetaData with an SGT');
  assertUdp(decodeBytes(ethernet(B, A, 0x8926, bytes([0x80, 0x01, 0x00, 0x02, 0x81, 0x00, 0x00, 0x07, 0x08, 0x00], UDP))), 'VN-Tag, then a VLAN tag');
  assertUdp(decodeBytes(ethernet(B, A, 0x893f, bytes([0, 0, 0, 5, 0, 0, 0x08, 0x00], UDP))), '802.1BR E-Tag');
  const pbb = decodeBytes(ethernet('02:00:00:00:00:b1', '02:00:00:00:00:b2', 0x88e7, bytes([0, 0, 0, 42], ethernet(B, A, ETHERTYPE_IPV4, UDP))));
  assertUdp(pbb, '802.1ah PBB');
  assert.equal(pbb.ethSrc, 0x02000000000a, "the customer's addresses are the frame's");
  assert.equal(pbb.ethDst, 0x02000000000b);
});

test('Frame Relay (RFC 2427 and Cisco encapsulations), IP over InfiniBand, Solaris ipnet', () => {
  const fr = (...p: number[][]): Packet => decodeBytes(bytes(...p, UDP), { linktype: LINKTYPE_FRELAY });
  assertUdp(fr([0x18, 0x41], [0x03, 0xcc]), 'RFC 2427, NLPID IPv4');
  assertUdp(fr([0x18, 0x41], [0x03, 0x00, 0xcc]), 'RFC 2427 with a pad byte');
  assertUdp(fr([0x18, 0x40, 0x01], [0x03, 0x00, 0xcc]), 'three-byte Q.922 address');
  assertUdp(fr([0x18, 0x40, 0x00, 0x01], [0x03, 0xcc]), 'four-byte Q.922 address');
  assertUdp(fr([0x18, 0x41], [0x03, 0x80, 0x00, 0x00, 0x00, 0x08, 0x00]), 'RFC 2427, SNAP');
  assertUdp(fr([0x18, 0x41], [0x08, 0x00]), 'Cisco encapsulation');
  assertUdp(fr([0x18, 0x41], [0x03, 0xcf, 0x00, 0x21]), 'PPP over Frame Relay');
  assertUdp(decodeBytes(bytes(Buffer.alloc(40), [0x08, 0x00, 0, 0], UDP), { linktype: LINKTYPE_IPOIB }), 'IPoIB');
  assertUdp(decodeBytes(bytes([1, 2], Buffer.alloc(22), UDP), { linktype: LINKTYPE_IPNET }), 'ipnet');
});

test('capture pseudo-headers: NFLOG in either byte order, pflog, PKTAP', () => {
  const tlv = (le: boolean, type: number, value: Buffer): Buffer => {
    const h = Buffer.alloc(4);
    if (le) {
      h.writeUInt16LE(4 + value.length, 0);
      h.writeUInt16LE(type, 2);
    } else {
      h.writeUInt16BE(4 + value.length, 0);
      h.writeUInt16BE(type, 2);
    }
    return bytes(h, value, Buffer.alloc(-value.length & 3));
  };
  for (const le of [true, false]) {
    const frame = bytes([2, 0, 0, 5], tlv(le, 1, Buffer.from([0x08, 0x00, 3, 0])), tlv(le, 10, Buffer.from('drop\0')), tlv(le, 9, UDP));
    assertUdp(decodeBytes(frame, { linktype: LINKTYPE_NFLOG }), `NFLOG, ${le ? 'little' : 'big'}-endian TLVs`);
  }
  // The bridge family logs frames that are not IP: left undecoded.
  assert.equal(decodeBytes(bytes([7, 0, 0, 5], tlv(true, 9, Buffer.alloc(28, 1))), { linktype: LINKTYPE_NFLOG }).malformed, null);

  const pflog = Buffer.alloc(61);
  pflog[0] = 61;
  pflog[1] = 2;
  assertUdp(decodeBytes(bytes(pflog, [0, 0, 0], UDP), { linktype: LINKTYPE_PFLOG }), 'pflog (61-byte header padded to 64)');

  const pktap = Buffer.alloc(108);
  pktap.writeUInt32LE(108, 0);
  pktap.writeUInt32LE(1, 4);
  pktap.writeUInt32LE(1, 8);
  pktap.write('en0', 12);
  const viaPktap = decodeBytes(bytes(pktap, ethernet(B, A, ETHERTYPE_IPV4, UDP)), { linktype: LINKTYPE_PKTAP });
  assertUdp(viaPktap, 'PKTAP carrying Ethernet');
  assert.equal(viaPktap.ethSrc, 0x02000000000a);
  // Whatever link type the header names, as the decoder reads it at the top level; never PKTAP again.
  const pktapOf = (dlt: number, frame: Buffer): Packet => {
    const h = Buffer.from(pktap);
    h.writeUInt32LE(dlt, 8);
    return decodeBytes(bytes(h, frame), { linktype: LINKTYPE_PKTAP });
  };
  assertUdp(pktapOf(0, bytes([2, 0, 0, 0], UDP)), 'PKTAP carrying BSD loopback');
  assertUdp(pktapOf(12, UDP), 'PKTAP carrying raw IP');
  assertUdp(pktapOf(LINKTYPE_PPP, bytes([0xff, 0x03, 0x00, 0x21], UDP)), 'PKTAP carrying PPP');
  const nested = pktapOf(LINKTYPE_PKTAP, bytes(pktap, ethernet(B, A, ETHERTYPE_IPV4, UDP)));
  assert.equal(nested.ipVersion, 0);
  assert.equal(nested.malformed, null);
});

test('IP in IP and MPLS in GRE are tunnels whose inner packet the engine decodes', () => {
  for (const [proto, inner, version] of [
    [4, UDP, 4],
    [41, Buffer.from('6000000000081140' + 'fe80'.padEnd(32, '0') + 'ff02'.padEnd(32, '0') + '14e9003500080000', 'hex'), 6],
  ] as const) {
    const pkt = decodeBytes(ethernet(B, A, ETHERTYPE_IPV4, ipv4Packet('198.18.254.1', '198.18.254.2', proto, inner)));
    assert.equal(pkt.encap, Encap.IpInIp);
    assert.equal(pkt.innerKind, InnerKind.Ip);
    assert.equal(pkt.buf[pkt.innerStart]! >> 4, version);
  }
  const gre = decodeBytes(ethernet(B, A, ETHERTYPE_IPV4, ipv4Packet('198.18.254.1', '198.18.254.2', 47, bytes([0, 0, 0x88, 0x47], label(16, true), UDP))));
  assert.equal(gre.encap, Encap.Gre);
  assert.equal(gre.innerKind, InnerKind.Mpls);
});

test('hostile carriers are flagged with their layer, never thrown or followed off the stack', () => {
  // A pseudowire holding a pseudowire... far past any real network.
  let nested = ethernet(B, A, ETHERTYPE_IPV4, UDP);
  for (let i = 0; i < 5000; i++) nested = ethernet(B, A, MPLS, bytes(label(i & 0xfffff, true), [0, 0, 0, 0], nested));
  const deep = decodeBytes(nested);
  assert.equal(deep.malformedLayer, 'mpls');
  assert.match(deep.malformed ?? '', /nested more than 4 deep/);
  // MACsec inside MACsec, each level 24 bytes (SecTAG, EtherType, ICV): thousands fit in one frame.
  const macsecLevels = 10_000;
  const nestedMacsec = ethernet(B, A, MACSEC, bytes(...Array.from({ length: macsecLevels }, () => [0x00, 0x00, 0, 0, 0, 1, 0x88, 0xe5]), Buffer.alloc(macsecLevels * 16 + 40)));
  const macsec = decodeBytes(nestedMacsec);
  assert.equal(macsec.malformedLayer, 'macsec');
  assert.match(macsec.malformed ?? '', /nested more than 4 deep/);

  const cases: Array<[string, Buffer, number | undefined, string]> = [
    ['Cisco MetaData cut before its EtherType', ethernet(B, A, 0x8909, Buffer.from([1, 1, 0, 1, 0])), undefined, 'ethernet'],
    ['PBB cut inside the customer addresses', ethernet(B, A, 0x88e7, Buffer.alloc(10)), undefined, 'ethernet'],
    ['MPLS stack without bottom', ethernet(B, A, MPLS, bytes(label(1, false), label(2, false))), undefined, 'mpls'],
    ['PPPoE code other than session data', ethernet(B, A, 0x8864, bytes([0x11, 0x09, 0, 1, 0, 2, 0x00, 0x21])), undefined, 'pppoe'],
    ['MACsec shorter than its ICV', ethernet(B, A, MACSEC, bytes([0x20, 0x00, 0, 0, 0, 1], Buffer.alloc(12))), undefined, 'macsec'],
    ['NSH length beyond the frame', ethernet(B, A, NSH, bytes([0x00, 0x3f, 0x01, 0x01, 0, 0, 1, 0xff])), undefined, 'nsh'],
    ['NSH inside NSH, endlessly', ethernet(B, A, NSH, bytes(...Array.from({ length: 40 }, () => [0x00, 0x02, 0x02, 0x04, 0, 0, 1, 0xff]))), undefined, 'nsh'],
    ['empty PPP frame', Buffer.alloc(0), LINKTYPE_PPP, 'ppp'],
    ['Cisco HDLC shorter than its header', Buffer.from([0x0f, 0x00]), LINKTYPE_C_HDLC, 'chdlc'],
    ['NFLOG TLV of length 0', bytes([2, 0, 0, 0], [0, 0, 9, 0]), LINKTYPE_NFLOG, 'nflog'],
    ['NFLOG TLV past the frame', bytes([2, 0, 0, 0], [0xff, 0x00, 9, 0], UDP), LINKTYPE_NFLOG, 'nflog'],
    ['pflog length below the header', bytes([8, 2], Buffer.alloc(60)), LINKTYPE_PFLOG, 'pflog'],
    ['pflog length past the frame', bytes([200, 2], Buffer.alloc(60)), LINKTYPE_PFLOG, 'pflog'],
    ['PKTAP length past the frame', bytes([0xff, 0xff, 0, 0], Buffer.alloc(120)), LINKTYPE_PKTAP, 'pktap'],
    ['PKTAP shorter than its header', Buffer.alloc(40), LINKTYPE_PKTAP, 'pktap'],
    ['Q.922 address with EA set in its first byte', bytes([0x19, 0x41, 0x03, 0xcc], UDP), LINKTYPE_FRELAY, 'frame-relay'],
    ['Q.922 address of five bytes', bytes([0x18, 0x40, 0x00, 0x00, 0x01, 0x03, 0xcc], UDP), LINKTYPE_FRELAY, 'frame-relay'],
    ['Q.922 address running off the frame', Buffer.from([0x18, 0x40, 0x00]), LINKTYPE_FRELAY, 'frame-relay'],
    ['Frame Relay without NLPID', Buffer.from([0x18, 0x41, 0x03]), LINKTYPE_FRELAY, 'frame-relay'],
    ['IPoIB shorter than its header', Buffer.alloc(43), LINKTYPE_IPOIB, 'ipoib'],
    ['ipnet shorter than its header', Buffer.alloc(23), LINKTYPE_IPNET, 'ipnet'],
  ];
  for (const [what, frame, linktype, layer] of cases) {
    const pkt = decodeBytes(frame, linktype === undefined ? {} : { linktype });
    assert.equal(pkt.malformedLayer, layer, what);
    assert.equal(pkt.ipVersion, 0, what);
  }
});
