// TLS/SSL hello parsing (RFC 8446 §4.1, RFC 5246 §7.4.1, SSL 2.0's
// CLIENT-HELLO/SERVER-HELLO): which protocol versions a client offers and which
// one the server selects. The first handshake message of a direction is found
// by walking TLS records (joining fragments when a hello spans records); every
// length is checked against its container and nothing is read past the data
// given. Results go into reused objects; nothing allocates or throws.

import { u16be } from './bytes.js';

export const SSL2 = 0x0002;
export const SSL3 = 0x0300;
export const TLS10 = 0x0301;
export const TLS11 = 0x0302;
export const TLS12 = 0x0303;
export const TLS13 = 0x0304;

const CONTENT_HANDSHAKE = 22;
export const HANDSHAKE_CLIENT_HELLO = 1;
export const HANDSHAKE_SERVER_HELLO = 2;
const EXT_SUPPORTED_VERSIONS = 43;
/** TLSPlaintext.length may not exceed 2^14; allow for compression/expansion slack (2^14 + 2048). */
const MAX_RECORD = 18432;
/** Records walked to join one hello; a hello split into more pieces than this is hostile. */
const MAX_RECORDS = 64;
/** SSL 2.0 message types. */
const SSL2_CLIENT_HELLO = 1;
const SSL2_SERVER_HELLO = 4;

/** ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3): not the final choice. */
const HELLO_RETRY_RANDOM = Uint8Array.from([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07,
  0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
]);

export function tlsVersionName(v: number): string {
  switch (v) {
    case SSL2:
      return 'SSL 2.0';
    case SSL3:
      return 'SSL 3.0';
    case TLS10:
      return 'TLS 1.0';
    case TLS11:
      return 'TLS 1.1';
    case TLS12:
      return 'TLS 1.2';
    case TLS13:
      return 'TLS 1.3';
    default:
      return `version 0x${v.toString(16).padStart(4, '0')}`;
  }
}

/** A supported_versions entry as a comparable version: TLS 1.3 drafts count as 1.3, GREASE and unknown values as 0. */
function normaliseVersion(v: number): number {
  if ((v & 0x0f0f) === 0x0a0a) return 0; // GREASE (RFC 8701)
  if (v >= SSL3 && v <= TLS13) return v;
  if (v >>> 8 === 0x7f) return TLS13; // draft-ietf-tls-tls13-NN
  return 0;
}

export const enum TlsScan {
  /** Not the start of a TLS or SSL 2.0 hello. */
  NotHello = 0,
  /** The hello is there and complete. */
  Ok = 1,
  /** A hello starts here but continues past the data given. */
  NeedMore = 2,
  /** The hello claims more bytes than the caller can buffer. */
  TooBig = 3,
  /** A hello whose structure is broken; TlsHello.malformed says how. */
  Malformed = 4,
}

// Constant reasons, so marking a packet malformed allocates nothing.
export const TLS_MALFORMED = {
  records: 'TLS hello split across too many records',
  body: 'TLS hello shorter than its fixed fields',
  sessionId: 'TLS hello session_id longer than 32 bytes or past the hello',
  ciphers: 'TLS ClientHello cipher_suites length odd, empty or past the hello',
  compression: 'TLS hello compression methods missing or past the hello',
  extensions: 'TLS extensions length does not match the hello',
  extension: 'TLS extension length runs past the extensions block',
  supportedVersions: 'TLS supported_versions extension malformed',
  version: 'TLS ServerHello selects an unknown version',
} as const;

/** What one hello says about versions. */
export class TlsHello {
  /** HANDSHAKE_CLIENT_HELLO or HANDSHAKE_SERVER_HELLO. */
  type = 0;
  /** SSL 2.0-format message (a v2-compatible ClientHello, or an SSL 2.0 ServerHello). */
  ssl2Format = false;
  legacyVersion = 0;
  /** ClientHello: highest version offered. ServerHello: version selected. */
  version = 0;
  /** ClientHello carried supported_versions / ServerHello selected through it. */
  viaSupportedVersions = false;
  /** A ServerHello that is really a HelloRetryRequest. */
  helloRetry = false;
  malformed: string | null = null;
  /** Where the joined handshake message sits (the input buffer or the caller's scratch). */
  msgBuf: Buffer = Buffer.alloc(0);
  msgStart = 0;
  msgEnd = 0;

  reset(): void {
    this.type = 0;
    this.ssl2Format = false;
    this.legacyVersion = 0;
    this.version = 0;
    this.viaSupportedVersions = false;
    this.helloRetry = false;
    this.malformed = null;
    this.msgStart = 0;
    this.msgEnd = 0;
  }
}

function broken(out: TlsHello, reason: string): TlsScan {
  out.malformed = reason;
  return TlsScan.Malformed;
}

/** Cheap test on the first bytes of a segment: could a TLS or SSL 2.0 hello start here? */
export function looksLikeHelloStart(buf: Buffer, start: number, end: number): boolean {
  const n = end - start;
  if (n < 1) return false;
  const b0 = buf[start]!;
  if (b0 === CONTENT_HANDSHAKE) {
    if (!prefixIsHandshake(buf, start, end)) return false;
    return n < 6 || buf[start + 5] === HANDSHAKE_CLIENT_HELLO || buf[start + 5] === HANDSHAKE_SERVER_HELLO;
  }
  return (b0 & 0x80) !== 0 && n >= 3 && (buf[start + 2] === SSL2_CLIENT_HELLO || buf[start + 2] === SSL2_SERVER_HELLO);
}

/**
 * Finds the hello at the start of a direction's byte stream buf[start, end)
 * and parses it into `out`. `scratch` receives the message when it spans
 * records; its length is the largest hello accepted.
 */
export function scanHello(buf: Buffer, start: number, end: number, scratch: Buffer, out: TlsHello): TlsScan {
  out.reset();
  if (end > buf.length) end = buf.length;
  if (end - start < 1) return TlsScan.NeedMore;
  if (buf[start] !== CONTENT_HANDSHAKE) return scanSsl2(buf, start, end, out);
  const r = joinHandshake(buf, start, end, scratch, out);
  if (r !== TlsScan.Ok) return r;
  const type = out.msgBuf[out.msgStart]!;
  out.type = type;
  return type === HANDSHAKE_CLIENT_HELLO ? parseClientHello(out) : parseServerHello(out);
}

/** Locates the first handshake message, copying its record fragments into `scratch` only when it spans records. */
function joinHandshake(buf: Buffer, start: number, end: number, scratch: Buffer, out: TlsHello): TlsScan {
  // Fast path: the whole message inside the first record.
  if (end - start >= 9 && u16be(buf, start + 3) >= 4) {
    const recLen = u16be(buf, start + 3);
    if (!startsHandshakeRecord(buf, start, end) || recLen > MAX_RECORD) return TlsScan.NotHello;
    const type = buf[start + 5]!;
    if (type !== HANDSHAKE_CLIENT_HELLO && type !== HANDSHAKE_SERVER_HELLO) return TlsScan.NotHello;
    const need = 4 + buf.readUIntBE(start + 6, 3);
    if (need > scratch.length) return TlsScan.TooBig;
    if (need <= recLen) {
      if (end - (start + 5) < need) return TlsScan.NeedMore;
      out.msgBuf = buf;
      out.msgStart = start + 5;
      out.msgEnd = start + 5 + need;
      return TlsScan.Ok;
    }
  }
  // Slow path: gather the fragments of consecutive handshake records.
  let need = 4;
  let copied = 0;
  let p = start;
  for (let records = 0; records < MAX_RECORDS; records++) {
    if (end - p < 5) return records > 0 || prefixIsHandshake(buf, p, end) ? TlsScan.NeedMore : TlsScan.NotHello;
    const recLen = u16be(buf, p + 3);
    if (!startsHandshakeRecord(buf, p, end) || recLen === 0 || recLen > MAX_RECORD) {
      // Another record type in the middle is not TLS (encrypted data can look like a hello's first bytes).
      return TlsScan.NotHello;
    }
    const recEnd = p + 5 + recLen;
    let q = p + 5;
    while (q < recEnd && copied < need) {
      if (q >= end) return TlsScan.NeedMore;
      const n = Math.min(recEnd, end, q + (need - copied)) - q;
      buf.copy(scratch, copied, q, q + n);
      copied += n;
      q += n;
      if (copied === 4 && need === 4) {
        const type = scratch[0]!;
        if (type !== HANDSHAKE_CLIENT_HELLO && type !== HANDSHAKE_SERVER_HELLO) return TlsScan.NotHello;
        need = 4 + scratch.readUIntBE(1, 3);
        if (need > scratch.length) return TlsScan.TooBig;
      }
    }
    if (copied === need && need > 4) {
      out.msgBuf = scratch;
      out.msgStart = 0;
      out.msgEnd = need;
      return TlsScan.Ok;
    }
    p = recEnd;
  }
  return broken(out, TLS_MALFORMED.records);
}

/** The few bytes of a first record header available so far are consistent with a handshake record. */
/**
 * Could a TLS handshake record start at buf[p]: content type 22, version 3.0
 * (SSL 3.0) to 3.4? Header bytes not given yet (at or past `end`) are assumed to fit.
 */
function prefixIsHandshake(buf: Buffer, p: number, end: number): boolean {
  return buf[p] === CONTENT_HANDSHAKE && (p + 1 >= end || buf[p + 1] === 3) && (p + 2 >= end || buf[p + 2]! <= 4);
}

/** buf[p, end) starts with the type and version of a TLS handshake record, all three bytes given. */
export function startsHandshakeRecord(buf: Buffer, p: number, end: number): boolean {
  return end - p >= 3 && prefixIsHandshake(buf, p, end);
}

/** Skips a vector with a 1-byte length; returns the offset after it or -1. */
function skip8(b: Buffer, p: number, end: number, max: number): number {
  if (p >= end) return -1;
  const len = b[p]!;
  if (len > max || p + 1 + len > end) return -1;
  return p + 1 + len;
}

function parseClientHello(out: TlsHello): TlsScan {
  const b = out.msgBuf;
  const end = out.msgEnd;
  let p = out.msgStart + 4;
  // legacy_version, random[32], session_id<0..32>, cipher_suites<2..2^16-2>, compression_methods<1..2^8-1>
  if (end - p < 2 + 32 + 1) return broken(out, TLS_MALFORMED.body);
  out.legacyVersion = u16be(b, p);
  p = skip8(b, p + 34, end, 32);
  if (p < 0) return broken(out, TLS_MALFORMED.sessionId);
  if (end - p < 2) return broken(out, TLS_MALFORMED.ciphers);
  const cs = u16be(b, p);
  if (cs === 0 || cs % 2 !== 0 || p + 2 + cs > end) return broken(out, TLS_MALFORMED.ciphers);
  p += 2 + cs;
  // At least one compression method (null).
  if (p >= end || b[p] === 0) return broken(out, TLS_MALFORMED.compression);
  p = skip8(b, p, end, 255);
  if (p < 0) return broken(out, TLS_MALFORMED.compression);
  out.version = normaliseVersion(out.legacyVersion) || out.legacyVersion;
  return parseExtensions(out, p, end, true);
}

function parseServerHello(out: TlsHello): TlsScan {
  const b = out.msgBuf;
  const end = out.msgEnd;
  let p = out.msgStart + 4;
  // legacy_version, random[32], session_id<0..32>, cipher_suite, compression_method
  if (end - p < 2 + 32 + 1) return broken(out, TLS_MALFORMED.body);
  out.legacyVersion = u16be(b, p);
  let retry = true;
  for (let i = 0; i < 32 && retry; i++) retry = b[p + 2 + i] === HELLO_RETRY_RANDOM[i];
  out.helloRetry = retry;
  p = skip8(b, p + 34, end, 32);
  if (p < 0) return broken(out, TLS_MALFORMED.sessionId);
  if (end - p < 3) return broken(out, TLS_MALFORMED.compression);
  p += 3;
  out.version = out.legacyVersion;
  const r = parseExtensions(out, p, end, false);
  if (r !== TlsScan.Ok) return r;
  if (out.version < SSL3 || out.version > TLS13) return broken(out, TLS_MALFORMED.version);
  return TlsScan.Ok;
}

function parseExtensions(out: TlsHello, p: number, end: number, client: boolean): TlsScan {
  const b = out.msgBuf;
  if (p === end) return TlsScan.Ok; // SSL 3.0-era hellos end without extensions
  if (end - p < 2 || p + 2 + u16be(b, p) !== end) return broken(out, TLS_MALFORMED.extensions);
  p += 2;
  while (p < end) {
    if (end - p < 4) return broken(out, TLS_MALFORMED.extension);
    const type = u16be(b, p);
    const len = u16be(b, p + 2);
    const data = p + 4;
    if (data + len > end) return broken(out, TLS_MALFORMED.extension);
    if (type === EXT_SUPPORTED_VERSIONS) {
      const r = client ? clientVersions(out, data, len) : serverVersion(out, data, len);
      if (r !== TlsScan.Ok) return r;
    }
    p = data + len;
  }
  return TlsScan.Ok;
}

function clientVersions(out: TlsHello, data: number, len: number): TlsScan {
  const b = out.msgBuf;
  const listLen = len >= 1 ? b[data]! : -1;
  if (listLen < 2 || listLen % 2 !== 0 || 1 + listLen !== len) return broken(out, TLS_MALFORMED.supportedVersions);
  let best = 0;
  for (let q = data + 1; q < data + len; q += 2) best = Math.max(best, normaliseVersion(u16be(b, q)));
  if (best !== 0) {
    out.version = best;
    out.viaSupportedVersions = true;
  }
  return TlsScan.Ok;
}

function serverVersion(out: TlsHello, data: number, len: number): TlsScan {
  if (len !== 2) return broken(out, TLS_MALFORMED.supportedVersions);
  const v = u16be(out.msgBuf, data);
  out.version = normaliseVersion(v) || v;
  out.viaSupportedVersions = true;
  return TlsScan.Ok;
}

/**
 * SSL 2.0 record with a 2-byte header (high bit set). Accepted only when all
 * the length fields add up, since a set high bit is common in any data.
 */
function scanSsl2(buf: Buffer, start: number, end: number, out: TlsHello): TlsScan {
  if ((buf[start]! & 0x80) === 0) return TlsScan.NotHello;
  if (end - start < 3) return TlsScan.NeedMore;
  const recLen = ((buf[start]! & 0x7f) << 8) | buf[start + 1]!;
  const type = buf[start + 2]!;
  if (type === SSL2_CLIENT_HELLO) {
    // version, cipher_specs_length, session_id_length, challenge_length
    if (end - start < 11) return TlsScan.NeedMore;
    const version = u16be(buf, start + 3);
    const cs = u16be(buf, start + 5);
    const sid = u16be(buf, start + 7);
    const challenge = u16be(buf, start + 9);
    if (version !== SSL2 && (version < SSL3 || version > TLS13)) return TlsScan.NotHello;
    if (cs === 0 || cs % 3 !== 0 || (sid !== 0 && sid !== 16) || challenge < 16 || challenge > 32) return TlsScan.NotHello;
    if (9 + cs + sid + challenge !== recLen) return TlsScan.NotHello;
    out.type = HANDSHAKE_CLIENT_HELLO;
    out.ssl2Format = true;
    out.legacyVersion = version;
    out.version = version;
    return TlsScan.Ok;
  }
  if (type === SSL2_SERVER_HELLO) {
    // session_id_hit, certificate_type, version, certificate_length, cipher_specs_length, connection_id_length
    if (end - start < 13) return TlsScan.NeedMore;
    const hit = buf[start + 3]!;
    const version = u16be(buf, start + 5);
    const cert = u16be(buf, start + 7);
    const cs = u16be(buf, start + 9);
    const connId = u16be(buf, start + 11);
    if (hit > 1 || version !== SSL2 || cs % 3 !== 0 || connId < 16 || connId > 32) return TlsScan.NotHello;
    if (11 + cert + cs + connId !== recLen) return TlsScan.NotHello;
    out.type = HANDSHAKE_SERVER_HELLO;
    out.ssl2Format = true;
    out.legacyVersion = version;
    out.version = SSL2;
    return TlsScan.Ok;
  }
  return TlsScan.NotHello;
}
