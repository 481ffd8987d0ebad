import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { scapyPython as findScapyPython } from './netns-lan.js';

// Captures rewritten in other framings by scapy scripts beside this file
// (ethernet-to-wifi.py, ethernet-to-carrier.py), so that real traffic can be
// replayed behind other link layers.

/** Debian's python3 with scapy (python3-scapy installs for it, not for other pythons on the PATH), or null. */
export function scapyPython(): string | null {
  return findScapyPython() ?? null;
}

/** Runs test/helpers/SCRIPT IN DIR FRAMING...; DIR/<framing>.pcap is written for each, or the script's exit 3 says why it does not apply. */
export function reframe(script: string, python: string, input: string, dir: string, framings: readonly string[]): { paths: Record<string, string> } | { notApplicable: string } {
  const converter = fileURLToPath(new URL(`../../../test/helpers/${script}`, import.meta.url));
  const r = spawnSync(python, [converter, input, dir, ...framings], { encoding: 'utf8', timeout: 300_000 });
  if (r.status === 3) return { notApplicable: r.stderr.trim() };
  if (r.status !== 0) throw new Error(`${script} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return { paths: Object.fromEntries(framings.map((f) => [f, join(dir, `${f}.pcap`)])) };
}
