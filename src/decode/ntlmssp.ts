// NTLMSSP AUTHENTICATE (type 3) messages inside TCP payloads, raw (SMB,
// DCE/RPC, LDAP, MSSQL: "NTLMSSP\0" inside SPNEGO) or base64 in an HTTP
// "Authorization: NTLM|Negotiate ..." header. Only a bounded window of one
// segment is searched; nothing is reassembled.

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
/** base64("NTLMSSP\0" + 0x03): the start of an encoded type 3 message. */
const BASE64_TYPE3 = Buffer.from('TlRMTVNTUAAD', 'latin1');
const MESSAGE_TYPE_AUTHENTICATE = 3;
const NEGOTIATE_UNICODE = 0x00000001;
/** Fixed part of an AUTHENTICATE message up to and including the flags. */
const AUTHENTICATE_FIXED = 64;
const MAX_BASE64 = 8192;
const MAX_NAME_CHARS = 64;

export interface NtlmAuthenticate {
  user: string;
  domain: string;
  workstation: string;
  /** NtChallengeResponse: the crackable proof of the password (NTLMv1/v2). */
  ntResponse: Buffer;
  /** LmChallengeResponse (NTLMv1's second proof; LMv2 or zeros beside NTLMv2). */
  lmResponse: Buffer;
}

/** Whether a TCP payload holds an NTLMSSP AUTHENTICATE message; cheap, allocation-free. */
export function findNtlmAuthenticate(buf: Buffer, start: number, end: number): number {
  for (let i = start; i + 12 <= end; i++) {
    const c = buf[i]!;
    if (c === 0x4e && matchAt(buf, i, SIGNATURE) && buf.readUInt32LE(i + 8) === MESSAGE_TYPE_AUTHENTICATE) return i;
    if (c === 0x54 && matchAt(buf, i, BASE64_TYPE3)) return i;
  }
  return -1;
}

function matchAt(buf: Buffer, at: number, pattern: Buffer): boolean {
  for (let k = 0; k < pattern.length; k++) if (buf[at + k] !== pattern[k]) return false;
  return true;
}

/**
 * Parses the AUTHENTICATE message found at `at` by findNtlmAuthenticate
 * (raw or base64). Returns undefined when its fields do not fit.
 */
export function parseNtlmAuthenticate(buf: Buffer, at: number, end: number): NtlmAuthenticate | undefined {
  let msg: Buffer;
  if (buf[at] === 0x54) {
    let stop = at;
    while (stop < end && stop - at < MAX_BASE64 && isBase64Char(buf[stop]!)) stop++;
    msg = Buffer.from(buf.toString('latin1', at, stop), 'base64');
  } else {
    msg = buf.subarray(at, end);
  }
  if (msg.length < AUTHENTICATE_FIXED || !matchAt(msg, 0, SIGNATURE) || msg.readUInt32LE(8) !== MESSAGE_TYPE_AUTHENTICATE) return undefined;
  const field = (off: number): Buffer | undefined => {
    const len = msg.readUInt16LE(off);
    const from = msg.readUInt32LE(off + 4);
    return from + len <= msg.length ? msg.subarray(from, from + len) : undefined;
  };
  const unicode = (msg.readUInt32LE(60) & NEGOTIATE_UNICODE) !== 0;
  const text = (b: Buffer | undefined): string => (b ? (unicode ? b.toString('utf16le') : b.toString('latin1')).slice(0, MAX_NAME_CHARS) : '');
  const nt = field(20);
  if (!nt) return undefined;
  return { ntResponse: nt, lmResponse: field(12) ?? Buffer.alloc(0), domain: text(field(28)), user: text(field(36)), workstation: text(field(44)) };
}

/** The AUTHENTICATE message inside buf[start, end), raw or base64, when there is one whose fields fit. */
export function readNtlmAuthenticate(buf: Buffer, start: number, end: number): NtlmAuthenticate | undefined {
  const at = findNtlmAuthenticate(buf, start, end);
  return at < 0 ? undefined : parseNtlmAuthenticate(buf, at, end);
}

function isBase64Char(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f || c === 0x3d;
}
