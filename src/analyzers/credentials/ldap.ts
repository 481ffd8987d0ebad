import { BerHeader, BerStatus, BerTlv, readBerHeader, readBerInt, readTag } from '../../decode/ber.js';
import { readNtlmAuthenticate } from '../../decode/ntlmssp.js';
import { findNtlmChallenge, ntlmCredential } from './ntlm.js';
import { apReqTicketCredential } from './kerberos.js';
import { cramMd5Attempt, digestMd5Attempt } from './sasl.js';
import { FRAME_BROKEN, FRAME_NEED_MORE, FramedParser, type RecordFormat } from './record-framer.js';
import { PendingById, type Session } from './session.js';
import { capText } from './text.js';

// LDAP (RFC 4511) over TCP: a stream of BER LDAPMessages. Each direction is
// framed by the outer SEQUENCE's length; messages up to MAX_MESSAGE bytes are
// assembled and walked, longer ones (search results) are skipped by length
// without buffering. A simple BindRequest carries the DN and password in
// clear; a SASL PLAIN bind the same in base form; a SASL GSS-SPNEGO/NTLM bind
// a NetNTLM response, a CRAM-MD5 bind an HMAC-MD5 of the server's challenge,
// a DIGEST-MD5 bind an MD5 digest with its nonces, and a GSSAPI or GSS-SPNEGO
// bind with Kerberos an RC4 or DES service ticket (all crackable offline).
// Other SASL binds (EXTERNAL, SCRAM, Kerberos with AES tickets) are not
// reported. The
// BindResponse with the same messageID says success (0) or not (49:
// invalidCredentials).

const MAX_MESSAGE = 16384;
/** A CRAM-MD5 challenge is a short message id; a longer serverSaslCreds is something else. */
const MAX_SASL_CHALLENGE = 512;
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

/** LDAPMessages: each a BER SEQUENCE, framed by its length. */
const LDAP_MESSAGES: RecordFormat = {
  // Tag, a length of at most 4 bytes and its own length byte.
  maxHeader: 6,
  frameLength(buf, start, end) {
    const status = readBerHeader(buf, start, end, elementHeader);
    if (status === BerStatus.Truncated) return FRAME_NEED_MORE;
    if (status !== BerStatus.Ok || elementHeader.tag !== TAG_SEQUENCE) return FRAME_BROKEN;
    return elementHeader.valueStart - start + elementHeader.length;
  },
};

export class LdapParser extends FramedParser {
  /** Binds waiting for their BindResponse, by messageID. */
  private readonly pending: PendingById;
  private startTlsId = -1;
  private serverChallenge: string | null = null;
  /** The last serverSaslCreds (base64): a CRAM-MD5 challenge. */
  private saslChallenge = '';
  private readonly t = new BerTlv();
  private readonly t2 = new BerTlv();

  constructor(session: Session) {
    super(session, LDAP_MESSAGES, MAX_MESSAGE, 'ldap', 'LDAP stream does not frame as BER messages');
    this.pending = new PendingById(session, MAX_PENDING, 'no BindResponse seen', 'messageID reused before a BindResponse');
  }

  record(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    if (fromClient) this.clientMessage(buf, start, end);
    else this.serverMessage(buf, start, end);
  }

  close(): void {
    this.pending.close();
  }

  /** Walks SEQUENCE { messageID, protocolOp, ... }; returns the messageID and leaves the op in this.t. */
  private open(buf: Buffer, start: number, end: number): number {
    const t = this.t;
    if (readTag(buf, start, end, t) !== TAG_SEQUENCE) return -1;
    const body = t.end;
    if (readTag(buf, t.start, body, t) !== TAG_INTEGER) return -1;
    const id = smallInt(buf, t);
    if (id < 0 || readTag(buf, t.end, body, t) < 0) return -1;
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
      if (readTag(buf, op.start, op.end, t2) === TAG_EXT_NAME && buf.toString('latin1', t2.start, t2.end) === START_TLS_OID) this.startTlsId = id;
      return;
    }
    if (op.tag !== TAG_BIND_REQUEST) return;
    const opEnd = op.end;
    const t = this.t2;
    // version INTEGER, name LDAPDN, authentication CHOICE
    if (readTag(buf, op.start, opEnd, t) !== TAG_INTEGER) return this.session.malformed('ldap', 'BindRequest without version');
    if (readTag(buf, t.end, opEnd, t) !== TAG_OCTETS) return this.session.malformed('ldap', 'BindRequest without name');
    const name = capText(buf.toString('utf8', t.start, t.end));
    const authTag = readTag(buf, t.end, opEnd, t);
    if (authTag < 0) return this.session.malformed('ldap', 'BindRequest without authentication');
    if (authTag === TAG_AUTH_SIMPLE) {
      // Anonymous bind: no name, no password, nothing exposed.
      if (name === '' && t.end === t.start) return;
      this.pending.add(id, this.session.credential({ rule: 'cred-ldap', protocol: 'LDAP', mechanism: 'simple bind', user: name || '(empty DN)', secret: Buffer.from(buf.subarray(t.start, t.end)), kind: 'password' }));
    } else if (authTag === TAG_AUTH_SASL) {
      this.saslBind(id, name, buf, t.start, t.end);
    }
  }

  private saslBind(id: number, name: string, buf: Buffer, start: number, end: number): void {
    const t = this.t2;
    if (readTag(buf, start, end, t) !== TAG_OCTETS) return this.session.malformed('ldap', 'SASL bind without mechanism');
    const mech = buf.toString('latin1', t.start, t.end).toUpperCase();
    if (readTag(buf, t.end, end, t) !== TAG_OCTETS) return; // no credentials in this step
    if (mech === 'PLAIN') {
      const creds = buf.subarray(t.start, t.end);
      const a = creds.indexOf(0);
      const b = a < 0 ? -1 : creds.indexOf(0, a + 1);
      if (b < 0) return;
      const user = creds.toString('utf8', a + 1, b) || creds.toString('utf8', 0, a);
      this.pending.add(id, this.session.credential({ rule: 'cred-ldap', protocol: 'LDAP', mechanism: 'SASL PLAIN bind', user: capText(user || name), secret: Buffer.from(creds.subarray(b + 1)), kind: 'password' }));
    } else if (mech === 'CRAM-MD5' || mech === 'DIGEST-MD5') {
      const creds = buf.subarray(t.start, t.end);
      const carrier = `SASL ${mech} bind`;
      const attempt = mech === 'DIGEST-MD5' ? digestMd5Attempt(creds, carrier) : this.saslChallenge ? cramMd5Attempt(this.saslChallenge, creds.toString('base64'), creds, carrier) : null;
      if (attempt) this.pending.add(id, this.session.credential({ rule: 'cred-ldap', protocol: 'LDAP', ...attempt }));
    } else if (mech === 'GSS-SPNEGO' || mech === 'NTLM' || mech === 'GSSAPI') {
      const auth = mech === 'GSSAPI' ? undefined : readNtlmAuthenticate(buf, t.start, t.end);
      const c = auth ? ntlmCredential(this.session, auth, this.serverChallenge, 'cred-ldap', 'LDAP', `SASL ${mech} bind`) : apReqTicketCredential(this.session, 'LDAP', `SASL ${mech} bind`, buf, t.start, t.end);
      if (c) this.pending.add(id, c);
    }
  }

  private serverMessage(buf: Buffer, start: number, end: number): void {
    const id = this.open(buf, start, end);
    if (id < 0) return;
    const op = this.t;
    if (op.tag !== TAG_BIND_RESPONSE && op.tag !== TAG_EXTENDED_RESPONSE) return;
    const t = this.t2;
    if (readTag(buf, op.start, op.end, t) !== TAG_ENUM) return this.session.malformed('ldap', 'LDAPResult without resultCode');
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
        const tag = readTag(buf, pos, op.end, t);
        if (tag < 0) break;
        if (tag === TAG_SERVER_SASL_CREDS) {
          this.serverChallenge = findNtlmChallenge(buf, t.start, t.end) ?? this.serverChallenge;
          if (t.end - t.start <= MAX_SASL_CHALLENGE) this.saslChallenge = buf.toString('base64', t.start, t.end);
        }
        pos = t.end;
      }
    }
    const c = this.pending.take(id);
    if (!c) return;
    const detail = `resultCode ${code} ${RESULT_NAMES[code] ?? ''}`.trim();
    if (code === RESULT_SUCCESS) this.session.report(c, 'succeeded', detail);
    else if (code === RESULT_SASL_IN_PROGRESS) this.session.report(c, 'unknown', detail);
    else this.session.report(c, 'failed', detail);
  }
}
