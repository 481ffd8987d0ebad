import { FRAME_BROKEN, FRAME_NEED_MORE, FramedLoginParser, type RecordFormat } from './record-framer.js';
import type { Session } from './session.js';
import { capText } from './text.js';

// Microsoft SQL Server logins (TDS 7.x, [MS-TDS]) on 1433 or any port whose
// client opens with a TDS PRELOGIN or LOGIN7 packet. A SQL Server login's
// password travels in the LOGIN7 packet merely obfuscated (each byte's nibbles
// swapped and XORed with 0xA5), which is cleartext to anyone who reads it,
// unless the PRELOGIN exchange turned TLS on for the login: then nothing is
// read. The server's LOGINACK or ERROR token gives the verdict. Windows
// (SSPI) logins and Sybase's TDS 4.2/5.0 logins are not read.

const HEADER = 8;
const TYPE_RESPONSE = 0x04;
const TYPE_LOGIN7 = 0x10;
const TYPE_PRELOGIN = 0x12;
const STATUS_EOM = 0x01;
/** [MS-TDS] 2.2.6.5: PRELOGIN option tokens. */
const PL_ENCRYPTION = 0x01;
const PL_TERMINATOR = 0xff;
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

const FORMAT: RecordFormat = {
  maxHeader: HEADER,
  frameLength: (buf, start, end) => {
    if (end - start < 4) return FRAME_NEED_MORE;
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
  LoginResponse,
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

  constructor(session: Session) {
    super(session, FORMAT, MAX_PACKET, 'tds', 'TDS stream does not frame as TDS packets');
  }

  record(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    const type = buf[start]!;
    if (fromClient) {
      if (type === TYPE_PRELOGIN && this.stage === Stage.Start) this.stage = Stage.PreloginResponse;
      else if (type === TYPE_LOGIN7 && (this.stage === Stage.Start || this.stage === Stage.Login)) this.login(buf, start + HEADER, end);
      // Anything else before the login (a TLS handshake in PRELOGIN packets) means no cleartext login follows.
      else if (this.stage !== Stage.LoginResponse) this.finish();
    } else if (type === TYPE_RESPONSE) {
      if (this.stage === Stage.PreloginResponse) this.preloginResponse(buf, start + HEADER, end);
      else if (this.stage === Stage.LoginResponse && (buf[start + 1]! & STATUS_EOM) !== 0) this.loginResponse(buf, start + HEADER, end);
    }
  }

  /** Only a server without encryption support lets the login travel outside TLS. */
  private preloginResponse(buf: Buffer, p: number, end: number): void {
    for (let at = p; at + 5 <= end && buf[at] !== PL_TERMINATOR; at += 5) {
      if (buf[at] !== PL_ENCRYPTION) continue;
      const off = p + buf.readUInt16BE(at + 1);
      if (buf.readUInt16BE(at + 3) < 1 || off >= end) break;
      if (buf[off] === ENCRYPT_NOT_SUP) {
        this.stage = Stage.Login;
        return;
      }
      break;
    }
    this.finish();
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
    this.stage = Stage.LoginResponse;
    // A Windows (SSPI) login names no SQL user and sends no password here.
    if (user === '' && password.length === 0) return this.finish();
    const where = [`host '${text(FIELD_HOST)}'`, `application '${text(FIELD_APP)}'`, `server name '${text(FIELD_SERVER)}'`];
    const database = text(FIELD_DATABASE);
    if (database) where.push(`database '${database}'`);
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

  /** The login's answer: a LOGINACK token accepts it, an ERROR token (18456: login failed) refuses it. */
  private loginResponse(buf: Buffer, p: number, end: number): void {
    let at = p;
    let error = -1;
    while (at + 3 <= end) {
      const token = buf[at]!;
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
