// Builds well-formed frames for the demo capture, the benchmark generator and
// tests. Addresses are given as text ("02:00:00:00:00:01", "198.18.0.1").

import { ip6ToString } from '../decode/addr.js';
import { parseIp6 } from '../decode/ip6-addr.js';

export function macBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6) throw new RangeError(`not a MAC address: ${mac}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function ipv4Bytes(ip: string): Buffer {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${ip}`);
  return Buffer.from(parts.map((p) => Number(p)));
}

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
export const ZERO_MAC = '00:00:00:00:00:00';

export function ethernet(dst: string, src: string, etherType: number, payload: Buffer, vlans: number[] = []): Buffer {
  const tags = Buffer.alloc(vlans.length * 4);
  vlans.forEach((vid, i) => {
    tags.writeUInt16BE(i === 0 && vlans.length > 1 ? 0x88a8 : 0x8100, i * 4);
    tags.writeUInt16BE(vid & 0x0fff, i * 4 + 2);
  });
  const head = Buffer.alloc(14);
  macBytes(dst).copy(head, 0);
  macBytes(src).copy(head, 6);
  // With tags, the first tag's TPID takes the ethertype slot and the real type follows the tags.
  if (vlans.length > 0) {
    head.writeUInt16BE(tags.readUInt16BE(0), 12);
    const rest = Buffer.concat([tags.subarray(2), Buffer.from([etherType >> 8, etherType & 0xff])]);
    return Buffer.concat([head, rest, payload]);
  }
  head.writeUInt16BE(etherType, 12);
  return Buffer.concat([head, payload]);
}

export interface ArpFields {
  op: 1 | 2;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export function arpPayload(a: ArpFields): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0);
  b.writeUInt16BE(0x0800, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(a.op, 6);
  macBytes(a.senderMac).copy(b, 8);
  ipv4Bytes(a.senderIp).copy(b, 14);
  macBytes(a.targetMac).copy(b, 18);
  ipv4Bytes(a.targetIp).copy(b, 24);
  return b;
}

/** An ARP frame; the Ethernet source defaults to the ARP sender and the destination to broadcast for requests. */
export function arpFrame(a: ArpFields, ethSrc = a.senderMac, ethDst = a.op === 1 ? BROADCAST_MAC : a.targetMac): Buffer {
  return ethernet(ethDst, ethSrc, 0x0806, arpPayload(a));
}

/** `sum` plus the 16-bit words of buf[start, end), a last odd byte padded with zero; folded often enough to stay exact. */
function onesSum(buf: Buffer, start: number, end: number, sum = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) {
    sum += (buf[i]! << 8) | buf[i + 1]!;
    if (sum > 0x7fffffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  }
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** The one's complement of a sum folded to 16 bits. */
function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}

/** The Internet checksum (RFC 1071) of buf[start, end). */
export function internetChecksum(buf: Buffer, start = 0, end = buf.length): number {
  return foldChecksum(onesSum(buf, start, end));
}

/**
 * The checksum of a TCP, UDP or ICMPv6 message seg[segStart, segEnd) with
 * its pseudo-header: the source and destination addresses (side by side in
 * addrs[addrStart, addrEnd)), the protocol and the message length.
 */
function pseudoHeaderChecksum(addrs: Buffer, addrStart: number, addrEnd: number, protocol: number, seg: Buffer, segStart: number, segEnd: number): number {
  const length = segEnd - segStart;
  const sum = onesSum(addrs, addrStart, addrEnd, protocol + Math.floor(length / 65536) + (length & 0xffff));
  return foldChecksum(onesSum(seg, segStart, segEnd, sum));
}

export function ipv4Packet(src: string, dst: string, protocol: number, payload: Buffer, ttl = 64): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = ttl;
  h[9] = protocol;
  ipv4Bytes(src).copy(h, 12);
  ipv4Bytes(dst).copy(h, 16);
  h.writeUInt16BE(internetChecksum(h), 10);
  return Buffer.concat([h, payload]);
}

export function udpDatagram(srcPort: number, dstPort: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(srcPort, 0);
  h.writeUInt16BE(dstPort, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

export function tcpSegment(srcPort: number, dstPort: number, seq: number, ack: number, flags: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(srcPort, 0);
  h.writeUInt16BE(dstPort, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h.writeUInt32BE(ack >>> 0, 8);
  h[12] = 5 << 4;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, payload]);
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export function ipv4UdpFrame(ethSrc: string, ethDst: string, src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  return ethernet(ethDst, ethSrc, 0x0800, ipv4Packet(src, dst, 17, udpDatagram(sport, dport, payload)));
}

export interface Ipv4HeaderFields {
  ttl?: number;
  id?: number;
  /** Don't Fragment: Linux sets it on UDP it sends from sockets; raw-socket and packet-crafting tools often do not. */
  df?: boolean;
}

/** ipv4UdpFrame with the IP TTL, identification and DF bit given (how a sender's stack fills them tells senders apart). */
export function ipv4UdpFrameWith(ethSrc: string, ethDst: string, src: string, dst: string, sport: number, dport: number, payload: Buffer, ip: Ipv4HeaderFields): Buffer {
  const packet = ipv4Packet(src, dst, 17, udpDatagram(sport, dport, payload), ip.ttl ?? 64);
  packet.writeUInt16BE((ip.id ?? 0) & 0xffff, 4);
  packet[6] = ip.df ? 0x40 : 0;
  packet.writeUInt16BE(0, 10);
  packet.writeUInt16BE(internetChecksum(packet, 0, 20), 10);
  return ethernet(ethDst, ethSrc, 0x0800, packet);
}

/** A TCP segment in IPv4 or, when the addresses are IPv6 (contain ':'), in IPv6, in Ethernet. */
export function tcpFrame(
  ethSrc: string,
  ethDst: string,
  src: string,
  dst: string,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  payload: Buffer,
): Buffer {
  const segment = tcpSegment(sport, dport, seq, ack, flags, payload);
  if (src.includes(':')) return ethernet(ethDst, ethSrc, 0x86dd, ipv6Packet(src, dst, 6, segment));
  return ethernet(ethDst, ethSrc, 0x0800, ipv4Packet(src, dst, 6, segment));
}

export interface Host {
  mac: string;
  ip: string;
}

export function arpRequest(from: Host, forIp: string): Buffer {
  return arpFrame({ op: 1, senderMac: from.mac, senderIp: from.ip, targetMac: ZERO_MAC, targetIp: forIp });
}

/** A reply from `from` to `to`; a poisoner claims `claimedIp` (and may forge the ARP sender MAC). */
export function arpReply(from: Host, to: Host, claimedIp = from.ip, senderMac = from.mac): Buffer {
  return arpFrame({ op: 2, senderMac, senderIp: claimedIp, targetMac: to.mac, targetIp: to.ip }, from.mac);
}

/** A domain name in DNS wire format (labels, no compression). */
export function dnsName(name: string): Buffer {
  const parts = name.split('.').filter((l) => l.length > 0);
  return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

/** The 32-character first-level encoding of a NetBIOS name (RFC 1001 14.1): 15 characters space-padded, then the suffix. */
export function netbiosEncodedName(name: string, suffix = 0x20): string {
  const raw = Buffer.concat([Buffer.from(name.toUpperCase().padEnd(15, ' ').slice(0, 15), 'latin1'), Buffer.from([suffix])]);
  let out = '';
  for (const b of raw) out += String.fromCharCode(0x41 + (b >> 4), 0x41 + (b & 0x0f));
  return out;
}

export interface DnsRecordSpec {
  name: string;
  type: number;
  /** Default 1 (IN). */
  cls?: number;
  ttl?: number;
  /** An IPv4 address as text (A records), or the raw record data. */
  data: string | Buffer;
}

export interface DnsMessageSpec {
  id: number;
  /** QR, opcode, AA, TC, RD, RA, rcode as in the header. */
  flags: number;
  questions?: { name: string; type: number; cls?: number }[];
  answers?: DnsRecordSpec[];
  /** Write answer names equal to the first question's as a pointer to it (0xc00c). */
  compress?: boolean;
}

/** A DNS-format message (DNS, LLMNR, mDNS and, with netbiosEncodedName names, NBT-NS). */
export function dnsMessage(spec: DnsMessageSpec): Buffer {
  const questions = spec.questions ?? [];
  const answers = spec.answers ?? [];
  const head = Buffer.alloc(12);
  head.writeUInt16BE(spec.id & 0xffff, 0);
  head.writeUInt16BE(spec.flags & 0xffff, 2);
  head.writeUInt16BE(questions.length, 4);
  head.writeUInt16BE(answers.length, 6);
  const parts: Buffer[] = [head];
  for (const q of questions) {
    const tail = Buffer.alloc(4);
    tail.writeUInt16BE(q.type, 0);
    tail.writeUInt16BE(q.cls ?? 1, 2);
    parts.push(dnsName(q.name), tail);
  }
  const firstQuestion = questions[0]?.name.toLowerCase();
  for (const a of answers) {
    const data = typeof a.data === 'string' ? ipv4Bytes(a.data) : a.data;
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(a.type, 0);
    fixed.writeUInt16BE(a.cls ?? 1, 2);
    fixed.writeUInt32BE((a.ttl ?? 60) >>> 0, 4);
    fixed.writeUInt16BE(data.length, 8);
    const name = spec.compress && a.name.toLowerCase() === firstQuestion ? Buffer.from([0xc0, 0x0c]) : dnsName(a.name);
    parts.push(name, fixed, data);
  }
  return Buffer.concat(parts);
}

/** NB record data: NB_FLAGS then the IPv4 address. */
export function nbAddress(ip: string, nbFlags = 0): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(nbFlags, 0);
  ipv4Bytes(ip).copy(b, 2);
  return b;
}

export interface DhcpFields {
  /** 1 BOOTREQUEST, 2 BOOTREPLY. */
  op: 1 | 2;
  xid: number;
  chaddr: string;
  /** Option 53 (1 DISCOVER, 2 OFFER, 3 REQUEST, 5 ACK, 8 INFORM...); omitted for plain BOOTP. */
  msgType?: number;
  htype?: number;
  hlen?: number;
  hops?: number;
  ciaddr?: string;
  yiaddr?: string;
  siaddr?: string;
  giaddr?: string;
  serverId?: string;
  requestedIp?: string;
  /** Option 1. */
  subnetMask?: string;
  routers?: string[];
  dns?: string[];
  leaseTime?: number;
  clientId?: Buffer;
  /** Raw option bytes placed after the others, before End (for malformed cases). */
  rawOptions?: Buffer;
  cookie?: number;
  /** Append the End option (default true). */
  end?: boolean;
  /** Pad the message to this many bytes (default 300, the BOOTP minimum). */
  padTo?: number;
}

/** A BOOTP/DHCPv4 message (RFC 2131 layout, RFC 2132 options). */
export function dhcpPayload(f: DhcpFields): Buffer {
  const head = Buffer.alloc(240);
  head[0] = f.op;
  head[1] = f.htype ?? 1;
  head[2] = f.hlen ?? 6;
  head[3] = f.hops ?? 0;
  head.writeUInt32BE(f.xid >>> 0, 4);
  for (const [off, ip] of [[12, f.ciaddr], [16, f.yiaddr], [20, f.siaddr], [24, f.giaddr]] as const) if (ip) ipv4Bytes(ip).copy(head, off);
  macBytes(f.chaddr).copy(head, 28);
  head.writeUInt32BE((f.cookie ?? 0x63825363) >>> 0, 236);
  const opts: Buffer[] = [];
  const opt = (code: number, value: Buffer): void => {
    opts.push(Buffer.from([code, value.length]), value);
  };
  const addrs = (list: string[]): Buffer => Buffer.concat(list.map(ipv4Bytes));
  if (f.msgType !== undefined) opt(53, Buffer.from([f.msgType]));
  if (f.serverId) opt(54, ipv4Bytes(f.serverId));
  if (f.requestedIp) opt(50, ipv4Bytes(f.requestedIp));
  if (f.leaseTime !== undefined) {
    const lt = Buffer.alloc(4);
    lt.writeUInt32BE(f.leaseTime >>> 0);
    opt(51, lt);
  }
  if (f.subnetMask) opt(1, ipv4Bytes(f.subnetMask));
  if (f.routers) opt(3, addrs(f.routers));
  if (f.dns) opt(6, addrs(f.dns));
  if (f.clientId) opt(61, f.clientId);
  if (f.rawOptions) opts.push(f.rawOptions);
  if (f.end ?? true) opts.push(Buffer.from([255]));
  const msg = Buffer.concat([head, ...opts]);
  const padTo = f.padTo ?? 300;
  return msg.length >= padTo ? msg : Buffer.concat([msg, Buffer.alloc(padTo - msg.length)]);
}

/** A DHCP message in UDP/IPv4/Ethernet; ports default to 68->67 for requests and 67->68 for replies. */
export function dhcpFrame(ethSrc: string, ethDst: string, src: string, dst: string, f: DhcpFields, sport?: number, dport?: number): Buffer {
  const client = f.op === 1;
  return ipv4UdpFrame(ethSrc, ethDst, src, dst, sport ?? (client ? 68 : 67), dport ?? (client ? 67 : 68), dhcpPayload(f));
}

// Encapsulations (GRE, ERSPAN, VXLAN, GENEVE, TZSP) for tunnel and mirroring tests.

export interface GreOptions {
  /** Adds the checksum field (C bit), computed over header and payload. */
  checksum?: boolean;
  /** Adds the key field (K bit). */
  key?: number;
  /** Adds the sequence number field (S bit). */
  sequence?: number;
  /** Version bits; 0 unless testing PPTP (1) or invalid ones. */
  version?: number;
}

/** A GRE header (RFC 2784/2890) followed by `payload`. */
export function grePacket(protocol: number, payload: Buffer, opts: GreOptions = {}): Buffer {
  let flags = (opts.version ?? 0) & 0x7;
  const fields: Buffer[] = [];
  if (opts.checksum) {
    flags |= 0x8000;
    fields.push(Buffer.alloc(4));
  }
  if (opts.key !== undefined) {
    flags |= 0x2000;
    const k = Buffer.alloc(4);
    k.writeUInt32BE(opts.key >>> 0, 0);
    fields.push(k);
  }
  if (opts.sequence !== undefined) {
    flags |= 0x1000;
    const s = Buffer.alloc(4);
    s.writeUInt32BE(opts.sequence >>> 0, 0);
    fields.push(s);
  }
  const head = Buffer.alloc(4);
  head.writeUInt16BE(flags, 0);
  head.writeUInt16BE(protocol, 2);
  const out = Buffer.concat([head, ...fields, payload]);
  if (opts.checksum) out.writeUInt16BE(internetChecksum(out), 4);
  return out;
}

/** ERSPAN type II header (version 1, 8 bytes); the mirrored Ethernet frame follows. */
export function erspanIIHeader(session: number, vlan = 0): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE((1 << 12) | (vlan & 0x0fff), 0);
  h.writeUInt16BE(session & 0x03ff, 2);
  return h;
}

/** ERSPAN type III header (version 2, 12 bytes, plus the 8-byte platform subheader when `platform` is set). */
export function erspanIIIHeader(session: number, opts: { platform?: boolean; vlan?: number; timestamp?: number } = {}): Buffer {
  const h = Buffer.alloc(opts.platform ? 20 : 12);
  h.writeUInt16BE((2 << 12) | ((opts.vlan ?? 0) & 0x0fff), 0);
  h.writeUInt16BE(session & 0x03ff, 2);
  h.writeUInt32BE((opts.timestamp ?? 0) >>> 0, 4);
  if (opts.platform) h[11] = 0x01;
  return h;
}

/** VXLAN header (RFC 7348) with the I flag and `vni`. */
export function vxlanHeader(vni: number): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 0x08;
  h.writeUInt32BE(((vni & 0xffffff) << 8) >>> 0, 4);
  return h;
}

/** GENEVE header (RFC 8926, version 0); `options` must be a multiple of 4 bytes. */
export function geneveHeader(vni: number, protocol = 0x6558, options: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h[0] = (options.length / 4) & 0x3f;
  h.writeUInt16BE(protocol, 2);
  h.writeUInt32BE(((vni & 0xffffff) << 8) >>> 0, 4);
  return Buffer.concat([h, options]);
}

/** TZSP header: version 1, type (0 received, 1 transmitted), encapsulation (1 Ethernet), tagged fields (default: just END). */
export function tzspHeader(type = 0, encapsulation = 1, tags: Buffer = Buffer.from([0x01])): Buffer {
  const h = Buffer.alloc(4);
  h[0] = 1;
  h[1] = type;
  h.writeUInt16BE(encapsulation, 2);
  return Buffer.concat([h, tags]);
}

/** An Ethernet/IPv4 frame carrying GRE (IP protocol 47). */
export function ipv4GreFrame(ethSrc: string, ethDst: string, src: string, dst: string, gre: Buffer): Buffer {
  return ethernet(ethDst, ethSrc, 0x0800, ipv4Packet(src, dst, 47, gre));
}

// --- IPv6 Neighbor Discovery, ICMP redirects and DHCPv6 ---------------------

export function ipv6Bytes(ip: string): Buffer {
  const b = parseIp6(ip);
  if (!b) throw new RangeError(`not an IPv6 address: ${ip}`);
  return b;
}

export const ALL_NODES_IPV6 = 'ff02::1';
export const ALL_NODES_MAC = '33:33:00:00:00:01';

/** ICMPv6 and UDP checksum of `body` sent from src to dst over IPv6. */
function ipv6Checksum(src: Buffer, dst: Buffer, nextHeader: number, body: Buffer): number {
  return pseudoHeaderChecksum(Buffer.concat([src, dst]), 0, 32, nextHeader, body, 0, body.length);
}

export function ipv6Packet(src: string, dst: string, nextHeader: number, payload: Buffer, hopLimit = 64): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = nextHeader;
  h[7] = hopLimit;
  ipv6Bytes(src).copy(h, 8);
  ipv6Bytes(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** An ICMPv6 message (type, code, checksum, then `body`) in IPv6 in Ethernet; ND messages use hop limit 255. */
export function icmpv6Frame(ethSrc: string, ethDst: string, src: string, dst: string, type: number, code: number, body: Buffer, hopLimit = 255): Buffer {
  const msg = Buffer.concat([Buffer.from([type, code, 0, 0]), body]);
  msg.writeUInt16BE(ipv6Checksum(ipv6Bytes(src), ipv6Bytes(dst), 58, msg), 2);
  return ethernet(ethDst, ethSrc, 0x86dd, ipv6Packet(src, dst, 58, msg, hopLimit));
}

export function ipv6UdpFrame(ethSrc: string, ethDst: string, src: string, dst: string, sport: number, dport: number, payload: Buffer, hopLimit = 64): Buffer {
  const dgram = udpDatagram(sport, dport, payload);
  dgram.writeUInt16BE(ipv6Checksum(ipv6Bytes(src), ipv6Bytes(dst), 17, dgram) || 0xffff, 6);
  return ethernet(ethDst, ethSrc, 0x86dd, ipv6Packet(src, dst, 17, dgram, hopLimit));
}

/** An ND option: type, length in 8-byte units, data padded to a multiple of 8. */
export function ndOption(type: number, data: Buffer): Buffer {
  const len = Math.ceil((data.length + 2) / 8) * 8;
  const b = Buffer.alloc(len);
  b[0] = type;
  b[1] = len / 8;
  data.copy(b, 2);
  return b;
}

export interface RouterAdvertSpec {
  /** Router lifetime in seconds; 0 withdraws the router. */
  lifetime: number;
  managed?: boolean;
  other?: boolean;
  /** RFC 4191 preference: 'high' | 'medium' | 'low'. */
  preference?: 'high' | 'medium' | 'low';
  curHopLimit?: number;
  sourceMac?: string;
  mtu?: number;
  prefixes?: { prefix: string; length?: number; valid?: number; preferred?: number; flags?: number }[];
  rdnss?: { servers: string[]; lifetime?: number };
  dnssl?: { domains: string[]; lifetime?: number };
  routes?: { prefix: string; length: number; lifetime?: number }[];
  /** Raw option bytes appended after the others (malformed cases). */
  rawOptions?: Buffer;
}

/** The Router Advertisement body after type, code and checksum. */
export function routerAdvertBody(s: RouterAdvertSpec): Buffer {
  const head = Buffer.alloc(12);
  head[0] = s.curHopLimit ?? 64;
  const prf = s.preference === 'high' ? 1 : s.preference === 'low' ? 3 : 0;
  head[1] = (s.managed ? 0x80 : 0) | (s.other ? 0x40 : 0) | (prf << 3);
  head.writeUInt16BE(s.lifetime, 2);
  const opts: Buffer[] = [];
  if (s.sourceMac) opts.push(ndOption(1, macBytes(s.sourceMac)));
  if (s.mtu !== undefined) {
    const d = Buffer.alloc(6);
    d.writeUInt32BE(s.mtu, 2);
    opts.push(ndOption(5, d));
  }
  for (const p of s.prefixes ?? []) {
    const d = Buffer.alloc(30);
    d[0] = p.length ?? 64;
    d[1] = p.flags ?? 0xc0;
    d.writeUInt32BE((p.valid ?? 86400) >>> 0, 2);
    d.writeUInt32BE((p.preferred ?? 14400) >>> 0, 6);
    ipv6Bytes(p.prefix).copy(d, 14);
    opts.push(ndOption(3, d));
  }
  if (s.rdnss) {
    const d = Buffer.alloc(6);
    d.writeUInt32BE((s.rdnss.lifetime ?? 1800) >>> 0, 2);
    opts.push(ndOption(25, Buffer.concat([d, ...s.rdnss.servers.map(ipv6Bytes)])));
  }
  if (s.dnssl) {
    const d = Buffer.alloc(6);
    d.writeUInt32BE((s.dnssl.lifetime ?? 1800) >>> 0, 2);
    opts.push(ndOption(31, Buffer.concat([d, ...s.dnssl.domains.map(dnsName)])));
  }
  for (const r of s.routes ?? []) {
    const bytes = r.length === 0 ? 0 : r.length <= 64 ? 8 : 16;
    const d = Buffer.alloc(6 + bytes);
    d[0] = r.length;
    d.writeUInt32BE((r.lifetime ?? 1800) >>> 0, 2);
    ipv6Bytes(r.prefix).copy(d, 6, 0, bytes);
    opts.push(ndOption(24, d));
  }
  if (s.rawOptions) opts.push(s.rawOptions);
  return Buffer.concat([head, ...opts]);
}

/** A Router Advertisement from `src` (a link-local address), to all nodes unless told otherwise. */
export function routerAdvertFrame(ethSrc: string, src: string, s: RouterAdvertSpec, ethDst = ALL_NODES_MAC, dst = ALL_NODES_IPV6): Buffer {
  return icmpv6Frame(ethSrc, ethDst, src, dst, 134, 0, routerAdvertBody(s));
}

/** Solicited-node multicast address and its MAC (RFC 4291 2.7.1, RFC 2464 7) for `target`. */
export function solicitedNode(target: string): { ip: string; mac: string } {
  const group = ipv6Bytes('ff02::1:ff00:0');
  ipv6Bytes(target).copy(group, 13, 13, 16);
  const hex = (x: number): string => x.toString(16).padStart(2, '0');
  return { ip: ip6ToString(group, 0), mac: `33:33:${[...group.subarray(12, 16)].map(hex).join(':')}` };
}

/**
 * A Neighbor Solicitation for `target` from `src` with its source link-layer
 * option, to the target's solicited-node group unless told otherwise; from ::
 * (duplicate address detection) it carries no option, as RFC 4861 7.1.1 requires.
 */
export function neighborSolicitFrame(ethSrc: string, src: string, target: string, dst?: { ip: string; mac: string }): Buffer {
  const to = dst ?? solicitedNode(target);
  const opt = src === '::' ? Buffer.alloc(0) : ndOption(1, macBytes(ethSrc));
  return icmpv6Frame(ethSrc, to.mac, src, to.ip, 135, 0, Buffer.concat([Buffer.alloc(4), ipv6Bytes(target), opt]));
}

export interface NeighborAdvertSpec {
  target: string;
  /** Target link-layer option; omitted when null. */
  targetMac: string | null;
  router?: boolean;
  solicited?: boolean;
  override?: boolean;
}

/** A Neighbor Advertisement from `src`, to all nodes unless told otherwise. */
export function neighborAdvertFrame(ethSrc: string, src: string, s: NeighborAdvertSpec, ethDst = ALL_NODES_MAC, dst = ALL_NODES_IPV6): Buffer {
  const head = Buffer.alloc(4);
  head[0] = (s.router ? 0x80 : 0) | (s.solicited ? 0x40 : 0) | (s.override ? 0x20 : 0);
  const opt = s.targetMac === null ? Buffer.alloc(0) : ndOption(2, macBytes(s.targetMac));
  return icmpv6Frame(ethSrc, ethDst, src, dst, 136, 0, Buffer.concat([head, ipv6Bytes(s.target), opt]));
}

/** An ICMPv6 Redirect: use `target` as first hop for `destination`; `targetMac` adds the target link-layer option. */
export function ndRedirectFrame(ethSrc: string, ethDst: string, src: string, dst: string, target: string, destination: string, targetMac?: string, rawOptions?: Buffer): Buffer {
  const body = Buffer.concat([Buffer.alloc(4), ipv6Bytes(target), ipv6Bytes(destination), targetMac ? ndOption(2, macBytes(targetMac)) : Buffer.alloc(0), rawOptions ?? Buffer.alloc(0)]);
  return icmpv6Frame(ethSrc, ethDst, src, dst, 137, 0, body);
}

/** An ICMPv4 Redirect (type 5) quoting the header of a packet from `original.src` to `original.dst`. */
export function icmpv4RedirectFrame(
  ethSrc: string,
  ethDst: string,
  src: string,
  dst: string,
  code: number,
  gateway: string,
  original: { src: string; dst: string; protocol?: number },
): Buffer {
  const quoted = ipv4Packet(original.src, original.dst, original.protocol ?? 17, Buffer.alloc(8));
  const msg = Buffer.concat([Buffer.from([5, code, 0, 0]), ipv4Bytes(gateway), quoted]);
  msg.writeUInt16BE(internetChecksum(msg), 2);
  return ethernet(ethDst, ethSrc, 0x0800, ipv4Packet(src, dst, 1, msg));
}

/** DUID-LL (type 3, hardware type Ethernet) for a MAC. */
export function duidLl(mac: string): Buffer {
  return Buffer.concat([Buffer.from([0, 3, 0, 1]), macBytes(mac)]);
}

/** A 16-bit type, a 16-bit length, then the value: DHCPv6 options (RFC 8415) and TLS extensions (RFC 8446) look so. */
function typeLength16(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value]);
}

export function dhcpv6Option(code: number, data: Buffer): Buffer {
  return typeLength16(code, data);
}

export interface Dhcpv6Spec {
  /** 1 SOLICIT, 2 ADVERTISE, 3 REQUEST, 7 REPLY... */
  msgType: number;
  xid: number;
  clientDuid?: Buffer;
  serverDuid?: Buffer;
  iaNa?: { iaid: number; t1: number; t2: number; addresses: { address: string; preferred: number; valid: number }[] };
  dns?: string[];
  domains?: string[];
  preference?: number;
  rawOptions?: Buffer;
}

/** A DHCPv6 client/server message. */
export function dhcpv6Payload(s: Dhcpv6Spec): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(((s.msgType & 0xff) << 24) | (s.xid & 0xffffff), 0);
  const opts: Buffer[] = [];
  if (s.clientDuid) opts.push(dhcpv6Option(1, s.clientDuid));
  if (s.serverDuid) opts.push(dhcpv6Option(2, s.serverDuid));
  if (s.preference !== undefined) opts.push(dhcpv6Option(7, Buffer.from([s.preference])));
  if (s.iaNa) {
    const ia = Buffer.alloc(12);
    ia.writeUInt32BE(s.iaNa.iaid >>> 0, 0);
    ia.writeUInt32BE(s.iaNa.t1 >>> 0, 4);
    ia.writeUInt32BE(s.iaNa.t2 >>> 0, 8);
    const addrs = s.iaNa.addresses.map((a) => {
      const life = Buffer.alloc(8);
      life.writeUInt32BE(a.preferred >>> 0, 0);
      life.writeUInt32BE(a.valid >>> 0, 4);
      return dhcpv6Option(5, Buffer.concat([ipv6Bytes(a.address), life]));
    });
    opts.push(dhcpv6Option(3, Buffer.concat([ia, ...addrs])));
  }
  if (s.dns) opts.push(dhcpv6Option(23, Buffer.concat(s.dns.map(ipv6Bytes))));
  if (s.domains) opts.push(dhcpv6Option(24, Buffer.concat(s.domains.map(dnsName))));
  if (s.rawOptions) opts.push(s.rawOptions);
  return Buffer.concat([head, ...opts]);
}

/** A RELAY-FORW (12) or RELAY-REPL (13) message carrying `inner`. */
export function dhcpv6RelayPayload(msgType: 12 | 13, hopCount: number, linkAddress: string, peerAddress: string, inner: Buffer): Buffer {
  return Buffer.concat([Buffer.from([msgType, hopCount]), ipv6Bytes(linkAddress), ipv6Bytes(peerAddress), dhcpv6Option(9, inner)]);
}

export interface NtlmAuthenticateSpec {
  user: string;
  domain: string;
  workstation?: string;
  /** NtChallengeResponse; 24 bytes is NTLMv1-sized, longer is NTLMv2. */
  ntResponse: Buffer;
  /** LmChallengeResponse; 24 zero bytes unless given. */
  lmResponse?: Buffer;
}

/** An NTLMSSP AUTHENTICATE (type 3) message with Unicode strings, as SMB, HTTP and LDAP clients send it. */
export function ntlmAuthenticateMessage(spec: NtlmAuthenticateSpec): Buffer {
  const fields = [spec.lmResponse ?? Buffer.alloc(24), spec.ntResponse, Buffer.from(spec.domain, 'utf16le'), Buffer.from(spec.user, 'utf16le'), Buffer.from(spec.workstation ?? 'WS01', 'utf16le'), Buffer.alloc(0)];
  const head = Buffer.alloc(64);
  head.write('NTLMSSP\0', 0, 'latin1');
  head.writeUInt32LE(3, 8);
  let off = head.length;
  fields.forEach((f, i) => {
    head.writeUInt16LE(f.length, 12 + i * 8);
    head.writeUInt16LE(f.length, 14 + i * 8);
    head.writeUInt32LE(off, 16 + i * 8);
    off += f.length;
  });
  head.writeUInt32LE(0x00000001 | 0x00000200, 60); // NEGOTIATE_UNICODE | NEGOTIATE_NTLM
  return Buffer.concat([head, ...fields]);
}

/** An NTLMSSP CHALLENGE (type 2) message carrying the server's 8-byte challenge. */
export function ntlmChallengeMessage(challenge: Buffer): Buffer {
  const m = Buffer.alloc(48);
  m.write('NTLMSSP\0', 0, 'latin1');
  m.writeUInt32LE(2, 8);
  challenge.copy(m, 24);
  return m;
}

/** A BER element with a definite length (long form when the value needs it). */
export function berElement(tag: number, value: Buffer): Buffer {
  const n = value.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), value]);
}

/** A BER INTEGER in the fewest two's-complement bytes. */
export function berInteger(v: number): Buffer {
  const bytes: number[] = [];
  let x = v;
  do {
    bytes.unshift(x & 0xff);
    x = Math.floor(x / 256);
  } while (!(x === 0 && (bytes[0]! & 0x80) === 0) && !(x === -1 && (bytes[0]! & 0x80) !== 0));
  return berElement(0x02, Buffer.from(bytes));
}

/** A BER OBJECT IDENTIFIER from dotted text ("1.3.6.1.2.1.1.5.0"). */
export function berOid(text: string): Buffer {
  const arcs = text.split('.').map(Number);
  const out = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const enc = [arc & 0x7f];
    for (let a = Math.floor(arc / 128); a > 0; a = Math.floor(a / 128)) enc.unshift((a & 0x7f) | 0x80);
    out.push(...enc);
  }
  return berElement(0x06, Buffer.from(out));
}

export interface SnmpSpec {
  /** 0 = SNMPv1, 1 = SNMPv2c. */
  version: 0 | 1;
  community: string;
  /** PDU tag: 0xa0 GetRequest, 0xa1 GetNext, 0xa2 Response, 0xa3 Set, 0xa5 GetBulk, 0xa6 Inform, 0xa7 SNMPv2-Trap. */
  pdu: number;
  requestId: number;
  errorStatus?: number;
  /** OIDs with their values (NULL when omitted). */
  varbinds?: { oid: string; value?: Buffer }[];
}

/** An SNMPv1/v2c message (not the v1 Trap PDU: see snmpV1TrapPayload). */
export function snmpPayload(s: SnmpSpec): Buffer {
  const varbinds = (s.varbinds ?? [{ oid: '1.3.6.1.2.1.1.5.0' }]).map((v) => berElement(0x30, Buffer.concat([berOid(v.oid), v.value ?? Buffer.from([0x05, 0x00])])));
  const pdu = berElement(s.pdu, Buffer.concat([berInteger(s.requestId), berInteger(s.errorStatus ?? 0), berInteger(0), berElement(0x30, Buffer.concat(varbinds))]));
  return berElement(0x30, Buffer.concat([berInteger(s.version), berElement(0x04, Buffer.from(s.community, 'latin1')), pdu]));
}

/** An SNMPv1 Trap (RFC 1157) from `agentAddr`; generic-trap 4 is authenticationFailure. */
export function snmpV1TrapPayload(community: string, agentAddr: string, genericTrap: number): Buffer {
  const pdu = berElement(
    0xa4,
    Buffer.concat([
      berOid('1.3.6.1.4.1.8072.3.2.10'),
      berElement(0x40, ipv4Bytes(agentAddr)),
      berInteger(genericTrap),
      berInteger(0),
      berElement(0x43, Buffer.from([0x01, 0x00])),
      berElement(0x30, Buffer.alloc(0)),
    ]),
  );
  return berElement(0x30, Buffer.concat([berInteger(0), berElement(0x04, Buffer.from(community, 'latin1')), pdu]));
}

export interface SnmpV3Options {
  /** msgFlags: 0 noAuthNoPriv (default 4: reportable), 1 auth, 3 auth and priv. */
  flags?: number;
  user?: string;
  engineId?: Buffer;
  /** msgAuthenticationParameters (an HMAC, zeroed while it is computed). */
  auth?: Buffer;
  /** PDU tag (GetRequest by default), and the first varbind's OID bytes (a Report's usmStats counter). */
  pdu?: number;
  oid?: Buffer;
  /** The scoped PDU as encrypted bytes (authPriv) instead of in the clear. */
  encrypted?: Buffer;
}

/** An SNMPv3 message under the User-based Security Model; by default noAuthNoPriv, user "alice", a GetRequest: no community anywhere. */
export function snmpV3Payload(msgId: number, o: SnmpV3Options = {}): Buffer {
  const global = berElement(0x30, Buffer.concat([berInteger(msgId), berInteger(65507), berElement(0x04, Buffer.from([o.flags ?? 0x04])), berInteger(3)]));
  const usm = berElement(
    0x30,
    Buffer.concat([
      berElement(0x04, o.engineId ?? Buffer.from('80001f8880', 'hex')),
      berInteger(1),
      berInteger(100),
      berElement(0x04, Buffer.from(o.user ?? 'alice')),
      berElement(0x04, o.auth ?? Buffer.alloc(0)),
      berElement(0x04, Buffer.alloc(0)),
    ]),
  );
  const varbinds = o.oid ? berElement(0x30, berElement(0x30, Buffer.concat([berElement(0x06, o.oid), berElement(0x41, Buffer.from([1]))]))) : berElement(0x30, Buffer.alloc(0));
  const pdu = berElement(o.pdu ?? 0xa0, Buffer.concat([berInteger(msgId), berInteger(0), berInteger(0), varbinds]));
  const scoped = o.encrypted ? berElement(0x04, o.encrypted) : berElement(0x30, Buffer.concat([berElement(0x04, Buffer.alloc(0)), berElement(0x04, Buffer.alloc(0)), pdu]));
  return berElement(0x30, Buffer.concat([berInteger(3), global, berElement(0x04, usm), scoped]));
}

/** A TLS record: content type (22 handshake), record version, fragment. */
export function tlsRecord(contentType: number, version: number, fragment: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h[0] = contentType;
  h.writeUInt16BE(version, 1);
  h.writeUInt16BE(fragment.length, 3);
  return Buffer.concat([h, fragment]);
}

/** A handshake message: type (1 ClientHello, 2 ServerHello), 24-bit length, body. */
export function tlsHandshake(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([h, body]);
}

export function tlsExtension(type: number, data: Buffer): Buffer {
  return typeLength16(type, data);
}

export interface TlsHelloSpec {
  legacyVersion: number;
  /** Adds supported_versions (43): the client's list, or the server's one selected version. */
  supportedVersions?: number[];
  /** Further extensions, already encoded (tlsExtension). */
  extensions?: Buffer[];
  /** Omit the extensions block entirely (SSL 3.0-style hello). */
  noExtensions?: boolean;
  /** ServerHello.random; a fixed pattern when omitted. */
  random?: Buffer;
}

function tlsExtensionsBlock(exts: Buffer[]): Buffer {
  const body = Buffer.concat(exts);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length, 0);
  return Buffer.concat([len, body]);
}

/** A ClientHello handshake message (without the record header). */
export function tlsClientHelloMessage(s: TlsHelloSpec): Buffer {
  const exts = [...(s.extensions ?? [])];
  if (s.supportedVersions) {
    const list = Buffer.alloc(1 + s.supportedVersions.length * 2);
    list[0] = s.supportedVersions.length * 2;
    s.supportedVersions.forEach((v, i) => list.writeUInt16BE(v, 1 + i * 2));
    exts.push(tlsExtension(43, list));
  }
  const version = Buffer.alloc(2);
  version.writeUInt16BE(s.legacyVersion, 0);
  const ciphers = Buffer.from([0x00, 0x04, 0x13, 0x01, 0xc0, 0x2f]);
  const parts = [version, s.random ?? Buffer.alloc(32, 0x11), Buffer.from([0x00]), ciphers, Buffer.from([0x01, 0x00])];
  if (!s.noExtensions) parts.push(tlsExtensionsBlock(exts));
  return tlsHandshake(1, Buffer.concat(parts));
}

/** A ServerHello handshake message (without the record header). */
export function tlsServerHelloMessage(s: TlsHelloSpec): Buffer {
  const exts = [...(s.extensions ?? [])];
  if (s.supportedVersions) {
    const v = Buffer.alloc(2);
    v.writeUInt16BE(s.supportedVersions[0]!, 0);
    exts.push(tlsExtension(43, v));
  }
  const version = Buffer.alloc(2);
  version.writeUInt16BE(s.legacyVersion, 0);
  const parts = [version, s.random ?? Buffer.alloc(32, 0x22), Buffer.from([0x00]), Buffer.from([0xc0, 0x2f]), Buffer.from([0x00])];
  if (!s.noExtensions) parts.push(tlsExtensionsBlock(exts));
  return tlsHandshake(2, Buffer.concat(parts));
}

/** An SSL 2.0-format CLIENT-HELLO offering `version` (0x0002 SSL 2.0, or 0x0300/0x0301 in a v2-compatible hello). */
export function ssl2ClientHello(version: number): Buffer {
  const specs = Buffer.from([0x01, 0x00, 0x80, 0x00, 0x00, 0x2f]);
  const challenge = Buffer.alloc(16, 0x33);
  const body = Buffer.alloc(9);
  body[0] = 1;
  body.writeUInt16BE(version, 1);
  body.writeUInt16BE(specs.length, 3);
  body.writeUInt16BE(0, 5);
  body.writeUInt16BE(challenge.length, 7);
  const msg = Buffer.concat([body, specs, challenge]);
  return Buffer.concat([Buffer.from([0x80 | (msg.length >> 8), msg.length & 0xff]), msg]);
}

/** An SSL 2.0 SERVER-HELLO (selects SSL 2.0). */
export function ssl2ServerHello(): Buffer {
  const cert = Buffer.alloc(20, 0x44);
  const specs = Buffer.from([0x01, 0x00, 0x80]);
  const connId = Buffer.alloc(16, 0x55);
  const body = Buffer.alloc(11);
  body[0] = 4;
  body[1] = 0;
  body[2] = 1;
  body.writeUInt16BE(0x0002, 3);
  body.writeUInt16BE(cert.length, 5);
  body.writeUInt16BE(specs.length, 7);
  body.writeUInt16BE(connId.length, 9);
  const msg = Buffer.concat([body, cert, specs, connId]);
  return Buffer.concat([Buffer.from([0x80 | (msg.length >> 8), msg.length & 0xff]), msg]);
}

/** One end of a crafted TCP connection; an address with ':' is IPv6. */
export interface TcpEndpoint {
  mac: string;
  ip: string;
  port: number;
}

/**
 * The frames of one TCP connection with consistent sequence numbers:
 * handshake, data either way (optionally cut into segments), close. Each
 * frame carries a time in seconds, as the pcap writer wants it.
 */
export class TcpConversation {
  readonly frames: { t: number; frame: Buffer }[] = [];
  /** Next sequence number of each side. */
  clientSeq: number;
  serverSeq: number;
  t: number;

  constructor(
    readonly clientEnd: TcpEndpoint,
    readonly serverEnd: TcpEndpoint,
    opts: { clientIsn?: number; serverIsn?: number; start?: number } = {},
  ) {
    this.clientSeq = (opts.clientIsn ?? 1000) >>> 0;
    this.serverSeq = (opts.serverIsn ?? 5000) >>> 0;
    this.t = opts.start ?? 0;
  }

  /** A segment from one side with an explicit sequence number; nothing is advanced. */
  segment(fromClient: boolean, seq: number, flags: number, payload: Buffer, dt = 0.001): this {
    const a = fromClient ? this.clientEnd : this.serverEnd;
    const b = fromClient ? this.serverEnd : this.clientEnd;
    const ack = fromClient ? this.serverSeq : this.clientSeq;
    this.t += dt;
    this.frames.push({ t: this.t, frame: tcpFrame(a.mac, b.mac, a.ip, b.ip, a.port, b.port, seq >>> 0, ack >>> 0, flags, payload) });
    return this;
  }

  handshake(): this {
    this.segment(true, this.clientSeq, TCP_SYN, Buffer.alloc(0));
    this.clientSeq = (this.clientSeq + 1) >>> 0;
    this.segment(false, this.serverSeq, TCP_SYN | TCP_ACK, Buffer.alloc(0));
    this.serverSeq = (this.serverSeq + 1) >>> 0;
    return this.segment(true, this.clientSeq, TCP_ACK, Buffer.alloc(0));
  }

  /** Data from the client, in segments of at most `mss` bytes. */
  client(data: Buffer | string, mss = 1460): this {
    return this.send(true, typeof data === 'string' ? Buffer.from(data, 'latin1') : data, mss);
  }

  server(data: Buffer | string, mss = 1460): this {
    return this.send(false, typeof data === 'string' ? Buffer.from(data, 'latin1') : data, mss);
  }

  private send(fromClient: boolean, data: Buffer, mss: number): this {
    for (let off = 0; off < data.length || (off === 0 && data.length === 0); off += mss) {
      const piece = data.subarray(off, off + mss);
      const seq = fromClient ? this.clientSeq : this.serverSeq;
      this.segment(fromClient, seq, TCP_ACK | TCP_PSH, piece);
      if (fromClient) this.clientSeq = (this.clientSeq + piece.length) >>> 0;
      else this.serverSeq = (this.serverSeq + piece.length) >>> 0;
      if (data.length === 0) break;
    }
    return this;
  }

  /** FIN from both sides and the last ACK. */
  close(): this {
    this.segment(true, this.clientSeq, TCP_FIN | TCP_ACK, Buffer.alloc(0));
    this.clientSeq = (this.clientSeq + 1) >>> 0;
    this.segment(false, this.serverSeq, TCP_FIN | TCP_ACK, Buffer.alloc(0));
    this.serverSeq = (this.serverSeq + 1) >>> 0;
    return this.segment(true, this.clientSeq, TCP_ACK, Buffer.alloc(0));
  }

  reset(fromClient: boolean): this {
    return this.segment(fromClient, fromClient ? this.clientSeq : this.serverSeq, TCP_RST | TCP_ACK, Buffer.alloc(0));
  }
}

/** The server_name extension (RFC 6066) naming one host, for ClientHellos. */
export function tlsServerNameExtension(host: string): Buffer {
  const name = Buffer.from(host, 'latin1');
  const head = Buffer.alloc(5);
  head.writeUInt16BE(name.length + 3, 0);
  head[2] = 0; // host_name
  head.writeUInt16BE(name.length, 3);
  return tlsExtension(0, Buffer.concat([head, name]));
}

/**
 * Fills in the TCP or UDP checksum of an untagged Ethernet/IPv4 frame (the
 * builders above leave it 0, which only UDP allows). Tools built on libnids,
 * such as dsniff, drop TCP segments whose checksum does not verify. Returns
 * the frame, changed in place; anything else is returned untouched.
 */
export function setIpv4TransportChecksum(frame: Buffer): Buffer {
  if (frame.length < 34 || frame.readUInt16BE(12) !== 0x0800) return frame;
  const l4 = 14 + (frame[14]! & 0x0f) * 4;
  const len = frame.readUInt16BE(16) - (l4 - 14);
  const proto = frame[23]!;
  const at = proto === 6 ? l4 + 16 : proto === 17 ? l4 + 6 : -1;
  if (at < 0 || at + 2 > l4 + len || l4 + len > frame.length) return frame;
  frame[at] = 0;
  frame[at + 1] = 0;
  // The IPv4 source and destination addresses stand side by side at 26..34.
  const c = pseudoHeaderChecksum(frame, 26, 34, proto, frame, l4, l4 + len);
  frame.writeUInt16BE(proto === 17 && c === 0 ? 0xffff : c, at);
  return frame;
}

export interface HsrpSpec {
  /** 1 (RFC 2281) or 2 (TLVs). */
  version?: 1 | 2;
  opcode?: number;
  /** Raw state: version 1 16 = Active, 8 = Standby, 4 = Speak; version 2 6 = Active, 5 = Standby, 4 = Speak. */
  state: number;
  priority: number;
  group: number;
  virtualIp: string;
  /** Cleartext key (version 1 always carries 8 bytes; default 'cisco'); null with version 2 for none. */
  key?: string | null;
  helloSeconds?: number;
  holdSeconds?: number;
  /** Version 2's identifier (the sender's MAC). */
  identifier?: string;
}

/** An HSRP message: version 1's fixed 20 bytes, or version 2's group state TLV (and a text authentication TLV). */
export function hsrpPayload(s: HsrpSpec): Buffer {
  const key = Buffer.alloc(8);
  if (s.key !== null) key.write(s.key ?? 'cisco', 'latin1');
  const hello = s.helloSeconds ?? 3;
  const hold = s.holdSeconds ?? 10;
  const v6 = s.virtualIp.includes(':');
  if ((s.version ?? 1) === 1) {
    const b = Buffer.alloc(20);
    b[1] = s.opcode ?? 0;
    b[2] = s.state;
    b[3] = hello;
    b[4] = hold;
    b[5] = s.priority;
    b[6] = s.group;
    key.copy(b, 8);
    ipv4Bytes(s.virtualIp).copy(b, 16);
    return b;
  }
  const g = Buffer.alloc(42);
  g[0] = 1;
  g[1] = 40;
  g[2] = 2;
  g[3] = s.opcode ?? 0;
  g[4] = s.state;
  g[5] = v6 ? 6 : 4;
  g.writeUInt16BE(s.group, 6);
  macBytes(s.identifier ?? '00:00:00:00:00:00').copy(g, 8);
  g.writeUInt32BE(s.priority, 14);
  g.writeUInt32BE(hello * 1000, 18);
  g.writeUInt32BE(hold * 1000, 22);
  (v6 ? ipv6Bytes(s.virtualIp) : ipv4Bytes(s.virtualIp)).copy(g, 26);
  return s.key === null ? g : Buffer.concat([g, Buffer.from([3, 8]), key]);
}

/** HSRP over IPv4 (UDP 1985 to 224.0.0.2 for version 1, 224.0.0.102 for version 2) with the given TTL (routers send 1). */
export function hsrpFrame(ethSrc: string, src: string, s: HsrpSpec, ttl = 1): Buffer {
  const v2 = s.version === 2;
  const dst = v2 ? '224.0.0.102' : '224.0.0.2';
  return ethernet(v2 ? '01:00:5e:00:00:66' : '01:00:5e:00:00:02', ethSrc, 0x0800, ipv4Packet(src, dst, 17, udpDatagram(1985, 1985, hsrpPayload(s)), ttl));
}

export interface VrrpSpec {
  version?: 2 | 3;
  vrid: number;
  priority: number;
  addresses: string[];
  /** Advertisement interval in seconds. */
  intervalSeconds?: number;
  /** VRRPv2 simple text password (authentication type 1); none when absent. */
  password?: string;
}

/** A VRRP advertisement (checksum over the message; VRRPv3's pseudo-header is not included). */
export function vrrpPayload(s: VrrpSpec): Buffer {
  const version = s.version ?? 2;
  const v6 = s.addresses.some((a) => a.includes(':'));
  const addrs = Buffer.concat(s.addresses.map((a) => (v6 ? ipv6Bytes(a) : ipv4Bytes(a))));
  const h = Buffer.alloc(8);
  h[0] = (version << 4) | 1;
  h[1] = s.vrid;
  h[2] = s.priority;
  h[3] = s.addresses.length;
  const interval = s.intervalSeconds ?? 1;
  if (version === 2) {
    h[4] = s.password !== undefined ? 1 : 0;
    h[5] = interval;
  } else {
    h.writeUInt16BE((interval * 100) & 0x0fff, 4);
  }
  const auth = Buffer.alloc(version === 2 ? 8 : 0);
  if (s.password !== undefined) auth.write(s.password, 'latin1');
  const msg = Buffer.concat([h, addrs, auth]);
  msg.writeUInt16BE(internetChecksum(msg), 6);
  return msg;
}

/** VRRP over IPv4 to 224.0.0.18 from the group's virtual MAC unless another is given; routers send TTL 255. */
export function vrrpFrame(src: string, s: VrrpSpec, ethSrc = `00:00:5e:00:01:${s.vrid.toString(16).padStart(2, '0')}`, ttl = 255): Buffer {
  return ethernet('01:00:5e:00:00:12', ethSrc, 0x0800, ipv4Packet(src, '224.0.0.18', 112, vrrpPayload(s), ttl));
}
