import type { Packet } from '../../decode/packet.js';
import {
  HANDSHAKE_CLIENT_HELLO,
  SSL3,
  TLS12,
  TlsHello,
  TlsScan,
  looksLikeHelloStart,
  scanHello,
  tlsVersionName,
} from '../../decode/tls.js';
import type { Entity, Severity } from '../../findings/finding.js';
import { BoundedMap } from '../../util/bounded-map.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition } from '../analyzer.js';
import { dstAddrKey, dstAddrText, endpointId, hostPort, mixHash, smallKey, srcAddrKey, srcAddrText } from '../endpoints.js';

// Sessions protected by a deprecated protocol (T1557 downgrade). On any TCP
// port, a segment that starts with a TLS handshake record (or an SSL 2.0
// hello) is parsed: the ClientHello gives the highest version the client
// offers, the ServerHello the version the server selects. TLS 1.0/1.1 is
// medium, SSL 3.0/2.0 high, and a server (or something on the path) choosing
// below TLS 1.2 for a client that offered 1.2 or later is a downgrade: high.
// TLS 1.2 and 1.3 raise nothing.
//
// Segments are not reassembled in general. A hello split across segments is
// buffered (in order only, at most MAX_HELLO_BYTES per connection, at most
// MAX_REASSEMBLIES connections at once); out-of-order or larger hellos are
// skipped.

const MAX_CONNS = 8192;
/** Largest hello buffered from several segments (a post-quantum ClientHello is about 1.8 KB). */
const MAX_HELLO_BYTES = 8192;
const MAX_REASSEMBLIES = 256;
/** A split hello whose rest does not arrive within this time is dropped. */
const REASSEMBLY_TTL_MS = 30_000;

interface TlsConn {
  /** Key in TlsAnalyzer.conns. */
  slot: number;
  /** Endpoint ids (address key and port) of the two ends, as first seen. */
  aId: number;
  bId: number;
  /** The ClientHello's sender, and the highest version it offered (0 until seen). */
  clientId: number;
  offered: number;
  /** A hello being gathered from several segments of one direction. */
  stream: Buffer | null;
  streamLen: number;
  streamFromId: number;
  nextSeq: number;
  streamStartedAt: number;
}

export class TlsAnalyzer implements Analyzer {
  private readonly hello = new TlsHello();
  private readonly scratch = Buffer.alloc(MAX_HELLO_BYTES);
  private readonly conns = new BoundedMap<number, TlsConn>(MAX_CONNS);
  /** Connections holding a stream buffer, oldest first. */
  private readonly assembling = new BoundedMap<number, TlsConn>(MAX_REASSEMBLIES);
  private readonly freeBuffers: Buffer[] = [];

  constructor(private readonly ctx: AnalyzerContext) {}

  stateSize(): number {
    return this.conns.size;
  }

  onTcp(pkt: Packet): void {
    const buf = pkt.buf;
    const start = pkt.payloadStart;
    const end = pkt.payloadEnd;
    if (end <= start) return;
    if (this.assembling.size > 0) {
      const srcId = endpointId(srcAddrKey(pkt), pkt.srcPort);
      const dstId = endpointId(dstAddrKey(pkt), pkt.dstPort);
      const c = this.find(srcId, dstId);
      if (c && c.stream && c.streamFromId === srcId) {
        this.continueHello(c, pkt, srcId, dstId);
        return;
      }
    }
    if (!looksLikeHelloStart(buf, start, end)) return;
    const srcId = endpointId(srcAddrKey(pkt), pkt.srcPort);
    const dstId = endpointId(dstAddrKey(pkt), pkt.dstPort);
    const r = scanHello(buf, start, end, this.scratch, this.hello);
    if (r === TlsScan.Ok) this.onHello(pkt, srcId, dstId);
    else if (r === TlsScan.Malformed) pkt.markMalformed('tls', this.hello.malformed!);
    else if (r === TlsScan.NeedMore) this.startHello(pkt, srcId, dstId);
  }

  private onHello(pkt: Packet, srcId: number, dstId: number): void {
    const h = this.hello;
    if (h.type === HANDSHAKE_CLIENT_HELLO) {
      const c = this.connFor(srcId, dstId);
      c.clientId = srcId;
      c.offered = h.version;
      return;
    }
    // A HelloRetryRequest only asks for another ClientHello; TLS 1.3 follows.
    if (h.helloRetry) return;
    const c = this.find(srcId, dstId);
    const offered = c && c.clientId === dstId ? c.offered : 0;
    if (c) this.forget(c);
    if (h.version >= TLS12) return;
    this.report(pkt, h.version, offered);
  }

  private report(pkt: Packet, negotiated: number, offered: number): void {
    const downgrade = offered >= TLS12;
    const ssl = negotiated <= SSL3;
    const severity: Severity = downgrade || ssl ? 'high' : 'medium';
    const client = dstAddrText(pkt);
    const server = srcAddrText(pkt);
    const service = hostPort(server, pkt.srcPort);
    const version = tlsVersionName(negotiated);
    const entities: Entity[] = [
      { type: 'ip', value: client, role: 'client' },
      { type: 'ip', value: server, role: 'server' },
      { type: 'host', value: service, role: 'service' },
      { type: 'protocol', value: version, role: 'negotiated' },
    ];
    if (offered !== 0) entities.push({ type: 'protocol', value: tlsVersionName(offered), role: 'offered' });
    const why = ssl ? 'SSL is broken (DROWN, POODLE)' : 'TLS 1.0 and 1.1 are deprecated (RFC 8996: BEAST, weak MAC and cipher suites)';
    const offer = downgrade
      ? `, although the client offered up to ${tlsVersionName(offered)}: a downgrade by the server or by something on the path`
      : offered !== 0
        ? ` (the client offered at most ${tlsVersionName(offered)})`
        : ' (the ClientHello was not captured)';
    this.ctx.report('tls-weak-version', `${client}|${service}|${version}`, pkt, {
      message: `${client} and ${service} negotiated ${version}${offer}; ${why}, so the session can be read or altered by an adversary in the middle`,
      entities,
      severity,
    });
  }

  // --- hellos split across segments

  private startHello(pkt: Packet, srcId: number, dstId: number): void {
    const len = pkt.payloadEnd - pkt.payloadStart;
    if (len >= MAX_HELLO_BYTES) return;
    if (this.assembling.size >= MAX_REASSEMBLIES) this.dropStream(this.assembling.shift()!);
    const c = this.connFor(srcId, dstId);
    if (c.stream) this.dropStream(c);
    const stream = this.freeBuffers.pop() ?? Buffer.allocUnsafe(MAX_HELLO_BYTES);
    pkt.buf.copy(stream, 0, pkt.payloadStart, pkt.payloadEnd);
    c.stream = stream;
    c.streamLen = len;
    c.streamFromId = srcId;
    c.nextSeq = (pkt.tcpSeq + len) >>> 0;
    c.streamStartedAt = pkt.timeMs;
    this.assembling.set(c.slot, c);
  }

  private continueHello(c: TlsConn, pkt: Packet, srcId: number, dstId: number): void {
    const len = pkt.payloadEnd - pkt.payloadStart;
    const stale = pkt.timeMs - c.streamStartedAt > REASSEMBLY_TTL_MS;
    if (stale || pkt.tcpSeq !== c.nextSeq) {
      // A retransmission of what we hold is harmless; a gap or a stale stream ends the attempt.
      if (stale || !seqBefore(pkt.tcpSeq, c.nextSeq)) this.dropStream(c);
      return;
    }
    const stream = c.stream!;
    const n = Math.min(len, MAX_HELLO_BYTES - c.streamLen);
    pkt.buf.copy(stream, c.streamLen, pkt.payloadStart, pkt.payloadStart + n);
    c.streamLen += n;
    c.nextSeq = (c.nextSeq + len) >>> 0;
    const r = scanHello(stream, 0, c.streamLen, this.scratch, this.hello);
    if (r === TlsScan.NeedMore && c.streamLen < MAX_HELLO_BYTES) return;
    if (r === TlsScan.Ok) this.onHello(pkt, srcId, dstId);
    else if (r === TlsScan.Malformed) pkt.markMalformed('tls', this.hello.malformed!);
    // The hello (or the attempt) is done: the buffer goes back to the pool.
    this.dropStream(c);
  }

  private dropStream(c: TlsConn): void {
    if (c.stream) this.freeBuffers.push(c.stream);
    c.stream = null;
    c.streamLen = 0;
    this.assembling.delete(c.slot);
  }

  // --- connection table

  private slotOf(x: number, y: number): number {
    // Either direction of a connection lands in the same slot.
    return smallKey(mixHash(mixHash(0x811c9dc5, Math.min(x, y)), Math.max(x, y)));
  }

  private find(srcId: number, dstId: number): TlsConn | undefined {
    const c = this.conns.get(this.slotOf(srcId, dstId));
    return c && ((c.aId === srcId && c.bId === dstId) || (c.aId === dstId && c.bId === srcId)) ? c : undefined;
  }

  private connFor(srcId: number, dstId: number): TlsConn {
    const found = this.find(srcId, dstId);
    if (found) return found;
    const slot = this.slotOf(srcId, dstId);
    const other = this.conns.get(slot);
    // Another connection in the same slot (a hash collision) is forgotten, like the oldest when full.
    if (other) this.forget(other);
    else if (this.conns.size >= MAX_CONNS) this.dropStream(this.conns.shift()!);
    const c: TlsConn = { slot, aId: srcId, bId: dstId, clientId: -1, offered: 0, stream: null, streamLen: 0, streamFromId: -1, nextSeq: 0, streamStartedAt: 0 };
    this.conns.set(slot, c);
    return c;
  }

  private forget(c: TlsConn): void {
    this.dropStream(c);
    if (this.conns.get(c.slot) === c) this.conns.delete(c.slot);
  }
}

/** TCP sequence comparison modulo 2^32. */
function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export const tlsAnalyzer: AnalyzerDefinition = {
  name: 'tls',
  rules: ['tls-weak-version'],
  create: (ctx) => new TlsAnalyzer(ctx),
};
