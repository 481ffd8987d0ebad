import { FRAME_BROKEN, FRAME_NEED_MORE, FramedLoginParser, type RecordFormat } from './record-framer.js';
import type { Session } from './session.js';
import { capText, nulEnd } from './text.js';

// PostgreSQL logins (frontend/backend protocol 3.0) on 5432 or any port whose
// client opens with a StartupMessage. The server asks for the password in
// clear ("password" in pg_hba.conf: the password itself) or as MD5 with a
// 4-byte salt ("md5": md5(md5(password + user) + salt), cracked offline;
// John's $postgres$ line). SCRAM-SHA-256 (the default since PostgreSQL 14)
// exposes only a salted, iterated proof and is not reported. A connection
// whose SSLRequest the server accepts turns to TLS and is not followed.

const PROTOCOL_3 = 0x00030000;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const MAX_STARTUP = 10_000;
const MAX_MESSAGE = 65536;

const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;
const AUTH_MD5 = 5;
const MD5_RESPONSE = /^md5[0-9a-f]{32}$/;
const TYPE_AUTH = 0x52; // 'R'
const TYPE_ERROR = 0x45; // 'E'
const TYPE_PASSWORD = 0x70; // 'p'
const SSL_YES = 0x53; // 'S'
const SSL_NO = 0x4e; // 'N'

/** Does a client stream begin with a StartupMessage or an SSL/GSS encryption request? 1 yes, -1 no, 0 too few bytes. */
export function postgresRequestVerdict(buf: Buffer, start: number, end: number): number {
  if (end - start < 8) return end > start && buf[start] === 0 ? 0 : -1;
  const len = buf.readUInt32BE(start);
  const code = buf.readUInt32BE(start + 4);
  if ((code === SSL_REQUEST || code === GSSENC_REQUEST) && len === 8) return 1;
  return code === PROTOCOL_3 && len > 8 && len <= MAX_STARTUP ? 1 : -1;
}

/** Where each direction's framing stands: untyped startup messages first, one-byte answers to SSL requests. */
class Framing {
  startupDone = false;
  sslAsked = false;
}

/** A typed message: one type byte, then a length that counts itself. */
function typedLength(buf: Buffer, start: number, end: number): number {
  if (end - start < 5) return FRAME_NEED_MORE;
  const len = buf.readUInt32BE(start + 1);
  return len < 4 || len > MAX_MESSAGE ? FRAME_BROKEN : 1 + len;
}

export class PostgresParser extends FramedLoginParser {
  private readonly framing: Framing;
  private user = '';
  private database = '';
  /** The authentication the server last asked for, and the MD5 salt (hex). */
  private asked = -1;
  private salt = '';

  constructor(session: Session) {
    const framing = new Framing();
    const client: RecordFormat = {
      maxHeader: 5,
      frameLength: (buf, start, end) => {
        if (framing.startupDone) return typedLength(buf, start, end);
        if (end - start < 4) return FRAME_NEED_MORE;
        const len = buf.readUInt32BE(start);
        return len < 8 || len > MAX_STARTUP ? FRAME_BROKEN : len;
      },
    };
    const server: RecordFormat = {
      maxHeader: 5,
      frameLength: (buf, start, end) => (framing.sslAsked && end > start && (buf[start] === SSL_YES || buf[start] === SSL_NO) ? 1 : typedLength(buf, start, end)),
    };
    super(session, client, MAX_MESSAGE, 'postgres', 'PostgreSQL stream does not frame as protocol messages', server);
    this.framing = framing;
  }

  record(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    if (fromClient) this.clientMessage(buf, start, end);
    else this.serverMessage(buf, start, end);
  }

  private clientMessage(buf: Buffer, start: number, end: number): void {
    if (!this.framing.startupDone) {
      const code = buf.readUInt32BE(start + 4);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        this.framing.sslAsked = true;
        return;
      }
      if (code !== PROTOCOL_3) return this.session.malformed('postgres', 'PostgreSQL startup message of an unknown protocol');
      this.framing.startupDone = true;
      this.startup(buf, start + 8, end);
      return;
    }
    if (buf[start] !== TYPE_PASSWORD || (this.asked !== AUTH_CLEARTEXT && this.asked !== AUTH_MD5)) return;
    // PasswordMessage: a NUL-terminated string.
    const stop = nulEnd(buf, start + 5, end);
    const text = buf.toString('latin1', start + 5, stop);
    const where = this.database ? `database ${capText(this.database)}` : undefined;
    if (this.asked === AUTH_MD5) {
      if (!MD5_RESPONSE.test(text)) return this.session.malformed('postgres', 'PostgreSQL MD5 password message is not md5 and 32 hex digits');
      const line = `$postgres$${this.user}*${this.salt}*${text.slice(3)}`;
      this.pending.set(this.session.credential({ rule: 'cred-postgres', protocol: 'PostgreSQL', mechanism: 'md5 password', user: this.user, secret: Buffer.from(line, 'latin1'), kind: 'hash', proof: 'a salted MD5 of the password', context: where }));
    } else {
      this.pending.set(this.session.credential({ rule: 'cred-postgres', protocol: 'PostgreSQL', mechanism: 'cleartext password', user: this.user, secret: Buffer.from(buf.subarray(start + 5, stop)), kind: 'password', context: where }));
    }
    this.asked = -1;
  }

  /** StartupMessage parameters: NUL-terminated names and values, the list ended by an empty name. */
  private startup(buf: Buffer, start: number, end: number): void {
    let p = start;
    while (p < end && buf[p] !== 0) {
      const q = nulEnd(buf, p, end);
      const r = nulEnd(buf, q + 1, end);
      const name = buf.toString('latin1', p, q);
      const value = buf.toString('utf8', q + 1, Math.min(r, end));
      if (name === 'user') this.user = capText(value);
      else if (name === 'database') this.database = value;
      p = r + 1;
    }
    if (this.user === '') this.user = '(no user)';
  }

  private serverMessage(buf: Buffer, start: number, end: number): void {
    if (this.framing.sslAsked && end - start === 1) {
      this.framing.sslAsked = false;
      // Accepted: TLS (or GSSAPI encryption) follows, nothing readable.
      if (buf[start] === SSL_YES) {
        this.pending.close();
        this.session.upgraded();
      }
      return;
    }
    const type = buf[start];
    if (type === TYPE_AUTH && end - start >= 9) {
      const code = buf.readUInt32BE(start + 5);
      if (code === AUTH_OK) {
        this.pending.resolve('succeeded', 'AuthenticationOk');
        this.session.stop();
        return;
      }
      this.asked = code;
      if (code === AUTH_MD5 && end - start >= 13) this.salt = buf.toString('hex', start + 9, start + 13);
    } else if (type === TYPE_ERROR) {
      this.pending.resolve('failed', `ErrorResponse ${errorCode(buf, start + 5, end)}`.trim());
    }
  }
}

/** The SQLSTATE ('C' field) of an ErrorResponse, e.g. 28P01 invalid_password. */
function errorCode(buf: Buffer, start: number, end: number): string {
  let p = start;
  while (p < end && buf[p] !== 0) {
    const field = buf[p]!;
    const q = nulEnd(buf, p + 1, end);
    if (field === 0x43) return capText(buf.toString('latin1', p + 1, q));
    p = q + 1;
  }
  return '';
}
