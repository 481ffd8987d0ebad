import { FRAME_NEED_MORE, FramedLoginParser, type RecordFormat } from './record-framer.js';
import type { Session } from './session.js';
import { capText, nulEnd } from './text.js';

// MySQL and MariaDB logins (client/server protocol 4.1) on 3306 or any port
// whose server greets with a protocol-10 handshake. mysql_native_password
// sends SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))), the 20-byte
// scramble being in the server's greeting (or an AuthSwitchRequest): cracked
// offline (hashcat 11200, $mysqlna$scramble*response). mysql_clear_password
// sends the password itself. caching_sha2_password and ed25519 exchanges are
// not reported; a connection that asks for SSL is not followed.

const MAX_PACKET = 65536;
const PROTOCOL_10 = 0x0a;
const CLIENT_CONNECT_WITH_DB = 0x00000008;
const CLIENT_SSL = 0x00000800;
const CLIENT_SECURE_CONNECTION = 0x00008000;
const CLIENT_PLUGIN_AUTH = 0x00080000;
const CLIENT_PLUGIN_AUTH_LENENC = 0x00200000;
const SCRAMBLE = 20;
const NATIVE = 'mysql_native_password';
const CLEAR = 'mysql_clear_password';
const OK = 0x00;
const AUTH_SWITCH = 0xfe;
const ERR = 0xff;

/** Packets: a 3-byte little-endian length and a sequence number, then the payload. */
const MYSQL_PACKETS: RecordFormat = {
  maxHeader: 4,
  frameLength(buf, start, end) {
    if (end - start < 4) return FRAME_NEED_MORE;
    return 4 + (buf[start]! | (buf[start + 1]! << 8) | (buf[start + 2]! << 16));
  },
};

/** Does a server stream begin with a protocol-10 greeting (sequence 0, a printable version ended by NUL)? 1 yes, -1 no, 0 too few bytes. */
export function mysqlGreetingVerdict(buf: Buffer, start: number, end: number): number {
  if (end - start < 6) return end - start < 4 || (buf[start + 3] === 0 && buf[start + 4] === PROTOCOL_10) ? 0 : -1;
  const len = buf[start]! | (buf[start + 1]! << 8) | (buf[start + 2]! << 16);
  if (buf[start + 3] !== 0 || buf[start + 4] !== PROTOCOL_10 || len < 40 || len > 1024) return -1;
  for (let i = start + 5; i < end && i < start + 4 + len; i++) {
    const c = buf[i]!;
    if (c === 0) return i > start + 5 ? 1 : -1;
    if (c < 0x20 || c > 0x7e) return -1;
  }
  return end - start < 4 + len ? 0 : -1;
}

export class MysqlParser extends FramedLoginParser {
  /** The scramble of the greeting or of the last AuthSwitchRequest (hex), and the plugin it goes with. */
  private scramble = '';
  private plugin = '';
  private user = '';
  private database = '';
  /** The client's next packet is its answer to an AuthSwitchRequest. */
  private switched = false;
  private greeted = false;

  constructor(session: Session) {
    super(session, MYSQL_PACKETS, MAX_PACKET, 'mysql', 'MySQL stream does not frame as packets');
  }

  record(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    const p = start + 4;
    if (p >= end) return;
    if (fromClient) this.clientPacket(buf, p, end);
    else this.serverPacket(buf, p, end);
  }

  private serverPacket(buf: Buffer, p: number, end: number): void {
    if (!this.greeted) {
      this.greeting(buf, p, end);
      return;
    }
    const type = buf[p]!;
    if (type === AUTH_SWITCH && end - p > 1) {
      const nameEnd = nulEnd(buf, p + 1, end);
      this.plugin = buf.toString('latin1', p + 1, nameEnd);
      const data = nameEnd + 1;
      this.scramble = end - data >= SCRAMBLE ? buf.toString('hex', data, data + SCRAMBLE) : '';
      this.switched = true;
      // The first answer was for another plugin: the one that follows decides.
      this.pending.drop();
      return;
    }
    if (!this.pending.active) return;
    if (type === OK) {
      this.pending.resolve('succeeded', 'OK');
      this.session.stop();
    } else if (type === ERR && end - p >= 3) {
      this.pending.resolve('failed', `ERR ${buf.readUInt16LE(p + 1)}`);
    }
  }

  /** Protocol 10: version, connection id, scramble part 1 (8), capabilities, charset, status, part 2, plugin name. */
  private greeting(buf: Buffer, p: number, end: number): void {
    this.greeted = true;
    if (buf[p] !== PROTOCOL_10) return this.done('MySQL greeting of an unknown protocol version');
    const versionEnd = nulEnd(buf, p + 1, end);
    const part1 = versionEnd + 1 + 4;
    const part2 = part1 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
    if (part2 + 12 > end) return this.done('MySQL greeting truncated');
    this.scramble = buf.toString('hex', part1, part1 + 8) + buf.toString('hex', part2, part2 + 12);
    const nameStart = nulEnd(buf, part2, end) + 1;
    this.plugin = nameStart < end ? buf.toString('latin1', nameStart, nulEnd(buf, nameStart, end)) : NATIVE;
  }

  private clientPacket(buf: Buffer, p: number, end: number): void {
    if (this.switched) {
      this.switched = false;
      this.login(buf, p, end);
      return;
    }
    if (this.user !== '' || end - p < 32) return;
    const caps = buf.readUInt32LE(p);
    if ((caps & CLIENT_SSL) !== 0 && end - p === 32) {
      // SSLRequest: TLS follows.
      this.session.upgraded();
      return;
    }
    let q = p + 32;
    const userEnd = nulEnd(buf, q, end);
    this.user = capText(buf.toString('utf8', q, userEnd)) || '(no user)';
    q = userEnd + 1;
    let authStart = q;
    let authEnd = q;
    if ((caps & CLIENT_PLUGIN_AUTH_LENENC) !== 0 && q < end && buf[q]! < 0xfb) {
      authStart = q + 1;
      authEnd = authStart + buf[q]!;
    } else if ((caps & CLIENT_SECURE_CONNECTION) !== 0 && q < end) {
      authStart = q + 1;
      authEnd = authStart + buf[q]!;
    } else {
      authEnd = nulEnd(buf, q, end);
    }
    if (authEnd > end) return this.session.malformed('mysql', 'MySQL handshake response longer than its packet');
    q = (caps & (CLIENT_PLUGIN_AUTH_LENENC | CLIENT_SECURE_CONNECTION)) !== 0 ? authEnd : authEnd + 1;
    if ((caps & CLIENT_CONNECT_WITH_DB) !== 0 && q < end) {
      const dbEnd = nulEnd(buf, q, end);
      this.database = buf.toString('utf8', q, dbEnd);
      q = dbEnd + 1;
    }
    if ((caps & CLIENT_PLUGIN_AUTH) !== 0 && q < end) this.plugin = buf.toString('latin1', q, nulEnd(buf, q, end));
    this.login(buf, authStart, authEnd);
  }

  /** An auth response for the current plugin: reported when it carries something (an empty one is a password-less account). */
  private login(buf: Buffer, start: number, end: number): void {
    const context = this.database ? `database ${capText(this.database)}` : undefined;
    if (this.plugin === NATIVE && end - start === SCRAMBLE && this.scramble.length === SCRAMBLE * 2) {
      const line = `$mysqlna$${this.scramble}*${buf.toString('hex', start, end)}`;
      this.pending.set(this.session.credential({ rule: 'cred-mysql', protocol: 'MySQL', mechanism: NATIVE, user: this.user, secret: Buffer.from(line, 'latin1'), kind: 'hash', proof: 'a scrambled SHA1 of the password', context }));
    } else if (this.plugin === CLEAR && end > start) {
      const stop = nulEnd(buf, start, end);
      this.pending.set(this.session.credential({ rule: 'cred-mysql', protocol: 'MySQL', mechanism: CLEAR, user: this.user, secret: Buffer.from(buf.subarray(start, stop)), kind: 'password', context }));
    }
  }

  private done(reason: string): void {
    this.session.malformed('mysql', reason);
    this.close();
    this.session.stop();
  }
}
