import { ip6ToString } from './addr.js';
import { u32be } from './bytes.js';

// IPv6 addresses without per-packet allocation: analyzers compare a packet's
// address (an offset into Packet.buf) with addresses they keep as four 32-bit
// words in a Uint32Array, and build text only for findings.

/** Words per stored address. */
export const IP6_WORDS = 4;

/** Parses IPv6 text ("fe80::1", "fd53:7700::", "::ffff:198.18.0.1"; no zone, no prefix) into 16 bytes. */
export function parseIp6(text: string): Buffer | undefined {
  let s = text.trim().toLowerCase();
  if (s.length === 0 || s.length > 45) return undefined;
  const out = Buffer.alloc(16);
  // An IPv4 tail fills the last two words.
  let tail: number[] = [];
  const v4 = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const octets = v4.slice(2, 6).map(Number);
    if (octets.some((o) => o > 255)) return undefined;
    tail = [octets[0]! * 256 + octets[1]!, octets[2]! * 256 + octets[3]!];
    s = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === '') return [];
    const words: number[] = [];
    for (const w of part.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(w)) return undefined;
      words.push(parseInt(w, 16));
    }
    return words;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const words = [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** fe80::/10 */
export function isLinkLocal6(buf: Buffer, off: number): boolean {
  return buf[off] === 0xfe && (buf[off + 1]! & 0xc0) === 0x80;
}

/** ff00::/8 */
export function isMulticast6(buf: Buffer, off: number): boolean {
  return buf[off] === 0xff;
}

/** :: (the source of duplicate address detection probes) */
export function isUnspecified6(buf: Buffer, off: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[off + i] !== 0) return false;
  return true;
}

/**
 * The MAC encoded in a modified EUI-64 interface identifier (RFC 4291
 * appendix A: ff:fe in the middle, universal/local bit flipped), or -1 when
 * the identifier is not of that form.
 */
export function eui64Mac(buf: Buffer, off: number): number {
  if (buf[off + 11] !== 0xff || buf[off + 12] !== 0xfe) return -1;
  const b0 = buf[off + 8]! ^ 0x02;
  return ((b0 * 256 + buf[off + 9]!) * 256 + buf[off + 10]!) * 16777216 + buf[off + 13]! * 65536 + buf[off + 14]! * 256 + buf[off + 15]!;
}

/** Copies the address at buf[off] into words[slot * 4 ...]. */
export function storeIp6(words: Uint32Array, slot: number, buf: Buffer, off: number): void {
  const at = slot * IP6_WORDS;
  words[at] = u32be(buf, off);
  words[at + 1] = u32be(buf, off + 4);
  words[at + 2] = u32be(buf, off + 8);
  words[at + 3] = u32be(buf, off + 12);
}

export function ip6EqualsStored(words: Uint32Array, slot: number, buf: Buffer, off: number): boolean {
  const at = slot * IP6_WORDS;
  return (
    words[at] === u32be(buf, off) &&
    words[at + 1] === u32be(buf, off + 4) &&
    words[at + 2] === u32be(buf, off + 8) &&
    words[at + 3] === u32be(buf, off + 12)
  );
}

/** Index of the stored address equal to buf[off], among the first `count` slots, or -1. */
export function findStoredIp6(words: Uint32Array, count: number, buf: Buffer, off: number): number {
  for (let i = 0; i < count; i++) if (ip6EqualsStored(words, i, buf, off)) return i;
  return -1;
}

const scratch = Buffer.alloc(16);

/** Text of a stored address (for findings). */
export function storedIp6ToString(words: Uint32Array, slot: number): string {
  const at = slot * IP6_WORDS;
  for (let i = 0; i < IP6_WORDS; i++) scratch.writeUInt32BE(words[at + i]!, i * 4);
  return ip6ToString(scratch, 0);
}
