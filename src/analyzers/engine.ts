import type { RawFrame } from '../capture/frame.js';
import type { SniffwatchConfig } from '../config/config.js';
import { ArpDecode, ArpMessage, decodeArp } from '../decode/arp.js';
import { ip4ToString, ip6ToString } from '../decode/addr.js';
import { decodeFrame, decodeInner } from '../decode/decoder.js';
import { ENCAP_NAMES, Encap, ETHERTYPE_ARP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, MAX_ENCAP_DEPTH, Packet } from '../decode/packet.js';
import type { FindingAggregator } from '../findings/aggregate.js';
import type { Evidence } from '../findings/finding.js';
import { SecretRedactor } from '../findings/redact.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition, Report } from './analyzer.js';
import { NetworkModel } from './network-model.js';
import { emitReport } from './report-sink.js';

// The small core: decodes each frame once into a reused Packet, hands the
// protocol events to the analyzers that asked for them, and follows
// encapsulations (GRE, ERSPAN, VXLAN, GENEVE, TZSP) into the frames they carry.

export interface EngineStats {
  frames: number;
  arp: number;
  ip: number;
  /** Frames found inside encapsulations and analysed like captured ones. */
  inner: number;
  malformed: number;
  unsupportedLink: number;
  /** Entries in all analyzers' tables after finish(). */
  stateEntries: number;
}

export interface EngineOptions {
  showSecrets?: boolean;
  /** Key for secret hashes; the same salt makes hashes comparable across scans and sensors. */
  secretSalt?: string;
}

export class PacketEngine {
  readonly stats: EngineStats = { frames: 0, arp: 0, ip: 0, inner: 0, malformed: 0, unsupportedLink: 0, stateEntries: 0 };
  readonly network: NetworkModel;
  /** One Packet per encapsulation depth, reused. */
  private readonly packets: Packet[] = [];
  private readonly arp = new ArpMessage();
  private readonly analyzers: Analyzer[];
  private readonly arpHandlers: Analyzer[];
  private readonly ipHandlers: Analyzer[];
  private readonly udpHandlers: Analyzer[];
  private readonly tcpHandlers: Analyzer[];
  private readonly icmpHandlers: Analyzer[];
  private readonly redactor: SecretRedactor;
  private source = '';
  private lastUnsupported = -1;

  constructor(
    definitions: readonly AnalyzerDefinition[],
    config: SniffwatchConfig,
    private readonly findings: FindingAggregator,
    options: EngineOptions = {},
  ) {
    this.network = new NetworkModel(config);
    this.redactor = new SecretRedactor(options.showSecrets ?? false, options.secretSalt);
    for (let d = 0; d <= MAX_ENCAP_DEPTH; d++) this.packets.push(new Packet());
    const ctx: AnalyzerContext = {
      config,
      network: this.network,
      report: (rule, key, pkt, r) => this.emit(rule, key, pkt.timeMs, r, this.evidenceOf(pkt)),
      reportAt: (rule, key, timeMs, r, evidence) => this.emit(rule, key, timeMs, r, evidence),
    };
    this.analyzers = definitions.map((d) => d.create(ctx));
    this.arpHandlers = this.analyzers.filter((a) => a.onArp);
    this.ipHandlers = this.analyzers.filter((a) => a.onIp);
    this.udpHandlers = this.analyzers.filter((a) => a.onUdp);
    this.tcpHandlers = this.analyzers.filter((a) => a.onTcp);
    this.icmpHandlers = this.analyzers.filter((a) => a.onIcmp);
  }

  /** Names the input that following frames come from (for evidence). */
  setSource(source: string): void {
    this.source = source;
  }

  handleFrame(frame: RawFrame): void {
    const pkt = this.packets[0]!;
    this.stats.frames++;
    if (!decodeFrame(frame, pkt)) {
      this.stats.unsupportedLink++;
      if (frame.linktype !== this.lastUnsupported) this.reportUnsupported(frame);
      return;
    }
    this.dispatch(pkt);
  }

  // Indexed loops: an array iterator per loop per packet is what for-of costs when V8 does not inline the whole chain.
  private dispatch(pkt: Packet): void {
    const { arpHandlers, ipHandlers, udpHandlers, tcpHandlers, icmpHandlers } = this;
    if (pkt.etherType === ETHERTYPE_ARP && pkt.malformed === null) {
      this.stats.arp++;
      if (decodeArp(pkt, this.arp) === ArpDecode.Ok) {
        for (let i = 0; i < arpHandlers.length; i++) arpHandlers[i]!.onArp!(this.arp, pkt);
      }
    } else if (pkt.ipVersion !== 0) {
      this.stats.ip++;
      for (let i = 0; i < ipHandlers.length; i++) ipHandlers[i]!.onIp!(pkt);
      if (pkt.srcPort >= 0) {
        if (pkt.ipProto === IPPROTO_UDP) for (let i = 0; i < udpHandlers.length; i++) udpHandlers[i]!.onUdp!(pkt);
        else if (pkt.ipProto === IPPROTO_TCP) for (let i = 0; i < tcpHandlers.length; i++) tcpHandlers[i]!.onTcp!(pkt);
      } else if ((pkt.ipProto === IPPROTO_ICMP || pkt.ipProto === IPPROTO_ICMPV6) && !pkt.ipFragment && pkt.l4Start > 0) {
        for (let i = 0; i < icmpHandlers.length; i++) icmpHandlers[i]!.onIcmp!(pkt);
      }
    }
    if (pkt.malformed !== null) this.reportMalformed(pkt);
    if (pkt.encap !== Encap.None && pkt.depth < MAX_ENCAP_DEPTH) {
      const inner = this.packets[pkt.depth + 1]!;
      decodeInner(pkt, inner);
      this.stats.inner++;
      this.dispatch(inner);
    }
  }

  finish(): void {
    for (const a of this.analyzers) a.finish?.();
    this.stats.stateEntries = this.analyzers.reduce((n, a) => n + (a.stateSize?.() ?? 0), 0);
  }

  private evidenceOf(pkt: Packet): Evidence {
    const ev: Evidence = { source: this.source, frame: pkt.frameNo };
    if (pkt.depth > 0) ev.detail = describeEncapsulation(pkt);
    return ev;
  }

  private reportUnsupported(frame: RawFrame): void {
    this.lastUnsupported = frame.linktype;
    this.emit(
      'decode-unsupported-link',
      `${this.source}|${frame.linktype}`,
      frame.tsSec * 1000,
      { message: `link type ${frame.linktype} is not decoded; its frames are not analysed`, entities: [] },
      { source: this.source, frame: frame.frameNo },
    );
  }

  private reportMalformed(pkt: Packet): void {
    this.stats.malformed++;
    this.emit(
      'decode-malformed',
      `${pkt.malformedLayer}|${pkt.malformed}`,
      pkt.timeMs,
      { message: `malformed ${pkt.malformedLayer}: ${pkt.malformed}`, entities: [] },
      this.evidenceOf(pkt),
    );
  }

  private emit(rule: string, key: string, timeMs: number, r: Report, evidence: Evidence | undefined): void {
    emitReport(this.findings, this.redactor, rule, key, timeMs, r, evidence);
  }
}

/** "inside VXLAN 10.0.0.1->10.0.0.2 id 42", outermost first, for evidence of inner frames. */
export function describeEncapsulation(pkt: Packet): string {
  const parts: string[] = [];
  for (let p = pkt.outer; p !== null; p = p.outer) {
    const src = p.ipVersion === 4 ? ip4ToString(p.ip4Src) : p.ipVersion === 6 ? ip6ToString(p.buf, p.ip6SrcOff) : '?';
    const dst = p.ipVersion === 4 ? ip4ToString(p.ip4Dst) : p.ipVersion === 6 ? ip6ToString(p.buf, p.ip6DstOff) : '?';
    parts.unshift(`${ENCAP_NAMES[p.encap] ?? 'tunnel'} ${src}->${dst}${p.encapId >= 0 ? ` id ${p.encapId}` : ''}`);
  }
  return `inside ${parts.join(' inside ')}`;
}
