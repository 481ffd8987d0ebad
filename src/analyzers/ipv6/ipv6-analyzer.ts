import { sectionOf } from '../../config/config.js';
import { decodeDhcp6, Dhcp6Message, isDhcp6Ports } from '../../decode/dhcpv6.js';
import {
  decodeIcmp4Redirect,
  decodeNdRedirect,
  decodeNeighborMessage,
  decodeRouterAdvert,
  ICMP4_REDIRECT,
  ICMP6_NEIGHBOR_ADVERT,
  ICMP6_NEIGHBOR_SOLICIT,
  ICMP6_REDIRECT,
  ICMP6_ROUTER_ADVERT,
  Icmp4Redirect,
  NdRedirect,
  NeighborMessage,
  RouterAdvert,
} from '../../decode/icmp6.js';
import { isLinkLocal6, isMulticast6, isUnspecified6 } from '../../decode/ip6-addr.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, type Packet } from '../../decode/packet.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition } from '../analyzer.js';
import { IPV6_SECTION } from './config.js';
import { Dhcp6Watch } from './dhcpv6-servers.js';
import { linkSource } from './entities.js';
import { NeighborWatch } from './neighbors.js';
import { RedirectWatch } from './redirects.js';
import { RouterWatch } from './routers.js';

// First-hop attacks on IPv6 and ICMP (T1557): rogue Router Advertisements,
// forged router withdrawals, rogue DHCPv6 servers (mitm6), Neighbor Discovery
// spoofing (parasite6) and ICMP/ICMPv6 redirects. Decoding fills reused
// objects; state is a few bounded tables of routers, servers and neighbors.

/** Neighbor Discovery messages must arrive with hop limit 255 (RFC 4861 6.1.2, 8.1); hosts drop others. */
const ND_HOP_LIMIT = 255;

export class Ipv6Analyzer implements Analyzer {
  private readonly ra = new RouterAdvert();
  private readonly ndRedirect = new NdRedirect();
  private readonly neighbor = new NeighborMessage();
  private readonly redirect4 = new Icmp4Redirect();
  private readonly dhcp6 = new Dhcp6Message();
  private readonly routers: RouterWatch;
  private readonly servers: Dhcp6Watch;
  private readonly redirects: RedirectWatch;
  private readonly neighbors: NeighborWatch;

  constructor(ctx: AnalyzerContext) {
    const cfg = sectionOf(ctx.config, IPV6_SECTION);
    this.routers = new RouterWatch(ctx, cfg);
    this.servers = new Dhcp6Watch(ctx, cfg, this.routers);
    this.redirects = new RedirectWatch(ctx, this.routers);
    this.neighbors = new NeighborWatch(ctx, this.routers);
    // The names analyzer asks whose address an answer points at.
    ctx.network.useNeighborBindings(this.neighbors);
  }

  onIcmp(pkt: Packet): void {
    const buf = pkt.buf;
    const off = pkt.l4Start;
    if (pkt.l3End - off < 2) return;
    const type = buf[off]!;
    if (pkt.ipVersion === 4) {
      if (pkt.ipProto === IPPROTO_ICMP && type === ICMP4_REDIRECT && decodeIcmp4Redirect(pkt, this.redirect4)) {
        this.redirects.onIcmp4Redirect(pkt, this.redirect4);
      }
      return;
    }
    if (pkt.ipProto !== IPPROTO_ICMPV6 || type < ICMP6_ROUTER_ADVERT || type > ICMP6_REDIRECT) return;
    // What hosts would discard (RFC 4861 6.1.2, 7.1, 8.1) cannot mislead them: not analysed.
    if (pkt.ttl !== ND_HOP_LIMIT || buf[off + 1] !== 0) return;
    if (type === ICMP6_NEIGHBOR_SOLICIT || type === ICMP6_NEIGHBOR_ADVERT) {
      if (decodeNeighborMessage(pkt, this.neighbor)) this.onNeighborMessage(pkt, this.neighbor);
      return;
    }
    if (!isLinkLocal6(buf, pkt.ip6SrcOff)) return;
    if (type === ICMP6_ROUTER_ADVERT) {
      if (decodeRouterAdvert(pkt, this.ra)) {
        this.routers.onAdvert(pkt, this.ra);
        this.neighbors.onSender(pkt, linkSource(pkt, this.ra.sourceMac));
      }
    } else if (decodeNdRedirect(pkt, this.ndRedirect) && this.acceptableRedirect(buf, this.ndRedirect)) {
      this.redirects.onNdRedirect(pkt, this.ndRedirect);
    }
  }

  /** RFC 4861 7.1: a multicast target, or a solicited advertisement to a multicast destination, is discarded; DAD probes (from ::) bind nothing. */
  private onNeighborMessage(pkt: Packet, n: NeighborMessage): void {
    const buf = pkt.buf;
    if (isMulticast6(buf, n.targetOff)) return;
    if (n.type === ICMP6_NEIGHBOR_ADVERT) {
      if (!(n.solicited && isMulticast6(buf, pkt.ip6DstOff))) this.neighbors.onAdvert(pkt, n);
    } else if (!isUnspecified6(buf, pkt.ip6SrcOff)) {
      this.neighbors.onSolicit(pkt, n);
    }
  }

  /** RFC 4861 8.1: a multicast destination, or a target neither link-local nor the destination, is discarded by hosts. */
  private acceptableRedirect(buf: Buffer, r: NdRedirect): boolean {
    if (isMulticast6(buf, r.destinationOff)) return false;
    return isLinkLocal6(buf, r.targetOff) || buf.compare(buf, r.targetOff, r.targetOff + 16, r.destinationOff, r.destinationOff + 16) === 0;
  }

  onUdp(pkt: Packet): void {
    if (pkt.ipVersion !== 6 || !isDhcp6Ports(pkt.srcPort, pkt.dstPort)) return;
    if (decodeDhcp6(pkt, this.dhcp6)) this.servers.onMessage(pkt, this.dhcp6);
  }

  stateSize(): number {
    return this.routers.size + this.servers.size + this.neighbors.size;
  }
}

export const ipv6Analyzer: AnalyzerDefinition = {
  name: 'ipv6',
  rules: ['ipv6-rogue-router-advertisement', 'ipv6-router-kill', 'ipv6-ra-change', 'ipv6-rogue-dhcpv6', 'icmp-redirect', 'ndp-binding-flip-flop', 'ndp-address-takeover', 'ndp-router-impersonation', 'ndp-unsolicited-override'],
  config: IPV6_SECTION,
  create: (ctx) => new Ipv6Analyzer(ctx),
};
