// Big-endian reads for hot decoding paths. Buffer#readUInt32BE is not always
// inlined into large optimized functions, and a call that is not inlined
// returns values of 2^30 and above (most IPv4 addresses, sequence numbers,
// MACs) boxed: an allocation per read. These stay small enough to inline.
// Callers check bounds first.

export function u32be(buf: Buffer, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/** The 48-bit MAC address at buf[off] as a number (exact: below 2^53). */
export function readMac(buf: Buffer, off: number): number {
  return ((buf[off]! << 8) | buf[off + 1]!) * 4294967296 + u32be(buf, off + 2);
}

export function u16be(buf: Buffer, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

/** Little-endian reads, for the fields 802.11 and its radio headers carry that way. */
export function u16le(buf: Buffer, off: number): number {
  return buf[off]! | (buf[off + 1]! << 8);
}

export function u32le(buf: Buffer, off: number): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}
