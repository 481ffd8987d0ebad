import { checkKeys, ipList, sectionOf, type ConfigSection } from '../../config/config.js';
import type { ArpMessage } from '../../decode/arp.js';
import { ip4ToString, ip6ToString } from '../../decode/addr.js';
import { Encap, ENCAP_NAMES, MAX_ENCAP_DEPTH, type Packet } from '../../decode/packet.js';
import type { Entity } from '../../findings/finding.js';
import { BoundedMap } from '../../util/bounded-map.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition } from '../analyzer.js';

// Traffic duplication (T1020.001): copies of other hosts' traffic sent to a
// collector. ERSPAN and TZSP exist only to carry such copies, so any session
// to a collector the operator did not list is reported. VXLAN, GENEVE, GRE and
// IP in IP usually carry overlays, so they count as mirroring only when one collector
// receives both directions of the same inner conversation from one sender:
// an overlay delivers A->B to B's endpoint and B->A to A's. Every tunnel is
// also inventoried (tunnel-observed) with the number of frames it carried.

export interface MirrorConfig {
  /** Outer destinations allowed to receive mirrored traffic (IPv4). */
  collectors: Set<number>;
}

export const mirrorConfig: ConfigSection<MirrorConfig> = {
  key: 'mirror',
  parse(doc, where) {
    checkKeys(doc, ['collectors'], where);
    return { collectors: ipList(doc.collectors, `${where}.collectors`) };
  },
};

/** Tunnels (encapsulation, outer source, outer destination) tracked; the least recently active are forgotten first. */
const MAX_TUNNELS = 4096;
/** Recent inner conversation keys kept per tunnel (a ring; old keys are overwritten). */
const CONVERSATION_SLOTS = 32;
const HOST_PAIR_SLOTS = 16;
/** Inner host addresses named per finding, and distinct ids (VNI, key, session) listed per tunnel. */
const MAX_MIRRORED = 4;
const MAX_IDS = 4;
/** A mirror that keeps going is reported again at most this often (count and last_seen stay current). */
const REPORT_INTERVAL_MS = 60_000;
const REFRESH_MS = 30_000;
const NEVER = -Infinity;

interface CopyTracker {
  conversations: Float64Array;
  conversationNext: number;
  hostPairs: Float64Array;
  hostPairNext: number;
}

interface Tunnel {
  encap: Encap;
  ipVersion: number;
  srcId: number;
  dstId: number;
  /** Outer addresses as text, made once per tunnel for its findings. */
  src: string;
  dst: string;
  /** The destination is a configured collector: mirroring to it is expected. */
  allowed: boolean;
  innerFrames: number;
  ids: number[];
  moreIds: boolean;
  lastMs: number;
  refreshed: number;
  mirrored: string[];
  mirroredIds: number[];
  reportedIds: number[];
  lastReportMs: number;
  copies: CopyTracker | null;
}

function carriesOnlyCopies(encap: Encap): boolean {
  return encap === Encap.ErspanI || encap === Encap.ErspanII || encap === Encap.ErspanIII || encap === Encap.Tzsp;
}

export class MirrorAnalyzer implements Analyzer {
  private readonly tunnels = new BoundedMap<number, Tunnel>(MAX_TUNNELS);
  private readonly collectors: Set<number>;
  /** The tunnel of the carrier at each depth of the frame being dispatched, valid while carrierSeq matches seq. */
  private readonly carriers: (Tunnel | null)[] = new Array<Tunnel | null>(MAX_ENCAP_DEPTH + 1).fill(null);
  private readonly carrierSeq = new Float64Array(MAX_ENCAP_DEPTH + 1).fill(-1);
  private seq = 0;

  constructor(private readonly ctx: AnalyzerContext) {
    this.collectors = sectionOf(ctx.config, mirrorConfig).collectors;
  }

  onIp(pkt: Packet): void {
    if (pkt.depth === 0) this.seq++;
    if (pkt.encap !== Encap.None && pkt.depth < MAX_ENCAP_DEPTH) this.onCarrier(pkt);
    const outer = pkt.outer;
    if (outer === null || pkt.depth === 0) return;
    const t = this.carrierOf(outer);
    if (t === null) return;
    if (carriesOnlyCopies(outer.encap)) this.noteMirroredHosts(t, pkt, outer, endpointId(pkt, true), endpointId(pkt, false));
    else this.checkCopies(t, pkt, outer);
  }

  onArp(arp: ArpMessage, pkt: Packet): void {
    const outer = pkt.outer;
    if (outer === null || pkt.depth === 0 || !carriesOnlyCopies(outer.encap)) return;
    const t = this.carrierOf(outer);
    // RFC 5227 probes carry sender 0.0.0.0: no host to name.
    if (t !== null && arp.senderIp !== 0) this.noteMirroredHosts(t, pkt, outer, arp.senderIp, -1, arp.senderIp);
  }

  finish(): void {
    for (const t of this.tunnels.values()) this.reportObserved(t);
  }

  stateSize(): number {
    return this.tunnels.size;
  }

  private carrierOf(outer: Packet): Tunnel | null {
    return this.carrierSeq[outer.depth] === this.seq ? this.carriers[outer.depth]! : null;
  }

  /** A packet whose payload is another frame, which the engine decodes and dispatches next. */
  private onCarrier(pkt: Packet): void {
    const t = this.tunnelFor(pkt);
    this.carriers[pkt.depth] = t;
    this.carrierSeq[pkt.depth] = this.seq;
    t.innerFrames++;
    t.lastMs = pkt.timeMs;
    if (pkt.encapId >= 0 && !t.ids.includes(pkt.encapId)) {
      if (t.ids.length < MAX_IDS) t.ids.push(pkt.encapId);
      else t.moreIds = true;
    }
    if (t.allowed || !carriesOnlyCopies(pkt.encap)) return;
    const newSession = !t.reportedIds.includes(pkt.encapId) && t.reportedIds.length < MAX_IDS;
    if (newSession || this.due(t, pkt.timeMs)) {
      if (newSession) t.reportedIds.push(pkt.encapId);
      this.reportMirrorProtocol(t, pkt, pkt);
    }
  }

  private due(t: Tunnel, timeMs: number): boolean {
    return Math.abs(timeMs - t.lastReportMs) >= REPORT_INTERVAL_MS;
  }

  /** Inner hosts of an ERSPAN/TZSP session (ARP passes its sender as `a` and its text). */
  private noteMirroredHosts(t: Tunnel, pkt: Packet, outer: Packet, a: number, b: number, arpSender = -1): void {
    if (t.mirroredIds.length >= MAX_MIRRORED) return;
    const newA = !t.mirroredIds.includes(a);
    const newB = b !== -1 && b !== a && !t.mirroredIds.includes(b);
    if (!newA && !newB) return;
    if (newA) this.addMirrored(t, a, arpSender >= 0 ? ip4ToString(arpSender) : addressText(pkt, true));
    if (newB) this.addMirrored(t, b, addressText(pkt, false));
    if (!t.allowed) this.reportMirrorProtocol(t, outer, pkt);
  }

  private addMirrored(t: Tunnel, id: number, text: string): void {
    if (t.mirroredIds.length >= MAX_MIRRORED || t.mirroredIds.includes(id)) return;
    t.mirroredIds.push(id);
    t.mirrored.push(text);
  }

  /**
   * Overlay or copies? Per tunnel, a ring of recent inner conversation keys
   * (addresses, ports, protocol and MACs in the frame's orientation). A frame
   * whose reversed key is already there means this one destination received
   * both directions of the conversation from this one sender: a mirror. The
   * MACs must reverse too, so an overlay hairpinning routed traffic through a
   * remote gateway (both directions towards the gateway's MAC) does not match.
   * Conversations between two hosts that are neither tunnel endpoint are also
   * matched on the address pair alone, whatever the ports.
   */
  private checkCopies(t: Tunnel, pkt: Packet, outer: Packet): void {
    // Mirroring to an allowed collector is expected: nothing to tell apart.
    if (pkt.ipVersion === 0 || t.allowed) return;
    const a = endpointId(pkt, true);
    const b = endpointId(pkt, false);
    if (a === b) return;
    const proto = pkt.ipVersion * 256 + pkt.ipProto;
    const copies = (t.copies ??= {
      conversations: new Float64Array(CONVERSATION_SLOTS).fill(NaN),
      conversationNext: 0,
      hostPairs: new Float64Array(HOST_PAIR_SLOTS).fill(NaN),
      hostPairNext: 0,
    });
    const forward = conversationKey(a, b, pkt.srcPort, pkt.dstPort, proto, pkt.ethSrc, pkt.ethDst);
    const reverse = conversationKey(b, a, pkt.dstPort, pkt.srcPort, proto, pkt.ethDst, pkt.ethSrc);
    let bothWays = copies.conversations.includes(reverse);
    if (!copies.conversations.includes(forward)) {
      copies.conversations[copies.conversationNext] = forward;
      copies.conversationNext = (copies.conversationNext + 1) % CONVERSATION_SLOTS;
    }
    const outerA = endpointId(outer, true);
    const outerB = endpointId(outer, false);
    if (a !== outerA && a !== outerB && b !== outerA && b !== outerB) {
      const pairForward = conversationKey(a, b, -1, -1, 0, pkt.ethSrc, pkt.ethDst);
      const pairReverse = conversationKey(b, a, -1, -1, 0, pkt.ethDst, pkt.ethSrc);
      if (copies.hostPairs.includes(pairReverse)) bothWays = true;
      if (!copies.hostPairs.includes(pairForward)) {
        copies.hostPairs[copies.hostPairNext] = pairForward;
        copies.hostPairNext = (copies.hostPairNext + 1) % HOST_PAIR_SLOTS;
      }
    }
    if (!bothWays) return;
    const newHosts = t.mirroredIds.length < MAX_MIRRORED && (!t.mirroredIds.includes(a) || !t.mirroredIds.includes(b));
    if (!newHosts && !this.due(t, pkt.timeMs)) return;
    const aText = addressText(pkt, true);
    const bText = addressText(pkt, false);
    this.addMirrored(t, a, aText);
    this.addMirrored(t, b, bText);
    t.lastReportMs = pkt.timeMs;
    const name = ENCAP_NAMES[t.encap] ?? 'tunnel';
    this.ctx.report('mirror-tunnel-copies', `${name}|${t.src}|${t.dst}`, pkt, {
      message:
        `${name} ${t.src} -> ${t.dst}${idText(t.encap, outer.encapId)} carries copies of the traffic between ${aText} and ${bText}: ` +
        `${t.dst} receives both directions from one sender, and is not an allowed collector`,
      entities: this.entities(t, outer.encapId),
    });
  }

  private reportMirrorProtocol(t: Tunnel, outer: Packet, evidence: Packet): void {
    t.lastReportMs = evidence.timeMs;
    const name = ENCAP_NAMES[t.encap] ?? 'mirror';
    const id = outer.encapId;
    const what = t.encap === Encap.Tzsp ? `from ${t.src} sends captured frames` : `mirror session${id >= 0 ? ` ${id}` : ''} from ${t.src} sends copies of traffic`;
    this.ctx.report('mirror-erspan-tzsp', `${name}|${t.src}|${t.dst}|${id}`, evidence, {
      message: `${name} ${what} to ${t.dst}, which is not an allowed collector`,
      entities: this.entities(t, id),
    });
  }

  private entities(t: Tunnel, id: number): Entity[] {
    const out: Entity[] = [
      { type: 'ip', value: t.dst, role: 'collector' },
      { type: 'ip', value: t.src, role: 'source' },
    ];
    if (id >= 0) out.push({ type: 'interface', value: `${ENCAP_NAMES[t.encap]}${idText(t.encap, id)}`, role: 'session' });
    for (const m of t.mirrored) out.push({ type: 'ip', value: m, role: 'mirrored' });
    return out;
  }

  private reportObserved(t: Tunnel): void {
    if (t.innerFrames === 0) return;
    const name = ENCAP_NAMES[t.encap] ?? 'tunnel';
    const ids = t.ids.length > 0 ? ` (${idLabel(t.encap)} ${t.ids.join(', ')}${t.moreIds ? ', ...' : ''})` : '';
    this.ctx.reportAt('tunnel-observed', `${name}|${t.src}|${t.dst}`, t.lastMs, {
      message: `${name} ${t.src} -> ${t.dst}${ids}: ${t.innerFrames} inner frame${t.innerFrames === 1 ? '' : 's'} decoded`,
      entities: [
        { type: 'ip', value: t.src, role: 'source' },
        { type: 'ip', value: t.dst, role: 'destination' },
      ],
    });
  }

  private tunnelFor(pkt: Packet): Tunnel {
    const srcId = endpointId(pkt, true);
    const dstId = endpointId(pkt, false);
    const key = tunnelKey(pkt.encap, srcId, dstId);
    let t = this.tunnels.get(key);
    if (t !== undefined && t.encap === pkt.encap && t.srcId === srcId && t.dstId === dstId) {
      if (pkt.timeMs - t.refreshed > REFRESH_MS) {
        t.refreshed = pkt.timeMs;
        this.tunnels.touch(key);
      }
      return t;
    }
    // A hash collision replaces the other tunnel, as if it had aged out.
    if (t !== undefined) {
      this.reportObserved(t);
      this.tunnels.delete(key);
    } else if (this.tunnels.size >= MAX_TUNNELS) {
      this.reportObserved(this.tunnels.shift()!);
    }
    t = {
      encap: pkt.encap,
      ipVersion: pkt.ipVersion,
      srcId,
      dstId,
      src: addressText(pkt, true),
      dst: addressText(pkt, false),
      allowed: pkt.ipVersion === 4 && this.collectors.has(pkt.ip4Dst),
      innerFrames: 0,
      ids: [],
      moreIds: false,
      lastMs: pkt.timeMs,
      refreshed: pkt.timeMs,
      mirrored: [],
      mirroredIds: [],
      reportedIds: [],
      lastReportMs: NEVER,
      copies: null,
    };
    this.tunnels.set(key, t);
    return t;
  }
}

function idLabel(encap: Encap): string {
  if (encap === Encap.Vxlan || encap === Encap.Geneve) return 'vni';
  if (encap === Encap.Gre) return 'key';
  return 'session';
}

function idText(encap: Encap, id: number): string {
  return id >= 0 ? ` ${idLabel(encap)} ${id}` : '';
}

function addressText(pkt: Packet, source: boolean): string {
  if (pkt.ipVersion === 4) return ip4ToString(source ? pkt.ip4Src : pkt.ip4Dst);
  return ip6ToString(pkt.buf, source ? pkt.ip6SrcOff : pkt.ip6DstOff);
}

/** IPv4 addresses as themselves; IPv6 addresses as a negative 32-bit hash, so the two never compare equal. */
function endpointId(pkt: Packet, source: boolean): number {
  if (pkt.ipVersion === 4) return source ? pkt.ip4Src : pkt.ip4Dst;
  const buf = pkt.buf;
  const off = source ? pkt.ip6SrcOff : pkt.ip6DstOff;
  let h = 0x9747b28c;
  for (let i = 0; i < 16; i += 4) h = mix(h, buf.readUInt32BE(off + i));
  return -1 - fmix(h);
}

// MurmurHash3-style mixing over 32-bit lanes: numbers in, a number out, nothing allocated.
function mix(h: number, v: number): number {
  let k = Math.imul(v | 0, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const TWO_32 = 4294967296;

function mixWide(h: number, v: number): number {
  return mix(mix(h, v % TWO_32), Math.floor(v / TWO_32));
}

/** Two independent 32-bit lanes joined into 52 bits, exact in a double. */
function join52(h1: number, h2: number): number {
  return fmix(h1) * 0x100000 + (fmix(h2) >>> 12);
}

function tunnelKey(encap: Encap, src: number, dst: number): number {
  return join52(mixWide(mixWide(mix(0x1234567, encap), src), dst), mixWide(mixWide(mix(0x7654321, encap), src), dst));
}

function conversationKey(a: number, b: number, portA: number, portB: number, proto: number, macA: number, macB: number): number {
  let h1 = 0x2545f491;
  let h2 = 0x6c8e9cf5;
  h1 = mixWide(mix(mix(mix(mixWide(mixWide(h1, a), b), portA), portB), proto), macA);
  h2 = mixWide(mix(mix(mix(mixWide(mixWide(h2, a), b), portA), portB), proto), macA);
  return join52(mixWide(h1, macB), mixWide(h2, macB));
}

export const mirrorAnalyzer: AnalyzerDefinition = {
  name: 'mirror',
  rules: ['mirror-erspan-tzsp', 'mirror-tunnel-copies', 'tunnel-observed'],
  config: mirrorConfig as ConfigSection<unknown>,
  create: (ctx) => new MirrorAnalyzer(ctx),
};
