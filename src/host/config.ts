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

export interface HostConfig {
  allow: HostAllowRule[];
  /** IPv4 addresses that may receive duplicated traffic (tunnel remotes, TEE gateways). */
  mirrorCollectors: Set<number>;
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

export const HOST_CONFIG: ConfigSection<HostConfig> = {
  key: 'host',
  parse(doc, where) {
    checkKeys(doc, ['allow', 'mirror_collectors', 'mirror_poll_seconds'], where);
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
      mirrorPollMs: positiveInt(doc.mirror_poll_seconds, 15, `${where}.mirror_poll_seconds`) * 1000,
    };
  },
};
