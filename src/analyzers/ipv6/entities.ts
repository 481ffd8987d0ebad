import { ip6ToString, isGroupMac } from '../../decode/addr.js';
import { isMulticast6 } from '../../decode/ip6-addr.js';
import type { Packet } from '../../decode/packet.js';
import type { Entity } from '../../findings/finding.js';
import { ip4Entity, macEntity } from '../../findings/entities.js';

export { ip4Entity, macEntity };

// Entity builders shared by the IPv6 watches (built only when reporting).

export function ip6Entity(buf: Buffer, off: number, role: string): Entity {
  return { type: 'ip', value: ip6ToString(buf, off), role };
}

/** The sender of pkt (IPv6 source and Ethernet source) in `role`. */
export function senderEntities(pkt: Packet, role: string): Entity[] {
  const out: Entity[] = [];
  if (pkt.ethSrc !== -1) out.push(macEntity(pkt.ethSrc, role));
  out.push(pkt.ipVersion === 6 ? ip6Entity(pkt.buf, pkt.ip6SrcOff, role) : ip4Entity(pkt.ip4Src, role));
  return out;
}

/** The unicast receiver of pkt, by default as the victim (nothing for multicast: every host on the link). */
export function receiverEntities(pkt: Packet, role = 'victim'): Entity[] {
  const out: Entity[] = [];
  if (pkt.ipVersion === 6 && !isMulticast6(pkt.buf, pkt.ip6DstOff)) out.push(ip6Entity(pkt.buf, pkt.ip6DstOff, role));
  if (pkt.ipVersion === 4) out.push(ip4Entity(pkt.ip4Dst, role));
  if (pkt.ethDst !== -1 && !isGroupMac(pkt.ethDst)) out.push(macEntity(pkt.ethDst, role));
  return out;
}

/** The link-layer address a frame came from, or `fallback` (an option's address) on links without one. */
export function linkSource(pkt: Packet, fallback: number): number {
  return pkt.ethSrc !== -1 ? pkt.ethSrc : fallback;
}
