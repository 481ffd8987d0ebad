import type { SniffwatchConfig } from '../config/config.js';
import { BoundedMap } from '../util/bounded-map.js';
import { Ip6Table } from '../util/ip6-table.js';

// Facts about the network that more than one analyzer uses: which IPv4
// addresses are routers (configured, or learned from traffic or DHCP), which
// MACs forward traffic for others, which stations just won an address
// contest (ARP, DHCP, IPv6 Neighbor Discovery, rogue DHCPv6), and which
// addresses are HSRP/VRRP virtual gateways that move between routers.

const MAX_LEARNED = 4096;
/** Keys tried per IPv6 address hash (only crafted collisions go past the first). */
const PROBES = 4;

/** How a station won an IPv6 address contest. */
export type ContestHow6 = 'nd' | 'dhcpv6';

/** What the station did, for findings ("a station that ..."). */
export const CONTEST_HOW6_TEXT: Record<ContestHow6, string> = {
  nd: 'took over an IPv6 neighbor binding (Neighbor Discovery spoofing)',
  dhcpv6: 'answered DHCPv6 as a rogue server',
};

interface Contest6 {
  t: number;
  how: ContestHow6;
  /** The winning station's MAC, -1 when unknown. */
  mac: number;
}

/** An IPv4 virtual gateway address of an HSRP or VRRP group, as the fhrp analyzer sees the group. */
export interface RedundantAddress {
  /** The group that announced the address first (the fhrp analyzer's group key); only it updates the record. */
  owner: string;
  /** "VRRPv2 group 51". */
  group: string;
  /** Physical MACs of the group's routers (speakers whose claims raised no suspicion). */
  routerMacs: Set<number>;
  /** The active router's claim holds until then; after it (or a resignation) the address may move to any router. */
  activeUntil: number;
}

/** Where IPv6 addresses are bound to MACs: the Neighbor Discovery watch of the ipv6 analyzer. */
export interface NeighborBindings {
  /** The MAC whose own address buf[off] is (bound to it, not taken from another MAC), or -1. */
  ownerOf(buf: Buffer, off: number): number;
}

export class NetworkModel {
  readonly gateways = new Set<number>();
  /** Gateways known apart from what DHCP servers say: configured, or seen forwarding traffic before any DHCP answer named them. */
  private readonly observedGateways = new Set<number>();
  /** Routers DHCP answers (of any server) handed out, most recent last. */
  private readonly dhcpRouters = new BoundedMap<number, boolean>(MAX_LEARNED);
  readonly routerMacs = new Set<number>();
  /** Router MACs whose forwarding is evidence about DHCP servers and router advertisements (see learnForwardingRouter). */
  private readonly observedRouterMacs = new Set<number>();
  /** IPv4 addresses of stations that recently won an address contest (ARP takeover, rogue DHCP), with when. */
  private readonly contestWinners = new BoundedMap<number, number>(MAX_LEARNED);
  /** IPv6 addresses of stations that recently won an IPv6 contest (neighbor binding, rogue DHCPv6), with when and how. */
  private readonly contestWinners6 = new Ip6Table<Contest6>(MAX_LEARNED, PROBES);
  /** The MACs of those stations, with when and how: their own addresses in `neighbors` count as winners too. */
  private readonly contestWinnerMacs6 = new BoundedMap<number, Contest6>(MAX_LEARNED);
  private neighbors: NeighborBindings | null = null;
  /** Virtual gateway addresses of first-hop redundancy groups (fhrp analyzer). */
  private readonly redundantAddresses = new BoundedMap<number, RedundantAddress>(MAX_LEARNED);

  constructor(config: SniffwatchConfig) {
    for (const g of config.arp.gateways) this.learnConfiguredGateway(g);
  }

  /** The record of a virtual gateway address, if a group announced it. */
  redundantAddressOf(ip: number): RedundantAddress | undefined {
    return this.redundantAddresses.get(ip);
  }

  /**
   * The record of a virtual gateway address for the group `owner` (the fhrp analyzer keeps it
   * current), created on first use; undefined when another group announced the address first, so
   * that a second group claiming it cannot make its own routers look like the address's.
   */
  claimRedundantAddress(ip: number, owner: string, group: string): RedundantAddress | undefined {
    let r = this.redundantAddresses.get(ip);
    if (!r) {
      r = { owner, group, routerMacs: new Set(), activeUntil: -Infinity };
      this.redundantAddresses.set(ip, r);
    }
    return r.owner === owner ? r : undefined;
  }

  /**
   * The group whose virtual address `ip` is, when its moving to `mac` at `t` is the group handing it
   * over: to one of its routers, or to any station once the active router went silent or resigned (a
   * VRRP backup is silent until it takes over). Undefined otherwise, and for other addresses.
   */
  redundancyHandover(ip: number, mac: number, t: number): string | undefined {
    const r = this.redundantAddresses.get(ip);
    if (!r) return undefined;
    return r.routerMacs.has(mac) || t > r.activeUntil ? r.group : undefined;
  }

  isGateway(ip: number): boolean {
    return this.gateways.has(ip);
  }

  /** A gateway a DHCP server hands out (trusted, but its word only). */
  learnGateway(ip: number): void {
    if (this.gateways.size < MAX_LEARNED) this.gateways.add(ip);
  }

  /** A gateway from the configuration. */
  learnConfiguredGateway(ip: number): void {
    this.learnGateway(ip);
    this.observeGateway(ip);
  }

  /**
   * A gateway seen forwarding traffic for others. Evidence about DHCP
   * servers only if no DHCP answer named it as router before: a rogue server
   * that names itself forwards its victims' traffic too, once they follow it.
   */
  private learnForwardingGateway(ip: number): boolean {
    this.learnGateway(ip);
    if (this.dhcpRouters.has(ip)) return false;
    this.observeGateway(ip);
    return true;
  }

  private observeGateway(ip: number): void {
    if (this.observedGateways.size < MAX_LEARNED) this.observedGateways.add(ip);
  }

  /** A router a DHCP answer handed out, whoever the server. */
  noteDhcpRouter(ip: number): void {
    this.dhcpRouters.set(ip, true);
  }

  isObservedGateway(ip: number): boolean {
    return this.observedGateways.has(ip);
  }

  /** Gateways seen forwarding (or configured) inside the network `addr` & `mask`. */
  observedGatewaysIn(addr: number, mask: number): number[] {
    const net = (addr & mask) >>> 0;
    const out: number[] = [];
    for (const g of this.observedGateways) if ((g & mask) >>> 0 === net) out.push(g);
    return out;
  }

  learnRouterMac(mac: number): void {
    if (this.routerMacs.size < MAX_LEARNED) this.routerMacs.add(mac);
  }

  /** A MAC learned as a router turned out to take other stations' addresses. */
  forgetRouterMac(mac: number): void {
    this.routerMacs.delete(mac);
    this.observedRouterMacs.delete(mac);
  }

  /**
   * A MAC seen forwarding traffic for others, with the addresses it claims:
   * a router, and those addresses gateways. It counts as observed when one
   * of them does (learnForwardingGateway).
   */
  learnForwardingRouter(mac: number, ownIps: readonly number[]): void {
    this.learnRouterMac(mac);
    let observed = false;
    for (const ip of ownIps) if (this.learnForwardingGateway(ip)) observed = true;
    if (observed && this.observedRouterMacs.size < MAX_LEARNED) this.observedRouterMacs.add(mac);
  }

  isObservedRouterMac(mac: number): boolean {
    return this.observedRouterMacs.has(mac);
  }

  /** Records that the station at `ip` won an address contest at `timeMs` (it is a likely on-path attacker). */
  noteContestWinner(ip: number, timeMs: number): void {
    this.contestWinners.set(ip, timeMs);
  }

  /** When the station at `ip` last won an address contest, or undefined. */
  contestWonAt(ip: number): number | undefined {
    return this.contestWinners.get(ip);
  }

  useNeighborBindings(neighbors: NeighborBindings): void {
    this.neighbors = neighbors;
  }

  /** Records that the station with link-layer address `mac` won an IPv6 contest at `timeMs`. */
  noteContestWinnerMac6(mac: number, timeMs: number, how: ContestHow6): void {
    this.contestWinnerMacs6.set(mac, { t: timeMs, how, mac });
  }

  /** Records the IPv6 address at buf[off] as the own address of the station with `mac` (-1: unknown) that won an IPv6 contest at `timeMs`. */
  noteContestWinner6(buf: Buffer, off: number, timeMs: number, how: ContestHow6, mac: number): void {
    const slot = this.contestWinners6.intern(buf, off);
    if (slot !== -1) this.contestWinners6.setValue(slot, { t: timeMs, how, mac });
  }

  /** Whether any station won an IPv6 contest: until one does, IPv6 addresses need no lookup. */
  get ip6ContestsWon(): boolean {
    return this.contestWinnerMacs6.size > 0 || this.contestWinners6.size > 0;
  }

  /**
   * When the station the IPv6 address at buf[off] belongs to last took over a
   * neighbor binding, or undefined: the address was recorded as a winner's,
   * or it is the own address of a winning MAC. An address a winner took from
   * another station belongs to that station and does not count.
   */
  contestWonAt6(buf: Buffer, off: number): number | undefined {
    return this.contest6(buf, off)?.t;
  }

  /** How that station won its latest IPv6 contest. */
  contestHow6(buf: Buffer, off: number): ContestHow6 | undefined {
    return this.contest6(buf, off)?.how;
  }

  private contest6(buf: Buffer, off: number): Contest6 | undefined {
    const slot = this.contestWinners6.size > 0 ? this.contestWinners6.find(buf, off) : -1;
    const byAddr = slot === -1 ? undefined : this.contestWinners6.valueAt(slot);
    const mac = this.contestWinnerMacs6.size > 0 && this.neighbors !== null ? this.neighbors.ownerOf(buf, off) : -1;
    const byMac = mac === -1 ? undefined : this.contestWinnerMacs6.get(mac);
    if (byAddr === undefined) return byMac;
    return byMac === undefined || byAddr.t >= byMac.t ? byAddr : byMac;
  }

  /** The MAC of the contest winner whose own address the IPv6 address at buf[off] is (recorded with it, or as Neighbor Discovery tells), or -1. */
  contestWinnerMac6(buf: Buffer, off: number): number {
    return this.contest6(buf, off)?.mac ?? -1;
  }
}
