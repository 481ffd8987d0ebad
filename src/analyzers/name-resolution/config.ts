import { checkKeys, ConfigError, ipList, list, type ConfigSection } from '../../config/config.js';

// The `names:` config section:
//
//   names:
//     dns_servers: [198.18.0.1]        # resolvers clients are meant to use
//     responders: [198.18.0.5]         # hosts allowed to answer LLMNR/NBT-NS/mDNS for others (WINS)
//     internal_suffixes: [corp.example] # DNS suffixes of internal names

export interface NamesConfig {
  /** Resolvers clients are meant to use: in a race, their answer is the legitimate one. */
  dnsServers: Set<number>;
  /** Hosts allowed to answer LLMNR/NBT-NS/mDNS queries for many names (WINS servers, sleep proxies). */
  responders: Set<number>;
  /** Lowercase DNS suffixes, without a leading dot, whose names are internal. */
  internalSuffixes: string[];
}

export const namesConfigSection: ConfigSection<NamesConfig> = {
  key: 'names',
  parse(doc, where) {
    checkKeys(doc, ['dns_servers', 'responders', 'internal_suffixes'], where);
    const internalSuffixes = list(doc.internal_suffixes, `${where}.internal_suffixes`).map((s) => {
      if (typeof s !== 'string' || !/^\.?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i.test(s)) {
        throw new ConfigError(`${where}.internal_suffixes: '${String(s)}' is not a DNS suffix`);
      }
      return s.toLowerCase().replace(/^\.|\.$/g, '');
    });
    return {
      dnsServers: ipList(doc.dns_servers, `${where}.dns_servers`),
      responders: ipList(doc.responders, `${where}.responders`),
      internalSuffixes,
    };
  },
};
