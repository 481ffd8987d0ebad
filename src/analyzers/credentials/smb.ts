import { findNtlmAuthenticate, parseNtlmAuthenticate } from '../../decode/ntlmssp.js';
import { findNtlmChallenge, ntlmCredential, ntlmRelayKey } from './ntlm.js';
import { apReqTicketCredential } from './kerberos.js';
import { FRAME_BROKEN, FRAME_NEED_MORE, FramedParser, type RecordFormat } from './record-framer.js';
import { PendingById, type Credential, type Outcome, type Session } from './session.js';
import { capText } from './text.js';

// SMB logins ([MS-SMB2], [MS-CIFS]) over TCP 445 or NetBIOS 139, on any port
// where the client's first record is SMB. Each direction is framed by its
// 4-byte session-service header. What a sniffer harvests:
// - SMB2/3 and SMB1 extended-security SESSION_SETUP: the NTLMSSP exchange
//   inside SPNEGO, the server's CHALLENGE in the response that asks for more
//   processing and the client's AUTHENTICATE in the next request: a NetNTLMv2
//   (or v1) hash crackable offline;
// - SMB1 without extended security: the LM/NT responses to the challenge of
//   the NEGOTIATE response, or the password itself when the server did not
//   ask for encrypted passwords.
// The response to each login gives its outcome. Once a login succeeds, the
// session that follows (file data, encrypted from SMB 3 on) is not read.

/** Session setups with Kerberos tickets run to several KB; larger records are file data. */
const MAX_RECORD = 65536;
const MAX_PENDING = 16;
/** Records read without any login in flight before the flow is given up (a capture started mid-session). */
const MAX_IDLE_RECORDS = 64;
/** SMB2 messages compounded in one record that are looked at. */
const MAX_COMPOUND = 16;

const NBSS_MESSAGE = 0x00;
const NBSS_SESSION_REQUEST = 0x81;
const NBSS_TYPES = new Set([0x00, 0x81, 0x82, 0x83, 0x84, 0x85]);
const NBSS_HEADER = 4;

const SMB1_MAGIC = 0xff534d42; // \xffSMB
const SMB2_MAGIC = 0xfe534d42; // \xfeSMB
const SMB2_TRANSFORM = 0xfd534d42; // encrypted
const SMB2_COMPRESSED = 0xfc534d42;

const SMB2_HEADER = 64;
const SMB2_SESSION_SETUP = 0x0001;
const SMB2_NEGOTIATE = 0x0000;
const SMB2_FLAGS_RESPONSE = 0x00000001;
const SMB2_SESSION_FLAG_GUEST = 0x0001;
const SMB2_SESSION_FLAG_NULL = 0x0002;

const SMB1_HEADER = 32;
const SMB1_NEGOTIATE = 0x72;
const SMB1_SESSION_SETUP_ANDX = 0x73;
const SMB1_FLAGS_REPLY = 0x80;
const SMB1_FLAGS2_EXTENDED_SECURITY = 0x0800;
const SMB1_FLAGS2_NT_STATUS = 0x4000;
const SMB1_FLAGS2_UNICODE = 0x8000;
const SMB1_CAP_EXTENDED_SECURITY = 0x80000000;
const SMB1_SECURITY_ENCRYPT_PASSWORDS = 0x02;
const SMB1_ACTION_GUEST = 0x0001;

const STATUS_SUCCESS = 0;
const STATUS_MORE_PROCESSING_REQUIRED = 0xc0000016;

/** Statuses a server returns only once the password checked out: the credential is good. */
const PASSWORD_ACCEPTED = new Set([0xc0000071, 0xc0000224, 0xc000006e, 0xc000006f, 0xc0000070, 0xc0000193]);

const STATUS_NAMES: ReadonlyMap<number, string> = new Map([
  [0x00000000, 'STATUS_SUCCESS'],
  [0xc000006d, 'STATUS_LOGON_FAILURE'],
  [0xc0000022, 'STATUS_ACCESS_DENIED'],
  [0xc0000064, 'STATUS_NO_SUCH_USER'],
  [0xc000006a, 'STATUS_WRONG_PASSWORD'],
  [0xc0000072, 'STATUS_ACCOUNT_DISABLED'],
  [0xc0000234, 'STATUS_ACCOUNT_LOCKED_OUT'],
  [0xc000015b, 'STATUS_LOGON_TYPE_NOT_GRANTED'],
  [0xc0000071, 'STATUS_PASSWORD_EXPIRED'],
  [0xc0000224, 'STATUS_PASSWORD_MUST_CHANGE'],
  [0xc000006e, 'STATUS_ACCOUNT_RESTRICTION'],
  [0xc000006f, 'STATUS_INVALID_LOGON_HOURS'],
  [0xc0000070, 'STATUS_INVALID_WORKSTATION'],
  [0xc0000193, 'STATUS_ACCOUNT_EXPIRED'],
  [0xc00000bb, 'STATUS_NOT_SUPPORTED'],
]);

const DIALECT_NAMES: ReadonlyMap<number, string> = new Map([
  [0x0202, '2.0.2'],
  [0x0210, '2.1'],
  [0x0300, '3.0'],
  [0x0302, '3.0.2'],
  [0x0311, '3.1.1'],
]);

/** NetBIOS session-service records: type, then a 24-bit length (RFC 1002's 17 bits, widened by direct TCP). */
const NBSS_RECORDS: RecordFormat = {
  maxHeader: NBSS_HEADER,
  frameLength(buf, start, end) {
    if (end - start < NBSS_HEADER) return FRAME_NEED_MORE;
    if (!NBSS_TYPES.has(buf[start]!)) return FRAME_BROKEN;
    return NBSS_HEADER + ((buf[start + 1]! << 16) | (buf[start + 2]! << 8) | buf[start + 3]!);
  },
};

/** Does a client stream begin with SMB (a session message holding an SMB header, or a NetBIOS session request)? 1 yes, -1 no, 0 too few bytes. */
export function smbRequestVerdict(buf: Buffer, start: number, end: number): number {
  if (end <= start) return 0;
  const type = buf[start]!;
  if (type === NBSS_SESSION_REQUEST) {
    if (end - start < 5) return 0;
    // Two NetBIOS names of 32 encoded bytes each, with their length bytes and terminators.
    const len = (buf[start + 1]! << 16) | (buf[start + 2]! << 8) | buf[start + 3]!;
    return len >= 68 && len <= 512 && buf[start + 4] === 0x20 ? 1 : -1;
  }
  if (type !== NBSS_MESSAGE) return -1;
  if (end - start < 8) return 0;
  const magic = buf.readUInt32BE(start + 4);
  return magic === SMB1_MAGIC || magic === SMB2_MAGIC ? 1 : -1;
}

function statusText(status: number): string {
  return STATUS_NAMES.get(status) ?? `NT status 0x${status.toString(16).padStart(8, '0')}`;
}

/** Outcome of a login from the server's final status. */
function outcomeOf(status: number): Outcome {
  return status === STATUS_SUCCESS || PASSWORD_ACCEPTED.has(status) ? 'succeeded' : 'failed';
}

export class SmbParser extends FramedParser {
  /** Logins waiting for their response, by message id (SMB2) or multiplex id (SMB1). */
  private readonly pending: PendingById;
  /** The NTLM server challenge of the exchange in progress (hex). */
  private challenge: string | null = null;
  /** SMB1 without extended security: the NEGOTIATE response's challenge, and whether passwords go in clear. */
  private smb1Challenge: string | null = null;
  private smb1Plaintext = false;
  /** The SMB2 dialect the NEGOTIATE response chose. */
  private dialect = '2/3';
  private idleRecords = 0;

  constructor(session: Session) {
    super(session, NBSS_RECORDS, MAX_RECORD, 'smb', 'SMB stream does not frame as NetBIOS session records');
    this.pending = new PendingById(session, MAX_PENDING, 'no SESSION_SETUP response seen', 'message id reused before a response');
  }

  close(): void {
    this.pending.close();
  }

  private done(): void {
    this.close();
    this.session.stop();
  }

  record(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    if (buf[start] !== NBSS_MESSAGE) return;
    const p = start + NBSS_HEADER;
    if (end - p < 4) return;
    const magic = buf.readUInt32BE(p);
    if (magic === SMB2_MAGIC) this.smb2(fromClient, buf, p, end);
    else if (magic === SMB1_MAGIC) this.smb1(fromClient, buf, p, end);
    else if (magic === SMB2_TRANSFORM || magic === SMB2_COMPRESSED) {
      // Encrypted (or compressed) traffic after a login: nothing more to read.
      this.done();
      return;
    } else {
      this.session.malformed('smb', 'NetBIOS session message without an SMB header');
      this.done();
      return;
    }
    if (this.pending.size === 0 && ++this.idleRecords > MAX_IDLE_RECORDS) this.done();
  }

  // --- SMB2/3 ------------------------------------------------------------------

  private smb2(fromClient: boolean, buf: Buffer, hdr: number, end: number): void {
    for (let n = 0; n < MAX_COMPOUND; n++) {
      if (end - hdr < SMB2_HEADER || buf.readUInt16LE(hdr + 4) !== SMB2_HEADER) {
        this.session.malformed('smb', 'SMB2 header truncated');
        return;
      }
      const next = buf.readUInt32LE(hdr + 20);
      // A compounded message ends where the next begins.
      const msgEnd = next === 0 ? end : hdr + next;
      if (next !== 0 && (next < SMB2_HEADER || msgEnd > end)) {
        this.session.malformed('smb', 'SMB2 NextCommand beyond the record');
        return;
      }
      const response = (buf.readUInt32LE(hdr + 16) & SMB2_FLAGS_RESPONSE) !== 0;
      if (response !== fromClient) this.smb2Message(response, buf, hdr, msgEnd);
      if (next === 0) return;
      hdr = msgEnd;
    }
  }

  private smb2Message(response: boolean, buf: Buffer, hdr: number, end: number): void {
    const command = buf.readUInt16LE(hdr + 12);
    const body = hdr + SMB2_HEADER;
    // The message id's low 32 bits pair a request with its response.
    const id = buf.readUInt32LE(hdr + 24);
    if (command === SMB2_NEGOTIATE && response && end - body >= 6) {
      this.dialect = DIALECT_NAMES.get(buf.readUInt16LE(body + 4)) ?? this.dialect;
      return;
    }
    if (command !== SMB2_SESSION_SETUP) return;
    if (!response) {
      if (end - body < 16) return this.session.malformed('smb', 'SMB2 SESSION_SETUP request truncated');
      const len = buf.readUInt16LE(body + 14);
      const blob = this.securityBuffer(hdr, end, buf.readUInt16LE(body + 12), len);
      if (blob >= 0) this.securityBlobLogin(id, buf, blob, blob + len, `session setup (SMB ${this.dialect})`);
      return;
    }
    const status = buf.readUInt32LE(hdr + 8);
    if (status === STATUS_MORE_PROCESSING_REQUIRED) {
      if (end - body < 8) return this.session.malformed('smb', 'SMB2 SESSION_SETUP response truncated');
      const len = buf.readUInt16LE(body + 6);
      const blob = this.securityBuffer(hdr, end, buf.readUInt16LE(body + 4), len);
      if (blob >= 0) this.challenge = findNtlmChallenge(buf, blob, blob + len) ?? this.challenge;
      return;
    }
    const flags = end - body >= 4 ? buf.readUInt16LE(body + 2) : 0;
    this.resolve(id, status, (flags & (SMB2_SESSION_FLAG_GUEST | SMB2_SESSION_FLAG_NULL)) !== 0);
  }

  /** Start of a security buffer given relative to the header, or -1 when it lies outside the message. */
  private securityBuffer(hdr: number, end: number, off: number, len: number): number {
    if (len === 0) return -1;
    if (off < SMB2_HEADER || hdr + off + len > end) {
      this.session.malformed('smb', 'SMB2 security buffer outside the message');
      return -1;
    }
    return hdr + off;
  }

  /** The session setup's security blob: an NTLM AUTHENTICATE, or a Kerberos AP-REQ with its service ticket. */
  private securityBlobLogin(id: number, buf: Buffer, start: number, end: number, carrier: string): void {
    const at = findNtlmAuthenticate(buf, start, end);
    if (at < 0) {
      const ticket = apReqTicketCredential(this.session, 'SMB', carrier, buf, start, end);
      if (ticket) this.addPending(id, ticket);
      return;
    }
    const auth = parseNtlmAuthenticate(buf, at, end);
    if (!auth) return this.session.malformed('smb', 'NTLMSSP AUTHENTICATE fields outside the message');
    const c = ntlmCredential(this.session, auth, this.challenge, 'cred-smb', 'SMB', carrier);
    if (c) this.addPending(id, c);
  }

  private addPending(id: number, c: Credential): void {
    this.pending.add(id, c);
    this.idleRecords = 0;
  }

  private resolve(id: number, status: number, guest: boolean): void {
    const c = this.pending.take(id);
    if (!c) return;
    if (status === STATUS_SUCCESS && guest) {
      // Mapped to the guest account: the server did not accept the credential.
      this.session.report(c, 'failed', `${statusText(status)} as guest`);
      return;
    }
    const outcome = outcomeOf(status);
    this.session.report(c, outcome, status === STATUS_SUCCESS || outcome === 'failed' ? statusText(status) : `password accepted, then ${statusText(status)}`);
    // Logged in: what follows is the session itself.
    if (outcome === 'succeeded' && this.pending.size === 0) this.done();
  }

  // --- SMB1 --------------------------------------------------------------------

  private smb1(fromClient: boolean, buf: Buffer, hdr: number, end: number): void {
    if (end - hdr < SMB1_HEADER + 3) {
      this.session.malformed('smb', 'SMB1 header truncated');
      return;
    }
    const reply = (buf[hdr + 9]! & SMB1_FLAGS_REPLY) !== 0;
    if (reply === fromClient) return;
    const command = buf[hdr + 4]!;
    const flags2 = buf.readUInt16LE(hdr + 10);
    const mid = buf.readUInt16LE(hdr + 30);
    const words = hdr + SMB1_HEADER + 1;
    const wordCount = buf[hdr + SMB1_HEADER]!;
    const bytesAt = words + wordCount * 2;
    if (bytesAt + 2 > end) {
      this.session.malformed('smb', 'SMB1 parameter words beyond the message');
      return;
    }
    const byteCount = buf.readUInt16LE(bytesAt);
    const data = bytesAt + 2;
    const dataEnd = Math.min(end, data + byteCount);
    if (command === SMB1_NEGOTIATE && reply) {
      this.smb1Negotiated(buf, words, wordCount, data, dataEnd);
    } else if (command === SMB1_SESSION_SETUP_ANDX && !reply) {
      if (wordCount === 12 && (flags2 & SMB1_FLAGS2_EXTENDED_SECURITY) !== 0) {
        const blobLen = buf.readUInt16LE(words + 14);
        this.securityBlobLogin(mid, buf, data, Math.min(dataEnd, data + blobLen), 'session setup (SMB1)');
      } else if (wordCount === 13) {
        this.smb1Login(buf, hdr, words, data, dataEnd, flags2, mid);
      }
    } else if (command === SMB1_SESSION_SETUP_ANDX && reply) {
      const status = (flags2 & SMB1_FLAGS2_NT_STATUS) !== 0 ? buf.readUInt32LE(hdr + 5) : dosStatus(buf, hdr);
      if (status === STATUS_MORE_PROCESSING_REQUIRED) {
        this.challenge = findNtlmChallenge(buf, data, dataEnd) ?? this.challenge;
        return;
      }
      const guest = wordCount >= 3 && (buf.readUInt16LE(words + 4) & SMB1_ACTION_GUEST) !== 0;
      this.resolve(mid, status, guest);
    }
  }

  private smb1Negotiated(buf: Buffer, words: number, wordCount: number, data: number, dataEnd: number): void {
    // NT LM 0.12: 17 words; SecurityMode at byte 2, Capabilities at 19, ChallengeLength at 33.
    if (wordCount !== 17) return;
    const securityMode = buf[words + 2]!;
    const capabilities = buf.readUInt32LE(words + 19);
    if ((capabilities & SMB1_CAP_EXTENDED_SECURITY) !== 0) return;
    this.smb1Plaintext = (securityMode & SMB1_SECURITY_ENCRYPT_PASSWORDS) === 0;
    const challengeLen = buf[words + 33]!;
    if (challengeLen === 8 && data + 8 <= dataEnd) this.smb1Challenge = buf.toString('hex', data, data + 8);
  }

  /** SESSION_SETUP_ANDX without extended security: LM/NT responses (or passwords) in the request itself. */
  private smb1Login(buf: Buffer, hdr: number, words: number, data: number, dataEnd: number, flags2: number, mid: number): void {
    const oemLen = buf.readUInt16LE(words + 14);
    const uniLen = buf.readUInt16LE(words + 16);
    const oem = data;
    const uni = oem + oemLen;
    let p = uni + uniLen;
    if (p > dataEnd) return this.session.malformed('smb', 'SMB1 SESSION_SETUP_ANDX passwords beyond the message');
    const unicode = (flags2 & SMB1_FLAGS2_UNICODE) !== 0;
    if (unicode && (p - hdr) % 2 === 1) p++;
    const account = readSmbString(buf, p, dataEnd, unicode);
    const domain = readSmbString(buf, account.next, dataEnd, unicode);
    const user = domain.text ? `${domain.text}\\${account.text}` : account.text;
    if (oemLen + uniLen === 0 || (user === '' && oemLen <= 1)) return; // anonymous
    let c: Credential;
    if (this.smb1Plaintext) {
      const pw = uniLen > 0 ? Buffer.from(buf.toString('utf16le', uni, uni + uniLen).replace(/\0+$/, ''), 'utf8') : Buffer.from(buf.toString('latin1', oem, uni).replace(/\0+$/, ''), 'latin1');
      c = this.session.credential({ rule: 'cred-smb', protocol: 'SMB', mechanism: 'session setup (SMB1) with a plaintext password', user: capText(user), secret: pw, kind: 'password' });
    } else {
      const chal = this.smb1Challenge ?? '(server challenge not captured)';
      const v2 = uniLen > 24;
      const lm = buf.toString('hex', oem, uni);
      const line = v2 ? `${account.text}::${domain.text}:${chal}:${buf.toString('hex', uni, uni + 16)}:${buf.toString('hex', uni + 16, uni + uniLen)}` : `${account.text}::${domain.text}:${lm}:${buf.toString('hex', uni, uni + uniLen)}:${chal}`;
      c = this.session.credential({
        rule: 'cred-smb',
        protocol: 'SMB',
        mechanism: `session setup (SMB1) with ${v2 ? 'NTLMv2' : uniLen === 24 ? 'NTLMv1' : 'LM'}`,
        user: capText(user),
        secret: Buffer.from(line, 'latin1'),
        kind: 'hash',
        proof: 'an NTLM challenge-response',
        weakHash: !v2,
        relayKey: ntlmRelayKey(capText(user), buf, uni, uni + uniLen),
      });
    }
    this.addPending(mid, c);
  }
}

/** An SMB1 DOS-style error (class, reserved, code) as a non-zero number, or 0 for success. */
function dosStatus(buf: Buffer, hdr: number): number {
  const cls = buf[hdr + 5]!;
  return cls === 0 ? STATUS_SUCCESS : (0x80000000 | (cls << 16) | buf.readUInt16LE(hdr + 7)) >>> 0;
}

/** A NUL-terminated SMB1 string (UTF-16LE or OEM), capped; `next` is just past its terminator. */
function readSmbString(buf: Buffer, start: number, end: number, unicode: boolean): { text: string; next: number } {
  const step = unicode ? 2 : 1;
  let p = start;
  while (p + step <= end && (unicode ? buf.readUInt16LE(p) : buf[p]) !== 0) p += step;
  const text = capText(buf.toString(unicode ? 'utf16le' : 'latin1', start, p));
  return { text, next: Math.min(end, p + step) };
}
