import { checkKeys, ConfigError, list, type ConfigSection } from '../../config/config.js';
import { parseIp4 } from '../../decode/addr.js';
import { parseIp6 } from '../../decode/ip6-addr.js';
import type { AddrBook } from './addr-book.js';

// The `names:` config section:
//
//   names:
//     dns_servers: [198.18.0.1, fd00:53::1] # resolvers clients are meant to use
//     responders: [198.18.0.5, fe80::5]     # hosts allowed to answer LLMNR/NBT-NS/mDNS for others (WINS)
//     internal_suffixes: [corp.example]     # DNS suffixes of internal names

/** Addresses listed in the config: IPv4 as numbers, IPv6 as 16 bytes each. */
export interface AddrList {
  ip4: number[];
  ip6: Buffer[];
}

/** The section as written. */
export interface NamesSection {
  dnsServers: AddrList;
  responders: AddrList;
  internalSuffixes: string[];
}

/** The section as the name-resolution checks read it: addresses are AddrBook ids. */
export interface NamesConfig {
  /** Resolvers clients are meant to use: in a race, their answer is the legitimate one. */
  dnsServers: Set<number>;
  /** Hosts allowed to answer LLMNR/NBT-NS/mDNS queries for many names (WINS servers, sleep proxies). */
  responders: Set<number>;
  /** Lowercase DNS suffixes, without a leading dot, whose names are internal. */
  internalSuffixes: string[];
}

function addrList(v: unknown, where: string): AddrList {
  const out: AddrList = { ip4: [], ip6: [] };
  for (const item of list(v, where)) {
    const text = typeof item === 'string' ? item : '';
    const v4 = parseIp4(text);
    if (v4 !== undefined) {
      if (!out.ip4.includes(v4)) out.ip4.push(v4);
      continue;
    }
    const v6 = parseIp6(text);
    if (!v6) throw new ConfigError(`${where}: '${String(item)}' is not an IPv4 or IPv6 address`);
    if (!out.ip6.some((b) => b.equals(v6))) out.ip6.push(v6);
  }
  return out;
}

/** The IPv6 addresses the section lists, which the AddrBook must hold for good (pinned) so that their ids never change. */
export function listedIp6(section: NamesSection): Buffer[] {
  return [...section.dnsServers.ip6, ...section.responders.ip6];
}

/** The section with its addresses as ids of `book`, which holds the listed IPv6 addresses pinned. */
export function namesConfigFor(section: NamesSection, book: AddrBook): NamesConfig {
  const ids = (l: AddrList): Set<number> => {
    const out = new Set<number>(l.ip4);
    for (const b of l.ip6) {
      const id = book.find(b, 0);
      if (id !== -1) out.add(id);
    }
    return out;
  };
  return { dnsServers: ids(section.dnsServers), responders: ids(section.responders), internalSuffixes: section.internalSuffixes };
}

export const namesConfigSection: ConfigSection<NamesSection> = {
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
      dnsServers: addrList(doc.dns_servers, `${where}.dns_servers`),
      responders: addrList(doc.responders, `${where}.responders`),
      internalSuffixes,
    };
  },
};
