import { ip4ToString, ip6ToString, macToString } from '../../decode/addr.js';
import { decodeNameMessage, DnsMessage, nameHashOf, nameProtoOfPorts, NameProto, TYPE_A, TYPE_AAAA, TYPE_NB, type NameTable } from '../../decode/dns.js';
import type { Packet } from '../../decode/packet.js';
import { sectionOf } from '../../config/config.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition } from '../analyzer.js';
import { CONTEST_HOW6_TEXT } from '../network-model.js';
import { AddrBook } from './addr-book.js';
import { listedIp6, namesConfigFor, namesConfigSection, type NamesConfig } from './config.js';
import { DnsSpoofingTracker } from './dns-spoofing.js';
import { ipEntity, ipTextEntity, isRecentContest, macEntities, nameEntity, nameText, protoLabel, toUnicast } from './entities.js';
import { LocalPoisoningTracker } from './local-poisoning.js';

// Name resolution attacks: DNS spoofing (T1557) and LLMNR/NBT-NS/mDNS
// poisoning (T1557.001), over IPv4 and IPv6. Decodes every DNS-format message
// once into a reused DnsMessage and hands it to the DNS transaction tracker or
// the local-name tracker; answers pointing at a station that just won an
// address contest (ARP, DHCP, Neighbor Discovery) are checked here for every
// protocol. Addresses of both families are AddrBook ids.

/** Shortest TCP payload either TCP hook can use: an NTLM message signature and type, or a DNS length prefix and header. */
const MIN_TCP_PAYLOAD = 12;
/** IPv6 addresses the book holds: clients, servers and answering hosts. */
const MAX_IP6_ADDRESSES = 16_384;

const MAX_LEARNED_SUFFIXES = 1024;
/** Suffixes are matched up to this many labels ("ad.corp.example.com"). */
const MAX_SUFFIX_LABELS = 5;

/** Suffixes used only inside networks (RFC 6762 .local, RFC 8375 home.arpa, common private choices). */
const WELL_KNOWN_INTERNAL_SUFFIXES = ['local', 'lan', 'home', 'home.arpa', 'internal', 'intranet', 'corp', 'localdomain', 'private'];

/** Internal names: single-label, under a well-known or configured suffix, or under one seen resolving to private addresses. */
class InternalNames {
  private readonly known = new Set<number>();
  private readonly learned = new Set<number>();

  constructor(private readonly cfg: NamesConfig) {
    for (const s of [...WELL_KNOWN_INTERNAL_SUFFIXES, ...cfg.internalSuffixes]) this.known.add(nameHashOf(s));
  }

  stateSize(): number {
    return this.learned.size;
  }

  isInternal(names: NameTable, slot: number): boolean {
    const labels = names.labelCount(slot);
    if (labels === 1) return true;
    for (let k = 1; k < labels && k <= MAX_SUFFIX_LABELS; k++) {
      const h = names.suffixHash(slot, k);
      if (this.known.has(h) || this.learned.has(h)) return true;
    }
    return false;
  }

  /** A name of 3+ labels that a resolver (a configured one, if any are) maps to a private address makes its parent domain internal. */
  learn(msg: DnsMessage, src: number): void {
    if (this.learned.size >= MAX_LEARNED_SUFFIXES || (this.cfg.dnsServers.size > 0 && !this.cfg.dnsServers.has(src))) return;
    for (let i = 0; i < msg.answerCount; i++) {
      if (msg.ansType[i] !== TYPE_A || !isPrivateIp4(msg.ansAddr4[i]!)) continue;
      const slot = msg.ansName[i]!;
      const labels = msg.names.labelCount(slot);
      if (labels >= 3) this.learned.add(msg.names.suffixHash(slot, labels - 1));
      return;
    }
  }
}

/** RFC 1918 and RFC 6598 (carrier-grade NAT) space. */
function isPrivateIp4(ip: number): boolean {
  const a = ip >>> 24;
  const b = (ip >>> 16) & 0xff;
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
}

export class NamesAnalyzer implements Analyzer {
  private readonly msg = new DnsMessage();
  private readonly cfg: NamesConfig;
  private readonly dns: DnsSpoofingTracker;
  private readonly local: LocalPoisoningTracker;
  private readonly internal: InternalNames;
  private readonly book: AddrBook;

  constructor(private readonly ctx: AnalyzerContext) {
    const section = sectionOf(ctx.config, namesConfigSection);
    this.book = new AddrBook(MAX_IP6_ADDRESSES, listedIp6(section));
    this.cfg = namesConfigFor(section, this.book);
    this.dns = new DnsSpoofingTracker(ctx, this.cfg, this.book);
    this.local = new LocalPoisoningTracker(ctx, this.cfg, this.book);
    this.internal = new InternalNames(this.cfg);
  }

  onUdp(pkt: Packet): void {
    const proto = nameProtoOfPorts(pkt.srcPort, pkt.dstPort, true);
    if (proto !== 0) this.onMessage(pkt, proto);
  }

  onTcp(pkt: Packet): void {
    // Neither an NTLM message nor a length-prefixed DNS header fits in less; bare ACKs stop here.
    if (pkt.payloadEnd - pkt.payloadStart < MIN_TCP_PAYLOAD) return;
    this.local.onTcp(pkt);
    const proto = nameProtoOfPorts(pkt.srcPort, pkt.dstPort, false);
    if (proto !== 0) this.onMessage(pkt, proto);
  }

  stateSize(): number {
    return this.dns.stateSize() + this.local.stateSize() + this.internal.stateSize() + this.book.size;
  }

  private onMessage(pkt: Packet, proto: NameProto): void {
    const msg = this.msg;
    if (!decodeNameMessage(pkt, proto, msg) || pkt.ipVersion === 0 || msg.opcode !== 0) return;
    const src = this.book.src(pkt);
    // Only crafted hash collisions leave an IPv6 address without an id.
    if (src === -1) return;
    if (!msg.isResponse) {
      if (proto === NameProto.Dns) this.dns.onQuery(pkt, msg, src);
      else this.local.onQuery(pkt, msg, src);
      return;
    }
    if (proto === NameProto.Dns) {
      this.internal.learn(msg, src);
      this.dns.onResponse(pkt, msg, src);
    } else {
      this.local.onResponse(pkt, msg, src);
    }
    this.checkContestedAnswers(pkt, msg, src);
  }

  /**
   * An answer steering a client to a station that just won an address
   * contest: an A or NB record pointing at an ARP poisoner or rogue DHCP
   * server, an AAAA record at a Neighbor Discovery spoofer.
   */
  private checkContestedAnswers(pkt: Packet, msg: DnsMessage, src: number): void {
    if (msg.rcode !== 0) return;
    const network = this.ctx.network;
    const buf = pkt.buf;
    const t = pkt.timeMs;
    const nb = msg.proto === NameProto.Nbns;
    const type4 = nb ? TYPE_NB : TYPE_A;
    // Until an IPv6 contest is won (the usual case), AAAA records are not looked up.
    const check6 = !nb && network.ip6ContestsWon;
    let lastAddr = -1;
    let lastOff6 = -1;
    for (let i = 0; i < msg.answerCount; i++) {
      const type = msg.ansType[i];
      if (type === type4) {
        const addr = msg.ansAddr4[i]!;
        if (addr === lastAddr) continue;
        lastAddr = addr;
        const won = network.contestWonAt(addr);
        if (isRecentContest(won, t)) this.reportContested(pkt, msg, i, src, won, -1);
      } else if (check6 && type === TYPE_AAAA) {
        const off = msg.ansDataOff[i]!;
        if (lastOff6 !== -1 && buf.compare(buf, off, off + 16, lastOff6, lastOff6 + 16) === 0) continue;
        lastOff6 = off;
        const won = network.contestWonAt6(buf, off);
        if (isRecentContest(won, t)) this.reportContested(pkt, msg, i, src, won, off);
      }
    }
  }

  /** Reports answer `i`, won at `won`; `off6` is where its IPv6 address is, -1 for an IPv4 one. */
  private reportContested(pkt: Packet, msg: DnsMessage, i: number, src: number, won: number, off6: number): void {
    const t = pkt.timeMs;
    const slot = msg.ansName[i]!;
    const asked = this.local.querierOf(msg, slot, src, t);
    // An mDNS host announcing its own name unasked steers nobody.
    if (msg.proto === NameProto.Mdns && asked === -1) return;
    const book = this.book;
    const client = toUnicast(pkt) ? book.dst(pkt) : asked;
    const internal = this.internal.isInternal(msg.names, slot);
    const name = nameText(msg, slot);
    const ago = Math.max(0, Math.round((t - won) / 1000));
    const v6 = off6 !== -1;
    const addr = v6 ? ip6ToString(pkt.buf, off6) : ip4ToString(msg.ansAddr4[i]!);
    const mac = v6 ? this.ctx.network.contestWinnerMac6(pkt.buf, off6) : -1;
    const how = v6 ? this.ctx.network.contestHow6(pkt.buf, off6) : undefined;
    const contest = how !== undefined ? CONTEST_HOW6_TEXT[how] : 'won an ARP/DHCP address contest';
    this.ctx.report('dns-answer-points-to-contested-host', `${addr}|${client === -1 ? '*' : book.text(client)}`, pkt, {
      message:
        `${protoLabel(msg.proto)} answer from ${book.text(src)} tells ${client === -1 ? 'the network' : book.text(client)} that ` +
        `${name}${internal ? ' (an internal name)' : ''} is at ${addr}${mac === -1 ? '' : ` (${macToString(mac)})`}, a station that ${contest} ${ago} s earlier`,
      entities: [
        ipTextEntity(addr, 'attacker'),
        ...macEntities(mac, 'attacker'),
        nameEntity(name, 'queried-name'),
        ...(client === -1 ? [] : [ipEntity(book, client, 'victim')]),
        ipEntity(book, src, 'source'),
        ...macEntities(pkt.ethSrc, 'source'),
      ],
      confidence: internal ? 0.85 : 0.7,
    });
  }
}

export const namesAnalyzer: AnalyzerDefinition = {
  name: 'names',
  rules: ['dns-spoofed-response-race', 'dns-response-from-unqueried-server', 'dns-answer-points-to-contested-host', 'llmnr-nbtns-poisoning'],
  config: namesConfigSection as AnalyzerDefinition['config'],
  create: (ctx): Analyzer => new NamesAnalyzer(ctx),
};
