import { isVirtualRouterMac, macToString } from '../../decode/addr.js';
import {
  decodeHsrp,
  decodeVrrp,
  FhrpAuth,
  FhrpMessage,
  FhrpProto,
  FhrpRole,
  HSRP_DEFAULT_KEY,
  IPPROTO_VRRP,
  isHsrpPorts,
  virtualAddressTexts,
} from '../../decode/fhrp.js';
import type { Packet } from '../../decode/packet.js';
import type { Entity, Severity } from '../../findings/finding.js';
import { ipTextEntity, macEntities } from '../../findings/entities.js';
import { sectionOf } from '../../config/config.js';
import { BoundedMap } from '../../util/bounded-map.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition } from '../analyzer.js';
import type { RedundantAddress } from '../network-model.js';
import { srcAddrText } from '../endpoints.js';
import { FHRP_SECTION, type FhrpConfig } from './fhrp-config.js';

// First-hop redundancy takeover (T1557): HSRP and VRRP let whoever announces
// the best priority become the segment's default gateway, so a station that
// joins a group and claims the active role receives every host's off-link
// traffic. Policy: the first router seen active in a group is its gateway;
// the role moving between routers already seen in the group is an election.
// A newcomer taking it is reported low (a router that just came up and
// preempts looks the same), and high or medium when its messages show what
// real routers of the group do not: an address outside `fhrp.routers`, a
// TTL other than the protocol's, the active role claimed from its own MAC
// where the group's routers use the virtual MAC, priority 255 (HSRP's
// highest, what takeover tools send; VRRP's address owner, claimed by a
// station that does not own the address), or another key than the group's.
// Cleartext keys (HSRP's default 'cisco' included) are reported as exposed
// credentials: whoever reads one can join the group.

const MAX_GROUPS = 1024;
const MAX_SPEAKERS_PER_GROUP = 32;
/** HSRP's hold time when a message gives none (RFC 2281 default). */
const DEFAULT_HOLD_MS = 10_000;
/** IP TTL or hop limit the protocols prescribe: RFC 2281 sends HSRP with TTL 1, VRRP (RFC 5798) and HSRP for IPv6 with 255. */
const HSRP_TTL = 1;
const LINK_LOCAL_TTL = 255;
const HIGHEST_PRIORITY = 255;
/** A speaker's cleartext key is reported again at most this often while unchanged (keeps last_seen current). */
const KEY_REPORT_INTERVAL_MS = 60_000;
/** Virtual addresses of one message kept and shared with the network model. */
const MAX_ADDRESSES = 4;

interface Speaker {
  addr: string;
  mac: number;
  /** Last time it claimed the active role. */
  activeAt: number;
  holdMs: number;
  /** The cleartext key it last sent, and when that was last reported. */
  key: string | null;
  keyReportedAt: number;
  /** Took the role with evidence against it: never a model of the group's routers. */
  suspect: boolean;
}

interface Group {
  /** Key in FhrpAnalyzer.groups, and of the group's findings. */
  id: string;
  label: string;
  /** Text of the virtual addresses, once a message carried them. */
  vips: string[];
  virtualMac: number;
  active: Speaker | null;
  /** A router has held the active role without raising suspicion: later newcomers are compared with it. */
  established: boolean;
  macHabitKnown: boolean;
  /** The group's routers send their active-state messages from the virtual MAC. */
  activeFromVirtualMac: boolean;
  /** The key the group's established routers use, as latin1 text; null until seen. */
  key: string | null;
  speakers: Map<string, Speaker>;
}

/** Evidence that a claim does not come from one of the group's routers; strong evidence makes a takeover high. */
interface Evidence {
  strong: string[];
  weak: string[];
}

export class FhrpAnalyzer implements Analyzer {
  private readonly msg = new FhrpMessage();
  private readonly cfg: FhrpConfig;
  /** `fhrp.routers` names the routers: any other speaker's claim is a takeover. */
  private readonly routerList: boolean;
  private readonly groups = new BoundedMap<string, Group>(MAX_GROUPS);

  constructor(private readonly ctx: AnalyzerContext) {
    this.cfg = sectionOf(ctx.config, FHRP_SECTION);
    this.routerList = this.cfg.routerAddrs.size > 0 || this.cfg.routerMacs.size > 0;
  }

  stateSize(): number {
    let n = this.groups.size;
    for (const g of this.groups.values()) n += g.speakers.size;
    return n;
  }

  onUdp(pkt: Packet): void {
    if (!isHsrpPorts(pkt.srcPort, pkt.dstPort) || pkt.ipVersion === 0) return;
    if (decodeHsrp(pkt, this.msg)) this.onMessage(pkt, this.msg);
  }

  onIpPayload(pkt: Packet): void {
    if (pkt.ipProto !== IPPROTO_VRRP) return;
    if (decodeVrrp(pkt, this.msg)) this.onMessage(pkt, this.msg);
  }

  private onMessage(pkt: Packet, m: FhrpMessage): void {
    const g = this.groupOf(pkt, m);
    const addr = srcAddrText(pkt);
    const t = pkt.timeMs;
    let sp = g.speakers.get(addr);
    const known = sp !== undefined;
    if (!sp) {
      sp = { addr, mac: -1, activeAt: -Infinity, holdMs: DEFAULT_HOLD_MS, key: null, keyReportedAt: -Infinity, suspect: false };
      if (g.speakers.size < MAX_SPEAKERS_PER_GROUP) g.speakers.set(addr, sp);
    }
    if (pkt.ethSrc !== -1 && !isVirtualRouterMac(pkt.ethSrc)) sp.mac = pkt.ethSrc;
    if (m.holdMs > 0) sp.holdMs = m.holdMs;
    const keyText = m.auth === FhrpAuth.Text ? pkt.buf.toString('latin1', m.authOff, m.authOff + m.authLen) : null;
    if (keyText !== null && (keyText !== sp.key || t - sp.keyReportedAt >= KEY_REPORT_INTERVAL_MS)) {
      sp.key = keyText;
      sp.keyReportedAt = t;
      this.reportKey(pkt, m, g, sp, keyText);
    }

    if (m.role === FhrpRole.Resign) {
      if (g.active === sp) {
        g.active = null;
        // The role is free: the virtual address may move to whichever router takes it.
        for (const r of this.addressesOf(pkt, m, g)) r.activeUntil = t;
      }
      return;
    }
    if (m.role === FhrpRole.Candidate) {
      // A standby or listening router of the group may receive the virtual address in a failover.
      if (!sp.suspect) this.noteRouter(pkt, m, g, sp);
      return;
    }
    const fromVirtualMac = pkt.ethSrc === g.virtualMac;
    if (g.active === sp) {
      sp.activeAt = t;
      if (m.role === FhrpRole.Active && !g.macHabitKnown && !sp.suspect) this.learnHabits(g, keyText, fromVirtualMac);
      this.holdAddresses(pkt, m, g, sp);
      return;
    }
    // Until a router has held the role there is nothing to take over and nothing to compare with: a first
    // claim with another TTL than routers send (forged, or fuzzed) is not taken as the group's model.
    if (!g.established && !this.routerList && pkt.ttl !== expectedTtl(pkt, m)) return;
    const previous = g.active;
    const previousAlive = previous !== null && t - previous.activeAt <= previous.holdMs;
    const ev = this.evidence(pkt, m, g, sp, known, keyText, fromVirtualMac);
    const suspicious = ev.strong.length > 0 || ev.weak.length > 0;
    g.active = sp;
    sp.activeAt = t;
    this.holdAddresses(pkt, m, g, sp);
    if (suspicious) {
      sp.suspect = true;
      if (sp.mac !== -1) for (const r of this.addressesOf(pkt, m, g)) r.routerMacs.delete(sp.mac);
      this.reportTakeover(pkt, m, g, sp, previous, previousAlive, ev);
      return;
    }
    // The first router seen active sets what the group's routers look like.
    if (!g.established || (m.role === FhrpRole.Active && !g.macHabitKnown)) this.learnHabits(g, keyText, fromVirtualMac, m.role === FhrpRole.Active);
    // A newcomer preempting a live router is not (yet) one of the group's routers for ARP: the
    // address moving to it stays a gateway binding change.
    if (!g.established || known || !previousAlive) this.noteRouter(pkt, m, g, sp);
    if (g.established && !known) this.reportNewActive(pkt, m, g, sp, previous, previousAlive);
    g.established = true;
  }

  /** The network model's records of the group's IPv4 virtual addresses (what the ARP analyzer consults). */
  private addressesOf(pkt: Packet, m: FhrpMessage, g: Group): RedundantAddress[] {
    if (pkt.ipVersion !== 4 || m.vipFamily !== 4) return [];
    const out: RedundantAddress[] = [];
    for (let i = 0; i < m.vipCount && i < MAX_ADDRESSES; i++) {
      const r = this.ctx.network.claimRedundantAddress(pkt.buf.readUInt32BE(m.vipOff + 4 * i), g.id, g.label);
      if (r) out.push(r);
    }
    return out;
  }

  private noteRouter(pkt: Packet, m: FhrpMessage, g: Group, sp: Speaker): void {
    if (sp.mac === -1) return;
    for (const r of this.addressesOf(pkt, m, g)) if (r.routerMacs.size < MAX_SPEAKERS_PER_GROUP) r.routerMacs.add(sp.mac);
  }

  /** The active router's claim holds the virtual addresses for its hold time. */
  private holdAddresses(pkt: Packet, m: FhrpMessage, g: Group, sp: Speaker): void {
    for (const r of this.addressesOf(pkt, m, g)) r.activeUntil = pkt.timeMs + sp.holdMs;
  }

  /** What the group's own routers do: the key they use, and whether they announce the active role from the virtual MAC. */
  private learnHabits(g: Group, keyText: string | null, fromVirtualMac: boolean, active = true): void {
    if (g.key === null && keyText !== null) g.key = keyText;
    if (active) {
      g.activeFromVirtualMac = fromVirtualMac;
      g.macHabitKnown = true;
    }
  }

  /**
   * A group is its protocol, number, VLAN and (first) virtual address: group numbers are per
   * interface, so one capture of several subnets holds many a "group 10". A claim for another
   * address takes nothing over.
   */
  private groupOf(pkt: Packet, m: FhrpMessage): Group {
    const vlan = pkt.vlanCount > 0 ? pkt.vlans[0]! : -1;
    const v6 = pkt.ipVersion === 6;
    const vips = virtualAddressTexts(pkt.buf, m, MAX_ADDRESSES);
    const name = `${m.proto === FhrpProto.Hsrp ? 'HSRP' : 'VRRP'}v${m.version}${v6 ? ' (IPv6)' : ''} group ${m.group}${vlan >= 0 ? ` on VLAN ${vlan}` : ''}`;
    const key = `${name}|${vips[0] ?? ''}`;
    let g = this.groups.get(key);
    if (!g) {
      g = { id: key, label: name, vips, virtualMac: virtualMacOf(m, v6), active: null, established: false, macHabitKnown: false, activeFromVirtualMac: false, key: null, speakers: new Map() };
      this.groups.set(key, g);
    }
    return g;
  }

  /**
   * What sets a claim apart from the group's routers. Until a router has held the role only the
   * configured list counts (the first claim is what the group looks like); the weak signs count
   * only for a speaker new to the group (networks do run HSRP at priority 255).
   */
  private evidence(pkt: Packet, m: FhrpMessage, g: Group, sp: Speaker, known: boolean, keyText: string | null, fromVirtualMac: boolean): Evidence {
    const ev: Evidence = { strong: [], weak: [] };
    const cfg = this.cfg;
    if (this.routerList && !cfg.routerAddrs.has(sp.addr) && !cfg.routerMacs.has(sp.mac)) {
      ev.strong.push('it is not one of the routers listed in fhrp.routers');
    }
    if (pkt.ipVersion === 4 && m.vipFamily === 4) {
      for (let i = 0; i < m.vipCount && i < MAX_ADDRESSES; i++) {
        const r = this.ctx.network.redundantAddressOf(pkt.buf.readUInt32BE(m.vipOff + 4 * i));
        if (r && r.owner !== g.id) ev.strong.push(`it announces ${g.vips[i] ?? 'an address'}, the virtual address of ${r.group}, as ${g.label}`);
      }
    }
    if (!g.established) return ev;
    const ttl = expectedTtl(pkt, m);
    if (pkt.ttl !== ttl) ev.strong.push(`its IP ${pkt.ipVersion === 6 ? 'hop limit' : 'TTL'} is ${pkt.ttl}, where every ${protoName(m)} router sends ${ttl}`);
    if (m.role === FhrpRole.Active && g.activeFromVirtualMac && !fromVirtualMac && pkt.ethSrc !== -1) {
      ev.strong.push(`it claims the role from ${macToString(pkt.ethSrc)}, where the group's routers announce it from the virtual MAC ${macToString(g.virtualMac)}`);
    }
    if (m.priority >= HIGHEST_PRIORITY && m.proto === FhrpProto.Vrrp && !g.vips.includes(sp.addr)) {
      ev.strong.push(`it claims priority 255, which VRRP reserves for the owner of the virtual address, but ${sp.addr} is not ${g.vips.join(', ') || 'that address'}`);
    }
    if (known) return ev;
    if (m.priority >= HIGHEST_PRIORITY && m.proto === FhrpProto.Hsrp) ev.weak.push('it claims priority 255, the highest there is (what takeover tools send to win any election)');
    if (g.key !== null && keyText !== null && keyText !== g.key) ev.weak.push("its key differs from the group's (the group's routers ignore it; hosts do not check keys)");
    return ev;
  }

  private reportTakeover(pkt: Packet, m: FhrpMessage, g: Group, sp: Speaker, previous: Speaker | null, previousAlive: boolean, ev: Evidence): void {
    const severity: Severity = ev.strong.length > 0 ? 'high' : 'medium';
    const how = m.role === FhrpRole.Coup ? 'sent a coup for' : 'claimed';
    const from = previous === null ? '' : ` from ${previous.addr}${previousAlive ? ', which was still announcing it' : ''}`;
    this.ctx.report('fhrp-takeover', `${g.id}|${sp.addr}`, pkt, {
      message: `${station(sp)} ${how} the active role of ${g.label}${vipText(g)}${from} (priority ${m.priority}): ${[...ev.strong, ...ev.weak].join('; ')}`,
      entities: this.entities(pkt, g, sp, previous, 'attacker'),
      severity,
    });
  }

  private reportNewActive(pkt: Packet, m: FhrpMessage, g: Group, sp: Speaker, previous: Speaker | null, previousAlive: boolean): void {
    const what = previous === null ? ', after the active router resigned' : previousAlive ? `, preempting ${previous.addr}` : `, after ${previous.addr} went silent`;
    // VRRP backups stay silent until the master fails: one taking over a dead or resigned master is the protocol working.
    const failover = m.proto === FhrpProto.Vrrp && !previousAlive;
    this.ctx.report('fhrp-new-active-router', `${g.id}|${sp.addr}`, pkt, {
      message: `${station(sp)}, not seen in ${g.label} before, became its active router${vipText(g)}${what} (priority ${m.priority})`,
      entities: this.entities(pkt, g, sp, previous, 'router'),
      severity: failover ? 'info' : undefined,
    });
  }

  private reportKey(pkt: Packet, m: FhrpMessage, g: Group, sp: Speaker, key: string): void {
    const isDefault = m.proto === FhrpProto.Hsrp && key === HSRP_DEFAULT_KEY;
    this.ctx.report('cred-fhrp-auth', `${g.id}|${sp.addr}`, pkt, {
      message: isDefault
        ? `${g.label}${vipText(g)} runs without authentication: ${sp.addr} sends HSRP's default key, so any station on the segment can claim the gateway role`
        : `${sp.addr} sends ${g.label}'s key in cleartext${vipText(g)}: whoever reads it can claim the gateway role`,
      entities: [ipTextEntity(sp.addr, 'router'), ...macEntities(sp.mac, 'router'), ...g.vips.map((v) => ipTextEntity(v, 'virtual-gateway')), { type: 'protocol', value: g.label }],
      secret: Buffer.from(key, 'latin1'),
    });
  }

  private entities(pkt: Packet, g: Group, sp: Speaker, previous: Speaker | null, role: string): Entity[] {
    const out: Entity[] = [ipTextEntity(sp.addr, role), ...macEntities(sp.mac, role)];
    if (previous !== null) out.push(ipTextEntity(previous.addr, 'displaced-router'), ...macEntities(previous.mac, 'displaced-router'));
    for (const v of g.vips) out.push(ipTextEntity(v, 'virtual-gateway'));
    out.push({ type: 'protocol', value: g.label });
    if (pkt.vlanCount > 0) out.push({ type: 'vlan', value: String(pkt.vlans[0]) });
    return out;
  }
}

function expectedTtl(pkt: Packet, m: FhrpMessage): number {
  return m.proto === FhrpProto.Hsrp && pkt.ipVersion === 4 ? HSRP_TTL : LINK_LOCAL_TTL;
}

function protoName(m: FhrpMessage): string {
  return m.proto === FhrpProto.Hsrp ? 'HSRP' : 'VRRP';
}

/** The MAC a group's active router uses: HSRPv1 0000.0c07.acXX, HSRPv2 0000.0c9f.fXXX, HSRP for IPv6 0005.73a0.0XXX, VRRP 0000.5e00.01XX / 02XX. */
function virtualMacOf(m: FhrpMessage, v6: boolean): number {
  if (m.proto === FhrpProto.Vrrp) return (v6 ? 0x00005e000200 : 0x00005e000100) + (m.group & 0xff);
  if (v6) return 0x000573a00000 + (m.group & 0xfff);
  return m.version === 1 ? 0x00000c07ac00 + (m.group & 0xff) : 0x00000c9ff000 + (m.group & 0xfff);
}

function vipText(g: Group): string {
  return g.vips.length > 0 ? ` (virtual gateway ${g.vips.join(', ')})` : '';
}

function station(sp: Speaker): string {
  return sp.mac !== -1 ? `${sp.addr} (${macToString(sp.mac)})` : sp.addr;
}

export const fhrpAnalyzer: AnalyzerDefinition = {
  name: 'fhrp',
  rules: ['fhrp-takeover', 'fhrp-new-active-router', 'cred-fhrp-auth'],
  config: FHRP_SECTION as AnalyzerDefinition['config'],
  create: (ctx): Analyzer => new FhrpAnalyzer(ctx),
};
