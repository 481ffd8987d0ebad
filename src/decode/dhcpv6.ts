import { readMac, u16be, u32be } from './bytes.js';
import type { Packet } from './packet.js';

// DHCPv6 (RFC 8415) on UDP 546/547, into a reused Dhcp6Message holding
// numbers and offsets into Packet.buf. Relay messages are unwrapped (at most
// HOP_COUNT_LIMIT deep) to the message they carry; at most MAX_DHCP6_OPTIONS
// options are read in all.

export const DHCP6_CLIENT_PORT = 546;
export const DHCP6_SERVER_PORT = 547;

export const DHCP6_SOLICIT = 1;
export const DHCP6_ADVERTISE = 2;
export const DHCP6_REQUEST = 3;
export const DHCP6_REPLY = 7;
export const DHCP6_RECONFIGURE = 10;
export const DHCP6_RELAY_FORW = 12;
export const DHCP6_RELAY_REPL = 13;

export const DHCP6_OPT_CLIENTID = 1;
export const DHCP6_OPT_SERVERID = 2;
export const DHCP6_OPT_IA_NA = 3;
export const DHCP6_OPT_IAADDR = 5;
export const DHCP6_OPT_PREFERENCE = 7;
export const DHCP6_OPT_RELAY_MSG = 9;
export const DHCP6_OPT_DNS_SERVERS = 23;
export const DHCP6_OPT_DOMAIN_LIST = 24;

export const MAX_DHCP6_OPTIONS = 64;
export const MAX_DHCP6_ADDRESSES = 8;
export const MAX_DHCP6_DNS = 8;
/** RFC 8415 section 7.6. */
const HOP_COUNT_LIMIT = 8;
/** A DUID is 2 to 130 bytes (type plus at most 128). */
const MAX_DUID_LEN = 130;
const DUID_LLT = 1;
const DUID_LL = 3;
const HWTYPE_ETHERNET = 1;

const LAYER = 'dhcpv6';
const TRUNCATED = 'DHCPv6 message shorter than its header';
const OPTION_PAST_END = 'DHCPv6 option runs past the end of the message';
const TOO_MANY_OPTIONS = 'more than 64 DHCPv6 options';
const RELAY_TOO_DEEP = 'DHCPv6 relay messages nested deeper than 8';
const RELAY_WITHOUT_MESSAGE = 'DHCPv6 relay message without a relayed message';
const BAD_DUID = 'DHCPv6 DUID shorter than 2 or longer than 130 bytes';
const BAD_IA_NA = 'DHCPv6 IA_NA option shorter than 12 bytes';
const BAD_IAADDR = 'DHCPv6 IA address option shorter than 24 bytes';
const BAD_PREFERENCE = 'DHCPv6 preference option is not 1 byte';
const BAD_DNS_SERVERS = 'DHCPv6 DNS server option length is not a multiple of 16';

export class Dhcp6Message {
  /** The type of the innermost message (relay wrappers removed). */
  msgType = 0;
  transactionId = 0;
  /** Relay wrappers around it, and the outermost message's type. */
  relayDepth = 0;
  outerType = 0;
  clientIdOff = -1;
  clientIdLen = 0;
  serverIdOff = -1;
  serverIdLen = 0;
  /** Ethernet address inside a DUID-LL/DUID-LLT server identifier, or -1. */
  serverDuidMac = -1;
  serverDuidType = -1;
  /** Server preference (0-255), or -1 when absent. */
  preference = -1;
  iaCount = 0;
  /** T1/T2 of the first IA_NA, in seconds (-1 when there is none). */
  iaT1 = -1;
  iaT2 = -1;
  addrCount = 0;
  readonly addrOff = new Int32Array(MAX_DHCP6_ADDRESSES);
  readonly addrPreferred = new Uint32Array(MAX_DHCP6_ADDRESSES);
  readonly addrValid = new Uint32Array(MAX_DHCP6_ADDRESSES);
  dnsCount = 0;
  readonly dnsOff = new Int32Array(MAX_DHCP6_DNS);
  /** Domain search list (encoded names) in buf[domainOff, domainEnd), or -1. */
  domainOff = -1;
  domainEnd = -1;
  private options = 0;

  reset(): void {
    this.msgType = 0;
    this.transactionId = 0;
    this.relayDepth = 0;
    this.outerType = 0;
    this.clientIdOff = -1;
    this.clientIdLen = 0;
    this.serverIdOff = -1;
    this.serverIdLen = 0;
    this.serverDuidMac = -1;
    this.serverDuidType = -1;
    this.preference = -1;
    this.iaCount = 0;
    this.iaT1 = -1;
    this.iaT2 = -1;
    this.addrCount = 0;
    this.dnsCount = 0;
    this.domainOff = -1;
    this.domainEnd = -1;
    this.options = 0;
  }

  /** Counts one option against the bound; false when the bound is exceeded. */
  countOption(): boolean {
    return ++this.options <= MAX_DHCP6_OPTIONS;
  }
}

/** Whether a UDP datagram is on a DHCPv6 port. */
export function isDhcp6Ports(srcPort: number, dstPort: number): boolean {
  return srcPort === DHCP6_SERVER_PORT || dstPort === DHCP6_SERVER_PORT || srcPort === DHCP6_CLIENT_PORT || dstPort === DHCP6_CLIENT_PORT;
}

/** Decodes the UDP payload of pkt as DHCPv6. False (and the packet marked) when malformed. */
export function decodeDhcp6(pkt: Packet, m: Dhcp6Message): boolean {
  const buf = pkt.buf;
  m.reset();
  let off = pkt.payloadStart;
  let end = pkt.payloadEnd;
  if (end - off < 4) return malformed(pkt, TRUNCATED);
  m.outerType = buf[off]!;
  // Unwrap relay messages down to the client/server message they carry.
  while (buf[off] === DHCP6_RELAY_FORW || buf[off] === DHCP6_RELAY_REPL) {
    if (m.relayDepth === HOP_COUNT_LIMIT) return malformed(pkt, RELAY_TOO_DEEP);
    if (end - off < 34) return malformed(pkt, TRUNCATED);
    m.relayDepth++;
    let inner = -1;
    let innerEnd = -1;
    for (let o = off + 34; o < end; ) {
      if (!m.countOption()) return malformed(pkt, TOO_MANY_OPTIONS);
      if (end - o < 4) return malformed(pkt, OPTION_PAST_END);
      const code = u16be(buf, o);
      const len = u16be(buf, o + 2);
      if (end - o - 4 < len) return malformed(pkt, OPTION_PAST_END);
      if (code === DHCP6_OPT_RELAY_MSG && inner < 0) {
        inner = o + 4;
        innerEnd = o + 4 + len;
      }
      o += 4 + len;
    }
    if (inner < 0) return malformed(pkt, RELAY_WITHOUT_MESSAGE);
    off = inner;
    end = innerEnd;
    if (end - off < 4) return malformed(pkt, TRUNCATED);
  }
  m.msgType = buf[off]!;
  m.transactionId = buf.readUIntBE(off + 1, 3);
  return readOptions(pkt, m, off + 4, end, false);
}

/** Reads options in buf[off, end); inside an IA_NA only IA addresses matter. */
function readOptions(pkt: Packet, m: Dhcp6Message, off: number, end: number, insideIa: boolean): boolean {
  const buf = pkt.buf;
  while (off < end) {
    if (!m.countOption()) return malformed(pkt, TOO_MANY_OPTIONS);
    if (end - off < 4) return malformed(pkt, OPTION_PAST_END);
    const code = u16be(buf, off);
    const len = u16be(buf, off + 2);
    const data = off + 4;
    if (end - data < len) return malformed(pkt, OPTION_PAST_END);
    off = data + len;
    if (insideIa) {
      if (code !== DHCP6_OPT_IAADDR) continue;
      if (len < 24) return malformed(pkt, BAD_IAADDR);
      if (m.addrCount < MAX_DHCP6_ADDRESSES) {
        const i = m.addrCount++;
        m.addrOff[i] = data;
        m.addrPreferred[i] = u32be(buf, data + 16);
        m.addrValid[i] = u32be(buf, data + 20);
      }
      continue;
    }
    switch (code) {
      case DHCP6_OPT_CLIENTID:
        if (len < 2 || len > MAX_DUID_LEN) return malformed(pkt, BAD_DUID);
        m.clientIdOff = data;
        m.clientIdLen = len;
        break;
      case DHCP6_OPT_SERVERID:
        if (len < 2 || len > MAX_DUID_LEN) return malformed(pkt, BAD_DUID);
        m.serverIdOff = data;
        m.serverIdLen = len;
        readDuidMac(buf, data, len, m);
        break;
      case DHCP6_OPT_IA_NA:
        if (len < 12) return malformed(pkt, BAD_IA_NA);
        if (m.iaCount++ === 0) {
          m.iaT1 = u32be(buf, data + 4);
          m.iaT2 = u32be(buf, data + 8);
        }
        // IA_NA options do not nest further than IA addresses, so one level of recursion.
        if (!readOptions(pkt, m, data + 12, data + len, true)) return false;
        break;
      case DHCP6_OPT_PREFERENCE:
        if (len !== 1) return malformed(pkt, BAD_PREFERENCE);
        m.preference = buf[data]!;
        break;
      case DHCP6_OPT_DNS_SERVERS:
        if (len % 16 !== 0) return malformed(pkt, BAD_DNS_SERVERS);
        for (let a = data; a < data + len && m.dnsCount < MAX_DHCP6_DNS; a += 16) m.dnsOff[m.dnsCount++] = a;
        break;
      case DHCP6_OPT_DOMAIN_LIST:
        if (m.domainOff < 0) {
          m.domainOff = data;
          m.domainEnd = data + len;
        }
        break;
      default:
        break;
    }
  }
  return true;
}

function readDuidMac(buf: Buffer, off: number, len: number, m: Dhcp6Message): void {
  const type = u16be(buf, off);
  m.serverDuidType = type;
  const macAt = type === DUID_LLT ? off + 8 : type === DUID_LL ? off + 4 : -1;
  if (macAt < 0 || off + len - macAt !== 6 || u16be(buf, off + 2) !== HWTYPE_ETHERNET) return;
  m.serverDuidMac = readMac(buf, macAt);
}

function malformed(pkt: Packet, reason: string): false {
  pkt.markMalformed(LAYER, reason);
  return false;
}

/**
 * The DNS names encoded (RFC 1035, no compression) in buf[off, end), joined
 * with ", ", for findings: at most `maxChars` characters, never throws.
 */
export function dnsNamesToText(buf: Buffer, off: number, end: number, maxChars = 256): string {
  let out = '';
  let label = 0;
  while (off < end && out.length < maxChars) {
    const len = buf[off]!;
    off++;
    if (len === 0) {
      if (label > 0) out += ', ';
      label = 0;
      continue;
    }
    if (len > 63 || off + len > end) break;
    out += (label > 0 ? '.' : '') + buf.toString('latin1', off, off + len);
    label++;
    off += len;
  }
  if (out.endsWith(', ')) out = out.slice(0, -2);
  return out.length > maxChars ? out.slice(0, maxChars) : out;
}
