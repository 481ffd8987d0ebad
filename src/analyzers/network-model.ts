import type { SniffwatchConfig } from '../config/config.js';

// Facts about the network that more than one analyzer uses: which IPv4
// addresses are routers (configured, or learned from traffic or DHCP) and
// which MACs forward traffic for others.

const MAX_LEARNED = 4096;

export class NetworkModel {
  readonly gateways = new Set<number>();
  readonly routerMacs = new Set<number>();

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
}
