import { BerStatus, BerTlv, bytesEqual, readBerInt, readTlv } from './ber.js';

// SNMP message parsing (RFC 1157, RFC 3416): the BER walk down to the PDU
// header, enough to see the version, where the community string is, which
// PDU it is and its request-id. SNMPv3 (version 3) carries no community and is
// only recognised. Every length is checked against its parent; nothing is
// trusted past the datagram.

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
} as const;

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
  if (version === SNMP_V3) {
    out.exact = exact;
    return SnmpDecode.Ok;
  }

  if (!readTagged(buf, t.end, msgEnd, t, 0x04)) return broken(out, SNMP_MALFORMED.community);
  out.communityStart = t.start;
  out.communityEnd = t.end;

  if (readTlv(buf, t.end, msgEnd, t) !== BerStatus.Ok || t.tag < PDU_GET || t.tag > PDU_REPORT) return broken(out, SNMP_MALFORMED.pdu);
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
    if (readTlv(buf, vb.end, t.end, vb) !== BerStatus.Ok) return broken(out, SNMP_MALFORMED.varbinds);
    exact &&= vb.end === t.end;
    if (checkTrapOid && vb.tag === 0x06 && bytesEqual(buf, nameStart, nameEnd, SNMP_TRAP_OID_0)) {
      out.authFailureTrap = bytesEqual(buf, vb.start, vb.end, AUTH_FAILURE_OID);
    }
  }
  out.exact = exact;
  return SnmpDecode.Ok;
}
