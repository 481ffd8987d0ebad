import { readFileSync } from 'node:fs';
import { parseYaml } from './yaml.js';
import { parseIp4, parseMac } from '../decode/addr.js';

// The operator's knowledge of the network, from a YAML file. Unknown keys and
// bad addresses are errors: a typo must not silently disable a check.

export interface ArpConfig {
  /** Static IP -> MAC bindings; any contradiction is a high-severity finding. */
  known: Map<number, number>;
  /** Router IPs, in addition to those learned from traffic. */
  gateways: Set<number>;
  /** MACs allowed to answer for many IPs (proxy-ARP routers, load balancers). */
  multiIpMacs: Set<number>;
  /** Bound on tracked stations; oldest are forgotten first. */
  maxStations: number;
  /** Replies per second from one MAC that count as a flood. */
  replyFloodPerSecond: number;
}

export interface SniffwatchConfig {
  arp: ArpConfig;
  /** Key for the hashes of redacted secrets; unset: a random key per run. */
  secretSalt?: string;
  /** Analyzer-owned sections, parsed by their ConfigSection; read them with sectionOf(). */
  sections: Map<string, unknown>;
}

/**
 * A top-level config key owned by one analyzer, which validates it. Sections
 * keep the core config small: a new analyzer brings its own section.
 */
export interface ConfigSection<T> {
  key: string;
  /** Parses the section's mapping (empty when absent); throws ConfigError naming `where`. */
  parse(doc: Record<string, unknown>, where: string): T;
}

/** The parsed value of a section, or its defaults when the file did not have it. */
export function sectionOf<T>(config: SniffwatchConfig, section: ConfigSection<T>): T {
  if (!config.sections.has(section.key)) config.sections.set(section.key, section.parse({}, section.key));
  return config.sections.get(section.key) as T;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function defaultConfig(): SniffwatchConfig {
  return {
    arp: { known: new Map(), gateways: new Set(), multiIpMacs: new Set(), maxStations: 65536, replyFloodPerSecond: 50 },
    sections: new Map(),
  };
}

export type Doc = Record<string, unknown>;

export function mapping(v: unknown, where: string): Doc {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${where} must be a mapping`);
  return v as Doc;
}

export function checkKeys(doc: Doc, allowed: string[], where: string): void {
  for (const k of Object.keys(doc)) if (!allowed.includes(k)) throw new ConfigError(`${where}: unknown key '${k}' (expected one of: ${allowed.join(', ')})`);
}

export function ip(v: unknown, where: string): number {
  const n = typeof v === 'string' ? parseIp4(v) : undefined;
  if (n === undefined) throw new ConfigError(`${where}: '${String(v)}' is not an IPv4 address`);
  return n;
}

export function mac(v: unknown, where: string): number {
  const n = typeof v === 'string' ? parseMac(v) : undefined;
  if (n === undefined) throw new ConfigError(`${where}: '${String(v)}' is not a MAC address`);
  return n;
}

export function list(v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(`${where} must be a list`);
  return v;
}

export function positiveInt(v: unknown, fallback: number, where: string): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(`${where} must be a positive integer`);
  return v;
}

export function parseConfig(text: string, file: string, sections: readonly ConfigSection<unknown>[] = []): SniffwatchConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const doc = mapping(raw, file);
  checkKeys(doc, ['arp', 'known', 'gateways', 'secret_salt', ...sections.map((x) => x.key)], file);
  const arpDoc = mapping(doc.arp, `${file}: arp`);
  checkKeys(arpDoc, ['known', 'gateways', 'multi_ip_macs', 'max_stations', 'reply_flood_per_second'], `${file}: arp`);
  const cfg = defaultConfig();
  // `known` and `gateways` are accepted at the top level too, as the README's short form.
  for (const [where, known] of [[`${file}: known`, doc.known], [`${file}: arp.known`, arpDoc.known]] as const) {
    for (const [k, v] of Object.entries(mapping(known, where))) cfg.arp.known.set(ip(k, where), mac(v, `${where}.${k}`));
  }
  for (const [where, gws] of [[`${file}: gateways`, doc.gateways], [`${file}: arp.gateways`, arpDoc.gateways]] as const) {
    for (const g of list(gws, where)) cfg.arp.gateways.add(ip(g, where));
  }
  for (const m of list(arpDoc.multi_ip_macs, `${file}: arp.multi_ip_macs`)) cfg.arp.multiIpMacs.add(mac(m, `${file}: arp.multi_ip_macs`));
  cfg.arp.maxStations = positiveInt(arpDoc.max_stations, cfg.arp.maxStations, `${file}: arp.max_stations`);
  cfg.arp.replyFloodPerSecond = positiveInt(arpDoc.reply_flood_per_second, cfg.arp.replyFloodPerSecond, `${file}: arp.reply_flood_per_second`);
  if (doc.secret_salt !== undefined) {
    if (typeof doc.secret_salt !== 'string' || doc.secret_salt.length < 8) throw new ConfigError(`${file}: secret_salt must be a string of at least 8 characters`);
    cfg.secretSalt = doc.secret_salt;
  }
  for (const section of sections) cfg.sections.set(section.key, section.parse(mapping(doc[section.key], `${file}: ${section.key}`), `${file}: ${section.key}`));
  return cfg;
}

export function loadConfig(file: string, sections: readonly ConfigSection<unknown>[] = []): SniffwatchConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read config: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseConfig(text, file, sections);
}

/** A list of IPv4 addresses, for sections' allowlists. */
export function ipList(v: unknown, where: string): Set<number> {
  return new Set(list(v, where).map((x) => ip(x, where)));
}

export function bool(v: unknown, fallback: boolean, where: string): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new ConfigError(`${where} must be true or false`);
  return v;
}
