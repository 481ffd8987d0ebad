import { ip4ToString, ip6ToString } from './addr.js';
import { u16be, u32be } from './bytes.js';
import type { Packet } from './packet.js';

// First-hop redundancy protocols: Cisco HSRP version 1 (RFC 2281) and version 2
// (UDP 1985, IPv6 on UDP 2029), and VRRP versions 2 and 3 (RFC 3768, RFC 5798;
// IP protocol 112), decoded into one reused FhrpMessage. Only what says who
// claims the gateway role is read: group, state, priority, timers, the
// virtual address and the authentication data. HSRPv1 interface-state
// advertisements and CARP (which shares protocol 112) carry no group claim and
// are passed over; a message too short for what it announces is malformed.

export const HSRP_PORT = 1985;
export const HSRP6_PORT = 2029;
export const IPPROTO_VRRP = 112;

export const enum FhrpProto {
  Hsrp = 1,
  Vrrp = 2,
}

/** What the message says about its sender's role in the group. */
export const enum FhrpRole {
  /** Listening, speaking or standing by: a candidate, not the gateway. */
  Candidate = 0,
  /** Forwards for the virtual address: HSRP Active, a VRRP master's advertisement. */
  Active = 1,
  /** HSRP coup: takes the active role from a lower-priority active router. */
  Coup = 2,
  /** Gives the role up: HSRP resign, VRRP priority 0. */
  Resign = 3,
}

export const enum FhrpAuth {
  None = 0,
  /** A cleartext key (HSRP authentication data, VRRPv2 simple text password). */
  Text = 1,
  /** A keyed digest (HSRP MD5, VRRPv2 IP authentication header): no secret on the wire. */
  Digest = 2,
}

/** The key an HSRP router sends when no authentication is configured. */
export const HSRP_DEFAULT_KEY = 'cisco';

const HSRP1_LEN = 20;
const HSRP1_OP_ADVERTISE = 3;
const HSRP_OP_COUP = 1;
const HSRP_OP_RESIGN = 2;
const HSRP1_ACTIVE = 16;
const HSRP2_ACTIVE = 6;
const HSRP2_TLV_GROUP_STATE = 1;
const HSRP2_TLV_TEXT_AUTH = 3;
const HSRP2_TLV_MD5_AUTH = 4;
const HSRP2_GROUP_STATE_LEN = 40;
const HSRP_AUTH_LEN = 8;
const VRRP_TYPE_ADVERTISEMENT = 1;
const VRRP2_AUTH_TEXT = 1;
const VRRP2_AUTH_AH = 2;
const VRRP_AUTH_LEN = 8;
/** CARP: version 2, type 1, authlen 7, 36 bytes (OpenBSD's VRRP look-alike). */
const CARP_LEN = 36;
const CARP_AUTHLEN = 7;

const TRUNCATED_HSRP = 'HSRP message shorter than its fixed fields';
const BAD_HSRP_TLV = 'HSRPv2 TLV runs past the end of the message';
const BAD_HSRP2_GROUP_STATE = 'HSRPv2 group state TLV of a length other than 40';
const TRUNCATED_VRRP = 'VRRP advertisement shorter than its address count announces';
const BAD_VRRP_VERSION = 'VRRP version other than 2 or 3';

export class FhrpMessage {
  proto: FhrpProto = FhrpProto.Hsrp;
  version = 0;
  /** HSRP group or VRRP virtual router id. */
  group = 0;
  role: FhrpRole = FhrpRole.Candidate;
  /** Raw HSRP state or opcode, for evidence text. */
  state = 0;
  opcode = 0;
  priority = 0;
  /** How long the sender's claim holds without another message (HSRP hold time, 3 VRRP intervals). */
  holdMs = 0;
  /** Virtual addresses: 4 or 16 bytes each in pkt.buf from vipOff; vipCount 0 when none is carried. */
  vipFamily = 4;
  vipOff = -1;
  vipCount = 0;
  /** HSRPv2's sender identifier (a MAC), -1 in other messages. */
  identifier = -1;
  auth: FhrpAuth = FhrpAuth.None;
  /** Cleartext key in pkt.buf (NUL padding removed). */
  authOff = 0;
  authLen = 0;

  reset(proto: FhrpProto): void {
    this.proto = proto;
    this.version = 0;
    this.group = 0;
    this.role = FhrpRole.Candidate;
    this.state = 0;
    this.opcode = 0;
    this.priority = 0;
    this.holdMs = 0;
    this.vipFamily = 4;
    this.vipOff = -1;
    this.vipCount = 0;
    this.identifier = -1;
    this.auth = FhrpAuth.None;
    this.authOff = 0;
    this.authLen = 0;
  }
}

/** Whether a UDP datagram's ports are HSRP's: routers send from and to the same port, so a client that happens to use 1985 as its own port is not read as HSRP. */
export function isHsrpPorts(srcPort: number, dstPort: number): boolean {
  return srcPort === dstPort && (dstPort === HSRP_PORT || dstPort === HSRP6_PORT);
}

/** Decodes the HSRP message in a UDP datagram; false when it holds no group claim (or is malformed: then marked). */
export function decodeHsrp(pkt: Packet, msg: FhrpMessage): boolean {
  msg.reset(FhrpProto.Hsrp);
  const buf = pkt.buf;
  const start = pkt.payloadStart;
  const end = pkt.payloadEnd;
  if (end - start < 2) return pkt.markMalformed('hsrp', TRUNCATED_HSRP);
  // Version 1 starts with its version byte (0); version 2 with a TLV type.
  return buf[start] === 0 ? decodeHsrp1(pkt, msg, start, end) : decodeHsrp2(pkt, msg, start, end);
}

function decodeHsrp1(pkt: Packet, msg: FhrpMessage, start: number, end: number): boolean {
  const buf = pkt.buf;
  msg.version = 1;
  msg.opcode = buf[start + 1]!;
  // An interface-state advertisement names no group.
  if (msg.opcode === HSRP1_OP_ADVERTISE) return false;
  if (end - start < HSRP1_LEN) return pkt.markMalformed('hsrp', TRUNCATED_HSRP);
  msg.state = buf[start + 2]!;
  msg.holdMs = buf[start + 4]! * 1000;
  msg.priority = buf[start + 5]!;
  msg.group = buf[start + 6]!;
  msg.role = hsrpRole(msg.opcode, msg.state === HSRP1_ACTIVE);
  setTextAuth(msg, buf, start + 8, HSRP_AUTH_LEN);
  msg.vipFamily = 4;
  msg.vipOff = start + 16;
  msg.vipCount = u32be(buf, start + 16) === 0 ? 0 : 1;
  // With MD5 configured, Cisco appends an MD5 authentication TLV to the version 1 message.
  if (end - start >= HSRP1_LEN + 2 && buf[start + HSRP1_LEN] === HSRP2_TLV_MD5_AUTH) msg.auth = FhrpAuth.Digest;
  return true;
}

function decodeHsrp2(pkt: Packet, msg: FhrpMessage, start: number, end: number): boolean {
  const buf = pkt.buf;
  let groupState = false;
  for (let off = start; off < end; ) {
    if (end - off < 2) return pkt.markMalformed('hsrp', BAD_HSRP_TLV);
    const type = buf[off]!;
    const len = buf[off + 1]!;
    const v = off + 2;
    if (v + len > end) return pkt.markMalformed('hsrp', BAD_HSRP_TLV);
    if (type === HSRP2_TLV_GROUP_STATE) {
      if (len !== HSRP2_GROUP_STATE_LEN) return pkt.markMalformed('hsrp', BAD_HSRP2_GROUP_STATE);
      groupState = true;
      msg.version = buf[v]!;
      msg.opcode = buf[v + 1]!;
      msg.state = buf[v + 2]!;
      msg.vipFamily = buf[v + 3] === 6 ? 16 : 4;
      msg.group = u16be(buf, v + 4);
      msg.identifier = buf.readUIntBE(v + 6, 6);
      msg.priority = u32be(buf, v + 12);
      msg.holdMs = u32be(buf, v + 20);
      msg.vipOff = v + 24;
      msg.vipCount = isZero(buf, v + 24, msg.vipFamily) ? 0 : 1;
      msg.role = hsrpRole(msg.opcode, msg.state === HSRP2_ACTIVE);
    } else if (type === HSRP2_TLV_TEXT_AUTH) {
      setTextAuth(msg, buf, v, len);
    } else if (type === HSRP2_TLV_MD5_AUTH) {
      msg.auth = FhrpAuth.Digest;
    }
    off = v + len;
  }
  return groupState;
}

function hsrpRole(opcode: number, active: boolean): FhrpRole {
  if (opcode === HSRP_OP_COUP) return FhrpRole.Coup;
  if (opcode === HSRP_OP_RESIGN) return FhrpRole.Resign;
  return active ? FhrpRole.Active : FhrpRole.Candidate;
}

/** Decodes a VRRP advertisement (IP protocol 112); false for CARP and other types, or when malformed (then marked). */
export function decodeVrrp(pkt: Packet, msg: FhrpMessage): boolean {
  msg.reset(FhrpProto.Vrrp);
  const buf = pkt.buf;
  const start = pkt.payloadStart;
  const end = pkt.payloadEnd;
  const len = end - start;
  if (len < 8) return pkt.markMalformed('vrrp', TRUNCATED_VRRP);
  const version = buf[start]! >> 4;
  if ((buf[start]! & 0x0f) !== VRRP_TYPE_ADVERTISEMENT) return false;
  if (version === 2 && len === CARP_LEN && buf[start + 3] === CARP_AUTHLEN) return false;
  if (version !== 2 && version !== 3) return pkt.markMalformed('vrrp', BAD_VRRP_VERSION);
  const count = buf[start + 3]!;
  const family = version === 3 && pkt.ipVersion === 6 ? 16 : 4;
  const addrs = start + 8;
  const needed = 8 + count * family + (version === 2 ? VRRP_AUTH_LEN : 0);
  if (len < needed) return pkt.markMalformed('vrrp', TRUNCATED_VRRP);
  msg.version = version;
  msg.group = buf[start + 1]!;
  msg.priority = buf[start + 2]!;
  msg.role = msg.priority === 0 ? FhrpRole.Resign : FhrpRole.Active;
  // VRRPv2 counts the interval in seconds, v3 in centiseconds (12 bits); a backup waits three of them (and a skew).
  const intervalMs = version === 2 ? buf[start + 5]! * 1000 : (u16be(buf, start + 4) & 0x0fff) * 10;
  msg.holdMs = 3 * intervalMs;
  msg.vipFamily = family;
  msg.vipOff = addrs;
  msg.vipCount = count;
  if (version === 2) {
    const authType = buf[start + 4]!;
    if (authType === VRRP2_AUTH_TEXT) setTextAuth(msg, buf, addrs + count * 4, VRRP_AUTH_LEN);
    else if (authType === VRRP2_AUTH_AH) msg.auth = FhrpAuth.Digest;
  }
  return true;
}

/** The message's first `max` virtual addresses as text (for findings: allocates). */
export function virtualAddressTexts(buf: Buffer, m: FhrpMessage, max: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < m.vipCount && i < max; i++) {
    const off = m.vipOff + i * m.vipFamily;
    out.push(m.vipFamily === 16 ? ip6ToString(buf, off) : ip4ToString(u32be(buf, off)));
  }
  return out;
}

/** A cleartext key field: NUL-padded (or NUL-terminated) text. */
function setTextAuth(msg: FhrpMessage, buf: Buffer, off: number, len: number): void {
  let n = 0;
  while (n < len && buf[off + n] !== 0) n++;
  msg.auth = FhrpAuth.Text;
  msg.authOff = off;
  msg.authLen = n;
}

function isZero(buf: Buffer, off: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (buf[off + i] !== 0) return false;
  return true;
}

