import { ip4ToString } from '../../decode/addr.js';
import { u32be } from '../../decode/bytes.js';
import type { Packet } from '../../decode/packet.js';
import { Ip6Table } from '../../util/ip6-table.js';

// Addresses of both families as one kind of number, so the name-resolution
// tables keep their numeric keys: an IPv4 address is its own id (below 2^32);
// an IPv6 address gets an id of 2^32 plus its key in an Ip6Table (a hash of
// its 16 bytes, probed on a collision). The book keeps the bytes of the IPv6
// addresses it has handed ids for, for text in findings. It is bounded: the
// longest unused address is forgotten first (an address entered again while
// in the older half of the ring moves to its newest end), and a forgotten
// address gets the same id again when it comes back, unless a colliding
// address took that id meanwhile. Pinned addresses are never forgotten.

const IP6_ID_BASE = 4_294_967_296;
/** Ids tried for one hash before an address is given up on (only crafted collisions get that far). */
const PROBES = 8;

/**
 * A 16-bit index of an address's last 32 bits (an IPv4 address, or an IPv6
 * address's last word) for per-packet bit filters. Mixed rather than the low
 * 16 bits, which neighbouring networks (198.18.0.5, 198.19.0.5) share.
 */
export function filterIndex(lastWord: number): number {
  return Math.imul(lastWord, 0x9e3779b1) >>> 16;
}

/**
 * filterIndex of the 32-bit word at buf[off] (an address's last word, in a
 * packet). Called with the buffer and an offset, per-packet filters pass no
 * number of 2^30 and above, which a call not inlined would box.
 */
export function filterIndexAt(buf: Buffer, off: number): number {
  return filterIndex(u32be(buf, off));
}

export function isIp6Id(id: number): boolean {
  return id >= IP6_ID_BASE;
}

export class AddrBook {
  private readonly table: Ip6Table;

  /** `pinned`: IPv6 addresses (16 bytes each) entered for good, so their ids never change (configured servers). */
  constructor(
    readonly capacity: number,
    pinned: readonly Buffer[] = [],
  ) {
    this.table = new Ip6Table(capacity, PROBES, pinned.length);
    for (const addr of pinned) this.table.pin(addr, 0);
  }

  get size(): number {
    return this.table.size;
  }

  /** Id of the packet's source address (IPv6 addresses are entered into the book). */
  src(pkt: Packet): number {
    return pkt.ipVersion === 6 ? this.intern(pkt.buf, pkt.ip6SrcOff) : pkt.ip4Src;
  }

  dst(pkt: Packet): number {
    return pkt.ipVersion === 6 ? this.intern(pkt.buf, pkt.ip6DstOff) : pkt.ip4Dst;
  }

  /** Id of the packet's destination if the book knows it, else -1 (nothing entered). */
  findDst(pkt: Packet): number {
    return pkt.ipVersion === 6 ? this.find(pkt.buf, pkt.ip6DstOff) : pkt.ip4Dst;
  }

  findSrc(pkt: Packet): number {
    return pkt.ipVersion === 6 ? this.find(pkt.buf, pkt.ip6SrcOff) : pkt.ip4Src;
  }

  /** Id of the IPv6 address at buf[off], or -1 when the book does not hold it. */
  find(buf: Buffer, off: number): number {
    const slot = this.table.find(buf, off);
    return slot === -1 ? -1 : IP6_ID_BASE + this.table.keyAt(slot);
  }

  /** Id of the IPv6 address at buf[off], entering it when new; -1 only when every probe is taken by other addresses. */
  intern(buf: Buffer, off: number): number {
    const slot = this.table.intern(buf, off);
    if (slot === -1) return -1;
    const id = IP6_ID_BASE + this.table.keyAt(slot);
    this.table.refresh(slot);
    return id;
  }

  /** The address as text: dotted IPv4, canonical IPv6 (RFC 5952). */
  text(id: number): string {
    if (!isIp6Id(id)) return ip4ToString(id);
    const slot = this.table.slotOf(id - IP6_ID_BASE);
    return slot === -1 ? 'an IPv6 address no longer remembered' : this.table.textAt(slot);
  }

  /** The address's filterIndex (of its last 32 bits). */
  filterIndex(id: number): number {
    if (!isIp6Id(id)) return filterIndex(id);
    const slot = this.table.slotOf(id - IP6_ID_BASE);
    return slot === -1 ? 0 : filterIndex(this.table.wordAt(slot, 3));
  }
}
