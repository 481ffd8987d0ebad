import type { Packet } from '../../decode/packet.js';
import {
  PDU_RESPONSE,
  PDU_SET,
  SNMP_PORT,
  SNMP_TRAP_PORT,
  SNMP_V3,
  SNMP_V1,
  SnmpDecode,
  SnmpMessage,
  decodeSnmp,
  pduName,
  snmpVersionName,
} from '../../decode/snmp.js';
import type { Entity, Severity } from '../../findings/finding.js';
import { severityRank } from '../../findings/finding.js';
import { SecretRedactor } from '../../findings/redact.js';
import { BoundedMap } from '../../util/bounded-map.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition } from '../analyzer.js';
import { dstAddrKey, dstAddrText, hostPort, mixHash, smallKey, srcAddrKey, srcAddrText } from '../endpoints.js';
import { UsmLogins } from './usm.js';

// SNMPv1/v2c community strings in cleartext (T1040). The community is the
// only thing standing between a sniffer and the agent's MIB (read) or its
// configuration (write), so every use seen on the wire is reported, one
// finding per manager, agent and community (by keyed hash: the plaintext
// never reaches a message, an entity or an aggregation key; it travels only
// as Report.secret). A use is reported when first seen, when what it proves
// changes (answered, write accepted, rejected by trap), and otherwise at most
// once a minute, so steady polling allocates nothing per packet.
//
// Severity follows what the captured traffic proves:
//   community                  unanswered   answered (Response)
//   'public', reads            info         low    (well-known default: nothing secret leaks)
//   'public', SetRequest       low          high when the write is accepted, medium when refused
//   any other, reads           medium       high   (a working secret read by anyone on path)
//   any other, SetRequest      medium       high
//   traps and informs          info ('public') / medium (the notification community)
// An unanswered request usually means a wrong community (agents drop those
// silently, or send an authenticationFailure trap), so it stays lower and
// says so. SNMPv3 has no community; its authenticated logins, crackable
// offline, are read by usm.ts.

const MAX_USES = 4096;
/** Request-ids remembered per use, to match Responses. */
const REQUEST_RING = 8;
/** An authenticationFailure trap this soon after an unanswered request rejects its community. */
const AUTH_TRAP_WINDOW_MS = 10_000;
/** A use is reported again at most this often when nothing changes (keeps last_seen current). */
const REFRESH_MS = 60_000;
/** net-snmp's limit; longer communities cannot be accepted by common agents. */
const MAX_COMMUNITY_BYTES = 256;
const COMMUNITY_TOO_LONG = 'SNMP community longer than 256 bytes';
const NOT_SNMP_ON_SNMP_PORT = 'UDP payload on an SNMP port is not a BER SEQUENCE';

/** error-status values of an agent refusing a write: readOnly(4), noAccess(6), authorizationError(16), and SNMPv1's noSuchName(2). */
function writeRefused(version: number, errorStatus: number): boolean {
  return errorStatus === 4 || errorStatus === 6 || errorStatus === 16 || (version === SNMP_V1 && errorStatus === 2);
}

const WELL_KNOWN = Buffer.from('public');

interface CommunityUse {
  /** Key in SnmpAnalyzer.uses. */
  slot: number;
  managerKey: number;
  agentKey: number;
  community: Buffer;
  /** Aggregation key: manager|agent|keyed hash of the community. */
  key: string;
  manager: string;
  agent: string;
  /** The port the agent (or, for notifications, the manager) listens on. */
  port: number;
  version: number;
  wellKnown: boolean;
  notification: boolean;
  authFailureTrap: boolean;
  sawWrite: boolean;
  /** Last request's (or notification's) PDU type, and the last answered request. */
  lastPdu: number;
  lastRequestAt: number;
  lastAnswered: boolean;
  answeredPdu: number;
  answeredId: number;
  readAccepted: boolean;
  writeAccepted: boolean;
  writeRefusedStatus: number;
  rejectedByTrap: boolean;
  requestIds: Int32Array;
  requestPdus: Uint8Array;
  ringPos: number;
  /** Severity rank last reported, -1 before the first report. */
  reported: number;
  reportedAt: number;
}

export class SnmpAnalyzer implements Analyzer {
  private readonly msg = new SnmpMessage();
  private readonly uses = new BoundedMap<number, CommunityUse>(MAX_USES);
  /** Per agent, the use whose last request is still unanswered (for authenticationFailure traps). */
  private readonly unanswered = new BoundedMap<number, CommunityUse>(MAX_USES);
  private readonly hasher: SecretRedactor;
  private readonly usm: UsmLogins;

  constructor(private readonly ctx: AnalyzerContext) {
    // Same salt as the engine's redaction when one is configured, so keys match the findings' secret hashes.
    this.hasher = new SecretRedactor(false, ctx.config.secretSalt);
    this.usm = new UsmLogins(ctx);
  }

  stateSize(): number {
    return this.uses.size + this.unanswered.size + this.usm.size;
  }

  finish(): void {
    this.usm.finish();
  }

  onUdp(pkt: Packet): void {
    const buf = pkt.buf;
    const start = pkt.payloadStart;
    const end = pkt.payloadEnd;
    if (end <= start) return;
    // The first fragment of a large datagram (or a snapped one) holds only part of the message: not judged.
    if (buf.readUInt16BE(pkt.l4Start + 4) > end - pkt.l4Start) return;
    const snmpPort = pkt.srcPort === SNMP_PORT || pkt.dstPort === SNMP_PORT || pkt.srcPort === SNMP_TRAP_PORT || pkt.dstPort === SNMP_TRAP_PORT;
    if (buf[start] !== 0x30) {
      if (snmpPort) pkt.markMalformed('snmp', NOT_SNMP_ON_SNMP_PORT);
      return;
    }
    const m = this.msg;
    const r = decodeSnmp(buf, start, end, m);
    if (r !== SnmpDecode.Ok) {
      if (r === SnmpDecode.Malformed && snmpPort) pkt.markMalformed('snmp', m.malformed!);
      return;
    }
    if (m.version === SNMP_V3) {
      if (snmpPort) this.usm.onMessage(pkt, m);
      return;
    }
    // Elsewhere only a structure that fills the datagram exactly counts as SNMP.
    if (!snmpPort && !m.exact) return;
    if (m.communityEnd - m.communityStart > MAX_COMMUNITY_BYTES) {
      if (snmpPort) pkt.markMalformed('snmp', COMMUNITY_TOO_LONG);
      return;
    }
    if (m.isRequest()) this.onRequest(m, pkt);
    else if (m.pduType === PDU_RESPONSE) this.onResponse(m, pkt);
    else if (m.isNotification()) this.onNotification(m, pkt);
  }

  private onRequest(m: SnmpMessage, pkt: Packet): void {
    const u = this.use(m, pkt, srcAddrKey(pkt), dstAddrKey(pkt), true);
    this.remember(u, m);
    u.lastRequestAt = pkt.timeMs;
    u.lastAnswered = false;
    if (m.pduType === PDU_SET) u.sawWrite = true;
    this.noteUnanswered(u);
    this.maybeReport(u, pkt, false);
  }

  private onResponse(m: SnmpMessage, pkt: Packet): void {
    const managerKey = dstAddrKey(pkt);
    const agentKey = srcAddrKey(pkt);
    // A Response travelling towards an agent acknowledges its InformRequest: nothing new.
    const ack = this.find(m, pkt, agentKey, managerKey);
    if (ack && ack.notification && this.requestPdu(ack, m.requestId) !== 0) return;
    // The agent answered with this community: it accepted it, whether or not the request was captured.
    const u = this.use(m, pkt, managerKey, agentKey, false);
    const pdu = this.requestPdu(u, m.requestId);
    u.lastAnswered = true;
    u.answeredPdu = pdu;
    u.answeredId = m.requestId;
    if (this.unanswered.get(agentKey) === u) this.unanswered.delete(agentKey);
    if (pdu === PDU_SET) {
      if (writeRefused(m.version, m.errorStatus)) u.writeRefusedStatus = m.errorStatus;
      else u.writeAccepted = true;
    } else {
      u.readAccepted = true;
    }
    this.maybeReport(u, pkt, false);
  }

  private onNotification(m: SnmpMessage, pkt: Packet): void {
    const agentKey = srcAddrKey(pkt);
    const u = this.use(m, pkt, dstAddrKey(pkt), agentKey, false);
    u.notification = true;
    this.remember(u, m);
    let rejected: CommunityUse | undefined;
    if (m.authFailureTrap) {
      u.authFailureTrap = true;
      rejected = this.takeUnanswered(agentKey, pkt.timeMs) ?? (m.trapAgentAddr > 0 ? this.takeUnanswered(m.trapAgentAddr, pkt.timeMs) : undefined);
    }
    this.maybeReport(u, pkt, false, rejected);
    if (rejected) {
      rejected.rejectedByTrap = true;
      this.maybeReport(rejected, pkt, true);
    }
  }

  /** Keeps the PDU and request-id, for Responses to find and for the message. */
  private remember(u: CommunityUse, m: SnmpMessage): void {
    u.lastPdu = m.pduType;
    u.requestIds[u.ringPos] = m.requestId;
    u.requestPdus[u.ringPos] = m.pduType;
    u.ringPos = (u.ringPos + 1) % REQUEST_RING;
  }

  private requestPdu(u: CommunityUse, requestId: number): number {
    for (let i = 0; i < REQUEST_RING; i++) if (u.requestPdus[i] !== 0 && u.requestIds[i] === requestId) return u.requestPdus[i]!;
    return 0;
  }

  private noteUnanswered(u: CommunityUse): void {
    this.unanswered.set(u.agentKey, u);
  }

  private takeUnanswered(agentKey: number, t: number): CommunityUse | undefined {
    const u = this.unanswered.get(agentKey);
    if (!u || u.lastAnswered || t - u.lastRequestAt > AUTH_TRAP_WINDOW_MS || t < u.lastRequestAt) return undefined;
    this.unanswered.delete(agentKey);
    return u;
  }

  /** Table slot of (manager, agent, community): a hash computed without allocating. */
  private hashOf(m: SnmpMessage, pkt: Packet, managerKey: number, agentKey: number): number {
    let h = 0x811c9dc5;
    const buf = pkt.buf;
    for (let i = m.communityStart; i < m.communityEnd; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    return smallKey(mixHash(mixHash(h, managerKey), agentKey));
  }

  private matches(u: CommunityUse, m: SnmpMessage, pkt: Packet, managerKey: number, agentKey: number): boolean {
    return u.managerKey === managerKey && u.agentKey === agentKey && u.community.length === m.communityEnd - m.communityStart && u.community.compare(pkt.buf, m.communityStart, m.communityEnd) === 0;
  }

  private find(m: SnmpMessage, pkt: Packet, managerKey: number, agentKey: number): CommunityUse | undefined {
    const u = this.uses.get(this.hashOf(m, pkt, managerKey, agentKey));
    return u && this.matches(u, m, pkt, managerKey, agentKey) ? u : undefined;
  }

  /** The use of this community between manager and agent, created on first sight. */
  private use(m: SnmpMessage, pkt: Packet, managerKey: number, agentKey: number, managerIsSource: boolean): CommunityUse {
    const slot = this.hashOf(m, pkt, managerKey, agentKey);
    const known = this.uses.get(slot);
    if (known && this.matches(known, m, pkt, managerKey, agentKey)) return known;
    // A different use in the same slot (a hash collision) is forgotten, like the oldest when full.
    if (known) this.uses.delete(slot);
    const community = Buffer.from(pkt.buf.subarray(m.communityStart, m.communityEnd));
    const manager = managerIsSource ? srcAddrText(pkt) : dstAddrText(pkt);
    const agent = managerIsSource ? dstAddrText(pkt) : srcAddrText(pkt);
    const notification = m.isNotification();
    const u: CommunityUse = {
      slot,
      managerKey,
      agentKey,
      community,
      key: `${manager}|${agent}|${this.hasher.observe(community).hash}`,
      manager,
      agent,
      // Requests go to the agent's port; responses come from it; notifications go to the manager's.
      port: m.pduType === PDU_RESPONSE ? pkt.srcPort : pkt.dstPort,
      version: m.version,
      wellKnown: community.equals(WELL_KNOWN),
      notification,
      authFailureTrap: false,
      sawWrite: false,
      lastPdu: m.pduType,
      lastRequestAt: pkt.timeMs,
      lastAnswered: false,
      answeredPdu: 0,
      answeredId: 0,
      readAccepted: false,
      writeAccepted: false,
      writeRefusedStatus: -1,
      rejectedByTrap: false,
      requestIds: new Int32Array(REQUEST_RING),
      requestPdus: new Uint8Array(REQUEST_RING),
      ringPos: 0,
      reported: -1,
      reportedAt: 0,
    };
    this.uses.set(slot, u);
    return u;
  }

  private severityOf(u: CommunityUse): Severity {
    if (u.wellKnown) {
      if (u.writeAccepted) return 'high';
      if (u.writeRefusedStatus >= 0) return 'medium';
      return u.readAccepted || u.sawWrite ? 'low' : 'info';
    }
    if (u.writeAccepted || u.readAccepted || u.writeRefusedStatus >= 0) return 'high';
    return 'medium';
  }

  private maybeReport(u: CommunityUse, pkt: Packet, force: boolean, rejected?: CommunityUse): void {
    const severity = this.severityOf(u);
    const rank = severityRank(severity);
    const t = pkt.timeMs;
    if (!force && rank <= u.reported && t - u.reportedAt < REFRESH_MS && t >= u.reportedAt) return;
    u.reported = Math.max(u.reported, rank);
    u.reportedAt = t;
    // Keep busy uses young so eviction takes idle ones.
    if (this.uses.get(u.slot) === u) {
      this.uses.delete(u.slot);
      this.uses.set(u.slot, u);
    }
    const entities: Entity[] = [
      { type: 'ip', value: u.manager, role: 'client' },
      { type: 'ip', value: u.agent, role: 'server' },
      { type: 'protocol', value: snmpVersionName(u.version), role: 'version' },
    ];
    this.ctx.report('cred-snmp-community', u.key, pkt, {
      message: describe(u, rejected),
      entities,
      severity,
      secret: u.community,
    });
  }

}

/** What the capture shows about this use of a community, for the finding's message. Never contains the community. */
function describe(u: CommunityUse, rejected?: CommunityUse): string {
  const ver = snmpVersionName(u.version);
  const path = `from ${u.manager} to ${hostPort(u.agent, u.port)}`;
  const def = u.wellKnown ? ' (the well-known default community)' : '';
  if (u.writeAccepted) {
    return `${ver} SetRequest ${path} was accepted: a community string with write access travels in cleartext${def}`;
  }
  if (u.writeRefusedStatus >= 0) {
    return `${ver} SetRequest ${path} was refused (error-status ${u.writeRefusedStatus}), but the agent answered: the community string, sent in cleartext, is valid for reading${def}`;
  }
  if (u.readAccepted) {
    const what = u.answeredPdu !== 0 ? `${pduName(u.answeredPdu)} request-id ${u.answeredId}` : 'with this community (request not captured)';
    return `${ver} agent ${hostPort(u.agent, u.port)} answered ${u.manager}'s ${what}: the community string, sent in cleartext, is accepted${def}`;
  }
  if (u.notification) {
    let text = `${ver} ${pduName(u.lastPdu)} from agent ${u.agent} to manager ${hostPort(u.manager, u.port)} carries a community string in cleartext${def}`;
    if (u.authFailureTrap) {
      text += rejected
        ? `; it is an authenticationFailure trap: the agent rejected the community ${rejected.manager} sent in a ${pduName(rejected.lastPdu)}`
        : '; it is an authenticationFailure trap: the agent rejected some community string';
    }
    return text;
  }
  const why = u.rejectedByTrap
    ? 'the agent sent an authenticationFailure trap: the community is wrong'
    : 'no answer from the agent seen: the community is likely wrong (or the capture misses the replies)';
  return `${ver} ${pduName(u.lastPdu)} ${path} sends a community string in cleartext${def}; ${why}`;
}

export const snmpAnalyzer: AnalyzerDefinition = {
  name: 'snmp',
  rules: ['cred-snmp-community', 'cred-snmpv3'],
  create: (ctx) => new SnmpAnalyzer(ctx),
};
