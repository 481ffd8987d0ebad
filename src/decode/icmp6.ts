import { readMac, u16be, u32be } from './bytes.js';
import type { Packet } from './packet.js';

// ICMPv6 Router Advertisements, Neighbor Solicitations and Advertisements,
// and Redirects (RFC 4861, options from RFC 4191, 8106) and ICMPv4 Redirects (RFC 792), into reused objects that hold numbers
// and offsets into Packet.buf. Every option length is checked against the
// message; at most MAX_ND_OPTIONS options are read.

export const ICMP6_ROUTER_ADVERT = 134;
export const ICMP6_NEIGHBOR_SOLICIT = 135;
export const ICMP6_NEIGHBOR_ADVERT = 136;
export const ICMP6_REDIRECT = 137;
export const ICMP4_REDIRECT = 5;

export const ND_OPT_SOURCE_LLADDR = 1;
export const ND_OPT_TARGET_LLADDR = 2;
export const ND_OPT_PREFIX_INFO = 3;
export const ND_OPT_REDIRECTED_HEADER = 4;
export const ND_OPT_MTU = 5;
export const ND_OPT_ROUTE_INFO = 24;
export const ND_OPT_RDNSS = 25;
export const ND_OPT_DNSSL = 31;

export const MAX_ND_OPTIONS = 64;
/** Prefixes, DNS servers and routes kept per message; further ones are counted, not kept. */
export const MAX_RA_PREFIXES = 16;
export const MAX_RA_DNS = 16;
export const MAX_RA_ROUTES = 16;

const RA_FIXED_LEN = 16;
const NEIGHBOR_FIXED_LEN = 24;
const REDIRECT_FIXED_LEN = 40;
const ICMP4_REDIRECT_MIN_LEN = 8 + 20;

const LAYER6 = 'icmpv6';
const LAYER4 = 'icmp';

// Constant reasons: setting one allocates nothing.
const TRUNCATED_RA = 'router advertisement shorter than 16 bytes';
const TRUNCATED_NEIGHBOR = 'neighbor solicitation or advertisement shorter than 24 bytes';
const TRUNCATED_REDIRECT = 'ICMPv6 redirect shorter than 40 bytes';
const OPTION_ZERO_LENGTH = 'ND option with length 0';
const OPTION_PAST_END = 'ND option runs past the end of the message';
const TOO_MANY_OPTIONS = 'more than 64 ND options';
const BAD_PREFIX_OPTION = 'prefix information option is not 32 bytes';
const BAD_PREFIX_LENGTH = 'prefix length above 128';
const BAD_MTU_OPTION = 'MTU option is not 8 bytes';
const BAD_RDNSS_OPTION = 'RDNSS option length is not 8 + 16n bytes';
const BAD_DNSSL_OPTION = 'DNSSL option shorter than 16 bytes';
const BAD_ROUTE_OPTION = 'route information option too short for its prefix length';
const TRUNCATED_REDIRECT4 = 'ICMP redirect shorter than its header and the original IPv4 header';
const BAD_REDIRECT4_CODE = 'ICMP redirect code above 3';
const BAD_REDIRECT4_INNER = 'ICMP redirect does not carry an IPv4 header';

/** Receives each ND option; returns a malformed reason or null. */
interface NdOptionSink {
  option(buf: Buffer, type: number, off: number, len: number): string | null;
}


/** Walks the options in buf[off, end). Returns false (and marks the packet) when they are malformed. */
function readNdOptions(pkt: Packet, off: number, end: number, sink: NdOptionSink): boolean {
  const buf = pkt.buf;
  for (let n = 0; off < end; n++) {
    if (n === MAX_ND_OPTIONS) return pkt.markMalformed(LAYER6, TOO_MANY_OPTIONS);
    if (end - off < 2) return pkt.markMalformed(LAYER6, OPTION_PAST_END);
    const len = buf[off + 1]! * 8;
    if (len === 0) return pkt.markMalformed(LAYER6, OPTION_ZERO_LENGTH);
    if (end - off < len) return pkt.markMalformed(LAYER6, OPTION_PAST_END);
    const problem = sink.option(buf, buf[off]!, off, len);
    if (problem !== null) return pkt.markMalformed(LAYER6, problem);
    off += len;
  }
  return true;
}


export class RouterAdvert implements NdOptionSink {
  curHopLimit = 0;
  managed = false;
  other = false;
  /** Default router preference (RFC 4191): 1 high, 0 medium, -1 low (the reserved value reads as medium). */
  preference = 0;
  /** Router lifetime in seconds; 0: not a default router. */
  lifetime = 0;
  reachableMs = 0;
  retransMs = 0;
  /** Source link-layer address option (Ethernet), or -1. */
  sourceMac = -1;
  mtu = -1;
  prefixCount = 0;
  /** Prefix options beyond MAX_RA_PREFIXES, counted only. */
  prefixesDropped = 0;
  readonly prefixOff = new Int32Array(MAX_RA_PREFIXES);
  readonly prefixLength = new Uint8Array(MAX_RA_PREFIXES);
  readonly prefixFlags = new Uint8Array(MAX_RA_PREFIXES);
  readonly prefixValid = new Uint32Array(MAX_RA_PREFIXES);
  readonly prefixPreferred = new Uint32Array(MAX_RA_PREFIXES);
  dnsCount = 0;
  dnsDropped = 0;
  readonly dnsOff = new Int32Array(MAX_RA_DNS);
  readonly dnsLifetime = new Uint32Array(MAX_RA_DNS);
  /** First DNSSL option: its encoded names in buf[dnsslOff, dnsslEnd), or -1. */
  dnsslOff = -1;
  dnsslEnd = -1;
  dnsslLifetime = 0;
  routeCount = 0;
  readonly routeOff = new Int32Array(MAX_RA_ROUTES);
  /** Bytes of prefix present in the option (0, 8 or 16); the rest is zero. */
  readonly routeBytes = new Uint8Array(MAX_RA_ROUTES);
  readonly routeLength = new Uint8Array(MAX_RA_ROUTES);
  readonly routeLifetime = new Uint32Array(MAX_RA_ROUTES);

  reset(): void {
    this.sourceMac = -1;
    this.mtu = -1;
    this.prefixCount = 0;
    this.prefixesDropped = 0;
    this.dnsCount = 0;
    this.dnsDropped = 0;
    this.dnsslOff = -1;
    this.dnsslEnd = -1;
    this.dnsslLifetime = 0;
    this.routeCount = 0;
  }

  option(buf: Buffer, type: number, off: number, len: number): string | null {
    switch (type) {
      case ND_OPT_SOURCE_LLADDR:
        // Ethernet addresses take one 8-byte unit; other links' are not read.
        if (len === 8) this.sourceMac = readMac(buf, off + 2);
        return null;
      case ND_OPT_PREFIX_INFO: {
        if (len !== 32) return BAD_PREFIX_OPTION;
        const bits = buf[off + 2]!;
        if (bits > 128) return BAD_PREFIX_LENGTH;
        if (this.prefixCount === MAX_RA_PREFIXES) {
          this.prefixesDropped++;
          return null;
        }
        const i = this.prefixCount++;
        this.prefixLength[i] = bits;
        this.prefixFlags[i] = buf[off + 3]!;
        this.prefixValid[i] = u32be(buf, off + 4);
        this.prefixPreferred[i] = u32be(buf, off + 8);
        this.prefixOff[i] = off + 16;
        return null;
      }
      case ND_OPT_MTU:
        if (len !== 8) return BAD_MTU_OPTION;
        this.mtu = u32be(buf, off + 4);
        return null;
      case ND_OPT_RDNSS: {
        if (len < 24 || (len - 8) % 16 !== 0) return BAD_RDNSS_OPTION;
        const lifetime = u32be(buf, off + 4);
        for (let a = off + 8; a < off + len; a += 16) {
          if (this.dnsCount === MAX_RA_DNS) {
            this.dnsDropped++;
            continue;
          }
          this.dnsLifetime[this.dnsCount] = lifetime;
          this.dnsOff[this.dnsCount++] = a;
        }
        return null;
      }
      case ND_OPT_DNSSL:
        if (len < 16) return BAD_DNSSL_OPTION;
        if (this.dnsslOff < 0) {
          this.dnsslLifetime = u32be(buf, off + 4);
          this.dnsslOff = off + 8;
          this.dnsslEnd = off + len;
        }
        return null;
      case ND_OPT_ROUTE_INFO: {
        const bits = buf[off + 2]!;
        if (bits > 128) return BAD_PREFIX_LENGTH;
        // Length 1, 2 or 3 units: 0, 8 or 16 bytes of prefix (RFC 4191 2.3).
        const bytes = Math.min(16, len - 8);
        if (len > 24 || (bits > 64 && len < 24) || (bits > 0 && len < 16)) return BAD_ROUTE_OPTION;
        if (this.routeCount < MAX_RA_ROUTES) {
          const i = this.routeCount++;
          this.routeLength[i] = bits;
          this.routeBytes[i] = bytes;
          this.routeLifetime[i] = u32be(buf, off + 4);
          this.routeOff[i] = off + 8;
        }
        return null;
      }
      default:
        return null;
    }
  }
}

/** Decodes the Router Advertisement at pkt.l4Start (type already checked). False when malformed. */
export function decodeRouterAdvert(pkt: Packet, ra: RouterAdvert): boolean {
  const buf = pkt.buf;
  const off = pkt.l4Start;
  const end = pkt.l3End;
  ra.reset();
  if (end - off < RA_FIXED_LEN) return pkt.markMalformed(LAYER6, TRUNCATED_RA);
  ra.curHopLimit = buf[off + 4]!;
  const flags = buf[off + 5]!;
  ra.managed = (flags & 0x80) !== 0;
  ra.other = (flags & 0x40) !== 0;
  const prf = (flags >> 3) & 3;
  ra.preference = prf === 1 ? 1 : prf === 3 ? -1 : 0;
  ra.lifetime = u16be(buf, off + 6);
  ra.reachableMs = u32be(buf, off + 8);
  ra.retransMs = u32be(buf, off + 12);
  return readNdOptions(pkt, off + RA_FIXED_LEN, end, ra);
}

/** A Neighbor Solicitation (135) or Advertisement (136). */
export class NeighborMessage implements NdOptionSink {
  type = 0;
  /** Offset of the target address in Packet.buf. */
  targetOff = 0;
  /** Advertisement flags (RFC 4861 4.4): sender is a router, solicited, override. */
  router = false;
  solicited = false;
  override = false;
  /** Source / target link-layer address options (Ethernet), or -1. */
  sourceMac = -1;
  targetMac = -1;

  option(buf: Buffer, type: number, off: number, len: number): string | null {
    // Ethernet addresses take one 8-byte unit; other links' are not read.
    if (len !== 8) return null;
    if (type === ND_OPT_SOURCE_LLADDR) this.sourceMac = readMac(buf, off + 2);
    else if (type === ND_OPT_TARGET_LLADDR) this.targetMac = readMac(buf, off + 2);
    return null;
  }
}

/** Decodes the Neighbor Solicitation or Advertisement at pkt.l4Start (type already checked). False when malformed. */
export function decodeNeighborMessage(pkt: Packet, n: NeighborMessage): boolean {
  const buf = pkt.buf;
  const off = pkt.l4Start;
  n.sourceMac = -1;
  n.targetMac = -1;
  if (pkt.l3End - off < NEIGHBOR_FIXED_LEN) return pkt.markMalformed(LAYER6, TRUNCATED_NEIGHBOR);
  n.type = buf[off]!;
  const flags = n.type === ICMP6_NEIGHBOR_ADVERT ? buf[off + 4]! : 0;
  n.router = (flags & 0x80) !== 0;
  n.solicited = (flags & 0x40) !== 0;
  n.override = (flags & 0x20) !== 0;
  n.targetOff = off + 8;
  return readNdOptions(pkt, off + NEIGHBOR_FIXED_LEN, pkt.l3End, n);
}

export class NdRedirect implements NdOptionSink {
  /** Offsets of the target (the better first hop) and destination addresses. */
  targetOff = 0;
  destinationOff = 0;
  /** Target link-layer address option (Ethernet), or -1. */
  targetMac = -1;
  hasRedirectedHeader = false;

  option(buf: Buffer, type: number, off: number, len: number): string | null {
    if (type === ND_OPT_TARGET_LLADDR && len === 8) this.targetMac = readMac(buf, off + 2);
    else if (type === ND_OPT_REDIRECTED_HEADER) this.hasRedirectedHeader = true;
    return null;
  }
}

/** Decodes the ICMPv6 Redirect at pkt.l4Start (type already checked). False when malformed. */
export function decodeNdRedirect(pkt: Packet, r: NdRedirect): boolean {
  const off = pkt.l4Start;
  r.targetMac = -1;
  r.hasRedirectedHeader = false;
  if (pkt.l3End - off < REDIRECT_FIXED_LEN) return pkt.markMalformed(LAYER6, TRUNCATED_REDIRECT);
  r.targetOff = off + 8;
  r.destinationOff = off + 24;
  return readNdOptions(pkt, off + REDIRECT_FIXED_LEN, pkt.l3End, r);
}

export class Icmp4Redirect {
  /** 0 network, 1 host, 2 type-of-service and network, 3 type-of-service and host. */
  code = 0;
  gateway = 0;
  /** From the original datagram's header the redirect quotes. */
  originalSrc = 0;
  originalDst = 0;
  originalProto = 0;
}

/** Decodes the ICMPv4 Redirect at pkt.l4Start (type already checked). False when malformed. */
export function decodeIcmp4Redirect(pkt: Packet, r: Icmp4Redirect): boolean {
  const buf = pkt.buf;
  const off = pkt.l4Start;
  if (pkt.l3End - off < ICMP4_REDIRECT_MIN_LEN) return pkt.markMalformed(LAYER4, TRUNCATED_REDIRECT4);
  const code = buf[off + 1]!;
  if (code > 3) return pkt.markMalformed(LAYER4, BAD_REDIRECT4_CODE);
  const inner = off + 8;
  if (buf[inner]! >> 4 !== 4 || (buf[inner]! & 0x0f) < 5) return pkt.markMalformed(LAYER4, BAD_REDIRECT4_INNER);
  r.code = code;
  r.gateway = u32be(buf, off + 4);
  r.originalProto = buf[inner + 9]!;
  r.originalSrc = u32be(buf, inner + 12);
  r.originalDst = u32be(buf, inner + 16);
  return true;
}
