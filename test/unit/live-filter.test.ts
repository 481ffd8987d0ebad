// The kernel BPF filter of live capture: it compiles for every link type a
// live interface can have, fits the kernel's instruction limit, and lets
// through exactly the traffic the analyzers read (tagged or not) while
// dropping the rest. Checked twice: with the addon (libpcap's compiler and
// pcap_offline_filter) and with tcpdump reading a crafted capture.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LINKTYPE_ETHERNET, LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11_RADIOTAP, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW } from '../../src/capture/linktypes.js';
import { ADDON_PATH, ANALYZED_TRAFFIC, captureFilterFor, LIVE_CAPTURE_FILTER, loadPcapAddon, WLAN_CAPTURE_FILTER, type PcapAddon } from '../../src/capture/live/pcap-live.js';
import {
  arpReply,
  ethernet,
  grePacket,
  erspanIIHeader,
  ipv4GreFrame,
  ipv4Packet,
  tcpFrame,
  ipv4UdpFrame,
  TCP_ACK,
  TCP_PSH,
  TCP_SYN,
  udpDatagram,
  hsrpFrame,
  vrrpFrame,
} from '../../src/craft/frames.js';
import { writePcap } from '../helpers/captures.js';

const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-live-filter-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Linux BPF_MAXINSNS: the kernel refuses longer classic BPF programs. */
const KERNEL_MAX_INSNS = 4096;
const DLT_RAW_LINUX = 12;

const A = { mac: '02:00:00:00:00:0a', ip: '198.18.0.10' };
const B = { mac: '02:00:00:00:00:0b', ip: '198.18.0.11' };
const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;

/** A minimal IPv6 packet (no IPv6 builder in src/craft yet); addresses fe80::a and ff02::1:2. */
function ipv6Packet(nextHeader: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = nextHeader;
  h[7] = 255;
  h[8] = 0xfe;
  h[9] = 0x80;
  h[23] = 0x0a;
  h[24] = 0xff;
  h[25] = 0x02;
  h[37] = 0x01;
  h[39] = 0x02;
  return Buffer.concat([h, payload]);
}

function udp4(dport: number, vlans: number[] = []): Buffer {
  return ethernet(B.mac, A.mac, ETH_IPV4, ipv4Packet(A.ip, B.ip, 17, udpDatagram(40000, dport, Buffer.alloc(12))), vlans);
}

function icmp4(): Buffer {
  return ethernet(B.mac, A.mac, ETH_IPV4, ipv4Packet(A.ip, B.ip, 1, Buffer.from([8, 0, 0, 0, 0, 1, 0, 1])));
}

function laterFragment(): Buffer {
  const p = ipv4Packet(A.ip, B.ip, 17, Buffer.alloc(64));
  p.writeUInt16BE(185, 6); // fragment offset 185 x 8 bytes, no ports in this fragment
  return ethernet(B.mac, A.mac, ETH_IPV4, p);
}

const ND_NEIGHBOR_SOLICIT = Buffer.concat([Buffer.from([135, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(16)]);

const WANTED: [string, Buffer][] = [
  ['ARP reply', arpReply(A, B)],
  ['802.1Q ARP reply', ethernet(B.mac, A.mac, 0x0806, arpReply(A, B).subarray(14), [100])],
  ['QinQ ARP reply', ethernet(B.mac, A.mac, 0x0806, arpReply(A, B).subarray(14), [100, 200])],
  ['DHCP discover', ipv4UdpFrame(A.mac, 'ff:ff:ff:ff:ff:ff', '0.0.0.0', '255.255.255.255', 68, 67, Buffer.alloc(240))],
  ['DNS', udp4(53)],
  ['802.1Q DNS', udp4(53, [7])],
  ['NBNS', udp4(137)],
  ['Kerberos', udp4(88)],
  ['SNMP', udp4(161)],
  ['SNMP trap', udp4(162)],
  ['VXLAN', udp4(4789)],
  ['VXLAN (Linux port)', udp4(8472)],
  ['mDNS', udp4(5353)],
  ['LLMNR', udp4(5355)],
  ['GENEVE', udp4(6081)],
  ['TZSP', udp4(37008)],
  ['HSRP', hsrpFrame(A.mac, A.ip, { state: 16, priority: 100, group: 1, virtualIp: B.ip })],
  ['802.1Q HSRP for IPv6', ethernet('33:33:00:00:00:66', A.mac, ETH_IPV6, ipv6Packet(17, udpDatagram(2029, 2029, Buffer.alloc(42))), [12])],
  ['VRRP', vrrpFrame(A.ip, { vrid: 1, priority: 100, addresses: [B.ip] })],
  ['OSPF', ethernet(B.mac, A.mac, ETH_IPV4, ipv4Packet(A.ip, B.ip, 89, Buffer.alloc(24)))],
  ['RIP', udp4(520)],
  ['TCP SYN', tcpFrame(A.mac, B.mac, A.ip, B.ip, 40000, 445, 1, 0, TCP_SYN, Buffer.alloc(0))],
  ['TCP payload', tcpFrame(A.mac, B.mac, A.ip, B.ip, 40000, 21, 1, 1, TCP_PSH | TCP_ACK, Buffer.from('USER x\r\n'))],
  ['ICMP echo', icmp4()],
  ['ERSPAN in GRE', ipv4GreFrame(A.mac, B.mac, A.ip, B.ip, grePacket(0x88be, Buffer.concat([erspanIIHeader(1), arpReply(A, B)]), { sequence: 1 }))],
  ['later IPv4 fragment', laterFragment()],
  ['ICMPv6 neighbour solicitation', ethernet('33:33:00:01:00:02', A.mac, ETH_IPV6, ipv6Packet(58, ND_NEIGHBOR_SOLICIT))],
  ['DHCPv6 solicit', ethernet('33:33:00:01:00:02', A.mac, ETH_IPV6, ipv6Packet(17, udpDatagram(546, 547, Buffer.alloc(8))))],
  ['IPv4 in IPv4', ethernet(B.mac, A.mac, ETH_IPV4, ipv4Packet(A.ip, B.ip, 4, ipv4Packet(A.ip, B.ip, 17, udpDatagram(40000, 9999, Buffer.alloc(8)))))],
  ['IPv6 in IPv4', ethernet(B.mac, A.mac, ETH_IPV4, ipv4Packet(A.ip, B.ip, 41, ipv6Packet(17, udpDatagram(40000, 9999, Buffer.alloc(8)))))],
  ['MPLS-labelled TCP', ethernet(B.mac, A.mac, 0x8847, Buffer.concat([Buffer.from([0, 0x10, 0x01, 64]), tcpFrame(A.mac, B.mac, A.ip, B.ip, 40000, 21, 1, 1, TCP_PSH | TCP_ACK, Buffer.from('USER x\r\n')).subarray(14)]))],
  ['802.1Q PPPoE session', ethernet(B.mac, A.mac, 0x8864, Buffer.concat([Buffer.from([0x11, 0, 0, 1, 0, 40, 0, 0x21]), ipv4Packet(A.ip, B.ip, 17, udpDatagram(40000, 53, Buffer.alloc(8)))]), [9])],
  ['MACsec', ethernet(B.mac, A.mac, 0x88e5, Buffer.alloc(60))],
  ['NSH', ethernet(B.mac, A.mac, 0x894f, Buffer.alloc(60))],
  ['Arista timestamp', ethernet(B.mac, A.mac, 0xd28b, Buffer.alloc(60))],
  ['Cisco MetaData (SGT)', ethernet(B.mac, A.mac, 0x8909, Buffer.alloc(60))],
  ['VN-Tag', ethernet(B.mac, A.mac, 0x8926, Buffer.alloc(60))],
  ['E-Tag', ethernet(B.mac, A.mac, 0x893f, Buffer.alloc(60))],
  ['PBB', ethernet(B.mac, A.mac, 0x88e7, Buffer.alloc(60))],
  ['IPv6 hop-by-hop (MLD)', ethernet('33:33:00:00:00:16', A.mac, ETH_IPV6, ipv6Packet(0, Buffer.from([58, 0, 5, 2, 0, 0, 1, 0, 143, 0, 0, 0])))],
];

const UNWANTED: [string, Buffer][] = [
  ['NTP', udp4(123)],
  ['syslog', udp4(514)],
  ['802.1Q NTP', udp4(123, [7])],
  ['IPv6 UDP to an unanalysed port', ethernet(B.mac, A.mac, ETH_IPV6, ipv6Packet(17, udpDatagram(40000, 9999, Buffer.alloc(8))))],
  ['LLDP', ethernet('01:80:c2:00:00:0e', A.mac, 0x88cc, Buffer.alloc(40))],
];

function addon(t: { skip: (why: string) => void }): PcapAddon | undefined {
  if (!existsSync(ADDON_PATH)) {
    t.skip('native pcap addon not built (needs build-essential libpcap-dev; npm run build:native)');
    return undefined;
  }
  return loadPcapAddon();
}

test('filter compiles for each live link type within the kernel limit', (t) => {
  const a = addon(t);
  if (!a) return;
  for (const [name, linktype, dlt] of [
    ['Ethernet', LINKTYPE_ETHERNET, 1],
    ['Linux cooked v1', LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL],
    ['Linux cooked v2', LINKTYPE_LINUX_SLL2, LINKTYPE_LINUX_SLL2],
    ['raw IP', LINKTYPE_RAW, DLT_RAW_LINUX],
    ['802.11', LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11],
    ['802.11 radiotap', LINKTYPE_IEEE802_11_RADIOTAP, LINKTYPE_IEEE802_11_RADIOTAP],
  ] as const) {
    const n = a.compileFilter(captureFilterFor(linktype), dlt);
    assert.ok(n > 0 && n < KERNEL_MAX_INSNS, `${name}: ${n} BPF instructions`);
  }
  assert.equal(captureFilterFor(LINKTYPE_ETHERNET), LIVE_CAPTURE_FILTER);
  assert.equal(captureFilterFor(LINKTYPE_RAW), ANALYZED_TRAFFIC);
  assert.equal(captureFilterFor(LINKTYPE_IEEE802_11_RADIOTAP), WLAN_CAPTURE_FILTER);
  assert.throws(() => a.compileFilter('udp port', 1), /cannot compile capture filter/);
});

test('monitor-mode filter keeps management and data frames, encrypted ones included, and drops control frames', (t) => {
  const a = addon(t);
  if (!a) return;
  const radiotap = Buffer.from([0, 0, 8, 0, 0, 0, 0, 0]);
  const addrs = Buffer.alloc(18, 0x02);
  const beacon = Buffer.concat([radiotap, Buffer.from([0x80, 0x00, 0, 0]), addrs, Buffer.alloc(2 + 12 + 2)]);
  const deauth = Buffer.concat([radiotap, Buffer.from([0xc0, 0x00, 0, 0]), addrs, Buffer.alloc(2), Buffer.from([7, 0])]);
  const encrypted = Buffer.concat([radiotap, Buffer.from([0x88, 0x41, 0, 0]), addrs, Buffer.alloc(4), Buffer.alloc(40, 0x5a)]);
  const ack = Buffer.concat([radiotap, Buffer.from([0xd4, 0x00, 0, 0]), Buffer.alloc(6, 0x02)]);
  const rts = Buffer.concat([radiotap, Buffer.from([0xb4, 0x00, 0, 0]), Buffer.alloc(12, 0x02)]);
  for (const [name, frame, kept] of [
    ['beacon', beacon, true],
    ['deauthentication', deauth, true],
    ['protected QoS data', encrypted, true],
    ['ACK', ack, false],
    ['RTS', rts, false],
  ] as const) {
    assert.equal(a.offlineFilter(WLAN_CAPTURE_FILTER, LINKTYPE_IEEE802_11_RADIOTAP, frame), kept, name);
  }
});

test('filter keeps what the analyzers read and drops the rest (libpcap offline filter)', (t) => {
  const a = addon(t);
  if (!a) return;
  for (const [name, frame] of WANTED) assert.equal(a.offlineFilter(LIVE_CAPTURE_FILTER, 1, frame), true, `${name} must be captured`);
  for (const [name, frame] of UNWANTED) assert.equal(a.offlineFilter(LIVE_CAPTURE_FILTER, 1, frame), false, `${name} must not be captured`);
});

test('tcpdump agrees: the filter selects the same frames from a capture', (t) => {
  let tcpdump: string | undefined;
  for (const p of ['/usr/bin/tcpdump', '/usr/sbin/tcpdump', '/sbin/tcpdump']) if (existsSync(p)) tcpdump = p;
  if (!tcpdump) {
    t.skip('tool missing: tcpdump (Debian package tcpdump)');
    return;
  }
  const frames = [...WANTED, ...UNWANTED];
  const file = writePcap(join(dir, 'mix.pcap'), frames.map(([, frame], i) => ({ t: i, frame })));
  // -tt prints seconds since the epoch; frame i was written at second i of the base time.
  const out = execFileSync(tcpdump, ['-n', '-tt', '-r', file, LIVE_CAPTURE_FILTER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const first = Number(execFileSync(tcpdump, ['-n', '-tt', '-c', '1', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('.')[0]);
  const got = out
    .split('\n')
    .filter((l) => /^\d+\.\d+ /.test(l)) // tcpdump continues some decodes on further lines
    .map((l) => frames[Number(l.split('.')[0]) - first]?.[0]);
  assert.deepEqual(got, WANTED.map(([name]) => name));
});
