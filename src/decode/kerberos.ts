import { BerStatus, BerTlv, readBerInt, readTag, readTlv } from './ber.js';

// Kerberos KDC messages (RFC 4120 section 5.4): what a sniffer can crack
// offline. An AS-REQ's PA-ENC-TIMESTAMP is a timestamp encrypted with the
// client's long-term key, derived from its password; so is the enc-part of
// the AS-REP that answers it. KRB-ERROR says whether the KDC accepted the
// pre-authentication. A TGS-REP's ticket is encrypted with the key of the
// service's account. Fields are walked with every length checked against
// its enclosing element (decode/ber.ts); nothing here allocates except the
// names read for a finding.

export const KRB_AS_REQ = 10;
export const KRB_AS_REP = 11;
export const KRB_TGS_REP = 13;
export const KRB_AP_REQ = 14;
export const KRB_ERROR = 30;

const APPLICATION = 0x60;
const SEQUENCE = 0x30;
const INTEGER = 0x02;
const OCTET_STRING = 0x04;
const GENERAL_STRING = 0x1b;
const PA_ENC_TIMESTAMP = 2;
/** Longest principal component or realm put into a finding. */
const MAX_NAME = 128;
const MAX_COMPONENTS = 4;

// Context tags ([n]) of the fields read, per structure.
const REQ_PADATA = 3;
const REQ_BODY = 4;
const BODY_CNAME = 1;
const BODY_REALM = 2;
const REP_CREALM = 3;
const REP_CNAME = 4;
const REP_TICKET = 5;
const REP_ENC_PART = 6;
const TICKET_REALM = 1;
const TICKET_SNAME = 2;
const TICKET_ENC_PART = 3;
const APPLICATION_TICKET = 0x61;
const AP_REQ_TICKET = 3;
/**
 * The end of both Kerberos mechanism OIDs of GSS-API (RFC 4121's
 * 1.2.840.113554.1.2.2 and Microsoft's 1.2.840.48018.1.2.2, which differ
 * before it), then the AP-REQ token id (01 00) and the AP-REQ's tag: where an
 * InitialContextToken, bare or inside SPNEGO, carries an AP-REQ.
 */
const KRB5_AP_REQ_MARK = Buffer.from([0xf7, 0x12, 0x01, 0x02, 0x02, 0x01, 0x00, APPLICATION | KRB_AP_REQ]);
/** GSS tokens searched for an AP-REQ: SPNEGO wrapping, tickets with PACs; a larger one is not searched. */
const MAX_GSS_TOKEN = 65536;
const ERR_CODE = 6;
const ERR_CREALM = 7;
const ERR_CNAME = 8;
const NAME_STRINGS = 1;
const PA_TYPE = 1;
const PA_VALUE = 2;
const ENC_ETYPE = 0;
const ENC_CIPHER = 2;

/** One decoded KDC message; reused. Offsets point into the buffer decoded. */
export class KdcMessage {
  msgType = 0;
  /** Client principal ("alice", "host/ws1") and realm; empty when absent. */
  cname = '';
  realm = '';
  /** PA-ENC-TIMESTAMP of an AS-REQ: its etype and cipher, or -1. */
  paEtype = -1;
  paCipherStart = 0;
  paCipherEnd = 0;
  /** enc-part of an AS-REP: its etype and cipher, or -1. */
  encEtype = -1;
  encStart = 0;
  encEnd = 0;
  /** The ticket of a TGS-REP: the service, its realm, and its enc-part (encrypted with the service's key), or -1. */
  sname = '';
  srealm = '';
  ticketEtype = -1;
  ticketStart = 0;
  ticketEnd = 0;
  /** KRB-ERROR error-code, or -1. */
  errorCode = -1;
  /** Why the message could not be read (set when decodeKdcMessage returns false on a Kerberos-looking message). */
  malformed: string | null = null;

  reset(): void {
    this.msgType = 0;
    this.cname = '';
    this.realm = '';
    this.paEtype = -1;
    this.encEtype = -1;
    this.sname = '';
    this.srealm = '';
    this.ticketEtype = -1;
    this.errorCode = -1;
    this.malformed = null;
  }
}

const t = new BerTlv();
const t2 = new BerTlv();
const t3 = new BerTlv();

/** Finds the child of a SEQUENCE body tagged `tag`, leaving its value in `out`. */
function child(buf: Buffer, start: number, end: number, tag: number, out: BerTlv): boolean {
  let p = start;
  while (p < end) {
    if (readTlv(buf, p, end, out) !== BerStatus.Ok) return false;
    if (out.tag === tag) return true;
    p = out.end;
  }
  return false;
}

/** [n] wrapping an INTEGER, as Kerberos encodes every integer field; NaN when absent or malformed. */
function contextInt(buf: Buffer, start: number, end: number, n: number): number {
  if (!child(buf, start, end, 0xa0 + n, t3)) return Number.NaN;
  if (readTag(buf, t3.start, t3.end, t3) !== INTEGER) return Number.NaN;
  return readBerInt(buf, t3.start, t3.end);
}

/** [n] wrapping a KerberosString. */
function contextString(buf: Buffer, start: number, end: number, n: number): string {
  if (!child(buf, start, end, 0xa0 + n, t3)) return '';
  if (readTag(buf, t3.start, t3.end, t3) !== GENERAL_STRING) return '';
  return buf.toString('utf8', t3.start, Math.min(t3.end, t3.start + MAX_NAME));
}

/** [n] wrapping a PrincipalName: its name-strings joined with '/'. */
function contextPrincipal(buf: Buffer, start: number, end: number, n: number): string {
  if (!child(buf, start, end, 0xa0 + n, t2)) return '';
  if (readTag(buf, t2.start, t2.end, t2) !== SEQUENCE) return '';
  if (!child(buf, t2.start, t2.end, 0xa0 + NAME_STRINGS, t2)) return '';
  if (readTag(buf, t2.start, t2.end, t2) !== SEQUENCE) return '';
  const parts: string[] = [];
  for (let p = t2.start; p < t2.end && parts.length < MAX_COMPONENTS; p = t3.end) {
    if (readTlv(buf, p, t2.end, t3) !== BerStatus.Ok) break;
    if (t3.tag === GENERAL_STRING) parts.push(buf.toString('utf8', t3.start, Math.min(t3.end, t3.start + MAX_NAME)));
  }
  return parts.join('/');
}

/** The DER EncryptedData at buf[start, end): its etype, with the cipher's bounds left in `out`; -1 when malformed. */
function readEncryptedData(buf: Buffer, start: number, end: number, out: BerTlv): number {
  if (readTag(buf, start, end, out) !== SEQUENCE) return -1;
  const s = out.start;
  const e = out.end;
  const etype = contextInt(buf, s, e, ENC_ETYPE);
  if (!Number.isInteger(etype) || !child(buf, s, e, 0xa0 + ENC_CIPHER, out)) return -1;
  if (readTag(buf, out.start, out.end, out) !== OCTET_STRING) return -1;
  return etype;
}

/** Whether buf[start] opens an AS-REQ, AS-REP, TGS-REP or KRB-ERROR (the messages read here), by its APPLICATION tag. */
export function isKdcMessageStart(buf: Buffer, start: number, end: number): boolean {
  if (end - start < 2) return false;
  const tag = buf[start]!;
  return tag === (APPLICATION | KRB_AS_REQ) || tag === (APPLICATION | KRB_AS_REP) || tag === (APPLICATION | KRB_TGS_REP) || tag === (APPLICATION | KRB_ERROR);
}

/**
 * Decodes the KDC message at buf[start, end) into `m`: true for an AS-REQ,
 * AS-REP, TGS-REP or KRB-ERROR read whole; false otherwise, with `m.malformed` saying
 * why when it began like one.
 */
export function decodeKdcMessage(buf: Buffer, start: number, end: number, m: KdcMessage): boolean {
  m.reset();
  if (readTlv(buf, start, end, t) !== BerStatus.Ok) {
    if (isKdcMessageStart(buf, start, end)) m.malformed = 'Kerberos message length beyond the bytes present';
    return false;
  }
  const type = t.tag - APPLICATION;
  if (type !== KRB_AS_REQ && type !== KRB_AS_REP && type !== KRB_TGS_REP && type !== KRB_ERROR) return false;
  if (readTag(buf, t.start, t.end, t) !== SEQUENCE) {
    m.malformed = 'Kerberos message is not a SEQUENCE';
    return false;
  }
  m.msgType = type;
  const body = t.start;
  const bodyEnd = t.end;
  if (type === KRB_AS_REQ) {
    decodeAsReq(buf, body, bodyEnd, m);
  } else if (type === KRB_AS_REP || type === KRB_TGS_REP) {
    m.realm = contextString(buf, body, bodyEnd, REP_CREALM);
    m.cname = contextPrincipal(buf, body, bodyEnd, REP_CNAME);
    if (child(buf, body, bodyEnd, 0xa0 + REP_ENC_PART, t)) {
      m.encEtype = readEncryptedData(buf, t.start, t.end, t);
      m.encStart = t.start;
      m.encEnd = t.end;
    }
    if (type === KRB_TGS_REP) decodeTicket(buf, body, bodyEnd, m);
  } else {
    const code = contextInt(buf, body, bodyEnd, ERR_CODE);
    m.errorCode = Number.isInteger(code) ? code : -1;
    m.realm = contextString(buf, body, bodyEnd, ERR_CREALM);
    m.cname = contextPrincipal(buf, body, bodyEnd, ERR_CNAME);
  }
  if (m.msgType !== KRB_ERROR && m.cname === '' && m.realm === '') m.malformed = 'Kerberos message without client name or realm';
  return m.malformed === null;
}

/** The ticket of a KDC-REP. */
function decodeTicket(buf: Buffer, body: number, bodyEnd: number, m: KdcMessage): void {
  if (child(buf, body, bodyEnd, 0xa0 + REP_TICKET, t)) readTicket(buf, t.start, t.end, m);
}

/**
 * The service ticket of an AP-REQ inside a GSS-API token at buf[start, end)
 * (HTTP Negotiate, SMB and LDAP SASL binds), read into m as a TGS-REP's
 * ticket is (msgType KRB_AP_REQ): true when one was found with its enc-part.
 */
export function findApReqTicket(buf: Buffer, start: number, end: number, m: KdcMessage): boolean {
  m.reset();
  const stop = Math.min(end, start + MAX_GSS_TOKEN);
  const at = buf.subarray(start, stop).indexOf(KRB5_AP_REQ_MARK);
  if (at < 0) return false;
  const apReq = start + at + KRB5_AP_REQ_MARK.length - 1;
  if (readTlv(buf, apReq, stop, t) !== BerStatus.Ok || readTag(buf, t.start, t.end, t) !== SEQUENCE) {
    m.malformed = 'Kerberos AP-REQ length beyond the bytes present';
    return false;
  }
  m.msgType = KRB_AP_REQ;
  if (child(buf, t.start, t.end, 0xa0 + AP_REQ_TICKET, t)) readTicket(buf, t.start, t.end, m);
  if (m.ticketEtype < 0) m.malformed = 'Kerberos AP-REQ without a readable ticket';
  return m.malformed === null;
}

/** Ticket ::= [APPLICATION 1] SEQUENCE { tkt-vno, realm, sname, enc-part }, at buf[start, end). */
function readTicket(buf: Buffer, start: number, end: number, m: KdcMessage): void {
  if (readTag(buf, start, end, t) !== APPLICATION_TICKET) return;
  if (readTag(buf, t.start, t.end, t) !== SEQUENCE) return;
  const s = t.start;
  const e = t.end;
  m.srealm = contextString(buf, s, e, TICKET_REALM);
  m.sname = contextPrincipal(buf, s, e, TICKET_SNAME);
  if (!child(buf, s, e, 0xa0 + TICKET_ENC_PART, t)) return;
  m.ticketEtype = readEncryptedData(buf, t.start, t.end, t);
  m.ticketStart = t.start;
  m.ticketEnd = t.end;
}

function decodeAsReq(buf: Buffer, body: number, bodyEnd: number, m: KdcMessage): void {
  if (child(buf, body, bodyEnd, 0xa0 + REQ_BODY, t) && readTlv(buf, t.start, t.end, t) === BerStatus.Ok && t.tag === SEQUENCE) {
    const reqStart = t.start;
    const reqEnd = t.end;
    m.cname = contextPrincipal(buf, reqStart, reqEnd, BODY_CNAME);
    m.realm = contextString(buf, reqStart, reqEnd, BODY_REALM);
  }
  if (!child(buf, body, bodyEnd, 0xa0 + REQ_PADATA, t) || readTag(buf, t.start, t.end, t) !== SEQUENCE) return;
  // SEQUENCE OF PA-DATA: the one of type PA-ENC-TIMESTAMP holds an EncryptedData.
  const listEnd = t.end;
  for (let p = t.start; p < listEnd; ) {
    if (readTag(buf, p, listEnd, t) !== SEQUENCE) return;
    p = t.end;
    const paStart = t.start;
    const paEnd = t.end;
    if (contextInt(buf, paStart, paEnd, PA_TYPE) !== PA_ENC_TIMESTAMP) continue;
    if (!child(buf, paStart, paEnd, 0xa0 + PA_VALUE, t) || readTag(buf, t.start, t.end, t) !== OCTET_STRING) return;
    // The OCTET STRING holds a DER EncryptedData.
    const etype = readEncryptedData(buf, t.start, t.end, t2);
    if (etype < 0) return;
    m.paEtype = etype;
    m.paCipherStart = t2.start;
    m.paCipherEnd = t2.end;
    return;
  }
}
