import { macToString } from '../../decode/addr.js';
import { NB_FLAG_GROUP, NameProto, TYPE_A, TYPE_AAAA, TYPE_NB, type DnsMessage } from '../../decode/dns.js';
import { eui64Mac } from '../../decode/ip6-addr.js';
import { findNtlmAuthenticate, parseNtlmAuthenticate } from '../../decode/ntlmssp.js';
import type { Packet } from '../../decode/packet.js';
import type { Entity, Severity } from '../../findings/finding.js';
import type { AnalyzerContext } from '../analyzer.js';
import { filterIndexAt, isIp6Id, type AddrBook } from './addr-book.js';
import type { NamesConfig } from './config.js';
import { ipEntity, macEntities, nameEntity, nameText, protoLabel, toUnicast } from './entities.js';
import { FifoMap } from './fifo-map.js';

// LLMNR, NBT-NS and mDNS poisoning (T1557.001). A host answers these
// multicast/broadcast queries only for its own name; Responder, Inveigh and
// similar answer every name with their own address so that the victim
// connects, and authenticates, to them. Per answering address (IPv4 or IPv6)
// we keep the names it answered with its own address, its victims and
// whether its answers have Responder's fixed layout; per name, the host that
// owns it. "Its own address" is the sender's address of the answer's family:
// the packet's source, or (LLMNR and mDNS, which never leave the link) an
// address the same MAC sends from or its EUI-64 interface identifier, since
// Responder answers AAAA queries asked over IPv4 with its IPv6 address.

/** Distinct names answered with its own address before a host is reported. */
const NAMES_THRESHOLD = 3;
/** With Responder's LLMNR or mDNS layout, this many names suffice (its NBT-NS layout is Windows' own). */
const NAMES_THRESHOLD_FINGERPRINTED = 2;
/** NetBIOS suffixes of domain and browser service names (<1b> domain master, <1c> DCs, <1d>/<1e> browsers), not host names. */
const NETBIOS_SERVICE_SUFFIXES = [0x1b, 0x1c, 0x1d, 0x1e];
/** Name counts of a host never reported start over after this long. */
const RESPONDER_WINDOW_MS = 30 * 60_000;
/** A name's owner that has not answered for this long may be replaced without a conflict. */
const OWNER_TTL_MS = 60 * 60_000;
/** An mDNS answer counts as solicited when another host asked for the name this recently. */
const SOLICIT_WINDOW_MS = 3_000;
const MAX_RESPONDERS = 4096;
const MAX_OWNERS = 8192;
const MAX_QUERIES = 4096;
const MAX_NAMES = 16;
const MAX_NAME_TEXTS = 8;
const MAX_VICTIMS = 16;
/** Other own addresses (the other family) kept per answering address. */
const MAX_OTHER_ADDRS = 4;
/** Addresses whose sending MAC is remembered (from LLMNR and mDNS traffic). */
const MAX_STATIONS = 8192;

// Responder's answer packets (lgandx/Responder packets.py: LLMNR_Ans, NBT_Ans,
// MDNS_Ans) use fixed header flags and TTLs. Windows uses the same defaults,
// so a match raises confidence; it is never the only reason to report.
const RESPONDER_LLMNR_FLAGS = 0x8000;
const RESPONDER_LLMNR_TTL = 30;
const RESPONDER_NBNS_FLAGS = 0x8500;
const RESPONDER_NBNS_TTL = 300_000;
const RESPONDER_MDNS_FLAGS = 0x8400;
const RESPONDER_MDNS_TTL = 120;
const FP_LLMNR = "LLMNR answers laid out like Responder's LLMNR_Ans/LLMNR6_Ans (flags 0x8000, one uncompressed A or AAAA record, TTL 30 s)";
const FP_NBNS = "NBT-NS answers laid out like Responder's NBT_Ans (flags 0x8500, no question, NB flags 0, TTL 300000 s)";
const FP_MDNS = "mDNS answers laid out like Responder's MDNS_Ans/MDNS6_Ans (id 0, no question, one A or AAAA record with TTL 120 s, sent unicast)";

interface NtlmSeen {
  victim: number;
  port: number;
  user: string;
  domain: string;
}

interface Responder {
  /** AddrBook id of the answering address. */
  ip: number;
  mac: number;
  /** Its addresses of the other family it answered with. */
  otherAddrs: number[];
  since: number;
  /** Host-name hashes (".local" stripped) it answered with its own address. */
  names: number[];
  nameTexts: string[];
  /** Bit (1 << NameProto) per protocol it answered in. */
  protos: number;
  victims: number[];
  fingerprint: string | null;
  /** The fingerprint is one Windows does not share (LLMNR, mDNS): it lowers the name threshold. */
  strongFingerprint: boolean;
  /** A name it answered that another host answered (owned) before. */
  conflict: { ip: number; mac: number; name: string } | null;
  ntlm: NtlmSeen | null;
  reported: boolean;
}

interface Owner {
  ip: number;
  mac: number;
  lastSeen: number;
}

interface QueryNote {
  ip: number;
  time: number;
}

export class LocalPoisoningTracker {
  private readonly responders = new FifoMap<Responder>(MAX_RESPONDERS);
  /**
   * filterIndex of every address ever put in `responders`. onTcp sees every
   * TCP segment; one whose destination's bit is clear cannot be going to a
   * responder, so the table lookup is skipped. Bits are never cleared: a
   * stale bit only costs the lookup, it never hides a responder.
   */
  private readonly responderBits = new Uint8Array(65536);
  /**
   * The same for every address ever put in a responder's `victims`: a segment
   * must also come from a victim. A responder that is also a busy host (a
   * workstation answering LLMNR for its own name) receives traffic from
   * servers, which this keeps from costing a lookup per segment.
   */
  private readonly victimBits = new Uint8Array(65536);
  private readonly owners = new FifoMap<Owner>(MAX_OWNERS);
  private readonly queries = new FifoMap<QueryNote>(MAX_QUERIES);
  /** The query note forgotten last, reused for the next new name. */
  private spareNote: QueryNote | undefined;
  /** MAC each address was last seen sending LLMNR or mDNS from (link-local protocols: the host's own MAC). */
  private readonly stationMacs = new FifoMap<number>(MAX_STATIONS);

  constructor(
    private readonly ctx: AnalyzerContext,
    private readonly cfg: NamesConfig,
    private readonly book: AddrBook,
  ) {}

  stateSize(): number {
    return this.responders.size + this.owners.size + this.queries.size + this.stationMacs.size;
  }

  /** Remembers who asked for a name, to tell solicited mDNS answers from announcements and to name victims of multicast answers. */
  onQuery(pkt: Packet, msg: DnsMessage, src: number): void {
    this.noteStation(pkt, msg, src);
    if (!msg.hasQuestion || msg.names.len[0] === 0) return;
    const h = msg.names.hostHash(0);
    const note = this.queries.get(h);
    if (note) {
      note.ip = src;
      note.time = pkt.timeMs;
      return;
    }
    const fresh = this.spareNote ?? { ip: 0, time: 0 };
    fresh.ip = src;
    fresh.time = pkt.timeMs;
    this.spareNote = this.queries.set(h, fresh);
  }

  private noteStation(pkt: Packet, msg: DnsMessage, src: number): void {
    if (pkt.ethSrc === -1 || msg.proto === NameProto.Nbns || this.stationMacs.get(src) === pkt.ethSrc) return;
    this.stationMacs.set(src, pkt.ethSrc);
  }

  /** The host that recently asked for the name in `slot`, other than `answerer`, or -1. */
  querierOf(msg: DnsMessage, slot: number, answerer: number, now: number): number {
    const note = this.queries.get(msg.names.hostHash(slot));
    if (!note || note.ip === answerer || now - note.time > SOLICIT_WINDOW_MS || now < note.time) return -1;
    return note.ip;
  }

  onResponse(pkt: Packet, msg: DnsMessage, src: number): void {
    this.noteStation(pkt, msg, src);
    if (msg.rcode !== 0 || this.cfg.responders.has(src)) return;
    const nb = msg.proto === NameProto.Nbns;
    let lastName = -1;
    for (let i = 0; i < msg.answerCount; i++) {
      const own = this.ownAddress(pkt, msg, i, nb);
      if (own === -1) continue;
      const slot = msg.ansName[i]!;
      // Group names (workgroup, domain) are answered by many hosts by design; domain and browser names by the DC and browsers.
      if (nb && ((msg.ansNbFlags[i]! & NB_FLAG_GROUP) !== 0 || NETBIOS_SERVICE_SUFFIXES.includes(msg.names.suffix[slot]!))) continue;
      if (msg.names.len[slot] === 0) continue;
      const h = msg.names.hostHash(slot);
      if (h === lastName) continue;
      lastName = h;
      const asked = this.querierOf(msg, slot, src, pkt.timeMs);
      // mDNS hosts announce their own names unasked; only answers to someone's question count.
      if (msg.proto === NameProto.Mdns && asked === -1) continue;
      const victim = toUnicast(pkt) ? this.book.dst(pkt) : asked;
      this.observe(pkt, msg, slot, h, src, own, victim, this.fingerprint(pkt, msg, i));
    }
  }

  /**
   * The book id of the address answer `i` gives when it is one of the
   * sender's own, else -1 (answers for other hosts, and record types that
   * carry no address, are not counted).
   */
  private ownAddress(pkt: Packet, msg: DnsMessage, i: number, nb: boolean): number {
    const type = msg.ansType[i];
    const mac = pkt.ethSrc;
    if (type === (nb ? TYPE_NB : TYPE_A)) {
      const addr = msg.ansAddr4[i]!;
      if (pkt.ipVersion === 4) return addr === pkt.ip4Src ? addr : -1;
      return !nb && mac !== -1 && this.stationMacs.get(addr) === mac ? addr : -1;
    }
    if (type !== TYPE_AAAA || nb) return -1;
    const buf = pkt.buf;
    const off = msg.ansDataOff[i]!;
    if (pkt.ipVersion === 6 && buf.compare(buf, off, off + 16, pkt.ip6SrcOff, pkt.ip6SrcOff + 16) === 0) return this.book.src(pkt);
    if (mac === -1) return -1;
    if (eui64Mac(buf, off) === mac) return this.book.intern(buf, off);
    const id = this.book.find(buf, off);
    return id !== -1 && this.stationMacs.get(id) === mac ? id : -1;
  }

  /** NTLM authentication from a poisoned victim to the host that poisoned it. */
  onTcp(pkt: Packet): void {
    // The names analyzer passes only payloads long enough for an NTLM message (MIN_TCP_PAYLOAD).
    if (this.responders.size === 0) return;
    if (pkt.ipVersion === 0) return;
    const v4 = pkt.ipVersion === 4;
    if (this.responderBits[filterIndexAt(pkt.buf, v4 ? pkt.l3Start + 16 : pkt.ip6DstOff + 12)] === 0) return;
    if (this.victimBits[filterIndexAt(pkt.buf, v4 ? pkt.l3Start + 12 : pkt.ip6SrcOff + 12)] === 0) return;
    // IPv4 addresses are read here rather than through the book: a call returning one boxes it, per segment.
    const dst = pkt.ipVersion === 4 ? pkt.ip4Dst : this.book.find(pkt.buf, pkt.ip6DstOff);
    const r = dst === -1 ? undefined : this.responders.get(dst);
    if (!r || r.ntlm) return;
    const victim = pkt.ipVersion === 4 ? pkt.ip4Src : this.book.find(pkt.buf, pkt.ip6SrcOff);
    if (victim === -1 || !r.victims.includes(victim)) return;
    const at = findNtlmAuthenticate(pkt.buf, pkt.payloadStart, pkt.payloadEnd);
    if (at < 0) return;
    const auth = parseNtlmAuthenticate(pkt.buf, at, pkt.payloadEnd);
    // An anonymous AUTHENTICATE carries no password proof.
    if (!auth || auth.ntResponse.length === 0) return;
    r.ntlm = { victim, port: pkt.dstPort, user: auth.user, domain: auth.domain };
    if (r.reported) this.report(r, pkt, auth.ntResponse);
  }

  private fingerprint(pkt: Packet, msg: DnsMessage, i: number): string | null {
    const single = msg.anCount === 1 && msg.nsCount === 0 && msg.arCount === 0;
    if (!single) return null;
    const ttl = msg.ansTtl[i]!;
    switch (msg.proto) {
      case NameProto.Llmnr:
        return msg.flags === RESPONDER_LLMNR_FLAGS && msg.qdCount === 1 && ttl === RESPONDER_LLMNR_TTL && msg.ansNameCompressed[i] === 0 ? FP_LLMNR : null;
      case NameProto.Nbns:
        return msg.flags === RESPONDER_NBNS_FLAGS && msg.qdCount === 0 && ttl === RESPONDER_NBNS_TTL && msg.ansNbFlags[i] === 0 ? FP_NBNS : null;
      case NameProto.Mdns:
        return msg.flags === RESPONDER_MDNS_FLAGS && msg.id === 0 && msg.qdCount === 0 && ttl === RESPONDER_MDNS_TTL && toUnicast(pkt) ? FP_MDNS : null;
      default:
        return null;
    }
  }

  private observe(pkt: Packet, msg: DnsMessage, slot: number, h: number, src: number, own: number, victim: number, fingerprint: string | null): void {
    const t = pkt.timeMs;
    const r = this.responderOf(src, pkt.ethSrc, t);
    if (own !== src && isIp6Id(own) !== isIp6Id(src) && !r.otherAddrs.includes(own) && r.otherAddrs.length < MAX_OTHER_ADDRS) r.otherAddrs.push(own);
    if (!r.names.includes(h) && r.names.length < MAX_NAMES) {
      r.names.push(h);
      if (r.nameTexts.length < MAX_NAME_TEXTS) r.nameTexts.push(nameText(msg, slot));
    }
    r.protos |= 1 << msg.proto;
    if (victim !== -1 && !r.victims.includes(victim) && r.victims.length < MAX_VICTIMS) {
      r.victims.push(victim);
      this.victimBits[this.book.filterIndex(victim)] = 1;
    }
    r.fingerprint ??= fingerprint;
    if (fingerprint !== null && msg.proto !== NameProto.Nbns) r.strongFingerprint = true;

    let attacker = r;
    const owner = this.owners.get(h);
    if (!owner || t - owner.lastSeen > OWNER_TTL_MS) {
      this.setOwner(h, r, t);
    } else if (sameHost(owner, r)) {
      owner.lastSeen = t;
    } else {
      // Two hosts answer for one name: the poisoner is the one answering more names,
      // else the one with Responder's layout, else the newcomer.
      const other = this.responders.get(owner.ip);
      const otherWorse = other !== undefined && (other.names.length > r.names.length || (other.names.length === r.names.length && other.fingerprint !== null && r.fingerprint === null));
      attacker = otherWorse ? other : r;
      const legit = attacker === r ? owner : { ip: r.ip, mac: r.mac };
      attacker.conflict ??= { ip: legit.ip, mac: legit.mac, name: nameText(msg, slot) };
    }
    const suspicious =
      attacker.reported ||
      attacker.conflict !== null ||
      attacker.names.length >= NAMES_THRESHOLD ||
      (attacker.names.length >= NAMES_THRESHOLD_FINGERPRINTED && attacker.strongFingerprint);
    if (suspicious) this.report(attacker, pkt);
  }

  private report(r: Responder, pkt: Packet, secret?: Buffer): void {
    r.reported = true;
    const book = this.book;
    const protos = [NameProto.Llmnr, NameProto.Nbns, NameProto.Mdns].filter((p) => (r.protos & (1 << p)) !== 0).map(protoLabel);
    const names = r.nameTexts.join(', ') + (r.names.length > r.nameTexts.length ? ', ...' : '');
    const also = r.otherAddrs.length > 0 ? ` (and ${r.otherAddrs.map((a) => book.text(a)).join(', ')})` : '';
    const transport = isIp6Id(r.ip) ? ' over IPv6' : '';
    const parts = [`${book.text(r.ip)}${r.mac !== -1 ? ` (${macToString(r.mac)})` : ''} answered ${protos.join('/')} queries${transport} for ${r.names.length} different name(s) with its own address${also}: ${names}`];
    if (r.victims.length > 0) parts.push(`victims: ${r.victims.map((v) => book.text(v)).join(', ')}`);
    if (r.conflict) parts.push(`'${r.conflict.name}' was answered by ${book.text(r.conflict.ip)} before`);
    if (r.fingerprint) parts.push(r.fingerprint);
    if (r.ntlm) {
      const account = r.ntlm.user ? ` as ${r.ntlm.domain ? `${r.ntlm.domain}\\` : ''}${r.ntlm.user}` : '';
      parts.push(`${book.text(r.ntlm.victim)} then sent NTLM authentication${account} to it on TCP port ${r.ntlm.port}`);
    }
    const entities: Entity[] = [ipEntity(book, r.ip, 'attacker'), ...macEntities(r.mac, 'attacker'), ...r.otherAddrs.map((a) => ipEntity(book, a, 'attacker'))];
    for (const v of r.victims) entities.push(ipEntity(book, v, 'victim'));
    for (const n of r.nameTexts) entities.push(nameEntity(n, 'poisoned-name'));
    if (r.conflict) entities.push(ipEntity(book, r.conflict.ip, 'legitimate'), ...macEntities(r.conflict.mac, 'legitimate'));
    if (r.ntlm?.user) entities.push({ type: 'user', value: `${r.ntlm.domain ? `${r.ntlm.domain}\\` : ''}${r.ntlm.user}`, role: 'victim' });
    const severity: Severity = r.ntlm ? 'critical' : 'high';
    const confidence = Math.min(95, 70 + (r.fingerprint ? 10 : 0) + (r.conflict ? 10 : 0) + (r.ntlm ? 20 : 0)) / 100;
    this.ctx.report('llmnr-nbtns-poisoning', book.text(r.ip), pkt, { message: parts.join('; '), entities, severity, confidence, secret });
  }

  private responderOf(ip: number, mac: number, t: number): Responder {
    let r = this.responders.get(ip);
    if (r && !r.reported && t - r.since > RESPONDER_WINDOW_MS) {
      this.responders.delete(ip);
      r = undefined;
    }
    if (!r) {
      r = { ip, mac, otherAddrs: [], since: t, names: [], nameTexts: [], protos: 0, victims: [], fingerprint: null, strongFingerprint: false, conflict: null, ntlm: null, reported: false };
      this.responders.set(ip, r);
      this.responderBits[this.book.filterIndex(ip)] = 1;
    }
    return r;
  }

  private setOwner(h: number, r: Responder, t: number): void {
    const o = this.owners.get(h);
    if (o) {
      o.ip = r.ip;
      o.mac = r.mac;
      o.lastSeen = t;
      return;
    }
    this.owners.set(h, { ip: r.ip, mac: r.mac, lastSeen: t });
  }
}

/**
 * Same MAC when both are known (a renumbered host stays itself), else same
 * address; without MACs an IPv4 and an IPv6 address cannot be told apart from
 * one dual-stack host, so they count as the same.
 */
function sameHost(o: { ip: number; mac: number }, r: { ip: number; mac: number }): boolean {
  if (o.mac !== -1 && r.mac !== -1) return o.mac === r.mac;
  return o.ip === r.ip || isIp6Id(o.ip) !== isIp6Id(r.ip);
}
