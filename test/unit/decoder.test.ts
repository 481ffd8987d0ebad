import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LINKTYPE_ETHERNET, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL, LINKTYPE_RAW } from '../../src/capture/linktypes.js';
import { ArpDecode, ArpMessage, decodeArp } from '../../src/decode/arp.js';
import { ip4ToString, ip6ToString, isVirtualRouterMac, macToString, parseIp4, parseMac } from '../../src/decode/addr.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, Packet } from '../../src/decode/packet.js';
import { arpFrame, arpPayload, ethernet, ipv4Packet, tcpFrame, macBytes, tcpSegment, udpDatagram, ZERO_MAC } from '../../src/craft/frames.js';
import { decodeBytes } from '../helpers/decode.js';

function decode(bytes: Buffer, linktype = LINKTYPE_ETHERNET): Packet {
  return decodeBytes(bytes, { linktype, frameNo: 7, tsSec: 1_700_000_000, tsNsec: 500_000_000 });
}

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const UDP = ipv4Packet('198.18.0.10', '198.18.0.1', 17, udpDatagram(5353, 53, Buffer.from('payload')));

test('Ethernet, 802.1Q and QinQ: addresses, tags, IPv4 and UDP', () => {
  for (const vlans of [[], [6], [1, 10], [1, 10, 100]]) {
    const pkt = decode(ethernet(B, A, ETHERTYPE_IPV4, UDP, vlans));
    assert.equal(macToString(pkt.ethSrc), A);
    assert.equal(macToString(pkt.ethDst), B);
    assert.equal(pkt.vlanCount, vlans.length);
    assert.deepEqual([...pkt.vlans.subarray(0, vlans.length)], vlans);
    assert.equal(ip4ToString(pkt.ip4Src), '198.18.0.10');
    assert.equal(pkt.srcPort, 5353);
    assert.equal(pkt.dstPort, 53);
    assert.equal(pkt.buf.toString('latin1', pkt.payloadStart, pkt.payloadEnd), 'payload');
    assert.equal(pkt.timeMs, 1_700_000_000_500);
    assert.equal(pkt.malformed, null);
  }
});

test('Ethernet padding is not payload; a snapped frame ends at the capture', () => {
  const padded = Buffer.concat([ethernet(B, A, ETHERTYPE_IPV4, UDP), Buffer.alloc(20, 0xee)]);
  const pkt = decode(padded);
  assert.equal(pkt.buf.toString('latin1', pkt.payloadStart, pkt.payloadEnd), 'payload');
  const snapped = ethernet(B, A, ETHERTYPE_IPV4, UDP).subarray(0, 14 + 20 + 8 + 3);
  const s = decode(snapped);
  assert.equal(s.payloadEnd - s.payloadStart, 3);
});

test('Linux cooked v1 and v2 carry the sender MAC and the protocol', () => {
  const sll = Buffer.alloc(16);
  sll.writeUInt16BE(0, 0);
  sll.writeUInt16BE(1, 2);
  sll.writeUInt16BE(6, 4);
  macBytes(A).copy(sll, 6);
  sll.writeUInt16BE(ETHERTYPE_ARP, 14);
  const arp = arpPayload({ op: 1, senderMac: A, senderIp: '198.18.0.10', targetMac: ZERO_MAC, targetIp: '198.18.0.1' });
  const p1 = decode(Buffer.concat([sll, arp]), LINKTYPE_LINUX_SLL);
  assert.equal(macToString(p1.ethSrc), A);
  assert.equal(p1.etherType, ETHERTYPE_ARP);

  const sll2 = Buffer.alloc(20);
  sll2.writeUInt16BE(ETHERTYPE_IPV4, 0);
  sll2.writeUInt32BE(3, 4);
  sll2.writeUInt16BE(1, 8);
  sll2[10] = 4;
  sll2[11] = 6;
  macBytes(A).copy(sll2, 12);
  const p2 = decode(Buffer.concat([sll2, UDP]), LINKTYPE_LINUX_SLL2);
  assert.equal(macToString(p2.ethSrc), A);
  assert.equal(p2.dstPort, 53);
});

test('raw IPv4, BSD loopback, and IPv6 with extension headers', () => {
  assert.equal(decode(UDP, LINKTYPE_RAW).dstPort, 53);
  const loop = Buffer.concat([Buffer.from([2, 0, 0, 0]), UDP]);
  assert.equal(decode(loop, LINKTYPE_NULL).srcPort, 5353);

  const udp = udpDatagram(546, 547, Buffer.from('x'));
  const hopByHop = Buffer.from([17, 0, 1, 4, 0, 0, 0, 0]);
  const v6 = Buffer.alloc(40);
  v6[0] = 0x60;
  v6.writeUInt16BE(hopByHop.length + udp.length, 4);
  v6[6] = 0; // hop-by-hop options first
  v6[7] = 255;
  v6.writeUInt16BE(0xfe80, 8);
  v6[23] = 1;
  v6.writeUInt16BE(0xff02, 24);
  v6[39] = 2;
  const pkt = decode(Buffer.concat([v6, hopByHop, udp]), LINKTYPE_IPV6);
  assert.equal(pkt.ipVersion, 6);
  assert.equal(pkt.ipProto, 17);
  assert.equal(pkt.dstPort, 547);
  assert.equal(ip6ToString(pkt.buf, pkt.ip6SrcOff), 'fe80::1');
  assert.equal(ip6ToString(pkt.buf, pkt.ip6DstOff), 'ff02::2');
});

test('TCP header fields and payload', () => {
  const pkt = decode(tcpFrame(A, B, '198.18.0.10', '198.18.0.1', 40000, 21, 1000, 2000, 0x18, Buffer.from('USER x\r\n')));
  assert.equal(pkt.tcpSeq, 1000);
  assert.equal(pkt.tcpAck, 2000);
  assert.equal(pkt.tcpFlags, 0x18);
  assert.equal(pkt.buf.toString('latin1', pkt.payloadStart, pkt.payloadEnd), 'USER x\r\n');
});

test('every truncation and contradiction is flagged with its layer, never thrown', () => {
  const cases: Array<[string, Buffer, number, string]> = [
    ['short ethernet', Buffer.alloc(10), LINKTYPE_ETHERNET, 'ethernet'],
    ['truncated vlan tag', ethernet(B, A, ETHERTYPE_IPV4, Buffer.alloc(0), [5]).subarray(0, 15), LINKTYPE_ETHERNET, 'vlan'],
    ['truncated ipv4', ethernet(B, A, ETHERTYPE_IPV4, UDP.subarray(0, 12)), LINKTYPE_ETHERNET, 'ipv4'],
    ['ihl below 5', ethernet(B, A, ETHERTYPE_IPV4, Buffer.from([0x44, ...UDP.subarray(1)])), LINKTYPE_ETHERNET, 'ipv4'],
    ['total length below header', (() => { const u = Buffer.from(UDP); u.writeUInt16BE(10, 2); return ethernet(B, A, ETHERTYPE_IPV4, u); })(), LINKTYPE_ETHERNET, 'ipv4'],
    ['truncated udp', ipv4Packet('198.18.0.10', '198.18.0.1', 17, Buffer.alloc(4)), LINKTYPE_RAW, 'udp'],
    ['truncated tcp', ipv4Packet('198.18.0.10', '198.18.0.1', 6, Buffer.alloc(10)), LINKTYPE_RAW, 'tcp'],
    ['tcp data offset 0', ipv4Packet('198.18.0.10', '198.18.0.1', 6, (() => { const t = tcpSegment(1, 2, 0, 0, 2, Buffer.alloc(0)); t[12] = 0; return t; })()), LINKTYPE_RAW, 'tcp'],
    ['raw ip version 5', Buffer.from([0x50, 0, 0, 0]), LINKTYPE_RAW, 'ip'],
    ['short ipv6', Buffer.from([0x60, 0, 0, 0, 0, 0, 17, 64]), LINKTYPE_IPV6, 'ipv6'],
    ['short sll', Buffer.alloc(8), LINKTYPE_LINUX_SLL, 'sll'],
    ['short sll2', Buffer.alloc(8), LINKTYPE_LINUX_SLL2, 'sll2'],
    ['short loopback', Buffer.alloc(2), LINKTYPE_NULL, 'null'],
  ];
  for (const [name, bytes, linktype, layer] of cases) {
    const pkt = decode(bytes, linktype);
    assert.equal(pkt.malformedLayer, layer, name);
    assert.ok(pkt.malformed && pkt.malformed.length > 0, name);
  }
});

test('ARP: valid, other protocol types, and each malformed shape', () => {
  const msg = new ArpMessage();
  const ok = decode(arpFrame({ op: 2, senderMac: A, senderIp: '198.18.0.10', targetMac: B, targetIp: '198.18.0.1' }));
  assert.equal(decodeArp(ok, msg), ArpDecode.Ok);
  assert.equal(macToString(msg.senderMac), A);
  assert.equal(ip4ToString(msg.targetIp), '198.18.0.1');

  const rarp = arpFrame({ op: 2, senderMac: A, senderIp: '198.18.0.10', targetMac: B, targetIp: '198.18.0.1' });
  rarp.writeUInt16BE(3, 14 + 6);
  assert.equal(decodeArp(decode(rarp), msg), ArpDecode.Other);

  const mutate = (fn: (b: Buffer) => void, len?: number): Packet => {
    const b = arpFrame({ op: 1, senderMac: A, senderIp: '198.18.0.10', targetMac: ZERO_MAC, targetIp: '198.18.0.1' });
    fn(b);
    return decode(len === undefined ? b : b.subarray(0, len));
  };
  for (const [name, pkt] of [
    ['truncated header', mutate(() => {}, 14 + 6)],
    ['hlen 7 for Ethernet', mutate((b) => (b[14 + 4] = 7))],
    ['plen 16 for IPv4', mutate((b) => (b[14 + 5] = 16))],
    ['addresses past the end', mutate(() => {}, 14 + 20)],
    ['unknown hardware type on Ethernet', mutate((b) => b.writeUInt16BE(12336, 14))],
  ] as const) {
    assert.equal(decodeArp(pkt, msg), ArpDecode.Malformed, name);
    assert.equal(pkt.malformedLayer, 'arp', name);
  }
});

test('address helpers round-trip and classify', () => {
  assert.equal(macToString(parseMac('02:AB:cd:00:00:01')!), '02:ab:cd:00:00:01');
  assert.equal(parseMac('02:ab:cd:00:00'), undefined);
  assert.equal(ip4ToString(parseIp4('198.18.0.255')!), '198.18.0.255');
  assert.equal(parseIp4('198.18.0.256'), undefined);
  assert.ok(isVirtualRouterMac(parseMac('00:00:5e:00:01:07')!));
  assert.ok(isVirtualRouterMac(parseMac('00:00:0c:07:ac:01')!));
  assert.ok(isVirtualRouterMac(parseMac('00:00:0c:9f:f0:01')!));
  assert.ok(!isVirtualRouterMac(parseMac('00:00:5e:00:53:01')!));
});
