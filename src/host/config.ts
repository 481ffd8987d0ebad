import { checkKeys, ConfigError, ipList, list, mapping, positiveInt, type ConfigSection } from '../config/config.js';

// The `host:` section of the configuration: what the host sensors may treat as
// authorised. Example:
//
//   host:
//     allow:
//       - { exe: /usr/bin/tcpdump, user: netops }         # the network team's captures
//       - { exe: /usr/bin/suricata, parent: systemd }     # the IDS service
//       - { exe: /usr/sbin/dhclient }
//     mirror_collectors: [10.9.0.5]                       # the sanctioned packet broker
//     allowed_mirrors:                                    # known mirrors, by the name they were given
//       - { ovs_mirror: to-ids, bridge: br-int }
//       - { tc_filter: "eth0 ingress" }
//       - { device: vx-ids }
//       - { nft_table: tap, nft_chain: dup-out }
//     mirror_poll_seconds: 15

export interface HostAllowRule {
  /** Executable path; `*` matches any run of characters. */
  exe?: RegExp;
  /** User name or numeric uid. */
  user?: string;
  /** Name of the nearest ancestor that is not a wrapper (sudo, env, timeout...). */
  parent?: string;
  /** Host name this entry applies to; `*` wildcards allowed. */
  host?: RegExp;
  /** The entry as written, for the "allowed by config" message. */
  text: string;
}

/**
 * A known traffic mirror, by what it is called: an Open vSwitch mirror (on a
 * bridge), a tc filter (device and parent), the device copies are sent out of
 * (a VXLAN/GRE/GENEVE/ERSPAN tunnel, an OVS output port), or an nftables
 * table (and chain). Names may hold `*` wildcards.
 */
export type AllowedMirror =
  | { kind: 'ovs_mirror'; name: RegExp; bridge?: RegExp; text: string }
  | { kind: 'tc_filter'; device: RegExp; parent?: TcParent; text: string }
  | { kind: 'device'; device: RegExp; text: string }
  | { kind: 'nft_table'; table: RegExp; chain?: RegExp; text: string };

export const TC_PARENTS = ['ingress', 'egress', 'root'] as const;
export type TcParent = (typeof TC_PARENTS)[number];

export interface HostConfig {
  allow: HostAllowRule[];
  /** IPv4 addresses that may receive duplicated traffic (tunnel remotes, TEE gateways). */
  mirrorCollectors: Set<number>;
  /** Mirrors allowed by name; their findings are info. */
  allowedMirrors: AllowedMirror[];
  /** How often tc, nft, iptables, OVS and tunnel devices are re-read. */
  mirrorPollMs: number;
}

/** `*` wildcards, everything else literal, whole-string match. */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

function optionalString(v: unknown, where: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return String(v);
  if (typeof v !== 'string' || v.trim() === '') throw new ConfigError(`${where} must be a non-empty string`);
  return v.trim();
}

/** An interface name (IFNAMSIZ: at most 15 characters, no whitespace or '/'), `*` allowed. */
function ifname(v: unknown, where: string): string {
  const s = optionalString(v, where);
  if (s === undefined || !/^[^\s/]{1,15}$/.test(s)) throw new ConfigError(`${where}: '${String(v)}' is not an interface name (1 to 15 characters, no spaces or '/')`);
  return s;
}

/** An OVS or nftables object name: one word, `*` allowed. */
function objectName(v: unknown, where: string): string {
  const s = optionalString(v, where);
  if (s === undefined || !/^\S{1,256}$/.test(s)) throw new ConfigError(`${where}: '${String(v)}' is not a name (1 to 256 characters, no spaces)`);
  return s;
}

const MIRROR_KINDS = ['ovs_mirror', 'tc_filter', 'device', 'nft_table'] as const;
const MIRROR_QUALIFIERS: Record<(typeof MIRROR_KINDS)[number], string[]> = { ovs_mirror: ['bridge'], tc_filter: [], device: [], nft_table: ['nft_chain'] };

function allowedMirror(entry: unknown, at: string): AllowedMirror {
  const m = mapping(entry, at);
  const kinds = MIRROR_KINDS.filter((k) => k in m);
  if (kinds.length !== 1) throw new ConfigError(`${at}: give exactly one of ${MIRROR_KINDS.join(', ')}${kinds.length > 1 ? ` (got ${kinds.join(', ')})` : ''}`);
  const kind = kinds[0]!;
  checkKeys(m, [kind, ...MIRROR_QUALIFIERS[kind]], at);
  const text = Object.entries(m)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  switch (kind) {
    case 'ovs_mirror': {
      const bridge = m.bridge === undefined ? undefined : objectName(m.bridge, `${at}.bridge`);
      return { kind, name: globToRegExp(objectName(m.ovs_mirror, `${at}.ovs_mirror`)), bridge: bridge === undefined ? undefined : globToRegExp(bridge), text };
    }
    case 'tc_filter': {
      const words = typeof m.tc_filter === 'string' ? m.tc_filter.trim().split(/\s+/) : [];
      const parent = words[1];
      if (words.length < 1 || words.length > 2 || (parent !== undefined && !(TC_PARENTS as readonly string[]).includes(parent))) {
        throw new ConfigError(`${at}.tc_filter: '${String(m.tc_filter)}' is not "DEVICE" or "DEVICE PARENT" (PARENT one of ${TC_PARENTS.join(', ')})`);
      }
      return { kind, device: globToRegExp(ifname(words[0], `${at}.tc_filter`)), parent: parent as TcParent | undefined, text };
    }
    case 'device':
      return { kind, device: globToRegExp(ifname(m.device, `${at}.device`)), text };
    case 'nft_table': {
      const chain = m.nft_chain === undefined ? undefined : objectName(m.nft_chain, `${at}.nft_chain`);
      return { kind, table: globToRegExp(objectName(m.nft_table, `${at}.nft_table`)), chain: chain === undefined ? undefined : globToRegExp(chain), text };
    }
  }
}

export const HOST_CONFIG: ConfigSection<HostConfig> = {
  key: 'host',
  parse(doc, where) {
    checkKeys(doc, ['allow', 'mirror_collectors', 'allowed_mirrors', 'mirror_poll_seconds'], where);
    const allow = list(doc.allow, `${where}.allow`).map((entry, i) => {
      const at = `${where}.allow[${i}]`;
      const m = mapping(entry, at);
      checkKeys(m, ['exe', 'user', 'parent', 'host'], at);
      const exe = optionalString(m.exe, `${at}.exe`);
      const user = optionalString(m.user, `${at}.user`);
      const parent = optionalString(m.parent, `${at}.parent`);
      const host = optionalString(m.host, `${at}.host`);
      if (exe === undefined && user === undefined && parent === undefined && host === undefined) {
        throw new ConfigError(`${at}: give at least one of exe, user, parent, host`);
      }
      const text = Object.entries({ exe, user, parent, host })
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      return { exe: exe === undefined ? undefined : globToRegExp(exe), user, parent, host: host === undefined ? undefined : globToRegExp(host), text };
    });
    return {
      allow,
      mirrorCollectors: ipList(doc.mirror_collectors, `${where}.mirror_collectors`),
      allowedMirrors: list(doc.allowed_mirrors, `${where}.allowed_mirrors`).map((e, i) => allowedMirror(e, `${where}.allowed_mirrors[${i}]`)),
      mirrorPollMs: positiveInt(doc.mirror_poll_seconds, 15, `${where}.mirror_poll_seconds`) * 1000,
    };
  },
};
