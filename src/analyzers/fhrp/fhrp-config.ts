import { checkKeys, ConfigError, list, type ConfigSection } from '../../config/config.js';
import { ip4ToString, ip6ToString, parseIp4, parseMac } from '../../decode/addr.js';
import { parseIp6 } from '../../decode/ip6-addr.js';

// The `fhrp:` config section: the routers allowed to take part in HSRP and
// VRRP groups, by address (IPv4 or IPv6, as their messages carry it) or by
// MAC. With a list, any other speaker claiming a group's gateway role is a
// takeover whatever it looks like.
//
//   fhrp:
//     routers: [198.18.0.2, 198.18.0.3, fe80::2, 02:53:57:00:00:02]

export interface FhrpConfig {
  /** Allowed speakers' addresses in canonical text; empty: no list. */
  routerAddrs: Set<string>;
  routerMacs: Set<number>;
}

export const FHRP_SECTION: ConfigSection<FhrpConfig> = {
  key: 'fhrp',
  parse(doc, where) {
    checkKeys(doc, ['routers'], where);
    const routerAddrs = new Set<string>();
    const routerMacs = new Set<number>();
    for (const item of list(doc.routers, `${where}.routers`)) {
      const text = typeof item === 'string' ? item : '';
      const v4 = parseIp4(text);
      const v6 = v4 === undefined ? parseIp6(text) : undefined;
      const mac = v4 === undefined && v6 === undefined ? parseMac(text) : undefined;
      if (v4 !== undefined) routerAddrs.add(ip4ToString(v4));
      else if (v6 !== undefined) routerAddrs.add(ip6ToString(v6, 0));
      else if (mac !== undefined) routerMacs.add(mac);
      else throw new ConfigError(`${where}.routers: '${String(item)}' is not an IPv4, IPv6 or MAC address`);
    }
    return { routerAddrs, routerMacs };
  },
};
