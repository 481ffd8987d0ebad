// The one finding model every detector emits. Field names follow OCSF
// Detection Finding (class_uid 2004) where one exists, so the OCSF and ECS
// mappings in ./ocsf.ts stay lossless.

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export function parseSeverity(text: string): Severity | undefined {
  const lower = text.toLowerCase();
  return (SEVERITIES as readonly string[]).includes(lower) ? (lower as Severity) : undefined;
}

export const PROFILES = ['ci', 'staging', 'production'] as const;
export type Profile = (typeof PROFILES)[number];

export interface AttackMapping {
  tactics: string[];
  techniques: string[];
}

/** A thing the finding is about. `role` says what part it played. */
export interface Entity {
  type: 'mac' | 'ip' | 'host' | 'interface' | 'process' | 'user' | 'cloud_principal' | 'file' | 'vlan' | 'protocol' | 'ssid';
  value: string;
  role?: string;
}

/** Where the evidence is: a frame of a capture, a log line, a process event. */
export interface Evidence {
  source: string;
  frame?: number;
  offset?: number;
  time?: string;
  detail?: string;
  /** Evidence pcap file holding this frame (live capture keeps the frames behind each finding). */
  pcap?: string;
}

export interface Guidance {
  summary: string;
  implications: string;
  actions: string;
  false_positives: string[];
}

import type { SecretObservation } from './redact.js';

export interface Finding {
  /** Stable id of this finding: rule_id plus the aggregation key. */
  id: string;
  rule_id: string;
  title: string;
  severity: Severity;
  confidence: number;
  attack: AttackMapping;
  /** One line saying what was seen, attacker-controlled parts already normalised. */
  message: string;
  first_seen: string;
  last_seen: string;
  count: number;
  entities: Entity[];
  evidence: Evidence[];
  /** Evidence items not kept because of the cap. */
  evidence_dropped: number;
  profile: Profile;
  guidance: Guidance;
  /** Secrets seen (redacted: length and keyed hash), distinct by hash, capped. */
  secrets?: SecretObservation[];
}

const MAX_DATE_MS = 8.64e15;

/** ISO time for a capture timestamp; hostile captures can carry times no Date can hold. */
export function isoTime(ms: number): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) return new Date(0).toISOString();
  return new Date(ms).toISOString();
}
