import { BerHeader, BerStatus, BerTlv, readBerHeader, readBerInt, readTlv } from '../../decode/ber.js';
import { findNtlmAuthenticate, parseNtlmAuthenticate } from '../../decode/ntlmssp.js';
import { crackableNtlm, findNtlmChallenge } from './ntlm.js';
import type { Credential, ProtocolParser, Session } from './session.js';
import { capText, type BufferBudget } from './text.js';

// LDAP (RFC 4511) over TCP: a stream of BER LDAPMessages. Each direction is
// framed by the outer SEQUENCE's length; messages up to MAX_MESSAGE bytes are
// assembled and walked, longer ones (search results) are skipped by length
// without buffering. A simple BindRequest carries the DN and password in
// clear; a SASL PLAIN bind the same in base form; a SASL GSS-SPNEGO/NTLM bind
// a NetNTLM response (crackable offline). Other SASL binds (GSSAPI, CRAM-MD5,
// DIGEST-MD5, EXTERNAL) expose no reusable secret and are not reported. The
// BindResponse with the same messageID says success (0) or not (49:
// invalidCredentials).

const MAX_MESSAGE = 16384;
const MAX_PENDING = 16;
const TAG_SEQUENCE = 0x30;
const TAG_INTEGER = 0x02;
const TAG_OCTETS = 0x04;
const TAG_ENUM = 0x0a;
const TAG_BIND_REQUEST = 0x60;
const TAG_BIND_RESPONSE = 0x61;
const TAG_EXTENDED_REQUEST = 0x77;
const TAG_EXTENDED_RESPONSE = 0x78;
const TAG_AUTH_SIMPLE = 0x80;
const TAG_AUTH_SASL = 0xa3;
const TAG_SERVER_SASL_CREDS = 0x87;
const TAG_EXT_NAME = 0x80;
const START_TLS_OID = '1.3.6.1.4.1.1466.20037';
const RESULT_SUCCESS = 0;
const RESULT_SASL_IN_PROGRESS = 14;

/** Request tags (protocolOp) a client's first LDAPMessage can carry. */
const REQUEST_TAGS = new Set([0x60, 0x42, 0x63, 0x66, 0x68, 0x4a, 0x6c, 0x6e, 0x50, 0x77]);

const RESULT_NAMES: Record<number, string> = {
  0: 'success',
  7: 'authMethodNotSupported',
  8: 'strongerAuthRequired',
  13: 'confidentialityRequired',
  14: 'saslBindInProgress',
  32: 'noSuchObject',
  48: 'inappropriateAuthentication',
  49: 'invalidCredentials',
  50: 'insufficientAccessRights',
  53: 'unwillingToPerform',
};

/** Headers of elements whose content may not have arrived yet (stream framing, first-bytes test). */
const elementHeader = new BerHeader();

/** Reads a complete element into `out`; its tag, or -1 when malformed or cut. */
function tlv(buf: Buffer, pos: number, end: number, out: BerTlv): number {
  return readTlv(buf, pos, end, out) === BerStatus.Ok ? out.tag : -1;
}

/** A messageID or resultCode: a non-negative INTEGER/ENUMERATED, or -1. */
function smallInt(buf: Buffer, t: BerTlv): number {
  const v = readBerInt(buf, t.start, t.end);
  return v >= 0 ? v : -1;
}

/**
 * Does buf[start, end) begin with an LDAP request (SEQUENCE { messageID, a
 * request op })? 1 yes, -1 no, 0 too few bytes to tell. Used to recognise
 * LDAP on any port.
 */
export function ldapRequestVerdict(buf: Buffer, start: number, end: number): number {
  if (end <= start) return 0;
  if (buf[start] !== TAG_SEQUENCE) return -1;
  let status = readBerHeader(buf, start, end, elementHeader);
  if (status === BerStatus.Truncated) return 0;
  if (status !== BerStatus.Ok) return -1;
  const msgEnd = elementHeader.valueStart + elementHeader.length;
  const idAt = elementHeader.valueStart;
  if (idAt >= end) return 0;
  if (buf[idAt] !== TAG_INTEGER) return -1;
  status = readBerHeader(buf, idAt, end, elementHeader);
  if (status === BerStatus.Truncated) return 0;
  const idLen = elementHeader.length;
  if (status !== BerStatus.Ok || idLen < 1 || idLen > 4) return -1;
  const opAt = elementHeader.valueStart + idLen;
  if (opAt >= msgEnd) return -1;
  if (opAt >= end) return 0;
  if (!REQUEST_TAGS.has(buf[opAt]!)) return -1;
  status = readBerHeader(buf, opAt, end, elementHeader);
  if (status === BerStatus.Truncated) return 0;
  if (status !== BerStatus.Ok) return -1;
  return elementHeader.valueStart + elementHeader.length <= msgEnd ? 1 : -1;
}

/** Frames one direction's byte stream into LDAPMessages. */
class MessageFramer {
  private header = Buffer.alloc(6);
  private headerLen = 0;
  private msg: Buffer | null = null;
  private msgLen = 0;
  private skipLeft = 0;
  /** The stream does not frame as BER: malformed. */
  broken = false;
  /** Bytes were lost: framing cannot be trusted any more. */
  lost = false;

  constructor(
    private readonly budget: BufferBudget,
    private readonly onMessage: (buf: Buffer, start: number, end: number) => void,
  ) {}

  /** Gives the message being assembled back to the budget. */
  release(): void {
    if (this.msg !== null) this.budget.give(this.msg.length);
    this.msg = null;
  }

  private complete(): void {
    const m = this.msg!;
    this.msg = null;
    this.onMessage(m, 0, m.length);
    this.budget.give(m.length);
  }

  push(buf: Buffer, start: number, end: number): void {
    if (this.lost) return;
    let i = start;
    while (i < end && !this.broken) {
      if (this.skipLeft > 0) {
        const n = Math.min(this.skipLeft, end - i);
        this.skipLeft -= n;
        i += n;
        continue;
      }
      if (this.msg !== null) {
        const n = Math.min(this.msg.length - this.msgLen, end - i);
        buf.copy(this.msg, this.msgLen, i, i + n);
        this.msgLen += n;
        i += n;
        if (this.msgLen === this.msg.length) this.complete();
        continue;
      }
      // Whole message inside this chunk, no header pending: walked in place.
      if (this.headerLen === 0 && readBerHeader(buf, i, end, elementHeader) === BerStatus.Ok) {
        const msgEnd = elementHeader.valueStart + elementHeader.length;
        if (elementHeader.tag === TAG_SEQUENCE && msgEnd <= end) {
          this.onMessage(buf, i, msgEnd);
          i = msgEnd;
          continue;
        }
      }
      this.header[this.headerLen++] = buf[i++]!;
      const status = readBerHeader(this.header, 0, this.headerLen, elementHeader);
      if (status === BerStatus.Truncated && this.headerLen < this.header.length) continue;
      if (status !== BerStatus.Ok || elementHeader.tag !== TAG_SEQUENCE) {
        this.broken = true;
        return;
      }
      const h = elementHeader.valueStart;
      const total = h + elementHeader.length;
      this.headerLen = 0;
      // Longer messages (search results) and messages the budget cannot hold are skipped by length.
      if (total > MAX_MESSAGE || !this.budget.take(total)) {
        this.skipLeft = total - h;
        continue;
      }
      this.msg = Buffer.allocUnsafe(total);
      this.header.copy(this.msg, 0, 0, h);
      this.msgLen = h;
      if (this.msgLen === total) this.complete();
    }
  }
}

export class LdapParser implements ProtocolParser {
  private readonly client: MessageFramer;
  private readonly server: MessageFramer;
  /** Binds waiting for their BindResponse, by messageID. */
  private readonly pending = new Map<number, Credential>();
  private startTlsId = -1;
  private serverChallenge: string | null = null;
  private readonly t = new BerTlv();
  private readonly t2 = new BerTlv();

  constructor(private readonly session: Session) {
    this.client = new MessageFramer(session.budget, (b, s, e) => this.clientMessage(b, s, e));
    this.server = new MessageFramer(session.budget, (b, s, e) => this.serverMessage(b, s, e));
  }

  data(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    const f = fromClient ? this.client : this.server;
    f.push(buf, start, end);
    if (f.broken) {
      this.session.malformed('ldap', 'LDAP stream does not frame as BER messages');
      this.close();
      this.session.stop();
    }
  }

  gap(fromClient: boolean): void {
    // Framing is lost with the bytes: nothing after a gap can be trusted to align.
    (fromClient ? this.client : this.server).lost = true;
  }

  close(): void {
    for (const c of this.pending.values()) this.session.report(c, 'unknown', 'no BindResponse seen');
    this.pending.clear();
  }

  release(): void {
    this.client.release();
    this.server.release();
  }

  /** Walks SEQUENCE { messageID, protocolOp, ... }; returns the messageID and leaves the op in this.t. */
  private open(buf: Buffer, start: number, end: number): number {
    const t = this.t;
    if (tlv(buf, start, end, t) !== TAG_SEQUENCE) return -1;
    const body = t.end;
    if (tlv(buf, t.start, body, t) !== TAG_INTEGER) return -1;
    const id = smallInt(buf, t);
    if (id < 0 || tlv(buf, t.end, body, t) < 0) return -1;
    return id;
  }

  private clientMessage(buf: Buffer, start: number, end: number): void {
    const id = this.open(buf, start, end);
    if (id < 0) {
      this.session.malformed('ldap', 'LDAPMessage is not SEQUENCE { messageID, protocolOp }');
      return;
    }
    const op = this.t;
    if (op.tag === TAG_EXTENDED_REQUEST) {
      const t2 = this.t2;
      if (tlv(buf, op.start, op.end, t2) === TAG_EXT_NAME && buf.toString('latin1', t2.start, t2.end) === START_TLS_OID) this.startTlsId = id;
      return;
    }
    if (op.tag !== TAG_BIND_REQUEST) return;
    const opEnd = op.end;
    const t = this.t2;
    // version INTEGER, name LDAPDN, authentication CHOICE
    if (tlv(buf, op.start, opEnd, t) !== TAG_INTEGER) return this.session.malformed('ldap', 'BindRequest without version');
    if (tlv(buf, t.end, opEnd, t) !== TAG_OCTETS) return this.session.malformed('ldap', 'BindRequest without name');
    const name = capText(buf.toString('utf8', t.start, t.end));
    const authTag = tlv(buf, t.end, opEnd, t);
    if (authTag < 0) return this.session.malformed('ldap', 'BindRequest without authentication');
    if (authTag === TAG_AUTH_SIMPLE) {
      // Anonymous bind: no name, no password, nothing exposed.
      if (name === '' && t.end === t.start) return;
      this.addPending(id, this.session.credential({ rule: 'cred-ldap', protocol: 'LDAP', mechanism: 'simple bind', user: name || '(empty DN)', secret: Buffer.from(buf.subarray(t.start, t.end)), kind: 'password' }));
    } else if (authTag === TAG_AUTH_SASL) {
      this.saslBind(id, name, buf, t.start, t.end);
    }
  }

  private saslBind(id: number, name: string, buf: Buffer, start: number, end: number): void {
    const t = this.t2;
    if (tlv(buf, start, end, t) !== TAG_OCTETS) return this.session.malformed('ldap', 'SASL bind without mechanism');
    const mech = buf.toString('latin1', t.start, t.end).toUpperCase();
    if (tlv(buf, t.end, end, t) !== TAG_OCTETS) return; // no credentials in this step
    if (mech === 'PLAIN') {
      const creds = buf.subarray(t.start, t.end);
      const a = creds.indexOf(0);
      const b = a < 0 ? -1 : creds.indexOf(0, a + 1);
      if (b < 0) return;
      const user = creds.toString('utf8', a + 1, b) || creds.toString('utf8', 0, a);
      this.addPending(id, this.session.credential({ rule: 'cred-ldap', protocol: 'LDAP', mechanism: 'SASL PLAIN bind', user: capText(user || name), secret: Buffer.from(creds.subarray(b + 1)), kind: 'password' }));
    } else if (mech === 'GSS-SPNEGO' || mech === 'NTLM') {
      const at = findNtlmAuthenticate(buf, t.start, t.end);
      const auth = at < 0 ? undefined : parseNtlmAuthenticate(buf, at, t.end);
      if (!auth || auth.ntResponse.length < 24) return;
      const user = auth.domain ? `${auth.domain}\\${auth.user}` : auth.user;
      const v2 = auth.ntResponse.length > 24;
      this.addPending(
        id,
        this.session.credential({
          rule: 'cred-ldap',
          protocol: 'LDAP',
          mechanism: `SASL ${mech} bind with NTLMv${v2 ? 2 : 1}`,
          user: user || '(anonymous NTLM)',
          secret: Buffer.from(crackableNtlm(auth, this.serverChallenge), 'latin1'),
          kind: 'hash',
          context: auth.workstation ? `workstation ${auth.workstation}` : undefined,
        }),
      );
    }
  }

  private addPending(id: number, c: Credential): void {
    const earlier = this.pending.get(id);
    if (earlier) this.session.report(earlier, 'unknown', 'messageID reused before a BindResponse');
    else if (this.pending.size >= MAX_PENDING) {
      const [oldId, oldest] = this.pending.entries().next().value!;
      this.pending.delete(oldId);
      this.session.report(oldest, 'unknown', 'no BindResponse seen');
    }
    this.pending.set(id, c);
  }

  private serverMessage(buf: Buffer, start: number, end: number): void {
    const id = this.open(buf, start, end);
    if (id < 0) return;
    const op = this.t;
    if (op.tag !== TAG_BIND_RESPONSE && op.tag !== TAG_EXTENDED_RESPONSE) return;
    const t = this.t2;
    if (tlv(buf, op.start, op.end, t) !== TAG_ENUM) return this.session.malformed('ldap', 'LDAPResult without resultCode');
    const code = smallInt(buf, t);
    if (op.tag === TAG_EXTENDED_RESPONSE) {
      if (id === this.startTlsId && code === RESULT_SUCCESS) {
        this.close();
        this.session.upgraded();
      }
      return;
    }
    if (code === RESULT_SASL_IN_PROGRESS) {
      // The NTLM CHALLENGE rides in serverSaslCreds [7], after matchedDN, diagnosticMessage and an optional referral.
      let pos = t.end;
      while (pos < op.end) {
        const tag = tlv(buf, pos, op.end, t);
        if (tag < 0) break;
        if (tag === TAG_SERVER_SASL_CREDS) {
          this.serverChallenge = findNtlmChallenge(buf, t.start, t.end) ?? this.serverChallenge;
        }
        pos = t.end;
      }
    }
    const c = this.pending.get(id);
    if (!c) return;
    this.pending.delete(id);
    const detail = `resultCode ${code} ${RESULT_NAMES[code] ?? ''}`.trim();
    if (code === RESULT_SUCCESS) this.session.report(c, 'succeeded', detail);
    else if (code === RESULT_SASL_IN_PROGRESS) this.session.report(c, 'unknown', detail);
    else this.session.report(c, 'failed', detail);
  }
}
