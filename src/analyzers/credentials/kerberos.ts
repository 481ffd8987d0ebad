import { decodeKdcMessage, findApReqTicket, KdcMessage, KRB_AS_REP, KRB_AS_REQ, KRB_ERROR, KRB_TGS_REP } from '../../decode/kerberos.js';
import type { DatagramLogins } from './datagrams.js';
import { FRAME_BROKEN, FRAME_NEED_MORE, FramedParser, type RecordFormat } from './record-framer.js';
import { PendingLogin, type Credential, type LoginAttempt, type LoginSink, type Session } from './session.js';
import { capText } from './text.js';

// Kerberos logins on the wire (UDP and TCP 88, or any TCP port whose client
// speaks first with an AS-REQ): what a sniffer cracks offline.
// - An AS-REQ with PA-ENC-TIMESTAMP: the current time encrypted with the key
//   derived from the user's password (hashcat 7500 for RC4-HMAC, 19800 and
//   19900 for AES). The KDC's answer gives the outcome: AS-REP accepted,
//   KRB-ERROR PREAUTH_FAILED (24) refused.
// - An AS-REP answering an AS-REQ without pre-authentication: its enc-part is
//   encrypted with the same key (hashcat 18200; "AS-REP roasting"), and the KDC
//   hands it to anyone who asks for that account.
// - A TGS-REP whose ticket is encrypted with RC4-HMAC or DES: the service
//   account's key (hashcat 13100 for RC4, "Kerberoasting" from the wire). AES
//   tickets are left alone: their salt is the account's name, which the wire
//   does not carry, and machine accounts' random passwords do not crack.
// - The same ticket where the client presents it to the service, in the
//   AP-REQ of a GSS-API token (HTTP Negotiate, SMB session setup, LDAP SASL
//   binds; apReqTicketCredential): a sensor that never sees the KDC still sees
//   it.
// DES keys (etypes 1 and 3) are recovered whatever the password: high. AES
// pre-authentication, the default of Active Directory and MIT Kerberos, only
// gives way for weak passwords (PBKDF2): low, so that every domain login does
// not sound like an attack; RC4-HMAC (the NT hash as key) is medium.

const KRB_PREAUTH_REQUIRED = 25;
/** Errors given only once the key checked out: the password is right. */
const KEY_ACCEPTED = new Set([23]); // KDC_ERR_KEY_EXPIRED
const KRB_ERROR_NAMES: ReadonlyMap<number, string> = new Map([
  [6, 'KDC_ERR_C_PRINCIPAL_UNKNOWN'],
  [12, 'KDC_ERR_POLICY'],
  [14, 'KDC_ERR_ETYPE_NOSUPP'],
  [18, 'KDC_ERR_CLIENT_REVOKED'],
  [23, 'KDC_ERR_KEY_EXPIRED'],
  [24, 'KDC_ERR_PREAUTH_FAILED'],
  [25, 'KDC_ERR_PREAUTH_REQUIRED'],
  [37, 'KRB_AP_ERR_SKEW'],
]);

const ETYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [1, 'DES-CBC-CRC'],
  [3, 'DES-CBC-MD5'],
  [16, 'DES3-CBC-SHA1'],
  [17, 'AES128-CTS-HMAC-SHA1-96'],
  [18, 'AES256-CTS-HMAC-SHA1-96'],
  [19, 'AES128-CTS-HMAC-SHA256-128'],
  [20, 'AES256-CTS-HMAC-SHA384-192'],
  [23, 'RC4-HMAC'],
  [24, 'RC4-HMAC-EXP'],
]);
const ETYPE_RC4 = 23;
const DES_ETYPES = new Set([1, 3]);
/** AES keys come from PBKDF2 (4096 rounds): the default in Active Directory and MIT, slow to crack. */
const AES_ETYPES = new Set([17, 18, 19, 20]);
/** RC4-HMAC's checksum leads the cipher; AES's (HMAC-SHA1-96) ends it. */
const RC4_CHECKSUM = 16;
const AES_SHA1_CHECKSUM = 12;

const MAX_KDC_MESSAGE = 65536;

/**
 * The hashcat line for an encrypted timestamp (`pa`), an AS-REP enc-part
 * (`asrep`) or a service ticket's enc-part (`tgs`, `user` the service) in
 * buf[start, end), for the etypes hashcat takes; the etype and the cipher
 * otherwise.
 */
function crackableKerberos(kind: 'pa' | 'asrep' | 'tgs', etype: number, user: string, realm: string, buf: Buffer, start: number, end: number): string {
  const hex = (s: number, e: number): string => buf.toString('hex', s, e);
  if (etype === ETYPE_RC4 && end - start > RC4_CHECKSUM) {
    const sum = start + RC4_CHECKSUM;
    if (kind === 'pa') return `$krb5pa$23$${user}$${realm}$dummy$${hex(sum, end)}${hex(start, sum)}`;
    if (kind === 'asrep') return `$krb5asrep$23$${user}@${realm}:${hex(start, sum)}$${hex(sum, end)}`;
    return `$krb5tgs$23$*${user}$${realm}$${user}*$${hex(start, sum)}$${hex(sum, end)}`;
  }
  if ((etype === 17 || etype === 18) && end - start > AES_SHA1_CHECKSUM) {
    const sum = end - AES_SHA1_CHECKSUM;
    return kind === 'pa' ? `$krb5pa$${etype}$${user}$${realm}$${hex(start, end)}` : `$krb5asrep$${etype}$${user}$${realm}$${hex(sum, end)}$${hex(start, sum)}`;
  }
  return `$krb5${kind}$${etype}$${user}$${realm}$${hex(start, end)}`;
}

function etypeName(etype: number): string {
  return ETYPE_NAMES.get(etype) ?? `etype ${etype}`;
}

const KERBEROASTING = 'a weak service-account password cracks from it (Kerberoasting)';

/**
 * What the service ticket read into m exposes (`where`: "TGS-REP", or the
 * carrier of an AP-REQ): null unless it is under an RC4 or DES key of a
 * service. A ticket for the ticket service itself (a referral) is under a
 * krbtgt key, random whatever the etype.
 */
function crackableTicket(m: KdcMessage, buf: Buffer, where: string): LoginAttempt | null {
  const etype = m.ticketEtype;
  if ((etype !== ETYPE_RC4 && !DES_ETYPES.has(etype)) || m.sname === '' || /^krbtgt\//i.test(m.sname)) return null;
  const spn = capText(m.sname);
  const realm = capText(m.srealm || m.realm);
  return {
    mechanism: `${where} service ticket (${etypeName(etype)})`,
    user: realm ? `${spn}@${realm}` : spn,
    secret: Buffer.from(crackableKerberos('tgs', etype, spn, realm, buf, m.ticketStart, m.ticketEnd), 'latin1'),
    kind: 'hash',
    proof: "a service ticket encrypted with the key of the service account's password",
    weakHash: DES_ETYPES.has(etype),
  };
}

const apReq = new KdcMessage();

/**
 * A service ticket the client presents in a GSS-API token at buf[start, end)
 * (`carrier`: "HTTP Authorization Negotiate", "SMB session setup"): its
 * enc-part is the one the TGS-REP carried, so an RC4 or DES ticket cracks as
 * it would from the KDC's answer. Null when the token holds none of those;
 * `malformed` hears of an AP-REQ that does not parse.
 */
export function apReqTicketCredential(session: Session, protocol: string, carrier: string, buf: Buffer, start: number, end: number): Credential | null {
  if (!findApReqTicket(buf, start, end, apReq)) {
    if (apReq.malformed !== null) session.malformed('kerberos', apReq.malformed);
    return null;
  }
  const ticket = crackableTicket(apReq, buf, `${carrier}: AP-REQ`);
  return ticket && session.credential({ rule: 'cred-kerberos', protocol, ...ticket, proofForService: true, context: KERBEROASTING });
}

/** One client's AS exchanges with a KDC: pre-authentication waiting for the KDC's answer. */
export class KerberosLogins implements DatagramLogins {
  private readonly msg = new KdcMessage();
  private readonly pending: PendingLogin;
  /** An AS-REQ without pre-authentication was sent: an AS-REP to it exposes the account's key. */
  private askedWithoutPreauth = false;

  constructor(private readonly sink: LoginSink) {
    this.pending = new PendingLogin(sink);
  }

  /** A KDC message from the client (`fromClient`) or the KDC. */
  message(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    const m = this.msg;
    if (!decodeKdcMessage(buf, start, end, m)) {
      if (m.malformed !== null) this.sink.malformed('kerberos', m.malformed);
      return;
    }
    if (fromClient && m.msgType === KRB_AS_REQ) this.request(m, buf);
    else if (!fromClient && m.msgType === KRB_AS_REP) this.reply(m, buf);
    else if (!fromClient && m.msgType === KRB_ERROR) this.error(m);
    else if (!fromClient && m.msgType === KRB_TGS_REP) this.serviceTicket(m, buf);
  }

  private serviceTicket(m: KdcMessage, buf: Buffer): void {
    const ticket = crackableTicket(m, buf, 'TGS-REP');
    if (!ticket) return;
    const c = this.sink.credential({
      rule: 'cred-kerberos',
      protocol: 'Kerberos',
      ...ticket,
      proofFromServer: true,
      context: `the ticket was issued to ${capText(m.cname)}${m.realm ? `@${capText(m.realm)}` : ''}; ${KERBEROASTING}`,
    });
    this.sink.report(c, 'succeeded', 'TGS-REP');
  }

  private request(m: KdcMessage, buf: Buffer): void {
    if (m.paEtype < 0) {
      this.askedWithoutPreauth = true;
      return;
    }
    this.askedWithoutPreauth = false;
    const user = capText(m.cname);
    const realm = capText(m.realm);
    this.pending.resolve('unknown', 'the client tried again before the KDC answered');
    this.pending.set(this.sink.credential({
      rule: 'cred-kerberos',
      protocol: 'Kerberos',
      mechanism: `AS-REQ pre-authentication (${etypeName(m.paEtype)})`,
      user: realm ? `${user}@${realm}` : user,
      secret: Buffer.from(crackableKerberos('pa', m.paEtype, user, realm, buf, m.paCipherStart, m.paCipherEnd), 'latin1'),
      kind: 'hash',
      proof: 'a timestamp encrypted with the key of the password',
      weakHash: DES_ETYPES.has(m.paEtype),
      slowHash: AES_ETYPES.has(m.paEtype),
    }));
  }

  private reply(m: KdcMessage, buf: Buffer): void {
    if (this.pending.active) {
      this.pending.resolve('succeeded', 'AS-REP');
      return;
    }
    if (!this.askedWithoutPreauth || m.encEtype < 0) return;
    this.askedWithoutPreauth = false;
    const user = capText(m.cname);
    const realm = capText(m.realm);
    const c = this.sink.credential({
      rule: 'cred-kerberos',
      protocol: 'Kerberos',
      mechanism: `AS-REP without pre-authentication (${etypeName(m.encEtype)})`,
      user: realm ? `${user}@${realm}` : user,
      secret: Buffer.from(crackableKerberos('asrep', m.encEtype, user, realm, buf, m.encStart, m.encEnd), 'latin1'),
      kind: 'hash',
      proof: 'an AS-REP part encrypted with the key of the password',
      proofFromServer: true,
      weakHash: DES_ETYPES.has(m.encEtype),
      context: 'the account does not require pre-authentication: anyone can ask the KDC for this (AS-REP roasting)',
    });
    this.sink.report(c, 'succeeded', 'AS-REP');
  }

  private error(m: KdcMessage): void {
    if (m.errorCode === KRB_PREAUTH_REQUIRED || !this.pending.active) return;
    const name = KRB_ERROR_NAMES.get(m.errorCode) ?? `KRB-ERROR ${m.errorCode}`;
    if (KEY_ACCEPTED.has(m.errorCode)) this.pending.resolve('succeeded', `password accepted, then ${name}`);
    else this.pending.resolve('failed', name);
  }

  /** The exchange ended (connection closed, forgotten, end of input). */
  close(): void {
    this.pending.resolve('unknown', 'no KDC reply seen');
  }
}

/** Kerberos over TCP: each message behind a 4-byte big-endian length whose top bit is reserved. */
const KERBEROS_RECORDS: RecordFormat = {
  maxHeader: 4,
  frameLength(buf, start, end) {
    if (end - start < 4) return FRAME_NEED_MORE;
    const len = buf.readUInt32BE(start);
    return len >= 0x80000000 || len === 0 ? FRAME_BROKEN : 4 + len;
  },
};

/** Does a client stream begin with a length-prefixed AS-REQ or TGS-REQ? 1 yes, -1 no, 0 too few bytes. */
export function kerberosRequestVerdict(buf: Buffer, start: number, end: number): number {
  if (end - start < 5) return end > start && buf[start] === 0 ? 0 : -1;
  const len = buf.readUInt32BE(start);
  const tag = buf[start + 4];
  return len > 0 && len <= MAX_KDC_MESSAGE && (tag === 0x6a || tag === 0x6c) ? 1 : -1;
}

export class KerberosParser extends FramedParser {
  private readonly logins: KerberosLogins;

  constructor(session: Session) {
    super(session, KERBEROS_RECORDS, MAX_KDC_MESSAGE, 'kerberos', 'Kerberos TCP stream does not frame as length-prefixed messages');
    this.logins = new KerberosLogins(session);
  }

  record(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    this.logins.message(fromClient, buf, start + 4, end);
  }

  close(): void {
    this.logins.close();
  }
}

export const KERBEROS_PORT = 88;
