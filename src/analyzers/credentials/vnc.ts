import { FRAME_BROKEN, FRAME_NEED_MORE, FramedLoginParser, type RecordFormat } from './record-framer.js';
import type { Session } from './session.js';
import { capText } from './text.js';

// VNC (RFB 3.3, 3.7, 3.8) logins, recognised by the server's "RFB 003.00x"
// greeting on any port. VNC authentication (security type 2) is a DES
// challenge-response keyed by the password's first eight characters: the
// challenge and the response on the wire crack offline (John the Ripper's
// $vnc$ format). VeNCrypt's Plain subtype sends a user name and password in
// clear. The SecurityResult gives the verdict. Tight, Apple (ARD) and
// UltraVNC's logons, and connections the VNC server opens to a listening
// viewer, are not read.

/** "RFB 003.008\n" */
const VERSION_LENGTH = 12;
const VERSION_LINE = /^RFB (\d{3})\.(\d{3})\n$/;
const SEC_INVALID = 0;
const SEC_VNC_AUTH = 2;
const SEC_VENCRYPT = 19;
const VENCRYPT_PLAIN = 256;
const CHALLENGE_LENGTH = 16;
/** A Plain login: two lengths, the user name and the password. Longer is no login worth holding. */
const MAX_MESSAGE = 4096;

/** Does a server's first message say RFB? */
export function isRfbGreeting(buf: Buffer, start: number, end: number): boolean {
  return end - start >= VERSION_LENGTH && VERSION_LINE.test(buf.toString('latin1', start, start + VERSION_LENGTH));
}

/** What each direction's next message is. */
const enum Next {
  Version,
  /** 3.7 and later: the server's list of security types; the client's choice of one. */
  SecurityTypes,
  /** 3.3: the server decides the security type alone. */
  SecurityType33,
  Challenge,
  Response,
  SecurityResult,
  VencryptVersion,
  VencryptAck,
  VencryptSubtypes,
  VencryptChoice,
  PlainLogin,
  Done,
}

class VncState {
  /** Minor version both sides speak (3, 7 or 8 of RFB 3.x); 0 until the client answered the server's. */
  minor = 0;
  server = Next.Version;
  client = Next.Version;
}

function u32(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at);
}

/** A server message's length: fixed, or a count or reason length read from its first bytes. */
function serverLength(s: VncState, buf: Buffer, start: number, end: number): number {
  const have = end - start;
  switch (s.server) {
    case Next.Version:
      return VERSION_LENGTH;
    case Next.SecurityTypes:
      if (have < 1) return FRAME_NEED_MORE;
      if (buf[start] !== 0) return 1 + buf[start]!;
      return have < 5 ? FRAME_NEED_MORE : 5 + u32(buf, start + 1);
    case Next.SecurityType33:
      if (have < 4) return FRAME_NEED_MORE;
      if (u32(buf, start) !== SEC_INVALID) return 4;
      return have < 8 ? FRAME_NEED_MORE : 8 + u32(buf, start + 4);
    case Next.Challenge:
      return CHALLENGE_LENGTH;
    case Next.SecurityResult:
      if (have < 4) return FRAME_NEED_MORE;
      // RFB 3.8 explains a failure with a reason string.
      if (u32(buf, start) === 0 || s.minor < 8) return 4;
      return have < 8 ? FRAME_NEED_MORE : 8 + u32(buf, start + 4);
    case Next.VencryptVersion:
      return 2;
    case Next.VencryptAck:
      return 1;
    case Next.VencryptSubtypes:
      return have < 1 ? FRAME_NEED_MORE : 1 + 4 * buf[start]!;
    default:
      return FRAME_BROKEN;
  }
}

function clientLength(s: VncState, buf: Buffer, start: number, end: number): number {
  switch (s.client) {
    case Next.Version:
      return VERSION_LENGTH;
    case Next.SecurityTypes:
      return 1;
    case Next.Response:
      return CHALLENGE_LENGTH;
    case Next.VencryptVersion:
      return 2;
    case Next.VencryptChoice:
      return 4;
    case Next.PlainLogin:
      return end - start < 8 ? FRAME_NEED_MORE : 8 + u32(buf, start) + u32(buf, start + 4);
    default:
      return FRAME_BROKEN;
  }
}

export class VncParser extends FramedLoginParser {
  private readonly state: VncState;
  private serverMinor = 0;
  private readonly challenge = Buffer.alloc(CHALLENGE_LENGTH);

  constructor(session: Session) {
    const state = new VncState();
    const client: RecordFormat = { maxHeader: 8, frameLength: (buf, start, end) => clientLength(state, buf, start, end) };
    const server: RecordFormat = { maxHeader: 8, frameLength: (buf, start, end) => serverLength(state, buf, start, end) };
    super(session, client, MAX_MESSAGE, 'vnc', 'VNC stream does not frame as RFB handshake messages', server);
    this.state = state;
  }

  record(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    if (fromClient) this.clientMessage(buf, start, end);
    else this.serverMessage(buf, start, end);
  }

  private serverMessage(buf: Buffer, start: number, end: number): void {
    const s = this.state;
    switch (s.server) {
      case Next.Version: {
        const m = VERSION_LINE.exec(buf.toString('latin1', start, end));
        if (!m) return this.broken('RFB server version is not "RFB xxx.yyy"');
        this.serverMinor = Number(m[1]) === 3 ? Number(m[2]) : 8;
        // What follows depends on the version the client answers with.
        s.server = Next.Done;
        return;
      }
      case Next.SecurityTypes: {
        const n = buf[start]!;
        if (n === 0) return this.finish();
        const types = buf.subarray(start + 1, end);
        // The client's choice decides the rest.
        s.server = Next.Done;
        if (!types.includes(SEC_VNC_AUTH) && !types.includes(SEC_VENCRYPT)) this.finish();
        return;
      }
      case Next.SecurityType33: {
        const type = u32(buf, start);
        if (type === SEC_VNC_AUTH) {
          s.server = Next.Challenge;
          s.client = Next.Response;
        } else {
          this.finish();
        }
        return;
      }
      case Next.Challenge:
        buf.copy(this.challenge, 0, start, end);
        s.server = Next.SecurityResult;
        return;
      case Next.SecurityResult: {
        const result = u32(buf, start);
        if (result === 0) this.pending.resolve('succeeded', 'SecurityResult OK');
        else this.pending.resolve('failed', `SecurityResult failed${end - start > 8 ? ` (${capText(buf.toString('latin1', start + 8, Math.min(end, start + 88)))})` : ''}`);
        return this.finish();
      }
      case Next.VencryptVersion:
        s.server = Next.VencryptAck;
        return;
      case Next.VencryptAck:
        if (buf[start] !== 0) return this.finish();
        s.server = Next.VencryptSubtypes;
        return;
      case Next.VencryptSubtypes: {
        let plain = false;
        for (let at = start + 1; at < end; at += 4) if (u32(buf, at) === VENCRYPT_PLAIN) plain = true;
        if (!plain) return this.finish();
        s.server = Next.Done;
        s.client = Next.VencryptChoice;
        return;
      }
      default:
        return;
    }
  }

  private clientMessage(buf: Buffer, start: number, end: number): void {
    const s = this.state;
    switch (s.client) {
      case Next.Version: {
        const m = VERSION_LINE.exec(buf.toString('latin1', start, end));
        if (!m) return this.broken('RFB client version is not "RFB xxx.yyy"');
        const clientMinor = Number(m[1]) === 3 ? Number(m[2]) : 8;
        // Versions between the published ones (3.5, Apple's 3.889) speak as the one below them.
        const minor = Math.min(this.serverMinor, clientMinor);
        s.minor = minor >= 8 ? 8 : minor === 7 ? 7 : 3;
        s.server = s.minor >= 7 ? Next.SecurityTypes : Next.SecurityType33;
        s.client = s.minor >= 7 ? Next.SecurityTypes : Next.Done;
        return;
      }
      case Next.SecurityTypes: {
        const type = buf[start]!;
        if (type === SEC_VNC_AUTH) {
          s.server = Next.Challenge;
          s.client = Next.Response;
        } else if (type === SEC_VENCRYPT) {
          s.server = Next.VencryptVersion;
          s.client = Next.VencryptVersion;
        } else {
          this.finish();
        }
        return;
      }
      case Next.Response: {
        const line = `$vnc$*${this.challenge.toString('hex').toUpperCase()}*${buf.toString('hex', start, end).toUpperCase()}`;
        this.pending.set(
          this.session.credential({
            rule: 'cred-vnc',
            protocol: 'VNC',
            mechanism: `password authentication (RFB 3.${s.minor})`,
            user: '(no user)',
            secret: Buffer.from(line, 'latin1'),
            kind: 'hash',
            proof: 'a VNC DES challenge-response',
          }),
        );
        s.client = Next.Done;
        return;
      }
      case Next.VencryptVersion:
        s.client = Next.Done;
        return;
      case Next.VencryptChoice:
        if (u32(buf, start) !== VENCRYPT_PLAIN) return this.finish();
        s.client = Next.PlainLogin;
        return;
      case Next.PlainLogin: {
        const userEnd = start + 8 + u32(buf, start);
        this.pending.set(
          this.session.credential({
            rule: 'cred-vnc',
            protocol: 'VNC',
            mechanism: `VeNCrypt Plain (RFB 3.${s.minor})`,
            user: capText(buf.toString('utf8', start + 8, userEnd)) || '(empty user)',
            secret: Buffer.from(buf.subarray(userEnd, end)),
            kind: 'password',
          }),
        );
        s.client = Next.Done;
        s.server = Next.SecurityResult;
        return;
      }
      default:
        return;
    }
  }

}
