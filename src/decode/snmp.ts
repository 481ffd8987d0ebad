import { BerStatus, BerTlv, bytesEqual, readBerInt, readTlv } from './ber.js';

// SNMP message parsing (RFC 1157, RFC 3416): the BER walk down to the PDU
// header, enough to see the version, where the community string is, which
// PDU it is and its request-id. SNMPv3 (RFC 3412, RFC 3414) carries no
// community: its header (msgID, flags, security model), the User-based
// Security Model parameters (engine ID, user name, HMAC) and, when not
// encrypted, the scoped PDU are read. Every length is checked against its
// parent; nothing is trusted past the datagram.

export const SNMP_PORT = 161;
export const SNMP_TRAP_PORT = 162;

export const SNMP_V1 = 0;
export const SNMP_V2C = 1;
export const SNMP_V3 = 3;

export const PDU_GET = 0xa0;
export const PDU_GET_NEXT = 0xa1;
export const PDU_RESPONSE = 0xa2;
export const PDU_SET = 0xa3;
export const PDU_TRAP_V1 = 0xa4;
export const PDU_GET_BULK = 0xa5;
export const PDU_INFORM = 0xa6;
export const PDU_TRAP_V2 = 0xa7;
export const PDU_REPORT = 0xa8;

const PDU_NAMES = ['GetRequest', 'GetNextRequest', 'Response', 'SetRequest', 'Trap', 'GetBulkRequest', 'InformRequest', 'SNMPv2-Trap', 'Report'];

export function pduName(tag: number): string {
  return PDU_NAMES[tag - PDU_GET] ?? `PDU 0x${tag.toString(16)}`;
}

export function snmpVersionName(version: number): string {
  return version === SNMP_V1 ? 'SNMPv1' : version === SNMP_V2C ? 'SNMPv2c' : version === SNMP_V3 ? 'SNMPv3' : `SNMP version ${version}`;
}

/** RFC 1157 generic-trap authenticationFailure. */
export const GENERIC_TRAP_AUTH_FAILURE = 4;
/** Highest error-status of RFC 3416 (inconsistentName). */
const MAX_ERROR_STATUS = 18;
/** Varbinds inspected for the trap OID and for the layout check. */
const MAX_VARBINDS = 64;

// snmpTrapOID.0 (1.3.6.1.6.3.1.1.4.1.0) and authenticationFailure (1.3.6.1.6.3.1.1.5.5), BER-encoded.
const SNMP_TRAP_OID_0 = Uint8Array.from([0x2b, 6, 1, 6, 3, 1, 1, 4, 1, 0]);
const AUTH_FAILURE_OID = Uint8Array.from([0x2b, 6, 1, 6, 3, 1, 1, 5, 5]);

export const enum SnmpDecode {
  /** Does not start like an SNMP message (no BER SEQUENCE). */
  NotSnmp = 0,
  Ok = 1,
  /** Starts like SNMP but breaks its structure; SnmpMessage.malformed says how. */
  Malformed = 2,
}

// Constant reasons, so marking a packet malformed allocates nothing.
export const SNMP_MALFORMED = {
  message: 'SNMP message length runs past the datagram',
  version: 'SNMP version is not a small INTEGER',
  unknownVersion: 'unknown SNMP version',
  community: 'SNMP community is not an OCTET STRING within the message',
  pdu: 'SNMP PDU tag unknown or its length runs past the message',
  header: 'SNMP PDU header (request-id, error-status, error-index) broken',
  trapHeader: 'SNMPv1 Trap header broken',
  varbinds: 'SNMP variable-bindings list broken',
  v3Header: 'SNMPv3 header (msgID, msgMaxSize, msgFlags, msgSecurityModel) broken',
  usm: 'SNMPv3 User-based Security Model parameters broken',
  scopedPdu: 'SNMPv3 scoped PDU (context engine ID, context name) broken',
} as const;

/** msgFlags bits (RFC 3412 6.4). */
export const V3_FLAG_AUTH = 1;
export const V3_FLAG_PRIV = 2;
/** The User-based Security Model (RFC 3414). */
export const USM_SECURITY_MODEL = 3;

export class SnmpMessage {
  version = 0;
  /** The community string is buf[communityStart, communityEnd); both -1 for SNMPv3. */
  communityStart = -1;
  communityEnd = -1;
  pduType = 0;
  /** request-id; 0 for SNMPv1 traps, which have none. */
  requestId = 0;
  errorStatus = 0;
  /** SNMPv1 Trap fields: generic-trap (else -1) and agent-addr (else -1). */
  genericTrap = -1;
  trapAgentAddr = -1;
  /** An SNMPv1 authenticationFailure trap or an SNMPv2 trap/inform with that snmpTrapOID. */
  authFailureTrap = false;
  /** The first varbind's name, buf[firstOidStart, firstOidEnd), -1 when there is none. */
  firstOidStart = -1;
  firstOidEnd = -1;
  /** SNMPv3: msgID, msgFlags, msgSecurityModel; 0 otherwise. pduType stays 0 when the scoped PDU is encrypted. */
  msgId = 0;
  msgFlags = 0;
  securityModel = 0;
  /** SNMPv3 USM fields as buf ranges (-1 when absent): authoritative engine ID, user name, HMAC (msgAuthenticationParameters). */
  engineIdStart = -1;
  engineIdEnd = -1;
  userStart = -1;
  userEnd = -1;
  authParamsStart = -1;
  authParamsEnd = -1;
  /** The whole message, buf[msgStart, msgEnd): the HMAC covers it. */
  msgStart = 0;
  msgEnd = 0;
  /**
   * Every element ends exactly where its parent does and the message fills
   * the datagram: the structure is unambiguous enough to believe on a port
   * that is not SNMP's.
   */
  exact = false;
  malformed: string | null = null;
  readonly tlv = new BerTlv();
  readonly inner = new BerTlv();

  reset(): void {
    this.version = 0;
    this.communityStart = -1;
    this.communityEnd = -1;
    this.pduType = 0;
    this.requestId = 0;
    this.errorStatus = 0;
    this.genericTrap = -1;
    this.trapAgentAddr = -1;
    this.authFailureTrap = false;
    this.firstOidStart = -1;
    this.firstOidEnd = -1;
    this.msgId = 0;
    this.msgFlags = 0;
    this.securityModel = 0;
    this.engineIdStart = -1;
    this.engineIdEnd = -1;
    this.userStart = -1;
    this.userEnd = -1;
    this.authParamsStart = -1;
    this.authParamsEnd = -1;
    this.msgStart = 0;
    this.msgEnd = 0;
    this.exact = false;
    this.malformed = null;
  }

  isRequest(): boolean {
    return this.pduType === PDU_GET || this.pduType === PDU_GET_NEXT || this.pduType === PDU_SET || this.pduType === PDU_GET_BULK;
  }

  isNotification(): boolean {
    return this.pduType === PDU_TRAP_V1 || this.pduType === PDU_TRAP_V2 || this.pduType === PDU_INFORM;
  }
}

/** Reads the element at buf[off] and checks its tag. */
function readTagged(buf: Buffer, off: number, limit: number, out: BerTlv, tag: number): boolean {
  return readTlv(buf, off, limit, out) === BerStatus.Ok && out.tag === tag;
}

function broken(out: SnmpMessage, reason: string): SnmpDecode {
  out.malformed = reason;
  return SnmpDecode.Malformed;
}

/** Decodes the SNMP message in buf[start, end) (a UDP payload) into `out`. */
export function decodeSnmp(buf: Buffer, start: number, end: number, out: SnmpMessage): SnmpDecode {
  out.reset();
  if (end > buf.length) end = buf.length;
  if (end - start < 2 || buf[start] !== 0x30) return SnmpDecode.NotSnmp;
  const t = out.tlv;
  if (readTlv(buf, start, end, t) !== BerStatus.Ok) return broken(out, SNMP_MALFORMED.message);
  let exact = t.end === end;
  const msgEnd = t.end;

  if (!readTagged(buf, t.start, msgEnd, t, 0x02)) return broken(out, SNMP_MALFORMED.version);
  const version = readBerInt(buf, t.start, t.end);
  if (Number.isNaN(version)) return broken(out, SNMP_MALFORMED.version);
  if (version !== SNMP_V1 && version !== SNMP_V2C && version !== SNMP_V3) return broken(out, SNMP_MALFORMED.unknownVersion);
  out.version = version;
  out.msgStart = start;
  out.msgEnd = msgEnd;
  let pduAt: number;
  if (version === SNMP_V3) {
    const r = decodeV3Header(buf, t.end, msgEnd, out);
    if (r !== SnmpDecode.Ok) return r;
    // An encrypted scoped PDU (authPriv) is an OCTET STRING: nothing more to read.
    if (readTlv(buf, t.end, msgEnd, t) !== BerStatus.Ok) return broken(out, SNMP_MALFORMED.scopedPdu);
    if (t.tag === 0x04) {
      out.exact = exact && t.end === msgEnd;
      return SnmpDecode.Ok;
    }
    // ScopedPDU ::= SEQUENCE { contextEngineID OCTET STRING, contextName OCTET STRING, data PDU }
    if (t.tag !== 0x30) return broken(out, SNMP_MALFORMED.scopedPdu);
    exact &&= t.end === msgEnd;
    const scopedEnd = t.end;
    if (!readTagged(buf, t.start, scopedEnd, t, 0x04) || !readTagged(buf, t.end, scopedEnd, t, 0x04)) return broken(out, SNMP_MALFORMED.scopedPdu);
    pduAt = t.end;
    return decodePdu(buf, pduAt, scopedEnd, out, exact);
  }

  if (!readTagged(buf, t.end, msgEnd, t, 0x04)) return broken(out, SNMP_MALFORMED.community);
  out.communityStart = t.start;
  out.communityEnd = t.end;
  pduAt = t.end;
  return decodePdu(buf, pduAt, msgEnd, out, exact);
}

/**
 * SNMPv3's msgGlobalData and msgSecurityParameters, from buf[off]; leaves
 * out.tlv at the security parameters so that the scoped PDU follows.
 */
function decodeV3Header(buf: Buffer, off: number, msgEnd: number, out: SnmpMessage): SnmpDecode {
  const t = out.tlv;
  const f = out.inner;
  // HeaderData ::= SEQUENCE { msgID, msgMaxSize, msgFlags OCTET STRING (SIZE(1)), msgSecurityModel }
  if (!readTagged(buf, off, msgEnd, t, 0x30)) return broken(out, SNMP_MALFORMED.v3Header);
  if (!readTagged(buf, t.start, t.end, f, 0x02)) return broken(out, SNMP_MALFORMED.v3Header);
  const msgId = readBerInt(buf, f.start, f.end);
  if (!readTagged(buf, f.end, t.end, f, 0x02) || !readTagged(buf, f.end, t.end, f, 0x04) || f.end - f.start !== 1) return broken(out, SNMP_MALFORMED.v3Header);
  out.msgFlags = buf[f.start]!;
  if (!readTagged(buf, f.end, t.end, f, 0x02)) return broken(out, SNMP_MALFORMED.v3Header);
  const model = readBerInt(buf, f.start, f.end);
  if (Number.isNaN(msgId) || Number.isNaN(model)) return broken(out, SNMP_MALFORMED.v3Header);
  out.msgId = msgId;
  out.securityModel = model;
  // msgSecurityParameters OCTET STRING, holding the USM's SEQUENCE when the model is USM.
  if (!readTagged(buf, t.end, msgEnd, t, 0x04)) return broken(out, SNMP_MALFORMED.usm);
  if (model !== USM_SECURITY_MODEL) return SnmpDecode.Ok;
  // UsmSecurityParameters ::= SEQUENCE { engineID, engineBoots, engineTime, userName, authenticationParameters, privacyParameters }
  if (!readTagged(buf, t.start, t.end, f, 0x30) || f.end !== t.end) return broken(out, SNMP_MALFORMED.usm);
  const usmEnd = f.end;
  if (!readTagged(buf, f.start, usmEnd, f, 0x04)) return broken(out, SNMP_MALFORMED.usm);
  out.engineIdStart = f.start;
  out.engineIdEnd = f.end;
  if (!readTagged(buf, f.end, usmEnd, f, 0x02) || !readTagged(buf, f.end, usmEnd, f, 0x02)) return broken(out, SNMP_MALFORMED.usm);
  if (!readTagged(buf, f.end, usmEnd, f, 0x04)) return broken(out, SNMP_MALFORMED.usm);
  out.userStart = f.start;
  out.userEnd = f.end;
  if (!readTagged(buf, f.end, usmEnd, f, 0x04)) return broken(out, SNMP_MALFORMED.usm);
  out.authParamsStart = f.start;
  out.authParamsEnd = f.end;
  if (!readTagged(buf, f.end, usmEnd, f, 0x04) || f.end !== usmEnd) return broken(out, SNMP_MALFORMED.usm);
  return SnmpDecode.Ok;
}

/** The PDU at buf[pduAt], within [.., msgEnd), and its variable bindings. */
function decodePdu(buf: Buffer, pduAt: number, msgEnd: number, out: SnmpMessage, exactSoFar: boolean): SnmpDecode {
  const t = out.tlv;
  let exact = exactSoFar;
  if (readTlv(buf, pduAt, msgEnd, t) !== BerStatus.Ok || t.tag < PDU_GET || t.tag > PDU_REPORT) return broken(out, SNMP_MALFORMED.pdu);
  out.pduType = t.tag;
  exact &&= t.end === msgEnd;
  const pduEnd = t.end;
  let p = t.start;

  if (out.pduType === PDU_TRAP_V1) {
    // enterprise OID, agent-addr, generic-trap, specific-trap, time-stamp
    if (!readTagged(buf, p, pduEnd, t, 0x06)) return broken(out, SNMP_MALFORMED.trapHeader);
    if (!readTagged(buf, t.end, pduEnd, t, 0x40) || t.end - t.start !== 4) return broken(out, SNMP_MALFORMED.trapHeader);
    out.trapAgentAddr = buf.readUInt32BE(t.start);
    if (!readTagged(buf, t.end, pduEnd, t, 0x02)) return broken(out, SNMP_MALFORMED.trapHeader);
    out.genericTrap = readBerInt(buf, t.start, t.end);
    if (Number.isNaN(out.genericTrap)) return broken(out, SNMP_MALFORMED.trapHeader);
    if (!readTagged(buf, t.end, pduEnd, t, 0x02)) return broken(out, SNMP_MALFORMED.trapHeader);
    if (!readTagged(buf, t.end, pduEnd, t, 0x43)) return broken(out, SNMP_MALFORMED.trapHeader);
    out.authFailureTrap = out.genericTrap === GENERIC_TRAP_AUTH_FAILURE;
    exact &&= out.genericTrap >= 0 && out.genericTrap <= 6;
  } else {
    if (!readTagged(buf, p, pduEnd, t, 0x02)) return broken(out, SNMP_MALFORMED.header);
    const id = readBerInt(buf, t.start, t.end);
    if (Number.isNaN(id)) return broken(out, SNMP_MALFORMED.header);
    out.requestId = id | 0;
    if (!readTagged(buf, t.end, pduEnd, t, 0x02)) return broken(out, SNMP_MALFORMED.header);
    const status = readBerInt(buf, t.start, t.end);
    if (Number.isNaN(status)) return broken(out, SNMP_MALFORMED.header);
    out.errorStatus = status;
    // GetBulk reuses the field for non-repeaters, which may be any count.
    exact &&= status >= 0 && (out.pduType === PDU_GET_BULK || status <= MAX_ERROR_STATUS);
    if (!readTagged(buf, t.end, pduEnd, t, 0x02)) return broken(out, SNMP_MALFORMED.header);
  }
  p = t.end;

  if (!readTagged(buf, p, pduEnd, t, 0x30)) return broken(out, SNMP_MALFORMED.varbinds);
  exact &&= t.end === pduEnd;
  const listEnd = t.end;
  const checkTrapOid = out.pduType === PDU_TRAP_V2 || out.pduType === PDU_INFORM;
  const vb = out.inner;
  p = t.start;
  for (let i = 0; i < MAX_VARBINDS && p < listEnd; i++) {
    // VarBind ::= SEQUENCE { name OBJECT IDENTIFIER, value }
    if (!readTagged(buf, p, listEnd, t, 0x30)) return broken(out, SNMP_MALFORMED.varbinds);
    p = t.end;
    if (!readTagged(buf, t.start, t.end, vb, 0x06)) return broken(out, SNMP_MALFORMED.varbinds);
    const nameStart = vb.start;
    const nameEnd = vb.end;
    if (i === 0) {
      out.firstOidStart = nameStart;
      out.firstOidEnd = nameEnd;
    }
    if (readTlv(buf, vb.end, t.end, vb) !== BerStatus.Ok) return broken(out, SNMP_MALFORMED.varbinds);
    exact &&= vb.end === t.end;
    if (checkTrapOid && vb.tag === 0x06 && bytesEqual(buf, nameStart, nameEnd, SNMP_TRAP_OID_0)) {
      out.authFailureTrap = bytesEqual(buf, vb.start, vb.end, AUTH_FAILURE_OID);
    }
  }
  out.exact = exact;
  return SnmpDecode.Ok;
}
