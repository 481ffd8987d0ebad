import type { SniffwatchConfig } from '../config/config.js';
import { BoundedMap } from '../util/bounded-map.js';
import { Ip6Table } from '../util/ip6-table.js';

// Facts about the network that more than one analyzer uses: which IPv4
// addresses are routers (configured, or learned from traffic or DHCP), which
// MACs forward traffic for others, and which stations just won an address
// contest (ARP, DHCP, IPv6 Neighbor Discovery).

const MAX_LEARNED = 4096;
/** Keys tried per IPv6 address hash (only crafted collisions go past the first). */
const PROBES = 4;

/** Where IPv6 addresses are bound to MACs: the Neighbor Discovery watch of the ipv6 analyzer. */
export interface NeighborBindings {
  /** The MAC whose own address buf[off] is (bound to it, not taken from another MAC), or -1. */
  ownerOf(buf: Buffer, off: number): number;
}

export class NetworkModel {
  readonly gateways = new Set<number>();
  readonly routerMacs = new Set<number>();
  /** IPv4 addresses of stations that recently won an address contest (ARP takeover, rogue DHCP), with when. */
  private readonly contestWinners = new BoundedMap<number, number>(MAX_LEARNED);
  /** IPv6 addresses of stations that recently took over a neighbor binding, with when. */
  private readonly contestWinners6 = new Ip6Table<number>(MAX_LEARNED, PROBES);
  /** The MACs of those stations, with when: their own addresses in `neighbors` count as winners too. */
  private readonly contestWinnerMacs6 = new BoundedMap<number, number>(MAX_LEARNED);
  private neighbors: NeighborBindings | null = null;

  constructor(config: SniffwatchConfig) {
    for (const g of config.arp.gateways) this.gateways.add(g);
  }

  isGateway(ip: number): boolean {
    return this.gateways.has(ip);
  }

  learnGateway(ip: number): void {
    if (this.gateways.size < MAX_LEARNED) this.gateways.add(ip);
  }

  learnRouterMac(mac: number): void {
    if (this.routerMacs.size < MAX_LEARNED) this.routerMacs.add(mac);
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

  /** Records that the station with link-layer address `mac` took over an IPv6 neighbor binding at `timeMs`. */
  noteContestWinnerMac6(mac: number, timeMs: number): void {
    this.contestWinnerMacs6.set(mac, timeMs);
  }

  /** Records the IPv6 address at buf[off] as the own address of a station that took over a neighbor binding at `timeMs`. */
  noteContestWinner6(buf: Buffer, off: number, timeMs: number): void {
    const slot = this.contestWinners6.intern(buf, off);
    if (slot !== -1) this.contestWinners6.setValue(slot, timeMs);
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
    const slot = this.contestWinners6.size > 0 ? this.contestWinners6.find(buf, off) : -1;
    const byAddr = slot === -1 ? undefined : this.contestWinners6.valueAt(slot);
    const mac = this.contestWinnerMacs6.size > 0 && this.neighbors !== null ? this.neighbors.ownerOf(buf, off) : -1;
    const byMac = mac === -1 ? undefined : this.contestWinnerMacs6.get(mac);
    if (byAddr === undefined) return byMac;
    return byMac === undefined ? byAddr : Math.max(byAddr, byMac);
  }

  /** The MAC of the contest winner whose own address the IPv6 address at buf[off] is, as Neighbor Discovery tells, or -1. */
  contestWinnerMac6(buf: Buffer, off: number): number {
    const mac = this.neighbors === null ? -1 : this.neighbors.ownerOf(buf, off);
    return mac !== -1 && this.contestWinnerMacs6.has(mac) ? mac : -1;
  }
}
