import { IPPROTO_TCP, type Packet } from './packet.js';
import { u16be, u32be } from './bytes.js';

// DNS-format name services: DNS (53), LLMNR (5355, RFC 4795), mDNS (5353,
// RFC 6762) and NetBIOS name service (137, RFC 1002), decoded into one reused
// DnsMessage. Names are written, lowercased, into a reused byte table and
// become strings only when a finding needs them. Everything an attacker
// controls is bounded: label and name lengths, compression pointers (strictly
// backwards, at most MAX_POINTER_HOPS), record counts (checked against the
// message size) and the number of answers kept (MAX_ANSWERS).

export const enum NameProto {
  Dns = 1,
  Llmnr = 2,
  Mdns = 3,
  Nbns = 4,
}

export const NAME_PROTO_LABELS: readonly string[] = ['', 'DNS', 'LLMNR', 'mDNS', 'NBT-NS'];

export const DNS_PORT = 53;
export const NBNS_PORT = 137;
export const MDNS_PORT = 5353;
export const LLMNR_PORT = 5355;

export const TYPE_A = 1;
export const TYPE_NS = 2;
export const TYPE_CNAME = 5;
export const TYPE_PTR = 12;
export const TYPE_TXT = 16;
export const TYPE_AAAA = 28;
export const TYPE_SRV = 33;
/** NetBIOS general name service resource record (only in NBT-NS messages). */
export const TYPE_NB = 0x20;
export const CLASS_IN = 1;

export const FLAG_RESPONSE = 0x8000;
/** NB_FLAGS group-name bit: the name belongs to a group, not one host. */
export const NB_FLAG_GROUP = 0x8000;

/** Answer records kept per message; further ones are not decoded (not an error). */
export const MAX_ANSWERS = 32;
export const MAX_POINTER_HOPS = 16;
const MAX_LABEL = 63;
const MAX_NAME_WIRE = 255;
const HEADER_LEN = 12;
const MIN_QUESTION_LEN = 5;
const MIN_RECORD_LEN = 11;
/** Bytes per name slot: a name's text form is at most 253 characters. */
const SLOT_BYTES = 256;
/** First-level encoded NetBIOS names are one 32-character label. */
const NETBIOS_ENCODED_LEN = 32;

// Constant reasons for pkt.markMalformed: setting them allocates nothing.
const SHORT_HEADER = 'message shorter than the 12-byte header';
const COUNTS_TOO_LARGE = 'record counts exceed what the message can hold';
const NAME_TRUNCATED = 'name runs past the end of the message';
const LABEL_TOO_LONG = 'label longer than 63 bytes or of an unsupported type';
const NAME_TOO_LONG = 'name longer than 255 bytes';
const POINTER_LOOP = 'compression pointer that does not point strictly backwards, or too many pointer hops';
const RECORD_TRUNCATED = 'resource record runs past the end of the message';
const RDATA_NAME_OVERRUN = 'name in record data runs past its record';
const BAD_ADDRESS_LENGTH = 'address record with a wrong data length';
const BAD_NB_LENGTH = 'NB record data is not a multiple of 6 bytes';
const BAD_NETBIOS_NAME = 'NetBIOS name is not first-level encoded';

/**
 * Fixed slots of lowercased name text. Slot 0 holds the question name, slots
 * 1..MAX_ANSWERS the answers' owner names and the rest their target names
 * (CNAME, PTR, NS, SRV).
 */
export class NameTable {
  readonly bytes: Uint8Array;
  readonly len: Uint16Array;
  /** NetBIOS suffix byte (the 16th character) per slot, -1 for DNS names. */
  readonly suffix: Int16Array;

  constructor(readonly slots: number) {
    this.bytes = new Uint8Array(slots * SLOT_BYTES);
    this.len = new Uint16Array(slots);
    this.suffix = new Int16Array(slots);
  }

  /** The name as text (allocates: for findings only). */
  text(slot: number): string {
    const s = slot * SLOT_BYTES;
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + s, this.len[slot]!).toString('latin1');
  }

  equals(a: number, b: number): boolean {
    const n = this.len[a]!;
    if (n !== this.len[b]) return false;
    const x = a * SLOT_BYTES;
    const y = b * SLOT_BYTES;
    for (let i = 0; i < n; i++) if (this.bytes[x + i] !== this.bytes[y + i]) return false;
    return true;
  }

  /** FNV-1a of the name text (a number to key tables with; collisions only merge names). */
  hash(slot: number): number {
    return fnv1a(this.bytes, slot * SLOT_BYTES, this.len[slot]!);
  }

  /** Hash of the name without a trailing ".local" (the same host name across LLMNR, NBT-NS and mDNS). */
  hostHash(slot: number): number {
    const s = slot * SLOT_BYTES;
    let n = this.len[slot]!;
    if (n > 6 && endsWithAscii(this.bytes, s, n, '.local')) n -= 6;
    return fnv1a(this.bytes, s, n);
  }

  labelCount(slot: number): number {
    const n = this.len[slot]!;
    if (n === 0) return 0;
    let labels = 1;
    const s = slot * SLOT_BYTES;
    for (let i = 0; i < n; i++) if (this.bytes[s + i] === 0x2e) labels++;
    return labels;
  }

  /** Hash of the last `labels` labels ("corp.example" for 2), or -1 when the name has fewer. */
  suffixHash(slot: number, labels: number): number {
    const s = slot * SLOT_BYTES;
    const n = this.len[slot]!;
    let seen = 0;
    for (let i = n - 1; i >= 0; i--) {
      if (this.bytes[s + i] === 0x2e && ++seen === labels) return fnv1a(this.bytes, s + i + 1, n - i - 1);
    }
    return -1;
  }
}

/** FNV-1a over bytes[start, start+len). */
export function fnv1a(bytes: Uint8Array, start: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ bytes[start + i]!, 0x01000193);
  return h >>> 0;
}

/** The same hash of a text name (config, tests): lowercased like decoded names. */
export function nameHashOf(text: string): number {
  const b = Buffer.from(text.toLowerCase(), 'latin1');
  return fnv1a(b, 0, b.length);
}

function endsWithAscii(bytes: Uint8Array, s: number, n: number, tail: string): boolean {
  for (let i = 0; i < tail.length; i++) if (bytes[s + n - tail.length + i] !== tail.charCodeAt(i)) return false;
  return true;
}

export class DnsMessage {
  proto: NameProto = NameProto.Dns;
  /** The message inside pkt.buf (after a TCP length prefix). */
  start = 0;
  end = 0;
  id = 0;
  flags = 0;
  qdCount = 0;
  anCount = 0;
  nsCount = 0;
  arCount = 0;
  hasQuestion = false;
  qtype = 0;
  qclass = 0;
  /** mDNS: the first question asked for a unicast reply (QU bit). */
  qUnicast = false;
  /** Answers decoded into the arrays below (at most MAX_ANSWERS; an NB record gives one per address). */
  answerCount = 0;
  readonly ansType = new Uint16Array(MAX_ANSWERS);
  readonly ansClass = new Uint16Array(MAX_ANSWERS);
  readonly ansTtl = new Uint32Array(MAX_ANSWERS);
  /** Name slot of the record's owner name. */
  readonly ansName = new Uint8Array(MAX_ANSWERS);
  /** The owner name was (or ended in) a compression pointer. */
  readonly ansNameCompressed = new Uint8Array(MAX_ANSWERS);
  /** IPv4 address of A and NB records. */
  readonly ansAddr4 = new Uint32Array(MAX_ANSWERS);
  readonly ansNbFlags = new Uint16Array(MAX_ANSWERS);
  /** Record data in pkt.buf (AAAA address, TXT strings...). */
  readonly ansDataOff = new Int32Array(MAX_ANSWERS);
  readonly ansDataLen = new Uint16Array(MAX_ANSWERS);
  /** Name slot of the CNAME/PTR/NS/SRV target, or -1. */
  readonly ansTarget = new Int16Array(MAX_ANSWERS);
  readonly ansSrvPort = new Uint16Array(MAX_ANSWERS);
  readonly names = new NameTable(1 + 2 * MAX_ANSWERS);

  get isResponse(): boolean {
    return (this.flags & FLAG_RESPONSE) !== 0;
  }

  get opcode(): number {
    return (this.flags >> 11) & 0x0f;
  }

  get rcode(): number {
    return this.flags & 0x0f;
  }

  get truncatedFlag(): boolean {
    return (this.flags & 0x0200) !== 0;
  }

  reset(proto: NameProto): void {
    this.proto = proto;
    this.hasQuestion = false;
    this.qtype = 0;
    this.qclass = 0;
    this.qUnicast = false;
    this.answerCount = 0;
    this.names.len[0] = 0;
    this.names.suffix[0] = -1;
  }
}

/** Which name service a transport port pair carries, or 0. NBT-NS and mDNS are UDP only. */
export function nameProtoOfPorts(srcPort: number, dstPort: number, udp: boolean): NameProto | 0 {
  if (srcPort === DNS_PORT || dstPort === DNS_PORT) return NameProto.Dns;
  if (srcPort === LLMNR_PORT || dstPort === LLMNR_PORT) return NameProto.Llmnr;
  if (!udp) return 0;
  if (srcPort === NBNS_PORT || dstPort === NBNS_PORT) return NameProto.Nbns;
  if (srcPort === MDNS_PORT || dstPort === MDNS_PORT) return NameProto.Mdns;
  return 0;
}

/**
 * Decodes the name-service message in a UDP datagram or a TCP segment of
 * `pkt` into `msg`. Returns false when there is nothing to analyse: a TCP
 * segment that is not one whole length-prefixed message, a message cut short
 * by the capture's snap length (not an error), or a malformed message (then
 * pkt.markMalformed has been called).
 */
export function decodeNameMessage(pkt: Packet, proto: NameProto, msg: DnsMessage): boolean {
  msg.reset(proto);
  const buf = pkt.buf;
  let start = pkt.payloadStart;
  const end = pkt.payloadEnd;
  let snapped = false;
  if (pkt.ipProto === IPPROTO_TCP) {
    // Only a segment holding exactly one whole message is read; no reassembly.
    if (end - start < 2 + HEADER_LEN || u16be(buf, start) !== end - start - 2) return false;
    start += 2;
  } else if (pkt.l4Start + 8 <= end) {
    snapped = u16be(buf, pkt.l4Start + 4) > end - pkt.l4Start;
  }
  msg.start = start;
  msg.end = end;
  const layer = proto === NameProto.Nbns ? 'nbns' : 'dns';
  // No closures here: this runs for every name-service packet.
  if (end - start < HEADER_LEN) return fail(pkt, layer, SHORT_HEADER, snapped);
  msg.id = u16be(buf, start);
  msg.flags = u16be(buf, start + 2);
  msg.qdCount = u16be(buf, start + 4);
  msg.anCount = u16be(buf, start + 6);
  msg.nsCount = u16be(buf, start + 8);
  msg.arCount = u16be(buf, start + 10);
  const room = end - start - HEADER_LEN;
  const needed = msg.qdCount * MIN_QUESTION_LEN + (msg.anCount + msg.nsCount + msg.arCount) * MIN_RECORD_LEN;
  // A server that sets TC may keep counts for records it dropped.
  if (needed > room && !msg.truncatedFlag) return fail(pkt, layer, COUNTS_TOO_LARGE, snapped);

  const names = msg.names;
  let off = start + HEADER_LEN;
  const partial = snapped || msg.truncatedFlag;
  // Every question must be walked to find the answers; only the first is kept.
  for (let q = 0; q < msg.qdCount; q++) {
    const slot = q === 0 ? 0 : 1; // later questions are read into a scratch slot
    const next = readName(buf, start, end, off, names, slot);
    if (next < 0) return partial ? false : fail(pkt, layer, NAME_ERRORS[-next]!, snapped);
    if (end - next < 4) return partial ? false : fail(pkt, layer, NAME_TRUNCATED, snapped);
    if (q === 0) {
      if (proto === NameProto.Nbns && !decodeNetbiosName(names, 0)) return fail(pkt, layer, BAD_NETBIOS_NAME, snapped);
      msg.hasQuestion = true;
      msg.qtype = u16be(buf, next);
      const cls = u16be(buf, next + 2);
      msg.qclass = proto === NameProto.Mdns ? cls & 0x7fff : cls;
      msg.qUnicast = proto === NameProto.Mdns && (cls & 0x8000) !== 0;
    }
    off = next + 4;
  }

  for (let r = 0; r < msg.anCount && msg.answerCount < MAX_ANSWERS; r++) {
    const i = msg.answerCount;
    // Most owner names are one pointer to the question's name (right after the header): they share
    // its slot instead of a copy. Not NetBIOS names, which are decoded in their slot.
    const toQuestion = msg.hasQuestion && proto !== NameProto.Nbns && off + 2 <= end && buf[off] === 0xc0 && buf[off + 1] === HEADER_LEN;
    const slot = toQuestion ? 0 : 1 + i;
    const next = toQuestion ? off + 2 : readName(buf, start, end, off, names, slot);
    if (next < 0) return partial ? false : fail(pkt, layer, NAME_ERRORS[-next]!, snapped);
    if (end - next < 10) return partial ? false : fail(pkt, layer, RECORD_TRUNCATED, snapped);
    const type = u16be(buf, next);
    const cls = u16be(buf, next + 2);
    const ttl = u32be(buf, next + 4);
    const rdLen = u16be(buf, next + 8);
    const rd = next + 10;
    if (rd + rdLen > end) return partial ? false : fail(pkt, layer, RECORD_TRUNCATED, snapped);
    if (proto === NameProto.Nbns && !decodeNetbiosName(names, slot)) return fail(pkt, layer, BAD_NETBIOS_NAME, snapped);
    const compressed = nameUsedPointer(buf, off, next) ? 1 : 0;
    const recordClass = proto === NameProto.Mdns ? cls & 0x7fff : cls;
    off = rd + rdLen;
    if (proto === NameProto.Nbns && type === TYPE_NB) {
      if (rdLen % 6 !== 0) return fail(pkt, layer, BAD_NB_LENGTH, snapped);
      // One answer per address (group names list several), sharing the owner name.
      for (let a = rd; a < rd + rdLen && msg.answerCount < MAX_ANSWERS; a += 6) {
        const k = msg.answerCount++;
        setAnswer(msg, k, type, recordClass, ttl, slot, compressed, rd, rdLen);
        msg.ansNbFlags[k] = u16be(buf, a);
        msg.ansAddr4[k] = u32be(buf, a + 2);
      }
      continue;
    }
    setAnswer(msg, i, type, recordClass, ttl, slot, compressed, rd, rdLen);
    msg.answerCount++;
    if (type === TYPE_A) {
      if (rdLen !== 4) return fail(pkt, layer, BAD_ADDRESS_LENGTH, snapped);
      msg.ansAddr4[i] = u32be(buf, rd);
    } else if (type === TYPE_AAAA) {
      if (rdLen !== 16) return fail(pkt, layer, BAD_ADDRESS_LENGTH, snapped);
    } else if (type === TYPE_CNAME || type === TYPE_PTR || type === TYPE_NS || type === TYPE_SRV) {
      const nameAt = type === TYPE_SRV ? rd + 6 : rd;
      if (nameAt > rd + rdLen) return fail(pkt, layer, RDATA_NAME_OVERRUN, snapped);
      const target = 1 + MAX_ANSWERS + i;
      const after = readName(buf, start, end, nameAt, names, target);
      if (after < 0) return fail(pkt, layer, NAME_ERRORS[-after]!, snapped);
      if (after > rd + rdLen) return fail(pkt, layer, RDATA_NAME_OVERRUN, snapped);
      msg.ansTarget[i] = target;
      if (type === TYPE_SRV) msg.ansSrvPort[i] = u16be(buf, rd + 4);
    }
  }
  return true;
}

function fail(pkt: Packet, layer: string, reason: string, snapped: boolean): false {
  // A message cut by the capture's snap length is incomplete, not malformed.
  if (!snapped) pkt.markMalformed(layer, reason);
  return false;
}

function setAnswer(msg: DnsMessage, k: number, type: number, cls: number, ttl: number, slot: number, compressed: number, rd: number, rdLen: number): void {
  msg.ansType[k] = type;
  msg.ansClass[k] = cls;
  msg.ansTtl[k] = ttl;
  msg.ansName[k] = slot;
  msg.ansNameCompressed[k] = compressed;
  msg.ansAddr4[k] = 0;
  msg.ansNbFlags[k] = 0;
  msg.ansDataOff[k] = rd;
  msg.ansDataLen[k] = rdLen;
  msg.ansTarget[k] = -1;
  msg.ansSrvPort[k] = 0;
}

// readName returns -code on failure; NAME_ERRORS[code] is the reason.
const NAME_ERRORS: readonly string[] = ['', NAME_TRUNCATED, LABEL_TOO_LONG, NAME_TOO_LONG, POINTER_LOOP];

/**
 * Reads the name at `off` into `slot` as lowercase dotted text. Returns the
 * offset after the name where it was written (after its first pointer), or a
 * negative error code. Each compression pointer must point before the
 * segment it was read from, so pointer targets strictly decrease and even a
 * hostile chain ends; MAX_POINTER_HOPS bounds the work further.
 */
function readName(buf: Buffer, base: number, end: number, off: number, names: NameTable, slot: number): number {
  const out = names.bytes;
  const w0 = slot * SLOT_BYTES;
  let w = w0;
  let pos = off;
  let segmentStart = off;
  let resume = -1;
  let hops = 0;
  let wire = 0;
  for (;;) {
    if (pos >= end) return -1;
    const len = buf[pos]!;
    if (len === 0) {
      pos++;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= end) return -1;
      const target = base + (((len & 0x3f) << 8) | buf[pos + 1]!);
      if (resume < 0) resume = pos + 2;
      if (target >= segmentStart || ++hops > MAX_POINTER_HOPS) return -4;
      pos = segmentStart = target;
      continue;
    }
    if (len > MAX_LABEL) return -2;
    wire += len + 1;
    if (wire + 1 > MAX_NAME_WIRE) return -3;
    if (pos + 1 + len > end) return -1;
    if (w > w0) out[w++] = 0x2e;
    for (let i = pos + 1; i <= pos + len; i++) {
      const b = buf[i]!;
      // Lowercase for comparison; dots inside a label and unprintable bytes become '?'.
      out[w++] = b >= 0x41 && b <= 0x5a ? b + 32 : b < 0x20 || b > 0x7e || b === 0x2e ? 0x3f : b;
    }
    pos += 1 + len;
  }
  names.len[slot] = w - w0;
  names.suffix[slot] = -1;
  return resume >= 0 ? resume : pos;
}

/** Whether the name written at [off, next) contains a compression pointer. */
function nameUsedPointer(buf: Buffer, off: number, next: number): boolean {
  let pos = off;
  while (pos < next) {
    const len = buf[pos]!;
    if ((len & 0xc0) === 0xc0) return true;
    if (len === 0) return false;
    pos += 1 + len;
  }
  return false;
}

/**
 * Turns the first label of a NetBIOS name (32 characters 'a'..'p' after
 * lowercasing, two per byte) into the 15-character name, trailing spaces
 * removed, and keeps the 16th byte as the suffix. The scope, if any, is dropped.
 */
function decodeNetbiosName(names: NameTable, slot: number): boolean {
  const s = slot * SLOT_BYTES;
  const n = names.len[slot]!;
  if (n < NETBIOS_ENCODED_LEN || (n > NETBIOS_ENCODED_LEN && names.bytes[s + NETBIOS_ENCODED_LEN] !== 0x2e)) return false;
  let last = 0;
  for (let i = 0; i < 16; i++) {
    const hi = names.bytes[s + 2 * i]! - 0x61;
    const lo = names.bytes[s + 2 * i + 1]! - 0x61;
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) return false;
    const b = (hi << 4) | lo;
    if (i === 15) {
      names.suffix[slot] = b;
      break;
    }
    // Written over the encoded text, which is read two bytes ahead of the write position.
    names.bytes[s + i] = b >= 0x41 && b <= 0x5a ? b + 32 : b < 0x20 || b > 0x7e ? 0x3f : b;
    if (b !== 0x20) last = i + 1;
  }
  names.len[slot] = last;
  return true;
}
