import { readMac, u16be } from './bytes.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, type NetworkDecoder, type Packet } from './packet.js';

// Carrier, WAN and switch framings between the link and the network layer:
// MPLS label stacks (RFC 3032), Ethernet pseudowires over MPLS (RFC 4448),
// PPPoE sessions (RFC 2516), PPP (RFC 1661/1662), Cisco HDLC, Frame Relay
// (RFC 2427 and Cisco's encapsulation), MACsec frames
// protected for integrity only (IEEE 802.1AE), service function chaining
// headers (NSH, RFC 8300), and the headers switches and tap aggregators put
// before a frame's EtherType in SPAN and trunk captures (Arista timestamps,
// Cisco MetaData with TrustSec SGTs, VN-Tag, 802.1BR E-Tag, 802.1ah PBB).
// Each walks its header and hands what it carries to the decoder's network
// step, so an IP packet behind a label stack or a PPP header is analysed like
// any other. Control traffic (LCP, IPCP, CHAP, SLARP, LDP...) carries nothing
// the analyzers read and is left undecoded, and so do encrypted MACsec frames.

export const ETHERTYPE_MPLS = 0x8847;
export const ETHERTYPE_MPLS_MULTICAST = 0x8848;
export const ETHERTYPE_PPPOE_SESSION = 0x8864;
export const ETHERTYPE_MACSEC = 0x88e5;
export const ETHERTYPE_NSH = 0x894f;
export const ETHERTYPE_ARISTA = 0xd28b;
export const ETHERTYPE_CISCO_METADATA = 0x8909;
export const ETHERTYPE_VNTAG = 0x8926;
export const ETHERTYPE_ETAG = 0x893f;
export const ETHERTYPE_PBB = 0x88e7;

/** Every EtherType whose frame the decoder walks through to what it carries (the live capture filter keeps them whole). */
export const CARRIER_ETHERTYPES: readonly number[] = [
  ETHERTYPE_MPLS,
  ETHERTYPE_MPLS_MULTICAST,
  ETHERTYPE_PPPOE_SESSION,
  ETHERTYPE_MACSEC,
  ETHERTYPE_NSH,
  ETHERTYPE_ARISTA,
  ETHERTYPE_CISCO_METADATA,
  ETHERTYPE_VNTAG,
  ETHERTYPE_ETAG,
  ETHERTYPE_PBB,
];

const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;
const PPP_MPLS = 0x0281;
const PPP_MPLS_MULTICAST = 0x0283;
const PPP_HDLC_ADDRESS = 0xff;
const PPP_HDLC_CONTROL = 0x03;

const PPPOE_HEADER = 6;
const PPPOE_VERSION_TYPE = 0x11;
const PPPOE_CODE_SESSION = 0x00;

const CISCO_HDLC_HEADER = 4;
const CISCO_HDLC_UNICAST = 0x0f;
const CISCO_HDLC_BROADCAST = 0x8f;

const MPLS_LABEL = 4;
const MPLS_BOTTOM_OF_STACK = 0x01;
/** RFC 4385 pseudowire control word: four bytes whose first nibble is 0. */
const PW_CONTROL_WORD = 4;
const ETHERNET_HEADER = 14;
const Q922_EA = 0x01;
const FR_UI = 0x03;
const NLPID_IPV4 = 0xcc;
const NLPID_IPV6 = 0x8e;
const NLPID_SNAP = 0x80;
const NLPID_PPP = 0xcf;
const SNAP_HEADER = 5;

const MACSEC_SECTAG = 6;
const MACSEC_SCI = 8;
const MACSEC_ICV = 16;
const MACSEC_TCI_SC = 0x20;
const MACSEC_TCI_E = 0x08;
const MACSEC_TCI_C = 0x04;
const MACSEC_SHORT_LENGTH_MASK = 0x3f;

const NSH_MIN_HEADER = 8;
const NSH_NEXT_IPV4 = 1;
const NSH_NEXT_IPV6 = 2;
const NSH_NEXT_ETHERNET = 3;
const NSH_NEXT_NSH = 4;
const NSH_NEXT_MPLS = 5;

const CISCO_METADATA_HEADER = 6;
const VNTAG_HEADER = 4;
const ETAG_HEADER = 6;
/** The I-TAG, then the customer's destination and source MACs. */
const PBB_HEADER = 16;
const PBB_ITAG = 4;

const ARISTA_SUBTYPE_TIMESTAMP = 0x0001;
const ARISTA_TIMESTAMP_64_TAI = 0x0010;
const ARISTA_TIMESTAMP_64_UTC = 0x0110;
const ARISTA_TIMESTAMP_48_TAI = 0x0020;
const ARISTA_TIMESTAMP_48_UTC = 0x0120;

/** MPLS stacks, PPPoE sessions, MACsec and NSH headers one frame may nest (a pseudowire carrying a PPPoE session carrying MPLS...). */
const MAX_CARRIERS = 4;
const NESTED_TOO_DEEP = 'MPLS, PPPoE, MACsec and NSH headers nested more than 4 deep';

/** Counts a carrier header; false (and the frame marked) beyond MAX_CARRIERS, which keeps hostile nesting off the stack. */
function enterCarrier(pkt: Packet, layer: string): boolean {
  if (++pkt.carriers <= MAX_CARRIERS) return true;
  pkt.markMalformed(layer, NESTED_TOO_DEEP);
  return false;
}

/** The EtherType of what a PPP protocol number carries; 0 for what is not analysed. */
function pppEtherType(proto: number): number {
  switch (proto) {
    case PPP_IPV4:
      return ETHERTYPE_IPV4;
    case PPP_IPV6:
      return ETHERTYPE_IPV6;
    case PPP_MPLS:
      return ETHERTYPE_MPLS;
    case PPP_MPLS_MULTICAST:
      return ETHERTYPE_MPLS_MULTICAST;
    default:
      return 0;
  }
}

/** A PPP frame at `off`: the HDLC-like address and control bytes when present, then a one- or two-byte protocol. */
export function decodePpp(pkt: Packet, off: number, network: NetworkDecoder): void {
  const buf = pkt.buf;
  if (pkt.end - off >= 2 && buf[off] === PPP_HDLC_ADDRESS && buf[off + 1] === PPP_HDLC_CONTROL) off += 2;
  if (off >= pkt.end) {
    pkt.markMalformed('ppp', 'truncated PPP header');
    return;
  }
  let proto: number;
  // Protocol-field compression (RFC 1661 6.5): a protocol below 0x100 may be sent as its one odd byte.
  if ((buf[off]! & 1) === 1) {
    proto = buf[off]!;
    off += 1;
  } else {
    if (pkt.end - off < 2) {
      pkt.markMalformed('ppp', 'truncated PPP protocol field');
      return;
    }
    proto = u16be(buf, off);
    off += 2;
  }
  const type = pppEtherType(proto);
  if (type !== 0) network(pkt, type, off);
}

/** LINKTYPE_PPP_HDLC: PPP in HDLC-like framing, or Cisco PPP with HDLC framing (address 0x0f or 0x8f). */
export function decodePppHdlc(pkt: Packet, off: number, network: NetworkDecoder): void {
  const first = off < pkt.end ? pkt.buf[off]! : -1;
  if (first === CISCO_HDLC_UNICAST || first === CISCO_HDLC_BROADCAST) decodeCiscoHdlc(pkt, off, network);
  else decodePpp(pkt, off, network);
}

/** Cisco HDLC: address, control, then an EtherType. */
export function decodeCiscoHdlc(pkt: Packet, off: number, network: NetworkDecoder): void {
  if (pkt.end - off < CISCO_HDLC_HEADER) {
    pkt.markMalformed('chdlc', 'frame shorter than a Cisco HDLC header');
    return;
  }
  network(pkt, u16be(pkt.buf, off + 2), off + CISCO_HDLC_HEADER);
}

/**
 * Frame Relay: a Q.922 address of two to four bytes, then either Cisco's
 * encapsulation (an EtherType) or RFC 2427's (UI control, an optional pad
 * byte, an NLPID naming IPv4, IPv6, SNAP or PPP).
 */
export function decodeFrameRelay(pkt: Packet, off: number, network: NetworkDecoder): void {
  const buf = pkt.buf;
  const end = pkt.end;
  if (end - off < 2 || (buf[off]! & Q922_EA) !== 0) {
    pkt.markMalformed('frame-relay', 'invalid Q.922 address');
    return;
  }
  let dlci = buf[off]! >> 2;
  let len = 1;
  // Each address byte but the last has EA clear; four at most.
  while ((buf[off + len]! & Q922_EA) === 0) {
    dlci = (dlci << 7) | (buf[off + len]! >> 1);
    if (++len > 3 || end - off <= len) {
      pkt.markMalformed('frame-relay', 'invalid Q.922 address');
      return;
    }
  }
  dlci = (dlci << 4) | (buf[off + len]! >> 4);
  len++;
  let p = off + len;
  if (end - p < 2) {
    pkt.markMalformed('frame-relay', 'truncated Frame Relay header');
    return;
  }
  if (buf[p] !== FR_UI && dlci !== 0) {
    network(pkt, u16be(buf, p), p + 2);
    return;
  }
  p += buf[p + 1] === 0 ? 2 : 1;
  if (p >= end) {
    pkt.markMalformed('frame-relay', 'truncated Frame Relay header');
    return;
  }
  const nlpid = buf[p++]!;
  if (nlpid === NLPID_IPV4) network(pkt, ETHERTYPE_IPV4, p);
  else if (nlpid === NLPID_IPV6) network(pkt, ETHERTYPE_IPV6, p);
  else if (nlpid === NLPID_PPP) decodePpp(pkt, p, network);
  else if (nlpid === NLPID_SNAP && end - p >= SNAP_HEADER) network(pkt, u16be(buf, p + 3), p + SNAP_HEADER);
}

/** A PPPoE session header at `off` (after the Ethernet header, or first in LINKTYPE_PPP_ETHER), then PPP. */
export function decodePppoeSession(pkt: Packet, off: number, network: NetworkDecoder): void {
  const buf = pkt.buf;
  if (!enterCarrier(pkt, 'pppoe')) return;
  if (pkt.end - off < PPPOE_HEADER) {
    pkt.markMalformed('pppoe', 'truncated PPPoE header');
    return;
  }
  if (buf[off] !== PPPOE_VERSION_TYPE || buf[off + 1] !== PPPOE_CODE_SESSION) {
    pkt.markMalformed('pppoe', 'PPPoE session header with a version, type or code other than 1, 1 and 0');
    return;
  }
  decodePpp(pkt, off + PPPOE_HEADER, network);
}

/**
 * An MPLS label stack at `off`, then what its bottom label carries, told by
 * the first nibble as routers and Wireshark tell it: 4 an IPv4 packet, 6 an
 * IPv6 packet, 0 a pseudowire control word before a customer's Ethernet
 * frame. Other payloads (a pseudowire without control word) are not decoded.
 */
export function decodeMpls(pkt: Packet, off: number, network: NetworkDecoder, ethernet: (pkt: Packet, off: number) => void): void {
  const buf = pkt.buf;
  if (!enterCarrier(pkt, 'mpls')) return;
  // Each label consumes four bytes, so the walk ends with the frame whatever the stack says.
  for (;;) {
    if (pkt.end - off < MPLS_LABEL) {
      pkt.markMalformed('mpls', 'truncated MPLS label stack');
      return;
    }
    const bottom = (buf[off + 2]! & MPLS_BOTTOM_OF_STACK) !== 0;
    off += MPLS_LABEL;
    if (bottom) break;
  }
  if (off >= pkt.end) return;
  const nibble = buf[off]! >> 4;
  if (nibble === 4) network(pkt, ETHERTYPE_IPV4, off);
  else if (nibble === 6) network(pkt, ETHERTYPE_IPV6, off);
  else if (nibble === 0 && pkt.end - off >= PW_CONTROL_WORD + ETHERNET_HEADER) ethernet(pkt, off + PW_CONTROL_WORD);
}

/**
 * A MACsec frame at `off` (after the MAC addresses and EtherType): the SecTAG,
 * then, when the frame is protected for integrity only, the original
 * EtherType and payload, then the 16-byte ICV. Encrypted frames (E and C
 * bits) cannot be read without the key and are left undecoded.
 */
export function decodeMacsec(pkt: Packet, off: number, network: NetworkDecoder): void {
  const buf = pkt.buf;
  if (!enterCarrier(pkt, 'macsec')) return;
  if (pkt.end - off < MACSEC_SECTAG) {
    pkt.markMalformed('macsec', 'truncated MACsec SecTAG');
    return;
  }
  const tci = buf[off]!;
  const shortLength = buf[off + 1]! & MACSEC_SHORT_LENGTH_MASK;
  let p = off + MACSEC_SECTAG + ((tci & MACSEC_TCI_SC) !== 0 ? MACSEC_SCI : 0);
  if ((tci & (MACSEC_TCI_E | MACSEC_TCI_C)) !== 0) return;
  // The secure data runs to the ICV, or for short frames as far as the short length says.
  const end = shortLength !== 0 ? p + shortLength : pkt.end - MACSEC_ICV;
  if (end - p < 2 || end > pkt.end) {
    pkt.markMalformed('macsec', 'MACsec frame shorter than its SecTAG, EtherType and ICV');
    return;
  }
  pkt.end = end;
  const type = u16be(buf, p);
  p += 2;
  network(pkt, type, p);
}

/** A network service header (RFC 8300) at `off`: its length, then the IP packet, Ethernet frame, MPLS stack or NSH it carries. */
export function decodeNsh(pkt: Packet, off: number, network: NetworkDecoder, ethernet: (pkt: Packet, off: number) => void): void {
  const buf = pkt.buf;
  if (!enterCarrier(pkt, 'nsh')) return;
  if (pkt.end - off < NSH_MIN_HEADER) {
    pkt.markMalformed('nsh', 'truncated NSH header');
    return;
  }
  const len = (u16be(buf, off) & 0x3f) * 4;
  if (len < NSH_MIN_HEADER || len > pkt.end - off) {
    pkt.markMalformed('nsh', 'NSH length out of bounds');
    return;
  }
  const at = off + len;
  switch (buf[off + 3]) {
    case NSH_NEXT_IPV4:
      network(pkt, ETHERTYPE_IPV4, at);
      return;
    case NSH_NEXT_IPV6:
      network(pkt, ETHERTYPE_IPV6, at);
      return;
    case NSH_NEXT_ETHERNET:
      ethernet(pkt, at);
      return;
    case NSH_NEXT_NSH:
      decodeNsh(pkt, at, network, ethernet);
      return;
    case NSH_NEXT_MPLS:
      network(pkt, ETHERTYPE_MPLS, at);
      return;
  }
}

/**
 * Bytes of the switch or tap header of EtherType `type` at `off`, which the
 * frame's own EtherType follows; -1 when `type` names no such header, 0 when
 * it is a variant not read here. A PBB header's customer addresses become the
 * frame's link-layer addresses.
 */
export function shimLength(pkt: Packet, type: number, off: number): number {
  switch (type) {
    case ETHERTYPE_ARISTA:
      return aristaHeaderLength(pkt, off);
    case ETHERTYPE_CISCO_METADATA:
      return CISCO_METADATA_HEADER;
    case ETHERTYPE_VNTAG:
      return VNTAG_HEADER;
    case ETHERTYPE_ETAG:
      return ETAG_HEADER;
    case ETHERTYPE_PBB:
      if (pkt.end - off >= PBB_HEADER) {
        pkt.ethDst = readMac(pkt.buf, off + PBB_ITAG);
        pkt.ethSrc = readMac(pkt.buf, off + PBB_ITAG + 6);
      }
      return PBB_HEADER;
    default:
      return -1;
  }
}

/** Bytes of an Arista tap-aggregation timestamp header at `off` (subtype, version, a 64- or 48-bit timestamp), or 0 when it is not one. */
function aristaHeaderLength(pkt: Packet, off: number): number {
  if (pkt.end - off < 4 || u16be(pkt.buf, off) !== ARISTA_SUBTYPE_TIMESTAMP) return 0;
  switch (u16be(pkt.buf, off + 2)) {
    case ARISTA_TIMESTAMP_64_TAI:
    case ARISTA_TIMESTAMP_64_UTC:
      return 12;
    case ARISTA_TIMESTAMP_48_TAI:
    case ARISTA_TIMESTAMP_48_UTC:
      return 10;
    default:
      return 0;
  }
}
