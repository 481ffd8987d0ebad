import { readNtlmAuthenticate } from '../../decode/ntlmssp.js';
import { findNtlmChallenge, ntlmCredential } from './ntlm.js';
import { FRAME_BROKEN, FRAME_NEED_MORE, FramedLoginParser, type RecordFormat } from './record-framer.js';
import type { Session } from './session.js';
import { capText } from './text.js';

// Microsoft SQL Server logins (TDS 7.x, [MS-TDS]) on 1433 or any port whose
// client opens with a TDS PRELOGIN or LOGIN7 packet.
// - SQL Server authentication: the password travels in the LOGIN7 packet
//   merely obfuscated (each byte's nibbles swapped and XORed with 0xA5), which
//   is cleartext to anyone who reads it, unless TLS protects the LOGIN7.
// - Windows authentication (SSPI): the LOGIN7 carries an NTLM NEGOTIATE, the
//   server answers with an SSPI token holding the CHALLENGE, and the client's
//   SSPI packet the AUTHENTICATE: a NetNTLM hash. When both PRELOGINs say
//   "encryption off", TLS protects the LOGIN7 alone ([MS-TDS] 2.2.6.5), and the
//   CHALLENGE and AUTHENTICATE that follow travel in clear: the default of
//   clients that do not ask for encryption, against any SQL Server.
// The server's LOGINACK or ERROR token gives the verdict. Sybase's TDS 4.2/5.0
// logins are not read.

const HEADER = 8;
const TYPE_RESPONSE = 0x04;
const TYPE_LOGIN7 = 0x10;
const TYPE_SSPI = 0x11;
const TYPE_PRELOGIN = 0x12;
/** TLS record content types (change cipher spec to application data): records sent raw once a PRELOGIN handshake ended. */
const TLS_FIRST = 0x14;
const TLS_LAST = 0x17;
const TLS_HEADER = 5;
const STATUS_EOM = 0x01;
/** [MS-TDS] 2.2.6.5: PRELOGIN option tokens. */
const PL_ENCRYPTION = 0x01;
const PL_TERMINATOR = 0xff;
/** Encryption available but off: TLS for the LOGIN7 alone, when both sides say so. */
const ENCRYPT_OFF = 0x00;
/** The server does not support encryption: the login follows in clear. */
const ENCRYPT_NOT_SUP = 0x02;
/** LOGIN7: the fixed part, then offset/length pairs (in characters) of its strings. */
const LOGIN7_FIXED = 36;
const FIELD_HOST = 0;
const FIELD_USER = 1;
const FIELD_PASSWORD = 2;
const FIELD_APP = 3;
const FIELD_SERVER = 4;
const FIELD_DATABASE = 8;
const TOKEN_ERROR = 0xaa;
const TOKEN_INFO = 0xab;
const TOKEN_LOGINACK = 0xad;
const TOKEN_ENVCHANGE = 0xe3;
const TOKEN_SSPI = 0xed;
const TOKEN_DONE = 0xfd;
/** Logins longer than this are no SQL login worth holding. */
const MAX_PACKET = 16384;

/** The TDS packet header at buf[start]: a known type, a status of at most a few flags, a length that holds the header. */
function isTdsHeader(buf: Buffer, start: number, type: number): boolean {
  return buf[start] === type && buf[start + 1]! <= 0x1f && buf.readUInt16BE(start + 2) >= HEADER + 8 && buf[start + 7] === 0;
}

/**
 * Does a client stream begin with TDS 7? 1 yes, -1 no, 0 too few bytes. A
 * PRELOGIN whose first option is VERSION (token 0 at the option table's
 * end), or a LOGIN7 whose TDS version is 7.x.
 */
export function tdsClientVerdict(buf: Buffer, start: number, end: number): number {
  const t = buf[start];
  if (end <= start || (t !== TYPE_PRELOGIN && t !== TYPE_LOGIN7)) return -1;
  if (end - start < HEADER + 8) return 0;
  if (!isTdsHeader(buf, start, t)) return -1;
  const p = start + HEADER;
  if (t === TYPE_PRELOGIN) return buf[p] === 0 && buf.readUInt16BE(p + 3) === 6 ? 1 : -1;
  // LOGIN7: the length of the login record, then the TDS version, little-endian (0x70000000 to 0x74000004).
  return buf.readUInt32LE(p) <= MAX_PACKET && buf[p + 7]! >= 0x70 && buf[p + 7]! <= 0x7f ? 1 : -1;
}

function isTlsRecord(type: number): boolean {
  return type >= TLS_FIRST && type <= TLS_LAST;
}

/** TDS packets, and the raw TLS records that carry a LOGIN7 encrypted alone (TDS packet types stay below 0x14). */
const FORMAT: RecordFormat = {
  maxHeader: HEADER,
  frameLength: (buf, start, end) => {
    if (end - start < TLS_HEADER) return FRAME_NEED_MORE;
    if (isTlsRecord(buf[start]!) && buf[start + 1] === 3) return TLS_HEADER + buf.readUInt16BE(start + 3);
    const n = buf.readUInt16BE(start + 2);
    return n < HEADER ? FRAME_BROKEN : n;
  },
};

const enum Stage {
  /** Waiting for the client's PRELOGIN or LOGIN7. */
  Start,
  PreloginResponse,
  /** The login follows in clear. */
  Login,
  /** TLS for the LOGIN7 alone: its handshake in PRELOGIN packets, then the LOGIN7 in TLS records. */
  EncryptedLogin,
  /** A LOGIN7 with no SQL user and no password (Windows authentication, or one read encrypted): the server's answer tells. */
  SspiChallenge,
  /** The SSPI CHALLENGE came: the client's SSPI packet carries the AUTHENTICATE. */
  SspiAuthenticate,
  LoginResponse,
}

/** The ENCRYPTION option of a PRELOGIN message at buf[p, end), or -1. */
function preloginEncryption(buf: Buffer, p: number, end: number): number {
  for (let at = p; at + 5 <= end && buf[at] !== PL_TERMINATOR; at += 5) {
    if (buf[at] !== PL_ENCRYPTION) continue;
    const off = p + buf.readUInt16BE(at + 1);
    return buf.readUInt16BE(at + 3) >= 1 && off < end ? buf[off]! : -1;
  }
  return -1;
}

/** SQL Server's obfuscation of LOGIN7 passwords, undone: XOR with 0xA5, then swap the nibbles. */
function revealPassword(buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  for (let i = start; i < end; i++) {
    const b = buf[i]! ^ 0xa5;
    out[i - start] = ((b << 4) | (b >> 4)) & 0xff;
  }
  return out;
}

export class TdsParser extends FramedLoginParser {
  private stage = Stage.Start;
  /** What the client's PRELOGIN asked for, -1 before one. */
  private clientEncryption = -1;
  /** The SSPI CHALLENGE's server challenge (hex). */
  private challenge: string | null = null;
  /** What a Windows login's LOGIN7 named (host, application, server, database), when it was read in clear. */
  private loginContext = '';

  constructor(session: Session) {
    super(session, FORMAT, MAX_PACKET, 'tds', 'TDS stream does not frame as TDS packets');
  }

  record(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    const type = buf[start]!;
    const stage = this.stage;
    if (fromClient) {
      if (type === TYPE_PRELOGIN && stage === Stage.Start) {
        this.clientEncryption = preloginEncryption(buf, start + HEADER, end);
        this.stage = Stage.PreloginResponse;
      } else if (type === TYPE_LOGIN7 && (stage === Stage.Start || stage === Stage.Login)) this.login(buf, start + HEADER, end);
      else if (stage === Stage.EncryptedLogin && type === TYPE_PRELOGIN) return;
      // The LOGIN7 itself, encrypted: whether it was a Windows login shows in the server's answer.
      else if (stage === Stage.EncryptedLogin && isTlsRecord(type)) this.stage = Stage.SspiChallenge;
      else if (stage === Stage.SspiAuthenticate && type === TYPE_SSPI) this.sspiAuthenticate(buf, start + HEADER, end);
      // Anything else before the login (a TLS handshake meant to last) means no readable login follows.
      else if (stage !== Stage.LoginResponse && stage !== Stage.SspiChallenge) this.finish();
    } else if (type === TYPE_RESPONSE) {
      if (stage === Stage.PreloginResponse) this.preloginResponse(buf, start + HEADER, end);
      else if ((stage === Stage.LoginResponse || stage === Stage.SspiChallenge) && (buf[start + 1]! & STATUS_EOM) !== 0) this.loginResponse(buf, start + HEADER, end);
    }
  }

  /** A server without encryption support lets the login travel in clear; "off" on both sides encrypts the LOGIN7 alone. */
  private preloginResponse(buf: Buffer, p: number, end: number): void {
    const server = preloginEncryption(buf, p, end);
    if (server === ENCRYPT_NOT_SUP) this.stage = Stage.Login;
    else if (server === ENCRYPT_OFF && (this.clientEncryption === ENCRYPT_OFF || this.clientEncryption === ENCRYPT_NOT_SUP)) this.stage = Stage.EncryptedLogin;
    else this.finish();
  }

  /** The client's SSPI packet: the NTLM AUTHENTICATE answering the CHALLENGE. */
  private sspiAuthenticate(buf: Buffer, p: number, end: number): void {
    const auth = readNtlmAuthenticate(buf, p, end);
    const c = auth && ntlmCredential(this.session, auth, this.challenge, 'cred-mssql', 'MS-SQL', 'TDS SSPI (Windows authentication)');
    if (!c) return this.finish();
    if (this.loginContext) c.context = c.context ? `${c.context}, ${this.loginContext}` : this.loginContext;
    this.pending.set(c);
    this.stage = Stage.LoginResponse;
  }

  private login(buf: Buffer, p: number, end: number): void {
    if (end - p < LOGIN7_FIXED + 4 * (FIELD_DATABASE + 1)) return this.broken('LOGIN7 shorter than its fixed part');
    // Each string is an offset from the record's start and a length in UCS-2 characters; -1 when it runs past the packet.
    const startOf = (field: number): number => p + buf.readUInt16LE(p + LOGIN7_FIXED + 4 * field);
    const endOf = (field: number): number => {
      const e = startOf(field) + 2 * buf.readUInt16LE(p + LOGIN7_FIXED + 4 * field + 2);
      return e <= end ? e : -1;
    };
    const text = (field: number): string => (endOf(field) < 0 ? '' : capText(buf.toString('utf16le', startOf(field), endOf(field))));
    if (endOf(FIELD_USER) < 0 || endOf(FIELD_PASSWORD) < 0) return this.broken('LOGIN7 user name or password runs past the packet');
    const user = text(FIELD_USER);
    const password = revealPassword(buf, startOf(FIELD_PASSWORD), endOf(FIELD_PASSWORD));
    const where = [`host '${text(FIELD_HOST)}'`, `application '${text(FIELD_APP)}'`, `server name '${text(FIELD_SERVER)}'`];
    const database = text(FIELD_DATABASE);
    if (database) where.push(`database '${database}'`);
    // A Windows (SSPI) login names no SQL user and sends no password here: its NTLM exchange follows.
    if (user === '' && password.length === 0) {
      this.loginContext = where.join(', ');
      this.stage = Stage.SspiChallenge;
      return;
    }
    this.stage = Stage.LoginResponse;
    this.pending.set(
      this.session.credential({
        rule: 'cred-mssql',
        protocol: 'MS-SQL',
        mechanism: 'LOGIN7 (TDS, SQL Server authentication)',
        user: user || '(empty user)',
        secret: Buffer.from(password.toString('utf16le'), 'utf8'),
        kind: 'password',
        context: where.join(', '),
      }),
    );
  }

  /**
   * The login's answer: a LOGINACK token accepts it, an ERROR token (18456: login failed) refuses
   * it. After a LOGIN7 without a SQL password, an SSPI token carries the NTLM CHALLENGE instead.
   */
  private loginResponse(buf: Buffer, p: number, end: number): void {
    let at = p;
    let error = -1;
    while (at + 3 <= end) {
      const token = buf[at]!;
      if (token === TOKEN_SSPI && this.stage === Stage.SspiChallenge) {
        this.challenge = findNtlmChallenge(buf, at + 3, Math.min(end, at + 3 + buf.readUInt16LE(at + 1)));
        if (this.challenge === null) return this.finish();
        this.stage = Stage.SspiAuthenticate;
        return;
      }
      if (token === TOKEN_LOGINACK) {
        this.pending.resolve('succeeded', 'LOGINACK');
        return this.finish();
      }
      if (token === TOKEN_ERROR && error < 0 && at + 7 <= end) error = buf.readUInt32LE(at + 3);
      if (token === TOKEN_ERROR || token === TOKEN_INFO || token === TOKEN_ENVCHANGE || token === TOKEN_SSPI) at += 3 + buf.readUInt16LE(at + 1);
      else if (token === TOKEN_DONE) at += 13;
      else break;
    }
    if (error >= 0) this.pending.resolve('failed', `error ${error}`);
    else this.pending.resolve('unknown', 'no LOGINACK or ERROR token read');
    this.finish();
  }

}
