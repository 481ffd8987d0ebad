import { createCipheriv, createHash, createHmac } from 'node:crypto';

// Challenge-response logins as clients compute them (NTLMv2, [MS-NLMP]
// 3.3.2; HTTP Digest, RFC 7616): to build real AUTHENTICATE messages, and to
// check that a reported line is the one a cracker would crack with the
// password. OpenSSL 3 ships MD4 only in its legacy provider, so MD4 (RFC 1320)
// is written out here.

function md4(input: Buffer): Buffer {
  const len = input.length;
  const padded = Buffer.alloc((((len + 8) >> 6) + 1) * 64);
  input.copy(padded);
  padded[len] = 0x80;
  padded.writeUInt32LE((len * 8) >>> 0, padded.length - 8);
  padded.writeUInt32LE(Math.floor((len * 8) / 2 ** 32), padded.length - 4);
  let a = 0x67452301;
  let b = 0xefcdab89;
  let c = 0x98badcfe;
  let d = 0x10325476;
  const rotl = (x: number, n: number): number => (x << n) | (x >>> (32 - n));
  const x = new Uint32Array(16);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) x[i] = padded.readUInt32LE(off + i * 4);
    const [aa, bb, cc, dd] = [a, b, c, d];
    const f = (p: number, q: number, r: number): number => (p & q) | (~p & r);
    const g = (p: number, q: number, r: number): number => (p & q) | (p & r) | (q & r);
    const h = (p: number, q: number, r: number): number => p ^ q ^ r;
    for (const i of [0, 4, 8, 12]) {
      a = rotl((a + f(b, c, d) + x[i]!) | 0, 3);
      d = rotl((d + f(a, b, c) + x[i + 1]!) | 0, 7);
      c = rotl((c + f(d, a, b) + x[i + 2]!) | 0, 11);
      b = rotl((b + f(c, d, a) + x[i + 3]!) | 0, 19);
    }
    for (const i of [0, 1, 2, 3]) {
      a = rotl((a + g(b, c, d) + x[i]! + 0x5a827999) | 0, 3);
      d = rotl((d + g(a, b, c) + x[i + 4]! + 0x5a827999) | 0, 5);
      c = rotl((c + g(d, a, b) + x[i + 8]! + 0x5a827999) | 0, 9);
      b = rotl((b + g(c, d, a) + x[i + 12]! + 0x5a827999) | 0, 13);
    }
    for (const i of [0, 2, 1, 3]) {
      a = rotl((a + h(b, c, d) + x[i]! + 0x6ed9eba1) | 0, 3);
      d = rotl((d + h(a, b, c) + x[i + 8]! + 0x6ed9eba1) | 0, 9);
      c = rotl((c + h(d, a, b) + x[i + 4]! + 0x6ed9eba1) | 0, 11);
      b = rotl((b + h(c, d, a) + x[i + 12]! + 0x6ed9eba1) | 0, 15);
    }
    a = (a + aa) | 0;
    b = (b + bb) | 0;
    c = (c + cc) | 0;
    d = (d + dd) | 0;
  }
  const out = Buffer.alloc(16);
  [a, b, c, d].forEach((v, i) => out.writeInt32LE(v, i * 4));
  return out;
}

export function ntHash(password: string): Buffer {
  return md4(Buffer.from(password, 'utf16le'));
}

function hmacMd5(key: Buffer, ...data: Buffer[]): Buffer {
  const h = createHmac('md5', key);
  for (const d of data) h.update(d);
  return h.digest();
}

/** NtChallengeResponse of NTLMv2: NTProofStr followed by the client blob. */
export function ntlmV2Response(password: string, user: string, domain: string, serverChallenge: Buffer, blob: Buffer): Buffer {
  const key = hmacMd5(ntHash(password), Buffer.from(user.toUpperCase() + domain, 'utf16le'));
  return Buffer.concat([hmacMd5(key, serverChallenge, blob), blob]);
}

/** A client blob as Windows and Samba send it: version, timestamp, client challenge, target info. */
export function ntlmV2Blob(clientChallenge = Buffer.from('0102030405060708', 'hex')): Buffer {
  const head = Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]);
  const time = Buffer.alloc(8);
  time.writeBigUInt64LE(133_500_000_000_000_000n);
  return Buffer.concat([head, time, clientChallenge, Buffer.alloc(4), Buffer.from([2, 0, 8, 0]), Buffer.from('CORP', 'utf16le'), Buffer.alloc(4), Buffer.alloc(4)]);
}

/**
 * Whether a hashcat mode 5600 line ("user::domain:challenge:ntproofstr:blob")
 * is what `password` yields: the check a cracker makes for each guess.
 */
export function ntlmV2LineMatches(line: string, password: string): boolean {
  const [user, , domain, challenge, proof, blob] = line.split(':');
  if (user === undefined || domain === undefined || !challenge || !proof || !blob) return false;
  const key = hmacMd5(ntHash(password), Buffer.from(user.toUpperCase() + domain, 'utf16le'));
  return hmacMd5(key, Buffer.from(challenge, 'hex'), Buffer.from(blob, 'hex')).toString('hex') === proof.toLowerCase();
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

/** RFC 2617 3.2.2 with MD5: the Digest response `password` yields for these parameters. */
function digestResponse(password: string, user: string, realm: string, method: string, uri: string, nonce: string, nc: string, cnonce: string, qop: string): string {
  const ha1 = md5(`${user}:${realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  return qop ? md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
}

/** Whether John the Ripper's HDAA line ($response$resp$user$realm$method$uri$nonce$nc$cnonce$qop) is what `password` yields. */
export function httpDigestLineMatches(line: string, password: string): boolean {
  const [, tag, response, user, realm, method, uri, nonce, nc, cnonce, qop] = line.split('$');
  if (tag !== 'response' || response === undefined || qop === undefined) return false;
  return digestResponse(password, user!, realm!, method!, uri!, nonce!, nc!, cnonce!, qop) === response;
}

/**
 * Whether a hashcat 11400 line ($sip$*server*client*user*realm*method*prefix*resource*suffix*nonce*cnonce*nc*qop*MD5*response)
 * is what `password` yields: the URI is prefix:resource:suffix, the empty parts left out, as hashcat builds it.
 */
export function sipLineMatches(line: string, password: string): boolean {
  const f = line.split('*');
  if (f.length !== 15 || f[0] !== '$sip$' || f[13] !== 'MD5') return false;
  const [, , , user, realm, method, prefix, resource, suffix, nonce, cnonce, nc, qop, , response] = f as [string, string, string, string, string, string, string, string, string, string, string, string, string, string, string];
  const uri = [prefix, resource, suffix].filter((p) => p !== '').join(':');
  return digestResponse(password, user, realm, method, uri, nonce, nc, cnonce, qop === 'auth' || qop === 'auth-int' ? qop : '') === response;
}

/** Whether a hashcat 11200 line ($mysqlna$scramble*response) is what `password` yields under mysql_native_password. */
export function mysqlNativeLineMatches(line: string, password: string): boolean {
  const m = /^\$mysqlna\$([0-9a-f]{40})\*([0-9a-f]{40})$/.exec(line);
  if (!m) return false;
  const sha1 = (...parts: Buffer[]): Buffer => parts.reduce((h, p) => h.update(p), createHash('sha1')).digest();
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  const mask = sha1(Buffer.from(m[1]!, 'hex'), sha1(stage1));
  const expected = Buffer.alloc(20);
  for (let i = 0; i < 20; i++) expected[i] = stage1[i]! ^ mask[i]!;
  return expected.toString('hex') === m[2];
}

export type UsmHash = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** RFC 3414 A.2 (RFC 7860 for SHA-2): the user's key from `password` (a megabyte of it hashed), localised to the engine ID. */
export function usmKey(password: string, engineId: Buffer, hash: UsmHash): Buffer {
  const pw = Buffer.from(password, 'utf8');
  const h = createHash(hash);
  const block = Buffer.alloc(64);
  for (let done = 0; done < 1_048_576; done += 64) {
    for (let i = 0; i < 64; i++) block[i] = pw[(done + i) % pw.length]!;
    h.update(block);
  }
  const ku = h.digest();
  return createHash(hash).update(Buffer.concat([ku, engineId, ku])).digest();
}

/** The hashes each hashcat SNMPv3 tag stands for (25000 tries MD5 and SHA-1; 26700, 26800, 26900, 27300 one SHA-2 each). */
const USM_TAG_HASHES: Readonly<Record<string, readonly UsmHash[]>> = { '0': ['md5', 'sha1'], '3': ['sha224'], '4': ['sha256'], '5': ['sha384'], '6': ['sha512'] };

/** Whether a hashcat SNMPv3 line ($SNMPv3$tag$n$message with the HMAC zeroed$engine ID$HMAC) is what `password` yields. */
export function usmLineMatches(line: string, password: string): boolean {
  const [, label, tag, , msg, engine, auth] = line.split('$');
  const hashes = label === 'SNMPv3' && tag !== undefined ? USM_TAG_HASHES[tag] : undefined;
  if (hashes === undefined || msg === undefined || engine === undefined || auth === undefined || auth.length < 24) return false;
  const engineId = Buffer.from(engine, 'hex');
  return hashes.some((hash) => createHmac(hash, usmKey(password, engineId, hash)).update(Buffer.from(msg, 'hex')).digest('hex').slice(0, auth.length) === auth);
}

/** Whether a hashcat 16400 line ($cram_md5$base64 challenge$base64 "user hexdigest") is what `password` yields (RFC 2195: HMAC-MD5 of the challenge). */
export function cramMd5LineMatches(line: string, password: string): boolean {
  const [, tag, challenge, response] = line.split('$');
  if (tag !== 'cram_md5' || challenge === undefined || response === undefined) return false;
  const text = Buffer.from(response, 'base64').toString('latin1');
  const digest = text.slice(text.lastIndexOf(' ') + 1);
  return createHmac('md5', password).update(Buffer.from(challenge, 'base64')).digest('hex') === digest.toLowerCase();
}

/** Whether a hashcat 20 line (APOP digest:timestamp, md5($salt.$pass)) is what `password` yields. */
export function apopLineMatches(line: string, password: string): boolean {
  const colon = line.indexOf(':');
  return colon > 0 && md5(`${line.slice(colon + 1)}${password}`) === line.slice(0, colon).toLowerCase();
}

/**
 * VNC authentication's answer (RFB 7.2.2): the 16-byte challenge DES-encrypted (ECB) under the
 * password's first eight bytes, each bit-reversed. Single DES is triple DES with one key three
 * times (OpenSSL 3 keeps single DES in its legacy provider).
 */
export function vncResponse(password: string, challenge: Buffer): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, 'latin1').copy(key, 0, 0, 8);
  for (let i = 0; i < 8; i++) {
    let r = 0;
    for (let k = 0; k < 8; k++) r = (r << 1) | ((key[i]! >> k) & 1);
    key[i] = r;
  }
  const des = createCipheriv('des-ede3-ecb', Buffer.concat([key, key, key]), null).setAutoPadding(false);
  return Buffer.concat([des.update(challenge), des.final()]);
}

/** Whether a John the Ripper $vnc$ line's response is its challenge encrypted under `password`. */
export function vncLineMatches(line: string, password: string): boolean {
  const m = /^\$vnc\$\*([0-9A-F]{32})\*([0-9A-F]{32})$/.exec(line);
  return m !== null && vncResponse(password, Buffer.from(m[1]!, 'hex')).toString('hex').toUpperCase() === m[2];
}

/** RFC 2831's response-value for `password`: A1 = MD5(user:realm:password) (raw) ":" nonce ":" cnonce [":" authzid], A2 = "AUTHENTICATE:" digest-uri. */
export function digestMd5Response(password: string, f: { user: string; realm: string; nonce: string; uri: string; cnonce: string; nc: string; qop: string; authzid?: string }): string {
  const raw = createHash('md5').update(`${f.user}:${f.realm}:${password}`).digest();
  const a1 = Buffer.concat([raw, Buffer.from(`:${f.nonce}:${f.cnonce}${f.authzid ? `:${f.authzid}` : ''}`)]);
  const a2 = `AUTHENTICATE:${f.uri}${f.qop === 'auth' ? '' : ':00000000000000000000000000000000'}`;
  const hex = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');
  return hex(`${hex(a1)}:${f.nonce}:${f.nc}:${f.cnonce}:${f.qop}:${hex(a2)}`);
}

/** Whether John's dmd5 line ($DIGEST-MD5$user$realm$nonce$digest-uri$cnonce$nc$qop$response[$authzid]) is what `password` yields. */
export function digestMd5LineMatches(line: string, password: string): boolean {
  const [, tag, user, realm, nonce, uri, cnonce, nc, qop, response, authzid] = line.split('$');
  if (tag !== 'DIGEST-MD5' || response === undefined) return false;
  return digestMd5Response(password, { user: user!, realm: realm!, nonce: nonce!, uri: uri!, cnonce: cnonce!, nc: nc!, qop: qop!, authzid }) === response.toLowerCase();
}
