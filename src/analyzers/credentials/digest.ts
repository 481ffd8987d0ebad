// Digest authentication responses (RFC 7616, RFC 2617; SIP's RFC 3261 22.4):
// the Authorization or Proxy-Authorization parameters of HTTP and SIP, read
// once for both; and SASL's DIGEST-MD5 (RFC 2831), in the same syntax. The response is an MD5 (or SHA-256) of the password with
// the realm, nonce, method and URI, which travel beside it: it cracks offline.

/** name=value or name="quoted \"value\"" pairs of a Digest header. */
const DIGEST_PARAM = /([A-Za-z][A-Za-z0-9_-]{0,31})[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.){0,4096})"|([^\s,"]{0,4096}))/g;
const MAX_DIGEST_PARAMS = 16;
const DIGEST_SCHEME = /^digest[ \t]/i;

export interface DigestResponse {
  user: string;
  response: string;
  realm: string;
  /** Absent when the header does not repeat it (the request line's target is meant). */
  uri: string | undefined;
  nonce: string;
  nc: string;
  cnonce: string;
  qop: string;
  /** Upper case; MD5 when the header names none. */
  algorithm: string;
}

/** The parameters of a Digest challenge or response, quoted strings unescaped, names in lower case. */
export function digestParams(value: string): Map<string, string> | undefined {
  return DIGEST_SCHEME.test(value) ? paramList(value.slice(7)) : undefined;
}

/** name=value pairs, as Digest headers and SASL DIGEST-MD5 (RFC 2831) write them. */
function paramList(text: string): Map<string, string> {
  const p = new Map<string, string>();
  // At most MAX_DIGEST_PARAMS pairs are read: each try may scan up to a quoted value's cap, and hostile text could offer thousands.
  let n = 0;
  for (const m of text.matchAll(DIGEST_PARAM)) {
    p.set(m[1]!.toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!);
    if (++n >= MAX_DIGEST_PARAMS) break;
  }
  return p;
}

/**
 * A SASL DIGEST-MD5 response (RFC 2831: the client's digest-response, which
 * repeats the server's nonce): the user and John the Ripper's dmd5 line
 * ($DIGEST-MD5$user$realm$nonce$digest-uri$cnonce$nc$qop$response[$authzid]),
 * or null when a field the computation needs is missing or holds a '$'.
 */
export function saslDigestMd5(text: string): { user: string; line: string } | null {
  const p = paramList(text);
  const fields = ['username', 'realm', 'nonce', 'digest-uri', 'cnonce', 'nc', 'qop', 'response'].map((k) => p.get(k) ?? (k === 'realm' ? '' : k === 'qop' ? 'auth' : undefined));
  const authzid = p.get('authzid');
  if (fields.some((f) => f === undefined || f.includes('$')) || authzid?.includes('$')) return null;
  if (!/^[0-9a-f]{32}$/i.test(fields[7]!)) return null;
  return { user: fields[0]!, line: `$DIGEST-MD5$${fields.join('$')}${authzid ? `$${authzid}` : ''}` };
}

/** The header's Digest response; undefined for another scheme, null for a Digest header without user name or response. */
export function readDigestResponse(value: string): DigestResponse | null | undefined {
  const p = digestParams(value);
  if (p === undefined) return undefined;
  const user = p.get('username');
  const response = p.get('response');
  if (user === undefined || response === undefined) return null;
  return {
    user,
    response,
    realm: p.get('realm') ?? '',
    uri: p.get('uri'),
    nonce: p.get('nonce') ?? '',
    nc: p.get('nc') ?? '',
    cnonce: p.get('cnonce') ?? '',
    qop: p.get('qop') ?? '',
    algorithm: (p.get('algorithm') ?? 'MD5').toUpperCase(),
  };
}

/** John the Ripper's HDAA line ($response$ for MD5; other algorithms named), for any method. */
export function hdaaLine(d: DigestResponse, method: string, uri: string): string {
  const fields = [d.response, d.user, d.realm, method, uri, d.nonce, d.nc, d.cnonce, d.qop];
  return `${d.algorithm === 'MD5' ? '$response$' : `$digest-${d.algorithm.toLowerCase()}$`}${fields.join('$')}`;
}
