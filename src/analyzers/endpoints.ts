import { ip4ToString, ip6ToString } from '../decode/addr.js';
import type { Packet } from '../decode/packet.js';

// Packet addresses as numbers for table keys (no allocation per packet) and
// as text for findings. An IPv4 address is its own key; an IPv6 address is
// folded to a 32-bit hash offset past the IPv4 range, so the two never meet.

const IP6_KEY_BASE = 2 ** 32;

function fold6(buf: Buffer, off: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ buf[off + i]!, 0x01000193);
  return IP6_KEY_BASE + (h >>> 0);
}

export function srcAddrKey(pkt: Packet): number {
  return pkt.ipVersion === 6 ? fold6(pkt.buf, pkt.ip6SrcOff) : pkt.ip4Src;
}

export function dstAddrKey(pkt: Packet): number {
  return pkt.ipVersion === 6 ? fold6(pkt.buf, pkt.ip6DstOff) : pkt.ip4Dst;
}

/** Address and port in one exact number (below 2^49). */
export function endpointId(addrKey: number, port: number): number {
  return addrKey * 65536 + port;
}

export function srcAddrText(pkt: Packet): string {
  return pkt.ipVersion === 6 ? ip6ToString(pkt.buf, pkt.ip6SrcOff) : ip4ToString(pkt.ip4Src);
}

export function dstAddrText(pkt: Packet): string {
  return pkt.ipVersion === 6 ? ip6ToString(pkt.buf, pkt.ip6DstOff) : ip4ToString(pkt.ip4Dst);
}

/** "198.18.0.1:443", "[fd00::1]:443". */
export function hostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** Folds a non-negative number below 2^53 into a running 32-bit FNV-style hash. */
export function mixHash(h: number, x: number): number {
  h = Math.imul(h ^ (x >>> 0), 0x01000193);
  return Math.imul(h ^ Math.floor(x / 4294967296), 0x01000193);
}

/** A running hash as a small-integer Map key (30 bits: V8 keeps it unboxed). */
export function smallKey(h: number): number {
  return (h ^ (h >>> 30)) & 0x3fffffff;
}
