import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  arpFrame,
  arpPayload,
  erspanIIHeader,
  erspanIIIHeader,
  ethernet,
  geneveHeader,
  grePacket,
  ipv4GreFrame,
  ipv4Packet,
  ipv4UdpFrame,
  ipv6Packet,
  ipv6UdpFrame,
  tzspHeader,
  udpDatagram,
  vxlanHeader,
  ZERO_MAC,
} from '../../src/craft/frames.js';
import { ip4ToString } from '../../src/decode/addr.js';
import { decodeInner } from '../../src/decode/decoder.js';
import { Encap, ENCAP_NAMES, ETHERTYPE_ARP, InnerKind, MAX_ENCAP_DEPTH, Packet } from '../../src/decode/packet.js';
import { scanFrames } from '../helpers/captures.js';
import { decodeBytes } from '../helpers/decode.js';

// The tunnel decoders on crafted frames: every encapsulation, its options,
// nesting, and every truncation of every header.

const OUT_SRC = { mac: '02:00:00:00:00:01', ip: '198.18.0.1' };
const OUT_DST = { mac: '02:00:00:00:00:02', ip: '198.18.0.2' };
/** Where the tunnel header starts: after Ethernet + IPv4 (GRE) or + UDP. */
const GRE_AT = 14 + 20;
const UDP_PAYLOAD_AT = GRE_AT + 8;

const innerIp = (): Buffer => ipv4Packet('198.19.0.1', '198.19.0.2', 17, udpDatagram(1234, 53, Buffer.alloc(8)));
const innerEth = (): Buffer => ethernet('02:00:00:00:01:02', '02:00:00:00:01:01', 0x0800, innerIp());
const greFrame = (gre: Buffer): Buffer => ipv4GreFrame(OUT_SRC.mac, OUT_DST.mac, OUT_SRC.ip, OUT_DST.ip, gre);
const udpFrame = (dport: number, payload: Buffer): Buffer => ipv4UdpFrame(OUT_SRC.mac, OUT_DST.mac, OUT_SRC.ip, OUT_DST.ip, 40000, dport, payload);

/** Decodes `frame` as captured with `caplen` bytes (a snapped capture when shorter than the frame). */
function decode(frame: Buffer, caplen = frame.length): Packet {
  return decodeBytes(frame, { caplen });
}

function innerOf(outer: Packet): Packet {
  assert.notEqual(outer.encap, Encap.None, 'no inner frame');
  const inner = new Packet();
  decodeInner(outer, inner);
  return inner;
}

function assertCarries(pkt: Packet, encap: Encap, kind: InnerKind, id: number): Packet {
  assert.equal(pkt.malformed, null, `outer malformed: ${pkt.malformedLayer}: ${pkt.malformed}`);
  assert.equal(ENCAP_NAMES[pkt.encap], ENCAP_NAMES[encap]);
  assert.equal(pkt.innerKind, kind);
  assert.equal(pkt.encapId, id);
  return innerOf(pkt);
}

function assertInnerUdp(inner: Packet): void {
  assert.equal(inner.malformed, null, `inner malformed: ${inner.malformedLayer}: ${inner.malformed}`);
  assert.equal(ip4ToString(inner.ip4Src), '198.19.0.1');
  assert.equal(ip4ToString(inner.ip4Dst), '198.19.0.2');
  assert.equal(inner.dstPort, 53);
  assert.equal(inner.depth, 1);
}

function assertNotTunnel(pkt: Packet): void {
  assert.equal(pkt.malformed, null, `malformed: ${pkt.malformedLayer}: ${pkt.malformed}`);
  assert.equal(pkt.encap, Encap.None);
}

function assertMalformed(pkt: Packet, layer: string, reason?: RegExp): void {
  assert.equal(pkt.malformedLayer, layer, `expected ${layer} malformed, got ${pkt.malformedLayer}: ${pkt.malformed}`);
  if (reason) assert.match(pkt.malformed ?? '', reason);
  assert.equal(pkt.encap, Encap.None, 'a malformed packet must not hand on an inner frame');
}

/**
 * Cuts the frame at every byte from the start of the tunnel header to the end
 * of the inner frame: inside the headers the outer packet is malformed and
 * has no inner frame; from the end of the headers on, the inner frame is
 * handed on and its own decoding notices what is missing.
 */
function assertEveryTruncation(frame: Buffer, tunnelAt: number, innerAt: number, layers: string[]): void {
  for (let cut = tunnelAt; cut < innerAt; cut++) {
    const pkt = decode(frame, cut);
    assert.ok(pkt.malformed !== null, `cut at ${cut}: not marked malformed`);
    assert.ok(layers.includes(pkt.malformedLayer ?? ''), `cut at ${cut}: malformed layer ${pkt.malformedLayer} (${pkt.malformed})`);
    assert.equal(pkt.encap, Encap.None, `cut at ${cut}: inner frame set on a malformed packet`);
  }
  const empty = decode(frame, innerAt);
  assert.equal(empty.malformed, null, `cut at ${innerAt}: ${empty.malformed}`);
  assert.equal(empty.innerStart, innerAt);
  assert.equal(empty.innerEnd, innerAt);
  assert.ok(innerOf(empty).malformed !== null, 'an empty inner frame is malformed');
  for (let cut = innerAt + 1; cut <= frame.length; cut++) {
    const pkt = decode(frame, cut);
    assert.equal(pkt.malformed, null, `cut at ${cut}: ${pkt.malformed}`);
    assert.equal(pkt.innerEnd, cut, `cut at ${cut}: inner frame must end where the capture does`);
    innerOf(pkt);
  }
}

test('GRE carrying IPv4, with checksum, key and sequence fields', () => {
  const plain = decode(greFrame(grePacket(0x0800, innerIp())));
  assertInnerUdp(assertCarries(plain, Encap.Gre, InnerKind.Ip, -1));
  assert.equal(plain.innerStart, GRE_AT + 4);

  const full = decode(greFrame(grePacket(0x0800, innerIp(), { checksum: true, key: 0xdeadbeef, sequence: 7 })));
  assertInnerUdp(assertCarries(full, Encap.Gre, InnerKind.Ip, 0xdeadbeef));
  assert.equal(full.innerStart, GRE_AT + 16);
});

test('tunnels over IPv6: VXLAN in UDP and ERSPAN in GRE', () => {
  const vx = decode(ipv6UdpFrame(OUT_SRC.mac, OUT_DST.mac, '2001:db8::1', '2001:db8::2', 40000, 4789, Buffer.concat([vxlanHeader(7), innerEth()])));
  assertInnerUdp(assertCarries(vx, Encap.Vxlan, InnerKind.Ethernet, 7));
  assert.equal(vx.innerStart, 14 + 40 + 8 + 8);
  const gre = ethernet(OUT_DST.mac, OUT_SRC.mac, 0x86dd, ipv6Packet('2001:db8::1', '2001:db8::2', 47, grePacket(0x88be, Buffer.concat([erspanIIHeader(9), innerEth()]), { sequence: 3 })));
  assertInnerUdp(assertCarries(decode(gre), Encap.ErspanII, InnerKind.Ethernet, 9));
});

test('GRE transparent Ethernet bridging carries an Ethernet frame; protocol 0x0806 a bare ARP message', () => {
  const teb = decode(greFrame(grePacket(0x6558, innerEth(), { key: 5 })));
  const inner = assertCarries(teb, Encap.Gre, InnerKind.Ethernet, 5);
  assertInnerUdp(inner);
  assert.equal(inner.ethSrc, 0x020000000101);

  const arp = arpPayload({ op: 1, senderMac: '02:00:00:00:01:01', senderIp: '198.19.0.1', targetMac: ZERO_MAC, targetIp: '198.19.0.2' });
  const bare = assertCarries(decode(greFrame(grePacket(0x0806, arp))), Encap.Gre, InnerKind.Arp, -1);
  assert.equal(bare.etherType, ETHERTYPE_ARP);
  assert.equal(bare.l3Start, GRE_AT + 4);
  assert.equal(bare.ethSrc, -1);
});

test('GRE version 1 (PPTP) and unknown protocol types are valid but not followed; bad versions and routing are malformed', () => {
  assertNotTunnel(decode(greFrame(grePacket(0x880b, Buffer.alloc(16), { version: 1, key: 1 }))));
  assertNotTunnel(decode(greFrame(grePacket(0x883e, Buffer.alloc(16))))); // WCCP
  assertMalformed(decode(greFrame(grePacket(0x0800, innerIp(), { version: 2 }))), 'gre', /version/);
  const routed = greFrame(grePacket(0x0800, innerIp()));
  routed.writeUInt16BE(0x4000, GRE_AT);
  assertMalformed(decode(routed), 'gre', /routing/);
});

test('ERSPAN type I: protocol 0x88be without a sequence number, Ethernet follows the GRE header', () => {
  const pkt = decode(greFrame(grePacket(0x88be, innerEth())));
  assertInnerUdp(assertCarries(pkt, Encap.ErspanI, InnerKind.Ethernet, -1));
  assert.equal(pkt.innerStart, GRE_AT + 4);
});

test('ERSPAN type II: sequence number, 8-byte header, session id; other versions are malformed', () => {
  const pkt = decode(greFrame(grePacket(0x88be, Buffer.concat([erspanIIHeader(1000, 17), innerEth()]), { sequence: 1 })));
  assertInnerUdp(assertCarries(pkt, Encap.ErspanII, InnerKind.Ethernet, 1000));
  assert.equal(pkt.innerStart, GRE_AT + 8 + 8);
  const v2 = erspanIIHeader(3);
  v2[0] = 0x20;
  assertMalformed(decode(greFrame(grePacket(0x88be, Buffer.concat([v2, innerEth()]), { sequence: 1 }))), 'erspan', /version/);
});

test('ERSPAN type III: 12-byte header, optional platform subheader, version 2 only', () => {
  const plain = decode(greFrame(grePacket(0x22eb, Buffer.concat([erspanIIIHeader(77), innerEth()]), { sequence: 9 })));
  assertInnerUdp(assertCarries(plain, Encap.ErspanIII, InnerKind.Ethernet, 77));
  assert.equal(plain.innerStart, GRE_AT + 8 + 12);
  const platform = decode(greFrame(grePacket(0x22eb, Buffer.concat([erspanIIIHeader(78, { platform: true }), innerEth()]))));
  assertInnerUdp(assertCarries(platform, Encap.ErspanIII, InnerKind.Ethernet, 78));
  assert.equal(platform.innerStart, GRE_AT + 4 + 20);
  const v1 = erspanIIIHeader(1);
  v1[0] = 0x10;
  assertMalformed(decode(greFrame(grePacket(0x22eb, Buffer.concat([v1, innerEth()])))), 'erspan', /version/);
});

test('VXLAN on 4789 and 8472: VNI, Ethernet inside; no I flag is malformed', () => {
  for (const port of [4789, 8472]) {
    const pkt = decode(udpFrame(port, Buffer.concat([vxlanHeader(0xabcdef), innerEth()])));
    assertInnerUdp(assertCarries(pkt, Encap.Vxlan, InnerKind.Ethernet, 0xabcdef));
    assert.equal(pkt.innerStart, UDP_PAYLOAD_AT + 8);
  }
  const noI = vxlanHeader(1);
  noI[0] = 0;
  assertMalformed(decode(udpFrame(4789, Buffer.concat([noI, innerEth()]))), 'vxlan', /I flag/);
});

test('GENEVE: options skipped, Ethernet or IP inside, version 0 only, other protocols not followed', () => {
  const options = Buffer.from([0x01, 0x02, 0x03, 0x01, 0xaa, 0xbb, 0xcc, 0xdd]);
  const eth = decode(udpFrame(6081, Buffer.concat([geneveHeader(42, 0x6558, options), innerEth()])));
  assertInnerUdp(assertCarries(eth, Encap.Geneve, InnerKind.Ethernet, 42));
  assert.equal(eth.innerStart, UDP_PAYLOAD_AT + 8 + 8);
  const ip = decode(udpFrame(6081, Buffer.concat([geneveHeader(43, 0x0800), innerIp()])));
  assertInnerUdp(assertCarries(ip, Encap.Geneve, InnerKind.Ip, 43));
  assertNotTunnel(decode(udpFrame(6081, Buffer.concat([geneveHeader(44, 0x8847), Buffer.alloc(16)]))));
  const v1 = geneveHeader(1);
  v1[0] |= 0x40;
  assertMalformed(decode(udpFrame(6081, Buffer.concat([v1, innerEth()]))), 'geneve', /version/);
  const longOptions = geneveHeader(1);
  longOptions[0] = 0x3f;
  assertMalformed(decode(udpFrame(6081, Buffer.concat([longOptions, Buffer.alloc(40)]))), 'geneve', /options/);
});

test('TZSP: tagged fields up to END (padding, valued tags), Ethernet or 802.11 inside; other types and links not followed', () => {
  const tags = Buffer.from([0x00, 0x00, 0x0a, 0x01, 0xc8, 0x0b, 0x02, 0x00, 0x06, 0x01]);
  const rx = decode(udpFrame(37008, Buffer.concat([tzspHeader(0, 1, tags), innerEth()])));
  assertInnerUdp(assertCarries(rx, Encap.Tzsp, InnerKind.Ethernet, -1));
  assert.equal(rx.innerStart, UDP_PAYLOAD_AT + 4 + tags.length);
  assertInnerUdp(assertCarries(decode(udpFrame(37008, Buffer.concat([tzspHeader(1), innerEth()]))), Encap.Tzsp, InnerKind.Ethernet, -1));
  assertNotTunnel(decode(udpFrame(37008, Buffer.concat([tzspHeader(4), innerEth()]))));
  assert.equal(decode(udpFrame(37008, Buffer.concat([tzspHeader(0, 18), innerEth()]))).innerKind, InnerKind.Ieee80211);
  assert.equal(decode(udpFrame(37008, Buffer.concat([tzspHeader(0, 119), innerEth()]))).innerKind, InnerKind.Prism);
  assertNotTunnel(decode(udpFrame(37008, Buffer.concat([tzspHeader(0, 200), innerEth()]))));
  const v2 = tzspHeader();
  v2[0] = 2;
  assertMalformed(decode(udpFrame(37008, Buffer.concat([v2, innerEth()]))), 'tzsp', /version/);
  // Bytes that never reach END: a tag whose length runs past the datagram.
  assertMalformed(decode(udpFrame(37008, tzspHeader(0, 1, Buffer.from([0x0a, 0x40, 0x01])))), 'tzsp', /past the end/);
  assertMalformed(decode(udpFrame(37008, tzspHeader(0, 1, Buffer.from([0x00, 0x00])))), 'tzsp', /END/);
});

test('every truncation: headers cut short are malformed with no inner frame; a cut inner frame is still handed on', () => {
  const cases: { name: string; frame: Buffer; innerAt: number; layers: string[] }[] = [
    { name: 'GRE+C+K+S', frame: greFrame(grePacket(0x0800, innerIp(), { checksum: true, key: 1, sequence: 2 })), innerAt: GRE_AT + 16, layers: ['gre'] },
    { name: 'ERSPAN I', frame: greFrame(grePacket(0x88be, innerEth())), innerAt: GRE_AT + 4, layers: ['gre'] },
    {
      name: 'ERSPAN II',
      frame: greFrame(grePacket(0x88be, Buffer.concat([erspanIIHeader(5), innerEth()]), { sequence: 1 })),
      innerAt: GRE_AT + 16,
      layers: ['gre', 'erspan'],
    },
    {
      name: 'ERSPAN III + platform',
      frame: greFrame(grePacket(0x22eb, Buffer.concat([erspanIIIHeader(6, { platform: true }), innerEth()]), { sequence: 1 })),
      innerAt: GRE_AT + 8 + 20,
      layers: ['gre', 'erspan'],
    },
    { name: 'VXLAN', frame: udpFrame(4789, Buffer.concat([vxlanHeader(9), innerEth()])), innerAt: UDP_PAYLOAD_AT + 8, layers: ['udp', 'vxlan'] },
    {
      name: 'GENEVE + options',
      frame: udpFrame(6081, Buffer.concat([geneveHeader(9, 0x6558, Buffer.alloc(12)), innerEth()])),
      innerAt: UDP_PAYLOAD_AT + 20,
      layers: ['udp', 'geneve'],
    },
    {
      name: 'TZSP + tags',
      frame: udpFrame(37008, Buffer.concat([tzspHeader(0, 1, Buffer.from([0x00, 0x0a, 0x01, 0xc8, 0x01])), innerEth()])),
      innerAt: UDP_PAYLOAD_AT + 9,
      layers: ['udp', 'tzsp'],
    },
  ];
  for (const c of cases) {
    try {
      assertEveryTruncation(c.frame, GRE_AT, c.innerAt, c.layers);
    } catch (e) {
      throw new Error(`${c.name}: ${(e as Error).message}`);
    }
  }
});

test('lengths inside the packet count, not the captured bytes: a short IP total length truncates the tunnel header', () => {
  const frame = udpFrame(4789, Buffer.concat([vxlanHeader(9), innerEth()]));
  // IPv4 total length and UDP length both say the datagram ends 4 bytes into the VXLAN header.
  frame.writeUInt16BE(20 + 8 + 4, 14 + 2);
  frame.writeUInt16BE(8 + 4, GRE_AT + 4);
  assertMalformed(decode(frame), 'vxlan', /truncated/);
});

test('nested: GENEVE inside VXLAN inside GRE is followed layer by layer', () => {
  const geneve = ipv4Packet('198.19.2.1', '198.19.2.2', 17, udpDatagram(5000, 6081, Buffer.concat([geneveHeader(3, 0x0800), innerIp()])));
  const vxlan = ipv4Packet('198.19.1.1', '198.19.1.2', 17, udpDatagram(5001, 4789, Buffer.concat([vxlanHeader(2), ethernet('02:00:00:00:02:02', '02:00:00:00:02:01', 0x0800, geneve)])));
  const outer = decode(greFrame(grePacket(0x0800, vxlan, { key: 1 })));
  const l1 = assertCarries(outer, Encap.Gre, InnerKind.Ip, 1);
  assert.equal(ip4ToString(l1.ip4Src), '198.19.1.1');
  const l2 = assertCarries(l1, Encap.Vxlan, InnerKind.Ethernet, 2);
  assert.equal(ip4ToString(l2.ip4Src), '198.19.2.1');
  const l3 = assertCarries(l2, Encap.Geneve, InnerKind.Ip, 3);
  assert.equal(l3.depth, 3);
  assert.equal(l3.outer, l2);
  assert.equal(ip4ToString(l3.ip4Src), '198.19.0.1');
  assert.equal(l3.dstPort, 53);
});

test('the engine follows at most MAX_ENCAP_DEPTH encapsulations of a frame', async () => {
  let payload = innerIp();
  for (let i = 0; i < MAX_ENCAP_DEPTH + 3; i++) payload = ipv4Packet('198.19.3.1', '198.19.3.2', 47, grePacket(0x0800, payload));
  const frame = ethernet(OUT_DST.mac, OUT_SRC.mac, 0x0800, payload);
  const { stats, errors } = await scanFrames([{ t: 0, frame }]);
  assert.deepEqual(errors, []);
  assert.equal(stats.inner, MAX_ENCAP_DEPTH);
});

test('a first fragment holds only part of the inner frame: not followed', () => {
  const frame = greFrame(grePacket(0x0800, innerIp()));
  frame.writeUInt16BE(0x2000, 14 + 6);
  assertNotTunnel(decode(frame));
});

test('ARP inside GRE and VXLAN reaches the ARP analyzer, and its evidence names the tunnel', async () => {
  const arp = { op: 1 as const, senderMac: '02:00:00:00:01:01', senderIp: '198.19.0.1', targetMac: ZERO_MAC, targetIp: '198.19.0.2' };
  const frames = [
    { t: 0, frame: greFrame(grePacket(0x0806, arpPayload(arp))) },
    { t: 1, frame: udpFrame(4789, Buffer.concat([vxlanHeader(12), arpFrame({ ...arp, senderMac: '02:00:00:00:01:03', senderIp: '198.19.0.3' })])) },
  ];
  const { findings } = await scanFrames(frames);
  const viaGre = findings.find((f) => f.rule_id === 'arp-new-station' && f.message.includes('198.19.0.1'));
  assert.equal(viaGre?.evidence[0]?.detail, `inside GRE ${OUT_SRC.ip}->${OUT_DST.ip}`);
  const viaVxlan = findings.find((f) => f.rule_id === 'arp-new-station' && f.message.includes('198.19.0.3'));
  assert.equal(viaVxlan?.evidence[0]?.detail, `inside VXLAN ${OUT_SRC.ip}->${OUT_DST.ip} id 12`);
});

test('a truncated tunnel header becomes an info decode-malformed finding; so does an empty inner frame', async () => {
  const cut = udpFrame(6081, geneveHeader(1, 0x6558, Buffer.alloc(8))).subarray(0, UDP_PAYLOAD_AT + 6);
  const empty = udpFrame(6081, geneveHeader(1, 0x6558, Buffer.alloc(8)));
  const { findings } = await scanFrames([
    { t: 0, frame: cut },
    { t: 1, frame: empty },
  ]);
  const malformed = findings.filter((f) => f.rule_id === 'decode-malformed');
  assert.ok(malformed.some((f) => f.severity === 'info' && /geneve/.test(f.message)), JSON.stringify(malformed.map((f) => f.message)));
  assert.ok(
    malformed.some((f) => f.severity === 'info' && /ethernet/.test(f.message) && f.evidence[0]?.detail?.startsWith('inside GENEVE')),
    JSON.stringify(malformed.map((f) => f.message)),
  );
});
