import { ip6ToString, macToString } from '../../decode/addr.js';
import { DHCP6_ADVERTISE, DHCP6_RECONFIGURE, DHCP6_REPLY, dnsNamesToText, type Dhcp6Message } from '../../decode/dhcpv6.js';
import { isLinkLocal6 } from '../../decode/ip6-addr.js';
import type { Packet } from '../../decode/packet.js';
import type { Entity, Severity } from '../../findings/finding.js';
import type { AnalyzerContext } from '../analyzer.js';
import { checkListed, Listed, type Ipv6Config } from './config.js';
import { ip6Entity, macEntity, receiverEntities, senderEntities } from './entities.js';
import type { RouterWatch } from './routers.js';

// Rogue DHCPv6 servers (T1557.003). Hosts (Windows first) ask for DHCPv6
// even on IPv4-only networks, so whoever answers becomes their DNS server:
// mitm6 answers every SOLICIT with its own link-local address as the only
// DNS server. The established server is the configured one, else the first
// one heard; any other server answering is rogue.

/** Servers kept; a link has one or two. */
const MAX_SERVERS = 16;
/**
 * mitm6 (dirkjanm/mitm6, send_dhcp_advertise/send_dhcp_reply) leases for
 * 300 s preferred and valid with T1 200 s and T2 250 s, out of fe80::/64;
 * real servers lease for hours or days.
 */
const SHORT_VALID_LIFETIME_S = 600;
const SHORT_T1_S = 300;
const MAX_ENTITY_ADDRESSES = 4;

class Server {
  readonly duid: Buffer;

  constructor(
    buf: Buffer,
    m: Dhcp6Message,
    readonly mac: number,
  ) {
    this.duid = Buffer.from(buf.subarray(m.serverIdOff, m.serverIdOff + Math.max(0, m.serverIdLen)));
  }

  hasDuid(buf: Buffer, m: Dhcp6Message): boolean {
    if (m.serverIdOff < 0) return this.duid.length === 0;
    return m.serverIdLen === this.duid.length && buf.compare(this.duid, 0, this.duid.length, m.serverIdOff, m.serverIdOff + m.serverIdLen) === 0;
  }
}

export class Dhcp6Watch {
  private readonly servers: Server[] = [];

  constructor(
    private readonly ctx: AnalyzerContext,
    private readonly cfg: Ipv6Config,
    private readonly routers: RouterWatch,
  ) {}

  get size(): number {
    return this.servers.length;
  }

  onMessage(pkt: Packet, m: Dhcp6Message): void {
    if (m.msgType !== DHCP6_ADVERTISE && m.msgType !== DHCP6_REPLY && m.msgType !== DHCP6_RECONFIGURE) return;
    const buf = pkt.buf;
    const mac = pkt.ethSrc;
    let known: Server | undefined;
    for (const s of this.servers) if (s.hasDuid(buf, m) && (s.mac === mac || s.mac === -1 || mac === -1)) known = s;
    const listed = checkListed(this.cfg.dhcpv6Servers, buf, pkt.ip6SrcOff, mac);
    let severity: Severity | null = null;
    let reason = '';
    let legitimate: Server | undefined;
    let establish = false;
    switch (listed) {
      case Listed.Yes:
        if (!known) this.addServer(buf, m, mac);
        break;
      case Listed.No:
        severity = 'high';
        reason = 'not a configured DHCPv6 server';
        break;
      case Listed.Impersonated:
        severity = 'high';
        reason = `configured server address sent from ${macToString(mac)}, which is not a configured server MAC`;
        break;
      case Listed.NoList:
        if (known) break;
        legitimate = this.servers[0];
        if (legitimate) {
          severity = 'high';
          reason = legitimate.hasDuid(buf, m)
            ? `uses the server identifier of the established server at ${macToString(legitimate.mac)}`
            : `a second DHCPv6 server beside the established one at ${macToString(legitimate.mac)}`;
        } else if (this.routers.declinesDhcp6()) {
          severity = 'high';
          reason = 'the routers on this link announce no DHCPv6 (managed and other-config flags clear)';
        } else {
          severity = 'low';
          reason = 'the first DHCPv6 server heard on this link, taken as its established server';
          establish = true;
        }
        break;
    }
    // A configured server is the operator's call; anyone else answering like mitm6 is critical.
    const mitm6 = listed === Listed.Yes ? null : this.mitm6Pattern(pkt, m);
    if (mitm6 !== null) {
      severity = 'critical';
      reason = establish ? mitm6 : reason ? `${reason}; ${mitm6}` : mitm6;
    } else if (establish) {
      this.addServer(buf, m, mac);
    }
    if (severity !== null) this.report(pkt, m, severity, reason, legitimate);
    // A rogue server (mitm6) serves its clients DNS next: answers pointing at it are weighed by the names analyzer.
    if (severity !== null && severity !== 'low') this.noteWinner(pkt);
  }

  private noteWinner(pkt: Packet): void {
    const network = this.ctx.network;
    if (pkt.ethSrc !== -1) network.noteContestWinnerMac6(pkt.ethSrc, pkt.timeMs, 'dhcpv6');
    network.noteContestWinner6(pkt.buf, pkt.ip6SrcOff, pkt.timeMs, 'dhcpv6', pkt.ethSrc);
  }

  /** What makes this answer look like mitm6's, or null. */
  private mitm6Pattern(pkt: Packet, m: Dhcp6Message): string | null {
    const buf = pkt.buf;
    if (!isLinkLocal6(buf, pkt.ip6SrcOff)) return null;
    let selfDns = false;
    for (let i = 0; i < m.dnsCount; i++) if (buf.compare(buf, pkt.ip6SrcOff, pkt.ip6SrcOff + 16, m.dnsOff[i]!, m.dnsOff[i]! + 16) === 0) selfDns = true;
    if (!selfDns) return null;
    let shortLease = m.iaT1 >= 0 && m.iaT1 <= SHORT_T1_S;
    let linkLocalLease = false;
    for (let i = 0; i < m.addrCount; i++) {
      if (m.addrValid[i]! > 0 && m.addrValid[i]! <= SHORT_VALID_LIFETIME_S) shortLease = true;
      if (isLinkLocal6(buf, m.addrOff[i]!)) linkLocalLease = true;
    }
    if (!shortLease && !linkLocalLease) return null;
    const lease = [shortLease ? 'a short lease' : '', linkLocalLease ? 'a link-local address to lease' : ''].filter(Boolean).join(' and ');
    return `names its own link-local address as the only DNS server with ${lease}, as mitm6 does`;
  }

  private addServer(buf: Buffer, m: Dhcp6Message, mac: number): void {
    if (this.servers.length >= MAX_SERVERS) this.servers.shift();
    this.servers.push(new Server(buf, m, mac));
  }

  private report(pkt: Packet, m: Dhcp6Message, severity: Severity, reason: string, legitimate: Server | undefined): void {
    const buf = pkt.buf;
    const role = severity === 'low' ? 'server' : 'attacker';
    const entities: Entity[] = senderEntities(pkt, role);
    if (m.serverDuidMac !== -1 && m.serverDuidMac !== pkt.ethSrc) entities.push(macEntity(m.serverDuidMac, 'claimed'));
    if (legitimate && legitimate.mac !== -1) entities.push(macEntity(legitimate.mac, 'legitimate'));
    entities.push(...receiverEntities(pkt, severity === 'low' ? 'client' : 'victim'));
    const dns: string[] = [];
    for (let i = 0; i < m.dnsCount; i++) {
      dns.push(ip6ToString(buf, m.dnsOff[i]!));
      entities.push(ip6Entity(buf, m.dnsOff[i]!, 'dns-server'));
    }
    const leases: string[] = [];
    for (let i = 0; i < m.addrCount; i++) {
      leases.push(`${ip6ToString(buf, m.addrOff[i]!)} (preferred ${m.addrPreferred[i]} s, valid ${m.addrValid[i]} s)`);
      if (i < MAX_ENTITY_ADDRESSES) entities.push(ip6Entity(buf, m.addrOff[i]!, 'assigned'));
    }
    const details = [
      m.serverIdOff >= 0 ? `server DUID ${buf.toString('hex', m.serverIdOff, m.serverIdOff + Math.min(m.serverIdLen, 32))}` : 'no server identifier',
      dns.length > 0 ? `DNS ${dns.join(', ')}` : '',
      leases.length > 0 ? `leases ${leases.join(', ')}` : '',
      m.iaT1 >= 0 ? `T1 ${m.iaT1} s, T2 ${m.iaT2} s` : '',
      m.domainOff >= 0 ? `search ${dnsNamesToText(buf, m.domainOff, m.domainEnd, 128)}` : '',
      m.relayDepth > 0 ? `relayed ${m.relayDepth} time(s)` : '',
    ].filter(Boolean);
    const name = m.msgType === DHCP6_ADVERTISE ? 'ADVERTISE' : m.msgType === DHCP6_REPLY ? 'REPLY' : 'RECONFIGURE';
    const from = `${ip6ToString(buf, pkt.ip6SrcOff)}${pkt.ethSrc !== -1 ? ` (${macToString(pkt.ethSrc)})` : ''}`;
    const duidKey = m.serverIdOff >= 0 ? buf.toString('hex', m.serverIdOff, m.serverIdOff + Math.min(m.serverIdLen, 32)) : '-';
    this.ctx.report('ipv6-rogue-dhcpv6', `${pkt.ethSrc === -1 ? ip6ToString(buf, pkt.ip6SrcOff) : macToString(pkt.ethSrc)}|${duidKey}`, pkt, {
      message: `DHCPv6 ${name} from ${from} (${details.join('; ')}): ${reason}`,
      entities,
      severity,
      confidence: severity === 'low' ? 0.3 : undefined,
    });
  }
}
