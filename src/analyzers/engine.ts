import type { RawFrame } from '../capture/frame.js';
import { sectionOf, type SniffwatchConfig } from '../config/config.js';
import { ArpDecode, ArpMessage, decodeArp } from '../decode/arp.js';
import { ip4ToString, ip6ToString } from '../decode/addr.js';
import { decodeAmsduSubframeAt, decodeDecryptedFrame, decodeFrame, decodeInner } from '../decode/decoder.js';
import { ETHERTYPE_EAPOL } from '../decode/wpa.js';
import { ENCAP_NAMES, Encap, ETHERTYPE_ARP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, LinkSkip, MAX_ENCAP_DEPTH, Packet } from '../decode/packet.js';
import type { FindingAggregator } from '../findings/aggregate.js';
import type { Evidence } from '../findings/finding.js';
import { SecretRedactor } from '../findings/redact.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition, Report } from './analyzer.js';
import { NetworkModel } from './network-model.js';
import { WpaDecryptor } from './wpa-decryptor.js';
import { WIFI_SECTION } from './wlan/wlan-config.js';
import { emitReport } from './report-sink.js';

// The small core: decodes each frame once into a reused Packet, hands the
// protocol events to the analyzers that asked for them, and follows
// encapsulations (GRE, ERSPAN, VXLAN, GENEVE, TZSP) into the frames they carry,
// and 802.11 A-MSDU aggregates into each of their subframes.

export interface EngineStats {
  frames: number;
  arp: number;
  ip: number;
  /** Frames found inside encapsulations and analysed like captured ones. */
  inner: number;
  malformed: number;
  unsupportedLink: number;
  /** 802.11 data frames whose payload could not be read: protected (WEP/WPA) or fragmented. */
  wlanSkipped: number;
  /** WPA2-protected 802.11 data frames decrypted with a configured network key, and analysed. */
  wlanDecrypted: number;
  /** Entries in all analyzers' tables after finish(). */
  stateEntries: number;
}

export interface EngineOptions {
  showSecrets?: boolean;
  /** Key for secret hashes; the same salt makes hashes comparable across scans and sensors. */
  secretSalt?: string;
}

export class PacketEngine {
  readonly stats: EngineStats = { frames: 0, arp: 0, ip: 0, inner: 0, malformed: 0, unsupportedLink: 0, wlanSkipped: 0, wlanDecrypted: 0, stateEntries: 0 };
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
  private readonly ipPayloadHandlers: Analyzer[];
  private readonly wlanHandlers: Analyzer[];
  private readonly redactor: SecretRedactor;
  /** Decrypts Wi-Fi captures of the networks named in the config; null without any. */
  private readonly wpa: WpaDecryptor | null;
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
    const wifi = sectionOf(config, WIFI_SECTION);
    this.wpa = wifi.networks.length > 0 ? new WpaDecryptor(wifi.networks) : null;
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
    this.ipPayloadHandlers = this.analyzers.filter((a) => a.onIpPayload);
    this.wlanHandlers = this.analyzers.filter((a) => a.onWlanManagement);
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

  private dispatch(pkt: Packet): void {
    if (pkt.etherType === ETHERTYPE_ARP && pkt.malformed === null) {
      this.stats.arp++;
      if (decodeArp(pkt, this.arp) === ArpDecode.Ok) this.toArp(this.arp, pkt);
    } else if (pkt.ipVersion !== 0) {
      this.stats.ip++;
      this.toIp(pkt);
      if (pkt.srcPort >= 0) {
        if (pkt.ipProto === IPPROTO_UDP) this.toUdp(pkt);
        else if (pkt.ipProto === IPPROTO_TCP) this.toTcp(pkt);
      } else if (!pkt.ipFragment && pkt.l4Start > 0) {
        if (pkt.ipProto === IPPROTO_ICMP || pkt.ipProto === IPPROTO_ICMPV6) this.toIcmp(pkt);
        else if (pkt.ipProto !== IPPROTO_TCP && pkt.ipProto !== IPPROTO_UDP) this.toIpPayload(pkt);
      }
    }
    if (pkt.wlanManagement >= 0) for (const a of this.wlanHandlers) a.onWlanManagement!(pkt);
    if (pkt.malformed !== null) this.reportMalformed(pkt);
    if (pkt.etherType === ETHERTYPE_EAPOL && this.wpa !== null) this.wpa.onEapol(pkt);
    if (pkt.linkSkip !== LinkSkip.None) {
      // An unreadable 802.11 body carries nothing else to follow.
      if (!this.decrypted(pkt)) this.reportWlanSkipped(pkt);
      return;
    }
    if (pkt.encap !== Encap.None && pkt.depth < MAX_ENCAP_DEPTH) {
      const inner = this.packets[pkt.depth + 1]!;
      if (pkt.encap === Encap.Amsdu) {
        // Each subframe is a frame of its own, analysed at the same depth; each is at least 14 bytes, so the walk ends.
        for (let off = pkt.innerStart; off >= 0; ) {
          off = decodeAmsduSubframeAt(pkt, inner, off);
          this.stats.inner++;
          this.dispatch(inner);
        }
        return;
      }
      decodeInner(pkt, inner);
      this.stats.inner++;
      this.dispatch(inner);
    }
  }

  /** Decrypts a protected 802.11 frame with a configured network's keys and analyses what it carries. */
  private decrypted(pkt: Packet): boolean {
    if (pkt.linkSkip !== LinkSkip.Protected || this.wpa === null || pkt.depth >= MAX_ENCAP_DEPTH) return false;
    const d = this.wpa.decrypt(pkt);
    if (d === null) return false;
    const inner = this.packets[pkt.depth + 1]!;
    decodeDecryptedFrame(pkt, inner, d.plaintext, d.len);
    // Named for the evidence of what is found inside ("inside WPA2-CCMP (decrypted)").
    pkt.encap = Encap.Ccmp;
    this.stats.wlanDecrypted++;
    this.stats.inner++;
    this.dispatch(inner);
    return true;
  }

  // One call site per handler slot, not one loop: each site then always calls the same analyzer
  // class, which V8 can inline, where a loop's single site turns megamorphic (a stub lookup per
  // packet per analyzer). Slots beyond the unrolled ones fall back to the loop.
  private toArp(arp: ArpMessage, pkt: Packet): void {
    const h = this.arpHandlers;
    const n = h.length;
    if (n > 0) h[0]!.onArp!(arp, pkt);
    if (n > 1) h[1]!.onArp!(arp, pkt);
    for (let i = 2; i < n; i++) h[i]!.onArp!(arp, pkt);
  }

  private toIp(pkt: Packet): void {
    const h = this.ipHandlers;
    const n = h.length;
    if (n > 0) h[0]!.onIp!(pkt);
    if (n > 1) h[1]!.onIp!(pkt);
    for (let i = 2; i < n; i++) h[i]!.onIp!(pkt);
  }

  private toUdp(pkt: Packet): void {
    const h = this.udpHandlers;
    const n = h.length;
    if (n > 0) h[0]!.onUdp!(pkt);
    if (n > 1) h[1]!.onUdp!(pkt);
    if (n > 2) h[2]!.onUdp!(pkt);
    if (n > 3) h[3]!.onUdp!(pkt);
    if (n > 4) h[4]!.onUdp!(pkt);
    for (let i = 5; i < n; i++) h[i]!.onUdp!(pkt);
  }

  private toTcp(pkt: Packet): void {
    const h = this.tcpHandlers;
    const n = h.length;
    if (n > 0) h[0]!.onTcp!(pkt);
    if (n > 1) h[1]!.onTcp!(pkt);
    if (n > 2) h[2]!.onTcp!(pkt);
    for (let i = 3; i < n; i++) h[i]!.onTcp!(pkt);
  }

  private toIcmp(pkt: Packet): void {
    const h = this.icmpHandlers;
    const n = h.length;
    if (n > 0) h[0]!.onIcmp!(pkt);
    for (let i = 1; i < n; i++) h[i]!.onIcmp!(pkt);
  }

  private toIpPayload(pkt: Packet): void {
    for (const a of this.ipPayloadHandlers) a.onIpPayload!(pkt);
  }

  finish(): void {
    for (const a of this.analyzers) a.finish?.();
    this.stats.stateEntries = this.analyzers.reduce((n, a) => n + (a.stateSize?.() ?? 0), 0) + (this.wpa?.stateSize() ?? 0);
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

  private reportWlanSkipped(pkt: Packet): void {
    this.stats.wlanSkipped++;
    const message = pkt.linkSkip === LinkSkip.Protected ? WLAN_PROTECTED : WLAN_FRAGMENT;
    this.emit('decode-wlan-skipped', `${this.source}|${pkt.linkSkip}`, pkt.timeMs, { message, entities: [] }, this.evidenceOf(pkt));
  }

  private emit(rule: string, key: string, timeMs: number, r: Report, evidence: Evidence | undefined): void {
    emitReport(this.findings, this.redactor, rule, key, timeMs, r, evidence);
  }
}

const WLAN_PROTECTED = '802.11 data frames protected by WEP/WPA were read but not analysed: their payload is encrypted';
const WLAN_FRAGMENT = 'fragmented 802.11 data frames were read but not analysed: fragments are not reassembled';

/** "inside VXLAN 10.0.0.1->10.0.0.2 id 42", outermost first, for evidence of inner frames. */
export function describeEncapsulation(pkt: Packet): string {
  const parts: string[] = [];
  for (let p = pkt.outer; p !== null; p = p.outer) {
    if (p.ipVersion === 0) {
      // A link-layer container (an 802.11 A-MSDU): no addresses of its own to show.
      parts.unshift(ENCAP_NAMES[p.encap] ?? 'container');
      continue;
    }
    const src = p.ipVersion === 4 ? ip4ToString(p.ip4Src) : p.ipVersion === 6 ? ip6ToString(p.buf, p.ip6SrcOff) : '?';
    const dst = p.ipVersion === 4 ? ip4ToString(p.ip4Dst) : p.ipVersion === 6 ? ip6ToString(p.buf, p.ip6DstOff) : '?';
    parts.unshift(`${ENCAP_NAMES[p.encap] ?? 'tunnel'} ${src}->${dst}${p.encapId >= 0 ? ` id ${p.encapId}` : ''}`);
  }
  return `inside ${parts.join(' inside ')}`;
}
