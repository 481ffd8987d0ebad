import { ip6ToString } from '../../decode/addr.js';
import { IP6_WORDS, storedIp6ToString } from '../../decode/ip6-addr.js';

/**
 * A small bounded set of IPv6 prefixes (an address is a /128), stored as
 * words with the bits past the prefix length cleared; when full, the oldest
 * entry makes room.
 */
export class Ip6PrefixSet {
  private readonly words: Uint32Array;
  private readonly lengths: Uint8Array;
  private count = 0;
  private oldest = 0;

  constructor(private readonly capacity: number) {
    this.words = new Uint32Array(capacity * IP6_WORDS);
    this.lengths = new Uint8Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  has(buf: Buffer, off: number, bits: number): boolean {
    for (let i = 0; i < this.count; i++) if (this.lengths[i] === bits && this.matches(i, buf, off, bits)) return true;
    return false;
  }

  add(buf: Buffer, off: number, bits: number): void {
    if (this.has(buf, off, bits)) return;
    let slot = this.count;
    if (this.count < this.capacity) this.count++;
    else {
      slot = this.oldest;
      this.oldest = (this.oldest + 1) % this.capacity;
    }
    this.lengths[slot] = bits;
    for (let w = 0; w < IP6_WORDS; w++) this.words[slot * IP6_WORDS + w] = maskedWord(buf, off, w, bits);
  }

  /** "fd53:7700::/64", or the bare address for a /128. */
  text(i: number): string {
    const bits = this.lengths[i]!;
    const address = storedIp6ToString(this.words, i);
    return bits === 128 ? address : `${address}/${bits}`;
  }

  texts(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.text(i));
    return out;
  }

  private matches(i: number, buf: Buffer, off: number, bits: number): boolean {
    for (let w = 0; w < IP6_WORDS; w++) if (this.words[i * IP6_WORDS + w] !== maskedWord(buf, off, w, bits)) return false;
    return true;
  }
}

/** Word `w` of the address at buf[off], with the bits past `bits` cleared. */
function maskedWord(buf: Buffer, off: number, w: number, bits: number): number {
  const keep = Math.max(0, Math.min(32, bits - w * 32));
  if (keep === 0) return 0;
  const value = buf.readUInt32BE(off + w * 4);
  return keep === 32 ? value : (value & ~(0xffffffff >>> keep)) >>> 0;
}

/** "fd53:7700::/64" for a prefix in a message (bits past the length shown as sent). */
export function prefixText(buf: Buffer, off: number, bits: number): string {
  return bits === 128 ? ip6ToString(buf, off) : `${ip6ToString(buf, off)}/${bits}`;
}
