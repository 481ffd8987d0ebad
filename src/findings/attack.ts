// Names of the ATT&CK techniques and tactics sniffwatch reports, for people.
export const TECHNIQUE_NAMES: Record<string, string> = {
  T1040: 'Network Sniffing',
  'T1020.001': 'Automated Exfiltration: Traffic Duplication',
  T1557: 'Adversary-in-the-Middle',
  'T1557.001': 'Adversary-in-the-Middle: LLMNR/NBT-NS Poisoning and SMB Relay',
  'T1557.002': 'Adversary-in-the-Middle: ARP Cache Poisoning',
  'T1557.003': 'Adversary-in-the-Middle: DHCP Spoofing',
  'T1557.004': 'Adversary-in-the-Middle: Evil Twin',
  T1539: 'Steal Web Session Cookie',
};

export const TACTIC_NAMES: Record<string, string> = {
  TA0006: 'Credential Access',
  TA0007: 'Discovery',
  TA0009: 'Collection',
  TA0010: 'Exfiltration',
};
