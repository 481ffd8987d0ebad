import type { Packet } from './packet.js';

// The authentication fields of interior routing protocols: OSPFv2 (RFC 2328
// appendix D, IP protocol 89) and RIPv2 (RFC 2453, RFC 4822, UDP 520). A
// simple password travels in clear in every packet; keyed MD5 appends
// MD5(packet || key padded to 16 bytes), which cracks offline (John's net-md5:
// the hashed bytes, then the digest). HMAC-SHA digests (RFC 4822, RFC 5709)
// mix the key in a way no cracker format takes. Only these fields are read.

export const IPPROTO_OSPF = 89;
export const RIP_PORT = 520;

export const enum RoutingProto {
  Ospf = 1,
  Rip,
}

export const enum RoutingAuthKind {
  None = 0,
  Simple,
  KeyedMd5,
  /** Cryptographic authentication with another digest (HMAC-SHA): nothing a cracker takes. */
  OtherDigest,
}

const OSPF_HEADER = 16 + 8;
const OSPF_AUTH_SIMPLE = 1;
const OSPF_AUTH_CRYPTO = 2;
const RIP_HEADER = 4;
const RIP_ENTRY = 20;
const RIP_AUTH_AFI = 0xffff;
const RIP_AUTH_SIMPLE = 2;
const RIP_AUTH_CRYPTO = 3;
const RIP_TRAILER_HEADER = 4;
const MD5_DIGEST = 16;
const SIMPLE_OSPF_KEY = 8;
const SIMPLE_RIP_KEY = 16;

const TRUNCATED_OSPF = 'OSPF packet shorter than its header';
const BAD_OSPF_LENGTH = 'OSPF packet length beyond the bytes present';
const BAD_OSPF_DIGEST = 'OSPF cryptographic digest beyond the bytes present';
const BAD_RIP_TRAILER = 'RIPv2 authentication trailer outside the packet';

/** One routing packet's authentication; reused. Offsets point into the packet's buffer. */
export class RoutingAuth {
  proto = RoutingProto.Ospf;
  kind = RoutingAuthKind.None;
  /** OSPF packet type (1 Hello ... 5 LS Ack), or the RIP command (1 request, 2 response). */
  type = 0;
  /** OSPF router ID and area ID (as numbers); 0 for RIP. */
  routerId = 0;
  areaId = 0;
  /** A simple password: its bytes, trailing NULs trimmed. */
  keyStart = 0;
  keyEnd = 0;
  /** Cryptographic authentication: key ID, and the digest, which follows the bytes hashed (from the packet's start). */
  keyId = 0;
  digestStart = 0;
  digestLength = 0;

  reset(proto: RoutingProto): void {
    this.proto = proto;
    this.kind = RoutingAuthKind.None;
    this.type = 0;
    this.routerId = 0;
    this.areaId = 0;
    this.keyStart = this.keyEnd = 0;
    this.keyId = 0;
    this.digestStart = this.digestLength = 0;
  }
}

/** A simple password: the NUL-padded field at buf[off, off + len), trailing NULs dropped. */
function setSimpleKey(out: RoutingAuth, buf: Buffer, off: number, len: number): void {
  let e = off + len;
  while (e > off && buf[e - 1] === 0) e--;
  out.kind = RoutingAuthKind.Simple;
  out.keyStart = off;
  out.keyEnd = e;
}

/** Cryptographic authentication; a 16-byte digest is keyed MD5. */
function setDigest(out: RoutingAuth, keyId: number, digestStart: number, digestLength: number): void {
  out.kind = digestLength === MD5_DIGEST ? RoutingAuthKind.KeyedMd5 : RoutingAuthKind.OtherDigest;
  out.keyId = keyId;
  out.digestStart = digestStart;
  out.digestLength = digestLength;
}

/** OSPFv2 in an IPv4 packet's payload: false when it is not OSPFv2 or is malformed (flagged on `pkt`). */
export function decodeOspfAuth(pkt: Packet, out: RoutingAuth): boolean {
  out.reset(RoutingProto.Ospf);
  const buf = pkt.buf;
  const start = pkt.payloadStart;
  const end = pkt.payloadEnd;
  if (end - start < 1 || buf[start] !== 2) return false;
  if (end - start < OSPF_HEADER) return pkt.markMalformed('ospf', TRUNCATED_OSPF);
  const length = buf.readUInt16BE(start + 2);
  if (length < OSPF_HEADER || length > end - start) return pkt.markMalformed('ospf', BAD_OSPF_LENGTH);
  out.type = buf[start + 1]!;
  out.routerId = buf.readUInt32BE(start + 4);
  out.areaId = buf.readUInt32BE(start + 8);
  const auType = buf.readUInt16BE(start + 14);
  if (auType === OSPF_AUTH_SIMPLE) {
    setSimpleKey(out, buf, start + 16, SIMPLE_OSPF_KEY);
  } else if (auType === OSPF_AUTH_CRYPTO) {
    // The digest follows the packet (its length excludes it).
    const digestLength = buf[start + 19]!;
    if (length + digestLength > end - start) return pkt.markMalformed('ospf', BAD_OSPF_DIGEST);
    setDigest(out, buf[start + 18]!, start + length, digestLength);
  }
  return true;
}

/** RIPv2 in a UDP payload (port 520): false when it is not RIPv2 or is malformed (flagged on `pkt`). */
export function decodeRipAuth(pkt: Packet, out: RoutingAuth): boolean {
  out.reset(RoutingProto.Rip);
  const buf = pkt.buf;
  const start = pkt.payloadStart;
  const end = pkt.payloadEnd;
  if (end - start < RIP_HEADER || buf[start + 1] !== 2) return false;
  const command = buf[start]!;
  if (command !== 1 && command !== 2) return false;
  out.type = command;
  // Authentication is the first entry, marked by address family 0xFFFF.
  const entry = start + RIP_HEADER;
  if (end - entry < RIP_ENTRY || buf.readUInt16BE(entry) !== RIP_AUTH_AFI) return true;
  const authType = buf.readUInt16BE(entry + 2);
  if (authType === RIP_AUTH_SIMPLE) {
    setSimpleKey(out, buf, entry + 4, SIMPLE_RIP_KEY);
  } else if (authType === RIP_AUTH_CRYPTO) {
    // The packet length gives where the trailer starts; the digest fills the trailer after its 4-byte header.
    const trailer = start + buf.readUInt16BE(entry + 4);
    if (trailer < entry + RIP_ENTRY || end - trailer <= RIP_TRAILER_HEADER || buf.readUInt16BE(trailer) !== RIP_AUTH_AFI) return pkt.markMalformed('rip', BAD_RIP_TRAILER);
    setDigest(out, buf[entry + 6]!, trailer + RIP_TRAILER_HEADER, end - trailer - RIP_TRAILER_HEADER);
  }
  return true;
}
