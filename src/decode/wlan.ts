import { readMac, u16be, u16le, u32be, u32le } from './bytes.js';
import { Encap, InnerKind, LinkSkip, type NetworkDecoder, type Packet } from './packet.js';

// IEEE 802.11 (Wi-Fi) frames as monitor-mode captures hold them: bare
// (LINKTYPE_IEEE802_11), behind a radiotap, PPI, Prism or AVS header, or
// carried by TZSP. A data frame becomes the packet's link layer: source and
// destination station from the To/From DS bits, then its LLC/SNAP payload is
// decoded like an Ethernet payload, so every analyzer sees Wi-Fi traffic.
// Management and control frames carry nothing the analyzers read. Protected
// (WEP/WPA) and fragmented bodies cannot be read and are marked for a coverage
// notice; frames the radio received with a bad FCS are corrupted, and marked
// malformed rather than analysed. A-MSDU aggregates are left to the engine,
// which decodes each subframe (decodeAmsduSubframe).

const RADIOTAP_PRESENT_EXT = 0x80000000;
const RADIOTAP_TSFT = 0x1;
const RADIOTAP_FLAGS = 0x2;
const RADIOTAP_FLAG_FCS_AT_END = 0x10;
const RADIOTAP_FLAG_BAD_FCS = 0x40;

const PPI_FIELD_80211_COMMON = 2;
const PPI_COMMON_FCS_PRESENT = 0x1;
const PPI_COMMON_FCS_INVALID = 0x4;
const DLT_IEEE802_11 = 105;
const DLT_EN10MB = 1;

const AVS_MAGIC_MASK = 0xfffffff0;
const AVS_MAGIC = 0x80211000;

const FC_TYPE_MANAGEMENT = 0;
const FC_TYPE_DATA = 2;
const MANAGEMENT_HEADER = 24;
const FC_SUBTYPE_QOS = 0x8;
const FC_SUBTYPE_NO_DATA = 0x4;
const FC_TO_DS = 0x01;
const FC_FROM_DS = 0x02;
const FC_MORE_FRAGMENTS = 0x04;
const FC_PROTECTED = 0x40;
const FC_ORDER = 0x80;
const QOS_AMSDU = 0x0080;
const QOS_MESH_CONTROL = 0x0100;
const DATA_HEADER = 24;
const LLC_SNAP = 8;
/** A-MSDU subframe header: destination, source, length. */
export const AMSDU_SUBFRAME_HEADER = 14;

const BAD_FCS = 'frame failed its FCS check (corrupted on the air)';

const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

/** The IEEE 802.3 CRC-32 that 802.11 uses for its FCS. */
function crc32(buf: Buffer, start: number, end: number): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}


/** A radiotap header (LINKTYPE_IEEE802_11_RADIOTAP), then the 802.11 frame. */
export function decodeRadiotap(pkt: Packet, off: number, network: NetworkDecoder): void {
  const buf = pkt.buf;
  if (pkt.end - off < 8) {
    pkt.markMalformed('radiotap', 'frame shorter than a radiotap header');
    return;
  }
  const len = u16le(buf, off + 2);
  if (buf[off] !== 0 || len < 8 || len > pkt.end - off) {
    pkt.markMalformed('radiotap', 'radiotap header of an unknown version or longer than the frame');
    return;
  }
  // Fields follow the last presence word; only the first word's TSFT and Flags are needed.
  const present = u32le(buf, off + 4);
  let p = off + 4;
  while ((u32le(buf, p) & RADIOTAP_PRESENT_EXT) !== 0) {
    p += 4;
    if (p + 4 > off + len) {
      pkt.markMalformed('radiotap', 'radiotap presence bitmap runs past its header');
      return;
    }
  }
  let field = p + 4 - off;
  let flags = 0;
  if ((present & RADIOTAP_TSFT) !== 0) field = ((field + 7) & ~7) + 8;
  if ((present & RADIOTAP_FLAGS) !== 0 && field < len) flags = buf[off + field]!;
  if ((flags & RADIOTAP_FLAG_BAD_FCS) !== 0) {
    pkt.markMalformed('802.11', BAD_FCS);
    return;
  }
  decode80211(pkt, off + len, (flags & RADIOTAP_FLAG_FCS_AT_END) !== 0 && !pkt.snapped, network);
}

/** A PPI header (LINKTYPE_PPI) in front of an 802.11 or Ethernet frame. */
export function decodePpi(pkt: Packet, off: number, network: NetworkDecoder, ethernet: (pkt: Packet, off: number) => void): void {
  const buf = pkt.buf;
  if (pkt.end - off < 8) {
    pkt.markMalformed('ppi', 'frame shorter than a PPI header');
    return;
  }
  const len = u16le(buf, off + 2);
  const dlt = u32le(buf, off + 4);
  if (buf[off] !== 0 || len < 8 || len > pkt.end - off) {
    pkt.markMalformed('ppi', 'PPI header of an unknown version or longer than the frame');
    return;
  }
  let fcs = false;
  // Each field header is 4 bytes, so the walk ends within the header.
  for (let p = off + 8; p + 4 <= off + len; ) {
    const type = u16le(buf, p);
    const dataLen = u16le(buf, p + 2);
    if (p + 4 + dataLen > off + len) {
      pkt.markMalformed('ppi', 'PPI field runs past its header');
      return;
    }
    if (type === PPI_FIELD_80211_COMMON && dataLen >= 10) {
      const flags = u16le(buf, p + 4 + 8);
      if ((flags & PPI_COMMON_FCS_INVALID) !== 0) {
        pkt.markMalformed('802.11', BAD_FCS);
        return;
      }
      fcs = (flags & PPI_COMMON_FCS_PRESENT) !== 0;
    }
    p += 4 + dataLen;
  }
  if (dlt === DLT_IEEE802_11) decode80211(pkt, off + len, fcs && !pkt.snapped, network);
  else if (dlt === DLT_EN10MB) ethernet(pkt, off + len);
}

/**
 * LINKTYPE_IEEE802_11_PRISM frames: a Prism monitor header (its length in
 * the host order of the capturing machine), or an AVS header, which some
 * drivers write under the same link type.
 */
export function decodePrism(pkt: Packet, off: number, network: NetworkDecoder): void {
  const buf = pkt.buf;
  if (pkt.end - off < 8) {
    pkt.markMalformed('prism', 'frame shorter than a Prism header');
    return;
  }
  if ((u32be(buf, off) & AVS_MAGIC_MASK) >>> 0 === AVS_MAGIC) {
    decodeAvs(pkt, off, network);
    return;
  }
  let len = u32le(buf, off + 4);
  if (len < 8 || len > pkt.end - off) len = u32be(buf, off + 4);
  if (len < 8 || len > pkt.end - off) {
    pkt.markMalformed('prism', 'Prism header longer than the frame');
    return;
  }
  decode80211(pkt, off + len, false, network);
}

/** An AVS (wlan-ng) header, big-endian, then the 802.11 frame. */
export function decodeAvs(pkt: Packet, off: number, network: NetworkDecoder): void {
  const buf = pkt.buf;
  if (pkt.end - off < 8) {
    pkt.markMalformed('avs', 'frame shorter than an AVS header');
    return;
  }
  const len = u32be(buf, off + 4);
  if (len < 8 || len > pkt.end - off) {
    pkt.markMalformed('avs', 'AVS header longer than the frame');
    return;
  }
  decode80211(pkt, off + len, false, network);
}

/**
 * An 802.11 MAC frame at `off` (LINKTYPE_IEEE802_11, or after a radio
 * header). `fcs`: the frame ends with a 4-byte FCS that is not payload (and
 * the capture holds it: a snapped frame lost it with its tail).
 */
export function decode80211(pkt: Packet, off: number, fcs: boolean, network: NetworkDecoder): void {
  const buf = pkt.buf;
  const end = fcs ? pkt.end - 4 : pkt.end;
  if (end - off < 2) {
    pkt.markMalformed('802.11', 'frame shorter than an 802.11 frame control field');
    return;
  }
  // Drivers do not always flag frames received damaged: with the FCS at hand, it is checked, so a
  // corrupted frame never reaches the analyzers (a flipped bit in an ARP reply or an SSID looks like an attack).
  if (fcs && crc32(buf, off, end) !== u32le(buf, end)) {
    pkt.markMalformed('802.11', BAD_FCS);
    return;
  }
  pkt.end = end;
  const fc0 = buf[off]!;
  const fc1 = buf[off + 1]!;
  // Protocol version 0 only; control and extension frames carry nothing the analyzers read.
  if ((fc0 & 0x3) !== 0) return;
  const type = (fc0 >> 2) & 0x3;
  const subtype = fc0 >> 4;
  if (type === FC_TYPE_MANAGEMENT) {
    decodeManagement(pkt, off, end, subtype, fc1);
    return;
  }
  if (type !== FC_TYPE_DATA) return;
  const fourAddress = (fc1 & (FC_TO_DS | FC_FROM_DS)) === (FC_TO_DS | FC_FROM_DS);
  const qos = (subtype & FC_SUBTYPE_QOS) !== 0;
  let hdr = DATA_HEADER + (fourAddress ? 6 : 0) + (qos ? 2 : 0);
  if (end - off < hdr) {
    pkt.markMalformed('802.11', 'truncated 802.11 data frame header');
    return;
  }
  const qosControl = qos ? u16le(buf, off + hdr - 2) : 0;
  // With QoS, the Order bit announces an HT/VHT control field.
  if (qos && (fc1 & FC_ORDER) !== 0) hdr += 4;
  // Destination and source stations: who the frame is really from and for, whatever the access point relays.
  const toDs = (fc1 & FC_TO_DS) !== 0;
  const fromDs = (fc1 & FC_FROM_DS) !== 0;
  pkt.ethDst = readMac(buf, off + (toDs ? 16 : 4));
  pkt.ethSrc = readMac(buf, off + (fourAddress ? 24 : fromDs ? 16 : 10));
  if ((subtype & FC_SUBTYPE_NO_DATA) !== 0) return;
  pkt.wlanHeader = off;
  pkt.wlanBody = off + hdr;
  if ((fc1 & FC_PROTECTED) !== 0) {
    pkt.linkSkip = LinkSkip.Protected;
    return;
  }
  if ((fc1 & FC_MORE_FRAGMENTS) !== 0 || (buf[off + 22]! & 0x0f) !== 0) {
    pkt.linkSkip = LinkSkip.Fragment;
    return;
  }
  let body = off + hdr;
  if (body > end) {
    pkt.markMalformed('802.11', 'truncated 802.11 data frame header');
    return;
  }
  if (fourAddress && (qosControl & QOS_MESH_CONTROL) !== 0 && end - body >= 6 && (buf[body]! & 0x3) !== 3) {
    // Outside a mesh the same QoS bit is part of a TXOP or queue-size value: the mesh control
    // field (flags, TTL, sequence number, 0-2 extra addresses) is taken only when LLC/SNAP follows it.
    const afterMesh = body + 6 + 6 * (buf[body]! & 0x3);
    if (isSnap(buf, afterMesh, end)) body = afterMesh;
  }
  if ((qosControl & QOS_AMSDU) !== 0) {
    pkt.encap = Encap.Amsdu;
    pkt.innerKind = InnerKind.AmsduSubframe;
    pkt.innerStart = body;
    pkt.innerEnd = end;
    return;
  }
  decodeLlc(pkt, body, network);
}

/**
 * The plaintext body of a decrypted 802.11 data frame (`outer`), held in
 * inner.buf[0, len): LLC/SNAP and its network layer, or the subframes of an
 * A-MSDU. The stations are the outer frame's.
 */
export function decodeDecryptedBody(outer: Packet, inner: Packet, len: number, network: NetworkDecoder): void {
  inner.start = 0;
  inner.end = len;
  inner.ethSrc = outer.ethSrc;
  inner.ethDst = outer.ethDst;
  const buf = outer.buf;
  const h = outer.wlanHeader;
  const qos = (buf[h]! & 0x80) !== 0;
  const qosControl = qos ? u16le(buf, h + ((buf[h + 1]! & 0x03) === 0x03 ? 30 : 24)) : 0;
  if ((qosControl & QOS_AMSDU) !== 0) {
    inner.encap = Encap.Amsdu;
    inner.innerKind = InnerKind.AmsduSubframe;
    inner.innerStart = 0;
    inner.innerEnd = len;
    return;
  }
  decodeLlc(inner, 0, network);
}

/**
 * A management frame (beacons, probes, deauthentication...): the Wi-Fi
 * analyzer reads its addresses and body. A protected one (802.11w) has an
 * encrypted body and is left alone.
 */
function decodeManagement(pkt: Packet, off: number, end: number, subtype: number, fc1: number): void {
  const hdr = MANAGEMENT_HEADER + ((fc1 & FC_ORDER) !== 0 ? 4 : 0);
  if (end - off < hdr) {
    pkt.markMalformed('802.11', 'truncated 802.11 management frame header');
    return;
  }
  if ((fc1 & FC_PROTECTED) !== 0) return;
  pkt.wlanManagement = subtype;
  pkt.wlanHeader = off;
  pkt.wlanBody = off + hdr;
}

/** LLC/SNAP (RFC 1042, or 802.1H bridge tunnel) carrying an EtherType; other LLC payloads are not analysed. */
function decodeLlc(pkt: Packet, off: number, network: NetworkDecoder): void {
  const buf = pkt.buf;
  if (pkt.end - off < LLC_SNAP) {
    // Other LLC payloads (STP, NetBIOS over LLC) may be this short; a SNAP header may not.
    if (pkt.end - off >= 3 && buf[off] === 0xaa && buf[off + 1] === 0xaa && buf[off + 2] === 0x03) pkt.markMalformed('llc', 'truncated LLC/SNAP header');
    return;
  }
  if (isSnap(buf, off, pkt.end)) network(pkt, u16be(buf, off + 6), off + LLC_SNAP);
}

function isSnap(buf: Buffer, off: number, end: number): boolean {
  if (end - off < LLC_SNAP) return false;
  if (buf[off] !== 0xaa || buf[off + 1] !== 0xaa || buf[off + 2] !== 0x03 || buf[off + 3] !== 0 || buf[off + 4] !== 0) return false;
  return buf[off + 5] === 0 || buf[off + 5] === 0xf8;
}

/**
 * One A-MSDU subframe at `off` (inside outer.innerStart..innerEnd) into
 * `inner`: its own destination and source, then its LLC/SNAP payload.
 * Returns where the next subframe starts (padded to 4 bytes), or -1 when
 * this one does not fit (the rest of the aggregate is not read).
 */
export function decodeAmsduSubframe(inner: Packet, off: number, limit: number, network: NetworkDecoder): number {
  const buf = inner.buf;
  if (limit - off < AMSDU_SUBFRAME_HEADER) {
    inner.markMalformed('802.11', 'truncated A-MSDU subframe header');
    return -1;
  }
  const len = u16be(buf, off + 12);
  const end = off + AMSDU_SUBFRAME_HEADER + len;
  if (end > limit) {
    inner.markMalformed('802.11', 'A-MSDU subframe runs past the frame');
    return -1;
  }
  inner.start = off;
  inner.end = end;
  inner.ethDst = readMac(buf, off);
  inner.ethSrc = readMac(buf, off + 6);
  decodeLlc(inner, off + AMSDU_SUBFRAME_HEADER, network);
  const next = off + ((AMSDU_SUBFRAME_HEADER + len + 3) & ~3);
  return next < limit ? next : -1;
}

// ---- management frame bodies (the Wi-Fi analyzer's input) ----

export const MGMT_PROBE_REQUEST = 4;
export const MGMT_PROBE_RESPONSE = 5;
export const MGMT_BEACON = 8;
export const MGMT_DISASSOCIATION = 10;
export const MGMT_DEAUTHENTICATION = 12;

/** How a BSS protects its traffic, weakest first. */
export const enum WlanSecurity {
  Open = 0,
  Wep = 1,
  /** WPA, WPA2 or WPA3 (an RSN or WPA element), OWE included. */
  Protected = 2,
}

const IE_SSID = 0;
const IE_DS_PARAMETERS = 3;
const IE_RSN = 48;
const IE_VENDOR = 221;
const CAPABILITY_PRIVACY = 0x0010;
/** Timestamp, beacon interval, capability information. */
const BSS_FIXED_FIELDS = 12;

/** What a beacon or probe response says of its network; offsets point into the packet's buffer. */
export class BssInfo {
  ssidStart = 0;
  ssidLen = 0;
  /** A hidden network: no SSID, or one of zero bytes. */
  hidden = true;
  channel = -1;
  security: WlanSecurity = WlanSecurity.Open;
  /** Authentication the network offers: 802.1X (enterprise), a shared key or SAE (personal), both possible. */
  enterprise = false;
  personal = false;
  /** An open network in OWE transition mode: its encrypted twin (Wi-Fi Enhanced Open) is announced in the beacon. */
  oweTransition = false;

  reset(): void {
    this.oweTransition = false;
    this.ssidStart = 0;
    this.ssidLen = 0;
    this.hidden = true;
    this.channel = -1;
    this.security = WlanSecurity.Open;
    this.enterprise = false;
    this.personal = false;
  }
}

/**
 * Reads the body of the beacon or probe response `pkt` holds into `out`.
 * Returns false when the body is cut short of its fixed fields; elements
 * that run past the frame end the walk (what came before is kept).
 */
export function decodeBssInfo(pkt: Packet, out: BssInfo): boolean {
  out.reset();
  const buf = pkt.buf;
  const end = pkt.end;
  let p = pkt.wlanBody;
  if (p < 0 || end - p < BSS_FIXED_FIELDS) return false;
  const privacy = (u16le(buf, p + 10) & CAPABILITY_PRIVACY) !== 0;
  let rsn = false;
  p += BSS_FIXED_FIELDS;
  while (end - p >= 2) {
    const id = buf[p]!;
    const len = buf[p + 1]!;
    const v = p + 2;
    if (v + len > end) break;
    if (id === IE_SSID && out.ssidLen === 0 && len <= 32) {
      out.ssidStart = v;
      out.ssidLen = len;
      for (let i = v; i < v + len; i++) if (buf[i] !== 0) out.hidden = false;
    } else if (id === IE_DS_PARAMETERS && len >= 1) {
      out.channel = buf[v]!;
    } else if (id === IE_RSN && len >= 2) {
      rsn = true;
      readAkms(buf, v + 2, v + len, 0x000fac, out);
    } else if (id === IE_VENDOR && len >= 6 && buf[v] === 0x00 && buf[v + 1] === 0x50 && buf[v + 2] === 0xf2 && buf[v + 3] === 0x01) {
      // WPA (version 1): Microsoft's OUI, type 1, then the RSN layout.
      rsn = true;
      readAkms(buf, v + 6, v + len, 0x0050f2, out);
    } else if (id === IE_VENDOR && len >= 4 && buf[v] === 0x50 && buf[v + 1] === 0x6f && buf[v + 2] === 0x9a && buf[v + 3] === 0x1c) {
      // Wi-Fi Alliance OWE Transition Mode element.
      out.oweTransition = true;
    }
    p = v + len;
  }
  out.security = rsn ? WlanSecurity.Protected : privacy ? WlanSecurity.Wep : WlanSecurity.Open;
  return true;
}

/** From the group cipher on: skips the cipher suites and reads the AKM suites of an RSN or WPA element. */
function readAkms(buf: Buffer, p: number, end: number, oui: number, out: BssInfo): void {
  p += 4; // group cipher
  if (end - p < 2) return;
  p += 2 + 4 * u16le(buf, p);
  if (end - p < 2) return;
  const akms = u16le(buf, p);
  p += 2;
  for (let i = 0; i < akms && end - p >= 4; i++, p += 4) {
    if (((buf[p]! << 16) | (buf[p + 1]! << 8) | buf[p + 2]!) !== oui) continue;
    const t = buf[p + 3]!;
    // 802.1X: 1, 3 (FT), 5 (SHA-256), 11-13 (Suite B); PSK and SAE: 2, 4, 6, 8, 9, 24, 25.
    if (t === 1 || t === 3 || t === 5 || t === 11 || t === 12 || t === 13) out.enterprise = true;
    else if (t === 2 || t === 4 || t === 6 || t === 8 || t === 9 || t === 24 || t === 25) out.personal = true;
  }
}
