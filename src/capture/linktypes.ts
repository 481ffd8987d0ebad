// LINKTYPE_* values (tcpdump.org/linktypes.html) the decoder understands.
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_PPP = 9;
export const LINKTYPE_PPP_HDLC = 50;
export const LINKTYPE_PPP_ETHER = 51;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_C_HDLC = 104;
export const LINKTYPE_FRELAY = 107;
export const LINKTYPE_PFLOG = 117;
export const LINKTYPE_PPP_WITH_DIR = 204;
export const LINKTYPE_C_HDLC_WITH_DIR = 205;
export const LINKTYPE_IPNET = 226;
export const LINKTYPE_NFLOG = 239;
export const LINKTYPE_IPOIB = 242;
export const LINKTYPE_PKTAP = 258;
export const LINKTYPE_IEEE802_11 = 105;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_IEEE802_11_PRISM = 119;
export const LINKTYPE_IEEE802_11_RADIOTAP = 127;
export const LINKTYPE_IEEE802_11_AVS = 163;
export const LINKTYPE_PPI = 192;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
/** Some BSDs write their DLT_RAW values (12, 14) into pcap headers. */
export const DLT_RAW_BSD_A = 12;
export const DLT_RAW_BSD_B = 14;

/** Monitor-mode Wi-Fi: 802.11 bare or behind a radio header. */
export function isWlanLinktype(linktype: number): boolean {
  return (
    linktype === LINKTYPE_IEEE802_11 ||
    linktype === LINKTYPE_IEEE802_11_RADIOTAP ||
    linktype === LINKTYPE_IEEE802_11_PRISM ||
    linktype === LINKTYPE_IEEE802_11_AVS ||
    linktype === LINKTYPE_PPI
  );
}
