import { randomBytes } from 'node:crypto';
import { ip4ToString, ip6ToString } from '../../decode/addr.js';
import { IPPROTO_TCP, type Packet } from '../../decode/packet.js';
import { u16be, u32be } from '../../decode/bytes.js';

// A bounded TCP stream reassembler that analyzers instantiate. It hands the
// in-order bytes of each direction to a callback and never holds more than
// its caps, whatever the input:
//
// - Flows live in a hash table keyed by a seeded, direction-independent
//   32-bit hash of addresses and ports (numbers only, no per-packet strings),
//   with the full tuple compared on lookup; chains are capped so crafted
//   collisions cannot make lookups slow.
// - Client and server come from the handshake (SYN, or SYN-ACK), else from
//   the well-known port when the handshake was not captured.
// - Overlaps are resolved "first wins": bytes already delivered or already
//   buffered for a sequence range are kept, and a later segment covering the
//   same range (retransmission or an attempt to rewrite the stream) only
//   contributes the bytes nobody supplied before. Snort and Suricata call this
//   the "first" policy; it is what most stacks keep for data already queued.
// - Out-of-order segments are copied and buffered per direction (bytes and
//   segment count capped) and globally. A hole is skipped, with an onGap
//   notice, when the receiver acknowledged past it (the capture lost it),
//   when it stays open longer than gapTimeoutMs of capture time, or when a
//   cap is reached.
// - Only the first maxBytesPerDirection of each direction are delivered;
//   later data is neither buffered nor delivered.
// - FIN in both directions, RST, idleness and LRU eviction close a flow
//   (onClose), which releases it.

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

export type CloseReason = 'fin' | 'rst' | 'idle' | 'evicted' | 'reused' | 'end';

export interface ReassemblerOptions<S> {
  /** In-order bytes buf[start, end) sent by the client (fromClient) or the server; valid only during the call. */
  onData(flow: TcpFlow<S>, fromClient: boolean, buf: Buffer, start: number, end: number): void;
  /** `skipped` bytes of the direction will never be delivered (lost, timed out, over a cap); delivery resumes after them. */
  onGap?(flow: TcpFlow<S>, fromClient: boolean, skipped: number): void;
  /** The flow ended; pending data was delivered first. The flow leaves the table afterwards. */
  onClose?(flow: TcpFlow<S>, reason: CloseReason): void;
  /** Server ports recognised when the handshake was missed (default: below 1024). */
  isServerPort?(port: number): boolean;
  /** Flows tracked at once; the least recently active one is evicted beyond it. Default 65536. */
  maxFlows?: number;
  /** Bytes of each direction delivered; the rest of the direction is ignored. Default 65536. */
  maxBytesPerDirection?: number;
  /** Out-of-order bytes buffered per direction. Default 65536. */
  maxBufferedPerDirection?: number;
  /** Out-of-order segments buffered per direction (1-byte segment floods). Default 128. */
  maxSegmentsPerDirection?: number;
  /** Out-of-order bytes buffered over all flows. Default 16 MiB. */
  maxBufferedBytes?: number;
  /** Capture time a hole may stay open before it is skipped. Default 3000 ms. */
  gapTimeoutMs?: number;
  /** Capture time without packets after which a flow is closed. Default 300000 ms. */
  idleTimeoutMs?: number;
  /** Seed of the flow hash; random by default so collisions cannot be precomputed. */
  hashSeed?: number;
}

export interface ReassemblerStats {
  flowsCreated: number;
  flowsEvicted: number;
  /** New flows refused because their hash chain was full (crafted collisions). */
  flowsRefused: number;
  gaps: number;
  bytesSkipped: number;
  bytesDelivered: number;
  /** Segments (or parts) dropped as already seen: retransmissions and overlaps. */
  overlapsTrimmed: number;
}

interface Segment {
  /** Stream offset of data[0]. */
  off: number;
  data: Buffer;
}

/** One direction of a flow. */
export class HalfStream {
  seqKnown = false;
  /** Sequence number of the next byte to deliver (unsigned 32-bit). */
  nextSeq = 0;
  /** Stream offset of nextSeq: bytes delivered plus bytes skipped. */
  offset = 0;
  delivered = 0;
  /** Bytes still to pass over undelivered, as the consumer asked (skipAhead). */
  skipLeft = 0;
  /** Stream offset where the FIN sits, -1 until one is seen. */
  finOffset = -1;
  /** All data up to the FIN was delivered. */
  finished = false;
  /** No more delivery: byte cap reached, or the consumer asked to stop. */
  stopped = false;
  segments: Segment[] = [];
  buffered = 0;
  /** When the buffer last went from empty to non-empty (for the gap timeout). */
  pendingSince = 0;
  pendingPrev: HalfStream | null = null;
  pendingNext: HalfStream | null = null;
  inPending = false;

  constructor(
    readonly flow: TcpFlow<unknown>,
    /** Sent by the client (changes only when swapRoles relabels the flow). */
    public fromClient: boolean,
  ) {}

  /** As new, for a pooled flow's next connection. */
  reset(fromClient: boolean): void {
    this.fromClient = fromClient;
    this.seqKnown = false;
    this.nextSeq = 0;
    this.offset = 0;
    this.delivered = 0;
    this.skipLeft = 0;
    this.finOffset = -1;
    this.finished = false;
    this.stopped = false;
    if (this.segments.length > 0) this.segments = [];
    this.buffered = 0;
    this.pendingSince = 0;
    this.pendingPrev = null;
    this.pendingNext = null;
    this.inPending = false;
  }
}

export class TcpFlow<S = unknown> {
  ipVersion: 4 | 6 = 4;
  /** Client and server addresses as 32-bit words; IPv4 uses word 0 only. */
  c0 = 0;
  c1 = 0;
  c2 = 0;
  c3 = 0;
  s0 = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;
  clientPort = 0;
  serverPort = 0;
  /** A SYN or SYN-ACK was seen, so roles and initial sequence numbers are known. */
  handshake = false;
  /** Initial sequence number of the client's SYN, -1 when none was seen. */
  clientIsn = -1;
  /** Data sent by the client, and by the server. */
  toServer: HalfStream;
  toClient: HalfStream;
  /** The analyzer's per-flow state. */
  user: S | undefined = undefined;
  firstSeenMs = 0;
  lastSeenMs = 0;
  /** When the flow last moved to the front of the LRU list (at most once per LRU_TOUCH_MS). */
  touchedMs = 0;
  /** The consumer is not interested: packets are only counted against the flow. */
  ignored = false;

  hash = 0;
  chainNext: TcpFlow<S> | null = null;
  lruPrev: TcpFlow<S> | null = null;
  lruNext: TcpFlow<S> | null = null;
  inTable = false;

  constructor() {
    this.toServer = new HalfStream(this as TcpFlow<unknown>, true);
    this.toClient = new HalfStream(this as TcpFlow<unknown>, false);
  }

  /** As new, for a pooled flow's next connection. */
  reset(): void {
    this.ipVersion = 4;
    this.c0 = this.c1 = this.c2 = this.c3 = 0;
    this.s0 = this.s1 = this.s2 = this.s3 = 0;
    this.clientPort = this.serverPort = 0;
    this.handshake = false;
    this.clientIsn = -1;
    this.toServer.reset(true);
    this.toClient.reset(false);
    this.user = undefined;
    this.firstSeenMs = this.lastSeenMs = this.touchedMs = 0;
    this.ignored = false;
    this.hash = 0;
    this.chainNext = this.lruPrev = this.lruNext = null;
    this.inTable = false;
  }

  clientIp(): string {
    return this.ipVersion === 4 ? ip4ToString(this.c0) : wordsToIp6(this.c0, this.c1, this.c2, this.c3);
  }

  serverIp(): string {
    return this.ipVersion === 4 ? ip4ToString(this.s0) : wordsToIp6(this.s0, this.s1, this.s2, this.s3);
  }

  /** "198.18.0.1:21", "[2001:db8::1]:21". */
  serverEndpoint(): string {
    return this.ipVersion === 4 ? `${this.serverIp()}:${this.serverPort}` : `[${this.serverIp()}]:${this.serverPort}`;
  }

  clientEndpoint(): string {
    return this.ipVersion === 4 ? `${this.clientIp()}:${this.clientPort}` : `[${this.clientIp()}]:${this.clientPort}`;
  }
}

function wordsToIp6(a: number, b: number, c: number, d: number): string {
  const buf = Buffer.alloc(16);
  buf.writeUInt32BE(a >>> 0, 0);
  buf.writeUInt32BE(b >>> 0, 4);
  buf.writeUInt32BE(c >>> 0, 8);
  buf.writeUInt32BE(d >>> 0, 12);
  return ip6ToString(buf, 0);
}

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/** Buckets of a new table (it grows with its flows). */
const MIN_BUCKETS = 1024;
/** Flows per hash chain; a new flow whose chain is full is refused. */
const MAX_CHAIN = 8;
/**
 * A flow moves to the front of the LRU list at most this often (capture time): moving it relinks
 * two neighbours, three flows' cache lines per segment. The list is then ordered to within this,
 * which idle expiry and eviction at maxFlows tolerate.
 */
const LRU_TOUCH_MS = 1000;
/** Closed flows kept for reuse (a port scan closes one per probe). */
const FLOW_POOL = 4096;

function defaultServerPort(port: number): boolean {
  return port < 1024;
}

export class TcpReassembler<S = unknown> {
  readonly stats: ReassemblerStats = { flowsCreated: 0, flowsEvicted: 0, flowsRefused: 0, gaps: 0, bytesSkipped: 0, bytesDelivered: 0, overlapsTrimmed: 0 };
  /**
   * Chains of flows by hash & bucketMask; a plain array, because a Map lookup per packet costs more
   * than the rest of the lookup. It grows with the flows (two buckets per flow, up to four per
   * maxFlows), so a network with a few thousand flows keeps its buckets in a few tens of KiB
   * rather than the 1 MiB a table for 65536 flows takes from the start.
   */
  private buckets: (TcpFlow<S> | null)[];
  private bucketMask: number;
  private readonly maxBuckets: number;
  private count = 0;
  /** Most recently active first. */
  private lruHead: TcpFlow<S> | null = null;
  private lruTail: TcpFlow<S> | null = null;
  /** Closed flows kept for reuse. */
  private readonly pool: TcpFlow<S>[] = [];
  /** Directions with buffered segments, oldest first. */
  private pendingHead: HalfStream | null = null;
  private pendingTail: HalfStream | null = null;
  private totalBuffered = 0;
  private readonly seed: number;
  private readonly maxFlows: number;
  private readonly maxBytes: number;
  private readonly maxBufferedPerDirection: number;
  private readonly maxSegments: number;
  private readonly maxBufferedBytes: number;
  private readonly gapTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly isServerPort: (port: number) => boolean;
  private readonly onData: ReassemblerOptions<S>['onData'];
  private readonly onGap: NonNullable<ReassemblerOptions<S>['onGap']> | undefined;
  private readonly onClose: NonNullable<ReassemblerOptions<S>['onClose']> | undefined;
  /** The flow of the packet being handled, null between packets and during finish(). */
  current: TcpFlow<S> | null = null;
  /** The direction whose data onData is receiving (skipAhead is honoured only from there). */
  private delivering: HalfStream | null = null;
  private now = 0;

  // The packet's endpoints, read once per packet.
  private p0 = 0;
  private p1 = 0;
  private p2 = 0;
  private p3 = 0;
  private q0 = 0;
  private q1 = 0;
  private q2 = 0;
  private q3 = 0;

  constructor(opts: ReassemblerOptions<S>) {
    this.onData = opts.onData;
    this.onGap = opts.onGap;
    this.onClose = opts.onClose;
    this.isServerPort = opts.isServerPort ?? defaultServerPort;
    this.maxFlows = Math.max(1, opts.maxFlows ?? 65536);
    this.maxBytes = Math.max(1, opts.maxBytesPerDirection ?? 65536);
    this.maxBufferedPerDirection = Math.max(1, opts.maxBufferedPerDirection ?? 65536);
    this.maxSegments = Math.max(1, opts.maxSegmentsPerDirection ?? 128);
    this.maxBufferedBytes = Math.max(1, opts.maxBufferedBytes ?? 16 * 1024 * 1024);
    this.gapTimeoutMs = opts.gapTimeoutMs ?? 3000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 300_000;
    this.seed = opts.hashSeed ?? randomBytes(4).readUInt32BE(0);
    // Four buckets per flow at most (capped): chains stay short at a full table, so MAX_CHAIN only stops crafted collisions.
    let n = MIN_BUCKETS;
    while (n < this.maxFlows * 4 && n < 1 << 22) n *= 2;
    this.maxBuckets = n;
    this.buckets = new Array<TcpFlow<S> | null>(MIN_BUCKETS).fill(null);
    this.bucketMask = MIN_BUCKETS - 1;
  }

  /** Flows in the table. */
  get size(): number {
    return this.count;
  }

  /** Out-of-order bytes held over all flows. */
  get bufferedBytes(): number {
    return this.totalBuffered;
  }

  /** Feeds one decoded packet; non-TCP packets and TCP without a readable header are ignored. */
  handle(pkt: Packet): void {
    if (pkt.ipProto !== IPPROTO_TCP || pkt.srcPort < 0 || pkt.ipVersion === 0) return;
    this.now = pkt.timeMs;
    const flags = pkt.tcpFlags;
    // A bare ACK matters only to a hole it may prove lost (ackedPastHole); with nothing buffered it
    // changes nothing, and a third of the segments of bulk traffic skip the lookup. The flow's idle
    // clock runs on its data, SYN, FIN and RST segments.
    if (this.totalBuffered === 0 && pkt.payloadEnd <= pkt.payloadStart && (flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0) {
      this.expire();
      return;
    }
    this.readEndpoints(pkt);
    const h = this.hashPacket(pkt);
    let flow = this.buckets[h & this.bucketMask] as TcpFlow<S> | null;
    let fromClient = false;
    let chain = 0;
    const sport = pkt.srcPort;
    const dport = pkt.dstPort;
    while (flow !== null) {
      // Ports first: they tell most flows of a chain apart before any address is read.
      if (flow.ipVersion === pkt.ipVersion) {
        if (flow.clientPort === sport && flow.serverPort === dport && this.matchesForward(flow)) {
          fromClient = true;
          break;
        }
        if (flow.clientPort === dport && flow.serverPort === sport && this.matchesReverse(flow)) break;
      }
      flow = flow.chainNext;
      chain++;
    }
    if (flow !== null && flow.ignored && (flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0) {
      // Most segments of a busy network belong to flows the consumer ignores: they only keep the flow alive.
      flow.lastSeenMs = this.now;
      this.touch(flow);
      this.expire();
      return;
    }
    const syn = (flags & TCP_SYN) !== 0;
    const payloadLen = pkt.payloadEnd - pkt.payloadStart;
    if (flow !== null && syn && (flags & TCP_ACK) === 0 && fromClient && this.isNewConnection(flow, pkt.tcpSeq)) {
      // The client reuses the address pair for a new connection.
      this.close(flow, 'reused');
      flow = null;
      chain = this.chainLength(h);
    }
    if (flow === null) {
      if ((flags & TCP_RST) !== 0 || (!syn && payloadLen <= 0)) {
        this.expire();
        return;
      }
      if (chain >= MAX_CHAIN) {
        this.stats.flowsRefused++;
        this.expire();
        return;
      }
      flow = this.create(pkt, h, flags);
      fromClient = syn ? (flags & TCP_ACK) === 0 : this.srcIsClient(pkt.srcPort, pkt.dstPort);
      this.orient(flow, pkt, fromClient);
    } else {
      this.touch(flow);
    }
    flow.lastSeenMs = this.now;
    this.current = flow;
    try {
      this.segment(flow, pkt, fromClient, flags);
    } finally {
      this.current = null;
    }
    this.expire();
  }

  /**
   * From onData of a direction: the `n` bytes that follow the chunk being delivered are not
   * needed (a message body the consumer only counts). They are passed over as if delivered,
   * out-of-order ones included, and a hole among them is no gap. False, and nothing is
   * passed over, when not called from that direction's delivery.
   */
  skipAhead(flow: TcpFlow<S>, fromClient: boolean, n: number): boolean {
    const half = fromClient ? flow.toServer : flow.toClient;
    if (half !== this.delivering || half.stopped || n <= 0) return false;
    half.skipLeft += n;
    return true;
  }

  /** Stop delivering one direction (the consumer has what it needs); its buffers are released. */
  stop(flow: TcpFlow<S>, fromClient: boolean): void {
    this.stopHalf(fromClient ? flow.toServer : flow.toClient);
  }

  /** Stop delivering the whole flow; it stays in the table so its later packets cost only a lookup. */
  ignore(flow: TcpFlow<S>): void {
    flow.ignored = true;
    this.stopHalf(flow.toServer);
    this.stopHalf(flow.toClient);
  }

  /**
   * Swaps client and server (only before a handshake fixed them), when content
   * proves the port-based guess wrong. Each direction keeps its state object,
   * relabelled, so a swap from inside onData leaves the packet being handled
   * consistent.
   */
  swapRoles(flow: TcpFlow<S>): boolean {
    if (flow.handshake) return false;
    [flow.c0, flow.c1, flow.c2, flow.c3, flow.s0, flow.s1, flow.s2, flow.s3] = [flow.s0, flow.s1, flow.s2, flow.s3, flow.c0, flow.c1, flow.c2, flow.c3];
    [flow.clientPort, flow.serverPort] = [flow.serverPort, flow.clientPort];
    const sentByServer = flow.toClient;
    flow.toClient = flow.toServer;
    flow.toServer = sentByServer;
    flow.toServer.fromClient = true;
    flow.toClient.fromClient = false;
    return true;
  }

  /** End of input: delivers what is buffered and closes every flow. */
  finish(): void {
    while (this.lruTail !== null) this.close(this.lruTail, 'end');
  }

  // --- packets -------------------------------------------------------------

  private readEndpoints(pkt: Packet): void {
    if (pkt.ipVersion === 4) {
      this.p0 = pkt.ip4Src;
      this.q0 = pkt.ip4Dst;
      this.p1 = this.p2 = this.p3 = this.q1 = this.q2 = this.q3 = 0;
    } else {
      const b = pkt.buf;
      const s = pkt.ip6SrcOff;
      const d = pkt.ip6DstOff;
      this.p0 = u32be(b, s);
      this.p1 = u32be(b, s + 4);
      this.p2 = u32be(b, s + 8);
      this.p3 = u32be(b, s + 12);
      this.q0 = u32be(b, d);
      this.q1 = u32be(b, d + 4);
      this.q2 = u32be(b, d + 8);
      this.q3 = u32be(b, d + 12);
    }
  }

  private endpointHash(w0: number, w1: number, w2: number, w3: number, port: number): number {
    return mix(w0 ^ mix(w1 ^ mix(w2 ^ mix(w3 ^ mix(port ^ this.seed)))));
  }

  /** The same for both directions: the endpoint hashes are added. IPv4 has one address word to mix, not four. */
  private hashPacket(pkt: Packet): number {
    let a: number;
    let b: number;
    if (pkt.ipVersion === 4) {
      a = mix(this.p0 ^ mix(pkt.srcPort ^ this.seed));
      b = mix(this.q0 ^ mix(pkt.dstPort ^ this.seed));
    } else {
      a = this.endpointHash(this.p0, this.p1, this.p2, this.p3, pkt.srcPort);
      b = this.endpointHash(this.q0, this.q1, this.q2, this.q3, pkt.dstPort);
    }
    return mix((a + b + pkt.ipVersion) | 0) & 0x3fffffff;
  }

  /** The packet's source is the flow's client (ports already compared). */
  private matchesForward(f: TcpFlow<S>): boolean {
    return f.c0 === this.p0 && f.s0 === this.q0 && f.c1 === this.p1 && f.c2 === this.p2 && f.c3 === this.p3 && f.s1 === this.q1 && f.s2 === this.q2 && f.s3 === this.q3;
  }

  /** The packet's source is the flow's server (ports already compared). */
  private matchesReverse(f: TcpFlow<S>): boolean {
    return f.c0 === this.q0 && f.s0 === this.p0 && f.c1 === this.q1 && f.c2 === this.q2 && f.c3 === this.q3 && f.s1 === this.p1 && f.s2 === this.p2 && f.s3 === this.p3;
  }

  private chainLength(h: number): number {
    let n = 0;
    for (let f = this.buckets[h & this.bucketMask] as TcpFlow<S> | null; f !== null; f = f.chainNext) n++;
    return n;
  }

  /** Without a handshake: the well-known port is the server's; failing that the lower port. */
  private srcIsClient(sport: number, dport: number): boolean {
    const s = this.isServerPort(sport);
    const d = this.isServerPort(dport);
    if (s !== d) return d;
    if (sport !== dport) return dport < sport;
    return true;
  }

  /** A client SYN on a known flow opens a new connection unless it repeats the SYN already seen. */
  private isNewConnection(flow: TcpFlow<S>, seq: number): boolean {
    if (flow.clientIsn >= 0) return flow.clientIsn !== seq >>> 0;
    return flow.toServer.offset > 0 || flow.toClient.offset > 0;
  }

  private create(pkt: Packet, h: number, flags: number): TcpFlow<S> {
    if (this.count >= this.maxFlows && this.lruTail !== null) {
      this.stats.flowsEvicted++;
      this.close(this.lruTail, 'evicted');
    }
    // Closed flows are reused: a port scan creates a flow per probe, and as garbage they grew the heap by hundreds of MiB.
    const flow = this.pool.pop() ?? new TcpFlow<S>();
    flow.reset();
    flow.ipVersion = pkt.ipVersion as 4 | 6;
    flow.hash = h;
    flow.firstSeenMs = this.now;
    flow.handshake = (flags & TCP_SYN) !== 0;
    flow.chainNext = this.buckets[h & this.bucketMask] as TcpFlow<S> | null;
    this.buckets[h & this.bucketMask] = flow;
    flow.inTable = true;
    this.count++;
    if (this.count * 2 > this.buckets.length && this.buckets.length < this.maxBuckets) this.growBuckets();
    this.stats.flowsCreated++;
    flow.touchedMs = this.now;
    this.lruPushFront(flow);
    return flow;
  }

  /** Doubles the bucket array and moves every chain's flows to their new buckets. */
  private growBuckets(): void {
    const old = this.buckets;
    const n = old.length * 2;
    const mask = n - 1;
    const next = new Array<TcpFlow<S> | null>(n).fill(null);
    for (let b = 0; b < old.length; b++) {
      let f = old[b] as TcpFlow<S> | null;
      while (f !== null) {
        const after = f.chainNext;
        f.chainNext = next[f.hash & mask] as TcpFlow<S> | null;
        next[f.hash & mask] = f;
        f = after;
      }
    }
    this.buckets = next;
    this.bucketMask = mask;
  }

  private orient(flow: TcpFlow<S>, pkt: Packet, srcIsClient: boolean): void {
    // Field by field: a destructuring assignment builds an array per new flow.
    if (srcIsClient) {
      flow.c0 = this.p0;
      flow.c1 = this.p1;
      flow.c2 = this.p2;
      flow.c3 = this.p3;
      flow.s0 = this.q0;
      flow.s1 = this.q1;
      flow.s2 = this.q2;
      flow.s3 = this.q3;
      flow.clientPort = pkt.srcPort;
      flow.serverPort = pkt.dstPort;
    } else {
      flow.c0 = this.q0;
      flow.c1 = this.q1;
      flow.c2 = this.q2;
      flow.c3 = this.q3;
      flow.s0 = this.p0;
      flow.s1 = this.p1;
      flow.s2 = this.p2;
      flow.s3 = this.p3;
      flow.clientPort = pkt.dstPort;
      flow.serverPort = pkt.srcPort;
    }
  }

  private segment(flow: TcpFlow<S>, pkt: Packet, fromClient: boolean, flags: number): void {
    const half = fromClient ? flow.toServer : flow.toClient;
    const other = fromClient ? flow.toClient : flow.toServer;
    let seq = pkt.tcpSeq >>> 0;
    if ((flags & TCP_SYN) !== 0) {
      flow.handshake = true;
      if (fromClient && (flags & TCP_ACK) === 0) flow.clientIsn = seq;
      // The SYN takes one sequence number; data (TCP Fast Open) follows it.
      if (half.offset === 0 && half.segments.length === 0) {
        half.nextSeq = (seq + 1) >>> 0;
        half.seqKnown = true;
      }
      seq = (seq + 1) >>> 0;
      // A SYN-ACK acknowledges the client's SYN: its ISN even if the SYN was not captured.
      if ((flags & TCP_ACK) !== 0 && !other.seqKnown) {
        other.nextSeq = pkt.tcpAck >>> 0;
        other.seqKnown = true;
      }
    }
    if ((flags & TCP_RST) !== 0) {
      if (this.acceptableRst(half, seq)) this.close(flow, 'rst');
      return;
    }
    const start = pkt.payloadStart;
    const end = pkt.payloadEnd;
    if (end > start && !flow.ignored && !half.stopped && !half.finished) {
      this.data(half, seq, pkt.buf, start, end);
      // A snapped capture holds less than the segment carried: the rest is a known gap.
      const missing = claimedPayloadEnd(pkt) - end;
      if (missing > 0 && !half.stopped && half.segments.length === 0 && half.nextSeq === ((seq + (end - start)) >>> 0)) {
        this.skip(half, Math.min(missing, this.maxBytes - half.offset));
      }
    }
    if ((flags & TCP_FIN) !== 0 && half.seqKnown && half.finOffset < 0) {
      const finOffset = half.offset + ((((seq + (end - start)) >>> 0) - half.nextSeq) | 0);
      if (finOffset >= half.offset) {
        half.finOffset = finOffset;
        this.checkFinished(half);
      }
    }
    if ((flags & TCP_ACK) !== 0 && other.segments.length > 0) this.ackedPastHole(other, pkt.tcpAck >>> 0);
    if (finDone(flow.toServer) && finDone(flow.toClient)) this.close(flow, 'fin');
  }

  private acceptableRst(half: HalfStream, seq: number): boolean {
    if (!half.seqKnown) return true;
    const rel = (seq - half.nextSeq) | 0;
    return rel >= -1 && rel <= this.maxBytes + this.maxBufferedPerDirection;
  }

  private data(half: HalfStream, seq: number, buf: Buffer, start: number, end: number): void {
    if (!half.seqKnown) {
      half.nextSeq = seq;
      half.seqKnown = true;
    }
    let off = half.offset + ((seq - half.nextSeq) | 0);
    let endOff = off + (end - start);
    let limit = this.maxBytes;
    if (half.finOffset >= 0 && half.finOffset < limit) limit = half.finOffset;
    if (endOff > limit) {
      endOff = limit;
      end = start + (endOff - off);
    }
    if (off < half.offset) {
      this.stats.overlapsTrimmed++;
      start += half.offset - off;
      off = half.offset;
    }
    if (endOff <= off) return;
    const segs = half.segments;
    if (off === half.offset && (segs.length === 0 || segs[0]!.off >= endOff)) {
      // In order and clear of anything buffered: delivered straight from the packet.
      this.deliver(half, buf, start, end);
      this.drain(half);
      return;
    }
    this.buffer(half, buf, start, off, endOff);
    this.drain(half);
  }

  /** Copies the parts of [off, endOff) not yet buffered into the sorted segment list (first wins). */
  private buffer(half: HalfStream, buf: Buffer, start: number, off: number, endOff: number): void {
    const n = endOff - off;
    if (half.segments.length >= this.maxSegments || half.buffered + n > this.maxBufferedPerDirection || this.totalBuffered + n > this.maxBufferedBytes) {
      this.makeRoom(half, n);
      if (half.stopped) return;
      // Forced: everything held for this direction was delivered; skip to the new segment.
      if (half.segments.length >= this.maxSegments || half.buffered + n > this.maxBufferedPerDirection || this.totalBuffered + n > this.maxBufferedBytes) {
        if (off < half.offset) {
          start += half.offset - off;
          off = half.offset;
        }
        if (endOff <= off) return;
        if (off > half.offset) this.skip(half, off - half.offset);
        if (!half.stopped && off === half.offset) this.deliver(half, buf, start, start + (endOff - off));
        return;
      }
    }
    const segs = half.segments;
    let cur = off;
    let i = 0;
    while (cur < endOff) {
      while (i < segs.length && segs[i]!.off + segs[i]!.data.length <= cur) i++;
      if (i < segs.length && segs[i]!.off <= cur) {
        this.stats.overlapsTrimmed++;
        cur = segs[i]!.off + segs[i]!.data.length;
        i++;
        continue;
      }
      const pieceEnd = i < segs.length ? Math.min(endOff, segs[i]!.off) : endOff;
      if (pieceEnd > cur) {
        const len = pieceEnd - cur;
        const data = Buffer.allocUnsafe(len);
        buf.copy(data, 0, start + (cur - off), start + (pieceEnd - off));
        segs.splice(i, 0, { off: cur, data });
        i++;
        half.buffered += len;
        this.totalBuffered += len;
      }
      cur = pieceEnd;
    }
    if (segs.length > 0 && !half.inPending) this.pendingAppend(half);
  }

  /** Frees buffer space for `need` bytes in `half`: flushes the oldest other directions, then this one. */
  private makeRoom(half: HalfStream, need: number): void {
    while (this.totalBuffered + need > this.maxBufferedBytes) {
      let victim = this.pendingHead;
      if (victim === half) victim = half.pendingNext;
      if (victim === null) break;
      this.flush(victim);
    }
    if (half.segments.length >= this.maxSegments || half.buffered + need > this.maxBufferedPerDirection || this.totalBuffered + need > this.maxBufferedBytes) this.flush(half);
  }

  private deliver(half: HalfStream, buf: Buffer, start: number, end: number): void {
    const n = end - start;
    half.offset += n;
    half.nextSeq = (half.nextSeq + n) >>> 0;
    const passed = Math.min(half.skipLeft, n);
    half.skipLeft -= passed;
    half.delivered += n - passed;
    this.stats.bytesDelivered += n - passed;
    const flow = half.flow as TcpFlow<S>;
    if (half.offset >= this.maxBytes) this.stopHalf(half);
    this.checkFinished(half);
    if (passed === n) return;
    const outer = this.delivering;
    this.delivering = half;
    try {
      this.onData(flow, half.fromClient, buf, start + passed, end);
    } finally {
      this.delivering = outer;
    }
  }

  /** Delivers buffered segments that now continue the stream. */
  private drain(half: HalfStream): void {
    const segs = half.segments;
    while (segs.length > 0 && !half.stopped) {
      const sg = segs[0]!;
      if (sg.off > half.offset) break;
      segs.shift();
      half.buffered -= sg.data.length;
      this.totalBuffered -= sg.data.length;
      const from = half.offset - sg.off;
      if (from < sg.data.length) this.deliver(half, sg.data, from, sg.data.length);
    }
    if (segs.length === 0 && half.inPending) this.pendingRemove(half);
  }

  /** Skips every hole of the direction, delivering all it holds. */
  private flush(half: HalfStream): void {
    const segs = half.segments;
    while (segs.length > 0 && !half.stopped) {
      const first = segs[0]!;
      if (first.off > half.offset) this.skip(half, first.off - half.offset);
      this.drain(half);
    }
    if (half.stopped) this.release(half);
    if (segs.length === 0 && half.inPending) this.pendingRemove(half);
  }

  /** The peer acknowledged data up to `ack`: holes before it will never be filled from this capture. */
  private ackedPastHole(half: HalfStream, ack: number): void {
    if (half.stopped || !half.seqKnown) return;
    const ackOff = half.offset + ((ack - half.nextSeq) | 0);
    const segs = half.segments;
    while (segs.length > 0 && !half.stopped && segs[0]!.off > half.offset && ackOff >= segs[0]!.off) {
      this.skip(half, segs[0]!.off - half.offset);
      this.drain(half);
    }
  }

  private skip(half: HalfStream, n: number): void {
    if (n <= 0) return;
    half.offset += n;
    half.nextSeq = (half.nextSeq + n) >>> 0;
    this.stats.gaps++;
    this.stats.bytesSkipped += n;
    // Bytes the consumer asked to pass over are not missed when they are lost.
    const passed = Math.min(half.skipLeft, n);
    half.skipLeft -= passed;
    if (half.offset >= this.maxBytes) this.stopHalf(half);
    this.checkFinished(half);
    if (n > passed) this.onGap?.(half.flow as TcpFlow<S>, half.fromClient, n - passed);
  }

  private checkFinished(half: HalfStream): void {
    if (half.finOffset >= 0 && half.offset >= half.finOffset) half.finished = true;
  }

  private stopHalf(half: HalfStream): void {
    half.stopped = true;
    this.release(half);
  }

  private release(half: HalfStream): void {
    if (half.segments.length > 0) {
      this.totalBuffered -= half.buffered;
      half.buffered = 0;
      half.segments = [];
    }
    if (half.inPending) this.pendingRemove(half);
  }

  /** Closes flows idle too long and skips holes open too long (both checked from the oldest end only). */
  private expire(): void {
    const now = this.now;
    while (this.pendingHead !== null && now - this.pendingHead.pendingSince > this.gapTimeoutMs) this.flush(this.pendingHead);
    while (this.lruTail !== null && now - this.lruTail.lastSeenMs > this.idleTimeoutMs) this.close(this.lruTail, 'idle');
  }

  private close(flow: TcpFlow<S>, reason: CloseReason): void {
    if (!flow.inTable) return;
    // Unlink first, so callbacks that look the flow up again do not find it half-closed.
    this.unlink(flow);
    if (!flow.ignored) {
      this.flush(flow.toServer);
      this.flush(flow.toClient);
    }
    this.release(flow.toServer);
    this.release(flow.toClient);
    flow.toServer.stopped = flow.toClient.stopped = true;
    this.onClose?.(flow, reason);
    // Reset when reused, not now: the packet being handled may still touch it.
    if (this.pool.length < FLOW_POOL) this.pool.push(flow);
  }

  private unlink(flow: TcpFlow<S>): void {
    flow.inTable = false;
    const b = flow.hash & this.bucketMask;
    const head = this.buckets[b] as TcpFlow<S> | null;
    if (head === flow) {
      this.buckets[b] = flow.chainNext;
    } else {
      for (let f = head; f !== null; f = f.chainNext) {
        if (f.chainNext === flow) {
          f.chainNext = flow.chainNext;
          break;
        }
      }
    }
    flow.chainNext = null;
    this.lruRemove(flow);
    this.count--;
  }

  // --- intrusive lists -----------------------------------------------------

  private lruPushFront(flow: TcpFlow<S>): void {
    flow.lruPrev = null;
    flow.lruNext = this.lruHead;
    if (this.lruHead !== null) this.lruHead.lruPrev = flow;
    this.lruHead = flow;
    if (this.lruTail === null) this.lruTail = flow;
  }

  private lruRemove(flow: TcpFlow<S>): void {
    if (flow.lruPrev !== null) flow.lruPrev.lruNext = flow.lruNext;
    else this.lruHead = flow.lruNext;
    if (flow.lruNext !== null) flow.lruNext.lruPrev = flow.lruPrev;
    else this.lruTail = flow.lruPrev;
    flow.lruPrev = flow.lruNext = null;
  }

  private touch(flow: TcpFlow<S>): void {
    if (this.now - flow.touchedMs < LRU_TOUCH_MS && this.now >= flow.touchedMs) return;
    flow.touchedMs = this.now;
    if (this.lruHead === flow) return;
    this.lruRemove(flow);
    this.lruPushFront(flow);
  }

  private pendingAppend(half: HalfStream): void {
    half.inPending = true;
    half.pendingSince = this.now;
    half.pendingNext = null;
    half.pendingPrev = this.pendingTail;
    if (this.pendingTail !== null) this.pendingTail.pendingNext = half;
    else this.pendingHead = half;
    this.pendingTail = half;
  }

  private pendingRemove(half: HalfStream): void {
    half.inPending = false;
    if (half.pendingPrev !== null) half.pendingPrev.pendingNext = half.pendingNext;
    else this.pendingHead = half.pendingNext;
    if (half.pendingNext !== null) half.pendingNext.pendingPrev = half.pendingPrev;
    else this.pendingTail = half.pendingPrev;
    half.pendingPrev = half.pendingNext = null;
  }
}

/** The direction sent its FIN and nothing before it is still to come (delivered, or not wanted). */
function finDone(half: HalfStream): boolean {
  return half.finished || (half.finOffset >= 0 && half.stopped);
}

/** Where the TCP payload ends according to the IP header, which a snapped capture may not hold. */
function claimedPayloadEnd(pkt: Packet): number {
  const b = pkt.buf;
  if (pkt.ipVersion === 4) return pkt.l3Start + u16be(b, pkt.l3Start + 2);
  return pkt.l3Start + 40 + u16be(b, pkt.l3Start + 4);
}
