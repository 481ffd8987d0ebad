import type { RawFrame } from '../capture/frame.js';
import {
  DLT_RAW_BSD_A,
  DLT_RAW_BSD_B,
  LINKTYPE_C_HDLC,
  LINKTYPE_C_HDLC_WITH_DIR,
  LINKTYPE_ETHERNET,
  LINKTYPE_FRELAY,
  LINKTYPE_IEEE802_11,
  LINKTYPE_IEEE802_11_AVS,
  LINKTYPE_IEEE802_11_PRISM,
  LINKTYPE_IEEE802_11_RADIOTAP,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_IPNET,
  LINKTYPE_IPOIB,
  LINKTYPE_NFLOG,
  LINKTYPE_NULL,
  LINKTYPE_PFLOG,
  LINKTYPE_PKTAP,
  LINKTYPE_PPI,
  LINKTYPE_PPP,
  LINKTYPE_PPP_ETHER,
  LINKTYPE_PPP_HDLC,
  LINKTYPE_PPP_WITH_DIR,
  LINKTYPE_RAW,
} from '../capture/linktypes.js';
import {
  Encap,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_QINQ,
  ETHERTYPE_QINQ_OLD,
  ETHERTYPE_VLAN,
  InnerKind,
  IPPROTO_GRE,
  IPPROTO_TCP,
  IPPROTO_UDP,
  MAX_VLAN_TAGS,
  Packet,
} from './packet.js';
import { decodeGre, decodeIpInIp, decodeUdpTunnel, IPPROTO_IPIP, IPPROTO_IPV6_IN_IP } from './tunnels.js';
import {
  decodeCiscoHdlc,
  decodeFrameRelay,
  decodeMacsec,
  decodeMpls,
  decodeNsh,
  decodePpp,
  decodePppHdlc,
  decodePppoeSession,
  ETHERTYPE_MACSEC,
  ETHERTYPE_MPLS,
  ETHERTYPE_MPLS_MULTICAST,
  ETHERTYPE_NSH,
  ETHERTYPE_PPPOE_SESSION,
  shimLength,
} from './carriers.js';
import { decode80211, decodeAmsduSubframe, decodeAvs, decodeDecryptedBody, decodePpi, decodePrism, decodeRadiotap } from './wlan.js';
import { readMac, u16be, u16le, u32le } from './bytes.js';

// Link, network and transport decoding into a reused Packet. Each step checks
// its bounds against the captured length and records why it stopped; nothing
// here throws on hostile input.

const ARPHRD_ETHER = 1;
/** One direction byte precedes the frame in the *_WITH_DIR link types. */
const DIRECTION_BYTE = 1;
const MAX_IPV6_EXTENSION_HEADERS = 8;
const IPV4_MORE_FRAGMENTS = 0x2000;

/** Fills `pkt` from `frame`. Returns false when the link type is not supported. */
export function decodeFrame(frame: RawFrame, pkt: Packet): boolean {
  pkt.reset();
  pkt.setBuffer(frame.data);
  pkt.start = frame.offset;
  pkt.end = frame.offset + frame.caplen;
  pkt.frameNo = frame.frameNo;
  pkt.timeMs = frame.tsSec * 1000 + frame.tsNsec / 1e6;
  pkt.linktype = frame.linktype;
  pkt.interfaceId = frame.interfaceId;
  pkt.snapped = frame.caplen < frame.origlen;
  return decodeLink(pkt, frame.linktype, pkt.start);
}

/** Decodes the frame at `off` as link type `linktype`. Returns false when the link type is not supported. */
function decodeLink(pkt: Packet, linktype: number, off: number): boolean {
  switch (linktype) {
    case LINKTYPE_ETHERNET:
      decodeEthernet(pkt, off);
      return true;
    case LINKTYPE_LINUX_SLL:
      decodeSll(pkt, off);
      return true;
    case LINKTYPE_LINUX_SLL2:
      decodeSll2(pkt, off);
      return true;
    case LINKTYPE_RAW:
    case DLT_RAW_BSD_A:
    case DLT_RAW_BSD_B:
      decodeRawIp(pkt, off);
      return true;
    case LINKTYPE_IPV4:
      decodeIpv4(pkt, off);
      return true;
    case LINKTYPE_IPV6:
      decodeIpv6(pkt, off);
      return true;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
      decodeNull(pkt, off);
      return true;
    case LINKTYPE_PPP:
      decodePpp(pkt, off, decodeNetwork);
      return true;
    case LINKTYPE_PPP_HDLC:
      decodePppHdlc(pkt, off, decodeNetwork);
      return true;
    case LINKTYPE_PPP_WITH_DIR:
      decodePpp(pkt, off + DIRECTION_BYTE, decodeNetwork);
      return true;
    case LINKTYPE_PPP_ETHER:
      decodePppoeSession(pkt, off, decodeNetwork);
      return true;
    case LINKTYPE_C_HDLC:
      decodeCiscoHdlc(pkt, off, decodeNetwork);
      return true;
    case LINKTYPE_C_HDLC_WITH_DIR:
      decodeCiscoHdlc(pkt, off + DIRECTION_BYTE, decodeNetwork);
      return true;
    case LINKTYPE_FRELAY:
      decodeFrameRelay(pkt, off, decodeNetwork);
      return true;
    case LINKTYPE_NFLOG:
      decodeNflog(pkt, off);
      return true;
    case LINKTYPE_IPOIB:
      decodeIpoib(pkt, off);
      return true;
    case LINKTYPE_IPNET:
      decodeIpnet(pkt, off);
      return true;
    case LINKTYPE_PFLOG:
      decodePflog(pkt, off);
      return true;
    case LINKTYPE_PKTAP:
      decodePktap(pkt, off);
      return true;
    case LINKTYPE_IEEE802_11:
      decode80211(pkt, off, false, decodeNetwork);
      return true;
    case LINKTYPE_IEEE802_11_RADIOTAP:
      decodeRadiotap(pkt, off, decodeNetwork);
      return true;
    case LINKTYPE_IEEE802_11_PRISM:
      decodePrism(pkt, off, decodeNetwork);
      return true;
    case LINKTYPE_IEEE802_11_AVS:
      decodeAvs(pkt, off, decodeNetwork);
      return true;
    case LINKTYPE_PPI:
      decodePpi(pkt, off, decodeNetwork, decodeEthernet);
      return true;
    default:
      return false;
  }
}

/** Decodes an Ethernet header (with 802.1Q/802.1ad tags) starting at `off`, then the network layer. */
export function decodeEthernet(pkt: Packet, off: number): void {
  const buf = pkt.buf;
  if (pkt.end - off < 14) {
    pkt.markMalformed('ethernet', 'frame shorter than an Ethernet header');
    return;
  }
  pkt.ethDst = readMac(buf, off);
  pkt.ethSrc = readMac(buf, off + 6);
  let type = u16be(buf, off + 12);
  off += 14;
  // Tags and switch or tap headers all have EtherTypes above 0x8100: IPv4 and ARP skip the walk.
  if (type >= ETHERTYPE_VLAN) {
    off = skipTags(pkt, type, off);
    if (off < 0) return;
    type = pkt.etherType;
  }
  // Values below 0x0600 are 802.3 lengths (LLC/SNAP frames: STP, CDP...), not analysed.
  if (type < 0x0600) return;
  decodeNetwork(pkt, type, off);
}

/**
 * Walks 802.1Q/802.1ad tags and switch or tap headers from `off`, where
 * EtherType `type` was read; leaves the frame's own EtherType in
 * pkt.etherType and returns where its payload starts, or -1 (the frame marked
 * when it is cut short).
 */
function skipTags(pkt: Packet, type: number, off: number): number {
  const buf = pkt.buf;
  while (type >= ETHERTYPE_VLAN) {
    if (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
      if (pkt.end - off < 4) {
        pkt.markMalformed('vlan', 'truncated 802.1Q tag');
        return -1;
      }
      if (pkt.vlanCount < MAX_VLAN_TAGS) pkt.vlans[pkt.vlanCount] = u16be(buf, off) & 0x0fff;
      pkt.vlanCount++;
      type = u16be(buf, off + 2);
      off += 4;
      continue;
    }
    const len = shimLength(pkt, type, off);
    if (len < 0) break;
    if (len === 0) return -1;
    if (pkt.end - off < len + 2) {
      pkt.markMalformed('ethernet', 'truncated switch or tap header');
      return -1;
    }
    type = u16be(buf, off + len);
    off += len + 2;
  }
  pkt.etherType = type;
  return off;
}

function decodeNetwork(pkt: Packet, etherType: number, off: number): void {
  pkt.etherType = etherType;
  pkt.l3Start = off;
  pkt.l3End = pkt.end;
  if (etherType === ETHERTYPE_IPV4) decodeIpv4(pkt, off);
  else if (etherType === ETHERTYPE_IPV6) decodeIpv6(pkt, off);
  else if (etherType !== ETHERTYPE_ARP) decodeCarried(pkt, etherType, off);
}

/** What a carrier EtherType holds (kept out of decodeNetwork, which stays small enough to inline). */
function decodeCarried(pkt: Packet, etherType: number, off: number): void {
  switch (etherType) {
    case ETHERTYPE_MPLS:
    case ETHERTYPE_MPLS_MULTICAST:
      decodeMpls(pkt, off, decodeNetwork, decodeEthernet);
      return;
    case ETHERTYPE_PPPOE_SESSION:
      decodePppoeSession(pkt, off, decodeNetwork);
      return;
    case ETHERTYPE_MACSEC:
      decodeMacsec(pkt, off, decodeNetwork);
      return;
    case ETHERTYPE_NSH:
      decodeNsh(pkt, off, decodeNetwork, decodeEthernet);
      return;
  }
}

function decodeSll(pkt: Packet, off: number): void {
  const buf = pkt.buf;
  if (pkt.end - off < 16) {
    pkt.markMalformed('sll', 'frame shorter than a Linux cooked header');
    return;
  }
  const arphrd = u16be(buf, off + 2);
  const addrLen = u16be(buf, off + 4);
  if (arphrd === ARPHRD_ETHER && addrLen === 6) pkt.ethSrc = readMac(buf, off + 6);
  decodeNetwork(pkt, u16be(buf, off + 14), off + 16);
}

function decodeSll2(pkt: Packet, off: number): void {
  const buf = pkt.buf;
  if (pkt.end - off < 20) {
    pkt.markMalformed('sll2', 'frame shorter than a Linux cooked v2 header');
    return;
  }
  const arphrd = u16be(buf, off + 8);
  const addrLen = buf[off + 11]!;
  if (arphrd === ARPHRD_ETHER && addrLen === 6) pkt.ethSrc = readMac(buf, off + 12);
  decodeNetwork(pkt, u16be(buf, off), off + 20);
}

function decodeNull(pkt: Packet, off: number): void {
  if (pkt.end - off < 4) {
    pkt.markMalformed('null', 'frame shorter than a loopback header');
    return;
  }
  decodeRawIp(pkt, off + 4);
}

const NFLOG_HEADER = 4;
const NFLOG_TLV = 4;
const NFULA_PAYLOAD = 9;
const AF_INET = 2;
const AF_INET6_LINUX = 10;

/**
 * Linux NFLOG (iptables/nftables `log group`, captured on nflog:N): a
 * 4-byte header, then TLVs; the payload TLV holds the IP packet. TLV fields
 * are in the byte order of the host that logged them, told from the first
 * TLV (its type is below 256).
 */
function decodeNflog(pkt: Packet, off: number): void {
  const buf = pkt.buf;
  const end = pkt.end;
  let p = off;
  if (end - p < NFLOG_HEADER) {
    pkt.markMalformed('nflog', 'frame shorter than an NFLOG header');
    return;
  }
  const family = buf[p]!;
  p += NFLOG_HEADER;
  const le = end - p >= NFLOG_TLV && buf[p + 3] === 0 && buf[p + 2] !== 0;
  while (end - p >= NFLOG_TLV) {
    const len = le ? u16le(buf, p) : u16be(buf, p);
    const type = le ? u16le(buf, p + 2) : u16be(buf, p + 2);
    if (len < NFLOG_TLV || len > end - p) {
      pkt.markMalformed('nflog', 'NFLOG TLV length out of bounds');
      return;
    }
    if (type === NFULA_PAYLOAD) {
      // Other families (bridge, ARP) log frames the analyzers would misread as IP.
      if (family === AF_INET || family === AF_INET6_LINUX) decodeRawIp(pkt, p + NFLOG_TLV);
      return;
    }
    p += (len + 3) & ~3;
  }
}

const IPOIB_HEADER = 44;
const IPOIB_TYPE = 40;

/** IP over InfiniBand: destination and source hardware addresses (20 bytes each), an EtherType, two reserved bytes. */
function decodeIpoib(pkt: Packet, off: number): void {
  if (pkt.end - off < IPOIB_HEADER) {
    pkt.markMalformed('ipoib', 'frame shorter than an IPoIB header');
    return;
  }
  decodeNetwork(pkt, u16be(pkt.buf, off + IPOIB_TYPE), off + IPOIB_HEADER);
}

const IPNET_HEADER = 24;

/** Solaris ipnet (snoop on the IP layer): a 24-byte header, then the IP packet. */
function decodeIpnet(pkt: Packet, off: number): void {
  if (pkt.end - off < IPNET_HEADER) {
    pkt.markMalformed('ipnet', 'frame shorter than an ipnet header');
    return;
  }
  decodeRawIp(pkt, off + IPNET_HEADER);
}

const PFLOG_MIN_HEADER = 45;

/** BSD pf's log header (pflog0): its first byte is its length, padded to four bytes; the IP packet follows. */
function decodePflog(pkt: Packet, off: number): void {
  const len = off < pkt.end ? (pkt.buf[off]! + 3) & ~3 : 0;
  if (len < PFLOG_MIN_HEADER || pkt.end - off < len) {
    pkt.markMalformed('pflog', 'pflog header length out of bounds');
    return;
  }
  decodeRawIp(pkt, off + len);
}

const PKTAP_MIN_HEADER = 108;
const PKTAP_TYPE_PACKET = 1;

/**
 * Apple's PKTAP (tcpdump -i pktap on macOS): a little-endian header naming
 * the interface and process, then the frame in the link type (DLT) it gives.
 */
function decodePktap(pkt: Packet, off: number): void {
  const buf = pkt.buf;
  if (pkt.end - off < PKTAP_MIN_HEADER) {
    pkt.markMalformed('pktap', 'frame shorter than a PKTAP header');
    return;
  }
  const len = u32le(buf, off);
  if (len < PKTAP_MIN_HEADER || len > pkt.end - off) {
    pkt.markMalformed('pktap', 'PKTAP header length out of bounds');
    return;
  }
  if (u32le(buf, off + 4) !== PKTAP_TYPE_PACKET) return;
  const dlt = u32le(buf, off + 8);
  // Any link type the decoder reads, but not PKTAP again: a frame is not nested in itself.
  if (dlt !== LINKTYPE_PKTAP) decodeLink(pkt, dlt, off + len);
}

/** Raw IP: the version nibble says which. */
export function decodeRawIp(pkt: Packet, off: number): void {
  if (off >= pkt.end) {
    pkt.markMalformed('ip', 'empty IP packet');
    return;
  }
  const version = pkt.buf[off]! >> 4;
  if (version === 4) decodeNetwork(pkt, ETHERTYPE_IPV4, off);
  else if (version === 6) decodeNetwork(pkt, ETHERTYPE_IPV6, off);
  else pkt.markMalformed('ip', 'IP version is neither 4 nor 6');
}

export function decodeIpv4(pkt: Packet, off: number): void {
  const buf = pkt.buf;
  pkt.etherType = ETHERTYPE_IPV4;
  pkt.l3Start = off;
  if (pkt.end - off < 20) {
    pkt.markMalformed('ipv4', 'truncated IPv4 header');
    return;
  }
  const ihl = (buf[off]! & 0x0f) * 4;
  const totalLen = u16be(buf, off + 2);
  if (buf[off]! >> 4 !== 4 || ihl < 20 || totalLen < ihl || pkt.end - off < ihl) {
    pkt.markMalformed('ipv4', 'bad IPv4 header length');
    return;
  }
  pkt.ipVersion = 4;
  // Trailing Ethernet padding is not part of the packet; a snapped capture may hold less.
  pkt.l3End = Math.min(pkt.end, off + totalLen);
  pkt.ttl = buf[off + 8]!;
  pkt.ipProto = buf[off + 9]!;
  pkt.ip4Src = pkt.view.getUint32(off + 12);
  pkt.ip4Dst = pkt.view.getUint32(off + 16);
  const fragment = u16be(buf, off + 6);
  pkt.ipFragment = (fragment & 0x1fff) !== 0;
  if (!pkt.ipFragment) decodeTransport(pkt, off + ihl);
  if ((fragment & IPV4_MORE_FRAGMENTS) !== 0) dropPartialInner(pkt);
}

/** A first fragment holds only the start of a tunnelled frame: without reassembly it is not followed. */
function dropPartialInner(pkt: Packet): void {
  pkt.encap = Encap.None;
  pkt.encapId = -1;
}

export function decodeIpv6(pkt: Packet, off: number): void {
  const buf = pkt.buf;
  pkt.etherType = ETHERTYPE_IPV6;
  pkt.l3Start = off;
  if (pkt.end - off < 40) {
    pkt.markMalformed('ipv6', 'truncated IPv6 header');
    return;
  }
  if (buf[off]! >> 4 !== 6) {
    pkt.markMalformed('ipv6', 'IPv6 header with wrong version');
    return;
  }
  pkt.ipVersion = 6;
  pkt.l3End = Math.min(pkt.end, off + 40 + u16be(buf, off + 4));
  pkt.ttl = buf[off + 7]!;
  pkt.ip6SrcOff = off + 8;
  pkt.ip6DstOff = off + 24;
  let next = buf[off + 6]!;
  let cur = off + 40;
  let moreFragments = false;
  for (let i = 0; i < MAX_IPV6_EXTENSION_HEADERS; i++) {
    if (next === 0 || next === 43 || next === 60 || next === 51 || next === 44) {
      if (pkt.l3End - cur < 8) {
        pkt.markMalformed('ipv6', 'truncated IPv6 extension header');
        return;
      }
      if (next === 44 && (u16be(buf, cur + 2) & 0xfff8) !== 0) pkt.ipFragment = true;
      if (next === 44 && (buf[cur + 3]! & 0x01) !== 0) moreFragments = true;
      const len = next === 44 ? 8 : next === 51 ? (buf[cur + 1]! + 2) * 4 : (buf[cur + 1]! + 1) * 8;
      next = buf[cur]!;
      cur += len;
      continue;
    }
    break;
  }
  pkt.ipProto = next;
  if (!pkt.ipFragment && cur <= pkt.l3End) decodeTransport(pkt, cur);
  if (moreFragments) dropPartialInner(pkt);
}

function decodeTransport(pkt: Packet, off: number): void {
  const buf = pkt.buf;
  pkt.l4Start = off;
  const avail = pkt.l3End - off;
  if (pkt.ipProto === IPPROTO_UDP) {
    if (avail < 8) {
      pkt.markMalformed('udp', 'truncated UDP header');
      return;
    }
    pkt.srcPort = u16be(buf, off);
    pkt.dstPort = u16be(buf, off + 2);
    const len = u16be(buf, off + 4);
    pkt.payloadStart = off + 8;
    pkt.payloadEnd = len >= 8 ? Math.min(pkt.l3End, off + len) : pkt.l3End;
    decodeUdpTunnel(pkt);
  } else if (pkt.ipProto === IPPROTO_TCP) {
    if (avail < 20) {
      pkt.markMalformed('tcp', 'truncated TCP header');
      return;
    }
    const dataOff = (buf[off + 12]! >> 4) * 4;
    if (dataOff < 20) {
      pkt.markMalformed('tcp', 'TCP data offset below 20 bytes');
      return;
    }
    pkt.srcPort = u16be(buf, off);
    pkt.dstPort = u16be(buf, off + 2);
    pkt.tcpSeq = pkt.view.getUint32(off + 4);
    pkt.tcpAck = pkt.view.getUint32(off + 8);
    pkt.tcpFlags = buf[off + 13]!;
    pkt.payloadStart = Math.min(pkt.l3End, off + dataOff);
    pkt.payloadEnd = pkt.l3End;
  } else {
    pkt.payloadStart = off;
    pkt.payloadEnd = pkt.l3End;
    if (pkt.ipProto === IPPROTO_GRE) decodeGre(pkt, off);
    else if (pkt.ipProto === IPPROTO_IPIP || pkt.ipProto === IPPROTO_IPV6_IN_IP) decodeIpInIp(pkt, off);
  }
}

/**
 * Decodes the frame that `outer` carries (its encap fields set by the tunnel
 * decoders) into `inner`, which shares the buffer, frame number and time.
 */
export function decodeInner(outer: Packet, inner: Packet): void {
  prepareInner(outer, inner);
  inner.start = outer.innerStart;
  inner.end = outer.innerEnd;
  switch (outer.innerKind) {
    case InnerKind.Ethernet:
      decodeEthernet(inner, inner.start);
      return;
    case InnerKind.Arp:
      decodeNetwork(inner, ETHERTYPE_ARP, inner.start);
      return;
    case InnerKind.Mpls:
      decodeNetwork(inner, ETHERTYPE_MPLS, inner.start);
      return;
    case InnerKind.Ieee80211:
      decode80211(inner, inner.start, false, decodeNetwork);
      return;
    case InnerKind.Prism:
      decodePrism(inner, inner.start, decodeNetwork);
      return;
    case InnerKind.AmsduSubframe:
      // The engine walks the subframes with decodeAmsduSubframeAt.
      return;
    default:
      decodeRawIp(inner, inner.start);
  }
}

/**
 * Decodes the A-MSDU subframe of `outer` at `off` into `inner` (reset, as
 * decodeInner does). Returns where the next subframe starts, or -1.
 */
export function decodeAmsduSubframeAt(outer: Packet, inner: Packet, off: number): number {
  prepareInner(outer, inner);
  return decodeAmsduSubframe(inner, off, outer.innerEnd, decodeNetwork);
}

/** Decodes the decrypted body of the 802.11 frame `outer`, held in plaintext[0, len), into `inner`. */
export function decodeDecryptedFrame(outer: Packet, inner: Packet, plaintext: Buffer, len: number): void {
  prepareInner(outer, inner);
  inner.setBuffer(plaintext);
  decodeDecryptedBody(outer, inner, len, decodeNetwork);
}

/** `inner` reset to share `outer`'s buffer, frame number and time, one level deeper. */
function prepareInner(outer: Packet, inner: Packet): void {
  inner.reset();
  inner.setBuffer(outer.buf);
  inner.frameNo = outer.frameNo;
  inner.timeMs = outer.timeMs;
  inner.linktype = outer.linktype;
  inner.interfaceId = outer.interfaceId;
  inner.depth = outer.depth + 1;
  inner.outer = outer;
}
