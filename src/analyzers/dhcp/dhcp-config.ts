import { ConfigError, checkKeys, ipList, positiveInt, type ConfigSection, type Doc } from '../../config/config.js';

// The `dhcp:` section: which servers may answer, what they hand out, and the
// thresholds of the starvation and flood checks.

export interface DhcpConfig {
  /** Servers allowed to answer (server identifier); empty: the first server seen is trusted. */
  servers: Set<number>;
  /** Routers (option 3) the servers are expected to hand out, beside what trusted servers were seen handing out. */
  routers: Set<number>;
  /** DNS servers (option 6) likewise. */
  dnsServers: Set<number>;
  /** Distinct client hardware addresses asking within the window that count as starvation. */
  starvationClients: number;
  starvationWindowMs: number;
  /** Messages from one client within the same window that count as a flood. */
  clientFloodMessages: number;
}

const MAX_STARVATION_CLIENTS = 65536;
const MAX_WINDOW_SECONDS = 3600;

export const DHCP_DEFAULTS = {
  starvationClients: 50,
  starvationWindowSeconds: 10,
  clientFloodMessages: 50,
} as const;

export const dhcpConfigSection: ConfigSection<DhcpConfig> = {
  key: 'dhcp',
  parse(doc: Doc, where: string): DhcpConfig {
    checkKeys(doc, ['servers', 'routers', 'dns_servers', 'starvation_clients', 'starvation_window_seconds', 'client_flood_messages'], where);
    const starvationClients = positiveInt(doc.starvation_clients, DHCP_DEFAULTS.starvationClients, `${where}.starvation_clients`);
    if (starvationClients > MAX_STARVATION_CLIENTS) throw new ConfigError(`${where}.starvation_clients must be at most ${MAX_STARVATION_CLIENTS}`);
    const windowSeconds = positiveInt(doc.starvation_window_seconds, DHCP_DEFAULTS.starvationWindowSeconds, `${where}.starvation_window_seconds`);
    if (windowSeconds > MAX_WINDOW_SECONDS) throw new ConfigError(`${where}.starvation_window_seconds must be at most ${MAX_WINDOW_SECONDS}`);
    return {
      servers: ipList(doc.servers, `${where}.servers`),
      routers: ipList(doc.routers, `${where}.routers`),
      dnsServers: ipList(doc.dns_servers, `${where}.dns_servers`),
      starvationClients,
      starvationWindowMs: windowSeconds * 1000,
      clientFloodMessages: positiveInt(doc.client_flood_messages, DHCP_DEFAULTS.clientFloodMessages, `${where}.client_flood_messages`),
    };
  },
};
