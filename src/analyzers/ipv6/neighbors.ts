import { ip6ToString, isGroupMac, isVirtualRouterMac, macToString } from '../../decode/addr.js';
import type { NeighborMessage } from '../../decode/icmp6.js';
import { eui64Mac, isMulticast6, isUnspecified6 } from '../../decode/ip6-addr.js';
import type { Packet } from '../../decode/packet.js';
import type { Entity, Severity } from '../../findings/finding.js';
import { BoundedMap } from '../../util/bounded-map.js';
import { Ip6Table } from '../../util/ip6-table.js';
import { NumberList } from '../../util/number-list.js';
import type { AnalyzerContext } from '../analyzer.js';
import { recordBindingChange, type BindingHistory } from '../binding-history.js';
import type { NeighborBindings } from '../network-model.js';
import { ip6Entity, macEntity, receiverEntities } from './entities.js';
import type { RouterWatch } from './routers.js';

// Neighbor Discovery spoofing (T1557), the IPv6 form of ARP poisoning
// (THC parasite6 and fake_advertise6, bettercap ndp.spoof): per IPv6 address
// the MAC that speaks for it, learned from Neighbor Advertisements (target
// link-layer option), non-DAD Neighbor Solicitations (source link-layer
// option) and the Ethernet source of ND messages (never forwarded, so the
// frame's sender is the address's owner or someone posing as it). Per MAC the
// other MACs it took addresses from. Policy as for ARP: one change is weak
// (a NIC replaced); a change back and forth, one MAC taking addresses from
// several owners, or a claim on a router's address is what spoofing looks like.

/** Addresses and MACs kept; the least recently added are forgotten first. */
const MAX_NEIGHBORS = 8192;
const MAX_MACS = 4096;
/** Table keys tried for one address hash (only crafted collisions go past the first). */
const PROBES = 4;
/** How long an earlier binding counts as recent for flip-flop detection. */
const FLIP_FLOP_WINDOW_MS = 10 * 60_000;
const MAX_HISTORY = 4;
/** Rivals (MACs it took an address from) kept per MAC; two or more is a takeover. */
const MAX_RIVALS = 8;
/** Unsolicited Override advertisements from one MAC within the window that make a flood. */
const FLOOD_COUNT = 5;
const FLOOD_WINDOW_MS = 10_000;

class Neighbor implements BindingHistory {
  /** Earlier MACs (oldest first) and when each last held the address. */
  readonly history: number[] = [];
  readonly historyUntil: number[] = [];
  /** The first MAC seen is presumed legitimate. */
  readonly firstMac: number;
  /** Advertised with the Router flag by its first MAC. */
  router = false;

  constructor(public mac: number) {
    this.firstMac = mac;
  }
}

class MacClaims {
  readonly rivals = new NumberList(MAX_RIVALS);
  /** Addresses it took from another MAC (text, for findings). */
  readonly taken: string[] = [];
  floodStart = 0;
  unsolicited = 0;
}

/** How a message states a binding. */
const enum Claim {
  /** Learned when new, never replaces a binding (Router Advertisements, advertisements with Override clear). */
  Weak,
  /** Replaces the binding in receivers' caches. */
  Override,
}

export class NeighborWatch implements NeighborBindings {
  /** Never refreshed: the least recently added address is forgotten first. */
  private readonly neighbors = new Ip6Table<Neighbor>(MAX_NEIGHBORS, PROBES);
  private readonly macs = new BoundedMap<number, MacClaims>(MAX_MACS);

  constructor(
    private readonly ctx: AnalyzerContext,
    private readonly routers: RouterWatch,
  ) {}

  get size(): number {
    return this.neighbors.size + this.macs.size;
  }

  /**
   * The MAC whose own address buf[off] is: the MAC it is bound to when that
   * is the first it was seen at (not one that took it over); for an address
   * Neighbor Discovery has not shown, the MAC of its EUI-64 interface
   * identifier, if it has one. Else -1.
   */
  ownerOf(buf: Buffer, off: number): number {
    const slot = this.neighbors.find(buf, off);
    return slot === -1 ? eui64Mac(buf, off) : this.ownMacAt(slot);
  }

  /** The MAC the address in `slot` is bound to when it is that MAC's own (the first it was seen at), else -1. */
  private ownMacAt(slot: number): number {
    const n = this.neighbors.valueAt(slot);
    return n !== undefined && n.mac === n.firstMac ? n.mac : -1;
  }

  /** A Neighbor Solicitation (not DAD): its source address is at its source link-layer option, else at the frame's source. */
  onSolicit(pkt: Packet, n: NeighborMessage): void {
    const mac = n.sourceMac !== -1 ? n.sourceMac : pkt.ethSrc;
    this.learn(pkt, pkt.ip6SrcOff, mac, Claim.Override, null);
  }

  /** A Neighbor Advertisement: its target address is at its target link-layer option (or the sender's MAC when it advertises itself). */
  onAdvert(pkt: Packet, n: NeighborMessage): void {
    const buf = pkt.buf;
    const self = buf.compare(buf, n.targetOff, n.targetOff + 16, pkt.ip6SrcOff, pkt.ip6SrcOff + 16) === 0;
    const mac = n.targetMac !== -1 ? n.targetMac : self ? pkt.ethSrc : -1;
    if (n.override && !n.solicited && mac !== -1) this.countUnsolicited(pkt, n, mac);
    this.learn(pkt, n.targetOff, mac, n.override ? Claim.Override : Claim.Weak, n);
    if (!self && pkt.ethSrc !== -1) this.learn(pkt, pkt.ip6SrcOff, pkt.ethSrc, Claim.Weak, null);
  }

  /** A Router Advertisement's sender: learned when new, it does not replace a binding (the RA watch judges forged RAs). */
  onSender(pkt: Packet, mac: number): void {
    this.learn(pkt, pkt.ip6SrcOff, mac, Claim.Weak, null);
  }

  private claims(mac: number): MacClaims {
    let m = this.macs.get(mac);
    if (!m) {
      m = new MacClaims();
      this.macs.set(mac, m);
    }
    return m;
  }

  private learn(pkt: Packet, off: number, mac: number, claim: Claim, na: NeighborMessage | null): void {
    const buf = pkt.buf;
    if (mac === -1 || mac === 0 || isGroupMac(mac) || isMulticast6(buf, off) || isUnspecified6(buf, off)) return;
    // Not entered at all when every probe key is taken (crafted collisions).
    const slot = this.neighbors.intern(buf, off);
    if (slot === -1) return;
    const n = this.neighbors.valueAt(slot);
    if (n === undefined) {
      const added = new Neighbor(mac);
      if (na?.router) added.router = true;
      this.neighbors.setValue(slot, added);
      return;
    }
    if (n.mac === mac) {
      if (na?.router && mac === n.firstMac) n.router = true;
      return;
    }
    // Override clear (anycast, proxies): receivers keep the binding they have.
    if (claim !== Claim.Override) return;
    this.change(pkt, off, n, mac, na);
  }

  private change(pkt: Packet, off: number, n: Neighbor, mac: number, na: NeighborMessage | null): void {
    const t = pkt.timeMs;
    const previous = n.mac;
    const earlier = recordBindingChange(n, previous, mac, t, MAX_HISTORY);
    const flipFlop = earlier !== undefined && t - earlier <= FLIP_FLOP_WINDOW_MS && t >= earlier;
    n.mac = mac;
    const ip = ip6ToString(pkt.buf, off);
    if (isVirtualRouterMac(previous) || isVirtualRouterMac(mac)) {
      this.ctx.report('ndp-address-takeover', `${ip}|${macToString(mac)}`, pkt, {
        message: `${ip} moved from ${macToString(previous)} to ${macToString(mac)} (first-hop redundancy virtual MAC: failover)`,
        entities: [ip6Entity(pkt.buf, off, 'station'), macEntity(previous, 'previous'), macEntity(mac, 'current')],
        severity: 'info',
      });
      return;
    }
    const claims = this.claims(mac);
    claims.rivals.add(previous);
    if (!claims.taken.includes(ip) && claims.taken.length < MAX_RIVALS) claims.taken.push(ip);
    const prevClaims = this.claims(previous);
    prevClaims.rivals.add(mac);

    const routerMac = this.routers.routerMac(pkt.buf, off);
    const router = n.router || this.routers.isRouter(pkt.buf, off);
    const legitRouterMac = routerMac !== -1 ? routerMac : n.firstMac;
    const via = na ? `${na.solicited ? 'a solicited' : 'an unsolicited'} neighbor advertisement` : 'a neighbor solicitation';
    const takeover = claims.rivals.length >= 2;

    if (router && na?.override && mac !== legitRouterMac) {
      this.ctx.report('ndp-router-impersonation', `${ip}|${macToString(mac)}`, pkt, {
        message: `${macToString(mac)} advertises router address ${ip} with the Override flag in ${via}; the router is ${macToString(legitRouterMac)}`,
        entities: this.blame(pkt, off, mac, legitRouterMac),
        severity: flipFlop || takeover ? 'critical' : 'high',
      });
    }
    if (flipFlop) {
      // The impostor is the MAC that took addresses from more owners, else the one the address was not first seen at.
      const rivalsNew = claims.rivals.length;
      const rivalsPrev = prevClaims.rivals.length;
      const attacker = rivalsNew > rivalsPrev ? mac : rivalsPrev > rivalsNew ? previous : router ? (mac === legitRouterMac ? previous : mac) : n.firstMac === mac ? previous : mac;
      const legit = attacker === mac ? previous : mac;
      this.ctx.report('ndp-binding-flip-flop', `${ip}|${macToString(attacker)}`, pkt, {
        message: `${ip} flips between ${macToString(legit)} and ${macToString(attacker)}${router ? ' (a router)' : ''}`,
        entities: this.blame(pkt, off, attacker, legit),
        severity: router ? 'critical' : 'high',
      });
      return;
    }
    const derived = eui64Mac(pkt.buf, off);
    const foreign = derived !== -1 && derived === previous;
    let severity: Severity = 'low';
    if (takeover) severity = router ? 'critical' : 'high';
    else if (foreign) severity = 'medium';
    const why = takeover
      ? `, which also took ${claims.taken.filter((x) => x !== ip).join(', ') || 'addresses'} from ${claims.rivals
          .toArray()
          .filter((r) => r !== previous)
          .map(macToString)
          .join(', ')}`
      : foreign
        ? ` although the address is derived from ${macToString(previous)}`
        : ' (a replaced NIC, or a first claim by an impostor)';
    this.ctx.report('ndp-address-takeover', `${ip}|${macToString(mac)}`, pkt, {
      message: `${ip}${router ? ' (a router)' : ''} moved from ${macToString(previous)} to ${macToString(mac)} by ${via}${why}`,
      entities: severity === 'low' ? [ip6Entity(pkt.buf, off, 'station'), macEntity(previous, 'previous'), macEntity(mac, 'current')] : this.blame(pkt, off, mac, previous),
      severity,
    });
  }

  /** Names the attacker of a binding contest: records it as a contest winner and returns the finding's entities. */
  private blame(pkt: Packet, off: number, attacker: number, legit: number): Entity[] {
    this.noteWinner(pkt, off, attacker);
    const entities: Entity[] = [macEntity(attacker, 'attacker'), ip6Entity(pkt.buf, off, 'impersonated'), macEntity(legit, 'legitimate')];
    if (pkt.ethSrc === attacker) entities.push(...receiverEntities(pkt));
    return entities;
  }

  /**
   * Records the attacker as an address contest winner, so that name answers
   * pointing at it are weighed (the names analyzer): by MAC, which covers the
   * addresses it owns, and by the message's source address when the attacker
   * sent it from an address of its own rather than the one it claims.
   */
  private noteWinner(pkt: Packet, off: number, attacker: number): void {
    const network = this.ctx.network;
    const t = pkt.timeMs;
    network.noteContestWinnerMac6(attacker, t, 'nd');
    const buf = pkt.buf;
    const src = pkt.ip6SrcOff;
    if (pkt.ethSrc !== attacker || isUnspecified6(buf, src) || buf.compare(buf, src, src + 16, off, off + 16) === 0) return;
    // A source not seen before is first seen at the attacker; one it took from another station is that station's.
    const slot = this.neighbors.find(buf, src);
    if (slot === -1 || this.ownMacAt(slot) === attacker) network.noteContestWinner6(buf, src, t, 'nd', attacker);
  }

  /** Unsolicited advertisements with Override from one MAC: a host announces a new address once, parasite6 -l and fake_advertise6 repeat. */
  private countUnsolicited(pkt: Packet, n: NeighborMessage, mac: number): void {
    const t = pkt.timeMs;
    const m = this.claims(mac);
    if (t - m.floodStart > FLOOD_WINDOW_MS || t < m.floodStart) {
      m.floodStart = t;
      m.unsolicited = 0;
    }
    if (++m.unsolicited !== FLOOD_COUNT) return;
    this.ctx.report('ndp-unsolicited-override', macToString(mac), pkt, {
      message: `${macToString(mac)} sent ${FLOOD_COUNT} unsolicited neighbor advertisements with the Override flag within ${FLOOD_WINDOW_MS / 1000} s (last for ${ip6ToString(pkt.buf, n.targetOff)})`,
      entities: [macEntity(mac, 'attacker'), ip6Entity(pkt.buf, n.targetOff, 'advertised'), ...receiverEntities(pkt)],
    });
  }
}
