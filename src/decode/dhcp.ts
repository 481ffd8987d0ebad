import { readMac, u16be, u32be } from './bytes.js';
import type { Packet } from './packet.js';

// BOOTP/DHCPv4 (RFC 951, 2131, 2132, 3396) into a reused DhcpMessage. Only
// the fields the DHCP analyzer weighs are kept; addresses stay numbers, and
// variable-length values (client identifier) are kept as offsets into the
// packet buffer, valid during the callback. Every length is checked against
// the UDP payload; a problem marks the packet malformed with a constant reason.

export const BOOTP_SERVER_PORT = 67;
export const BOOTP_CLIENT_PORT = 68;

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;

/** DHCP message types (option 53), RFC 2132 and RFC 4388. */
export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

export const DHCP_MESSAGE_NAMES: readonly string[] = [
  'BOOTP',
  'DISCOVER',
  'OFFER',
  'REQUEST',
  'DECLINE',
  'ACK',
  'NAK',
  'RELEASE',
  'INFORM',
  'FORCERENEW',
  'LEASEQUERY',
  'LEASEUNASSIGNED',
  'LEASEUNKNOWN',
  'LEASEACTIVE',
];

/** Routers and DNS servers kept per message; more are counted, not stored. */
export const DHCP_MAX_ADDRS = 4;
/** Classless static routes kept per message; routeTotal counts all. */
export const DHCP_MAX_ROUTES = 8;

const HTYPE_ETHERNET = 1;
const MAX_HLEN = 16;
/** op .. file: the fixed BOOTP header. */
const BOOTP_FIXED_LEN = 236;
const MAGIC_COOKIE = 0x63825363;
const OPTIONS_START = BOOTP_FIXED_LEN + 4;
const SNAME_OFF = 44;
const SNAME_LEN = 64;
const FILE_OFF = 108;
const FILE_LEN = 128;
const CHADDR_OFF = 28;

const OPT_PAD = 0;
const OPT_SUBNET_MASK = 1;
const OPT_ROUTER = 3;
const OPT_DNS = 6;
const OPT_REQUESTED_IP = 50;
const OPT_LEASE_TIME = 51;
const OPT_OVERLOAD = 52;
const OPT_MESSAGE_TYPE = 53;
const OPT_SERVER_ID = 54;
const OPT_CLIENT_ID = 61;
/** RFC 3442 classless static routes, and Microsoft's earlier code for the same format. */
const OPT_CLASSLESS_ROUTES = 121;
const OPT_MS_CLASSLESS_ROUTES = 249;
/** Web Proxy Auto-Discovery: the URL of a proxy configuration (PAC) file. */
const OPT_WPAD = 252;
const OPT_END = 255;

// Overload (option 52) values: which header fields carry more options.
const OVERLOAD_FILE = 1;
const OVERLOAD_SNAME = 2;

export const DHCP_MALFORMED = {
  truncated: 'BOOTP message shorter than its fixed header',
  badOp: 'BOOTP op code is neither request nor reply',
  hlenTooLong: 'hardware address length over 16 bytes',
  ethernetHlen: 'Ethernet hardware type with an address length other than 6',
  htypeZero: 'hardware type 0 with a nonzero hardware address length',
  badCookie: 'missing or bad DHCP magic cookie',
  optionOverrun: 'DHCP option runs past the end of its field',
  badMessageType: 'DHCP message type option is not one byte',
  badAddressOption: 'DHCP address option length is not a multiple of 4',
  badLeaseTime: 'DHCP lease time option is not four bytes',
  badOverload: 'DHCP option overload is not one byte of value 1 to 3',
  badClientId: 'DHCP client identifier shorter than two bytes',
  badRoute: 'DHCP classless static route with a prefix longer than 32 bits',
} as const;

export class DhcpMessage {
  op = 0;
  htype = 0;
  hlen = 0;
  hops = 0;
  xid = 0;
  flags = 0;
  ciaddr = 0;
  yiaddr = 0;
  siaddr = 0;
  giaddr = 0;
  /** Client hardware address as a 48-bit number when htype is Ethernet with hlen 6, else -1. */
  chaddr = -1;
  /** Offset of chaddr in the packet buffer (hlen bytes). */
  chaddrOff = 0;
  /** Option 53; 0 for plain BOOTP. */
  msgType = 0;
  /** Option 54, or -1. */
  serverId = -1;
  /** Option 50, or -1. */
  requestedIp = -1;
  /** Option 1 when it is a valid mask (contiguous ones), else -1. */
  subnetMask = -1;
  /** Option 51 in seconds, or -1. */
  leaseTime = -1;
  /** Option 3: the first DHCP_MAX_ADDRS routers; routerTotal counts all. */
  readonly routers = new Uint32Array(DHCP_MAX_ADDRS);
  routerCount = 0;
  routerTotal = 0;
  /** Option 6: the first DHCP_MAX_ADDRS DNS servers; dnsTotal counts all. */
  readonly dnsServers = new Uint32Array(DHCP_MAX_ADDRS);
  dnsCount = 0;
  dnsTotal = 0;
  /** Option 61: type byte and the identifier's bytes in the packet buffer; clientIdLen 0 when absent. */
  clientIdType = -1;
  clientIdOff = 0;
  clientIdLen = 0;
  /** Option 52 (0 when absent): the file (1), sname (2) or both (3) fields hold options, already parsed. */
  overload = 0;
  /** Options 121 and 249: destination, prefix length and router of the first DHCP_MAX_ROUTES routes. */
  readonly routeDest = new Uint32Array(DHCP_MAX_ROUTES);
  readonly routeWidth = new Uint8Array(DHCP_MAX_ROUTES);
  readonly routeGateway = new Uint32Array(DHCP_MAX_ROUTES);
  routeCount = 0;
  routeTotal = 0;
  /** Option 252: the PAC file's URL in the packet buffer; wpadLen 0 when absent. */
  wpadOff = 0;
  wpadLen = 0;

  reset(): void {
    this.op = 0;
    this.htype = 0;
    this.hlen = 0;
    this.hops = 0;
    this.xid = 0;
    this.flags = 0;
    this.ciaddr = 0;
    this.yiaddr = 0;
    this.siaddr = 0;
    this.giaddr = 0;
    this.chaddr = -1;
    this.chaddrOff = 0;
    this.msgType = 0;
    this.serverId = -1;
    this.requestedIp = -1;
    this.subnetMask = -1;
    this.leaseTime = -1;
    this.routerCount = 0;
    this.routerTotal = 0;
    this.dnsCount = 0;
    this.dnsTotal = 0;
    this.clientIdType = -1;
    this.clientIdOff = 0;
    this.clientIdLen = 0;
    this.overload = 0;
    this.routeCount = 0;
    this.routeTotal = 0;
    this.wpadOff = 0;
    this.wpadLen = 0;
  }
}

/** True for UDP datagrams between the BOOTP ports (client-server, relay-server and relay-client legs). */
export function isBootpPorts(pkt: Packet): boolean {
  const s = pkt.srcPort;
  const d = pkt.dstPort;
  return (s === BOOTP_SERVER_PORT || s === BOOTP_CLIENT_PORT) && (d === BOOTP_SERVER_PORT || d === BOOTP_CLIENT_PORT);
}

/**
 * Decodes the UDP payload of `pkt` as BOOTP/DHCP into `out`. Returns false
 * (and marks the packet malformed) when the message cannot be trusted.
 */
export function decodeDhcp(pkt: Packet, out: DhcpMessage): boolean {
  out.reset();
  const buf = pkt.buf;
  const base = pkt.payloadStart;
  const end = pkt.payloadEnd;
  if (end - base < BOOTP_FIXED_LEN) return malformed(pkt, DHCP_MALFORMED.truncated);
  out.op = buf[base]!;
  out.htype = buf[base + 1]!;
  out.hlen = buf[base + 2]!;
  out.hops = buf[base + 3]!;
  if (out.op !== BOOTREQUEST && out.op !== BOOTREPLY) return malformed(pkt, DHCP_MALFORMED.badOp);
  if (out.hlen > MAX_HLEN) return malformed(pkt, DHCP_MALFORMED.hlenTooLong);
  if (out.htype === HTYPE_ETHERNET && out.hlen !== 6) return malformed(pkt, DHCP_MALFORMED.ethernetHlen);
  if (out.htype === 0 && out.hlen !== 0) return malformed(pkt, DHCP_MALFORMED.htypeZero);
  out.xid = u32be(buf, base + 4);
  out.flags = u16be(buf, base + 10);
  out.ciaddr = u32be(buf, base + 12);
  out.yiaddr = u32be(buf, base + 16);
  out.siaddr = u32be(buf, base + 20);
  out.giaddr = u32be(buf, base + 24);
  out.chaddrOff = base + CHADDR_OFF;
  if (out.htype === HTYPE_ETHERNET) out.chaddr = readMac(buf, out.chaddrOff);
  if (end - base < OPTIONS_START || u32be(buf, base + BOOTP_FIXED_LEN) !== MAGIC_COOKIE) return malformed(pkt, DHCP_MALFORMED.badCookie);
  // RFC 2131 4.1: options first, then the file field, then sname, when option 52 says so.
  if (!parseOptions(pkt, out, base + OPTIONS_START, end, true)) return false;
  if ((out.overload & OVERLOAD_FILE) !== 0 && !parseOptions(pkt, out, base + FILE_OFF, base + FILE_OFF + FILE_LEN, false)) return false;
  if ((out.overload & OVERLOAD_SNAME) !== 0 && !parseOptions(pkt, out, base + SNAME_OFF, base + SNAME_OFF + SNAME_LEN, false)) return false;
  return true;
}

function malformed(pkt: Packet, reason: string): false {
  return pkt.markMalformed('dhcp', reason);
}

/**
 * RFC 3442: each route is a prefix length, the destination's significant octets and a router.
 * False for a prefix longer than 32 bits. A route cut short ends the list: it may go on in the
 * next instance of a split option (RFC 3396), which is not joined here.
 */
function parseRoutes(buf: Buffer, off: number, end: number, out: DhcpMessage): boolean {
  while (off < end) {
    const width = buf[off]!;
    if (width > 32) return false;
    const octets = (width + 7) >> 3;
    if (off + 1 + octets + 4 > end) return true;
    let dest = 0;
    for (let i = 0; i < 4; i++) dest = dest * 256 + (i < octets ? buf[off + 1 + i]! : 0);
    if (out.routeCount < DHCP_MAX_ROUTES) {
      out.routeDest[out.routeCount] = dest;
      out.routeWidth[out.routeCount] = width;
      out.routeGateway[out.routeCount] = u32be(buf, off + 1 + octets);
      out.routeCount++;
    }
    out.routeTotal++;
    off += 1 + octets + 4;
  }
  return true;
}

/** Options in buf[off, end): stops at End or the field's end. Split options (RFC 3396) accumulate. */
function parseOptions(pkt: Packet, out: DhcpMessage, off: number, end: number, main: boolean): boolean {
  const buf = pkt.buf;
  while (off < end) {
    const code = buf[off]!;
    if (code === OPT_END) return true;
    if (code === OPT_PAD) {
      off++;
      continue;
    }
    if (off + 2 > end) return malformed(pkt, DHCP_MALFORMED.optionOverrun);
    const len = buf[off + 1]!;
    const v = off + 2;
    if (v + len > end) return malformed(pkt, DHCP_MALFORMED.optionOverrun);
    switch (code) {
      case OPT_MESSAGE_TYPE:
        if (len !== 1) return malformed(pkt, DHCP_MALFORMED.badMessageType);
        if (out.msgType === 0) out.msgType = buf[v]!;
        break;
      case OPT_SERVER_ID:
        if (len !== 4) return malformed(pkt, DHCP_MALFORMED.badAddressOption);
        if (out.serverId < 0) out.serverId = u32be(buf, v);
        break;
      case OPT_REQUESTED_IP:
        if (len !== 4) return malformed(pkt, DHCP_MALFORMED.badAddressOption);
        if (out.requestedIp < 0) out.requestedIp = u32be(buf, v);
        break;
      case OPT_SUBNET_MASK: {
        if (len !== 4) return malformed(pkt, DHCP_MALFORMED.badAddressOption);
        const mask = u32be(buf, v);
        // Contiguous ones: inverted, the zeros below them plus one is a power of two.
        const hostBits = ~mask >>> 0;
        if (out.subnetMask < 0 && (hostBits & (hostBits + 1)) === 0) out.subnetMask = mask;
        break;
      }
      case OPT_ROUTER:
      case OPT_DNS: {
        if (len === 0 || len % 4 !== 0) return malformed(pkt, DHCP_MALFORMED.badAddressOption);
        const list = code === OPT_ROUTER ? out.routers : out.dnsServers;
        let n = code === OPT_ROUTER ? out.routerCount : out.dnsCount;
        for (let i = 0; i < len && n < DHCP_MAX_ADDRS; i += 4) list[n++] = u32be(buf, v + i);
        if (code === OPT_ROUTER) {
          out.routerCount = n;
          out.routerTotal += len / 4;
        } else {
          out.dnsCount = n;
          out.dnsTotal += len / 4;
        }
        break;
      }
      case OPT_LEASE_TIME:
        if (len !== 4) return malformed(pkt, DHCP_MALFORMED.badLeaseTime);
        out.leaseTime = u32be(buf, v);
        break;
      case OPT_OVERLOAD:
        // Only meaningful in the options field itself; an overloaded field cannot overload again.
        if (len !== 1 || buf[v]! < 1 || buf[v]! > 3) return malformed(pkt, DHCP_MALFORMED.badOverload);
        if (main) out.overload = buf[v]!;
        break;
      case OPT_CLASSLESS_ROUTES:
      case OPT_MS_CLASSLESS_ROUTES:
        if (!parseRoutes(buf, v, v + len, out)) return malformed(pkt, DHCP_MALFORMED.badRoute);
        break;
      case OPT_WPAD:
        if (out.wpadLen === 0) {
          out.wpadOff = v;
          out.wpadLen = len;
        }
        break;
      case OPT_CLIENT_ID:
        if (len < 2) return malformed(pkt, DHCP_MALFORMED.badClientId);
        if (out.clientIdLen === 0) {
          out.clientIdType = buf[v]!;
          out.clientIdOff = v + 1;
          out.clientIdLen = len - 1;
        }
        break;
      default:
        break;
    }
    off = v + len;
  }
  return true;
}
