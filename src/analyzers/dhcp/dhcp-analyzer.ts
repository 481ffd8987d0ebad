import { sectionOf } from '../../config/config.js';
import { ip4ToString, isUnicastIp4, macToString } from '../../decode/addr.js';
import {
  BOOTP_SERVER_PORT,
  BOOTREQUEST,
  DHCP_MESSAGE_NAMES,
  DHCPACK,
  DHCPDISCOVER,
  DHCPOFFER,
  DHCPREQUEST,
  DhcpMessage,
  decodeDhcp,
  isBootpPorts,
} from '../../decode/dhcp.js';
import { MAX_VLAN_TAGS, type Packet } from '../../decode/packet.js';
import type { Entity, Severity } from '../../findings/finding.js';
import { ip4Entity, macEntity } from '../../findings/entities.js';
import { BoundedMap } from '../../util/bounded-map.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition } from '../analyzer.js';
import { dhcpConfigSection, type DhcpConfig } from './dhcp-config.js';

// DHCP spoofing and starvation (T1557.003). Per network scope (the local
// segment, or the subnet behind a relay agent) the first server seen answering,
// or the configured ones, are trusted, and so are the other servers whose answers
// the same relay agent sends on (a failover pair or split scope); another server
// handing out leases is a rogue, and a critical one when it hands out a router or
// DNS server the trusted servers do not. Starvation is many client hardware addresses asking
// within a short window; a flood is one client sending far more than a client
// does. State is bounded: scopes, transactions and client counters are capped
// maps that reuse evicted entries, and the starvation windows count distinct
// addresses in fixed open-addressing tables.

const MAX_LOCAL_SCOPES = 4096;
const MAX_RELAY_SCOPES = 1024;
const MAX_SERVERS_PER_SCOPE = 8;
/** Routers or DNS servers remembered per trusted server (what it handed out so far). */
const MAX_KNOWN_ADDRS = 8;
const MAX_TRANSACTIONS = 4096;
/** An OFFER for the same xid this long after the first one belongs to another exchange. */
const TRANSACTION_TTL_MS = 60_000;
const MAX_CLIENTS = 8192;
const STARVATION_SAMPLES = 4;
/** Scope and client entries move to the young end at most this often (LRU approximation). */
const REFRESH_MS = 30_000;
/**
 * Classless static routes this wide (a /1 to a /8) take over a large share of the address
 * space, more specifically than the default route and than a VPN's routes; networks route
 * their own subnets, far narrower. The TunnelVision technique (CVE-2024-3661) uses them.
 */
const MAX_HIJACK_WIDTH = 8;
/** Longest WPAD URL quoted in a finding. */
const MAX_URL_TEXT = 200;
/** Local scope keys sit above every IPv4 address (relay scope keys are the relay's address). */
const LOCAL_SCOPE_BASE = 2 ** 32;
/** The subnet of an answer without option 1 (the smallest common one: fewer gateways compared, not more). */
const DEFAULT_SUBNET_MASK = 0xffffff00;

const ROLE_ATTACKER = 'attacker';
const ROLE_VICTIM = 'victim';
const ROLE_ATTACKER_CONTROLLED = 'attacker-controlled';

interface TrustedServer {
  serverId: number;
  /** Ethernet source of its answers in this scope; -1 until seen on a link with addresses. */
  mac: number;
  configured: boolean;
  /** Trusted only for answering first; a server shown to be established takes its place. */
  firstSeen: boolean;
  /** Its answers reach the segment through a relay agent (sent on from the giaddr it filled in). */
  viaRelay: boolean;
  routers: number[];
  dns: number[];
  /** The proxy auto-configuration URL (option 252) it handed out first; null until one is seen. */
  wpad: string | null;
}

interface Scope {
  key: number;
  /** Relay agent address (giaddr) for relayed scopes, 0 for a local segment. */
  relay: number;
  vlan: number;
  refreshed: number;
  servers: TrustedServer[];
  /** Servers shown to hold leases from before: clients renew with them, or a relay agent forwards their answers. */
  established: number[];
  /** Why trust moved from the first server seen to an established one, for later reports of the former. */
  trustMoved: string | null;
  starvation: StarvationWindow | null;
}

interface Transaction {
  xid: number;
  client: number;
  scope: number;
  serverId: number;
  mac: number;
  trusted: boolean;
  /** Trusted by configuration or for reaching the segment through a relay agent. */
  vouched: boolean;
  yiaddr: number;
  router: number;
  dns: number;
  timeMs: number;
  reported: boolean;
}

interface ClientCounter {
  windowStart: number;
  messages: number;
  sourceIps: number;
  lastIp: number;
  reported: boolean;
}

/** Counts distinct non-negative numbers up to `limit` in a fixed table, without allocating. */
export class DistinctCounter {
  count = 0;
  private readonly table: Float64Array;
  private readonly shift: number;

  constructor(readonly limit: number) {
    let bits = 4;
    while (2 ** bits < limit * 2) bits++;
    this.table = new Float64Array(2 ** bits).fill(-1);
    this.shift = 32 - bits;
  }

  clear(): void {
    if (this.count === 0) return;
    this.table.fill(-1);
    this.count = 0;
  }

  /** Adds `v`; true when it was not counted yet. Stops counting at the limit (the table stays at most half full). */
  add(v: number): boolean {
    if (this.count >= this.limit) return false;
    const hi = Math.floor(v / 4294967296);
    const mask = this.table.length - 1;
    let i = Math.imul((v >>> 0) ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
    for (;;) {
      const x = this.table[i]!;
      if (x === v) return false;
      if (x === -1) {
        this.table[i] = v;
        this.count++;
        return true;
      }
      i = (i + 1) & mask;
    }
  }
}

class StarvationWindow {
  start = 0;
  messages = 0;
  /** Majority vote (Boyer-Moore) over the Ethernet sources: the station sending most messages. */
  ethSrc = -1;
  ethVotes = 0;
  /** Messages whose Ethernet source equals their chaddr (tools forging both). */
  ethIsClient = 0;
  reported = false;
  readonly clients: DistinctCounter;
  readonly samples = new Float64Array(STARVATION_SAMPLES);
  sampleCount = 0;

  constructor(limit: number) {
    this.clients = new DistinctCounter(limit);
  }

  restart(t: number): void {
    this.start = t;
    this.messages = 0;
    this.ethSrc = -1;
    this.ethVotes = 0;
    this.ethIsClient = 0;
    this.reported = false;
    this.clients.clear();
    this.sampleCount = 0;
  }
}

export class DhcpAnalyzer implements Analyzer {
  private readonly msg = new DhcpMessage();
  private readonly cfg: DhcpConfig;
  private readonly localScopes = new BoundedMap<number, Scope>(MAX_LOCAL_SCOPES);
  private readonly relayScopes = new BoundedMap<number, Scope>(MAX_RELAY_SCOPES);
  private readonly transactions = new BoundedMap<number, Transaction>(MAX_TRANSACTIONS);
  private readonly clients = new BoundedMap<number, ClientCounter>(MAX_CLIENTS);

  constructor(private readonly ctx: AnalyzerContext) {
    this.cfg = sectionOf(ctx.config, dhcpConfigSection);
    for (const r of this.cfg.routers) ctx.network.learnConfiguredGateway(r);
  }

  onUdp(pkt: Packet): void {
    if (pkt.ipVersion !== 4 || !isBootpPorts(pkt)) return;
    const m = this.msg;
    if (!decodeDhcp(pkt, m)) return;
    if (m.op === BOOTREQUEST) this.onRequest(m, pkt);
    else this.onReply(m, pkt);
  }

  stateSize(): number {
    let servers = 0;
    for (const s of this.localScopes.values()) servers += s.servers.length;
    for (const s of this.relayScopes.values()) servers += s.servers.length;
    return this.localScopes.size + this.relayScopes.size + servers + this.transactions.size + this.clients.size;
  }

  // --- clients: starvation and floods ---------------------------------------

  private onRequest(m: DhcpMessage, pkt: Packet): void {
    // A relay agent fills giaddr when it forwards: the client lives behind it.
    const relayed = m.giaddr !== 0;
    const client = clientKey(m, pkt);
    if (m.msgType === DHCPDISCOVER || m.msgType === DHCPREQUEST) {
      this.countStarvation(this.scopeFor(pkt, m.giaddr), pkt, client, relayed);
    }
    // A renewal (RFC 2131 4.3.2, RENEWING: unicast from the lease's address to its server) shows a lease from before the capture.
    if (m.msgType === DHCPREQUEST && m.ciaddr !== 0 && !relayed && pkt.ip4Src === m.ciaddr && isUnicastIp4(pkt.ip4Dst)) {
      this.noteEstablished(this.scopeFor(pkt, 0), pkt.ip4Dst);
    }
    // Direct messages are counted per transmitting station, relayed ones per client.
    this.countClient(relayed || pkt.ethSrc < 0 ? client : pkt.ethSrc, m, pkt, relayed);
  }

  private countStarvation(scope: Scope, pkt: Packet, client: number, relayed: boolean): void {
    const t = pkt.timeMs;
    const w = (scope.starvation ??= new StarvationWindow(this.cfg.starvationClients));
    if (w.messages === 0 || t - w.start > this.cfg.starvationWindowMs || t < w.start) w.restart(t);
    w.messages++;
    if (pkt.ethSrc >= 0) {
      if (w.ethVotes === 0) w.ethSrc = pkt.ethSrc;
      w.ethVotes += pkt.ethSrc === w.ethSrc ? 1 : -1;
      if (pkt.ethSrc === client) w.ethIsClient++;
    }
    if (w.clients.add(client) && w.sampleCount < STARVATION_SAMPLES) w.samples[w.sampleCount++] = client;
    if (w.reported || w.clients.count < this.cfg.starvationClients) return;
    w.reported = true;
    // Votes of half the messages or more mean that station sent at least three quarters of them.
    const oneSource = w.ethSrc >= 0 && w.ethVotes * 2 >= w.messages;
    const forged = !oneSource && w.ethIsClient * 10 >= w.messages * 9;
    const entities: Entity[] = [];
    if (oneSource) entities.push(macEntity(w.ethSrc, relayed ? 'relay' : ROLE_ATTACKER));
    if (relayed) entities.push(ip4Entity(scope.relay, 'relay'));
    // A few of the client addresses asked for, as examples (forged by a tool, or real in a boot storm).
    for (let i = 0; i < w.sampleCount; i++) entities.push(macEntity(w.samples[i]!, 'claimed-client'));
    if (scope.vlan > 0) entities.push({ type: 'vlan', value: String(scope.vlan), role: 'segment' });
    const how = oneSource
      ? `, ${w.ethVotes === w.messages ? 'all' : 'mostly'} sent by ${macToString(w.ethSrc)}${relayed ? ' (the relay)' : ''}`
      : forged
        ? ', nearly each from an Ethernet source equal to its forged client address'
        : '';
    this.ctx.report('dhcp-starvation', `${scope.key}|${oneSource && !relayed ? macToString(w.ethSrc) : '*'}`, pkt, {
      message: `${w.clients.count} distinct client hardware addresses sent DHCP DISCOVER/REQUEST within ${seconds(t - w.start)} s on ${describeScope(scope)} (${w.messages} messages; threshold ${this.cfg.starvationClients} per ${seconds(this.cfg.starvationWindowMs)} s)${how}`,
      entities,
      // One station speaking for many client addresses, not being a relay, is the tool's signature.
      confidence: oneSource && !relayed ? 0.9 : undefined,
    });
  }

  private countClient(key: number, m: DhcpMessage, pkt: Packet, relayed: boolean): void {
    const t = pkt.timeMs;
    let c = this.clients.get(key);
    if (!c) {
      c = this.newClientCounter(key);
      c.windowStart = t;
    } else if (t - c.windowStart > this.cfg.starvationWindowMs || t < c.windowStart) {
      c.windowStart = t;
      c.messages = 0;
      c.sourceIps = 0;
      c.reported = false;
      this.clients.touch(key);
    }
    c.messages++;
    if (c.messages === 1 || pkt.ip4Src !== c.lastIp) {
      c.sourceIps++;
      c.lastIp = pkt.ip4Src;
    }
    if (c.reported || c.messages < this.cfg.clientFloodMessages) return;
    c.reported = true;
    const entities: Entity[] = [macEntity(key, relayed ? 'client' : ROLE_ATTACKER)];
    if (relayed) entities.push(ip4Entity(m.giaddr, 'relay'));
    else if (m.chaddr >= 0 && m.chaddr !== key) entities.push(macEntity(m.chaddr, 'claimed-client'));
    const kind = DHCP_MESSAGE_NAMES[m.msgType] ?? `type ${m.msgType}`;
    this.ctx.report('dhcp-flood', macToString(key), pkt, {
      message: `${relayed ? 'client ' : ''}${macToString(key)} sent ${c.messages} DHCP messages within ${seconds(t - c.windowStart)} s (last: ${kind}${c.sourceIps > 1 ? `, from ${c.sourceIps} source addresses` : ''}${relayed ? `, via relay ${ip4ToString(m.giaddr)}` : ''}); threshold ${this.cfg.clientFloodMessages} per ${seconds(this.cfg.starvationWindowMs)} s`,
      entities,
    });
  }

  private newClientCounter(key: number): ClientCounter {
    // The counter forgotten to make room is reused.
    let c = this.clients.size >= MAX_CLIENTS ? this.clients.shift() : undefined;
    c ??= { windowStart: 0, messages: 0, sourceIps: 0, lastIp: 0, reported: false };
    c.messages = 0;
    c.sourceIps = 0;
    c.lastIp = 0;
    c.reported = false;
    this.clients.set(key, c);
    return c;
  }

  // --- servers: rogues, competing offers, option changes --------------------

  private onReply(m: DhcpMessage, pkt: Packet): void {
    if (m.msgType !== DHCPOFFER && m.msgType !== DHCPACK) return;
    // An answer that hands out neither an address nor a router or DNS server
    // (PXE proxyDHCP, an INFORM ACK with other options) redirects nobody.
    if (m.yiaddr === 0 && m.routerCount === 0 && m.dnsCount === 0) return;
    // Server -> relay answers go to port 67 and concern the subnet behind the relay.
    const scope = this.scopeFor(pkt, pkt.dstPort === BOOTP_SERVER_PORT ? m.giaddr : 0);
    const serverId = m.serverId >= 0 ? m.serverId : pkt.ip4Src;
    const mac = pkt.ethSrc;
    const relayed = m.giaddr !== 0 && pkt.dstPort !== BOOTP_SERVER_PORT;
    // A relay agent sends the answer on from its address on the client's subnet, the giaddr it filled in.
    const viaRelay = relayed && pkt.ip4Src === m.giaddr;
    let impersonated: TrustedServer | undefined;
    let trusted: TrustedServer | undefined;
    for (const s of scope.servers) {
      if (s.serverId !== serverId) continue;
      if (s.mac < 0 || mac < 0 || s.mac === mac || (viaRelay && s.viaRelay && this.ctx.network.isObservedRouterMac(mac))) {
        trusted = s;
        if (s.mac < 0) s.mac = mac;
        break;
      }
      impersonated = s;
    }
    // A relay agent forwarding the answer to the client: the network's own configuration points at this server.
    if (relayed) this.noteEstablished(scope, serverId);
    if (!trusted && !impersonated) {
      trusted = this.maybeTrust(scope, serverId, mac, m, viaRelay) ?? this.trustRelayedPeer(scope, serverId, mac, viaRelay) ?? this.moveTrust(scope, serverId, mac, m, viaRelay);
    }
    if (trusted) {
      this.checkOptionChange(trusted, scope, m, pkt, true);
      this.checkOptionChange(trusted, scope, m, pkt, false);
      if (m.wpadLen > 0) this.checkWpadChange(trusted, scope, m, pkt);
    } else {
      this.reportRogue(scope, serverId, impersonated, m, pkt);
    }
    if (m.routeCount > 0) this.checkRouteInjection(scope, serverId, trusted !== undefined, m, pkt);
    if (m.msgType === DHCPOFFER) this.trackOffer(scope, serverId, mac, trusted, m, pkt);
    for (let i = 0; i < m.routerCount; i++) this.ctx.network.noteDhcpRouter(m.routers[i]!);
  }

  /**
   * With a configured list, listed servers are trusted; without one, the
   * first server of a scope is, unless it hands out a router other than the
   * gateways seen forwarding traffic on the subnet it leases in.
   */
  private maybeTrust(scope: Scope, serverId: number, mac: number, m: DhcpMessage, viaRelay: boolean): TrustedServer | undefined {
    const configured = this.cfg.servers.size > 0;
    if (configured ? !this.cfg.servers.has(serverId) : scope.servers.length > 0) return undefined;
    if (!configured && !scope.established.includes(serverId) && this.gatewaysBypassed(scope, m).length > 0) return undefined;
    return this.addTrusted(scope, serverId, mac, configured, !configured && !scope.established.includes(serverId), viaRelay);
  }

  /**
   * Without a configured list, another server whose answers the relay agent of a
   * trusted server forwards (or a router seen forwarding traffic does) is trusted
   * beside it: relay agents forward only to the servers they are configured with,
   * so a failover pair or split scope behind a relay is the network's own.
   */
  private trustRelayedPeer(scope: Scope, serverId: number, mac: number, viaRelay: boolean): TrustedServer | undefined {
    if (!viaRelay || this.cfg.servers.size > 0 || mac < 0) return undefined;
    const sameRelay = scope.servers.some((s) => s.viaRelay && s.mac === mac);
    if (!sameRelay && !(scope.servers.some((s) => s.viaRelay) && this.ctx.network.isObservedRouterMac(mac))) return undefined;
    return this.addTrusted(scope, serverId, mac, false, false, true);
  }

  private addTrusted(scope: Scope, serverId: number, mac: number, configured: boolean, firstSeen: boolean, viaRelay: boolean): TrustedServer | undefined {
    if (scope.servers.length >= MAX_SERVERS_PER_SCOPE) return undefined;
    const s: TrustedServer = { serverId, mac, configured, firstSeen, viaRelay, routers: [], dns: [], wpad: null };
    scope.servers.push(s);
    return s;
  }

  private noteEstablished(scope: Scope, serverId: number): void {
    if (!scope.established.includes(serverId) && scope.established.length < MAX_SERVERS_PER_SCOPE) scope.established.push(serverId);
  }

  /**
   * Without a configured list, the first server to answer is trusted; if that
   * was a rogue faster than the real server (a capture taken during the
   * attack), a server that clients renew leases with, or whose answers a relay
   * agent forwards, takes its place; so does one handing out a gateway seen
   * forwarding traffic when the trusted ones hand out none. The former is
   * reported from its next answer on.
   */
  private moveTrust(scope: Scope, serverId: number, mac: number, m: DhcpMessage, viaRelay: boolean): TrustedServer | undefined {
    if (this.cfg.servers.size > 0 || scope.servers.length === 0) return undefined;
    if (!scope.servers.every((s) => s.firstSeen && !scope.established.includes(s.serverId))) return undefined;
    let why: string;
    if (scope.established.includes(serverId)) {
      why = 'which clients renew leases with or whose answers a relay agent forwards';
    } else {
      const network = this.ctx.network;
      const gateway = this.handedOutObservedGateway(scope, m);
      if (gateway < 0 || scope.servers.some((s) => s.routers.some((r) => network.isObservedGateway(r)))) return undefined;
      why = `which hands out ${ip4ToString(gateway)}, a gateway seen forwarding traffic`;
    }
    const former = scope.servers.map((s) => ip4ToString(s.serverId)).join(', ');
    scope.trustMoved = `trust moved from ${former} to ${ip4ToString(serverId)}, ${why}`;
    scope.servers.length = 0;
    return this.addTrusted(scope, serverId, mac, false, false, viaRelay);
  }

  /**
   * Gateways seen forwarding traffic (or configured) on the subnet the answer
   * leases in (option 1, else a /24). None for an answer without a lease, or
   * in a relayed scope, whose routers are on a subnet this sensor may not see.
   */
  private subnetGateways(scope: Scope, m: DhcpMessage): number[] {
    if (scope.relay !== 0 || m.yiaddr === 0) return [];
    return this.ctx.network.observedGatewaysIn(m.yiaddr, m.subnetMask >= 0 ? m.subnetMask : DEFAULT_SUBNET_MASK);
  }

  /** The subnet's known gateways when the answer hands out routers but none of them; [] otherwise. */
  private gatewaysBypassed(scope: Scope, m: DhcpMessage): number[] {
    if (m.routerCount === 0) return [];
    const gateways = this.subnetGateways(scope, m);
    return firstRouterIn(m, gateways) < 0 ? gateways : [];
  }

  /** The first router the answer hands out that is a known gateway of its subnet, or -1. */
  private handedOutObservedGateway(scope: Scope, m: DhcpMessage): number {
    return firstRouterIn(m, this.subnetGateways(scope, m));
  }

  /** The trusted server's routers (or DNS servers): first seen are learned, later new ones reported. */
  private checkOptionChange(s: TrustedServer, scope: Scope, m: DhcpMessage, pkt: Packet, routers: boolean): void {
    const list = routers ? m.routers : m.dnsServers;
    const n = routers ? m.routerCount : m.dnsCount;
    if (n === 0) return;
    const known = routers ? s.routers : s.dns;
    if (known.length === 0) {
      for (let i = 0; i < n; i++) {
        known.push(list[i]!);
        if (routers) this.ctx.network.learnGateway(list[i]!);
      }
      return;
    }
    let unknown = false;
    for (let i = 0; i < n; i++) if (!known.includes(list[i]!)) unknown = true;
    if (!unknown) return;
    const added: number[] = [];
    for (let i = 0; i < n; i++) if (!known.includes(list[i]!)) added.push(list[i]!);
    const before = known.map(ip4ToString).join(', ');
    for (const a of added) if (known.length < MAX_KNOWN_ADDRS) known.push(a);
    const what = routers ? 'router (option 3)' : 'DNS servers (option 6)';
    const entities: Entity[] = [ip4Entity(s.serverId, 'server')];
    if (s.mac >= 0) entities.push(macEntity(s.mac, 'server'));
    for (const a of added) entities.push(ip4Entity(a, routers ? 'new-router' : 'new-dns-server'));
    this.addClientEntities(entities, m);
    this.ctx.report('dhcp-option-change', `${scope.key}|${ip4ToString(s.serverId)}|${routers ? 'router' : 'dns'}|${added.map(ip4ToString).join(',')}`, pkt, {
      message: `trusted DHCP server ${ip4ToString(s.serverId)} on ${describeScope(scope)} now hands out ${what} ${addrList(list, n)} in a ${DHCP_MESSAGE_NAMES[m.msgType]}; it handed out ${before} before`,
      entities,
    });
  }

  /** The trusted server's WPAD URL: the first is learned (networks do hand one out), a different one reported. */
  private checkWpadChange(s: TrustedServer, scope: Scope, m: DhcpMessage, pkt: Packet): void {
    const url = wpadText(m, pkt);
    if (s.wpad === null) {
      s.wpad = url;
      return;
    }
    if (url === s.wpad) return;
    const entities: Entity[] = [ip4Entity(s.serverId, 'server')];
    if (s.mac >= 0) entities.push(macEntity(s.mac, 'server'));
    this.addClientEntities(entities, m);
    this.ctx.report('dhcp-option-change', `${scope.key}|${ip4ToString(s.serverId)}|wpad|${url}`, pkt, {
      message: `trusted DHCP server ${ip4ToString(s.serverId)} on ${describeScope(scope)} now hands out proxy auto-configuration (WPAD, option 252) ${url} in a ${DHCP_MESSAGE_NAMES[m.msgType]}; it handed out ${s.wpad} before: clients that follow it send their web traffic to the proxies it names`,
      entities,
    });
  }

  private reportRogue(scope: Scope, serverId: number, impersonated: TrustedServer | undefined, m: DhcpMessage, pkt: Packet): void {
    const mac = pkt.ethSrc;
    const t = pkt.timeMs;
    const routersBad = this.redirects(scope, m, pkt, serverId, true);
    const dnsBad = this.redirects(scope, m, pkt, serverId, false);
    const routesBad = this.routesRedirect(scope, m);
    // A proxy configuration from a rogue sends the clients' web traffic where it says.
    const severity: Severity = routersBad || dnsBad || routesBad || m.wpadLen > 0 ? 'critical' : 'high';
    const entities: Entity[] = [];
    entities.push(ip4Entity(serverId, impersonated ? 'impersonated' : ROLE_ATTACKER));
    if (mac >= 0) entities.push(macEntity(mac, ROLE_ATTACKER));
    if (pkt.ip4Src !== serverId && pkt.ip4Src !== 0 && !(impersonated && pkt.ip4Src === impersonated.serverId)) entities.push(ip4Entity(pkt.ip4Src, ROLE_ATTACKER));
    this.addClientEntities(entities, m);
    this.addOfferedEntities(entities, scope, m, serverId, true);
    this.addOfferedEntities(entities, scope, m, serverId, false);
    const legit = impersonated ?? scope.servers[0];
    // A first server not trusted for bypassing the subnet's known gateway: that is the evidence.
    const bypassed = impersonated || legit || this.cfg.servers.size > 0 ? [] : this.gatewaysBypassed(scope, m);
    if (legit && !impersonated) entities.push(ip4Entity(legit.serverId, 'legitimate'));
    if (legit && legit.mac >= 0) entities.push(macEntity(legit.mac, 'legitimate'));
    for (const g of bypassed.slice(0, 8)) entities.push(ip4Entity(g, 'gateway'));
    if (scope.vlan > 0) entities.push({ type: 'vlan', value: String(scope.vlan), role: 'segment' });

    // Other analyzers weigh traffic towards the rogue and the routers it hands out.
    if (!impersonated) this.ctx.network.noteContestWinner(serverId, t);
    if (pkt.ip4Src !== 0 && pkt.ip4Src !== legit?.serverId) this.ctx.network.noteContestWinner(pkt.ip4Src, t);
    for (let i = 0; i < m.routerCount; i++) if (!this.isBaseline(scope, m.routers[i]!, true)) this.ctx.network.noteContestWinner(m.routers[i]!, t);
    for (let i = 0; i < m.routeCount; i++) if (!this.isBaseline(scope, m.routeGateway[i]!, true)) this.ctx.network.noteContestWinner(m.routeGateway[i]!, t);

    const who = impersonated
      ? `${macToString(mac)} answers as trusted DHCP server ${ip4ToString(serverId)}, whose answers come from ${macToString(impersonated.mac)},`
      : `rogue DHCP server ${ip4ToString(serverId)}${mac >= 0 ? ` (${macToString(mac)})` : ''}`;
    const gives: string[] = [];
    if (m.yiaddr !== 0) gives.push(`address ${ip4ToString(m.yiaddr)}`);
    if (m.routerCount > 0) gives.push(`router ${addrList(m.routers, m.routerCount)}${routersBad ? ' (not a trusted router)' : ''}`);
    if (m.dnsCount > 0) gives.push(`DNS ${addrList(m.dnsServers, m.dnsCount)}${dnsBad ? ' (not a trusted DNS server)' : ''}`);
    if (m.routeCount > 0) gives.push(`static routes ${routeList(m)}${routesBad ? ' (through a router the trusted servers do not hand out)' : ''}`);
    if (m.wpadLen > 0) gives.push(`proxy auto-configuration (WPAD) ${wpadText(m, pkt)}`);
    const trustedText = impersonated
      ? ''
      : legit
        ? `; trusted server: ${ip4ToString(legit.serverId)}${scope.trustMoved !== null ? ` (${scope.trustMoved})` : ''}`
        : this.cfg.servers.size > 0
          ? `; configured servers: ${[...this.cfg.servers].slice(0, 8).map(ip4ToString).join(', ')}`
          : bypassed.length > 0
            ? `; the subnet's gateway, seen forwarding traffic${this.cfg.routers.size > 0 ? ' or configured' : ''}, is ${bypassed.slice(0, 8).map(ip4ToString).join(', ')}`
            : '';
    this.ctx.report('dhcp-rogue-server', `${scope.key}|${ip4ToString(serverId)}|${macToString(mac)}`, pkt, {
      message: `${who} sent an ${DHCP_MESSAGE_NAMES[m.msgType]} to ${clientText(m)} on ${describeScope(scope)} handing out ${gives.join(', ')}${trustedText}`,
      entities,
      severity,
    });
  }

  /**
   * Whether the answer hands out a router (or DNS server) the trusted servers
   * and the configuration do not; with nothing to compare against, whether it
   * names the rogue itself.
   */
  private redirects(scope: Scope, m: DhcpMessage, pkt: Packet, serverId: number, routers: boolean): boolean {
    const list = routers ? m.routers : m.dnsServers;
    const n = routers ? m.routerCount : m.dnsCount;
    const haveBaseline = this.hasBaseline(scope, routers);
    // No server to compare with, but the subnet's gateway is known from traffic and not handed out.
    if (routers && !haveBaseline && this.gatewaysBypassed(scope, m).length > 0) return true;
    for (let i = 0; i < n; i++) {
      const a = list[i]!;
      if (haveBaseline ? !this.isBaseline(scope, a, routers) : a === serverId || a === pkt.ip4Src) return true;
    }
    return false;
  }

  /** Whether a classless static route goes through a router that neither the trusted servers nor the configuration hand out. */
  private routesRedirect(scope: Scope, m: DhcpMessage): boolean {
    for (let i = 0; i < m.routeCount; i++) if (!this.isBaseline(scope, m.routeGateway[i]!, true)) return true;
    return false;
  }

  /**
   * Classless static routes wide enough to take over a large share of the
   * address space, from any server: clients prefer them to the default route
   * and to a VPN's less specific routes, so traffic meant for the tunnel
   * leaves in clear through their router (TunnelVision).
   */
  private checkRouteInjection(scope: Scope, serverId: number, trusted: boolean, m: DhcpMessage, pkt: Packet): void {
    const wide: number[] = [];
    for (let i = 0; i < m.routeCount; i++) if (m.routeWidth[i]! >= 1 && m.routeWidth[i]! <= MAX_HIJACK_WIDTH) wide.push(i);
    if (wide.length === 0) return;
    let addresses = 0;
    for (const i of wide) addresses += 2 ** (32 - m.routeWidth[i]!);
    const gateways = [...new Set(wide.map((i) => m.routeGateway[i]!))];
    const entities: Entity[] = [ip4Entity(serverId, trusted ? 'server' : ROLE_ATTACKER)];
    if (pkt.ethSrc >= 0) entities.push(macEntity(pkt.ethSrc, trusted ? 'server' : ROLE_ATTACKER));
    for (const g of gateways) entities.push(ip4Entity(g, ROLE_ATTACKER_CONTROLLED));
    this.addClientEntities(entities, m);
    const routes = wide.map((i) => routeText(m, i)).join(', ');
    const share = addresses >= 2 ** 32 ? 'all IPv4 addresses' : `${((100 * addresses) / 2 ** 32).toFixed(addresses >= 2 ** 31 ? 0 : 1)}% of IPv4 addresses`;
    this.ctx.report('dhcp-route-injection', `${scope.key}|${ip4ToString(serverId)}|${routes}`, pkt, {
      message:
        `${trusted ? 'trusted' : 'untrusted'} DHCP server ${ip4ToString(serverId)}${pkt.ethSrc >= 0 ? ` (${macToString(pkt.ethSrc)})` : ''} hands out classless static routes ${routes} ` +
        `(option 121/249) to ${clientText(m)} on ${describeScope(scope)}: clients prefer them to the default route and to any VPN route less specific, ` +
        `so traffic to ${share} goes through ${gateways.map(ip4ToString).join(', ')} outside the tunnel (the TunnelVision technique, CVE-2024-3661)`,
      entities,
    });
  }

  private hasBaseline(scope: Scope, routers: boolean): boolean {
    if ((routers ? this.cfg.routers : this.cfg.dnsServers).size > 0) return true;
    return scope.servers.some((s) => (routers ? s.routers : s.dns).length > 0);
  }

  private isBaseline(scope: Scope, a: number, routers: boolean): boolean {
    if ((routers ? this.cfg.routers : this.cfg.dnsServers).has(a)) return true;
    return scope.servers.some((s) => (routers ? s.routers : s.dns).includes(a));
  }

  private addOfferedEntities(entities: Entity[], scope: Scope, m: DhcpMessage, serverId: number, routers: boolean): void {
    const list = routers ? m.routers : m.dnsServers;
    const n = routers ? m.routerCount : m.dnsCount;
    const haveBaseline = this.hasBaseline(scope, routers);
    for (let i = 0; i < n; i++) {
      const a = list[i]!;
      const bad = haveBaseline ? !this.isBaseline(scope, a, routers) : a === serverId;
      const role = bad ? ROLE_ATTACKER_CONTROLLED : routers ? 'offered-router' : 'offered-dns-server';
      // The rogue often names itself as both router and DNS server: one entity is enough.
      if (!entities.some((e) => e.type === 'ip' && e.value === ip4ToString(a) && e.role === role)) entities.push(ip4Entity(a, role));
    }
  }

  private addClientEntities(entities: Entity[], m: DhcpMessage, role = ROLE_VICTIM): void {
    if (m.chaddr >= 0) entities.push(macEntity(m.chaddr, role));
    if (m.yiaddr !== 0) entities.push(ip4Entity(m.yiaddr, role));
    else if (m.ciaddr !== 0) entities.push(ip4Entity(m.ciaddr, role));
  }

  /** Two servers offering a client different things in the same transaction. */
  private trackOffer(scope: Scope, serverId: number, mac: number, server: TrustedServer | undefined, m: DhcpMessage, pkt: Packet): void {
    const t = pkt.timeMs;
    const trusted = server !== undefined;
    const vouched = server !== undefined && (server.configured || server.viaRelay);
    const client = m.chaddr;
    const router = m.routerCount > 0 ? m.routers[0]! : -1;
    const dns = m.dnsCount > 0 ? m.dnsServers[0]! : -1;
    let tx = this.transactions.get(m.xid);
    if (tx && tx.client === client && tx.scope === scope.key && t >= tx.timeMs && t - tx.timeMs <= TRANSACTION_TTL_MS) {
      const sameServer = tx.serverId === serverId && (tx.mac === mac || tx.mac < 0 || mac < 0);
      const sameOffer = tx.yiaddr === m.yiaddr && tx.router === router && tx.dns === dns;
      // Several configured servers, or servers behind the network's relay agents, answering one DISCOVER is how redundant DHCP works.
      const bothVouched = tx.vouched && vouched;
      if (sameServer || sameOffer || bothVouched || tx.reported) return;
      tx.reported = true;
      const [a, b] = tx.serverId <= serverId ? [tx.serverId, serverId] : [serverId, tx.serverId];
      const entities: Entity[] = [ip4Entity(tx.serverId, tx.trusted ? 'server' : 'suspect')];
      if (tx.mac >= 0) entities.push(macEntity(tx.mac, tx.trusted ? 'server' : 'suspect'));
      entities.push(ip4Entity(serverId, trusted ? 'server' : 'suspect'));
      if (mac >= 0) entities.push(macEntity(mac, trusted ? 'server' : 'suspect'));
      if (client >= 0) entities.push(macEntity(client, 'client'));
      this.ctx.report('dhcp-competing-offers', `${scope.key}|${ip4ToString(a)}|${ip4ToString(b)}`, pkt, {
        message: `transaction 0x${m.xid.toString(16)} of ${clientText(m)} on ${describeScope(scope)} got different offers: ${offerText(tx.serverId, tx.yiaddr, tx.router, tx.dns)} and ${offerText(serverId, m.yiaddr, router, dns)}`,
        entities,
      });
      return;
    }
    if (tx) {
      this.transactions.delete(m.xid);
    } else if (this.transactions.size >= MAX_TRANSACTIONS) {
      tx = this.transactions.shift();
    }
    tx ??= { xid: 0, client: 0, scope: 0, serverId: 0, mac: 0, trusted: false, vouched: false, yiaddr: 0, router: 0, dns: 0, timeMs: 0, reported: false };
    tx.xid = m.xid;
    tx.client = client;
    tx.scope = scope.key;
    tx.serverId = serverId;
    tx.mac = mac;
    tx.trusted = trusted;
    tx.vouched = vouched;
    tx.yiaddr = m.yiaddr;
    tx.router = router;
    tx.dns = dns;
    tx.timeMs = t;
    tx.reported = false;
    this.transactions.set(m.xid, tx);
  }

  // --- scopes -----------------------------------------------------------------

  /** The network a message concerns: the subnet behind relay `relay`, or (relay 0) the captured segment. */
  private scopeFor(pkt: Packet, relay: number): Scope {
    const t = pkt.timeMs;
    const vlan = pkt.vlanCount > 0 ? pkt.vlans[Math.min(pkt.vlanCount, MAX_VLAN_TAGS) - 1]! : 0;
    // Frames inside a tunnel belong to the tunnel's segment (VNI, session id).
    const tunnel = pkt.outer ? (pkt.outer.encapId + 1) % 2 ** 24 : 0;
    const key = relay !== 0 ? relay : LOCAL_SCOPE_BASE + vlan + 4096 * (pkt.interfaceId % 256) + 2 ** 20 * tunnel;
    const map = relay !== 0 ? this.relayScopes : this.localScopes;
    let s = map.get(key);
    if (s) {
      if (t - s.refreshed > REFRESH_MS || t < s.refreshed) {
        s.refreshed = t;
        map.touch(key);
      }
      return s;
    }
    s = { key, relay, vlan, refreshed: t, servers: [], established: [], trustMoved: null, starvation: null };
    map.set(key, s);
    return s;
  }
}

/** The client's hardware address as a number: chaddr for Ethernet, else up to its first 6 bytes. */
function clientKey(m: DhcpMessage, pkt: Packet): number {
  if (m.chaddr >= 0) return m.chaddr;
  let v = 0;
  const n = Math.min(m.hlen, 6);
  for (let i = 0; i < n; i++) v = v * 256 + pkt.buf[m.chaddrOff + i]!;
  return v;
}

function describeScope(s: Scope): string {
  if (s.relay !== 0) return `the subnet behind relay ${ip4ToString(s.relay)}`;
  return s.vlan > 0 ? `the local segment (VLAN ${s.vlan})` : 'the local segment';
}

function clientText(m: DhcpMessage): string {
  const who = m.chaddr >= 0 ? macToString(m.chaddr) : 'a client';
  return m.ciaddr !== 0 ? `${who} (${ip4ToString(m.ciaddr)})` : who;
}

function offerText(serverId: number, yiaddr: number, router: number, dns: number): string {
  const parts = [yiaddr !== 0 ? ip4ToString(yiaddr) : 'no address'];
  if (router >= 0) parts.push(`router ${ip4ToString(router)}`);
  if (dns >= 0) parts.push(`DNS ${ip4ToString(dns)}`);
  return `${ip4ToString(serverId)} offers ${parts.join(', ')}`;
}

/** The first router (option 3) of the answer that is in `addrs`, or -1. */
function firstRouterIn(m: DhcpMessage, addrs: readonly number[]): number {
  for (let i = 0; i < m.routerCount; i++) if (addrs.includes(m.routers[i]!)) return m.routers[i]!;
  return -1;
}

function addrList(list: Uint32Array, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(ip4ToString(list[i]!));
  return out.join(', ');
}

function routeText(m: DhcpMessage, i: number): string {
  return `${ip4ToString(m.routeDest[i]!)}/${m.routeWidth[i]} via ${ip4ToString(m.routeGateway[i]!)}`;
}

function routeList(m: DhcpMessage): string {
  const out: string[] = [];
  for (let i = 0; i < m.routeCount; i++) out.push(routeText(m, i));
  return m.routeTotal > m.routeCount ? `${out.join(', ')} and ${m.routeTotal - m.routeCount} more` : out.join(', ');
}

function wpadText(m: DhcpMessage, pkt: Packet): string {
  const n = Math.min(m.wpadLen, MAX_URL_TEXT);
  // Trailing NULs are common (C strings); the URL is the attacker's text, escaped where it is shown.
  return pkt.buf.toString('latin1', m.wpadOff, m.wpadOff + n).replace(/\0+$/, '') + (m.wpadLen > n ? '...' : '');
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

export const dhcpAnalyzer: AnalyzerDefinition = {
  name: 'dhcp',
  rules: ['dhcp-rogue-server', 'dhcp-competing-offers', 'dhcp-option-change', 'dhcp-route-injection', 'dhcp-starvation', 'dhcp-flood'],
  config: dhcpConfigSection,
  create: (ctx) => new DhcpAnalyzer(ctx),
};
