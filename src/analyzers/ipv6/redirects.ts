import { ip4ToString, ip6ToString, macToString } from '../../decode/addr.js';
import type { Icmp4Redirect, NdRedirect } from '../../decode/icmp6.js';
import type { Packet } from '../../decode/packet.js';
import type { Entity, Severity } from '../../findings/finding.js';
import type { AnalyzerContext } from '../analyzer.js';
import { ip4Entity, ip6Entity, macEntity, receiverEntities, senderEntities } from './entities.js';
import type { RouterWatch } from './routers.js';

// ICMP and ICMPv6 Redirects (T1557): a redirect tells a host to send traffic
// for a destination through another first hop. Routers send them when a host
// uses a worse gateway on the same link; an on-path attacker's kernel sends
// them too when it forwards intercepted traffic back out the interface it
// came in on, and forged ones divert traffic outright.

const CODE_NAMES = ['network', 'host', 'type-of-service and network', 'type-of-service and host'];

export class RedirectWatch {
  constructor(
    private readonly ctx: AnalyzerContext,
    private readonly routers: RouterWatch,
  ) {}

  onNdRedirect(pkt: Packet, r: NdRedirect): void {
    const buf = pkt.buf;
    const onLink = buf.compare(buf, r.targetOff, r.targetOff + 16, r.destinationOff, r.destinationOff + 16) === 0;
    const toRouter = this.routers.isRouter(buf, r.targetOff);
    // On-link: "the destination is your neighbour"; a target link-layer address that is the sender's own makes the sender the neighbour.
    const claimsDestination = onLink && r.targetMac !== -1 && r.targetMac === pkt.ethSrc;
    const severity: Severity = toRouter || (onLink && !claimsDestination) ? 'medium' : 'high';
    const entities: Entity[] = senderEntities(pkt, 'attacker');
    entities.push(...receiverEntities(pkt));
    if (!onLink) entities.push(ip6Entity(buf, r.targetOff, 'attacker-controlled'));
    if (r.targetMac !== -1) entities.push(macEntity(r.targetMac, 'attacker-controlled'));
    entities.push(ip6Entity(buf, r.destinationOff, 'redirected'));
    const target = ip6ToString(buf, r.targetOff);
    const how = onLink
      ? `to reach ${target} directly${r.targetMac !== -1 ? ` at ${macToString(r.targetMac)}` : ''}`
      : `to use ${target}${r.targetMac !== -1 ? ` (${macToString(r.targetMac)})` : ''} as first hop for ${ip6ToString(buf, r.destinationOff)}`;
    const why = toRouter ? 'an established router' : onLink ? (claimsDestination ? 'and names its own MAC for it' : 'on-link') : 'not an established router';
    this.ctx.report('icmp-redirect', `${sender(pkt)}|${target}`, pkt, {
      message: `ICMPv6 redirect from ${ip6ToString(buf, pkt.ip6SrcOff)}${pkt.ethSrc !== -1 ? ` (${macToString(pkt.ethSrc)})` : ''} tells ${ip6ToString(buf, pkt.ip6DstOff)} ${how} (${why})`,
      entities,
      severity,
    });
  }

  onIcmp4Redirect(pkt: Packet, r: Icmp4Redirect): void {
    const toGateway = this.ctx.network.isGateway(r.gateway);
    const entities: Entity[] = senderEntities(pkt, 'attacker');
    entities.push(...receiverEntities(pkt));
    entities.push(ip4Entity(r.gateway, 'attacker-controlled'), ip4Entity(r.originalDst, 'redirected'));
    this.ctx.report('icmp-redirect', `${sender(pkt)}|${ip4ToString(r.gateway)}`, pkt, {
      message: `ICMP ${CODE_NAMES[r.code]} redirect from ${ip4ToString(pkt.ip4Src)}${pkt.ethSrc !== -1 ? ` (${macToString(pkt.ethSrc)})` : ''} tells ${ip4ToString(pkt.ip4Dst)} to use ${ip4ToString(r.gateway)} for ${ip4ToString(r.originalDst)} (${toGateway ? 'a known gateway' : 'not a known gateway'})`,
      entities,
      severity: toGateway ? 'medium' : 'high',
    });
  }
}

/** The sender for aggregation: its MAC when the link has one, else its address. */
function sender(pkt: Packet): string {
  if (pkt.ethSrc !== -1) return macToString(pkt.ethSrc);
  return pkt.ipVersion === 6 ? ip6ToString(pkt.buf, pkt.ip6SrcOff) : ip4ToString(pkt.ip4Src);
}
