import { ip4ToString } from '../../decode/addr.js';
import { fnv1a } from '../../decode/dns.js';
import { IP6_WORDS, ip6EqualsStored, storedIp6ToString } from '../../decode/ip6-addr.js';
import type { Packet } from '../../decode/packet.js';

// Addresses of both families as one kind of number, so the name-resolution
// tables keep their numeric keys: an IPv4 address is its own id (below 2^32);
// an IPv6 address gets an id of 2^32 plus a hash of its 16 bytes (probed on a
// collision, the bytes are compared on every hit). The book keeps the bytes
// of the IPv6 addresses it has handed ids for, for text in findings. It is
// bounded: the longest unused address is forgotten first (an address used
// again while in the older half of the ring moves to its newest end), and a
// forgotten address gets the same id again when it comes back, unless a
// colliding address took that id meanwhile.

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

export function isIp6Id(id: number): boolean {
  return id >= IP6_ID_BASE;
}

export class AddrBook {
  /** id -> ring slot */
  private readonly slots = new Map<number, number>();
  private readonly words: Uint32Array;
  /** id held by each ring slot, -1 when the slot was vacated by a move */
  private readonly slotIds: Float64Array;
  private head = 0;
  private used = 0;

  constructor(readonly capacity: number) {
    this.words = new Uint32Array(capacity * IP6_WORDS);
    this.slotIds = new Float64Array(capacity);
  }

  get size(): number {
    return this.slots.size;
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
    const h = fnv1a(buf, off, 16);
    for (let p = 0; p < PROBES; p++) {
      const id = IP6_ID_BASE + ((h + p) >>> 0);
      const slot = this.slots.get(id);
      if (slot !== undefined && ip6EqualsStored(this.words, slot, buf, off)) return id;
    }
    return -1;
  }

  /** Id of the IPv6 address at buf[off], entering it when new; -1 only when every probe is taken by other addresses. */
  intern(buf: Buffer, off: number): number {
    const h = fnv1a(buf, off, 16);
    let free = -1;
    for (let p = 0; p < PROBES; p++) {
      const id = IP6_ID_BASE + ((h + p) >>> 0);
      const slot = this.slots.get(id);
      if (slot === undefined) {
        if (free === -1) free = id;
      } else if (ip6EqualsStored(this.words, slot, buf, off)) {
        if (this.age(slot) < this.used >>> 1) this.move(id, slot);
        return id;
      }
    }
    if (free === -1) return -1;
    const slot = this.append(free);
    const at = slot * IP6_WORDS;
    for (let w = 0; w < IP6_WORDS; w++) this.words[at + w] = buf.readUInt32BE(off + w * 4);
    return free;
  }

  /** The address as text: dotted IPv4, canonical IPv6 (RFC 5952). */
  text(id: number): string {
    if (!isIp6Id(id)) return ip4ToString(id);
    const slot = this.slots.get(id);
    return slot === undefined ? 'an IPv6 address no longer remembered' : storedIp6ToString(this.words, slot);
  }

  /** The address's filterIndex (of its last 32 bits). */
  filterIndex(id: number): number {
    if (!isIp6Id(id)) return filterIndex(id);
    const slot = this.slots.get(id);
    return slot === undefined ? 0 : filterIndex(this.words[slot * IP6_WORDS + 3]!);
  }

  /** Position of a slot from the oldest (0) to the newest (used - 1). */
  private age(slot: number): number {
    return (slot - this.head + this.capacity) % this.capacity;
  }

  private move(id: number, slot: number): void {
    const at = slot * IP6_WORDS;
    const w0 = this.words[at]!;
    const w1 = this.words[at + 1]!;
    const w2 = this.words[at + 2]!;
    const w3 = this.words[at + 3]!;
    this.slotIds[slot] = -1;
    this.slots.delete(id);
    const to = this.append(id) * IP6_WORDS;
    this.words[to] = w0;
    this.words[to + 1] = w1;
    this.words[to + 2] = w2;
    this.words[to + 3] = w3;
  }

  /** Takes the slot after the newest for `id`, forgetting the oldest address when full. */
  private append(id: number): number {
    while (this.used >= this.capacity) {
      const old = this.slotIds[this.head]!;
      if (old !== -1) this.slots.delete(old);
      this.head = (this.head + 1) % this.capacity;
      this.used--;
    }
    const slot = (this.head + this.used) % this.capacity;
    this.used++;
    this.slotIds[slot] = id;
    this.slots.set(id, slot);
    return slot;
  }
}
