import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter } from '../../src/capture/pcap-writer.js';
import { LINKTYPE_ETHERNET } from '../../src/capture/linktypes.js';
import { defaultConfig, type SniffwatchConfig } from '../../src/config/config.js';
import type { Finding, Severity } from '../../src/findings/finding.js';
import { severityRank } from '../../src/findings/finding.js';
import { scanCaptures, type ScanResult } from '../../src/pipeline.js';

// Writes crafted frames to a temporary pcap and scans it with the real pipeline.

export interface TimedFrame {
  /** Seconds from the start of the capture. */
  t: number;
  frame: Buffer;
}

const BASE_MICROS = Date.UTC(2026, 0, 1) * 1000;

export function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-test-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

export function writePcap(path: string, frames: readonly TimedFrame[], linktype = LINKTYPE_ETHERNET): string {
  const w = new PcapWriter(path, linktype);
  for (const f of frames) w.write(f.frame, BASE_MICROS + Math.round(f.t * 1e6));
  w.close();
  return path;
}

export async function scanFrames(frames: readonly TimedFrame[], config: SniffwatchConfig = defaultConfig(), linktype = LINKTYPE_ETHERNET, showSecrets = false): Promise<ScanResult> {
  return withTempDir(async (dir) => scanCaptures([writePcap(join(dir, 'in.pcap'), frames, linktype)], { config, profile: 'production', showSecrets }));
}

/**
 * No secret's value (8 characters or more) shows in any finding outside its `secrets` list
 * (as JSON, so escaped characters compare alike): messages and entities name a secret, they
 * do not quote it. For scans with secrets shown, where the values are known.
 */
export function assertSecretsOnlyInSecrets(findings: readonly Finding[]): void {
  const values = findings.flatMap((f) => (f.secrets ?? []).map((x) => x.value ?? '')).filter((v) => v.length >= 8);
  for (const f of findings) {
    const rest = JSON.stringify({ ...f, secrets: [] });
    // The failure names the finding and the secret's length only, so the test log does not print the secret.
    for (const v of values) assert.ok(!rest.includes(JSON.stringify(v).slice(1, -1)), `${f.rule_id}: a secret (${v.length} chars) shows outside the secrets list`);
  }
}

export function isAtLeast(f: Finding, level: Severity): boolean {
  return severityRank(f.severity) >= severityRank(level);
}

export function atLeast(findings: readonly Finding[], level: Severity): Finding[] {
  return findings.filter((f) => isAtLeast(f, level));
}

export function hasEntity(f: Finding, type: string, value: string, role?: string): boolean {
  return f.entities.some((e) => e.type === type && e.value === value && (role === undefined || e.role === role));
}

/** Fails when one of these findings names the station (by IP or MAC) as the attacker. */
export function assertNotBlamed(findings: readonly Finding[], station: { ip: string; mac: string }, who = `${station.ip} (${station.mac})`): void {
  const blamed = findings.filter((f) => hasEntity(f, 'mac', station.mac, 'attacker') || hasEntity(f, 'ip', station.ip, 'attacker'));
  assert.deepEqual(
    blamed.map((f) => f.rule_id),
    [],
    `${who} is blamed:\n${describe(blamed)}`,
  );
}

/** Findings for an assertion message: severity, rule, techniques, message and entities, one a line. */
export function describe(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.severity} ${f.rule_id} ${JSON.stringify(f.attack.techniques)}: ${f.message} ${JSON.stringify(f.entities)}`).join('\n');
}
