import { macToString } from '../../decode/addr.js';
import { readMac, u16le } from '../../decode/bytes.js';
import type { Packet } from '../../decode/packet.js';
import {
  BssInfo,
  decodeBssInfo,
  MGMT_BEACON,
  MGMT_DEAUTHENTICATION,
  MGMT_DISASSOCIATION,
  MGMT_PROBE_RESPONSE,
  WlanSecurity,
} from '../../decode/wlan.js';
import type { Entity } from '../../findings/finding.js';
import { BoundedMap } from '../../util/bounded-map.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition } from '../analyzer.js';
import { sectionOf } from '../../config/config.js';
import { WIFI_SECTION, type WifiConfig } from './wlan-config.js';

// Wi-Fi access points that put themselves in the middle (T1557.004, Evil
// Twin), from the management frames of a monitor-mode capture:
// - an open or WEP access point advertising the name of a network other
//   access points protect (the copy clients join without a password, whose
//   traffic its owner reads: airbase-ng, wifiphisher, a Pineapple's open AP);
// - an access point the config does not list for a network it names;
// - one BSSID advertising many network names (KARMA/MANA: answering every
//   name clients probe for, so they join it believing it is home);
// - deauthentication and disassociation floods (aireplay-ng, mdk4), which
//   knock clients off their network to make them join the twin, or to
//   capture their handshakes.
// Several BSSIDs with one name and the same protection are normal (roaming),
// and are not reported without the config's list.

/** Networks (SSIDs) and the access points advertising each, followed at once. */
const MAX_SSIDS = 4096;
const MAX_BSSIDS_PER_SSID = 64;
/** Access points whose advertised names are counted. */
const MAX_RESPONDERS = 4096;
/** Distinct names one BSSID may advertise within KARMA_WINDOW_MS before it counts as a KARMA responder. */
const KARMA_NAMES = 4;
const KARMA_WINDOW_MS = 10 * 60_000;
const MAX_NAMES_SHOWN = 8;
/** Deauthentication or disassociation frames from one transmitter within a second that make a flood. */
const DEAUTH_FLOOD_PER_SECOND = 20;
const MAX_TRANSMITTERS = 4096;
const MAX_TARGETS_SHOWN = 4;

const SECURITY_TEXT = ['open (no encryption)', 'WEP (broken encryption)', 'WPA/WPA2/WPA3'];
const WEAK = (1 << WlanSecurity.Open) | (1 << WlanSecurity.Wep);
const STRONG = 1 << WlanSecurity.Protected;
/** A BSSID whose adverts name one channel, then another, then back, within this time is two devices. */
const CHANNEL_WINDOW_MS = 60_000;

interface Advertiser {
  /** Protections advertised under this BSSID for the name (bits 1 << WlanSecurity): two mean two devices share the BSSID. */
  seen: number;
  /** Of its protected adverts: the authentication offered. */
  enterprise: boolean;
  personal: boolean;
  /** Open by design beside its Enhanced Open (OWE) twin, which its beacons announce. */
  oweTransition: boolean;
  /** The channel its last advert named, and when it last named another; channel changes within CHANNEL_WINDOW_MS. */
  channel: number;
  channelChangedAt: number;
  channelChanges: number;
  /** Channels named, for the finding. */
  channels: number[];
  cloneReported: boolean;
}

interface Network {
  /** The SSID as text, for findings. */
  name: string;
  bssids: Map<number, Advertiser>;
  /** BSSIDs already reported for this name (as its weak twin, or as not listed). */
  reported: Set<number>;
}

interface Responder {
  names: string[];
  windowStart: number;
}

interface DeauthWindow {
  start: number;
  count: number;
  broadcast: number;
  targets: number[];
  reasons: number[];
}

function ssidText(buf: Buffer, start: number, len: number): string {
  return buf.toString('utf8', start, start + len);
}

/** How an advert protects the network: its weakest protection unless `strong`. */
function authText(a: Advertiser, strong: boolean): string {
  if (!strong || (a.seen & STRONG) === 0) return SECURITY_TEXT[(a.seen & (1 << WlanSecurity.Open)) !== 0 ? WlanSecurity.Open : WlanSecurity.Wep]!;
  const kinds = [a.personal ? 'personal (shared key or SAE)' : '', a.enterprise ? 'enterprise (802.1X)' : ''].filter(Boolean);
  return `${SECURITY_TEXT[WlanSecurity.Protected]}${kinds.length > 0 ? ` ${kinds.join(' and ')}` : ''}`;
}

export class WlanAnalyzer implements Analyzer {
  private readonly cfg: WifiConfig;
  private readonly info = new BssInfo();
  private readonly networks = new BoundedMap<string, Network>(MAX_SSIDS);
  private readonly responders = new BoundedMap<number, Responder>(MAX_RESPONDERS);
  private readonly deauths = new BoundedMap<number, DeauthWindow>(MAX_TRANSMITTERS);

  constructor(private readonly ctx: AnalyzerContext) {
    this.cfg = sectionOf(ctx.config, WIFI_SECTION);
  }

  onWlanManagement(pkt: Packet): void {
    const subtype = pkt.wlanManagement;
    if (subtype === MGMT_BEACON || subtype === MGMT_PROBE_RESPONSE) this.onAdvertisement(pkt);
    else if (subtype === MGMT_DEAUTHENTICATION || subtype === MGMT_DISASSOCIATION) this.onDeauth(pkt, subtype);
  }

  stateSize(): number {
    return this.networks.size + this.responders.size + this.deauths.size;
  }

  private onAdvertisement(pkt: Packet): void {
    const info = this.info;
    if (!decodeBssInfo(pkt, info) || info.hidden) return;
    const buf = pkt.buf;
    const bssid = readMac(buf, pkt.wlanHeader + 16);
    const key = buf.toString('latin1', info.ssidStart, info.ssidStart + info.ssidLen);
    let net = this.networks.get(key);
    if (!net) {
      net = { name: ssidText(buf, info.ssidStart, info.ssidLen), bssids: new Map(), reported: new Set() };
      this.networks.set(key, net);
    }
    let ad = net.bssids.get(bssid);
    if (!ad) {
      if (net.bssids.size >= MAX_BSSIDS_PER_SSID) return;
      ad = { seen: 0, enterprise: false, personal: false, oweTransition: false, channel: info.channel, channelChangedAt: -Infinity, channelChanges: 0, channels: [], cloneReported: false };
      net.bssids.set(bssid, ad);
    }
    ad.seen |= 1 << info.security;
    if (info.security === WlanSecurity.Protected) {
      ad.enterprise ||= info.enterprise;
      ad.personal ||= info.personal;
    } else if (info.oweTransition) {
      ad.oweTransition = true;
    }
    this.checkListed(pkt, key, net, bssid, ad);
    this.checkTwin(pkt, net, bssid, info.security);
    this.checkChannel(pkt, net, bssid, ad, info.channel);
    this.countNames(pkt, bssid, key, net.name);
  }

  /** An access point the config does not list for a network it lists. */
  private checkListed(pkt: Packet, key: string, net: Network, bssid: number, ad: Advertiser): void {
    const listed = this.cfg.accessPoints.get(key);
    if (!listed || listed.has(bssid) || net.reported.has(bssid)) return;
    net.reported.add(bssid);
    const bssidText = macToString(bssid);
    this.ctx.report('wlan-rogue-access-point', `${key}|${bssidText}`, pkt, {
      message: `${bssidText} advertises the network '${net.name}' (${authText(ad, true)}), but is not one of its access points in the config (${[...listed].map(macToString).join(', ')})`,
      entities: [
        { type: 'mac', value: bssidText, role: 'attacker' },
        { type: 'ssid', value: net.name, role: 'impersonated' },
        ...[...listed].slice(0, MAX_TARGETS_SHOWN).map((m): Entity => ({ type: 'mac', value: macToString(m), role: 'legitimate' })),
      ],
    });
  }

  /**
   * The same name advertised without protection (or with WEP) beside adverts
   * that protect it: from other BSSIDs, or from the same one (a copy that
   * clones the access point's BSSID, as airbase-ng -a does).
   */
  private checkTwin(pkt: Packet, net: Network, bssid: number, security: WlanSecurity): void {
    // Whichever side was heard first: the weak one is this BSSID, or (for a protected advert) any weak one not reported yet.
    let weak = -1;
    const strong: number[] = [];
    for (const [b, a] of net.bssids) {
      if ((a.seen & STRONG) !== 0) strong.push(b);
      if ((a.seen & WEAK) === 0 || a.oweTransition || net.reported.has(b)) continue;
      if (security !== WlanSecurity.Protected ? b === bssid : weak === -1) weak = b;
    }
    if (weak === -1 || strong.length === 0) return;
    net.reported.add(weak);
    const weakAd = net.bssids.get(weak)!;
    const weakText = macToString(weak);
    const cloned = strong.includes(weak);
    const others = strong.filter((b) => b !== weak);
    const strongAd = net.bssids.get(strong[0]!)!;
    const where = cloned
      ? `its beacons also advertise it ${authText(weakAd, true)} (a second device is using the access point's BSSID for an unprotected copy)`
      : `${others.slice(0, MAX_TARGETS_SHOWN).map(macToString).join(', ')} advertise${others.length === 1 ? 's' : ''} it ${authText(strongAd, true)}`;
    this.ctx.report('wlan-open-twin', `${net.name}|${weakText}`, pkt, {
      message:
        `${weakText} advertises the network '${net.name}' ${authText(weakAd, false)}, while ${where}: ` +
        `devices that remember the network can join the copy without its password, and its owner reads their traffic`,
      entities: [
        cloned ? { type: 'mac', value: weakText, role: 'impersonated' } : { type: 'mac', value: weakText, role: 'attacker' },
        { type: 'ssid', value: net.name, role: 'impersonated' },
        ...others.slice(0, MAX_TARGETS_SHOWN).map((m): Entity => ({ type: 'mac', value: macToString(m), role: 'legitimate' })),
      ],
    });
  }

  /**
   * One BSSID whose adverts name a channel, another, and the first again
   * within a minute: two devices share the BSSID (a clone of the access
   * point, protection copied too). An access point that moves (DFS, a new
   * channel plan) changes channel once.
   */
  private checkChannel(pkt: Packet, net: Network, bssid: number, ad: Advertiser, channel: number): void {
    if (channel < 0 || channel === ad.channel) return;
    const t = pkt.timeMs;
    ad.channelChanges = t - ad.channelChangedAt <= CHANNEL_WINDOW_MS ? ad.channelChanges + 1 : 1;
    ad.channelChangedAt = t;
    if (!ad.channels.includes(ad.channel) && ad.channel >= 0 && ad.channels.length < MAX_TARGETS_SHOWN) ad.channels.push(ad.channel);
    if (!ad.channels.includes(channel) && ad.channels.length < MAX_TARGETS_SHOWN) ad.channels.push(channel);
    ad.channel = channel;
    if (ad.channelChanges < 2 || ad.cloneReported) return;
    ad.cloneReported = true;
    const bssidText = macToString(bssid);
    this.ctx.report('wlan-cloned-bssid', `${net.name}|${bssidText}`, pkt, {
      message:
        `${bssidText} advertises the network '${net.name}' on channels ${ad.channels.join(' and ')} by turns within a minute: ` +
        `two devices are using one BSSID, the access point and a copy of it that clients may roam to`,
      entities: [
        { type: 'mac', value: bssidText, role: 'impersonated' },
        { type: 'ssid', value: net.name, role: 'impersonated' },
      ],
    });
  }

  /** One BSSID advertising many network names within a window: KARMA/MANA answering whatever clients ask for. */
  private countNames(pkt: Packet, bssid: number, key: string, name: string): void {
    const t = pkt.timeMs;
    let r = this.responders.get(bssid);
    if (!r || t - r.windowStart > KARMA_WINDOW_MS || t < r.windowStart) {
      r = { names: [], windowStart: t };
      this.responders.set(bssid, r);
    }
    if (r.names.includes(key)) return;
    if (r.names.length < KARMA_NAMES * 4) r.names.push(key);
    if (r.names.length < KARMA_NAMES) return;
    const bssidText = macToString(bssid);
    const shown = r.names.slice(0, MAX_NAMES_SHOWN).map((k) => this.networks.get(k)?.name ?? Buffer.from(k, 'latin1').toString('utf8'));
    this.ctx.report('wlan-karma-responder', bssidText, pkt, {
      message: `${bssidText} advertised ${r.names.length}${r.names.length >= KARMA_NAMES * 4 ? '+' : ''} different network names within ${KARMA_WINDOW_MS / 60_000} minutes (${shown.map((n) => `'${n}'`).join(', ')}), the latest '${name}': an access point answering for whatever network clients ask for (KARMA/MANA), so they join it believing it is theirs`,
      entities: [{ type: 'mac', value: bssidText, role: 'attacker' }, ...shown.slice(0, MAX_TARGETS_SHOWN).map((n): Entity => ({ type: 'ssid', value: n, role: 'impersonated' }))],
    });
  }

  private onDeauth(pkt: Packet, subtype: number): void {
    const buf = pkt.buf;
    const h = pkt.wlanHeader;
    const transmitter = readMac(buf, h + 10);
    const receiver = readMac(buf, h + 4);
    const t = pkt.timeMs;
    let w = this.deauths.get(transmitter);
    if (!w || t - w.start > 1000 || t < w.start) {
      w = { start: t, count: 0, broadcast: 0, targets: [], reasons: [] };
      this.deauths.set(transmitter, w);
    }
    w.count++;
    if ((buf[h + 4]! & 0x01) !== 0) w.broadcast++;
    else if (!w.targets.includes(receiver) && w.targets.length < MAX_TARGETS_SHOWN) w.targets.push(receiver);
    const reason = pkt.end - pkt.wlanBody >= 2 ? u16le(buf, pkt.wlanBody) : -1;
    if (reason >= 0 && !w.reasons.includes(reason) && w.reasons.length < 4) w.reasons.push(reason);
    // Once per second of flood: the finding's count is the number of such seconds.
    if (w.count !== DEAUTH_FLOOD_PER_SECOND) return;
    const from = macToString(transmitter);
    const targets = w.targets.map(macToString);
    const kind = subtype === MGMT_DEAUTHENTICATION ? 'deauthentication' : 'disassociation';
    this.ctx.report('wlan-deauth-flood', from, pkt, {
      message:
        `${w.count} or more ${kind} frames within a second claiming to come from ${from}` +
        `${w.broadcast > 0 ? `, ${w.broadcast} of them to every station` : ''}${targets.length > 0 ? `, to ${targets.join(', ')}` : ''}` +
        ` (reason codes ${w.reasons.join(', ')}): clients are being forced off the network, to join a twin or to have their handshakes captured`,
      entities: [{ type: 'mac', value: from, role: 'impersonated' }, ...targets.map((m): Entity => ({ type: 'mac', value: m, role: 'victim' }))],
    });
  }
}

export const wlanAnalyzer: AnalyzerDefinition = {
  name: 'wlan',
  rules: ['wlan-open-twin', 'wlan-cloned-bssid', 'wlan-rogue-access-point', 'wlan-karma-responder', 'wlan-deauth-flood'],
  config: WIFI_SECTION as AnalyzerDefinition['config'],
  create: (ctx) => new WlanAnalyzer(ctx),
};
