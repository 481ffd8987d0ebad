import { checkKeys, ConfigError, list, type ConfigSection } from '../../config/config.js';
import { parseMac } from '../../decode/addr.js';
import { findStoredIp6, IP6_WORDS, parseIp6, storeIp6 } from '../../decode/ip6-addr.js';

// The `ipv6:` config section: the routers allowed to send Router
// Advertisements and the DHCPv6 servers allowed to answer, each named by its
// link-local address or its MAC.
//
//   ipv6:
//     routers: [fe80::1, 02:53:57:00:00:01]
//     dhcpv6_servers: [fe80::2]
//
// A sender matches when its source address or its source MAC is listed. When
// MACs are listed, a listed address sent from a MAC that is not listed is
// impersonation, not a match.

export interface AllowList {
  /** Listed IPv6 addresses, four words each. */
  readonly ips: Uint32Array;
  readonly ipCount: number;
  readonly macs: ReadonlySet<number>;
  readonly size: number;
}

export interface Ipv6Config {
  routers: AllowList;
  dhcpv6Servers: AllowList;
}

function allowList(v: unknown, where: string): AllowList {
  const items = list(v, where);
  const ips = new Uint32Array(items.length * IP6_WORDS);
  const macs = new Set<number>();
  let ipCount = 0;
  for (const item of items) {
    if (typeof item !== 'string') throw new ConfigError(`${where}: '${String(item)}' is neither an IPv6 address nor a MAC address`);
    const mac = parseMac(item);
    if (mac !== undefined) {
      macs.add(mac);
      continue;
    }
    const ip = parseIp6(item);
    if (!ip) throw new ConfigError(`${where}: '${item}' is neither an IPv6 address nor a MAC address`);
    if (findStoredIp6(ips, ipCount, ip, 0) < 0) storeIp6(ips, ipCount++, ip, 0);
  }
  return { ips, ipCount, macs, size: ipCount + macs.size };
}

export const IPV6_SECTION: ConfigSection<Ipv6Config> = {
  key: 'ipv6',
  parse(doc, where) {
    checkKeys(doc, ['routers', 'dhcpv6_servers'], where);
    return {
      routers: allowList(doc.routers, `${where}.routers`),
      dhcpv6Servers: allowList(doc.dhcpv6_servers, `${where}.dhcpv6_servers`),
    };
  },
};

export const enum Listed {
  /** Nothing configured: learn from traffic. */
  NoList,
  Yes,
  No,
  /** A listed address from a MAC that is not listed. */
  Impersonated,
}

/** How a sender (address at buf[ipOff], link-layer `mac`, -1 if unknown) stands against a list. */
export function checkListed(l: AllowList, buf: Buffer, ipOff: number, mac: number): Listed {
  if (l.size === 0) return Listed.NoList;
  const ipListed = l.ipCount > 0 && findStoredIp6(l.ips, l.ipCount, buf, ipOff) >= 0;
  const macListed = mac !== -1 && l.macs.has(mac);
  if (macListed) return Listed.Yes;
  if (ipListed) return l.macs.size > 0 && mac !== -1 ? Listed.Impersonated : Listed.Yes;
  return Listed.No;
}
