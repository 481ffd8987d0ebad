import { reframe } from './reframe.js';

// Monitor-mode Wi-Fi captures made from Ethernet ones by scapy
// (ethernet-to-wifi.py), so that real traffic can be replayed as 802.11.

export { scapyPython } from './reframe.js';

export const WIFI_FRAMINGS = ['radiotap', 'radiotap-fcs', 'ppi', 'prism', 'avs', 'bare', 'amsdu'] as const;
export type WifiFraming = (typeof WIFI_FRAMINGS)[number];

/** Writes DIR/<framing>.pcap for each framing; a capture with VLAN tags has no Wi-Fi equivalent. */
export function toWifi(python: string, ethernetPcap: string, dir: string, framings: readonly WifiFraming[]): { paths: Record<string, string> } | { notApplicable: string } {
  const r = reframe('ethernet-to-wifi.py', python, ethernetPcap, dir, framings);
  return 'notApplicable' in r ? { notApplicable: `${r.notApplicable} (802.1Q tags are not carried over 802.11)` } : r;
}
