import { readMac, u16be, u32be } from './bytes.js';
import { ETHERTYPE_IPV4, Packet } from './packet.js';

// ARP (RFC 826) for Ethernet/IPv4, into a reused ArpMessage.

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

const ARP_FIXED_LEN = 8;
const HTYPE_ETHERNET = 1;
const HTYPE_IEEE802 = 6;
/** More than this after the ARP message is not Ethernet padding or a trailer. */
const MAX_ARP_TRAILER = 1500;

export class ArpMessage {
  op = 0;
  senderMac = 0;
  senderIp = 0;
  targetMac = 0;
  targetIp = 0;
}

export const enum ArpDecode {
  Ok,
  /** Valid ARP for another hardware or protocol type: not analysed, not an error. */
  Other,
  Malformed,
}

export function decodeArp(pkt: Packet, out: ArpMessage): ArpDecode {
  const buf = pkt.buf;
  const off = pkt.l3Start;
  const avail = pkt.end - off;
  if (avail < ARP_FIXED_LEN) {
    pkt.markMalformed('arp', 'truncated ARP header');
    return ArpDecode.Malformed;
  }
  const htype = u16be(buf, off);
  const ptype = u16be(buf, off + 2);
  const hlen = buf[off + 4]!;
  const plen = buf[off + 5]!;
  const op = u16be(buf, off + 6);
  const ethernetLike = htype === HTYPE_ETHERNET || htype === HTYPE_IEEE802;
  if ((ethernetLike && hlen !== 6) || (ptype === ETHERTYPE_IPV4 && plen !== 4)) {
    pkt.markMalformed('arp', 'ARP address lengths do not match the hardware/protocol type');
    return ArpDecode.Malformed;
  }
  if (avail < ARP_FIXED_LEN + 2 * (hlen + plen)) {
    pkt.markMalformed('arp', 'ARP addresses run past the end of the frame');
    return ArpDecode.Malformed;
  }
  if (avail - (ARP_FIXED_LEN + 2 * (hlen + plen)) > MAX_ARP_TRAILER) {
    pkt.markMalformed('arp', 'ARP message followed by more data than any Ethernet frame holds');
    return ArpDecode.Malformed;
  }
  // On an Ethernet link the hardware type must be Ethernet's.
  if (!ethernetLike && pkt.ethSrc !== -1) {
    pkt.markMalformed('arp', 'ARP hardware type is not Ethernet on an Ethernet link');
    return ArpDecode.Malformed;
  }
  if (!ethernetLike || ptype !== ETHERTYPE_IPV4) return ArpDecode.Other;
  if (op !== 1 && op !== 2) return ArpDecode.Other;
  out.op = op;
  out.senderMac = readMac(buf, off + 8);
  out.senderIp = u32be(buf, off + 14);
  out.targetMac = readMac(buf, off + 18);
  out.targetIp = u32be(buf, off + 24);
  return ArpDecode.Ok;
}
