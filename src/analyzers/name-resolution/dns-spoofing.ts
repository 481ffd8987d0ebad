import { ip4ToString, isVirtualRouterMac, macToString } from '../../decode/addr.js';
import { fnv1a, TYPE_A, TYPE_AAAA, type DnsMessage } from '../../decode/dns.js';
import type { Packet } from '../../decode/packet.js';
import type { Entity } from '../../findings/finding.js';
import type { AnalyzerContext } from '../analyzer.js';
import { CONTEST_HOW6_TEXT } from '../network-model.js';
import type { AddrBook } from './addr-book.js';
import type { NamesConfig } from './config.js';
import { answerAddresses, ipEntity, ipTextEntity, macEntities, nameEntity, nameText, station, recentContest6, wonContestRecently } from './entities.js';
import { FifoMap } from './fifo-map.js';
import { Layout, MAX_KEPT_ADDRESSES, TransactionTable, type AnswerShape, type Transaction } from './transactions.js';
import { u16be } from '../../decode/bytes.js';

// DNS spoofing on the wire (T1557), over IPv4 and IPv6: the transaction table
// pairs each query (client address and port, DNS id, question name) with the
// servers it was sent to and the first answer. An on-path spoofer (dnsspoof,
// ettercap's dns_spoof, bettercap dns.spoof) answers before the real server,
// so the same transaction gets two different answers from two stations (a
// race), or an answer from an address or MAC that was not asked.
//
// Which of two racing answers is forged is decided from evidence in the
// capture, never from arrival order alone: an answer pointing at an address
// contest winner or not from a configured resolver settles it; otherwise
// each answer collects points for what forgers do and resolvers do not (see
// Evidence), and a tie is reported as such with lower confidence.

/** How long a query waits for answers (and for a racing second answer). */
const TRANSACTION_WINDOW_MS = 15_000;
/** Queries remembered; the oldest is forgotten first (and reused for the next). Expired ones are ignored on lookup. */
const MAX_TRANSACTIONS = 16_384;
const MAX_SERVERS = 4096;
/** Ways (MAC, IP TTL, DF) one server address was seen answering, kept per server. */
const MAX_IDENTITIES = 4;

const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
const FLAG_QR = 0x8000;
const IP4_FLAG_DF = 0x40;

/** firstMac values besides a MAC. */
const MAC_UNKNOWN = -2;
const MAC_DISTRUSTED = -1;

// Answer layouts of known spoofers, from their source:
// - dsniff dnsspoof (dnsspoof.c): copies the query (which must hold only the
//   question) and sets QR and RA, so the flags are the query's plus 0x8080;
//   appends one 16-byte A record named by the pointer 0xc00c with TTL 60; sent
//   through a libnet raw IPv4 socket with IP TTL 64, no DF, a random IP id.
// - bettercap dns.spoof (modules/dns_spoof): a new gopacket message with only
//   QR set (flags 0x8000: RD not copied, no RA), the questions echoed, one
//   record per question with its name written out, TTL dns.spoof.ttl (1024 by
//   default), no additional records; IPv4 id 0 without DF, TTL/hop limit 64.
const DNSSPOOF_TTL = 60;
const DNSSPOOF_A_RECORD_LEN = 16;
const BETTERCAP_DEFAULT_TTL = 1024;
const TOOL_IP_TTL = 64;

// Points per piece of evidence that an answer is the forgery.
const W_STRONG = 3;
const W_MEDIUM = 2;
const W_WEAK = 1;
/** Below this lead over the other answer, the attribution is reported as weak. */
const CLEAR_LEAD = 3;
const CONFIDENCE_WEAK = 0.6;
const CONFIDENCE_UNCLEAR = 0.4;

/** How one server address answered in transactions that did not race. */
class ServerProfile {
  /** The MAC of the first answer, MAC_UNKNOWN, or MAC_DISTRUSTED once a race showed that answer was not the server's. */
  firstMac = MAC_UNKNOWN;
  n = 0;
  readonly macs = new Float64Array(MAX_IDENTITIES);
  readonly ttls = new Uint8Array(MAX_IDENTITIES);
  readonly dfs = new Uint8Array(MAX_IDENTITIES);
  readonly counts = new Uint32Array(MAX_IDENTITIES);

  reset(): void {
    this.firstMac = MAC_UNKNOWN;
    this.n = 0;
  }

  /** Counts one answer in the identity's slot (the least used is replaced when all are taken); returns the slot. */
  count(a: AnswerShape): number {
    let k = this.find(a.mac, a.ipTtl, a.df);
    if (k < 0) {
      if (this.n < MAX_IDENTITIES) k = this.n++;
      else {
        k = 0;
        for (let i = 1; i < MAX_IDENTITIES; i++) if (this.counts[i]! < this.counts[k]!) k = i;
      }
      this.macs[k] = a.mac;
      this.ttls[k] = a.ipTtl;
      this.dfs[k] = a.df ? 1 : 0;
      this.counts[k] = 0;
    }
    this.counts[k]!++;
    return k;
  }

  find(mac: number, ttl: number, df: boolean): number {
    for (let i = 0; i < this.n; i++) if (this.macs[i] === mac && this.ttls[i] === ttl && this.dfs[i] === (df ? 1 : 0)) return i;
    return -1;
  }

  /** Drops the answers counted for `mac`: they were not the server's. */
  forgetMac(mac: number): void {
    for (let i = 0; i < this.n; i++) if (this.macs[i] === mac) this.counts[i] = 0;
  }

  answersFromMac(mac: number): number {
    let sum = 0;
    for (let i = 0; i < this.n; i++) if (this.macs[i] === mac) sum += this.counts[i]!;
    return sum;
  }

  answersLike(a: AnswerShape): number {
    const k = this.find(a.mac, a.ipTtl, a.df);
    return k < 0 ? 0 : this.counts[k]!;
  }

  /** The identity with the most uncontested answers, or -1. */
  usual(): number {
    let best = -1;
    for (let i = 0; i < this.n; i++) if (this.counts[i]! > 0 && (best < 0 || this.counts[i]! > this.counts[best]!)) best = i;
    return best;
  }
}

interface Answer {
  shape: AnswerShape;
  addrs: string[];
  addr4: number[];
}

interface Evidence {
  points: number;
  reasons: string[];
}

/** Key from the client address and a 21-bit mix of port and id; fields are compared on lookup. */
function transactionKey(client: number, clientPort: number, id: number): number {
  const low = client % 4_294_967_296;
  const ip6 = client === low ? 0 : 0x5bd1e995;
  return low * 2_097_152 + (Math.imul(((clientPort << 16) | id) ^ ip6, 0x9e3779b1) >>> 11);
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

function ipv4Df(pkt: Packet): boolean {
  return pkt.ipVersion === 4 && (pkt.buf[pkt.l3Start + 6]! & IP4_FLAG_DF) !== 0;
}

function ipv4Id(pkt: Packet): number {
  return pkt.ipVersion === 4 ? u16be(pkt.buf, pkt.l3Start + 4) : -1;
}

/** Which known spoofer built this answer, by the fixed parts of its layout. */
function layoutOf(pkt: Packet, msg: DnsMessage, t: Transaction): Layout {
  if (msg.nsCount !== 0 || msg.arCount !== 0 || msg.anCount === 0 || msg.answerCount === 0) return Layout.None;
  const df = ipv4Df(pkt);
  if (
    pkt.ipVersion === 4 &&
    msg.anCount === 1 &&
    msg.ansType[0] === TYPE_A &&
    msg.ansTtl[0] === DNSSPOOF_TTL &&
    msg.ansNameCompressed[0] === 1 &&
    msg.flags === (t.queryFlags | FLAG_QR | FLAG_RA) &&
    msg.end - msg.start === t.queryLen + DNSSPOOF_A_RECORD_LEN &&
    pkt.ttl === TOOL_IP_TTL &&
    !df
  ) {
    return Layout.Dnsspoof;
  }
  if (msg.flags !== FLAG_QR || msg.anCount !== msg.qdCount || (pkt.ipVersion === 4 && (df || ipv4Id(pkt) !== 0))) return Layout.None;
  for (let i = 0; i < msg.answerCount; i++) if (msg.ansNameCompressed[i] !== 0) return Layout.None;
  return Layout.Bettercap;
}

function layoutText(layout: Layout, recordTtl: number): string {
  return layout === Layout.Dnsspoof
    ? "it is laid out like dsniff dnsspoof's answers (the query copied with QR and RA added, one A record named by a pointer, TTL 60 s, IP TTL 64 without DF)"
    : `it is laid out like bettercap dns.spoof's answers (flags 0x8000, records written out uncompressed, no additional records, ` +
        `${recordTtl === BETTERCAP_DEFAULT_TTL ? 'its default TTL 1024 s' : `TTL ${recordTtl} s`})`;
}

function identityText(ttl: number, df: boolean, v4: boolean): string {
  return v4 ? `IP TTL ${ttl}${df ? ' with DF' : ' without DF'}` : `hop limit ${ttl}`;
}

export class DnsSpoofingTracker {
  private readonly transactions = new TransactionTable(MAX_TRANSACTIONS);
  /** The answer being handled, as stored for the first answer of its transaction. */
  private readonly shape: AnswerShape = { src: 0, mac: -1, ipTtl: 0, df: false, flags: 0, arCount: 0, layout: Layout.None, recordTtl: 0 };
  /** How each server address (per VLAN) answered outside races. */
  private readonly servers = new FifoMap<ServerProfile>(MAX_SERVERS);
  private spareProfile: ServerProfile | undefined;

  constructor(
    private readonly ctx: AnalyzerContext,
    private readonly cfg: NamesConfig,
    private readonly book: AddrBook,
  ) {}

  stateSize(): number {
    return this.transactions.size + this.servers.size;
  }

  onQuery(pkt: Packet, msg: DnsMessage, client: number): void {
    if (!msg.hasQuestion) return;
    const key = transactionKey(client, pkt.srcPort, msg.id);
    const nameHash = msg.names.hash(0);
    const vlan = pkt.vlanCount > 0 ? pkt.vlans[0]! : 0;
    let t = this.transactions.get(key);
    const same = t !== undefined && t.clientIp === client && t.clientPort === pkt.srcPort && t.id === msg.id && t.nameHash === nameHash;
    // A new transaction, or another one under the same key (expired, or a key collision): start over.
    if (!t || !same || pkt.timeMs - t.time > TRANSACTION_WINDOW_MS) {
      if (!t) t = this.transactions.add(key);
      else t.reset();
      t.clientIp = client;
      t.clientPort = pkt.srcPort;
      t.id = msg.id;
      t.nameHash = nameHash;
      t.time = pkt.timeMs;
      t.queryFlags = msg.flags;
      t.queryAr = msg.arCount;
      t.queryLen = msg.end - msg.start;
      t.queryVlan = vlan;
      t.clientMac = pkt.ethSrc;
    } else if (pkt.ethSrc !== -1 && pkt.ethSrc !== t.clientMac && vlan === t.queryVlan) {
      // The same query sent again on the same link by another station: it relays the client's traffic.
      t.relayMac = pkt.ethSrc;
    }
    // A retransmission, or the copy an on-path host forwards, adds nothing but maybe a server.
    t.addServer(this.book.dst(pkt));
  }

  onResponse(pkt: Packet, msg: DnsMessage, src: number): void {
    if (!msg.hasQuestion) return;
    const client = this.book.findDst(pkt);
    if (client === -1) return;
    const key = transactionKey(client, pkt.dstPort, msg.id);
    const t = this.transactions.get(key);
    // No matching query: the capture may have started after it, or routing is asymmetric.
    if (!t || t.clientIp !== client || t.clientPort !== pkt.dstPort || t.id !== msg.id || t.nameHash !== msg.names.hash(0)) return;
    if (pkt.timeMs - t.time > TRANSACTION_WINDOW_MS) return;
    const mac = pkt.ethSrc;
    const df = ipv4Df(pkt);
    const serverKey = src * 4096 + (pkt.vlanCount > 0 ? pkt.vlans[0]! : 0);
    const queried = t.hasServer(src);
    const profile = queried ? this.profileOf(serverKey) : undefined;
    let foreign = false;
    if (!queried) this.reportUnqueriedAddress(pkt, msg, t, src);
    else if (!t.taught) foreign = this.checkServerMac(pkt, msg, t, src, profile!);

    const sig = answerSignature(pkt, msg);
    if (!t.answered) {
      t.answered = true;
      const f = this.shape;
      f.src = src;
      f.mac = mac;
      f.ipTtl = pkt.ttl;
      f.df = df;
      f.flags = msg.flags;
      f.arCount = msg.arCount;
      f.layout = layoutOf(pkt, msg, t);
      f.recordTtl = msg.answerCount > 0 ? msg.ansTtl[0]! : 0;
      t.setFirst(f);
      t.firstSig = sig;
      this.keepAddresses(pkt, msg, t);
      // An answer reported as sent by another station than the server's is no sample of how the server answers.
      if (profile && !foreign) {
        t.firstIdentity = profile.count(f);
        if (mac !== -1 && profile.firstMac === MAC_UNKNOWN) {
          profile.firstMac = mac;
          t.taught = true;
        }
      }
      return;
    }
    if (t.raced || sig === t.firstSig) return;
    // The same station answering twice differently is a server retrying (round-robin subsets), not a race.
    if (src === t.firstSrc && mac === t.firstMac && pkt.ttl === t.firstIpTtl && df === t.firstDf) return;
    t.raced = true;
    const firstProfile = this.servers.get(t.firstSrc * 4096 + (pkt.vlanCount > 0 ? pkt.vlans[0]! : 0));
    // The first answer was counted as the server's usual way of answering; it no longer is.
    if (firstProfile && t.firstIdentity >= 0 && firstProfile.counts[t.firstIdentity]! > 0) firstProfile.counts[t.firstIdentity]!--;
    // A MAC learned from this very transaction may be the spoofer's: mark the server's MAC unknown for good.
    if (t.taught && firstProfile) firstProfile.firstMac = MAC_DISTRUSTED;
    const second: AnswerShape = {
      src,
      mac,
      ipTtl: pkt.ttl,
      df,
      flags: msg.flags,
      arCount: msg.arCount,
      layout: layoutOf(pkt, msg, t),
      recordTtl: msg.answerCount > 0 ? msg.ansTtl[0]! : 0,
    };
    // How the server answers outside races is evidence only when both answers claim to be that server.
    this.reportRace(pkt, msg, t, second, src === t.firstSrc ? firstProfile : undefined);
  }

  private profileOf(key: number): ServerProfile {
    let p = this.servers.get(key);
    if (!p) {
      p = this.spareProfile ?? new ServerProfile();
      p.reset();
      this.spareProfile = this.servers.set(key, p);
    }
    return p;
  }

  private keepAddresses(pkt: Packet, msg: DnsMessage, t: Transaction): void {
    for (let i = 0; i < msg.answerCount; i++) {
      const type = msg.ansType[i];
      if (type === TYPE_A) t.addFirstAddr4(msg.ansAddr4[i]!);
      else if (type === TYPE_AAAA) t.addFirstAddr6(pkt.buf, msg.ansDataOff[i]!);
    }
  }

  /** Another MAC answering as a server whose MAC is known (from its earlier answers); true when reported. */
  private checkServerMac(pkt: Packet, msg: DnsMessage, t: Transaction, src: number, profile: ServerProfile): boolean {
    const known = profile.firstMac;
    const mac = pkt.ethSrc;
    if (known < 0 || mac === -1 || mac === known) return false;
    // The MAC taken for the server's relayed this very query and gets this answer back: it is a
    // station on the path (a capture started mid-attack learned it from a forged or relayed
    // answer), and this answer comes from the server itself.
    if (known === t.relayMac && pkt.ethDst === known) {
      profile.firstMac = mac;
      profile.forgetMac(known);
      return false;
    }
    // First-hop redundancy and several routers legitimately deliver a remote server's answers.
    if (isVirtualRouterMac(mac) || isVirtualRouterMac(known)) return false;
    const routers = this.ctx.network.routerMacs;
    if (routers.has(mac) && routers.has(known)) return false;
    const book = this.book;
    const name = nameText(msg, 0);
    const victim = book.findDst(pkt);
    this.ctx.report('dns-response-from-unqueried-server', `${book.text(src)}|${macToString(mac)}`, pkt, {
      message: `DNS answer for ${name} to ${book.text(victim)} claims to come from ${book.text(src)} but was sent by ${macToString(mac)}; ${book.text(src)} answered from ${macToString(known)} before`,
      entities: [
        ...macEntities(mac, 'attacker'),
        ipEntity(book, src, 'impersonated'),
        ...macEntities(known, 'server'),
        ipEntity(book, victim, 'victim'),
        nameEntity(name, 'queried-name'),
        ...answerAddresses(pkt, msg, 4).map((a) => ipTextEntity(a, 'answer')),
      ],
    });
    return true;
  }

  private reportUnqueriedAddress(pkt: Packet, msg: DnsMessage, t: Transaction, src: number): void {
    const book = this.book;
    const name = nameText(msg, 0);
    this.ctx.report('dns-response-from-unqueried-server', `${book.text(src)}|${book.text(t.clientIp)}`, pkt, {
      message: `${station(book, src, pkt.ethSrc)} answered ${book.text(t.clientIp)}'s query for ${name} (id ${t.id}), which was sent to ${t
        .servers()
        .map((s) => book.text(s))
        .join(', ')}`,
      entities: [
        ipEntity(book, src, 'attacker'),
        ...macEntities(pkt.ethSrc, 'attacker'),
        ...t.servers().map((s) => ipEntity(book, s, 'server')),
        ipEntity(book, t.clientIp, 'victim'),
        nameEntity(name, 'queried-name'),
        ...answerAddresses(pkt, msg, 4).map((a) => ipTextEntity(a, 'answer')),
      ],
    });
  }

  private reportRace(pkt: Packet, msg: DnsMessage, t: Transaction, shape: AnswerShape, profile: ServerProfile | undefined): void {
    const book = this.book;
    const firstAddr4 = t.firstAddr4();
    const first: Answer = { shape: t.firstShape(), addrs: [...firstAddr4.map(ip4ToString), ...t.firstAddr6Texts()], addr4: firstAddr4 };
    const second: Answer = { shape, addrs: answerAddresses(pkt, msg, MAX_KEPT_ADDRESSES * 2), addr4: [] };
    for (let i = 0; i < msg.answerCount && second.addr4.length < MAX_KEPT_ADDRESSES; i++) if (msg.ansType[i] === TYPE_A) second.addr4.push(msg.ansAddr4[i]!);
    const verdict = this.likelySpoofed(first, second, t, pkt.timeMs, profile, pkt.ipVersion === 4);
    const name = nameText(msg, 0);
    const describe = (a: Answer): string => `${a.addrs.length > 0 ? a.addrs.join(', ') : 'no address'} from ${station(book, a.shape.src, a.shape.mac)}`;
    const servers = t
      .servers()
      .map((s) => book.text(s))
      .join(', ');
    const head = `${book.text(t.clientIp)} asked ${servers} for ${name} (id ${t.id}) and got two different answers: ${describe(first)} first, then ${describe(second)}`;
    const entities: Entity[] = [];
    let message: string;
    let who: string;
    if (verdict.spoofed === null) {
      for (const a of [first, second]) {
        entities.push(...macEntities(a.shape.mac, 'suspect'), ipEntity(book, a.shape.src, t.hasServer(a.shape.src) ? 'server' : 'suspect'));
      }
      entities.push(ipEntity(book, t.clientIp, 'victim'), nameEntity(name, 'queried-name'));
      for (const a of [first, second]) for (const x of a.addrs) entities.push(ipTextEntity(x, 'answer'));
      message = `${head}; which one is forged is unclear from this capture (${verdict.why}), so neither station is named as the attacker`;
      who = [first, second].map((a) => (a.shape.mac !== -1 ? macToString(a.shape.mac) : book.text(a.shape.src))).sort().join('/');
    } else {
      const spoofed = verdict.spoofed;
      const legit = spoofed === first ? second : first;
      entities.push(
        ...macEntities(spoofed.shape.mac, 'attacker'),
        ipEntity(book, spoofed.shape.src, t.hasServer(spoofed.shape.src) ? 'impersonated' : 'attacker'),
        ...macEntities(legit.shape.mac, 'server'),
        ipEntity(book, t.clientIp, 'victim'),
        nameEntity(name, 'queried-name'),
        ...spoofed.addrs.map((a) => ipTextEntity(a, 'spoofed-answer')),
        ...legit.addrs.map((a) => ipTextEntity(a, 'legitimate-answer')),
      );
      if (legit.shape.src !== spoofed.shape.src) entities.push(ipEntity(book, legit.shape.src, 'server'));
      message = `${head}; the likely spoofed one is ${describe(spoofed)} (${verdict.why})`;
      who = spoofed.shape.mac !== -1 ? macToString(spoofed.shape.mac) : book.text(spoofed.shape.src);
    }
    this.ctx.report('dns-spoofed-response-race', `${who}|${book.text(t.clientIp)}`, pkt, { message, entities, confidence: verdict.confidence });
  }

  /** Which of two different answers is the forgery (null when the capture cannot tell), why, and how sure. */
  private likelySpoofed(
    first: Answer,
    second: Answer,
    t: Transaction,
    now: number,
    profile: ServerProfile | undefined,
    v4: boolean,
  ): { spoofed: Answer | null; why: string; confidence?: number } {
    for (const a of [first, second]) {
      const winner = a.addr4.find((ip) => wonContestRecently(this.ctx.network, ip, now));
      if (winner !== undefined) return { spoofed: a, why: `it points at ${ip4ToString(winner)}, a station that recently won an ARP/DHCP address contest` };
      for (const text of this.ctx.network.ip6ContestsWon ? a.addrs : []) {
        const how = recentContest6(this.ctx.network, text, now);
        if (how !== undefined) return { spoofed: a, why: `it points at ${text}, a station that recently ${CONTEST_HOW6_TEXT[how]}` };
      }
    }
    const servers = this.cfg.dnsServers;
    if (servers.has(first.shape.src) !== servers.has(second.shape.src)) {
      const spoofed = servers.has(first.shape.src) ? second : first;
      return { spoofed, why: 'it does not come from a configured DNS server' };
    }
    const ev1 = this.evidence(first, second, t, profile, v4);
    const ev2 = this.evidence(second, first, t, profile, v4);
    if (ev1.points === ev2.points) {
      const why =
        ev1.points === 0
          ? 'no address contest, no configured or earlier-seen server answers, no relayed query and no known spoofer layout tells them apart'
          : `the evidence is even: the first ${ev1.reasons.join('; ')}, the second ${ev2.reasons.join('; ')}`;
      return { spoofed: null, why, confidence: CONFIDENCE_UNCLEAR };
    }
    const [spoofed, ev, other] = ev1.points > ev2.points ? [first, ev1, ev2] : [second, ev2, ev1];
    const lead = ev.points - other.points;
    const against = other.points > 0 ? `; against that, the other ${other.reasons.join('; ')}` : '';
    return { spoofed, why: ev.reasons.join('; ') + against, confidence: lead >= CLEAR_LEAD ? undefined : CONFIDENCE_WEAK };
  }

  /** Points for what answer `a` shows of a forgery, compared with `b`, the other answer in the race. */
  private evidence(a: Answer, b: Answer, t: Transaction, profile: ServerProfile | undefined, v4: boolean): Evidence {
    const ev: Evidence = { points: 0, reasons: [] };
    const x = a.shape;
    const y = b.shape;
    // RFC 1035 4.1.1: RD is copied into the response; resolvers do, forging code may not.
    const rd = t.queryFlags & FLAG_RD;
    if ((x.flags & FLAG_RD) !== rd && (y.flags & FLAG_RD) === rd) {
      ev.points += W_STRONG;
      ev.reasons.push(`it does not copy the query's RD bit (flags 0x${x.flags.toString(16)}), which every resolver does`);
    }
    if (t.relayMac !== -1 && x.mac === t.relayMac && y.mac !== t.relayMac) {
      ev.points += W_STRONG;
      ev.reasons.push(`it was sent by ${macToString(x.mac)}, which also relayed the client's query: a station on the path`);
    }
    if (profile) {
      const fromX = profile.answersFromMac(x.mac);
      const fromY = profile.answersFromMac(y.mac);
      if (x.mac !== y.mac && fromX === 0 && fromY > 0) {
        ev.points += W_STRONG;
        ev.reasons.push(`it was sent by ${macToString(x.mac)}, not by ${macToString(y.mac)}, which answered for the server before (${fromY} uncontested answer(s))`);
      } else if (profile.answersLike(x) === 0 && profile.answersLike(y) > 0) {
        const k = profile.usual();
        const usual = k >= 0 ? identityText(profile.ttls[k]!, profile.dfs[k] === 1, v4) : identityText(y.ipTtl, y.df, v4);
        ev.points += W_MEDIUM;
        ev.reasons.push(`its ${identityText(x.ipTtl, x.df, v4)} differs from the server's uncontested answers (${usual}): another IP stack or distance`);
      }
    }
    if (x.layout !== Layout.None && y.layout === Layout.None) {
      ev.points += W_MEDIUM;
      ev.reasons.push(layoutText(x.layout, x.recordTtl));
    }
    if (t.queryAr > 0 && x.arCount === 0 && y.arCount > 0) {
      ev.points += W_WEAK;
      ev.reasons.push('it drops the EDNS record the query and the other answer carry');
    }
    return ev;
  }
}
