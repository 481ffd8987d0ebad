import type { SniffwatchConfig } from '../config/config.js';
import { BoundedMap } from '../util/bounded-map.js';

// Facts about the network that more than one analyzer uses: which IPv4
// addresses are routers (configured, or learned from traffic or DHCP) and
// which MACs forward traffic for others.

const MAX_LEARNED = 4096;

export class NetworkModel {
  readonly gateways = new Set<number>();
  readonly routerMacs = new Set<number>();
  /** IPv4 addresses of stations that recently won an address contest (ARP takeover, rogue DHCP), with when. */
  private readonly contestWinners = new BoundedMap<number, number>(MAX_LEARNED);

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
}
