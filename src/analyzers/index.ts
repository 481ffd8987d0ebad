import type { ConfigSection } from '../config/config.js';
import type { AnalyzerDefinition } from './analyzer.js';
import { arpAnalyzer } from './arp/arp-analyzer.js';
import { HOST_CONFIG } from '../host/config.js';
import { mirrorAnalyzer } from './mirror/mirror-analyzer.js';
import { dhcpAnalyzer } from './dhcp/dhcp-analyzer.js';
import { snmpAnalyzer } from './snmp/snmp-analyzer.js';
import { tlsAnalyzer } from './tls/tls-analyzer.js';
import { ipv6Analyzer } from './ipv6/ipv6-analyzer.js';
import { namesAnalyzer } from './name-resolution/names-analyzer.js';
import { credentialsAnalyzer } from './credentials/credentials-analyzer.js';
import { wlanAnalyzer } from './wlan/wlan-analyzer.js';
import { fhrpAnalyzer } from './fhrp/fhrp-analyzer.js';
import { routingAnalyzer } from './routing/routing-analyzer.js';

// Every wire analyzer, in dispatch order. A new protocol analyzer is a folder
// beside arp/ and one line here.
export const WIRE_ANALYZERS: readonly AnalyzerDefinition[] = [
  arpAnalyzer,
  mirrorAnalyzer,
  dhcpAnalyzer,
  snmpAnalyzer,
  ipv6Analyzer,
  namesAnalyzer,
  tlsAnalyzer,
  credentialsAnalyzer,
  // After the analyzers that read most packets, so that their hooks keep the engine's first dispatch slots (engine.ts).
  fhrpAnalyzer,
  routingAnalyzer,
  wlanAnalyzer,
];

/** Config sections the analyzers own (and the host sensors' `host:`), for loadConfig. */
export const CONFIG_SECTIONS: readonly ConfigSection<unknown>[] = [...WIRE_ANALYZERS.flatMap((a) => (a.config ? [a.config] : [])), HOST_CONFIG];

/** Rules the core itself emits (decoding problems), beside the analyzers' own. */
export const CORE_RULES: readonly string[] = ['decode-malformed', 'decode-unsupported-link', 'decode-wlan-skipped'];

export function selectAnalyzers(names: readonly string[] | undefined): AnalyzerDefinition[] {
  if (!names || names.length === 0) return [...WIRE_ANALYZERS];
  const unknown = names.filter((n) => !WIRE_ANALYZERS.some((a) => a.name === n));
  if (unknown.length > 0) {
    throw new Error(`unknown analyzer '${unknown.join("', '")}' (available: ${WIRE_ANALYZERS.map((a) => a.name).join(', ')})`);
  }
  return WIRE_ANALYZERS.filter((a) => names.includes(a.name));
}
