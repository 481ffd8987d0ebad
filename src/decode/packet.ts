// The decoded view of one frame. A single Packet is reused for every frame
// (the decoder resets it), so hot paths allocate nothing; analyzers read the
// fields during their callback and copy what they keep.

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_QINQ_OLD = 0x9100;
export const ETHERTYPE_IPV6 = 0x86dd;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_GRE = 47;
export const IPPROTO_ICMPV6 = 58;

export const MAX_VLAN_TAGS = 4;

/** Encapsulations whose payload is another frame; the decoder sets Packet.encap. */
export const enum Encap {
  None = 0,
  Gre = 1,
  ErspanI = 2,
  ErspanII = 3,
  ErspanIII = 4,
  Vxlan = 5,
  Geneve = 6,
  Tzsp = 7,
  /** An 802.11 A-MSDU: several subframes in one data frame (not a tunnel; the engine reads each). */
  Amsdu = 8,
  /** A WPA2-protected 802.11 frame the engine decrypted with a configured network key. */
  Ccmp = 9,
  /** IPv4 or IPv6 directly in IPv4 or IPv6 (protocol 4 or 41). */
  IpInIp = 10,
}

export const ENCAP_NAMES: readonly string[] = ['none', 'GRE', 'ERSPAN type I', 'ERSPAN type II', 'ERSPAN type III', 'VXLAN', 'GENEVE', 'TZSP', '802.11 A-MSDU', 'WPA2-CCMP (decrypted)', 'IP-in-IP'];

/** What the encapsulated payload starts with. */
export const enum InnerKind {
  Ethernet = 1,
  Ip = 2,
  /** A bare ARP message (GRE protocol type 0x0806). */
  Arp = 3,
  /** An 802.11 frame (TZSP). */
  Ieee80211 = 4,
  /** An 802.11 frame behind a Prism or AVS header (TZSP). */
  Prism = 5,
  /** A subframe of an 802.11 A-MSDU. */
  AmsduSubframe = 6,
  /** An MPLS label stack (GRE protocol type 0x8847). */
  Mpls = 7,
}

/** Why a frame's link layer was read but not its payload (a coverage notice, not an error). */
export const enum LinkSkip {
  None = 0,
  /** An 802.11 data frame protected by WEP/WPA, without the key. */
  Protected = 1,
  /** A fragment of an 802.11 data frame (fragments are not reassembled). */
  Fragment = 2,
}

/** Decodes the network layer at `off` for an EtherType (the decoder's common step, handed to link-layer decoders). */
export type NetworkDecoder = (pkt: Packet, etherType: number, off: number) => void;

/** Tunnels inside tunnels are followed this deep, no deeper. */
export const MAX_ENCAP_DEPTH = 4;

export class Packet {
  buf: Buffer = Buffer.alloc(0);
  /**
   * The same bytes as buf. TurboFan compiles DataView reads to loads, never
   * to calls, so 32-bit fields of 2^30 and above (addresses, sequence
   * numbers) reach the packet without being boxed on the way.
   */
  view: DataView = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  /** Frame bounds inside buf. */
  start = 0;
  end = 0;
  frameNo = 0;
  /** Capture time in milliseconds since the epoch (fractional). */
  timeMs = 0;
  linktype = 0;
  interfaceId = 0;
  /** The capture kept less than the frame's length (a snap length): its tail, an FCS included, is missing. */
  snapped = false;

  /** Ethernet (or cooked-capture) addresses as 48-bit integers; -1 when the link has none. */
  ethSrc = -1;
  ethDst = -1;
  etherType = 0;
  vlanCount = 0;
  /** MPLS stacks, PPPoE sessions, MACsec and NSH headers walked so far (a pseudowire may hold another; hostile frames nest them). */
  carriers = 0;
  readonly vlans = new Int32Array(MAX_VLAN_TAGS);

  /** Offset of the network-layer header (ARP/IP) and where it ends. */
  l3Start = 0;
  l3End = 0;

  ipVersion: 0 | 4 | 6 = 0;
  /** IPv4 addresses as unsigned 32-bit integers. */
  ip4Src = 0;
  ip4Dst = 0;
  /** Offsets of the 16-byte IPv6 addresses in buf. */
  ip6SrcOff = 0;
  ip6DstOff = 0;
  ipProto = -1;
  ttl = 0;
  /** Set when the IP packet is a non-first fragment: no transport header to read. */
  ipFragment = false;

  l4Start = 0;
  srcPort = -1;
  dstPort = -1;
  tcpFlags = 0;
  tcpSeq = 0;
  tcpAck = 0;
  payloadStart = 0;
  payloadEnd = 0;

  /** Set when this packet carries another frame in buf[innerStart, innerEnd). */
  encap: Encap = Encap.None;
  innerKind: InnerKind = InnerKind.Ethernet;
  innerStart = 0;
  innerEnd = 0;
  /** VNI, ERSPAN session id, GRE key...; -1 when the encapsulation has none. */
  encapId = -1;
  /** 0 for the captured frame, n for a frame found inside n encapsulations. */
  depth = 0;
  /** The packet this one was carried in (depth > 0). */
  outer: Packet | null = null;

  /** Set when the link layer was read but its payload could not be (an encrypted Wi-Fi frame...). */
  linkSkip: LinkSkip = LinkSkip.None;
  /** 802.11 data and management frames: where the MAC header starts and where its body (after QoS and HT control) starts; -1 otherwise. */
  wlanHeader = -1;
  wlanBody = -1;
  /** The subtype of an unprotected 802.11 management frame (beacon 8, probe response 5, deauthentication 12...), -1 otherwise. */
  wlanManagement = -1;

  /** Why decoding stopped early (a constant string, so setting it allocates nothing). */
  malformed: string | null = null;
  /** Layer that was malformed: "ethernet", "arp", "ipv4", ... */
  malformedLayer: string | null = null;

  /** Points the packet at another buffer; the view follows only when the buffer changes (once per read chunk). */
  setBuffer(buf: Buffer): void {
    if (buf === this.buf) return;
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }

  reset(): void {
    this.ethSrc = -1;
    this.ethDst = -1;
    this.etherType = 0;
    this.vlanCount = 0;
    this.carriers = 0;
    this.l3Start = 0;
    this.l3End = 0;
    this.ipVersion = 0;
    this.ip4Src = 0;
    this.ip4Dst = 0;
    this.ipProto = -1;
    this.ttl = 0;
    this.ipFragment = false;
    this.l4Start = 0;
    this.srcPort = -1;
    this.dstPort = -1;
    this.tcpFlags = 0;
    this.payloadStart = 0;
    this.payloadEnd = 0;
    this.malformed = null;
    this.malformedLayer = null;
    this.linkSkip = LinkSkip.None;
    this.wlanHeader = -1;
    this.wlanBody = -1;
    this.wlanManagement = -1;
    this.encap = Encap.None;
    this.encapId = -1;
    this.innerStart = 0;
    this.innerEnd = 0;
  }

  /** Records why the packet could not be read; false, for decoders that return it. */
  markMalformed(layer: string, reason: string): false {
    this.malformedLayer = layer;
    this.malformed = reason;
    return false;
  }
}
