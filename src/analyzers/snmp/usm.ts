import type { Packet } from '../../decode/packet.js';
import { PDU_INFORM, PDU_REPORT, PDU_TRAP_V2, SNMP_PORT, USM_SECURITY_MODEL, V3_FLAG_AUTH, V3_FLAG_PRIV, pduName, type SnmpMessage } from '../../decode/snmp.js';
import type { AnalyzerContext } from '../analyzer.js';
import { credentialReport } from '../credentials/report.js';
import type { Credential, Outcome } from '../credentials/session.js';
import { capText } from '../credentials/text.js';
import { dstAddrText, hostPort, srcAddrText } from '../endpoints.js';

// SNMPv3 logins a sniffer harvests (T1040): a message authenticated under the
// User-based Security Model carries an HMAC of itself keyed by the user's
// password localised to the agent's engine ID (RFC 3414 A.2, RFC 7860 for
// SHA-2), and all of it travels in the clear: it cracks offline (hashcat 25000
// for HMAC-MD5-96 and HMAC-SHA-96, 26700, 26800, 26900 and 27300 for the
// SHA-2 HMACs). The key derivation hashes a megabyte per guess, so only weak
// passwords fall, and authenticated SNMPv3 is what SNMP should be: low, one
// finding per manager, agent and user. The agent's answer to the same msgID
// gives the outcome: an authenticated reply (or a usmStatsNotInTimeWindows
// report, sent only after the HMAC checked out) accepted, a
// usmStatsWrongDigests or usmStatsUnknownUserNames report refused.

const RULE = 'cred-snmpv3';
/** Authenticated requests waiting for the agent's answer. */
const MAX_PENDING = 4096;
const ANSWER_MS = 30_000;
/** Outcomes already reported per manager, agent and user (polling repeats them every few seconds). */
const MAX_REPORTED = 4096;
/**
 * What the length of msgAuthenticationParameters says of the HMAC, and the
 * hashcat line's tag for it: 12 bytes are HMAC-MD5-96 or HMAC-SHA-96 (RFC 3414;
 * hashcat 25000 tries both), the others one SHA-2 HMAC each (RFC 7860).
 */
const USM_HMACS: ReadonlyMap<number, { name: string; tag: string }> = new Map([
  [12, { name: 'HMAC-96, MD5 or SHA-1', tag: '0' }],
  [16, { name: 'HMAC-SHA-224-128', tag: '3' }],
  [24, { name: 'HMAC-SHA-256-192', tag: '4' }],
  [32, { name: 'HMAC-SHA-384-256', tag: '5' }],
  [48, { name: 'HMAC-SHA-512-384', tag: '6' }],
]);
/** hashcat keeps at most 8 digits of the packet number. */
const PACKET_NUMBER_MOD = 100_000_000;

// usmStats counters (1.3.6.1.6.3.15.1.1.N.0) as BER OID bytes: the last two arcs are N and 0.
const USM_STATS = Buffer.from([0x2b, 6, 1, 6, 3, 15, 1, 1]);
const NOT_IN_TIME_WINDOWS = 2;
const UNKNOWN_USER_NAMES = 3;
const WRONG_DIGESTS = 5;
const USM_STATS_NAMES: Record<number, string> = {
  1: 'usmStatsUnsupportedSecLevels',
  2: 'usmStatsNotInTimeWindows',
  3: 'usmStatsUnknownUserNames',
  4: 'usmStatsUnknownEngineIDs',
  5: 'usmStatsWrongDigests',
  6: 'usmStatsDecryptionErrors',
};

interface PendingLogin {
  credential: Credential;
  manager: string;
  agent: string;
  service: string;
}

/** Which usmStats counter a Report names, or -1. */
function usmStatsOf(m: SnmpMessage, buf: Buffer): number {
  const s = m.firstOidStart;
  if (s < 0 || m.firstOidEnd - s !== USM_STATS.length + 2 || buf[m.firstOidEnd - 1] !== 0) return -1;
  return buf.compare(USM_STATS, 0, USM_STATS.length, s, s + USM_STATS.length) === 0 ? buf[s + USM_STATS.length]! : -1;
}

/**
 * The hashcat line for an authenticated message: $SNMPv3$tag$packet$message
 * with the HMAC zeroed$engine ID$HMAC, the tag naming the HMAC (USM_HMACS).
 * An HMAC of another length keeps the fields under a label naming its
 * length, which no cracker reads as such.
 */
export function usmLine(buf: Buffer, m: SnmpMessage, packetNumber: number): string {
  const msg = Buffer.from(buf.subarray(m.msgStart, m.msgEnd));
  msg.fill(0, m.authParamsStart - m.msgStart, m.authParamsEnd - m.msgStart);
  const authLen = m.authParamsEnd - m.authParamsStart;
  const fields = [packetNumber % PACKET_NUMBER_MOD, msg.toString('hex'), buf.toString('hex', m.engineIdStart, m.engineIdEnd), buf.toString('hex', m.authParamsStart, m.authParamsEnd)];
  const tag = USM_HMACS.get(authLen)?.tag;
  return `${tag !== undefined ? `$SNMPv3$${tag}$` : `$SNMPv3-hmac${authLen * 8}$`}${fields.join('$')}`;
}

export class UsmLogins {
  private readonly pending = new Map<string, PendingLogin>();
  private readonly reported = new Set<string>();

  constructor(private readonly ctx: AnalyzerContext) {}

  get size(): number {
    return this.pending.size + this.reported.size;
  }

  /** An SNMPv3 message on an SNMP port. */
  onMessage(pkt: Packet, m: SnmpMessage): void {
    if (m.securityModel !== USM_SECURITY_MODEL || m.userStart < 0) return;
    this.expire(pkt.timeMs);
    const toAgent = pkt.dstPort === SNMP_PORT;
    if (toAgent && (m.msgFlags & V3_FLAG_AUTH) !== 0) this.request(pkt, m);
    else if (pkt.srcPort === SNMP_PORT) this.answer(pkt, m);
    else if ((m.msgFlags & V3_FLAG_AUTH) !== 0 && (m.pduType === PDU_TRAP_V2 || m.pduType === PDU_INFORM || m.pduType === 0)) this.notification(pkt, m);
  }

  private credential(pkt: Packet, m: SnmpMessage): Credential | null {
    const authLen = m.authParamsEnd - m.authParamsStart;
    if (m.userEnd === m.userStart || authLen === 0 || m.engineIdEnd === m.engineIdStart) return null;
    const buf = pkt.buf;
    const level = (m.msgFlags & V3_FLAG_PRIV) !== 0 ? 'authPriv' : 'authNoPriv';
    const hmac = USM_HMACS.get(authLen)?.name ?? `HMAC of ${authLen * 8} bits`;
    return {
      rule: RULE,
      protocol: 'SNMPv3',
      mechanism: `USM ${level} (${hmac})`,
      user: capText(buf.toString('utf8', m.userStart, m.userEnd)),
      secret: Buffer.from(usmLine(buf, m, pkt.frameNo), 'latin1'),
      kind: 'hash',
      proof: 'an HMAC of the message keyed by the password',
      slowHash: true,
      context: level === 'authNoPriv' ? `${m.pduType !== 0 ? pduName(m.pduType) : 'PDU'} unencrypted: what it reads or writes is visible too` : undefined,
      frame: pkt.frameNo,
      timeMs: pkt.timeMs,
    };
  }

  private request(pkt: Packet, m: SnmpMessage): void {
    const manager = srcAddrText(pkt);
    const agent = dstAddrText(pkt);
    const user = capText(pkt.buf.toString('utf8', m.userStart, m.userEnd));
    // Once a user's logins to an agent were reported accepted and refused, its polls add nothing.
    const triple = `${manager}|${agent}|${user}|`;
    if (this.reported.has(`${triple}succeeded`) && this.reported.has(`${triple}failed`)) return;
    const c = this.credential(pkt, m);
    if (c === null) return;
    const key = `${manager}|${agent}|${m.msgId}`;
    if (this.pending.has(key)) return;
    if (this.pending.size >= MAX_PENDING) this.settle(this.pending.keys().next().value!, 'unknown', 'no answer before others crowded it out', null);
    this.pending.set(key, { credential: c, manager, agent, service: hostPort(agent, pkt.dstPort) });
  }

  private answer(pkt: Packet, m: SnmpMessage): void {
    const key = `${dstAddrText(pkt)}|${srcAddrText(pkt)}|${m.msgId}`;
    if (!this.pending.has(key)) return;
    if (m.pduType === PDU_REPORT) {
      const stat = usmStatsOf(m, pkt.buf);
      const name = USM_STATS_NAMES[stat] ?? 'a Report';
      if (stat === WRONG_DIGESTS || stat === UNKNOWN_USER_NAMES) this.settle(key, 'failed', name, pkt);
      // Checked after the HMAC (RFC 3414 3.2 steps 6 and 7): the password was right, the clock was not.
      else if (stat === NOT_IN_TIME_WINDOWS && (m.msgFlags & V3_FLAG_AUTH) !== 0) this.settle(key, 'succeeded', `password accepted, then ${name}`, pkt);
      else this.settle(key, 'unknown', name, pkt);
      return;
    }
    if ((m.msgFlags & V3_FLAG_AUTH) !== 0) this.settle(key, 'succeeded', m.pduType !== 0 ? `authenticated ${pduName(m.pduType)}` : 'authenticated encrypted reply', pkt);
  }

  /** A trap or inform the agent authenticated: sent to the manager, with nothing to answer its key. */
  private notification(pkt: Packet, m: SnmpMessage): void {
    const c = this.credential(pkt, m);
    if (c === null) return;
    const sender = srcAddrText(pkt);
    const receiver = dstAddrText(pkt);
    this.emit({ credential: c, manager: sender, agent: receiver, service: hostPort(receiver, pkt.dstPort) }, 'unknown', 'a notification', pkt);
  }

  private settle(key: string, outcome: Outcome, detail: string, pkt: Packet | null): void {
    const p = this.pending.get(key);
    if (p === undefined) return;
    this.pending.delete(key);
    this.emit(p, outcome, detail, pkt);
  }

  private emit(p: PendingLogin, outcome: Outcome, detail: string, pkt: Packet | null): void {
    const c = p.credential;
    const once = `${p.manager}|${p.agent}|${c.user}|${outcome}`;
    if (this.reported.has(once)) return;
    if (this.reported.size >= MAX_REPORTED) this.reported.delete(this.reported.keys().next().value!);
    this.reported.add(once);
    const r = credentialReport(c, outcome, detail, p.manager, p.agent, p.service);
    const key = `${p.manager}|${p.service}|${c.user}`;
    if (pkt !== null) this.ctx.report(RULE, key, pkt, r);
    else this.ctx.reportAt(RULE, key, c.timeMs, r);
  }

  private expire(now: number): void {
    for (const [key, p] of this.pending) {
      if (now - p.credential.timeMs < ANSWER_MS) return;
      this.settle(key, 'unknown', 'no answer seen', null);
    }
  }

  /** End of input: what still waits is reported without an outcome. */
  finish(): void {
    for (const key of [...this.pending.keys()]) this.settle(key, 'unknown', 'no answer seen', null);
  }
}
