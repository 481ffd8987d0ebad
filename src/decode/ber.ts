// Minimal BER (ASN.1 Basic Encoding Rules) reading for the protocols that use
// it on the wire (SNMP, LDAP). Definite lengths only, long-form lengths of up
// to 4 bytes, and every length is checked against the end of the enclosing
// element before anything is read from it. Results go into a reused BerTlv;
// nothing here allocates or throws.

export const enum BerStatus {
  Ok = 0,
  /** Fewer bytes left than a tag and a length need. */
  Truncated = 1,
  /** High-tag-number form (tag & 0x1f == 0x1f), which these protocols never use. */
  UnsupportedTag = 2,
  /** Indefinite length (0x80) or a long form of more than 4 bytes. */
  BadLength = 3,
  /** The value would run past the end of the enclosing element. */
  Overrun = 4,
}

/** One tag-length-value element: the value is buf[start, end). */
export class BerTlv {
  tag = 0;
  start = 0;
  end = 0;
}

/** An element's tag and where its value starts, and the length its header declares. */
export class BerHeader {
  tag = 0;
  valueStart = 0;
  length = 0;
}

/**
 * Reads the tag and length of the element at buf[off] (header bytes up to
 * `limit`) without looking for its value, which may not have arrived yet
 * (stream framing). Never Overrun: the caller compares `length` with what it has.
 */
export function readBerHeader(buf: Buffer, off: number, limit: number, out: BerHeader): BerStatus {
  if (limit > buf.length) limit = buf.length;
  if (off < 0 || limit - off < 2) return BerStatus.Truncated;
  const tag = buf[off]!;
  if ((tag & 0x1f) === 0x1f) return BerStatus.UnsupportedTag;
  const first = buf[off + 1]!;
  let p = off + 2;
  let len = first;
  if (first >= 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4) return BerStatus.BadLength;
    if (limit - p < n) return BerStatus.Truncated;
    len = 0;
    // Multiplication, not shifts: a 4-byte length must not turn negative.
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  out.tag = tag;
  out.valueStart = p;
  out.length = len;
  return BerStatus.Ok;
}

const header = new BerHeader();

/** Reads the element at buf[off] that must end by `limit`. */
export function readTlv(buf: Buffer, off: number, limit: number, out: BerTlv): BerStatus {
  const status = readBerHeader(buf, off, limit, header);
  if (status !== BerStatus.Ok) return status;
  if (header.length > Math.min(limit, buf.length) - header.valueStart) return BerStatus.Overrun;
  out.tag = header.tag;
  out.start = header.valueStart;
  out.end = header.valueStart + header.length;
  return BerStatus.Ok;
}

/** Reads the element at buf[off] that must end by `limit` into `out`: its tag, or -1 when malformed or cut. */
export function readTag(buf: Buffer, off: number, limit: number, out: BerTlv): number {
  return readTlv(buf, off, limit, out) === BerStatus.Ok ? out.tag : -1;
}

/**
 * A two's-complement INTEGER of 1 to 4 bytes (5 when the first is a sign
 * padding 0x00, as unsigned 32-bit values are encoded), or NaN.
 */
export function readBerInt(buf: Buffer, start: number, end: number): number {
  const n = end - start;
  if (n < 1 || n > 5 || end > buf.length) return Number.NaN;
  if (n === 5 && buf[start] !== 0) return Number.NaN;
  let v = buf[start]! >= 0x80 ? -1 : 0;
  for (let i = start; i < end; i++) v = v * 256 + buf[i]!;
  // A negative first byte made v start at -1: -1 * 256 + b keeps the sign right.
  return v;
}

/** Whether buf[start, end) holds exactly the bytes of `expected`. */
export function bytesEqual(buf: Buffer, start: number, end: number, expected: Uint8Array): boolean {
  if (end - start !== expected.length || end > buf.length) return false;
  for (let i = 0; i < expected.length; i++) if (buf[start + i] !== expected[i]) return false;
  return true;
}
