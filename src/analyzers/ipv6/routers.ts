import { ip6ToString, isVirtualRouterMac, macToString } from '../../decode/addr.js';
import { dnsNamesToText } from '../../decode/dhcpv6.js';
import type { RouterAdvert } from '../../decode/icmp6.js';
import { eui64Mac, ip6EqualsStored, storedIp6ToString, storeIp6, IP6_WORDS } from '../../decode/ip6-addr.js';
import type { Packet } from '../../decode/packet.js';
import type { Entity, Severity } from '../../findings/finding.js';
import type { AnalyzerContext } from '../analyzer.js';
import { checkListed, Listed, type Ipv6Config } from './config.js';
import { ip6Entity, linkSource, macEntity, receiverEntities, senderEntities } from './entities.js';
import { Ip6PrefixSet, prefixText } from './prefix-set.js';

// Router Advertisements (T1557): which routers are established (configured,
// or the first one seen, until one whose MAC is seen forwarding IPv4 as a
// router advertises), RAs from any other sender, RAs that withdraw a router
// in its name (THC kill_router6), and established routers whose prefixes or
// DNS servers change.

/** Established routers kept; more are unusual on one link, the least recently heard is forgotten. */
const MAX_ROUTERS = 64;
/** Prefixes and DNS servers remembered per router. */
const MAX_KEPT = 8;
/** A new router's options are learned silently this long (it may spread them over several RAs). */
const LEARN_MS = 60_000;
/** A router that withdraws itself, comes back and withdraws again within this time is not just restarting. */
const RETURN_WINDOW_MS = 10 * 60_000;
const MAX_TEXT = 256;
/** find(): any link-layer address. */
const ANY_MAC = -2;

class Router {
  readonly ip = new Uint32Array(IP6_WORDS);
  readonly prefixes = new Ip6PrefixSet(MAX_KEPT);
  readonly dns = new Ip6PrefixSet(MAX_KEPT);
  lastSeen: number;
  /** Currently a default router (last RA had lifetime > 0). */
  isDefault = false;
  managed = false;
  other = false;
  /** When it last withdrew itself (lifetime 0 after being a default router), or -1. */
  withdrawnAt = -1;
  /** Established only for advertising first (nothing configured, no other evidence). */
  byOrder = false;
  /** Times it came back after withdrawing, within the window starting at returnWindowStart. */
  returns = 0;
  returnWindowStart = 0;

  constructor(
    buf: Buffer,
    off: number,
    public mac: number,
    t: number,
    /** New options are learned silently until then (a router may spread them over several RAs). */
    readonly learnUntil: number,
  ) {
    storeIp6(this.ip, 0, buf, off);
    this.lastSeen = t;
  }

  is(buf: Buffer, off: number): boolean {
    return ip6EqualsStored(this.ip, 0, buf, off);
  }

  ipText(): string {
    return storedIp6ToString(this.ip, 0);
  }
}

const enum Trust {
  Established,
  Rogue,
  /** A lifetime-0 RA before any router is established: nothing to protect or compare yet. */
  Ignore,
}

export class RouterWatch {
  private readonly routers: Router[] = [];
  /** Why the routers established first lost the trust, for reports of them. */
  private trustMoved: string | null = null;

  constructor(
    private readonly ctx: AnalyzerContext,
    private readonly cfg: Ipv6Config,
  ) {}

  get size(): number {
    return this.routers.length;
  }

  /** Whether the address at buf[off] is an established router's. */
  isRouter(buf: Buffer, off: number): boolean {
    return this.find(buf, off, ANY_MAC) !== undefined;
  }

  /** The link-layer address of the established router at the address buf[off], or -1 (none, or not known). */
  routerMac(buf: Buffer, off: number): number {
    return this.find(buf, off, ANY_MAC)?.mac ?? -1;
  }

  /** The established router at the address buf[off] with link-layer address `mac` (-1 or ANY_MAC match any). */
  private find(buf: Buffer, off: number, mac: number): Router | undefined {
    for (const r of this.routers) {
      if (r.is(buf, off) && (mac === ANY_MAC || mac === -1 || r.mac === -1 || r.mac === mac)) return r;
    }
    return undefined;
  }

  /** Established routers exist and none of them tells hosts to use DHCPv6 (M and O flags clear). */
  declinesDhcp6(): boolean {
    return this.routers.length > 0 && this.routers.every((r) => !r.managed && !r.other);
  }

  /** The first established router (for naming the legitimate one in findings). */
  private established(): Router | undefined {
    return this.routers[0];
  }

  onAdvert(pkt: Packet, ra: RouterAdvert): void {
    const buf = pkt.buf;
    const src = pkt.ip6SrcOff;
    const mac = linkSource(pkt, ra.sourceMac);
    const exact = this.find(buf, src, mac);
    const sameAddress = exact ?? this.find(buf, src, ANY_MAC);
    const listed = checkListed(this.cfg.routers, buf, src, mac);
    const impersonation = this.impersonation(pkt, ra, mac, exact, sameAddress, listed);
    if (impersonation !== null) {
      if (ra.lifetime === 0) this.reportKill(pkt, mac, sameAddress, impersonation);
      else this.reportRogue(pkt, ra, mac, `impersonates router ${ip6ToString(buf, src)}: ${impersonation}`, 'high', sameAddress);
      return;
    }
    let router = exact;
    if (!router) {
      const trust = this.decideTrust(ra, mac, listed);
      if (trust === Trust.Ignore) return;
      if (trust === Trust.Rogue && this.takesTrustOver(ra, mac, listed)) {
        const former = this.routers.map((r) => `${r.ipText()}${r.mac === -1 ? '' : ` (${macToString(r.mac)})`}`).join(', ');
        this.trustMoved = `trust moved from ${former} to ${ip6ToString(buf, src)}, whose MAC forwards IPv4 traffic as a router`;
        this.routers.length = 0;
        this.update(this.addRouter(buf, src, mac, pkt.timeMs, pkt.timeMs + LEARN_MS), pkt, ra);
        return;
      }
      if (trust === Trust.Rogue) {
        const severity: Severity = listed === Listed.No || this.routers.length > 0 ? 'high' : 'medium';
        this.reportRogue(pkt, ra, mac, this.rogueReason(ra, listed), severity, undefined);
        return;
      }
      // Another address of an established router's MAC learns nothing silently: its options are compared with that router's.
      const sameDevice = this.hasMac(mac);
      // Another address of a device established by order is established by order too.
      const byOrder = listed === Listed.NoList && (!sameDevice || this.routers.some((r) => r.mac === mac && r.byOrder));
      router = this.addRouter(buf, src, mac, pkt.timeMs, sameDevice ? pkt.timeMs : pkt.timeMs + LEARN_MS);
      router.byOrder = byOrder;
    }
    this.update(router, pkt, ra);
  }

  /** Why this RA is sent in another router's name, or null. */
  private impersonation(pkt: Packet, ra: RouterAdvert, mac: number, exact: Router | undefined, sameAddress: Router | undefined, listed: Listed): string | null {
    const buf = pkt.buf;
    if (listed === Listed.Impersonated) return `configured router address sent from ${macToString(mac)}, which is not a configured router MAC`;
    if (mac !== -1 && ra.sourceMac !== -1 && pkt.ethSrc !== -1 && ra.sourceMac !== pkt.ethSrc && !isVirtualRouterMac(ra.sourceMac)) {
      return `its source link-layer option names ${macToString(ra.sourceMac)} but it was sent from ${macToString(pkt.ethSrc)}`;
    }
    if (exact || mac === -1 || isVirtualRouterMac(mac) || this.cfg.routers.macs.has(mac)) return null;
    if (sameAddress && sameAddress.mac !== -1 && !isVirtualRouterMac(sameAddress.mac)) {
      return `the router at that address is ${macToString(sameAddress.mac)}, this RA came from ${macToString(mac)}`;
    }
    const derived = eui64Mac(buf, pkt.ip6SrcOff);
    if (derived !== -1 && derived !== mac) return `the address is derived from MAC ${macToString(derived)}, this RA came from ${macToString(mac)}`;
    return null;
  }

  private decideTrust(ra: RouterAdvert, mac: number, listed: Listed): Trust {
    if (listed === Listed.Yes) return Trust.Established;
    if (listed === Listed.No) return Trust.Rogue;
    // Nothing configured: the first router seen is the network's; the same device under another address too.
    if (this.hasMac(mac)) return Trust.Established;
    if (this.routers.length === 0) {
      if (ra.lifetime > 0) return Trust.Established;
      return ra.managed && ra.prefixCount === 0 && ra.dnsCount === 0 ? Trust.Rogue : Trust.Ignore;
    }
    return Trust.Rogue;
  }

  /**
   * Nothing configured, and the routers established only for advertising
   * first are not seen forwarding IPv4 while this RA's sender is: the network's
   * router, heard after a rogue (a capture started during the attack).
   */
  private takesTrustOver(ra: RouterAdvert, mac: number, listed: Listed): boolean {
    const network = this.ctx.network;
    if (listed !== Listed.NoList || ra.lifetime === 0 || mac === -1 || !network.isObservedRouterMac(mac) || this.routers.length === 0) return false;
    return this.routers.every((r) => r.byOrder && !network.isObservedRouterMac(r.mac));
  }

  private rogueReason(ra: RouterAdvert, listed: Listed): string {
    const est = this.established();
    const base =
      listed === Listed.No
        ? 'not a configured router'
        : est
          ? `a second router beside the established ${est.ipText()}${est.mac === -1 ? '' : ` (${macToString(est.mac)})`}${this.trustMoved !== null ? ` (${this.trustMoved})` : ''}`
          : 'no IPv6 router is established on this link';
    const mitm6Like = ra.lifetime === 0 && ra.managed && ra.prefixCount === 0 && ra.dnsCount === 0;
    return mitm6Like ? `${base}; managed flag, lifetime 0 and no prefix: the RA mitm6 sends to push hosts to DHCPv6` : base;
  }

  private hasMac(mac: number): boolean {
    if (mac !== -1) for (const r of this.routers) if (r.mac === mac) return true;
    return false;
  }

  private addRouter(buf: Buffer, off: number, mac: number, t: number, learnUntil: number): Router {
    if (this.routers.length >= MAX_ROUTERS) {
      let quietest = 0;
      for (let i = 1; i < this.routers.length; i++) if (this.routers[i]!.lastSeen < this.routers[quietest]!.lastSeen) quietest = i;
      this.routers.splice(quietest, 1);
    }
    const r = new Router(buf, off, mac, t, learnUntil);
    this.routers.push(r);
    return r;
  }

  /** An established router's RA: its default-router state and its options. */
  private update(router: Router, pkt: Packet, ra: RouterAdvert): void {
    const t = pkt.timeMs;
    router.lastSeen = t;
    if (router.mac === -1) router.mac = linkSource(pkt, ra.sourceMac);
    router.managed = ra.managed;
    router.other = ra.other;
    if (ra.lifetime > 0) {
      if (!router.isDefault && router.withdrawnAt >= 0) {
        if (t - router.returnWindowStart > RETURN_WINDOW_MS || t < router.returnWindowStart) {
          router.returnWindowStart = t;
          router.returns = 0;
        }
        router.returns++;
      }
      router.isDefault = true;
    } else if (router.isDefault) {
      router.isDefault = false;
      const returns = router.withdrawnAt >= 0 && t - router.returnWindowStart <= RETURN_WINDOW_MS ? router.returns : 0;
      router.withdrawnAt = t;
      this.reportWithdrawal(pkt, router, returns);
    }
    this.learnOptions(router, pkt, ra);
  }

  private learnOptions(router: Router, pkt: Packet, ra: RouterAdvert): void {
    const buf = pkt.buf;
    const learning = pkt.timeMs <= router.learnUntil;
    for (let i = 0; i < ra.prefixCount; i++) {
      const off = ra.prefixOff[i]!;
      const bits = ra.prefixLength[i]!;
      if (ra.prefixValid[i] === 0 || router.prefixes.has(buf, off, bits)) continue;
      if (!learning && !this.sameDevice(router, (r) => r.prefixes.has(buf, off, bits))) {
        this.reportChange(pkt, router, 'prefix', prefixText(buf, off, bits), this.sameDeviceTexts(router, (r) => r.prefixes), []);
      }
      router.prefixes.add(buf, off, bits);
    }
    for (let i = 0; i < ra.dnsCount; i++) {
      const off = ra.dnsOff[i]!;
      if (ra.dnsLifetime[i] === 0 || router.dns.has(buf, off, 128)) continue;
      if (!learning && !this.sameDevice(router, (r) => r.dns.has(buf, off, 128))) {
        this.reportChange(pkt, router, 'DNS server', ip6ToString(buf, off), this.sameDeviceTexts(router, (r) => r.dns), [ip6Entity(buf, off, 'dns-server')]);
      }
      router.dns.add(buf, off, 128);
    }
  }

  /** Whether `test` holds for another address of the same device (same MAC); called only for options new to `router`. */
  private sameDevice(router: Router, test: (r: Router) => boolean): boolean {
    if (router.mac === -1) return false;
    for (const r of this.routers) if (r !== router && r.mac === router.mac && test(r)) return true;
    return false;
  }

  private sameDeviceTexts(router: Router, set: (r: Router) => Ip6PrefixSet): string[] {
    const out: string[] = [];
    for (const r of this.routers) if (r === router || (router.mac !== -1 && r.mac === router.mac)) for (const x of set(r).texts()) if (!out.includes(x)) out.push(x);
    return out;
  }

  /** Prefixes and DNS servers in the RA that no established router advertises. */
  private unfamiliarOptions(pkt: Packet, ra: RouterAdvert): string[] {
    const buf = pkt.buf;
    const out: string[] = [];
    for (let i = 0; i < ra.prefixCount; i++) {
      const off = ra.prefixOff[i]!;
      const bits = ra.prefixLength[i]!;
      if (ra.prefixValid[i]! > 0 && !this.routers.some((r) => r.prefixes.has(buf, off, bits))) out.push(`prefix ${prefixText(buf, off, bits)}`);
    }
    for (let i = 0; i < ra.dnsCount; i++) {
      const off = ra.dnsOff[i]!;
      if (ra.dnsLifetime[i]! > 0 && !this.routers.some((r) => r.dns.has(buf, off, 128))) out.push(`DNS server ${ip6ToString(buf, off)}`);
    }
    return out;
  }

  private reportRogue(pkt: Packet, ra: RouterAdvert, mac: number, reason: string, base: Severity, impersonated: Router | undefined): void {
    const buf = pkt.buf;
    const unfamiliar = ra.lifetime > 0 ? this.unfamiliarOptions(pkt, ra) : [];
    const severity: Severity = unfamiliar.length > 0 ? 'critical' : base;
    const entities: Entity[] = senderEntities(pkt, 'attacker');
    if (ra.sourceMac !== -1 && ra.sourceMac !== pkt.ethSrc) entities.push(macEntity(ra.sourceMac, 'claimed'));
    if (impersonated) {
      entities.push(ip6Entity(buf, pkt.ip6SrcOff, 'impersonated'));
      if (impersonated.mac !== -1) entities.push(macEntity(impersonated.mac, 'legitimate'));
    } else {
      const est = this.established();
      if (est && est.mac !== -1) entities.push(macEntity(est.mac, 'legitimate'));
    }
    for (let i = 0; i < ra.dnsCount; i++) entities.push(ip6Entity(buf, ra.dnsOff[i]!, 'dns-server'));
    entities.push(...receiverEntities(pkt));
    const what = ra.lifetime > 0 ? `offers itself as default router for ${ra.lifetime} s` : 'advertises with router lifetime 0';
    const news = unfamiliar.length > 0 ? ` with ${unfamiliar.join(', ')} that the established routers do not advertise` : '';
    this.ctx.report('ipv6-rogue-router-advertisement', `${mac === -1 ? '?' : macToString(mac)}|${ip6ToString(buf, pkt.ip6SrcOff)}`, pkt, {
      message: cap(`router advertisement from ${ip6ToString(buf, pkt.ip6SrcOff)} (${mac === -1 ? 'no link-layer address' : macToString(mac)}) ${what}${news} (${describeAdvert(pkt, ra)}): ${reason}`),
      entities,
      severity,
    });
  }

  private reportKill(pkt: Packet, mac: number, router: Router | undefined, reason: string): void {
    const buf = pkt.buf;
    const routerIp = ip6ToString(buf, pkt.ip6SrcOff);
    const legitimate = router?.mac ?? eui64Mac(buf, pkt.ip6SrcOff);
    const entities: Entity[] = [];
    if (pkt.ethSrc !== -1) entities.push(macEntity(pkt.ethSrc, 'attacker'));
    entities.push(ip6Entity(buf, pkt.ip6SrcOff, 'impersonated'));
    if (legitimate !== -1 && legitimate !== pkt.ethSrc) entities.push(macEntity(legitimate, 'legitimate'));
    entities.push(...receiverEntities(pkt));
    this.ctx.report('ipv6-router-kill', `${mac === -1 ? '?' : macToString(mac)}|${routerIp}`, pkt, {
      message: cap(`router advertisement with lifetime 0 in the name of ${routerIp}${router ? ' (an established router)' : ''}: ${reason}; hosts drop it as their default router`),
      entities,
    });
  }

  /** An established router withdrew itself from its own address and MAC: a shutdown, unless it keeps coming back. */
  private reportWithdrawal(pkt: Packet, router: Router, returns: number): void {
    const ip = router.ipText();
    const entities: Entity[] = [ip6Entity(pkt.buf, pkt.ip6SrcOff, 'source')];
    if (router.mac !== -1) entities.push(macEntity(router.mac, 'source'));
    if (returns === 0) {
      this.ctx.report('ipv6-router-kill', `${ip}|shutdown`, pkt, {
        message: `router ${ip} announced router lifetime 0 from its own address and MAC: it stops being a default router (shutdown, per RFC 4861)`,
        entities,
        severity: 'info',
        confidence: 0.3,
      });
      return;
    }
    this.ctx.report('ipv6-router-kill', `${ip}|${router.mac === -1 ? '?' : macToString(router.mac)}`, pkt, {
      message: `router ${ip} withdrew itself with lifetime 0 again after coming back ${returns} time(s) within ${RETURN_WINDOW_MS / 60_000} minutes: lifetime-0 RAs interleave with its normal ones, as when kill_router6 also forges the router's MAC`,
      entities: entities.map((e) => ({ ...e, role: 'impersonated' })),
      severity: returns >= 2 ? 'high' : 'medium',
      confidence: returns >= 2 ? 0.7 : 0.5,
    });
  }

  private reportChange(pkt: Packet, router: Router, kind: string, value: string, before: string[], extra: Entity[]): void {
    const ip = router.ipText();
    const entities: Entity[] = [ip6Entity(pkt.buf, pkt.ip6SrcOff, 'source')];
    if (router.mac !== -1) entities.push(macEntity(router.mac, 'source'));
    this.ctx.report('ipv6-ra-change', `${ip}|${kind}|${value}`, pkt, {
      message: cap(`established router ${ip} now advertises ${kind} ${value}${before.length > 0 ? ` (before: ${before.join(', ')})` : ''}`),
      entities: [...entities, ...extra, ...receiverEntities(pkt)],
    });
  }
}

/** "M=1 O=1 preference high, prefix fd53::/64, DNS fd53::1, search example.com" for messages. */
function describeAdvert(pkt: Packet, ra: RouterAdvert): string {
  const buf = pkt.buf;
  const parts = [`M=${ra.managed ? 1 : 0} O=${ra.other ? 1 : 0} preference ${ra.preference > 0 ? 'high' : ra.preference < 0 ? 'low' : 'medium'}`];
  for (let i = 0; i < ra.prefixCount; i++) parts.push(`prefix ${prefixText(buf, ra.prefixOff[i]!, ra.prefixLength[i]!)}`);
  for (let i = 0; i < ra.dnsCount; i++) parts.push(`DNS ${ip6ToString(buf, ra.dnsOff[i]!)}`);
  if (ra.dnsslOff >= 0) parts.push(`search ${dnsNamesToText(buf, ra.dnsslOff, ra.dnsslEnd, 64)}`);
  for (let i = 0; i < ra.routeCount; i++) {
    const b = Buffer.alloc(16);
    buf.copy(b, 0, ra.routeOff[i]!, ra.routeOff[i]! + ra.routeBytes[i]!);
    parts.push(`route ${ip6ToString(b, 0)}/${ra.routeLength[i]}`);
  }
  return parts.join(', ');
}

function cap(text: string): string {
  return text.length > 4 * MAX_TEXT ? `${text.slice(0, 4 * MAX_TEXT)}…` : text;
}
