import { Encap, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, InnerKind, type Packet } from './packet.js';
import { u16be, u32be } from './bytes.js';

// Encapsulations that carry whole frames: GRE (RFC 2784/2890) with ERSPAN
// types I, II and III, VXLAN (RFC 7348), GENEVE (RFC 8926), TZSP and IP in
// IP. Each
// decoder validates its header against the bytes the outer packet holds and
// either records where the inner frame lies (Packet.encap, innerKind,
// innerStart, innerEnd, encapId) or marks the outer packet malformed; the
// engine decodes and analyses the inner frame. An inner frame cut short by the
// capture is still handed on: its own decoding reports what is missing.

/** IP protocol numbers of an IPv4 packet (RFC 2003) and an IPv6 packet (RFC 4213) carried in IP. */
export const IPPROTO_IPIP = 4;
export const IPPROTO_IPV6_IN_IP = 41;
/** GRE protocol type of an MPLS label stack (RFC 4023). */
const GRE_PROTO_MPLS = 0x8847;

export const UDP_PORT_VXLAN = 4789;
/** Linux's VXLAN port before IANA assigned 4789 (still flannel's default). */
export const UDP_PORT_VXLAN_LINUX = 8472;
export const UDP_PORT_GENEVE = 6081;
export const UDP_PORT_TZSP = 37008;

/** GRE protocol type of transparent Ethernet bridging: an Ethernet frame follows. */
export const GRE_PROTO_TEB = 0x6558;
/** ERSPAN type II (S bit set) or type I (S bit clear). */
export const GRE_PROTO_ERSPAN = 0x88be;
export const GRE_PROTO_ERSPAN_III = 0x22eb;

const GRE_FLAG_CHECKSUM = 0x8000;
const GRE_FLAG_ROUTING = 0x4000;
const GRE_FLAG_KEY = 0x2000;
const GRE_FLAG_SEQUENCE = 0x1000;
const GRE_VERSION_MASK = 0x0007;
/** GRE version 1 is PPTP's enhanced GRE, which carries PPP: not decoded. */
const GRE_VERSION_PPTP = 1;

const ERSPAN_II_HEADER = 8;
const ERSPAN_II_VERSION = 1;
const ERSPAN_III_HEADER = 12;
const ERSPAN_III_VERSION = 2;
const ERSPAN_III_PLATFORM_SUBHEADER = 8;
const ERSPAN_SESSION_MASK = 0x03ff;

const VXLAN_HEADER = 8;
const VXLAN_FLAG_VNI = 0x08;

const GENEVE_HEADER = 8;

const TZSP_HEADER = 4;
const TZSP_VERSION = 1;
const TZSP_TYPE_RECEIVED = 0;
const TZSP_TYPE_TRANSMITTED = 1;
const TZSP_ENCAP_ETHERNET = 1;
const TZSP_ENCAP_IEEE_802_11 = 18;
const TZSP_ENCAP_PRISM = 119;
const TZSP_ENCAP_WLAN_AVS = 127;
const TZSP_TAG_PADDING = 0;
const TZSP_TAG_END = 1;

function setInner(pkt: Packet, encap: Encap, kind: InnerKind, start: number, end: number, id: number): void {
  pkt.encap = encap;
  pkt.innerKind = kind;
  pkt.innerStart = start;
  pkt.innerEnd = end;
  pkt.encapId = id;
}

/** GRE at `off`, up to the end of the IP payload (pkt.l3End). */
export function decodeGre(pkt: Packet, off: number): void {
  const buf = pkt.buf;
  const end = pkt.l3End;
  if (end - off < 4) {
    pkt.markMalformed('gre', 'truncated GRE header');
    return;
  }
  const flags = u16be(buf, off);
  const proto = u16be(buf, off + 2);
  const version = flags & GRE_VERSION_MASK;
  if (version === GRE_VERSION_PPTP) return;
  if (version !== 0) {
    pkt.markMalformed('gre', 'GRE version other than 0 or 1');
    return;
  }
  // RFC 1701 source routing: RFC 2784 receivers discard it, and so does Linux.
  if ((flags & GRE_FLAG_ROUTING) !== 0) {
    pkt.markMalformed('gre', 'GRE routing bit set (RFC 1701 source routes are not decoded)');
    return;
  }
  let p = off + 4;
  if ((flags & GRE_FLAG_CHECKSUM) !== 0) p += 4;
  let key = -1;
  if ((flags & GRE_FLAG_KEY) !== 0) {
    if (end - p >= 4) key = u32be(buf, p);
    p += 4;
  }
  const sequenced = (flags & GRE_FLAG_SEQUENCE) !== 0;
  if (sequenced) p += 4;
  if (p > end) {
    pkt.markMalformed('gre', 'GRE header shorter than its flags announce');
    return;
  }
  switch (proto) {
    case GRE_PROTO_TEB:
      setInner(pkt, Encap.Gre, InnerKind.Ethernet, p, end, key);
      return;
    case ETHERTYPE_IPV4:
    case ETHERTYPE_IPV6:
      setInner(pkt, Encap.Gre, InnerKind.Ip, p, end, key);
      return;
    case ETHERTYPE_ARP:
      setInner(pkt, Encap.Gre, InnerKind.Arp, p, end, key);
      return;
    case GRE_PROTO_MPLS:
      setInner(pkt, Encap.Gre, InnerKind.Mpls, p, end, key);
      return;
    case GRE_PROTO_ERSPAN:
      // Type I has no header of its own and no sequence number; type II has both.
      if (sequenced) decodeErspanII(pkt, p, end);
      else setInner(pkt, Encap.ErspanI, InnerKind.Ethernet, p, end, -1);
      return;
    case GRE_PROTO_ERSPAN_III:
      decodeErspanIII(pkt, p, end);
      return;
    default:
      // Keepalives (type 0), WCCP...: valid GRE whose payload is not decoded.
      return;
  }
}

/** IP in IP (ipip, sit, ip6tnl devices): the inner packet is the rest of the outer one. */
export function decodeIpInIp(pkt: Packet, off: number): void {
  setInner(pkt, Encap.IpInIp, InnerKind.Ip, off, pkt.l3End, -1);
}

function decodeErspanII(pkt: Packet, off: number, end: number): void {
  const buf = pkt.buf;
  if (end - off < ERSPAN_II_HEADER) {
    pkt.markMalformed('erspan', 'truncated ERSPAN type II header');
    return;
  }
  if (buf[off]! >> 4 !== ERSPAN_II_VERSION) {
    pkt.markMalformed('erspan', 'ERSPAN type II header with a version other than 1');
    return;
  }
  const session = u16be(buf, off + 2) & ERSPAN_SESSION_MASK;
  setInner(pkt, Encap.ErspanII, InnerKind.Ethernet, off + ERSPAN_II_HEADER, end, session);
}

function decodeErspanIII(pkt: Packet, off: number, end: number): void {
  const buf = pkt.buf;
  if (end - off < ERSPAN_III_HEADER) {
    pkt.markMalformed('erspan', 'truncated ERSPAN type III header');
    return;
  }
  if (buf[off]! >> 4 !== ERSPAN_III_VERSION) {
    pkt.markMalformed('erspan', 'ERSPAN type III header with a version other than 2');
    return;
  }
  const session = u16be(buf, off + 2) & ERSPAN_SESSION_MASK;
  let start = off + ERSPAN_III_HEADER;
  // The O bit (last bit of the header) announces an 8-byte platform-specific subheader.
  if ((buf[off + ERSPAN_III_HEADER - 1]! & 0x01) !== 0) {
    start += ERSPAN_III_PLATFORM_SUBHEADER;
    if (start > end) {
      pkt.markMalformed('erspan', 'truncated ERSPAN type III platform subheader');
      return;
    }
  }
  setInner(pkt, Encap.ErspanIII, InnerKind.Ethernet, start, end, session);
}

/** Called for every UDP datagram with a readable header; decodes the tunnels recognised by destination port. */
export function decodeUdpTunnel(pkt: Packet): void {
  switch (pkt.dstPort) {
    case UDP_PORT_VXLAN:
    case UDP_PORT_VXLAN_LINUX:
      decodeVxlan(pkt, pkt.payloadStart, pkt.payloadEnd);
      return;
    case UDP_PORT_GENEVE:
      decodeGeneve(pkt, pkt.payloadStart, pkt.payloadEnd);
      return;
    case UDP_PORT_TZSP:
      decodeTzsp(pkt, pkt.payloadStart, pkt.payloadEnd);
      return;
    default:
      return;
  }
}

function decodeVxlan(pkt: Packet, off: number, end: number): void {
  const buf = pkt.buf;
  if (end - off < VXLAN_HEADER) {
    pkt.markMalformed('vxlan', 'truncated VXLAN header');
    return;
  }
  if ((buf[off]! & VXLAN_FLAG_VNI) === 0) {
    pkt.markMalformed('vxlan', 'VXLAN header without the I flag');
    return;
  }
  const vni = u32be(buf, off + 4) >>> 8;
  setInner(pkt, Encap.Vxlan, InnerKind.Ethernet, off + VXLAN_HEADER, end, vni);
}

function decodeGeneve(pkt: Packet, off: number, end: number): void {
  const buf = pkt.buf;
  if (end - off < GENEVE_HEADER) {
    pkt.markMalformed('geneve', 'truncated GENEVE header');
    return;
  }
  if (buf[off]! >> 6 !== 0) {
    pkt.markMalformed('geneve', 'GENEVE version other than 0');
    return;
  }
  const optionsLen = (buf[off]! & 0x3f) * 4;
  if (end - off < GENEVE_HEADER + optionsLen) {
    pkt.markMalformed('geneve', 'GENEVE options run past the end of the datagram');
    return;
  }
  const proto = u16be(buf, off + 2);
  const vni = u32be(buf, off + 4) >>> 8;
  const start = off + GENEVE_HEADER + optionsLen;
  if (proto === GRE_PROTO_TEB) setInner(pkt, Encap.Geneve, InnerKind.Ethernet, start, end, vni);
  else if (proto === ETHERTYPE_IPV4 || proto === ETHERTYPE_IPV6) setInner(pkt, Encap.Geneve, InnerKind.Ip, start, end, vni);
}

function decodeTzsp(pkt: Packet, off: number, end: number): void {
  const buf = pkt.buf;
  if (end - off < TZSP_HEADER) {
    pkt.markMalformed('tzsp', 'truncated TZSP header');
    return;
  }
  if (buf[off]! !== TZSP_VERSION) {
    pkt.markMalformed('tzsp', 'TZSP version other than 1');
    return;
  }
  const type = buf[off + 1]!;
  // Configuration, keepalive and port-opener messages carry no frame.
  if (type !== TZSP_TYPE_RECEIVED && type !== TZSP_TYPE_TRANSMITTED) return;
  const encapsulation = u16be(buf, off + 2);
  // Tagged fields up to END; each step consumes at least one byte, so the walk ends at `end`.
  let p = off + TZSP_HEADER;
  let terminated = false;
  while (p < end) {
    const tag = buf[p]!;
    if (tag === TZSP_TAG_END) {
      p++;
      terminated = true;
      break;
    }
    if (tag === TZSP_TAG_PADDING) {
      p++;
      continue;
    }
    if (end - p < 2 || end - p < 2 + buf[p + 1]!) {
      pkt.markMalformed('tzsp', 'TZSP tagged field runs past the end of the datagram');
      return;
    }
    p += 2 + buf[p + 1]!;
  }
  if (!terminated) {
    pkt.markMalformed('tzsp', 'TZSP tagged fields without an END tag');
    return;
  }
  // Wireless sensors (MikroTik's sniffer, for one) stream 802.11 frames; other link types TZSP can carry are not decoded.
  if (encapsulation === TZSP_ENCAP_ETHERNET) setInner(pkt, Encap.Tzsp, InnerKind.Ethernet, p, end, -1);
  else if (encapsulation === TZSP_ENCAP_IEEE_802_11) setInner(pkt, Encap.Tzsp, InnerKind.Ieee80211, p, end, -1);
  else if (encapsulation === TZSP_ENCAP_PRISM || encapsulation === TZSP_ENCAP_WLAN_AVS) setInner(pkt, Encap.Tzsp, InnerKind.Prism, p, end, -1);
}
