import { ip4ToString, isVirtualRouterMac, macToString } from '../../decode/addr.js';
import { fnv1a, TYPE_A, type DnsMessage } from '../../decode/dns.js';
import type { Packet } from '../../decode/packet.js';
import type { Entity } from '../../findings/finding.js';
import type { AnalyzerContext } from '../analyzer.js';
import type { NamesConfig } from './config.js';
import { answerAddresses, ipEntity, macEntities, nameEntity, nameText, station, wonContestRecently } from './entities.js';
import { FifoMap } from './fifo-map.js';

// DNS spoofing on the wire (T1557): the transaction table pairs each query
// (client address and port, DNS id, question name) with the servers it was
// sent to and the first answer. An on-path spoofer (dnsspoof, ettercap's
// dns_spoof, bettercap dns.spoof) answers before the real server, so the same
// transaction gets two different answers from two stations (a race), or an
// answer from an address or MAC that was not asked.

/** How long a query waits for answers (and for a racing second answer). */
const TRANSACTION_WINDOW_MS = 15_000;
/** Queries remembered; the oldest is forgotten first (and reused for the next). Expired ones are ignored on lookup. */
const MAX_TRANSACTIONS = 16_384;
const MAX_SERVERS_PER_QUERY = 4;
const MAX_KEPT_ADDRESSES = 4;
const MAX_SERVER_MACS = 4096;

interface Transaction {
  clientIp: number;
  clientPort: number;
  id: number;
  nameHash: number;
  time: number;
  /** Addresses the query was sent to (a client may retry another resolver with the same id). */
  servers: number[];
  answered: boolean;
  firstSrc: number;
  firstMac: number;
  firstSig: number;
  firstAddrs: number[];
  /** The first answer taught us the server's MAC (so that MAC is no evidence in this transaction's race). */
  taught: boolean;
  raced: boolean;
}

interface Answer {
  src: number;
  mac: number;
  addrs: number[];
}

/** 53-bit key from the client address and a 21-bit mix of port and id; fields are compared on lookup. */
function transactionKey(clientIp: number, clientPort: number, id: number): number {
  return clientIp * 2_097_152 + (Math.imul((clientPort << 16) | id, 0x9e3779b1) >>> 11);
}

/**
 * Order-insensitive digest of the answer: rcode plus each record's type and
 * data (names by their decoded text, so compression does not matter). TTLs
 * are left out: caches count them down.
 */
function answerSignature(pkt: Packet, msg: DnsMessage): number {
  let sum = Math.imul(msg.rcode + 1, 0x9e3779b1) >>> 0;
  for (let i = 0; i < msg.answerCount; i++) {
    const target = msg.ansTarget[i]!;
    const data = target >= 0 ? msg.names.hash(target) : fnv1a(pkt.buf, msg.ansDataOff[i]!, msg.ansDataLen[i]!);
    sum = (sum + (Math.imul(data ^ msg.ansType[i]!, 0x85ebca6b) >>> 0)) >>> 0;
  }
  return sum;
}

export class DnsSpoofingTracker {
  private readonly transactions = new FifoMap<Transaction>(MAX_TRANSACTIONS);
  private spare: Transaction | undefined;
  /**
   * MAC that first answered for a server address, per (address, VLAN): the
   * server's own, or its router's; -1 once a race showed the first answer
   * cannot be trusted to teach it.
   */
  private readonly serverMacs = new FifoMap<number>(MAX_SERVER_MACS);

  constructor(
    private readonly ctx: AnalyzerContext,
    private readonly cfg: NamesConfig,
  ) {}

  stateSize(): number {
    return this.transactions.size + this.serverMacs.size;
  }

  onQuery(pkt: Packet, msg: DnsMessage): void {
    if (!msg.hasQuestion) return;
    const key = transactionKey(pkt.ip4Src, pkt.srcPort, msg.id);
    const nameHash = msg.names.hash(0);
    let t = this.transactions.get(key);
    const same = t !== undefined && t.clientIp === pkt.ip4Src && t.clientPort === pkt.srcPort && t.id === msg.id && t.nameHash === nameHash;
    // A new transaction, or another one under the same key (expired, or a key collision): start over.
    if (!t || !same || pkt.timeMs - t.time > TRANSACTION_WINDOW_MS) {
      if (!t) {
        t = this.spare ?? { clientIp: 0, clientPort: 0, id: 0, nameHash: 0, time: 0, servers: [], answered: false, firstSrc: 0, firstMac: -1, firstSig: 0, firstAddrs: [], taught: false, raced: false };
        // The transaction forgotten to make room is reused for the next new one: no allocation once full.
        this.spare = this.transactions.set(key, t);
      }
      t.clientIp = pkt.ip4Src;
      t.clientPort = pkt.srcPort;
      t.id = msg.id;
      t.nameHash = nameHash;
      t.time = pkt.timeMs;
      t.servers.length = 0;
      t.answered = false;
      t.firstAddrs.length = 0;
      t.taught = false;
      t.raced = false;
    }
    // A retransmission, or the copy an on-path host forwards, adds nothing but maybe a server.
    if (!t.servers.includes(pkt.ip4Dst) && t.servers.length < MAX_SERVERS_PER_QUERY) t.servers.push(pkt.ip4Dst);
  }

  onResponse(pkt: Packet, msg: DnsMessage): void {
    if (!msg.hasQuestion) return;
    const key = transactionKey(pkt.ip4Dst, pkt.dstPort, msg.id);
    const t = this.transactions.get(key);
    // No matching query: the capture may have started after it, or routing is asymmetric.
    if (!t || t.clientIp !== pkt.ip4Dst || t.clientPort !== pkt.dstPort || t.id !== msg.id || t.nameHash !== msg.names.hash(0)) return;
    if (pkt.timeMs - t.time > TRANSACTION_WINDOW_MS) return;
    const src = pkt.ip4Src;
    const mac = pkt.ethSrc;
    const macKey = src * 4096 + (pkt.vlanCount > 0 ? pkt.vlans[0]! : 0);
    if (!t.servers.includes(src)) this.reportUnqueriedAddress(pkt, msg, t);
    else if (!t.taught) this.checkServerMac(pkt, msg, macKey);

    const sig = answerSignature(pkt, msg);
    if (!t.answered) {
      t.answered = true;
      t.firstSrc = src;
      t.firstMac = mac;
      t.firstSig = sig;
      for (let i = 0; i < msg.answerCount && t.firstAddrs.length < MAX_KEPT_ADDRESSES; i++) {
        if (msg.ansType[i] === TYPE_A && !t.firstAddrs.includes(msg.ansAddr4[i]!)) t.firstAddrs.push(msg.ansAddr4[i]!);
      }
      if (mac !== -1 && t.servers.includes(src) && !this.serverMacs.has(macKey)) {
        this.serverMacs.set(macKey, mac);
        t.taught = true;
      }
      return;
    }
    if (t.raced || sig === t.firstSig) return;
    // The same station answering twice differently is a server retrying (round-robin subsets), not a race.
    if (src === t.firstSrc && mac === t.firstMac) return;
    t.raced = true;
    this.reportRace(pkt, msg, t, macKey);
  }

  /** Another MAC answering as a server whose MAC is known (from its earlier answers). */
  private checkServerMac(pkt: Packet, msg: DnsMessage, macKey: number): void {
    const known = this.serverMacs.get(macKey);
    const mac = pkt.ethSrc;
    if (known === undefined || known === -1 || mac === -1 || mac === known) return;
    // First-hop redundancy and several routers legitimately deliver a remote server's answers.
    if (isVirtualRouterMac(mac) || isVirtualRouterMac(known)) return;
    const routers = this.ctx.network.routerMacs;
    if (routers.has(mac) && routers.has(known)) return;
    const src = pkt.ip4Src;
    const name = nameText(msg, 0);
    this.ctx.report('dns-response-from-unqueried-server', `${ip4ToString(src)}|${macToString(mac)}`, pkt, {
      message: `DNS answer for ${name} to ${ip4ToString(pkt.ip4Dst)} claims to come from ${ip4ToString(src)} but was sent by ${macToString(mac)}; ${ip4ToString(src)} answered from ${macToString(known)} before`,
      entities: [
        ...macEntities(mac, 'attacker'),
        ipEntity(src, 'impersonated'),
        ...macEntities(known, 'server'),
        ipEntity(pkt.ip4Dst, 'victim'),
        nameEntity(name, 'queried-name'),
        ...answerAddresses(msg, 4).map((a) => ipEntity(a, 'answer')),
      ],
    });
  }

  private reportUnqueriedAddress(pkt: Packet, msg: DnsMessage, t: Transaction): void {
    const src = pkt.ip4Src;
    const name = nameText(msg, 0);
    this.ctx.report('dns-response-from-unqueried-server', `${ip4ToString(src)}|${ip4ToString(t.clientIp)}`, pkt, {
      message: `${station(src, pkt.ethSrc)} answered ${ip4ToString(t.clientIp)}'s query for ${name} (id ${t.id}), which was sent to ${t.servers.map(ip4ToString).join(', ')}`,
      entities: [
        ipEntity(src, 'attacker'),
        ...macEntities(pkt.ethSrc, 'attacker'),
        ...t.servers.map((s) => ipEntity(s, 'server')),
        ipEntity(t.clientIp, 'victim'),
        nameEntity(name, 'queried-name'),
        ...answerAddresses(msg, 4).map((a) => ipEntity(a, 'answer')),
      ],
    });
  }

  private reportRace(pkt: Packet, msg: DnsMessage, t: Transaction, macKey: number): void {
    const first: Answer = { src: t.firstSrc, mac: t.firstMac, addrs: [...t.firstAddrs] };
    const second: Answer = { src: pkt.ip4Src, mac: pkt.ethSrc, addrs: answerAddresses(msg, MAX_KEPT_ADDRESSES) };
    // A MAC learned from this very transaction may be the spoofer's: mark the server's MAC unknown (-1) for good.
    const known = t.taught ? undefined : this.serverMacs.get(macKey);
    if (t.taught) this.serverMacs.set(macKey, -1);
    const { spoofed, why } = this.likelySpoofed(first, second, pkt.timeMs, known === -1 ? undefined : known);
    const legit = spoofed === first ? second : first;
    const name = nameText(msg, 0);
    const describe = (a: Answer): string => `${a.addrs.length > 0 ? a.addrs.map(ip4ToString).join(', ') : 'no IPv4 address'} from ${station(a.src, a.mac)}`;
    const entities: Entity[] = [
      ...macEntities(spoofed.mac, 'attacker'),
      ipEntity(spoofed.src, t.servers.includes(spoofed.src) ? 'impersonated' : 'attacker'),
      ...macEntities(legit.mac, 'server'),
      ipEntity(t.clientIp, 'victim'),
      nameEntity(name, 'queried-name'),
      ...spoofed.addrs.map((a) => ipEntity(a, 'spoofed-answer')),
      ...legit.addrs.map((a) => ipEntity(a, 'legitimate-answer')),
    ];
    if (legit.src !== spoofed.src) entities.push(ipEntity(legit.src, 'server'));
    const who = spoofed.mac !== -1 ? macToString(spoofed.mac) : ip4ToString(spoofed.src);
    this.ctx.report('dns-spoofed-response-race', `${who}|${ip4ToString(t.clientIp)}`, pkt, {
      message:
        `${ip4ToString(t.clientIp)} asked ${t.servers.map(ip4ToString).join(', ')} for ${name} (id ${t.id}) and got two different answers: ` +
        `${describe(first)} first, then ${describe(second)}; the likely spoofed one is ${describe(spoofed)} (${why})`,
      entities,
    });
  }

  /** Which of two different answers is the forgery, and why we think so. */
  private likelySpoofed(first: Answer, second: Answer, now: number, knownMac: number | undefined): { spoofed: Answer; why: string } {
    for (const a of [first, second]) {
      const winner = a.addrs.find((ip) => wonContestRecently(this.ctx.network, ip, now));
      if (winner !== undefined) return { spoofed: a, why: `it points at ${ip4ToString(winner)}, a station that recently won an ARP/DHCP address contest` };
    }
    const servers = this.cfg.dnsServers;
    if (servers.has(first.src) !== servers.has(second.src)) {
      const spoofed = servers.has(first.src) ? second : first;
      return { spoofed, why: 'it does not come from a configured DNS server' };
    }
    if (knownMac !== undefined && (first.mac === knownMac) !== (second.mac === knownMac)) {
      const spoofed = first.mac === knownMac ? second : first;
      return { spoofed, why: `it was sent by ${macToString(spoofed.mac)}, not by ${macToString(knownMac)}, which answered for the server before` };
    }
    return { spoofed: first, why: 'it arrived first: an on-path spoofer answers before the real server can' };
  }
}
