import { ip4ToString } from '../../decode/addr.js';
import { IPPROTO_UDP, type Packet } from '../../decode/packet.js';
import { decodeOspfAuth, decodeRipAuth, IPPROTO_OSPF, RIP_PORT, RoutingAuth, RoutingAuthKind, RoutingProto } from '../../decode/routing-auth.js';
import type { Entity } from '../../findings/finding.js';
import { ip4Entity, macEntities } from '../../findings/entities.js';
import { BoundedMap } from '../../util/bounded-map.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition } from '../analyzer.js';

// Routing-protocol keys a sniffer harvests (T1040): OSPFv2 and RIPv2 routers
// repeat their authentication in every packet, so a simple password is read
// from any of them and a keyed-MD5 digest cracks offline. Whoever has the key
// can speak to the routers as one of them and inject routes that pull traffic
// through an attacker (the routing-protocol form of T1557). A router's key is
// reported again only when it changes or a minute has passed.

const KEY_REPORT_INTERVAL_MS = 60_000;
const MAX_ROUTERS = 4096;
const OSPF_TYPES = ['', 'Hello', 'Database Description', 'LS Request', 'LS Update', 'LS Acknowledgment'];

interface Sent {
  /** The secret last reported (key text or crack line) and when. */
  secret: string;
  at: number;
}

class RoutingAnalyzer implements Analyzer {
  private readonly auth = new RoutingAuth();
  /** Per protocol and router address: what was reported last. */
  private readonly reported = new BoundedMap<string, Sent>(MAX_ROUTERS);

  constructor(private readonly ctx: AnalyzerContext) {}

  stateSize(): number {
    return this.reported.size;
  }

  onUdp(pkt: Packet): void {
    if (pkt.dstPort !== RIP_PORT && pkt.srcPort !== RIP_PORT) return;
    if (pkt.ipVersion === 4 && pkt.ipProto === IPPROTO_UDP && decodeRipAuth(pkt, this.auth)) this.onAuth(pkt, this.auth);
  }

  onIpPayload(pkt: Packet): void {
    if (pkt.ipProto === IPPROTO_OSPF && pkt.ipVersion === 4 && decodeOspfAuth(pkt, this.auth)) this.onAuth(pkt, this.auth);
  }

  private onAuth(pkt: Packet, a: RoutingAuth): void {
    if (a.kind !== RoutingAuthKind.Simple && a.kind !== RoutingAuthKind.KeyedMd5) return;
    const buf = pkt.buf;
    const simple = a.kind === RoutingAuthKind.Simple;
    // A keyed-MD5 line changes with every packet (sequence numbers); the key ID stands for the key.
    const secret = simple ? buf.toString('latin1', a.keyStart, a.keyEnd) : `key ${a.keyId}`;
    const proto = a.proto === RoutingProto.Ospf ? 'OSPFv2' : 'RIPv2';
    // Cleartext and keyed MD5 are findings apart: they differ in severity and in what the secret is.
    const id = `${proto}|${ip4ToString(pkt.ip4Src)}|${simple ? 'simple' : 'md5'}`;
    const t = pkt.timeMs;
    const last = this.reported.get(id);
    if (last !== undefined && last.secret === secret && t - last.at < KEY_REPORT_INTERVAL_MS && t >= last.at) return;
    if (last !== undefined) {
      last.secret = secret;
      last.at = t;
    } else {
      this.reported.set(id, { secret, at: t });
    }
    const router = ip4ToString(pkt.ip4Src);
    const entities: Entity[] = [ip4Entity(pkt.ip4Src, 'router'), ...macEntities(pkt.ethSrc, 'router'), { type: 'protocol', value: proto }];
    let where = '';
    if (a.proto === RoutingProto.Ospf) {
      if (a.routerId !== pkt.ip4Src) entities.push(ip4Entity(a.routerId, 'router-id'));
      where = ` (${OSPF_TYPES[a.type] ?? `type ${a.type}`}, router ID ${ip4ToString(a.routerId)}, area ${ip4ToString(a.areaId)})`;
    }
    if (pkt.vlanCount > 0) entities.push({ type: 'vlan', value: String(pkt.vlans[0]) });
    if (simple) {
      this.ctx.report('cred-routing-auth', id, pkt, {
        message: `${router} sends its ${proto} key in cleartext${where}: whoever reads it can join the routing domain and inject routes`,
        entities,
        severity: 'medium',
        secret: Buffer.from(buf.subarray(a.keyStart, a.keyEnd)),
      });
    } else {
      // John the Ripper's net-md5: the bytes hashed before the key, then the digest.
      const line = `$netmd5$${buf.toString('hex', pkt.payloadStart, a.digestStart)}$${buf.toString('hex', a.digestStart, a.digestStart + 16)}`;
      this.ctx.report('cred-routing-auth', id, pkt, {
        message: `${router} authenticates ${proto} with keyed MD5 (key ID ${a.keyId})${where}: every packet is a digest of the key that cracks offline (John net-md5); whoever recovers it can join the routing domain`,
        entities,
        severity: 'low',
        secret: Buffer.from(line, 'latin1'),
      });
    }
  }
}

export const routingAnalyzer: AnalyzerDefinition = {
  name: 'routing',
  rules: ['cred-routing-auth'],
  create: (ctx): Analyzer => new RoutingAnalyzer(ctx),
};
