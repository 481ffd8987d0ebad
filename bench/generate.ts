// Deterministic generator of a large, benign, mixed Ethernet capture for the
// benchmark, plus an optional arpspoof-like slice. Streams through PcapWriter,
// so memory stays flat whatever --packets is.
//
// Besides bulk web traffic (TLS 1.2/1.3 handshakes on 443/8443, plain HTTP on
// 80/8080), DNS, NTP, ARP and DHCP, the file carries what every wire analyzer
// looks at: cleartext logins as complete TCP conversations (FTP, HTTP Basic,
// POP3, IMAP, SMTP AUTH PLAIN; true cleartext-credential findings, tallied in
// GenerateResult.logins), SNMPv2c polling with the 'public' community,
// mDNS and LLMNR lookups answered only by the names' owners, and IPv6 Router
// Advertisements from the gateway alone. TCP and UDP checksums are correct, as
// on a real wire (libnids-based tools drop segments whose checksum is wrong).
//
//   node dist/bench/generate.js [--packets N] [--seed S] [--with-attack] [--out FILE]

import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { LINKTYPE_ETHERNET } from '../src/capture/linktypes.js';
import { PcapWriter } from '../src/capture/pcap-writer.js';
import {
  arpFrame,
  berInteger,
  BROADCAST_MAC,
  dnsMessage,
  dnsName,
  ethernet,
  icmpv6Frame,
  internetChecksum,
  ipv4Packet,
  macBytes,
  ndOption,
  routerAdvertFrame,
  setIpv4TransportChecksum,
  snmpPayload,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_SYN,
  TcpConversation,
  tcpSegment,
  tlsClientHelloMessage,
  tlsExtension,
  tlsRecord,
  tlsServerHelloMessage,
  tlsServerNameExtension,
  udpDatagram,
  ZERO_MAC,
  type ArpFields,
  type DnsRecordSpec,
  type RouterAdvertSpec,
} from '../src/craft/frames.js';

export const DEFAULT_PACKETS = 2_000_000;
export const DEFAULT_SEED = 0x5eed;
/** Bump whenever the output for a given seed changes, so cached bench files are regenerated. */
export const GENERATOR_VERSION = 3;

export interface GenerateOptions {
  path: string;
  packets?: number;
  seed?: number;
  withAttack?: boolean;
}

export interface GenerateResult {
  path: string;
  packets: number;
  bytes: number;
  seed: number;
  withAttack: boolean;
  generatorVersion: number;
  /** Wall time the generation took. */
  seconds: number;
  /** Span between the first and last frame timestamp. */
  captureSeconds: number;
  counts: Record<Kind, number>;
  /** Ground truth of the cleartext logins in the file, per protocol. */
  logins: Record<LoginProto, LoginTally>;
  /** TLS handshakes (ClientHello and ServerHello) by negotiated version. */
  tlsHandshakes: { tls12: number; tls13: number };
  /** SNMPv2c GetRequests, each carrying the community 'public'. */
  snmpRequests: number;
}

const KINDS = ['tcp', 'login', 'dns', 'ntp', 'arp', 'dhcp', 'snmp', 'mdns', 'llmnr', 'icmpv6', 'attack_arp', 'attack_forwarded'] as const;
type Kind = (typeof KINDS)[number];

export const LOGIN_PROTOS = ['ftp', 'http', 'pop3', 'imap', 'smtp'] as const;
export type LoginProto = (typeof LOGIN_PROTOS)[number];

export interface LoginTally {
  /** TCP connections carrying at least one login. */
  sessions: number;
  /** Messages carrying a password (PASS, LOGIN, AUTH PLAIN, a request with Authorization: Basic). */
  attempts: number;
  /** Attempts the server refused (530, -ERR, NO, 535, 401). */
  failed: number;
}

// 2025-03-04T09:00:00Z: a fixed start keeps the file byte-identical run to run.
const T0_US = Date.UTC(2025, 2, 4, 9, 0, 0) * 1000;
/** Mean inter-frame gap: ~100k frames/s, a busy gigabit uplink. */
const MEAN_GAP_US = 10;
const MSS = 1460;
const CONCURRENT_FLOWS = 48;
// Per-slot probabilities of starting a non-TCP exchange; replies roughly double them.
const P_ARP = 0.014;
const P_DNS = 0.04;
const P_NTP = 0.0015;
// DHCP is kept below dhcp-starvation's default threshold (50 clients in 10 s): the
// file compresses a LAN's day into seconds, and 7 clients/s would look like starvation.
const P_DHCP_DORA = 0.000005;
const P_DHCP_RENEW = 0.00001;
/** Cleartext login sessions (about 16 frames each): under 1% of the frames. */
const P_LOGIN = 0.0005;
const P_SNMP = 0.0005;
const P_MDNS = 0.0003;
const P_LLMNR = 0.0003;
/** Unsolicited Router Advertisements: radvd's MinRtrAdvInterval..MaxRtrAdvInterval at their lowest. */
const RA_INTERVAL_US: [number, number] = [3e6, 4e6];
/** Share of login sessions that start with a mistyped password, refused, then retried. */
const P_TYPO = 0.12;
const LOGIN_WEIGHTS: Record<LoginProto, number> = { ftp: 0.2, http: 0.3, pop3: 0.2, imap: 0.15, smtp: 0.15 };
/**
 * Cap on ARP replies per MAC in any 1 s: the ARP volume asked of this file is far
 * above a real LAN's, and without a cap the gateway alone would look like a reply flood.
 * Half the flood threshold (50 in 1 s), so replaying the file at a steady rate
 * (tcpreplay in bench:watch), which shifts replies between windows, stays below it.
 */
const MAX_REPLIES_PER_SECOND = 25;

// ---------------------------------------------------------------- PRNG

/** mulberry32: tiny, fast, and good enough for traffic shapes. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  u32(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.next() * a.length)] as T;
  }
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
}

// ---------------------------------------------------------------- network

interface LanHost {
  ip: string;
  mac: string;
  ttl: number;
  name: string;
  /** Times of this MAC's last ARP replies (ring), for the reply cap. */
  replies: Float64Array;
  replyPos: number;
}

/** The far end of a TCP/UDP conversation as seen on the LAN: its IP and the next-hop MAC. */
interface Peer {
  ip: string;
  mac: string;
  ttl: number;
  name: string;
  ip6: string;
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

// MACs are locally administered 02:00:c6:12:<o3>:<o4> (c6:12 = 198.18), stable per host.
function lanHost(o3: number, o4: number, ttl: number, name: string): LanHost {
  return {
    ip: `198.18.${o3}.${o4}`,
    mac: `02:00:c6:12:${hex2(o3)}:${hex2(o4)}`,
    ttl,
    name,
    replies: new Float64Array(MAX_REPLIES_PER_SECOND).fill(-Infinity),
    replyPos: 0,
  };
}

const DOMAINS = ['example.com', 'example.net', 'example.org', 'shop.example', 'news.example', 'video.example', 'cloud.example', 'mail.example'];
const LABELS = ['www', 'api', 'cdn', 'static', 'img', 'login', 'update', 'telemetry', 'ws', 'assets'];
const PATHS = ['/', '/index.html', '/api/v1/items', '/static/app.js', '/static/style.css', '/img/logo.png', '/feed.json', '/search?q=report', '/download/file.bin'];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'curl/8.5.0',
  'Debian APT-HTTP/1.3 (2.6.1)',
];

/** fe80:: with the modified EUI-64 interface id of `mac` (RFC 4291 appendix A). */
function linkLocal(mac: string): string {
  const b = macBytes(mac);
  const w = (hi: number, lo: number): string => ((hi << 8) | lo).toString(16);
  return `fe80::${w(b[0]! ^ 0x02, b[1]!)}:${w(b[2]!, 0xff)}:${w(0xfe, b[3]!)}:${w(b[4]!, b[5]!)}`;
}

const FIRST_NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'ken', 'laura', 'mike', 'nina', 'oscar', 'peggy', 'quinn', 'rita', 'sam', 'tina', 'uma', 'victor', 'wendy', 'yusuf'];

/** A workstation whose user still logs in to cleartext services, with the account's password. */
interface LegacyUser {
  host: LanHost;
  user: string;
  password: string;
}

class Network {
  readonly gateway = lanHost(0, 1, 64, 'gw.corp.example');
  readonly servers: LanHost[] = [10, 11, 12, 13, 14].map((o, i) => lanHost(0, o, 64, ['intranet', 'files', 'wiki', 'build', 'mail'][i] + '.corp.example'));
  readonly intranet = this.servers[0]!;
  readonly files = this.servers[1]!;
  readonly mail = this.servers[4]!;
  /** The monitoring station, polling agents with SNMPv2c. */
  readonly nms = lanHost(0, 20, 64, 'nms.corp.example');
  /** Printers announce and answer their .local names over mDNS. */
  readonly printers: LanHost[] = [lanHost(0, 30, 64, 'printer-2f'), lanHost(0, 31, 64, 'printer-3f')];
  /** Stations other than the gateway and the clients, for ARP. */
  readonly infra: LanHost[] = [...this.servers, this.nms, ...this.printers];
  readonly gatewayLinkLocal = linkLocal(this.gateway.mac);
  readonly clients: LanHost[] = Array.from({ length: 200 }, (_, i) => {
    const o3 = 1 + Math.floor(i / 100);
    const o4 = 10 + (i % 100);
    return lanHost(o3, o4, i % 3 === 0 ? 128 : 64, `ws-${o3}-${o4}.corp.example`);
  });
  readonly remotes: Peer[] = [];
  readonly ntpServers: Peer[] = [];
  readonly legacyUsers: LegacyUser[];

  constructor(rng: Rng) {
    this.legacyUsers = FIRST_NAMES.map((user, i) => ({
      host: this.clients[(i * 7) % this.clients.length]!,
      user,
      password: `${user[0]!.toUpperCase()}${user.slice(1)}-${rng.int(1000, 9999)}!`,
    }));
    for (let i = 0; i < 320; i++) {
      const label = LABELS[i % LABELS.length]!;
      const domain = DOMAINS[Math.floor(i / LABELS.length) % DOMAINS.length]!;
      const n = Math.floor(i / (LABELS.length * DOMAINS.length));
      // 198.19.0.0/16 stands in for the Internet: the other half of the benchmark /15.
      this.remotes.push({
        ip: `198.19.${rng.int(0, 255)}.${rng.int(1, 254)}`,
        mac: this.gateway.mac,
        ttl: rng.chance(0.3) ? rng.int(110, 120) : rng.int(45, 58),
        name: `${label}${n || ''}.${domain}`,
        ip6: `2001:db8:${hex2(rng.int(0, 255))}${hex2(rng.int(0, 255))}::${rng.int(1, 0xffff).toString(16)}`,
      });
    }
    for (let i = 1; i <= 4; i++) {
      this.ntpServers.push({ ip: `198.19.123.${i}`, mac: this.gateway.mac, ttl: 52, name: `ntp${i}.example.net`, ip6: '2001:db8::123' });
    }
  }

  asPeer(h: LanHost): Peer {
    return { ip: h.ip, mac: h.mac, ttl: h.ttl, name: h.name, ip6: '2001:db8::1' };
  }
}

// ---------------------------------------------------------------- frame helpers

const EMPTY = Buffer.alloc(0);

/** Ethernet's 60-byte minimum (FCS not captured), as a NIC pads on the wire. */
function pad60(f: Buffer): Buffer {
  return f.length >= 60 ? f : Buffer.concat([f, Buffer.alloc(60 - f.length)]);
}

function tcpFrame(srcMac: string, dstMac: string, src: string, dst: string, ttl: number, seg: Buffer): Buffer {
  return pad60(setIpv4TransportChecksum(ethernet(dstMac, srcMac, 0x0800, ipv4Packet(src, dst, 6, seg, ttl))));
}

function udpFrame(srcMac: string, dstMac: string, src: string, dst: string, ttl: number, sport: number, dport: number, payload: Buffer): Buffer {
  return pad60(setIpv4TransportChecksum(ethernet(dstMac, srcMac, 0x0800, ipv4Packet(src, dst, 17, udpDatagram(sport, dport, payload), ttl))));
}

/** Sets the IPv4 TTL of an Ethernet frame (the TcpConversation builder uses 64) and the header checksum again. */
function withTtl(frame: Buffer, ttl: number): Buffer {
  if (frame[22] === ttl) return frame;
  frame[22] = ttl;
  frame.writeUInt16BE(0, 24);
  frame.writeUInt16BE(internetChecksum(frame, 14, 14 + (frame[14]! & 0x0f) * 4), 24);
  return frame;
}

function arp(a: ArpFields, ethSrc?: string, ethDst?: string): Buffer {
  return pad60(arpFrame(a, ethSrc, ethDst));
}

// ---------------------------------------------------------------- payloads

function makeFillers(rng: Rng): { text: Buffer; binary: Buffer } {
  const words = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(' ');
  let html = '<!DOCTYPE html>\n<html><head><title>Report</title></head><body>\n';
  while (html.length < 65536) {
    html += '<p>';
    for (let i = rng.int(20, 60); i > 0; i--) html += rng.pick(words) + ' ';
    html += '</p>\n';
  }
  const binary = Buffer.alloc(65536);
  for (let i = 0; i < binary.length; i += 4) binary.writeUInt32LE(rng.u32(), i);
  return { text: Buffer.from(html.slice(0, 65536), 'latin1'), binary };
}

function responseSize(rng: Rng): number {
  const r = rng.next();
  if (r < 0.45) return rng.int(150, 4000);
  if (r < 0.85) return rng.int(4000, 60000);
  return rng.int(60000, 400000);
}

function tlsRecordHeader(type: number, len: number): Buffer {
  return Buffer.from([type, 3, 3, (len >> 8) & 0xff, len & 0xff]);
}

const TLS12 = 0x0303;
const TLS13 = 0x0304;

/** A browser-like ClientHello record of about `size` bytes (padding extension, RFC 7685), offering TLS 1.3 or only 1.2. */
function clientHelloRecord(host: string, size: number, tls13: boolean, random: Buffer): Buffer {
  const exts = [tlsServerNameExtension(host), tlsExtension(23, EMPTY), tlsExtension(0xff01, Buffer.from([0]))];
  const hello = (extra: Buffer[]): Buffer =>
    tlsClientHelloMessage({ legacyVersion: TLS12, supportedVersions: tls13 ? [TLS13, TLS12] : undefined, extensions: [...exts, ...extra], random });
  let msg = hello([]);
  const pad = size - 5 - msg.length - 4;
  if (pad >= 0) msg = hello([tlsExtension(21, Buffer.alloc(pad))]);
  return tlsRecord(22, 0x0301, msg);
}

/** The server's first flight up to where encryption (1.3) or the certificate (1.2) starts. */
function serverHelloRecords(tls13: boolean, random: Buffer): Buffer {
  if (!tls13) {
    return tlsRecord(22, TLS12, tlsServerHelloMessage({ legacyVersion: TLS12, extensions: [tlsExtension(0xff01, Buffer.from([0])), tlsExtension(23, EMPTY)], random }));
  }
  // key_share (x25519), then the middlebox-compatibility ChangeCipherSpec.
  const keyShare = Buffer.concat([Buffer.from([0x00, 0x1d, 0x00, 0x20]), random]);
  const hello = tlsRecord(22, TLS12, tlsServerHelloMessage({ legacyVersion: TLS12, supportedVersions: [TLS13], extensions: [tlsExtension(51, keyShare)], random }));
  return Buffer.concat([hello, tlsRecord(20, TLS12, Buffer.from([1]))]);
}

/** A stream source that starts with `head`, then continues with `rest`. */
function startingWith(head: Buffer, rest: (n: number) => Buffer): (n: number) => Buffer {
  let first = true;
  return (n) => {
    if (!first) return rest(n);
    first = false;
    return Buffer.concat([head, rest(n - head.length)]);
  };
}

/**
 * Cuts an opaque TLS-ish byte stream of `body` payload bytes into 16 KiB
 * records, so dissectors see well-formed record headers at the right places.
 */
class TlsStream {
  private readonly hdr = Buffer.alloc(5);
  private hdrPos = 5;
  private recLeft = 0;

  constructor(
    private bodyLeft: number,
    private type: number,
    private readonly filler: Buffer,
    private readonly rng: Rng,
  ) {}

  static wireLength(body: number): number {
    return body + 5 * Math.ceil(body / 16384);
  }

  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    while (o < n) {
      if (this.hdrPos === 5 && this.recLeft === 0) {
        const len = Math.min(16384, this.bodyLeft);
        this.bodyLeft -= len;
        this.recLeft = len;
        this.hdr[0] = this.type;
        this.hdr.writeUInt16BE(0x0303, 1);
        this.hdr.writeUInt16BE(len, 3);
        this.hdrPos = 0;
        this.type = 0x17;
      }
      if (this.hdrPos < 5) {
        const k = Math.min(5 - this.hdrPos, n - o);
        this.hdr.copy(out, o, this.hdrPos, this.hdrPos + k);
        this.hdrPos += k;
        o += k;
      } else {
        const k = Math.min(this.recLeft, n - o);
        const off = this.rng.int(0, this.filler.length - k);
        this.filler.copy(out, o, off, off + k);
        this.recLeft -= k;
        o += k;
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------- DNS (RFC 1035 wire format)

function qname(name: string): Buffer {
  const out = Buffer.alloc(name.length + 2);
  let o = 0;
  for (const label of name.split('.')) {
    out[o++] = label.length;
    o += out.write(label, o, 'ascii');
  }
  out[o] = 0;
  return out;
}

function dnsHeader(id: number, flags: number, qd: number, an: number, ns: number, ar: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  h.writeUInt16BE(ns, 8);
  h.writeUInt16BE(ar, 10);
  return h;
}

/** EDNS(0) OPT pseudo-RR: root owner, type 41, UDP size 1232. */
const EDNS_OPT = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);

function rr(namePtr: number, type: number, ttl: number, rdata: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0xc000 | namePtr, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt32BE(ttl, 6);
  h.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([h, rdata]);
}

function ip4Rdata(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}

function ip6Rdata(ip: string): Buffer {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const hw = head ? head.split(':') : [];
  const tw = tail ? tail.split(':') : [];
  const words = [...hw, ...Array<string>(8 - hw.length - tw.length).fill('0'), ...tw];
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(parseInt(w, 16), i * 2));
  return b;
}

const QTYPE_A = 1;
const QTYPE_CNAME = 5;
const QTYPE_AAAA = 28;

function dnsQuery(id: number, name: string, qtype: number): Buffer {
  const q = Buffer.alloc(4);
  q.writeUInt16BE(qtype, 0);
  q.writeUInt16BE(1, 2);
  return Buffer.concat([dnsHeader(id, 0x0100, 1, 0, 0, 1), qname(name), q, EDNS_OPT]);
}

function dnsResponse(id: number, name: string, qtype: number, peer: Peer | undefined, rng: Rng): Buffer {
  const qn = qname(name);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(qtype, 0);
  q.writeUInt16BE(1, 2);
  if (!peer) return Buffer.concat([dnsHeader(id, 0x8183, 1, 0, 0, 1), qn, q, EDNS_OPT]); // NXDOMAIN
  const answers: Buffer[] = [];
  let owner = 12; // the question name, right after the header
  if (rng.chance(0.25)) {
    // CNAME to a CDN name; the address record then points at the CNAME's target.
    const target = qname(`edge${rng.int(1, 40)}.cdn.example`);
    answers.push(rr(owner, QTYPE_CNAME, rng.int(60, 3600), target));
    owner = 12 + qn.length + 4 + 12;
  }
  const ttl = rng.int(30, 600);
  answers.push(rr(owner, qtype, ttl, qtype === QTYPE_A ? ip4Rdata(peer.ip) : ip6Rdata(peer.ip6)));
  return Buffer.concat([dnsHeader(id, 0x8180, 1, answers.length, 0, 1), qn, q, ...answers, EDNS_OPT]);
}

// ---------------------------------------------------------------- NTP (RFC 5905)

const NTP_EPOCH_OFFSET = 2208988800;

function writeNtpTime(b: Buffer, off: number, us: number): void {
  const sec = Math.floor(us / 1e6);
  b.writeUInt32BE((sec + NTP_EPOCH_OFFSET) >>> 0, off);
  b.writeUInt32BE(Math.floor(((us - sec * 1e6) / 1e6) * 4294967296) >>> 0, off + 4);
}

function ntpClient(tUs: number): Buffer {
  const b = Buffer.alloc(48);
  b[0] = 0x23; // LI 0, VN 4, mode 3 (client)
  writeNtpTime(b, 40, tUs);
  return b;
}

function ntpServer(clientTxUs: number, rxUs: number, txUs: number): Buffer {
  const b = Buffer.alloc(48);
  b[0] = 0x24; // mode 4 (server)
  b[1] = 2; // stratum
  b[2] = 6; // poll
  b[3] = 0xe9; // precision 2^-23
  b.writeUInt32BE(0x00000210, 4); // root delay
  b.writeUInt32BE(0x00000340, 8); // root dispersion
  b.set([198, 19, 200, 1], 12); // reference id: upstream IPv4
  writeNtpTime(b, 16, rxUs - 64e6);
  writeNtpTime(b, 24, clientTxUs);
  writeNtpTime(b, 32, rxUs);
  writeNtpTime(b, 40, txUs);
  return b;
}

// ---------------------------------------------------------------- DHCP (RFC 2131/2132)

const DHCP_MAGIC = Buffer.from([99, 130, 83, 99]);

function opt(code: number, data: number[] | Buffer): Buffer {
  const d = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return Buffer.concat([Buffer.from([code, d.length]), d]);
}

interface Bootp {
  op: 1 | 2;
  xid: number;
  ciaddr?: string;
  yiaddr?: string;
  chaddr: string;
  options: Buffer[];
}

function bootp(m: Bootp): Buffer {
  const fixed = Buffer.alloc(236);
  fixed[0] = m.op;
  fixed[1] = 1; // htype Ethernet
  fixed[2] = 6; // hlen
  fixed.writeUInt32BE(m.xid >>> 0, 4);
  ip4Rdata(m.ciaddr ?? '0.0.0.0').copy(fixed, 12);
  ip4Rdata(m.yiaddr ?? '0.0.0.0').copy(fixed, 16);
  macBytes(m.chaddr).copy(fixed, 28);
  const body = Buffer.concat([fixed, DHCP_MAGIC, ...m.options, Buffer.from([255])]);
  // BOOTP's 300-byte minimum: many relays and old servers drop anything shorter.
  return body.length >= 300 ? body : Buffer.concat([body, Buffer.alloc(300 - body.length)]);
}

const PARAM_REQUEST = opt(55, [1, 3, 6, 15, 28, 51, 54, 58, 59, 119]);

function serverOptions(type: number, gw: LanHost): Buffer[] {
  const gwIp = ip4Rdata(gw.ip);
  return [
    opt(53, [type]),
    opt(54, gwIp),
    opt(51, [0, 1, 0x51, 0x80]), // 86400 s
    opt(58, [0, 0, 0xa8, 0xc0]),
    opt(59, [0, 1, 0x27, 0x50]),
    opt(1, [255, 255, 0, 0]),
    opt(28, [198, 18, 255, 255]),
    opt(3, gwIp),
    opt(6, gwIp),
    opt(15, Buffer.from('corp.example')),
  ];
}

function clientId(h: LanHost): Buffer {
  return opt(61, Buffer.concat([Buffer.from([1]), macBytes(h.mac)]));
}

// ---------------------------------------------------------------- logins, SNMP, mDNS, LLMNR

const LOGIN_PORTS: Record<LoginProto, number> = { ftp: 21, http: 80, pop3: 110, imap: 143, smtp: 25 };
const REPORT_PATHS = ['/reports/q3.html', '/reports/sales.csv', '/reports/style.css', '/reports/team/'];
const IMAP_CAPS = 'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN';
const UNRESOLVED_NAMES = ['wpad', 'fileserver', 'sharepoint', 'printer', 'nas', 'intranet-old', 'scanner'];
const MDNS_MAC = '01:00:5e:00:00:fb';
const MDNS_IP = '224.0.0.251';
const LLMNR_MAC = '01:00:5e:00:00:fc';
const LLMNR_IP = '224.0.0.252';
const ALL_ROUTERS_MAC = '33:33:00:00:00:02';

/** The password with its last two characters swapped: a typo the server refuses. */
function typoOf(password: string): string {
  return password.slice(0, -2) + password.slice(-1) + password.slice(-2, -1);
}

/** An SNMP application-class integer (TimeTicks 0x43, Counter64 0x46): INTEGER encoding under another tag. */
function berApplication(tag: number, value: number): Buffer {
  const b = berInteger(value);
  b[0] = tag;
  return b;
}

// ---------------------------------------------------------------- scheduling

interface Scheduled {
  t: number;
  seq: number;
  frame: Buffer;
  kind: Kind;
  tag: number;
}

/** Binary min-heap on (t, seq): pending replies and later steps of short exchanges. */
class Heap {
  private readonly a: Scheduled[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Scheduled | undefined {
    return this.a[0];
  }
  private less(i: number, j: number): boolean {
    const x = this.a[i]!;
    const y = this.a[j]!;
    return x.t < y.t || (x.t === y.t && x.seq < y.seq);
  }
  push(s: Scheduled): void {
    const a = this.a;
    a.push(s);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Scheduled | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(l, m)) m = l;
        if (r < a.length && this.less(r, m)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

const TAG_NONE = 0;
const TAG_POISON_VICTIM = 1;
const TAG_POISON_GATEWAY = 2;
const TAG_RESTORE_VICTIM = 3;
const TAG_RESTORE_GATEWAY = 4;
/** Login frames carrying a password: TAG_LOGIN | protocol index << 2 | TAG_LOGIN_FIRST | TAG_LOGIN_FAILED, tallied when written. */
const TAG_LOGIN = 0x100;
const TAG_LOGIN_FAILED = 1;
const TAG_LOGIN_FIRST = 2;

// ---------------------------------------------------------------- generator

class TrafficGenerator {
  private readonly rng: Rng;
  private readonly net: Network;
  private readonly fill: { text: Buffer; binary: Buffer };
  private readonly heap = new Heap();
  private readonly flows: Iterator<Buffer, void>[] = [];
  private seq = 0;
  private now = T0_US;
  readonly counts = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  readonly logins = Object.fromEntries(LOGIN_PROTOS.map((p) => [p, { sessions: 0, attempts: 0, failed: 0 }])) as Record<LoginProto, LoginTally>;
  readonly tlsHandshakes = { tls12: 0, tls13: 0 };
  snmpRequests = 0;
  /** Per-slot exchanges other than bulk TCP, with their probabilities; false: nothing was emitted. */
  private readonly exchanges: [number, () => boolean][];
  private nextRaAt = T0_US;
  private readonly routerAdvert: RouterAdvertSpec;
  // Attack state: which directions currently go through the attacker.
  private poisonedVictim = false;
  private poisonedGateway = false;
  private readonly attacker: LanHost;
  private readonly victim: LanHost;
  private readonly macBuf: { attacker: Buffer; victim: Buffer; gateway: Buffer };

  constructor(
    seed: number,
    private readonly writer: PcapWriter,
  ) {
    this.rng = new Rng(seed);
    this.net = new Network(this.rng);
    this.fill = makeFillers(this.rng);
    for (let i = 0; i < CONCURRENT_FLOWS; i++) this.flows.push(this.newFlow());
    this.attacker = this.net.clients[42]!;
    this.victim = this.net.clients[7]!;
    this.macBuf = {
      attacker: macBytes(this.attacker.mac),
      victim: macBytes(this.victim.mac),
      gateway: macBytes(this.net.gateway.mac),
    };
    const always = (f: () => void) => (): boolean => {
      f();
      return true;
    };
    this.exchanges = [
      [P_ARP, () => this.arpExchange()],
      [P_DNS, always(() => this.dnsExchange())],
      [P_NTP, always(() => this.ntpExchange())],
      [P_DHCP_DORA, always(() => this.dhcpDora())],
      [P_DHCP_RENEW, always(() => this.dhcpRenew())],
      [P_LOGIN, always(() => this.loginSession())],
      [P_SNMP, always(() => this.snmpPoll())],
      [P_MDNS, always(() => this.mdnsLookup())],
      [P_LLMNR, always(() => this.llmnrLookup())],
    ];
    const gw = this.net.gateway;
    // One router on the link, always saying the same thing: SLAAC prefix, no DHCPv6 (M and O clear), RDNSS.
    this.routerAdvert = {
      lifetime: 1800,
      sourceMac: gw.mac,
      mtu: 1500,
      prefixes: [{ prefix: '2001:db8:c612::', length: 64 }],
      rdnss: { servers: ['2001:db8:c612::1'] },
    };
  }

  run(packets: number): void {
    const rng = this.rng;
    while (this.writer.packets < packets) {
      this.now += rng.exp(MEAN_GAP_US);
      const top = this.heap.peek();
      if (top && top.t <= this.now) {
        this.heap.pop();
        this.emit(top.frame, top.kind, top.tag);
        continue;
      }
      if (this.now >= this.nextRaAt) {
        this.emit(this.raFrame(), 'icmpv6');
        this.nextRaAt = this.now + rng.int(RA_INTERVAL_US[0], RA_INTERVAL_US[1]);
        continue;
      }
      let r = rng.next();
      let emitted = false;
      for (const [p, exchange] of this.exchanges) {
        if (r < p) {
          emitted = exchange();
          break;
        }
        r -= p;
      }
      if (!emitted) this.tcpNext();
    }
  }

  private schedule(delayUs: number, frame: Buffer, kind: Kind, tag = TAG_NONE): void {
    this.heap.push({ t: this.now + delayUs, seq: this.seq++, frame, kind, tag });
  }

  private emit(frame: Buffer, kind: Kind, tag = TAG_NONE): void {
    if (tag >= TAG_LOGIN) {
      // Tallied here, not when scheduled, so that sessions cut off by the end of the file count only what was written.
      const tally = this.logins[LOGIN_PROTOS[(tag - TAG_LOGIN) >> 2]!];
      tally.attempts++;
      if (tag & TAG_LOGIN_FAILED) tally.failed++;
      if (tag & TAG_LOGIN_FIRST) tally.sessions++;
    } else if (tag !== TAG_NONE) {
      if (tag === TAG_POISON_VICTIM) this.poisonedVictim = true;
      else if (tag === TAG_POISON_GATEWAY) this.poisonedGateway = true;
      else if (tag === TAG_RESTORE_VICTIM) this.poisonedVictim = false;
      else if (tag === TAG_RESTORE_GATEWAY) this.poisonedGateway = false;
    } else if ((this.poisonedVictim || this.poisonedGateway) && kind !== 'attack_forwarded') {
      this.divert(frame);
    }
    this.writer.write(frame, Math.round(this.now));
    this.counts[kind]++;
  }

  /** A poisoned cache sends the frame to the attacker, who forwards it (TTL - 1) to the real next hop. */
  private divert(frame: Buffer): void {
    if (frame.readUInt16BE(12) !== 0x0800) return;
    const { attacker, victim, gateway } = this.macBuf;
    const src = frame.subarray(6, 12);
    const dst = frame.subarray(0, 6);
    let realDst: Buffer;
    if (this.poisonedVictim && src.equals(victim) && dst.equals(gateway)) realDst = gateway;
    else if (this.poisonedGateway && src.equals(gateway) && dst.equals(victim)) realDst = victim;
    else return;
    attacker.copy(frame, 0);
    const fwd = Buffer.from(frame);
    realDst.copy(fwd, 0);
    attacker.copy(fwd, 6);
    fwd[22] = Math.max(0, fwd[22]! - 1);
    fwd.writeUInt16BE(0, 24);
    fwd.writeUInt16BE(internetChecksum(fwd, 14, 14 + (fwd[14]! & 0x0f) * 4), 24);
    this.schedule(40, fwd, 'attack_forwarded');
  }

  private randomClient(): LanHost {
    return this.rng.pick(this.net.clients);
  }

  /** A source port from the host's OS range: Windows (TTL 128) 49152-65535, Linux 32768-60999. */
  private ephemeralPort(h: LanHost): number {
    return h.ttl === 128 ? this.rng.int(49152, 65535) : this.rng.int(32768, 60999);
  }

  // ---- TCP

  private tcpNext(): void {
    const i = Math.floor(this.rng.next() * this.flows.length);
    let r = this.flows[i]!.next();
    while (r.done) {
      this.flows[i] = this.newFlow();
      r = this.flows[i]!.next();
    }
    this.emit(r.value, 'tcp');
  }

  private newFlow(): Iterator<Buffer, void> {
    const rng = this.rng;
    const client = this.randomClient();
    if (rng.chance(0.8)) return this.tcpFlow(client, rng.pick(this.net.remotes), rng.chance(0.7) ? 443 : 80);
    return this.tcpFlow(client, this.net.asPeer(rng.pick(this.net.servers)), rng.pick([80, 443, 8080, 8443]));
  }

  private *tcpFlow(client: LanHost, peer: Peer, port: number): Generator<Buffer, void> {
    const rng = this.rng;
    const sport = this.ephemeralPort(client);
    let c = rng.u32();
    let s = rng.u32();
    const up = (flags: number, payload: Buffer = EMPTY): Buffer => {
      const f = tcpFrame(client.mac, peer.mac, client.ip, peer.ip, client.ttl, tcpSegment(sport, port, c, flags & TCP_ACK ? s : 0, flags, payload));
      c = (c + payload.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0)) >>> 0;
      return f;
    };
    const down = (flags: number, payload: Buffer = EMPTY): Buffer => {
      const f = tcpFrame(peer.mac, client.mac, peer.ip, client.ip, peer.ttl, tcpSegment(port, sport, s, c, flags, payload));
      s = (s + payload.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0)) >>> 0;
      return f;
    };
    const binary = port !== 80 && port !== 8080;
    const filler = binary ? this.fill.binary : this.fill.text;
    const slice = (n: number): Buffer => {
      const off = rng.int(0, filler.length - n);
      return filler.subarray(off, off + n);
    };

    yield up(TCP_SYN);
    yield down(TCP_SYN | TCP_ACK);
    yield up(TCP_ACK);
    const exchanges = rng.int(1, 4);
    for (let e = 0; e < exchanges; e++) {
      const body = responseSize(rng);
      let request: Buffer;
      let next: (n: number) => Buffer;
      let remaining: number;
      if (binary && e === 0) {
        const tls13 = rng.chance(0.7);
        this.tlsHandshakes[tls13 ? 'tls13' : 'tls12']++;
        request = clientHelloRecord(peer.name, rng.int(250, 600), tls13, slice(32));
        const hello = serverHelloRecords(tls13, slice(32));
        // TLS 1.3 encrypts everything after the ServerHello; 1.2 sends its certificate in handshake records.
        const stream = new TlsStream(body, tls13 ? 0x17 : 0x16, filler, rng);
        next = startingWith(hello, (n) => stream.take(n));
        remaining = hello.length + TlsStream.wireLength(body);
      } else if (binary) {
        const reqLen = rng.int(40, 900);
        request = Buffer.concat([tlsRecordHeader(0x17, reqLen - 5), slice(reqLen - 5)]);
        const stream = new TlsStream(body, 0x17, filler, rng);
        next = (n) => stream.take(n);
        remaining = TlsStream.wireLength(body);
      } else {
        request = Buffer.from(
          `GET ${rng.pick(PATHS)} HTTP/1.1\r\nHost: ${peer.name}\r\nUser-Agent: ${rng.pick(AGENTS)}\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n`,
          'latin1',
        );
        const head = Buffer.from(
          `HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${body}\r\nCache-Control: max-age=300\r\nConnection: keep-alive\r\n\r\n`,
          'latin1',
        );
        next = startingWith(head, slice);
        remaining = head.length + body;
      }
      yield up(TCP_PSH | TCP_ACK, request);
      let unacked = 0;
      while (remaining > 0) {
        const n = Math.min(MSS, remaining);
        remaining -= n;
        yield down(remaining === 0 ? TCP_PSH | TCP_ACK : TCP_ACK, next(n));
        // Delayed ACK: one per two full segments, and one for the tail.
        if (++unacked === 2 || remaining === 0) {
          unacked = 0;
          yield up(TCP_ACK);
        }
      }
    }
    yield up(TCP_FIN | TCP_ACK);
    yield down(TCP_FIN | TCP_ACK);
    yield up(TCP_ACK);
  }

  // ---- ARP

  /** True if this MAC may send one more ARP reply now without passing the cap. */
  private mayReply(h: LanHost, at: number): boolean {
    return at - h.replies[h.replyPos]! > 1e6;
  }

  private noteReply(h: LanHost, at: number): void {
    h.replies[h.replyPos] = at;
    h.replyPos = (h.replyPos + 1) % h.replies.length;
  }

  /** Request now, reply shortly after. Returns false (nothing emitted) if neither side may reply. */
  private arpExchange(): boolean {
    const rng = this.rng;
    const net = this.net;
    const client = this.randomClient();
    const r = rng.next();
    // Mostly the gateway and the hosts refreshing each other's entries; some host-to-server.
    let asker: LanHost;
    let target: LanHost;
    if (r < 0.45) [asker, target] = [net.gateway, client];
    else if (r < 0.7) [asker, target] = [client, net.gateway];
    else if (r < 0.85) [asker, target] = [client, rng.pick(net.infra)];
    else [asker, target] = [rng.pick(net.infra), client];
    const delay = rng.int(20, 400);
    const at = this.now + delay;
    if (!this.mayReply(target, at)) {
      [asker, target] = [target, asker];
      if (!this.mayReply(target, at)) return false;
    }
    // Linux re-validates a stale entry with a unicast request first.
    const unicast = rng.chance(0.3);
    this.emit(arp({ op: 1, senderMac: asker.mac, senderIp: asker.ip, targetMac: ZERO_MAC, targetIp: target.ip }, asker.mac, unicast ? target.mac : BROADCAST_MAC), 'arp');
    this.noteReply(target, at);
    this.schedule(delay, arp({ op: 2, senderMac: target.mac, senderIp: target.ip, targetMac: asker.mac, targetIp: asker.ip }), 'arp');
    return true;
  }

  // ---- UDP

  private dnsExchange(): void {
    const rng = this.rng;
    const gw = this.net.gateway;
    const client = this.randomClient();
    const id = rng.int(0, 0xffff);
    const sport = this.ephemeralPort(client);
    const qtype = rng.chance(0.6) ? QTYPE_A : QTYPE_AAAA;
    let peer: Peer | undefined = rng.pick(this.net.remotes);
    let name = peer.name;
    if (rng.chance(0.06)) {
      // Search-domain suffixing and WPAD lookups: the usual NXDOMAIN background.
      name = rng.chance(0.5) ? `${name}.corp.example` : 'wpad.corp.example';
      peer = undefined;
    }
    this.emit(udpFrame(client.mac, gw.mac, client.ip, gw.ip, client.ttl, sport, 53, dnsQuery(id, name, qtype)), 'dns');
    // Cached answers come back fast, recursive ones take a WAN round trip or more.
    const delay = rng.chance(0.7) ? rng.int(150, 1200) : rng.int(5000, 60000);
    this.schedule(delay, udpFrame(gw.mac, client.mac, gw.ip, client.ip, 64, 53, sport, dnsResponse(id, name, qtype, peer, rng)), 'dns');
  }

  private ntpExchange(): void {
    const rng = this.rng;
    const client = this.randomClient();
    const server = rng.pick(this.net.ntpServers);
    const sport = rng.chance(0.5) ? 123 : rng.int(32768, 60999);
    const tx = Math.round(this.now);
    const delay = rng.int(4000, 40000);
    this.emit(udpFrame(client.mac, server.mac, client.ip, server.ip, client.ttl, sport, 123, ntpClient(tx)), 'ntp');
    const reply = ntpServer(tx, tx + delay / 2, tx + delay / 2 + 25);
    this.schedule(delay, udpFrame(server.mac, client.mac, server.ip, client.ip, server.ttl, 123, sport, reply), 'ntp');
  }

  /** A host rejoining: DISCOVER, OFFER, REQUEST, ACK, then its RFC 5227 probe and announcement. */
  private dhcpDora(): void {
    const rng = this.rng;
    const gw = this.net.gateway;
    const h = this.randomClient();
    const xid = rng.u32();
    const hostname = opt(12, Buffer.from(h.name.split('.')[0]!));
    const requested = opt(50, ip4Rdata(h.ip));
    const bcast = (m: Bootp): Buffer => udpFrame(h.mac, BROADCAST_MAC, '0.0.0.0', '255.255.255.255', 64, 68, 67, bootp(m));
    const toClient = (m: Bootp): Buffer => udpFrame(gw.mac, h.mac, gw.ip, h.ip, 64, 67, 68, bootp(m));

    this.emit(bcast({ op: 1, xid, chaddr: h.mac, options: [opt(53, [1]), clientId(h), requested, hostname, PARAM_REQUEST] }), 'dhcp');
    let t = rng.int(1000, 8000);
    this.schedule(t, toClient({ op: 2, xid, yiaddr: h.ip, chaddr: h.mac, options: serverOptions(2, gw) }), 'dhcp');
    t += rng.int(200, 2000);
    this.schedule(t, bcast({ op: 1, xid, chaddr: h.mac, options: [opt(53, [3]), clientId(h), requested, opt(54, ip4Rdata(gw.ip)), hostname, PARAM_REQUEST] }), 'dhcp');
    t += rng.int(500, 3000);
    this.schedule(t, toClient({ op: 2, xid, yiaddr: h.ip, chaddr: h.mac, options: serverOptions(5, gw) }), 'dhcp');
    t += rng.int(20000, 120000);
    this.schedule(t, arp({ op: 1, senderMac: h.mac, senderIp: '0.0.0.0', targetMac: ZERO_MAC, targetIp: h.ip }), 'arp');
    t += rng.int(200000, 400000);
    this.schedule(t, arp({ op: 1, senderMac: h.mac, senderIp: h.ip, targetMac: ZERO_MAC, targetIp: h.ip }), 'arp');
    // The same interface coming up on IPv6: a Router Solicitation, answered by the router's (multicast) advertisement.
    t += rng.int(1000, 5000);
    const rs = Buffer.concat([Buffer.alloc(4), ndOption(1, macBytes(h.mac))]);
    this.schedule(t, icmpv6Frame(h.mac, ALL_ROUTERS_MAC, linkLocal(h.mac), 'ff02::2', 133, 0, rs), 'icmpv6');
    this.schedule(t + rng.int(2000, 20000), this.raFrame(), 'icmpv6');
  }

  private raFrame(): Buffer {
    return routerAdvertFrame(this.net.gateway.mac, this.net.gatewayLinkLocal, this.routerAdvert);
  }

  /** Lease renewal at T1: unicast REQUEST and ACK. */
  private dhcpRenew(): void {
    const rng = this.rng;
    const gw = this.net.gateway;
    const h = this.randomClient();
    const xid = rng.u32();
    const req = bootp({ op: 1, xid, ciaddr: h.ip, chaddr: h.mac, options: [opt(53, [3]), clientId(h), PARAM_REQUEST] });
    this.emit(udpFrame(h.mac, gw.mac, h.ip, gw.ip, h.ttl, 68, 67, req), 'dhcp');
    const ack = bootp({ op: 2, xid, ciaddr: h.ip, yiaddr: h.ip, chaddr: h.mac, options: serverOptions(5, gw) });
    this.schedule(rng.int(500, 3000), udpFrame(gw.mac, h.mac, gw.ip, h.ip, 64, 67, 68, ack), 'dhcp');
  }

  // ---- cleartext logins

  private loginProto(): LoginProto {
    let r = this.rng.next();
    for (const p of LOGIN_PROTOS) {
      if (r < LOGIN_WEIGHTS[p]) return p;
      r -= LOGIN_WEIGHTS[p];
    }
    return LOGIN_PROTOS[LOGIN_PROTOS.length - 1]!;
  }

  /**
   * One TCP connection in which a legacy user's workstation logs in to a
   * cleartext service: handshake, greeting, login (sometimes a mistyped
   * password first, refused, then the right one), a little work, close.
   */
  private loginSession(): void {
    const rng = this.rng;
    const net = this.net;
    const u = rng.pick(net.legacyUsers);
    const proto = this.loginProto();
    const server = proto === 'ftp' ? net.files : proto === 'http' ? net.intranet : net.mail;
    const conv = new TcpConversation(
      { mac: u.host.mac, ip: u.host.ip, port: this.ephemeralPort(u.host) },
      { mac: server.mac, ip: server.ip, port: LOGIN_PORTS[proto] },
      { clientIsn: rng.u32(), serverIsn: rng.u32() },
    );
    const attempts = rng.chance(P_TYPO) ? [{ password: typoOf(u.password), ok: false }, { password: u.password, ok: true }] : [{ password: u.password, ok: true }];
    /** Tags of the frames that carry a password, by index in conv.frames. */
    const tags = new Map<number, number>();
    const sent = (ok: boolean): void => {
      tags.set(conv.frames.length - 1, TAG_LOGIN | (LOGIN_PROTOS.indexOf(proto) << 2) | (ok ? 0 : TAG_LOGIN_FAILED) | (tags.size === 0 ? TAG_LOGIN_FIRST : 0));
    };
    /** Server think time (password check) or client think time, in microseconds. */
    const wait = (lo: number, hi: number): void => {
      conv.t += rng.int(lo, hi) / 1e6;
    };

    conv.handshake();
    switch (proto) {
      case 'ftp':
        conv.server('220 (vsFTPd 3.0.3)\r\n');
        for (const a of attempts) {
          conv.client(`USER ${u.user}\r\n`).server('331 Please specify the password.\r\n');
          conv.client(`PASS ${a.password}\r\n`);
          sent(a.ok);
          // vsftpd's delay_failed_login.
          wait(a.ok ? 500 : 900_000, a.ok ? 5000 : 1_100_000);
          conv.server(a.ok ? '230 Login successful.\r\n' : '530 Login incorrect.\r\n');
        }
        conv.client('SYST\r\n').server('215 UNIX Type: L8\r\n').client('PWD\r\n').server(`257 "/home/${u.user}" is the current directory\r\n`);
        conv.client('QUIT\r\n').server('221 Goodbye.\r\n');
        break;
      case 'http': {
        const request = (path: string, password: string | null): string =>
          `GET ${path} HTTP/1.1\r\nHost: ${server.name}\r\nUser-Agent: ${AGENTS[1]}\r\n` +
          (password === null ? '' : `Authorization: Basic ${Buffer.from(`${u.user}:${password}`).toString('base64')}\r\n`) +
          'Accept: text/html,*/*\r\nConnection: keep-alive\r\n\r\n';
        const page = (): string => {
          const body = this.fill.text.toString('latin1', 0, rng.int(600, 6000));
          return `HTTP/1.1 200 OK\r\nServer: Apache/2.4.62 (Debian)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
        };
        const denied = 'HTTP/1.1 401 Unauthorized\r\nServer: Apache/2.4.62 (Debian)\r\nWWW-Authenticate: Basic realm="Intranet reports"\r\nContent-Length: 0\r\n\r\n';
        // The browser asks without credentials first; the challenge makes it ask the user (or its password store).
        conv.client(request('/reports/', null)).server(denied);
        for (const a of attempts) {
          wait(a.ok ? 50_000 : 300_000, a.ok ? 500_000 : 1_000_000);
          conv.client(request('/reports/', a.password));
          sent(a.ok);
          wait(300, 3000);
          conv.server(a.ok ? page() : denied);
        }
        // Later requests on the connection carry the cached credentials too: each one exposes the password again.
        for (let i = rng.int(0, 2); i > 0; i--) {
          wait(20_000, 400_000);
          conv.client(request(rng.pick(REPORT_PATHS), u.password));
          sent(true);
          wait(300, 3000);
          conv.server(page());
        }
        break;
      }
      case 'pop3':
        conv.server('+OK Dovecot (Debian) ready.\r\n');
        for (const a of attempts) {
          conv.client(`USER ${u.user}\r\n`).server('+OK\r\n').client(`PASS ${a.password}\r\n`);
          sent(a.ok);
          wait(a.ok ? 2000 : 1_500_000, a.ok ? 15_000 : 2_500_000);
          conv.server(a.ok ? '+OK Logged in.\r\n' : '-ERR [AUTH] Authentication failed.\r\n');
        }
        conv.client('STAT\r\n').server(`+OK ${rng.int(0, 40)} ${rng.int(0, 900_000)}\r\n`).client('QUIT\r\n').server('+OK Logging out.\r\n');
        break;
      case 'imap': {
        let n = 1;
        const tag = (): string => `a${String(n++).padStart(3, '0')}`;
        conv.server(`* OK [CAPABILITY ${IMAP_CAPS}] Dovecot (Debian) ready.\r\n`);
        for (const a of attempts) {
          const t = tag();
          conv.client(`${t} LOGIN ${u.user} "${a.password}"\r\n`);
          sent(a.ok);
          wait(a.ok ? 2000 : 1_500_000, a.ok ? 15_000 : 2_500_000);
          conv.server(a.ok ? `${t} OK [CAPABILITY ${IMAP_CAPS} SORT THREAD=REFERENCES MULTIAPPEND] Logged in\r\n` : `${t} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n`);
        }
        let t = tag();
        const exists = rng.int(0, 3000);
        conv.client(`${t} SELECT INBOX\r\n`);
        conv.server(`* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* ${exists} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1718000000] UIDs valid\r\n${t} OK [READ-WRITE] Select completed.\r\n`);
        t = tag();
        conv.client(`${t} LOGOUT\r\n`).server(`* BYE Logging out\r\n${t} OK Logout completed.\r\n`);
        break;
      }
      case 'smtp': {
        conv.server(`220 ${server.name} ESMTP Postfix (Debian/GNU)\r\n`).client(`EHLO ${u.host.name}\r\n`);
        // An internal relay that takes AUTH on port 25 and offers no STARTTLS.
        conv.server(`250-${server.name}\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n`);
        for (const a of attempts) {
          conv.client(`AUTH PLAIN ${Buffer.from(`\0${u.user}\0${a.password}`).toString('base64')}\r\n`);
          sent(a.ok);
          wait(a.ok ? 2000 : 1_000_000, a.ok ? 15_000 : 2_000_000);
          conv.server(a.ok ? '235 2.7.0 Authentication successful\r\n' : '535 5.7.8 Error: authentication failed: authentication failure\r\n');
        }
        const to = rng.pick(FIRST_NAMES);
        conv.client(`MAIL FROM:<${u.user}@corp.example>\r\n`).server('250 2.1.0 Ok\r\n').client(`RCPT TO:<${to}@corp.example>\r\n`).server('250 2.1.5 Ok\r\n');
        conv.client('DATA\r\n').server('354 End data with <CR><LF>.<CR><LF>\r\n');
        const words = this.fill.text.toString('latin1', 200, 200 + rng.int(200, 3000)).replace(/<[^>]*>|\n/g, ' ');
        conv.client(`From: ${u.user}@corp.example\r\nTo: ${to}@corp.example\r\nSubject: Weekly report\r\n\r\n${words}\r\n.\r\n`);
        conv.server(`250 2.0.0 Ok: queued as ${rng.u32().toString(16).toUpperCase()}\r\n`).client('QUIT\r\n').server('221 2.0.0 Bye\r\n');
        break;
      }
    }
    conv.close();
    const clientMac = macBytes(u.host.mac);
    conv.frames.forEach((f, i) => {
      const fromClient = f.frame.compare(clientMac, 0, 6, 6, 12) === 0;
      this.schedule(f.t * 1e6, pad60(setIpv4TransportChecksum(withTtl(f.frame, fromClient ? u.host.ttl : server.ttl))), 'login', tags.get(i) ?? TAG_NONE);
    });
  }

  // ---- SNMP, mDNS, LLMNR

  /** The monitoring station polls an agent's uptime and an interface's octet counters (SNMPv2c, community 'public'). */
  private snmpPoll(): void {
    const rng = this.rng;
    const nms = this.net.nms;
    const agent = rng.pick(this.snmpAgents);
    const sport = rng.int(32768, 60999);
    const requestId = rng.int(1, 0x7fffffff);
    const ifIndex = rng.int(1, 4);
    const oids = ['1.3.6.1.2.1.1.3.0', `1.3.6.1.2.1.31.1.1.1.6.${ifIndex}`, `1.3.6.1.2.1.31.1.1.1.10.${ifIndex}`];
    const get = snmpPayload({ version: 1, community: 'public', pdu: 0xa0, requestId, varbinds: oids.map((oid) => ({ oid })) });
    this.emit(udpFrame(nms.mac, agent.mac, nms.ip, agent.ip, nms.ttl, sport, 161, get), 'snmp');
    this.snmpRequests++;
    const uptime = Math.floor((this.now - T0_US) / 1e4) + 8_640_000;
    const values = [berApplication(0x43, uptime), berApplication(0x46, rng.int(1e9, 1e12)), berApplication(0x46, rng.int(1e9, 1e12))];
    const response = snmpPayload({ version: 1, community: 'public', pdu: 0xa2, requestId, varbinds: oids.map((oid, i) => ({ oid, value: values[i] })) });
    this.schedule(rng.int(300, 3000), udpFrame(agent.mac, nms.mac, agent.ip, nms.ip, agent.ttl, 161, sport, response), 'snmp');
  }

  private get snmpAgents(): LanHost[] {
    return [this.net.gateway, ...this.net.servers, ...this.net.printers];
  }

  /** A client looks up a printer (or browses for IPP printers) over mDNS; only the printers answer, each for its own name. */
  private mdnsLookup(): void {
    const rng = this.rng;
    const c = this.randomClient();
    const printer = rng.pick(this.net.printers);
    const browse = rng.chance(0.4);
    const question = browse ? { name: '_ipp._tcp.local', type: 12 } : { name: `${printer.name}.local`, type: 1 };
    this.emit(udpFrame(c.mac, MDNS_MAC, c.ip, MDNS_IP, 255, 5353, 5353, dnsMessage({ id: 0, flags: 0, questions: [question] })), 'mdns');
    for (const p of browse ? this.net.printers : [printer]) {
      // The A record is unique to the printer: cache-flush bit set on its class.
      const answers: DnsRecordSpec[] = [{ name: `${p.name}.local`, type: 1, cls: 0x8001, ttl: 120, data: p.ip }];
      if (browse) answers.unshift({ name: '_ipp._tcp.local', type: 12, ttl: 4500, data: dnsName(`${p.name}._ipp._tcp.local`) });
      // RFC 6762 6: shared answers wait 20-120 ms.
      this.schedule(rng.int(20_000, 120_000), udpFrame(p.mac, MDNS_MAC, p.ip, MDNS_IP, 255, 5353, 5353, dnsMessage({ id: 0, flags: 0x8400, answers })), 'mdns');
    }
  }

  /** Windows falls back to LLMNR for single-label names: a peer's name (answered by that peer alone) or one nobody has. */
  private llmnrLookup(): void {
    const rng = this.rng;
    const c = this.randomClient();
    const sport = rng.int(49152, 65535);
    const id = rng.int(0, 0xffff);
    const peer = rng.chance(0.5) ? this.randomClient() : undefined;
    const owner = peer !== undefined && peer !== c ? peer : undefined;
    const question = { name: owner ? owner.name.split('.')[0]! : rng.pick(UNRESOLVED_NAMES), type: 1 };
    this.emit(udpFrame(c.mac, LLMNR_MAC, c.ip, LLMNR_IP, 1, sport, 5355, dnsMessage({ id, flags: 0, questions: [question] })), 'llmnr');
    if (!owner) return;
    const answer = dnsMessage({ id, flags: 0x8000, questions: [question], answers: [{ name: question.name, type: 1, ttl: 30, data: owner.ip }] });
    this.schedule(rng.int(300, 3000), udpFrame(owner.mac, c.mac, owner.ip, c.ip, owner.ttl, 5355, sport, answer), 'llmnr');
  }

  // ---- attack slice

  /**
   * arpspoof -r against the gateway for one victim, over the middle 30% of the
   * capture: unsolicited replies every 2 s (arpspoof's period; shorter on small
   * files so there are at least three rounds), then three restoring rounds sent
   * from the attacker's own MAC (arpspoof's default -c own). Uses no randomness,
   * so the benign part of the file is the same as without it.
   */
  scheduleAttack(packets: number): void {
    const gw = this.net.gateway;
    const a = this.attacker;
    const v = this.victim;
    const span = packets * MEAN_GAP_US;
    const start = 0.4 * span;
    const end = 0.7 * span;
    const period = Math.min(2e6, (end - start) / 3);
    for (let t = start; t < end; t += period) {
      this.schedule(t, arp({ op: 2, senderMac: a.mac, senderIp: gw.ip, targetMac: v.mac, targetIp: v.ip }), 'attack_arp', TAG_POISON_VICTIM);
      this.schedule(t + 50, arp({ op: 2, senderMac: a.mac, senderIp: v.ip, targetMac: gw.mac, targetIp: gw.ip }), 'attack_arp', TAG_POISON_GATEWAY);
    }
    for (let k = 0; k < 3; k++) {
      const t = end + k * Math.min(1e6, period / 2);
      this.schedule(t, arp({ op: 2, senderMac: gw.mac, senderIp: gw.ip, targetMac: v.mac, targetIp: v.ip }, a.mac), 'attack_arp', TAG_RESTORE_VICTIM);
      this.schedule(t + 50, arp({ op: 2, senderMac: v.mac, senderIp: v.ip, targetMac: gw.mac, targetIp: gw.ip }, a.mac), 'attack_arp', TAG_RESTORE_GATEWAY);
    }
  }

  get lastTimeUs(): number {
    return this.now;
  }
}

/** Writes the capture; identical options give a byte-identical file. */
export function generateCapture(opts: GenerateOptions): GenerateResult {
  const packets = opts.packets ?? DEFAULT_PACKETS;
  const seed = opts.seed ?? DEFAULT_SEED;
  const withAttack = opts.withAttack ?? false;
  if (!Number.isInteger(packets) || packets < 1) throw new RangeError(`packets must be a positive integer, got ${packets}`);
  const started = process.hrtime.bigint();
  const writer = new PcapWriter(opts.path, LINKTYPE_ETHERNET);
  const gen = new TrafficGenerator(seed, writer);
  try {
    if (withAttack) gen.scheduleAttack(packets);
    gen.run(packets);
  } finally {
    writer.close();
  }
  return {
    path: opts.path,
    packets: writer.packets,
    bytes: statSync(opts.path).size,
    seed,
    withAttack,
    generatorVersion: GENERATOR_VERSION,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    captureSeconds: (gen.lastTimeUs - T0_US) / 1e6,
    counts: gen.counts,
    logins: gen.logins,
    tlsHandshakes: gen.tlsHandshakes,
    snmpRequests: gen.snmpRequests,
  };
}

export interface EnsuredCapture extends GenerateResult {
  /** Made by this call rather than reused. */
  generated: boolean;
}

/**
 * The capture at `path`, reused when its sidecar (`path`.json) says it was made
 * with the same settings by this generator version, else generated again.
 * `describe` names the file in the progress line on stderr.
 */
export function ensureCapture(path: string, packets: number, withAttack: boolean, describe: string): EnsuredCapture {
  const metaPath = `${path}.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    try {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as GenerateResult;
      if (
        meta.packets === packets &&
        meta.withAttack === withAttack &&
        meta.seed === DEFAULT_SEED &&
        meta.generatorVersion === GENERATOR_VERSION &&
        meta.bytes === statSync(path).size
      ) {
        return { ...meta, path, generated: false };
      }
    } catch {
      // unreadable sidecar: regenerate
    }
  }
  process.stderr.write(`generating ${describe} (${packets.toLocaleString('en-US')} packets${withAttack ? ', with attack slice' : ''})... `);
  const res = generateCapture({ path, packets, withAttack });
  writeFileSync(metaPath, JSON.stringify(res, null, 2) + '\n');
  process.stderr.write(`${res.seconds.toFixed(1)} s, ${(res.bytes / 2 ** 20).toFixed(0)} MiB\n`);
  return { ...res, generated: true };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      packets: { type: 'string', default: String(DEFAULT_PACKETS) },
      seed: { type: 'string', default: String(DEFAULT_SEED) },
      'with-attack': { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench/out/capture.pcap' },
    },
  });
  const res = generateCapture({
    path: resolve(values.out),
    packets: Number(values.packets),
    seed: Number(values.seed),
    withAttack: values['with-attack'],
  });
  console.log(JSON.stringify(res, null, 2));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
