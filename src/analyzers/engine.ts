import type { RawFrame } from '../capture/frame.js';
import type { SniffwatchConfig } from '../config/config.js';
import { ArpDecode, ArpMessage, decodeArp } from '../decode/arp.js';
import { decodeFrame } from '../decode/decoder.js';
import { ETHERTYPE_ARP, Packet } from '../decode/packet.js';
import type { FindingAggregator } from '../findings/aggregate.js';
import type { Evidence } from '../findings/finding.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition, Report } from './analyzer.js';
import { NetworkModel } from './network-model.js';

// The small core: decodes each frame once into a reused Packet and hands the
// protocol events to the analyzers that asked for them.

export interface EngineStats {
  frames: number;
  arp: number;
  ip: number;
  malformed: number;
  unsupportedLink: number;
  /** Entries in all analyzers' tables after finish(). */
  stateEntries: number;
}

export class PacketEngine {
  readonly stats: EngineStats = { frames: 0, arp: 0, ip: 0, malformed: 0, unsupportedLink: 0, stateEntries: 0 };
  readonly network: NetworkModel;
  private readonly pkt = new Packet();
  private readonly arp = new ArpMessage();
  private readonly arpHandlers: Analyzer[];
  private readonly ipHandlers: Analyzer[];
  private readonly analyzers: Analyzer[];
  private source = '';

  constructor(
    definitions: readonly AnalyzerDefinition[],
    config: SniffwatchConfig,
    private readonly findings: FindingAggregator,
  ) {
    this.network = new NetworkModel(config);
    const ctx: AnalyzerContext = {
      config,
      network: this.network,
      report: (rule, key, pkt, r) => this.emit(rule, key, pkt.timeMs, r, { source: this.source, frame: pkt.frameNo }),
      reportAt: (rule, key, timeMs, r, evidence) => this.emit(rule, key, timeMs, r, evidence),
    };
    this.analyzers = definitions.map((d) => d.create(ctx));
    this.arpHandlers = this.analyzers.filter((a) => a.onArp);
    this.ipHandlers = this.analyzers.filter((a) => a.onIp);
  }

  /** Names the input that following frames come from (for evidence). */
  setSource(source: string): void {
    this.source = source;
  }

  handleFrame(frame: RawFrame): void {
    const pkt = this.pkt;
    this.stats.frames++;
    if (!decodeFrame(frame, pkt)) {
      this.stats.unsupportedLink++;
      if (this.stats.unsupportedLink === 1 || frame.linktype !== this.lastUnsupported) this.reportUnsupported(frame);
      return;
    }
    if (pkt.etherType === ETHERTYPE_ARP && pkt.malformed === null) {
      this.stats.arp++;
      if (decodeArp(pkt, this.arp) === ArpDecode.Ok) {
        for (const a of this.arpHandlers) a.onArp!(this.arp, pkt);
      }
    } else if (pkt.ipVersion !== 0) {
      this.stats.ip++;
      for (const a of this.ipHandlers) a.onIp!(pkt);
    }
    if (pkt.malformed !== null) this.reportMalformed(pkt);
  }

  finish(): void {
    for (const a of this.analyzers) a.finish?.();
    this.stats.stateEntries = this.analyzers.reduce((n, a) => n + (a.stateSize?.() ?? 0), 0);
  }

  private lastUnsupported = -1;

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
      { source: this.source, frame: pkt.frameNo },
    );
  }

  private emit(rule: string, key: string, timeMs: number, r: Report, evidence: Evidence | undefined): void {
    this.findings.report({ rule, key, timeMs, message: r.message, entities: r.entities, evidence, severity: r.severity, confidence: r.confidence });
  }
}
