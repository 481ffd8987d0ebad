import { FRAME_BROKEN, FRAME_NEED_MORE, FramedLoginParser, type RecordFormat } from './record-framer.js';
import type { Session } from './session.js';
import { capText } from './text.js';

// MQTT logins (3.1, 3.1.1 and 5.0), on 1883 or any port whose client opens with
// a CONNECT: the user name and password travel in the CONNECT's payload as
// sent, and the broker's CONNACK says whether it took them. IoT devices and
// their brokers are where this runs without TLS. MQTT 5's enhanced
// authentication (AUTH packets, SCRAM and the like) is not read.

const CONNECT = 1;
const CONNACK = 2;
/** A CONNECT with a will, a long client id and a token as password stays well under this. */
const MAX_PACKET = 16384;
/** The fixed header: one type byte and a remaining length of at most four bytes. */
const MAX_FIXED_HEADER = 5;

const FLAG_USERNAME = 0x80;
const FLAG_PASSWORD = 0x40;
const FLAG_WILL = 0x04;
const FLAG_RESERVED = 0x01;

const LEVEL_NAMES: Record<number, string> = { 3: 'MQTT 3.1', 4: 'MQTT 3.1.1', 5: 'MQTT 5.0' };

/** CONNACK return codes (3.1, 3.1.1) and reason codes (5.0) that refuse the credentials themselves. */
const REFUSED_CREDENTIALS = new Set([4, 5, 0x86, 0x87, 0x8c]);

/** Where the variable-length integer readVarint read last ends (a number beside its result, not an object per packet). */
let varintEnd = 0;

/** Reads the variable-length integer at buf[at] (at most four bytes): its value, -1 when more bytes are needed, -2 when broken. */
function readVarint(buf: Buffer, at: number, end: number): number {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    if (at + i >= end) return -1;
    const b = buf[at + i]!;
    value += (b & 0x7f) * 128 ** i;
    if ((b & 0x80) === 0) {
      varintEnd = at + i + 1;
      return value;
    }
  }
  return -2;
}

/** Total length of the packet at buf[start] from its fixed header. */
function packetLength(buf: Buffer, start: number, end: number): number {
  const remaining = readVarint(buf, start + 1, end);
  if (remaining === -1) return FRAME_NEED_MORE;
  if (remaining === -2) return FRAME_BROKEN;
  return varintEnd - start + remaining;
}

const FORMAT: RecordFormat = { maxHeader: MAX_FIXED_HEADER, frameLength: packetLength };

/**
 * Does a client stream begin with an MQTT CONNECT? 1 yes, -1 no, 0 too few
 * bytes. The fixed header (type 1, flags 0), then the protocol name "MQTT"
 * (3.1.1, 5.0) or "MQIsdp" (3.1) and a level that goes with it.
 */
export function mqttConnectVerdict(buf: Buffer, start: number, end: number): number {
  if (end <= start || buf[start] !== CONNECT << 4) return -1;
  const remaining = readVarint(buf, start + 1, end);
  if (remaining === -1) return 0;
  if (remaining < 0) return -1;
  const p = varintEnd;
  if (end - p < 2) return 0;
  const nameLen = buf.readUInt16BE(p);
  if (nameLen !== 4 && nameLen !== 6) return -1;
  if (end - p < 3 + nameLen) return 0;
  const name = buf.toString('latin1', p + 2, p + 2 + nameLen);
  const level = buf[p + 2 + nameLen]!;
  return (name === 'MQTT' && (level === 4 || level === 5)) || (name === 'MQIsdp' && level === 3) ? 1 : -1;
}

/** The fields of a CONNECT a finding names. */
interface ConnectLogin {
  level: number;
  clientId: string;
  user: string | null;
  password: Buffer | null;
}

/** A cursor over one packet that fails (returns null) on anything running past its end. */
class PacketReader {
  pos = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly end: number,
  ) {}

  byte(): number | null {
    return this.pos < this.end ? this.buf[this.pos++]! : null;
  }

  u16(): number | null {
    if (this.end - this.pos < 2) return null;
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  /** A two-byte length and that many bytes: their [start, end) in the packet. */
  field(): [number, number] | null {
    const n = this.u16();
    if (n === null || this.end - this.pos < n) return null;
    this.pos += n;
    return [this.pos - n, this.pos];
  }

  /** MQTT 5 properties: a variable-length size and that many bytes, passed over. */
  skipProperties(): boolean {
    const n = readVarint(this.buf, this.pos, this.end);
    if (n < 0 || this.end - varintEnd < n) return false;
    this.pos = varintEnd + n;
    return true;
  }
}

/** The CONNECT in buf[start, end) (whole, framed), or a reason it is malformed. */
function readConnect(buf: Buffer, start: number, end: number): ConnectLogin | string {
  readVarint(buf, start + 1, end);
  const r = new PacketReader(buf, end);
  r.pos = varintEnd;
  const name = r.field();
  const level = r.byte();
  const flags = r.byte();
  if (name === null || level === null || flags === null || r.u16() === null) return 'CONNECT shorter than its variable header';
  if ((flags & FLAG_RESERVED) !== 0) return 'CONNECT with the reserved flag set';
  if (level === 5 && !r.skipProperties()) return 'CONNECT properties run past the packet';
  const clientId = r.field();
  if (clientId === null) return 'CONNECT client identifier runs past the packet';
  if ((flags & FLAG_WILL) !== 0) {
    if (level === 5 && !r.skipProperties()) return 'CONNECT will properties run past the packet';
    if (r.field() === null || r.field() === null) return 'CONNECT will topic or message runs past the packet';
  }
  const user = (flags & FLAG_USERNAME) !== 0 ? r.field() : undefined;
  const password = (flags & FLAG_PASSWORD) !== 0 ? r.field() : undefined;
  if (user === null || password === null) return 'CONNECT user name or password runs past the packet';
  return {
    level,
    clientId: buf.toString('utf8', clientId[0], clientId[1]),
    user: user === undefined ? null : buf.toString('utf8', user[0], user[1]),
    password: password === undefined ? null : Buffer.from(buf.subarray(password[0], password[1])),
  };
}

export class MqttParser extends FramedLoginParser {
  private connected = false;
  private level = 4;

  constructor(session: Session) {
    super(session, FORMAT, MAX_PACKET, 'mqtt', 'MQTT stream does not frame as MQTT packets');
  }

  record(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    const type = buf[start]! >> 4;
    if (fromClient) {
      // Only the first packet may be a CONNECT; what follows it (PUBLISH, SUBSCRIBE) carries no login.
      if (this.connected) return;
      this.connected = true;
      if (type === CONNECT) this.connect(buf, start, end);
      else this.session.stop();
    } else if (type === CONNACK) {
      this.connack(buf, start, end);
    }
  }

  private connect(buf: Buffer, start: number, end: number): void {
    const c = readConnect(buf, start, end);
    if (typeof c === 'string') return this.broken(c);
    this.level = c.level;
    // A user name alone proves nothing on the wire (the broker may check a client certificate).
    if (c.password === null) {
      this.session.stop();
      return;
    }
    this.pending.set(
      this.session.credential({
        rule: 'cred-mqtt',
        protocol: 'MQTT',
        mechanism: `CONNECT (${LEVEL_NAMES[c.level] ?? `level ${c.level}`})`,
        user: c.user === null ? '(no user)' : capText(c.user) || '(empty user)',
        secret: c.password,
        kind: 'password',
        context: `client id '${capText(c.clientId) || '(empty)'}'`,
      }),
    );
  }

  private connack(buf: Buffer, start: number, end: number): void {
    readVarint(buf, start + 1, end);
    const at = varintEnd;
    if (end - at < 2) {
      this.session.malformed('mqtt', 'CONNACK shorter than its variable header');
      this.pending.close();
    } else {
      const code = buf[at + 1]!;
      const what = `${this.level === 5 ? 'reason code' : 'return code'} 0x${code.toString(16).padStart(2, '0')}`;
      if (code === 0) this.pending.resolve('succeeded', `CONNACK ${what}`);
      else if (REFUSED_CREDENTIALS.has(code)) this.pending.resolve('failed', `CONNACK ${what}`);
      // Refused for another reason (protocol version, server busy): the password was not judged.
      else this.pending.resolve('unknown', `CONNACK ${what}, refused before the password was checked`);
    }
    this.session.stop();
  }
}
