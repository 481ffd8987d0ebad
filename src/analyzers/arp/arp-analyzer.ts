import { ARP_REPLY, ARP_REQUEST, type ArpMessage } from '../../decode/arp.js';
import { ip4ToString, isBogonSenderIp4, isGroupMac, isVirtualRouterMac, macToString } from '../../decode/addr.js';
import type { Packet } from '../../decode/packet.js';
import type { Entity, Severity } from '../../findings/finding.js';
import { ip4Entity, macEntity } from '../../findings/entities.js';
import { BoundedMap } from '../../util/bounded-map.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition } from '../analyzer.js';
import { recordBindingChange } from '../binding-history.js';

// ARP cache poisoning (T1557.002). Keeps, per IPv4 address, the MAC that
// speaks for it and the MACs that did before (arpwatch's station table), and
// per MAC the addresses it claims. Policy: a change alone is weak evidence
// (NICs get replaced, clusters move addresses); a change back and forth, a MAC
// taking over an address while keeping its own, a claim on a router, or a
// contradiction of a configured binding is what poisoning looks like.

/** How long an earlier binding counts as "recent" for flip-flop detection. */
const FLIP_FLOP_WINDOW_MS = 10 * 60_000;
/** A reply within this time of a request for its sender IP counts as solicited. */
const SOLICIT_WINDOW_MS = 5_000;
const FLOOD_WINDOW_MS = 1_000;
const MAX_HISTORY = 4;
const MAX_CLAIMED_IPS = 16;
/** A MAC speaking for this many IPs without being a known router is noted. */
const MULTI_IP_THRESHOLD = 3;
/** Table entries are moved to the young end at most this often (LRU approximation). */
const REFRESH_MS = 30_000;
const MAX_PENDING_REQUESTS = 65536;
const SEEN_PAIR_SLOTS = 4096;

interface Station {
  mac: number;
  /** The MAC first seen for this IP: presumed legitimate unless config says otherwise. */
  firstMac: number;
  since: number;
  refreshed: number;
  /** Earlier MACs (oldest first) and when each last held the binding. */
  history: number[];
  historyUntil: number[];
}

interface MacState {
  /** Addresses this MAC claimed; `taken` are those it took from another MAC. */
  ips: number[];
  taken: number[];
  /**
   * Addresses it used as its own: asked for other stations from them, or
   * answered a request for them. A poisoner claims the addresses it takes in
   * replies nobody asked for and uses only its own.
   */
  used: number[];
  /** Addresses it claimed in replies to a station that had not asked (the way arpspoof and bettercap poison). */
  claimedUnasked: number[];
  refreshed: number;
  /** Took an address that another MAC held: never learned as a router afterwards. */
  contested: boolean;
  /** Carries IPv4 traffic for addresses it never claimed: forwards for others. */
  forwards: boolean;
  replyWindowStart: number;
  replies: number;
}

/** Askers kept per address asked for. */
const ASK_SLOTS = 4;
/** Index of the last time an asker still within the window was displaced. */
const ASK_OVERFLOW = ASK_SLOTS * 2;
/** ASK_SLOTS askers, then when each asked (-Infinity: free), then the overflow time. */
type PendingAsk = Float64Array;

function withinSolicitWindow(asked: number, t: number): boolean {
  return t >= asked && t - asked <= SOLICIT_WINDOW_MS;
}

/** An address the MAC used as its own and did not take from another. */
function isOwn(m: MacState, ip: number): boolean {
  return m.used.includes(ip) && !m.taken.includes(ip);
}

export class ArpAnalyzer implements Analyzer {
  private readonly stations: BoundedMap<number, Station>;
  private readonly macs: BoundedMap<number, MacState>;
  /** Per address asked for: the stations that asked last and when (PendingAsk), so a reply counts as solicited only towards one of them. */
  private readonly pendingRequests = new BoundedMap<number, PendingAsk>(MAX_PENDING_REQUESTS);
  private spareAsk: PendingAsk | undefined;
  private readonly floodThreshold: number;
  /**
   * (MAC, address) pairs noteForwarding has already looked at, direct-mapped.
   * Its outcome for a pair only changes when a MAC's state is created or
   * claims an address (forwards and contested never go back), so those bump
   * `generation`, which empties the cache at once; otherwise the two table
   * lookups per IPv4 packet are skipped for the stations that keep talking.
   */
  private readonly seenPairMac = new Float64Array(SEEN_PAIR_SLOTS);
  private readonly seenPairIp = new Float64Array(SEEN_PAIR_SLOTS);
  private readonly seenPairGeneration = new Uint32Array(SEEN_PAIR_SLOTS);
  private generation = 1;

  constructor(private readonly ctx: AnalyzerContext) {
    this.stations = new BoundedMap(ctx.config.arp.maxStations);
    this.macs = new BoundedMap(ctx.config.arp.maxStations);
    this.floodThreshold = ctx.config.arp.replyFloodPerSecond;
  }

  onArp(a: ArpMessage, pkt: Packet): void {
    const t = pkt.timeMs;
    const mismatch = pkt.ethSrc !== -1 && pkt.ethSrc !== a.senderMac;
    if (mismatch && (a.senderMac === 0 || isGroupMac(a.senderMac) || a.senderIp === 0 || isBogonSenderIp4(a.senderIp))) {
      this.reportMismatch(a, pkt, false);
    }
    if (a.senderMac === 0 || isGroupMac(a.senderMac)) {
      this.reportBogon(a, pkt, `sender hardware address ${macToString(a.senderMac)} is not a unicast station address`);
      return;
    }
    if (a.op === ARP_REQUEST && a.senderIp !== a.targetIp) this.noteAsk(a.targetIp, a.senderIp, t);
    // RFC 5227 duplicate-address probes carry sender 0.0.0.0: no binding to learn.
    if (a.senderIp === 0) return;
    if (isBogonSenderIp4(a.senderIp)) {
      this.reportBogon(a, pkt, `${macToString(a.senderMac)} announces ${ip4ToString(a.senderIp)}, an address no station can hold`);
      return;
    }
    const gratuitous = a.senderIp === a.targetIp || (a.op === ARP_REPLY && isGroupMac(a.targetMac));
    let unsolicited = false;
    if (a.op === ARP_REPLY) {
      this.countReply(a.senderMac, pkt);
      if (!gratuitous) {
        unsolicited = !this.wasAsked(a.senderIp, a.targetIp, t);
        if (unsolicited) this.reportUnsolicited(a, pkt);
      }
    }
    if (mismatch) this.reportMismatch(a, pkt, unsolicited);
    this.learn(a, pkt, unsolicited, gratuitous);
  }

  stateSize(): number {
    return this.stations.size + this.macs.size + this.pendingRequests.size;
  }

  private noteAsk(asked: number, asker: number, t: number): void {
    let p = this.pendingRequests.get(asked);
    if (!p) {
      p = this.spareAsk ?? new Float64Array(ASK_SLOTS * 2 + 1);
      p.fill(-Infinity, ASK_SLOTS);
      this.spareAsk = this.pendingRequests.set(asked, p);
    }
    // The asker's own slot, else the one asked longest ago; displacing a recent asker means more
    // stations asked at once than are kept.
    let slot = 0;
    for (let i = 0; i < ASK_SLOTS; i++) {
      if (p[i] === asker && p[ASK_SLOTS + i] !== -Infinity) {
        slot = i;
        break;
      }
      if (p[ASK_SLOTS + i]! < p[ASK_SLOTS + slot]!) slot = i;
    }
    if (p[slot] !== asker && t - p[ASK_SLOTS + slot]! <= SOLICIT_WINDOW_MS) p[ASK_OVERFLOW] = t;
    p[slot] = asker;
    p[ASK_SLOTS + slot] = t;
  }

  /**
   * Whether `asker` asked for `asked` within the solicit window before `t`,
   * so that a reply to it is an answer. When more stations asked at once
   * than are kept, any reply within the window counts as an answer.
   */
  private wasAsked(asked: number, asker: number, t: number): boolean {
    const p = this.pendingRequests.get(asked);
    if (!p) return false;
    for (let i = 0; i < ASK_SLOTS; i++) if (p[i] === asker && withinSolicitWindow(p[ASK_SLOTS + i]!, t)) return true;
    return withinSolicitWindow(p[ASK_OVERFLOW]!, t);
  }

  onIp(pkt: Packet): void {
    if (pkt.ipVersion !== 4) return;
    if (pkt.ethSrc !== -1) this.noteForwarding(pkt, true);
    if (pkt.ethDst !== -1) this.noteForwarding(pkt, false);
  }

  /**
   * A MAC that sends or receives IPv4 for an address it never claimed by ARP
   * forwards for others: a router, and the addresses it claims are gateways.
   * Only learned while uncontested, so an on-path attacker's own forwarding
   * does not make it a router. Takes the packet, not the MAC and address: a
   * call V8 does not inline (with several analyzers on) would box both
   * numbers, two allocations per IPv4 packet.
   */
  private noteForwarding(pkt: Packet, source: boolean): void {
    const mac = source ? pkt.ethSrc : pkt.ethDst;
    const ip = source ? pkt.ip4Src : pkt.ip4Dst;
    const slot = (mac ^ Math.imul(ip, 0x9e3779b1)) & (SEEN_PAIR_SLOTS - 1);
    if (this.seenPairGeneration[slot] === this.generation && this.seenPairMac[slot] === mac && this.seenPairIp[slot] === ip) return;
    this.seenPairGeneration[slot] = this.generation;
    this.seenPairMac[slot] = mac;
    this.seenPairIp[slot] = ip;
    const m = this.macs.get(mac);
    if (!m || m.forwards || m.contested || m.ips.length === 0) return;
    if (m.ips.includes(ip) || isBogonSenderIp4(ip)) return;
    m.forwards = true;
    this.ctx.network.learnForwardingRouter(mac, m.ips);
  }

  private learn(a: ArpMessage, pkt: Packet, unsolicited: boolean, gratuitous: boolean): void {
    const t = pkt.timeMs;
    const ip = a.senderIp;
    const mac = a.senderMac;
    const macState = this.macState(mac, t);
    if ((a.op === ARP_REQUEST || !unsolicited) && !gratuitous && !macState.used.includes(ip) && macState.used.length < MAX_CLAIMED_IPS) macState.used.push(ip);
    if (unsolicited && !macState.claimedUnasked.includes(ip) && macState.claimedUnasked.length < MAX_CLAIMED_IPS) macState.claimedUnasked.push(ip);
    const known = this.ctx.config.arp.known.get(ip);
    if (known !== undefined && known !== mac) this.reportStaticViolation(a, pkt, known);

    let st = this.stations.get(ip);
    if (!st) {
      st = { mac, firstMac: mac, since: t, refreshed: t, history: [], historyUntil: [] };
      this.stations.set(ip, st);
      // A station speaking for another address that claims this one only in replies nobody asked
      // for has not shown it is its own (a capture started after the poisoning began): it counts as taken.
      if (unsolicited && macState.ips.length > 0 && !this.ctx.config.arp.multiIpMacs.has(mac)) this.markTaken(macState, ip);
      this.claim(macState, mac, ip);
      this.ctx.report('arp-new-station', ip4ToString(ip), pkt, {
        message: `new station ${ip4ToString(ip)} at ${macToString(mac)}`,
        entities: [ip4Entity(ip, 'station'), macEntity(mac, 'station')],
      });
      this.checkFirstClaim(a, pkt, macState);
      return;
    }
    if (t - st.refreshed > REFRESH_MS) {
      st.refreshed = t;
      this.stations.touch(ip);
    }
    if (st.mac === mac) return;

    // The binding changes.
    const previous = st.mac;
    const earlier = recordBindingChange(st, previous, mac, t, MAX_HISTORY);
    const flipFlop = earlier !== undefined && t - earlier <= FLIP_FLOP_WINDOW_MS;
    const reused = earlier !== undefined && !flipFlop;
    st.mac = mac;
    st.since = t;
    const trustedMulti = this.ctx.config.arp.multiIpMacs;
    const virtual = isVirtualRouterMac(previous) || isVirtualRouterMac(mac);
    // An HSRP/VRRP group's address following its active router between physical MACs (keepalived without use_vmac).
    const handover = virtual ? undefined : this.ctx.network.redundancyHandover(ip, mac, t);
    const claimsOthers = (m: number): boolean => !trustedMulti.has(m) && (this.macs.get(m)?.ips.some((x) => x !== ip) ?? false);
    const newClaimsOthers = claimsOthers(mac);
    // Contested before it claims the address, so a taker that forwards is not learned as its router.
    if (known === undefined && !virtual && handover === undefined && (newClaimsOthers || flipFlop)) this.markContested(macState, mac);
    this.markTaken(macState, ip);
    this.claim(macState, mac, ip);

    if (known !== undefined) return; // the static binding decides; already reported if contradicted
    if (virtual || handover !== undefined) {
      const why = virtual ? 'first-hop redundancy virtual MAC: failover' : `the virtual address of ${handover}, handed over to its new active router`;
      this.ctx.report('arp-binding-changed', `${ip4ToString(ip)}|${macToString(mac)}`, pkt, {
        message: `${ip4ToString(ip)} moved from ${macToString(previous)} to ${macToString(mac)} (${why})`,
        entities: [ip4Entity(ip, 'station'), macEntity(previous, 'previous'), macEntity(mac, 'current')],
        severity: 'info',
      });
      return;
    }
    const gateway = this.ctx.network.isGateway(ip);

    if (flipFlop) {
      // Two MACs keep taking the address from each other. The impostor is the
      // one that also speaks for other addresses, else the one that claims it
      // only in replies nobody asked for while the other uses it as its own,
      // else the later arrival.
      const byUse = this.poisonerByUse(ip, previous, mac);
      const attacker = newClaimsOthers ? mac : claimsOthers(previous) ? previous : byUse !== -1 ? byUse : st.firstMac === mac ? previous : mac;
      const legit = attacker === mac ? previous : mac;
      this.markContested(this.macState(attacker, t), attacker);
      this.ctx.report('arp-binding-flip-flop', `${ip4ToString(ip)}|${macToString(attacker)}`, pkt, {
        message: `${ip4ToString(ip)} flips between ${macToString(legit)} and ${macToString(attacker)}${gateway ? ' (a gateway)' : ''}`,
        entities: this.blameAttacker(attacker, ip, legit, a, pkt.timeMs),
        severity: gateway ? 'critical' : 'high',
      });
    }
    if (newClaimsOthers) {
      const rule = gateway ? 'arp-gateway-impersonation' : 'arp-ip-takeover';
      // A router announcing a shared address once is what keepalived/pacemaker failover looks like.
      const failoverLike = gratuitous && !flipFlop && this.ctx.network.routerMacs.has(mac);
      const severity: Severity = failoverLike ? 'medium' : gateway ? (flipFlop ? 'critical' : 'high') : unsolicited || flipFlop ? 'high' : 'medium';
      this.ctx.report(rule, `${ip4ToString(ip)}|${macToString(mac)}`, pkt, {
        message: `${macToString(mac)}, which speaks for ${this.describeClaims(mac, ip)}, took over ${ip4ToString(ip)}${gateway ? ' (a gateway)' : ''} from ${macToString(previous)}${unsolicited ? ' with an unsolicited reply' : failoverLike ? ' with a gratuitous announcement from a router (failover?)' : ''}`,
        entities: this.blameAttacker(mac, ip, previous, a, pkt.timeMs),
        severity,
      });
      return;
    }
    if (flipFlop) return;
    if (this.poisonerByUse(ip, previous, mac) === previous) {
      // The owner answers for its address again: the MAC bound before had only ever pushed it on
      // stations that had not asked, so the poisoning began before this capture did.
      this.markContested(this.macState(previous, t), previous);
      this.ctx.report(gateway ? 'arp-gateway-impersonation' : 'arp-ip-takeover', `${ip4ToString(ip)}|${macToString(previous)}`, pkt, {
        message:
          `${macToString(previous)} claimed ${ip4ToString(ip)}${gateway ? ' (a gateway)' : ''} only in replies to stations that had not asked, ` +
          `and ${macToString(mac)} answers for it as its own: ${macToString(previous)} was poisoning ARP caches before this capture saw the address's owner`,
        entities: this.blameAttacker(previous, ip, mac, a, pkt.timeMs),
        severity: 'high',
      });
      return;
    }
    const severity: Severity = gateway || unsolicited ? 'medium' : 'low';
    this.ctx.report('arp-binding-changed', `${ip4ToString(ip)}|${macToString(mac)}`, pkt, {
      message: `${ip4ToString(ip)} changed from ${macToString(previous)} to ${reused ? 'previously seen ' : ''}${macToString(mac)}${unsolicited ? ' by an unsolicited reply' : ''}${gateway ? ' (a gateway)' : ''}`,
      entities: [ip4Entity(ip, 'station'), macEntity(previous, 'previous'), macEntity(mac, 'current')],
      severity,
    });
  }

  /**
   * Of two MACs contesting `ip`, the one that claimed it only in replies to
   * stations that had not asked while the other used it as its own (answered
   * a request for it, or asked from it); -1 when that does not tell them apart.
   */
  private poisonerByUse(ip: number, a: number, b: number): number {
    const ma = this.macs.get(a);
    const mb = this.macs.get(b);
    const pushesOnly = (m: MacState | undefined): boolean => m !== undefined && m.claimedUnasked.includes(ip) && !m.used.includes(ip);
    const owns = (m: MacState | undefined): boolean => m !== undefined && m.used.includes(ip);
    if (pushesOnly(ma) && owns(mb)) return a;
    if (pushesOnly(mb) && owns(ma)) return b;
    return -1;
  }

  /** A first claim on a gateway address by a MAC that already speaks for another one. */
  private checkFirstClaim(a: ArpMessage, pkt: Packet, m: MacState): void {
    const mac = a.senderMac;
    if (this.ctx.config.arp.multiIpMacs.has(mac) || this.ctx.network.routerMacs.has(mac)) return;
    const gatewayClaims = m.ips.filter((ip) => this.ctx.network.isGateway(ip));
    if (gatewayClaims.length > 0 && m.ips.length > gatewayClaims.length) {
      for (const g of gatewayClaims) {
        this.ctx.report('arp-gateway-impersonation', `${ip4ToString(g)}|${macToString(mac)}`, pkt, {
          message: `${macToString(mac)} speaks for the gateway ${ip4ToString(g)} and also for ${this.describeClaims(mac, g)}`,
          entities: this.blameAttacker(mac, g, -1, a, pkt.timeMs),
          severity: 'medium',
          confidence: 0.6,
        });
      }
    } else if (m.ips.length === MULTI_IP_THRESHOLD) {
      this.ctx.report('arp-mac-multiple-ips', macToString(mac), pkt, {
        message: `${macToString(mac)} speaks for ${m.ips.length} addresses: ${m.ips.map(ip4ToString).join(', ')}`,
        entities: [macEntity(mac, 'claimant'), ...m.ips.map((ip) => ip4Entity(ip, 'claimed'))],
      });
    }
  }

  /**
   * Names the attacker of an ARP contest: records its own addresses as contest
   * winners (the DNS analyzer weighs answers pointing at them) and returns the
   * finding's entities.
   */
  private blameAttacker(attacker: number, ip: number, legit: number, a: ArpMessage, timeMs: number): Entity[] {
    const out: Entity[] = [macEntity(attacker, 'attacker'), ip4Entity(ip, 'impersonated')];
    const m = this.macs.get(attacker);
    for (const own of m?.ips ?? []) if (isOwn(m!, own)) this.ctx.network.noteContestWinner(own, timeMs);
    for (const other of m?.ips ?? []) if (other !== ip) out.push(ip4Entity(other, isOwn(m!, other) ? 'attacker' : 'impersonated'));
    if (legit !== -1) out.push(macEntity(legit, 'legitimate'));
    // A unicast reply names the station whose cache it poisons.
    if (a.op === ARP_REPLY && a.senderMac === attacker && a.targetIp !== ip && a.targetIp !== 0 && !isGroupMac(a.targetMac)) {
      out.push(ip4Entity(a.targetIp, 'victim'), macEntity(a.targetMac, 'victim'));
    }
    return out;
  }

  /**
   * A MAC that took an address from another: never a router from now on,
   * even if its forwarding was seen first (a capture started mid-attack).
   */
  private markContested(m: MacState, mac: number): void {
    if (m.contested) return;
    m.contested = true;
    if (m.forwards) this.ctx.network.forgetRouterMac(mac);
  }

  private describeClaims(mac: number, except: number): string {
    const m = this.macs.get(mac);
    const own = (m?.ips ?? []).filter((x) => x !== except && isOwn(m!, x));
    const taken = (m?.taken ?? []).filter((x) => x !== except);
    const claimed = (m?.ips ?? []).filter((x) => x !== except && !isOwn(m!, x) && !m!.taken.includes(x));
    const parts = [own.length > 0 ? own.map(ip4ToString).join(', ') : 'no address of its own'];
    if (taken.length > 0) parts.push(`has also taken ${taken.map(ip4ToString).join(', ')}`);
    if (claimed.length > 0) parts.push(`claims ${claimed.map(ip4ToString).join(', ')} only in replies nobody asked for`);
    return parts.join(' and ');
  }

  private claim(m: MacState, mac: number, ip: number): void {
    if (m.ips.includes(ip) || m.ips.length >= MAX_CLAIMED_IPS) return;
    m.ips.push(ip);
    this.newGeneration();
    // Only its own addresses make a forwarding station's addresses gateways.
    if (m.forwards && !m.contested && !m.taken.includes(ip)) this.ctx.network.learnForwardingRouter(mac, [ip]);
  }

  private markTaken(m: MacState, ip: number): void {
    if (!m.taken.includes(ip) && m.taken.length < MAX_CLAIMED_IPS) m.taken.push(ip);
  }

  private newGeneration(): void {
    if (++this.generation === 0xffffffff) {
      this.seenPairGeneration.fill(0);
      this.generation = 1;
    }
  }

  private macState(mac: number, t: number): MacState {
    let m = this.macs.get(mac);
    if (!m) {
      m = { ips: [], taken: [], used: [], claimedUnasked: [], refreshed: t, contested: false, forwards: false, replyWindowStart: t, replies: 0 };
      this.macs.set(mac, m);
      this.newGeneration();
    } else if (t - m.refreshed > REFRESH_MS) {
      m.refreshed = t;
      this.macs.touch(mac);
    }
    return m;
  }

  private countReply(mac: number, pkt: Packet): void {
    const m = this.macState(mac, pkt.timeMs);
    if (pkt.timeMs - m.replyWindowStart > FLOOD_WINDOW_MS || pkt.timeMs < m.replyWindowStart) {
      m.replyWindowStart = pkt.timeMs;
      m.replies = 0;
    }
    if (++m.replies === this.floodThreshold) {
      this.ctx.report('arp-reply-flood', macToString(mac), pkt, {
        message: `${macToString(mac)} sent ${this.floodThreshold} ARP replies within ${FLOOD_WINDOW_MS} ms`,
        entities: [macEntity(mac, 'attacker')],
      });
    }
  }

  private reportMismatch(a: ArpMessage, pkt: Packet, unsolicitedReply: boolean): void {
    this.ctx.report('arp-ethernet-sender-mismatch', `${macToString(pkt.ethSrc)}|${macToString(a.senderMac)}`, pkt, {
      message: `frame from ${macToString(pkt.ethSrc)} carries ARP sender ${macToString(a.senderMac)} for ${ip4ToString(a.senderIp)}${unsolicitedReply ? ' in an unsolicited reply' : ''}`,
      entities: [macEntity(pkt.ethSrc, 'attacker'), macEntity(a.senderMac, 'claimed'), ip4Entity(a.senderIp, 'impersonated')],
      severity: unsolicitedReply ? 'medium' : 'low',
    });
  }

  private reportBogon(a: ArpMessage, pkt: Packet, message: string): void {
    this.ctx.report('arp-bogon-sender', `${macToString(a.senderMac)}|${ip4ToString(a.senderIp)}`, pkt, {
      message,
      entities: [macEntity(pkt.ethSrc !== -1 ? pkt.ethSrc : a.senderMac, 'attacker'), ip4Entity(a.senderIp, 'claimed')],
    });
  }

  private reportUnsolicited(a: ArpMessage, pkt: Packet): void {
    this.ctx.report('arp-unsolicited-reply', macToString(a.senderMac), pkt, {
      message: `${macToString(a.senderMac)} sent an unrequested reply claiming ${ip4ToString(a.senderIp)} to ${ip4ToString(a.targetIp)}`,
      entities: [macEntity(a.senderMac, 'sender'), ip4Entity(a.senderIp, 'claimed'), ip4Entity(a.targetIp, 'victim')],
    });
  }

  private reportStaticViolation(a: ArpMessage, pkt: Packet, known: number): void {
    const ip = a.senderIp;
    const gateway = this.ctx.network.isGateway(ip);
    this.markContested(this.macState(a.senderMac, pkt.timeMs), a.senderMac);
    this.ctx.report('arp-static-binding-violation', `${ip}|${a.senderMac}`, pkt, {
      message: `${macToString(a.senderMac)} claims ${ip4ToString(ip)}, configured as ${macToString(known)}${gateway ? ' (a gateway)' : ''}`,
      entities: this.blameAttacker(a.senderMac, ip, known, a, pkt.timeMs),
      severity: gateway ? 'critical' : 'high',
    });
  }
}

export const arpAnalyzer: AnalyzerDefinition = {
  name: 'arp',
  rules: [
    'arp-gateway-impersonation',
    'arp-ip-takeover',
    'arp-binding-flip-flop',
    'arp-static-binding-violation',
    'arp-binding-changed',
    'arp-ethernet-sender-mismatch',
    'arp-unsolicited-reply',
    'arp-reply-flood',
    'arp-bogon-sender',
    'arp-mac-multiple-ips',
    'arp-new-station',
  ],
  create: (ctx) => new ArpAnalyzer(ctx),
};
