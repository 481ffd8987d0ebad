import type { ConfigSection, SniffwatchConfig } from '../config/config.js';
import type { ArpMessage } from '../decode/arp.js';
import type { Packet } from '../decode/packet.js';
import type { Entity, Evidence, Severity } from '../findings/finding.js';
import type { NetworkModel } from './network-model.js';

// The contract between the core (which decodes packets and dispatches events)
// and the protocol analyzers (which hold state and decide what is suspicious).

export interface Report {
  message: string;
  entities: Entity[];
  severity?: Severity;
  confidence?: number;
  /** A secret seen on the wire (password, community, token): redacted unless the operator asked to see secrets. */
  secret?: string | Buffer;
}

export interface AnalyzerContext {
  readonly config: SniffwatchConfig;
  /** What all analyzers have learned about the network (routers, servers). */
  readonly network: NetworkModel;
  /** Reports an occurrence of `rule` seen in `pkt`; same rule and key aggregate into one finding. */
  report(rule: string, key: string, pkt: Packet, r: Report): void;
  /** Reports an occurrence not tied to one packet (end-of-input summaries). */
  reportAt(rule: string, key: string, timeMs: number, r: Report, evidence?: Evidence): void;
}

export interface Analyzer {
  onArp?(arp: ArpMessage, pkt: Packet): void;
  /** Every decoded IPv4/IPv6 packet (ARP excluded), before the protocol hooks below. */
  onIp?(pkt: Packet): void;
  /** UDP datagrams with a readable header: payload is buf[payloadStart, payloadEnd). */
  onUdp?(pkt: Packet): void;
  /** TCP segments with a readable header (not reassembled). */
  onTcp?(pkt: Packet): void;
  /** ICMP and ICMPv6 messages: the message starts at l4Start. */
  onIcmp?(pkt: Packet): void;
  /** IP packets of other protocols (VRRP, OSPF...), first fragments and whole packets: pkt.ipProto says which, the payload is buf[payloadStart, payloadEnd). */
  onIpPayload?(pkt: Packet): void;
  /** Unprotected 802.11 management frames (pkt.wlanManagement is the subtype; header at wlanHeader, body at wlanBody). */
  onWlanManagement?(pkt: Packet): void;
  /** End of input: report what only the whole picture shows. */
  finish?(): void;
  /** Entries held in the analyzer's tables, to show that state stays bounded. */
  stateSize?(): number;
}

export interface AnalyzerDefinition {
  /** Name used by `--analyzers`. */
  name: string;
  /** Rule ids this analyzer can emit (each has a detections/<id>.yml). */
  rules: readonly string[];
  /** The config section this analyzer reads, if any. */
  config?: ConfigSection<unknown>;
  create(ctx: AnalyzerContext): Analyzer;
}
