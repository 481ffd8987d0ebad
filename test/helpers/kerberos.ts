import { createHmac, randomBytes } from 'node:crypto';
import { berElement, berInteger } from '../../src/craft/frames.js';
import { ntHash } from './challenge-response.js';

// Kerberos KDC messages as MIT and Windows clients and KDCs encode them
// (RFC 4120), with RC4-HMAC encryption (RFC 4757) computed from a password,
// and the check a cracker makes on a reported hashcat line. OpenSSL 3 keeps
// RC4 in its legacy provider, so RC4 is written out here.

export const USAGE_PA_ENC_TIMESTAMP = 1;
export const USAGE_AS_REP_ENC_PART = 3;
/** A ticket's enc-part, under the service's key. */
export const USAGE_TICKET = 2;
export const ETYPE_RC4_HMAC = 23;

function rc4(key: Buffer, data: Buffer): Buffer {
  const s = Array.from({ length: 256 }, (_, i) => i);
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + s[i]! + key[i % key.length]!) & 0xff;
    [s[i], s[j]] = [s[j]!, s[i]!];
  }
  const out = Buffer.alloc(data.length);
  for (let n = 0, i = 0, j = 0; n < data.length; n++) {
    i = (i + 1) & 0xff;
    j = (j + s[i]!) & 0xff;
    [s[i], s[j]] = [s[j]!, s[i]!];
    out[n] = data[n]! ^ s[(s[i]! + s[j]!) & 0xff]!;
  }
  return out;
}

function hmacMd5(key: Buffer, data: Buffer): Buffer {
  return createHmac('md5', key).update(data).digest();
}

function usageKey(password: string, usage: number): Buffer {
  const u = Buffer.alloc(4);
  u.writeUInt32LE(usage);
  return hmacMd5(ntHash(password), u);
}

/** RC4-HMAC encryption: checksum (16 bytes) then the encrypted confounder and plaintext. */
export function rc4HmacEncrypt(password: string, usage: number, plaintext: Buffer): Buffer {
  const k1 = usageKey(password, usage);
  const data = Buffer.concat([randomBytes(8), plaintext]);
  const checksum = hmacMd5(k1, data);
  return Buffer.concat([checksum, rc4(hmacMd5(k1, checksum), data)]);
}

function rc4HmacVerifies(password: string, usage: number, checksum: Buffer, edata: Buffer): boolean {
  const k1 = usageKey(password, usage);
  return hmacMd5(k1, rc4(hmacMd5(k1, checksum), edata)).equals(checksum);
}

/**
 * Whether an RC4-HMAC hashcat line ($krb5pa$23$... mode 7500,
 * $krb5asrep$23$... mode 18200 or $krb5tgs$23$... mode 13100) decrypts with `password`.
 */
export function kerberosRc4LineMatches(line: string, password: string): boolean {
  const tgs = /^\$krb5tgs\$23\$\*[^*]*\*\$([0-9a-f]{32})\$([0-9a-f]+)$/.exec(line);
  if (tgs) return rc4HmacVerifies(password, USAGE_TICKET, Buffer.from(tgs[1]!, 'hex'), Buffer.from(tgs[2]!, 'hex'));
  let m = /^\$krb5pa\$23\$[^$]*\$[^$]*\$[^$]*\$([0-9a-f]+)$/.exec(line);
  if (m) {
    const hex = m[1]!;
    return rc4HmacVerifies(password, USAGE_PA_ENC_TIMESTAMP, Buffer.from(hex.slice(-32), 'hex'), Buffer.from(hex.slice(0, -32), 'hex'));
  }
  m = /^\$krb5asrep\$23\$[^:]*:([0-9a-f]{32})\$([0-9a-f]+)$/.exec(line);
  return m !== null && rc4HmacVerifies(password, USAGE_AS_REP_ENC_PART, Buffer.from(m[1]!, 'hex'), Buffer.from(m[2]!, 'hex'));
}

const ctx = (n: number, inner: Buffer): Buffer => berElement(0xa0 + n, inner);
const seq = (...parts: Buffer[]): Buffer => berElement(0x30, Buffer.concat(parts));
const text = (s: string): Buffer => berElement(0x1b, Buffer.from(s));
const time = (s: string): Buffer => berElement(0x18, Buffer.from(s));

function principal(name: string, type = 1): Buffer {
  return seq(ctx(0, berInteger(type)), ctx(1, seq(...name.split('/').map(text))));
}

function encryptedData(etype: number, cipher: Buffer): Buffer {
  return seq(ctx(0, berInteger(etype)), ctx(2, berElement(0x04, cipher)));
}

/** PA-ENC-TS-ENC: the client's time, encrypted under usage 1. */
export function encryptedTimestamp(password: string): Buffer {
  return rc4HmacEncrypt(password, USAGE_PA_ENC_TIMESTAMP, seq(ctx(0, time('20261124093000Z')), ctx(1, berInteger(123456))));
}

export interface AsReqSpec {
  user: string;
  realm: string;
  /** PA-ENC-TIMESTAMP: its etype and cipher; none for a first AS-REQ. */
  preauth?: { etype: number; cipher: Buffer };
}

export function asReq(s: AsReqSpec): Buffer {
  const padata = s.preauth ? [ctx(3, seq(seq(ctx(1, berInteger(2)), ctx(2, berElement(0x04, encryptedData(s.preauth.etype, s.preauth.cipher)))), seq(ctx(1, berInteger(149)), ctx(2, berElement(0x04, Buffer.alloc(0))))))] : [];
  const body = seq(
    ctx(0, berElement(0x03, Buffer.from([0, 0x50, 0, 0x10]))),
    ctx(1, principal(s.user)),
    ctx(2, text(s.realm)),
    ctx(3, principal(`krbtgt/${s.realm}`, 2)),
    ctx(5, time('20261125093000Z')),
    ctx(7, berInteger(0x1234567)),
    ctx(8, seq(berInteger(18), berInteger(17), berInteger(23))),
  );
  return berElement(0x6a, seq(ctx(1, berInteger(5)), ctx(2, berInteger(10)), ...padata, ctx(4, body)));
}

export function asRep(user: string, realm: string, etype: number, encPart: Buffer): Buffer {
  const ticket = berElement(0x61, seq(ctx(0, berInteger(5)), ctx(1, text(realm)), ctx(2, principal(`krbtgt/${realm}`, 2)), ctx(3, encryptedData(18, Buffer.alloc(96, 0x5a)))));
  return berElement(0x6b, seq(ctx(0, berInteger(5)), ctx(1, berInteger(11)), ctx(3, text(realm)), ctx(4, principal(user)), ctx(5, ticket), ctx(6, encryptedData(etype, encPart))));
}

/** A TGS-REQ as far as sniffwatch reads one: its message type (the ticket and authenticator it carries are not read). */
export function tgsReq(spn: string, realm: string): Buffer {
  return berElement(0x6c, seq(ctx(1, berInteger(5)), ctx(2, berInteger(12)), ctx(4, seq(ctx(2, text(realm)), ctx(3, principal(spn, 2))))));
}

/** A TGS-REP to `user` with a ticket for `spn` whose enc-part is `ticketCipher` under `etype`. */
export function tgsRep(user: string, realm: string, spn: string, etype: number, ticketCipher: Buffer): Buffer {
  const ticket = berElement(0x61, seq(ctx(0, berInteger(5)), ctx(1, text(realm)), ctx(2, principal(spn, 2)), ctx(3, encryptedData(etype, ticketCipher))));
  return berElement(0x6d, seq(ctx(0, berInteger(5)), ctx(1, berInteger(13)), ctx(3, text(realm)), ctx(4, principal(user)), ctx(5, ticket), ctx(6, encryptedData(18, Buffer.alloc(80, 0x33)))));
}

export function krbError(code: number, realm: string, user?: string): Buffer {
  return berElement(
    0x7e,
    seq(ctx(0, berInteger(5)), ctx(1, berInteger(30)), ctx(4, time('20261124093001Z')), ctx(5, berInteger(0)), ctx(6, berInteger(code)), ...(user ? [ctx(7, text(realm)), ctx(8, principal(user))] : []), ctx(9, text(realm)), ctx(10, principal(`krbtgt/${realm}`, 2))),
  );
}

/** Kerberos over TCP: a 4-byte length before each message. */
export function tcpRecord(msg: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(msg.length);
  return Buffer.concat([len, msg]);
}

/**
 * A GSS-API InitialContextToken carrying an AP-REQ with a ticket for `spn`
 * (RFC 4121: the Kerberos OID, token id 01 00, then the AP-REQ), wrapped in
 * SPNEGO's NegTokenInit as Windows and curl send it, unless `bare`.
 */
export function gssApReq(spn: string, realm: string, etype: number, ticketCipher: Buffer, bare = false): Buffer {
  const krb5Oid = Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02]);
  const ticket = berElement(0x61, seq(ctx(0, berInteger(5)), ctx(1, text(realm)), ctx(2, principal(spn, 2)), ctx(3, encryptedData(etype, ticketCipher))));
  const apReq = berElement(0x6e, seq(ctx(0, berInteger(5)), ctx(1, berInteger(14)), ctx(2, berElement(0x03, Buffer.from([0, 0x20, 0, 0, 0]))), ctx(3, ticket), ctx(4, encryptedData(etype, Buffer.alloc(64, 0x44)))));
  const gss = berElement(0x60, Buffer.concat([krb5Oid, Buffer.from([0x01, 0x00]), apReq]));
  if (bare) return gss;
  const spnegoOid = Buffer.from([0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]);
  const negTokenInit = ctx(0, seq(ctx(0, seq(krb5Oid)), ctx(2, berElement(0x04, gss))));
  return berElement(0x60, Buffer.concat([spnegoOid, negTokenInit]));
}
