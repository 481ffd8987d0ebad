import { ip4ToString, ip6ToString } from '../../decode/addr.js';
import { FRAME_BROKEN, FRAME_NEED_MORE, FramedLoginParser, type RecordFormat } from './record-framer.js';
import type { Session } from './session.js';
import { capText } from './text.js';

// SOCKS5 username/password logins (RFC 1928, RFC 1929), on 1080 or any port
// whose client opens with a SOCKS5 greeting offering that method. The client
// greets with the methods it supports, the server picks one; with method 2 the
// client sends the user name and password in clear and the server answers with
// a status byte (0 accepted). The CONNECT that follows names where the proxy
// is asked to go, kept as context. GSSAPI (method 1) is not read.

const SOCKS5 = 5;
const METHOD_USER_PASS = 2;
const AUTH_VERSION = 1;
const CMD_NAMES: Record<number, string> = { 1: 'CONNECT', 2: 'BIND', 3: 'UDP ASSOCIATE' };
const ATYP_IPV4 = 1;
const ATYP_DOMAIN = 3;
const ATYP_IPV6 = 4;
/** Longest message of the exchange: the username/password request (2 + 255 + 1 + 255 bytes). */
const MAX_MESSAGE = 513;

/** The greeting's methods: 0-9 are assigned or reserved by IANA, 0x80-0xFE private, 0xFF means none. */
function isMethod(b: number): boolean {
  return b <= 9 || (b >= 0x80 && b <= 0xfe);
}

/**
 * Does a client stream begin with a SOCKS5 greeting that offers username/password?
 * 1 yes, -1 no, 0 too few bytes. The greeting is the client's whole first
 * message (it waits for the server's choice), so nothing may follow it but the
 * login of a client that does not wait.
 */
export function socks5GreetingVerdict(buf: Buffer, start: number, end: number): number {
  if (end <= start || buf[start] !== SOCKS5) return -1;
  if (end - start < 2) return 0;
  const n = buf[start + 1]!;
  if (n === 0) return -1;
  if (end - start < 2 + n) return 0;
  if (end - start > 2 + n && buf[start + 2 + n] !== AUTH_VERSION) return -1;
  let userPass = false;
  for (let i = start + 2; i < start + 2 + n; i++) {
    const m = buf[i]!;
    if (!isMethod(m)) return -1;
    if (m === METHOD_USER_PASS) userPass = true;
  }
  return userPass ? 1 : -1;
}

/** Which message each direction expects next. */
const enum Stage {
  Greeting,
  Login,
  Request,
  Done,
}

/** Length of a CONNECT request or its reply: version, code, reserved, address type, address, port. */
function addressMessageLength(buf: Buffer, start: number, end: number): number {
  if (end - start < 5) return FRAME_NEED_MORE;
  const atyp = buf[start + 3]!;
  if (atyp === ATYP_IPV4) return 10;
  if (atyp === ATYP_IPV6) return 22;
  if (atyp === ATYP_DOMAIN) return 7 + buf[start + 4]!;
  return FRAME_BROKEN;
}

class SocksFraming {
  client = Stage.Greeting;
  server = Stage.Greeting;
}

export class SocksParser extends FramedLoginParser {
  private readonly framing: SocksFraming;
  /** The server accepted the pending login; its report waits for the request, to say where the proxy was asked to go. */
  private accepted = false;

  constructor(session: Session) {
    const framing = new SocksFraming();
    const client: RecordFormat = {
      maxHeader: MAX_MESSAGE,
      frameLength: (buf, start, end) => {
        switch (framing.client) {
          case Stage.Greeting:
            return end - start < 2 ? FRAME_NEED_MORE : 2 + buf[start + 1]!;
          case Stage.Login: {
            // Version, user length, user, password length, password.
            if (end - start < 2) return FRAME_NEED_MORE;
            const ulen = buf[start + 1]!;
            if (end - start < 3 + ulen) return FRAME_NEED_MORE;
            return 3 + ulen + buf[start + 2 + ulen]!;
          }
          case Stage.Request:
            return addressMessageLength(buf, start, end);
          default:
            return FRAME_BROKEN;
        }
      },
    };
    const server: RecordFormat = {
      maxHeader: 5,
      frameLength: (buf, start, end) => (framing.server === Stage.Request ? addressMessageLength(buf, start, end) : framing.server === Stage.Done ? FRAME_BROKEN : 2),
    };
    super(session, client, MAX_MESSAGE, 'socks', 'SOCKS5 stream does not frame as SOCKS5 messages', server);
    this.framing = framing;
  }

  override close(): void {
    if (this.accepted) this.settle('status 0, no request followed');
    super.close();
  }

  record(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    if (fromClient) this.clientMessage(buf, start, end);
    else this.serverMessage(buf, start);
  }

  private clientMessage(buf: Buffer, start: number, end: number): void {
    const f = this.framing;
    if (f.client === Stage.Greeting) {
      f.client = Stage.Login;
    } else if (f.client === Stage.Login) {
      f.client = Stage.Request;
      if (buf[start] !== AUTH_VERSION) return this.broken('SOCKS5 username/password request of an unknown version');
      const ulen = buf[start + 1]!;
      const user = capText(buf.toString('utf8', start + 2, start + 2 + ulen)) || '(no user)';
      const secret = Buffer.from(buf.subarray(start + 3 + ulen, end));
      this.pending.set(this.session.credential({ rule: 'cred-socks', protocol: 'SOCKS5', mechanism: 'username/password (RFC 1929)', user, secret, kind: 'password' }));
    } else if (f.client === Stage.Request) {
      f.client = Stage.Done;
      const c = this.pending.current;
      if (c !== null && this.accepted) {
        c.context = `${CMD_NAMES[buf[start + 1]!] ?? `command ${buf[start + 1]}`} ${requestTarget(buf, start, end)}`;
        this.settle('status 0');
      }
      this.session.stop();
    }
  }

  private serverMessage(buf: Buffer, start: number): void {
    const f = this.framing;
    const version = buf[start];
    // RFC 1929's status carries version 1; some servers answer with SOCKS5's 5.
    if (version !== SOCKS5 && !(f.server === Stage.Login && version === AUTH_VERSION)) return this.broken('SOCKS5 server message of an unknown version');
    if (f.server === Stage.Greeting) {
      // The method the server chose; anything but username/password leaves nothing to read.
      if (buf[start + 1] === METHOD_USER_PASS) f.server = Stage.Login;
      else this.session.stop();
    } else if (f.server === Stage.Login) {
      f.server = Stage.Request;
      // 0 is success; anything else a failure, after which the server closes the connection.
      if (buf[start + 1] === 0) this.accepted = true;
      else this.pending.resolve('failed', `status ${buf[start + 1]}`);
    } else {
      this.session.stop();
    }
  }

  private settle(detail: string): void {
    this.accepted = false;
    this.pending.resolve('succeeded', detail);
  }

  protected override broken(reason: string): void {
    this.accepted = false;
    super.broken(reason);
  }
}

/** "host:port" of a request (its length checked by the framer). */
function requestTarget(buf: Buffer, start: number, end: number): string {
  const atyp = buf[start + 3];
  const port = buf.readUInt16BE(end - 2);
  if (atyp === ATYP_IPV4) return `${ip4ToString(buf.readUInt32BE(start + 4))}:${port}`;
  if (atyp === ATYP_IPV6) return `[${ip6ToString(buf, start + 4)}]:${port}`;
  return `${capText(buf.toString('latin1', start + 5, end - 2))}:${port}`;
}
