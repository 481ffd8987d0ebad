import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

// Monitor-mode Wi-Fi captures made from Ethernet ones by scapy
// (ethernet-to-wifi.py), so that real traffic can be replayed as 802.11.

export const WIFI_FRAMINGS = ['radiotap', 'radiotap-fcs', 'ppi', 'prism', 'avs', 'bare', 'amsdu'] as const;
export type WifiFraming = (typeof WIFI_FRAMINGS)[number];

const CONVERTER = fileURLToPath(new URL('../../../test/helpers/ethernet-to-wifi.py', import.meta.url));

/** Debian's python3 with scapy (python3-scapy installs for it, not for other pythons on the PATH), or null. */
export function scapyPython(): string | null {
  return ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import scapy.all'], { encoding: 'utf8' }).status === 0) ?? null;
}

/** Writes DIR/<framing>.pcap for each framing; a capture with VLAN tags has no Wi-Fi equivalent. */
export function toWifi(python: string, ethernetPcap: string, dir: string, framings: readonly WifiFraming[]): { paths: Record<string, string> } | { notApplicable: string } {
  const r = spawnSync(python, [CONVERTER, ethernetPcap, dir, ...framings], { encoding: 'utf8', timeout: 300_000 });
  if (r.status === 3) return { notApplicable: `${r.stderr.trim()} (802.1Q tags are not carried over 802.11)` };
  if (r.status !== 0) throw new Error(`ethernet-to-wifi.py failed (${r.status ?? r.signal}): ${r.stderr}`);
  return { paths: Object.fromEntries(framings.map((f) => [f, join(dir, `${f}.pcap`)])) };
}
