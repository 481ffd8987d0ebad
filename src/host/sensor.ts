import { hostname as osHostname } from 'node:os';
import { sectionOf, type SniffwatchConfig } from '../config/config.js';
import { parseIp4 } from '../decode/addr.js';
import { isoTime, severityRank, type Entity, type Evidence, type Severity } from '../findings/finding.js';
import type { Report } from '../analyzers/analyzer.js';
import { BuildIdIndex } from './build-id.js';
import { findTunHolders, ifnamesSeenBy, KmsgReader, PacketSocketTable, parseKmsgBridgePort, parseKmsgPromisc, readInterfaces, SWITCH_DAEMONS, type InterfaceState, type SocketOwner } from './capture-watch.js';
import { HOST_CONFIG, type HostConfig } from './config.js';
import { allowedBy, argvText, capText, contextOf, doing, ETH_P_ALL, EXEC_RULES, judgeCapNetRaw, judgeExec, judgePacketSocket, processEntities, userText, type Judgement, type RunContext } from './judge.js';
import { isOwnToolPid, MIRROR_CONFIG_TOOLS, mirrorAllowedBy, onPath, readNamespaceMirrors, readOvsMirrors, runCommands, type MirrorConfig, type Runner, type Tunnel } from './mirror.js';
import { enrich, snapshotFromProc, type ProcessInfo, type Snapshot } from './process-info.js';
import { ProcessWatch, type ExecEvent } from './process-watch.js';
import { ProcessSubscription } from './process-subscription.js';
import { CAP_NET_RAW, hasCap, readLink, readScriptOf } from './procfs.js';
import { ProcScan } from './proc-scan.js';
import { PACKET_SOCKET_DAEMONS } from './tool-table.js';
import { baseName, classifyExec, toolByName, type ToolMatch } from './tools.js';

// The Linux host sensor: process executions (connector or /proc scans),
// packet sockets, promiscuous interfaces, the kernel log, CAP_NET_RAW, and
// traffic duplication. It turns observations into reports through the
// caller's `report` function (backed by a FindingAggregator), and never
// throws from a timer or an event callback.

export type HostReportFn = (rule: string, key: string, timeMs: number, r: Report, evidence?: Evidence) => void;

/** A finding about one process, for callers that act on it (`sniffwatch run --policy kill`). */
export interface ProcessHit {
  rule: string;
  /** Aggregation key of the finding, to add evidence to it. */
  key: string;
  severity: Severity;
  pid: number;
  exe: string;
  tool?: string;
}

export interface HostSensorOptions {
  config: SniffwatchConfig;
  report: HostReportFn;
  /** Only this process tree (for `sniffwatch run`); host-wide facts are reported only when the tree is involved. */
  scope?: { rootPid: number };
  /** /proc, /sys and kernel log polling interval. Default 1000. */
  pollMs?: number;
  onProcessHit?: (hit: ProcessHit) => void;
  /** Kernel receive buffer for process events (default 8 MiB); smaller loses events sooner under fork storms. */
  rcvbufBytes?: number;
  /** A subscription opened earlier with the same scope (`run` starts its command before the sensor is loaded); taken over, with what it kept. */
  subscription?: ProcessSubscription;
}

export interface HostSensorStats {
  mode: 'process-events' | 'proc-scan';
  execs: number;
  forks: number;
  exits: number;
  /** Process events the kernel could not deliver (socket buffer overflow). */
  lost: number;
  /** Exec events whose process was gone before anything could be read. */
  vanished: number;
  /** Longest delay from an exec to its handling, in ms. */
  maxLatencyMs: number;
  polls: number;
  packetSocketsUnattributed: number;
  errors: number;
  /** Longest single poll (the event loop is busy for that long), in ms. */
  slowestPollMs: number;
  /** Traffic-duplication checks done, and the commands (ip, tc, nft, iptables-save, ovs-vsctl, nsenter) they ran. */
  mirrorChecks: number;
  mirrorCommands: number;
}

export interface HostSensors {
  stop(): Promise<void>;
  notes: string[];
  stats(): HostSensorStats;
  /** Lets pending process events arrive, then polls once now (before reading final results). */
  flush(): Promise<void>;
}

export const HOST_RULES: readonly string[] = [
  ...Object.values(EXEC_RULES),
  'host-packet-socket',
  'host-promiscuous-interface',
  'host-cap-net-raw',
  'host-traffic-mirror',
  'host-sensor-events-lost',
];

const RESCAN_NOTE = 'process-events connector unavailable: falling back to /proc scanning; short-lived processes may be missed';
/** kmsg promiscuity is attributed to the watched tree when it captured this recently. */
const SCOPE_CAPTURE_WINDOW_MS = 5000;
const MAX_NAMESPACES_PER_MIRROR_POLL = 64;
const MAX_MESSAGE = 1024;
const MAX_NOTES = 32;
const MAX_PROMISC_HOLDERS = 8;
const MAX_KMSG_PROMISC = 64;
const KMSG_NOTE = ' (kernel log: the network namespace is not known, and it may have left it again)';

/** A process behind an interface's promiscuity: it holds a packet socket on the interface, or the tap device itself. */
export interface PromiscHolder {
  pid: number;
  name: string;
  argv: readonly string[];
  /** One of PACKET_SOCKET_DAEMONS (not recognised as a capture tool): uses the interface for its own protocol. */
  daemon: boolean;
}

export interface PromiscVerdict {
  ifname: string;
  severity: 'info' | 'medium';
  message: string;
  /** Processes the message names, with their entity role. */
  named: (PromiscHolder & { role: 'capturer' | 'switch' })[];
}

/** The distinct pids, sorted, as one comparable string: who holds an interface, to notice when that changes. */
function pidSetKey(holders: readonly { pid: number }[]): string {
  return [...new Set(holders.map((h) => h.pid))].sort((a, b) => a - b).join(',');
}

function isSwitchDaemon(h: PromiscHolder): boolean {
  return h.daemon && SWITCH_DAEMONS.has(h.name.toLowerCase());
}

function holderList(hs: readonly PromiscHolder[]): string {
  return hs.map((h) => `${capText(h.name, 64)} (pid ${h.pid})`).join(', ');
}

/**
 * Why an interface is promiscuous. By design (info): a bridge, bond or team
 * member, a port of Open vSwitch's kernel datapath, or a port a switch daemon
 * holds (a packet socket on it, or the tap device). Any capturer that is not
 * a network daemon makes it medium, whatever else holds the interface.
 */
export function judgePromisc(
  ifname: string,
  iface: { member: boolean; ovsDatapath?: string },
  capturers: readonly PromiscHolder[],
  tapHolders: readonly PromiscHolder[],
  note: string,
): PromiscVerdict {
  const sniffers = capturers.filter((h) => !h.daemon);
  const name = capText(ifname, 64);
  if (sniffers.length === 0) {
    const all = capturers.map((h) => ({ ...h, role: 'capturer' as const }));
    if (iface.ovsDatapath) {
      return { ifname, severity: 'info', named: all, message: `${name} is promiscuous as a port of Open vSwitch's kernel datapath ${iface.ovsDatapath} (set by the kernel for ovs-vswitchd; by design)` };
    }
    if (iface.member) return { ifname, severity: 'info', named: all, message: `${name} is promiscuous as a bridge or bond member (by design)` };
    const switches = [...capturers, ...tapHolders.filter((h) => !capturers.some((c) => c.pid === h.pid))].filter(isSwitchDaemon).slice(0, 4);
    if (switches.length > 0) {
      const named = [...all, ...switches.filter((h) => !capturers.includes(h)).map((h) => ({ ...h, role: 'switch' as const }))];
      return { ifname, severity: 'info', named, message: `${name} is promiscuous as a port of the switch daemon ${holderList(switches)}: by design` };
    }
  }
  const named = [...sniffers, ...capturers.filter((h) => h.daemon)].slice(0, 4);
  return {
    ifname,
    severity: 'medium',
    named: named.map((h) => ({ ...h, role: 'capturer' as const })),
    message: `${name} entered promiscuous mode${note}${named.length > 0 ? `; capturing: ${holderList(named)}` : ''}`,
  };
}

export async function startHostSensors(opts: HostSensorOptions): Promise<HostSensors> {
  const sensor = new HostSensor(opts);
  await sensor.start();
  return {
    stop: () => sensor.stop(),
    notes: sensor.notes,
    stats: () => sensor.stats(),
    flush: () => sensor.flush(),
  };
}

class HostSensor {
  readonly notes: string[] = [];
  private readonly cfg: HostConfig;
  private readonly pollMs: number;
  private readonly hostname = osHostname();
  private readonly scopeRoot: number | undefined;
  private readonly subscription: ProcessSubscription;
  private readonly watch: ProcessWatch;
  private readonly scan = new ProcScan();
  private readonly sockets = new PacketSocketTable();
  private readonly kmsg = new KmsgReader();
  private kmsgOpen = false;
  private buildIds: BuildIdIndex | undefined;
  private timer: NodeJS.Timeout | undefined;
  private mirrorTimer: NodeJS.Timeout | undefined;
  private mirrorRunning: Promise<void> | undefined;
  private mirrorPolls = 0;
  private mirrorCommands = 0;
  /**
   * Under `run`, mirrors configured before the first check count as already
   * there (the baseline). That check may come shortly after the command
   * starts; if the command ran a tool that configures duplication before it
   * ended, the baseline is not trusted and what it held is reported too.
   */
  private baselineDone = false;
  private baselineTainted = false;
  /** Reports the baseline held back, for when it turns out untrusted. */
  private readonly baselineHeld: (() => void)[] = [];
  private readonly mirrorSeen = new Set<string>();
  private readonly toolsMissing = new Set<string>();
  /** Whether nsenter was looked for on PATH (once: it enters the other namespaces). */
  private nsenterChecked = false;
  /** Promiscuous interfaces reported (or our own capture), with the level and the capturers then. */
  private readonly promiscReported = new Map<string, { level: Severity | 'own'; pids: string }>();
  /** Promiscuous without a known cause at the last poll: judged again at the next. */
  private readonly promiscPending = new Set<string>();
  private kmsgPending: { ifname: string; member: boolean }[] = [];
  private interfaces: InterfaceState[] = [];
  private pendingLost = 0;
  private polls = 0;
  private errors = 0;
  private slowestPollMs = 0;
  private lastScopeCaptureMs = -Infinity;
  private stopped = false;

  constructor(private readonly opts: HostSensorOptions) {
    this.cfg = sectionOf(opts.config, HOST_CONFIG);
    this.pollMs = Math.max(50, opts.pollMs ?? 1000);
    this.scopeRoot = opts.scope?.rootPid;
    if (opts.subscription && opts.subscription.scopeRoot !== this.scopeRoot) throw new Error('host sensor: the subscription was opened for another scope');
    this.subscription = opts.subscription ?? new ProcessSubscription(this.scopeRoot);
    this.watch = new ProcessWatch(
      {
        onExec: (ev) => this.guard(() => this.onExec(ev)),
        onUidChange: (pid, t) => this.guard(() => this.onUidChange(pid, t)),
        onLost: (lost) => {
          this.pendingLost += lost;
        },
        onError: (m) => this.note(m),
      },
      this.scopeRoot,
    );
  }

  async start(): Promise<void> {
    if (process.platform !== 'linux') {
      this.note(`host sensors need Linux (this is ${process.platform}): nothing is watched`);
      return;
    }
    if (process.getuid?.() !== 0) this.note('not running as root: other users\' processes, sockets and the kernel log may be unreadable');
    const why = this.subscription.open(this.opts.rcvbufBytes);
    if (why) this.note(`${RESCAN_NOTE} (${why})`);
    this.buildIds = new BuildIdIndex();
    this.watch.follow(this.subscription);
    const kmsgWhy = this.kmsg.open();
    if (kmsgWhy) this.note(`kernel log: ${kmsgWhy}; promiscuous switches shorter than a poll and in other network namespaces are not seen`);
    else this.kmsgOpen = true;
    this.poll();
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.mirrorRunning = this.pollMirrors();
    this.mirrorTimer = setInterval(() => {
      if (!this.mirrorRunning) this.mirrorRunning = this.pollMirrors();
    }, Math.max(this.pollMs, this.cfg.mirrorPollMs));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.mirrorTimer) clearInterval(this.mirrorTimer);
    this.subscription.close();
    this.kmsg.close();
    await this.mirrorRunning;
  }

  async flush(): Promise<void> {
    // Connector batches already queued are delivered on the next loop turns: wait until two
    // turns bring none (at most ~30 ms), not a fixed time, since `run` waits for this at exit.
    const events = (): number => this.watch.stats.execs + this.watch.stats.forks + this.watch.stats.exits + this.watch.stats.lost;
    for (let turn = 0, quiet = 0; quiet < 2 && turn < 30; turn++) {
      const before = events();
      await new Promise((r) => setTimeout(r, 1));
      quiet = events() === before ? quiet + 1 : 0;
    }
    this.poll();
  }

  stats(): HostSensorStats {
    const s = this.watch.stats;
    return {
      mode: this.watch.mode,
      execs: s.execs,
      forks: s.forks,
      exits: s.exits,
      lost: s.lost,
      vanished: s.vanished,
      maxLatencyMs: Math.round(s.maxLatencyMs * 10) / 10,
      polls: this.polls,
      packetSocketsUnattributed: this.sockets.unattributed,
      errors: this.errors,
      slowestPollMs: Math.round(this.slowestPollMs * 10) / 10,
      mirrorChecks: this.mirrorPolls,
      mirrorCommands: this.mirrorCommands,
    };
  }

  private note(text: string): void {
    if (this.notes.length < MAX_NOTES && !this.notes.includes(text)) this.notes.push(capText(text, 512));
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.errors++;
      this.note(`host sensor error (continuing): ${(e as Error).message}`);
    }
  }

  private poll(): void {
    if (this.stopped) return;
    this.polls++;
    const started = performance.now();
    const now = Date.now();
    this.guard(() => this.scan.scan());
    this.guard(() => this.watch.poll(this.scan, now));
    // Read first: packet sockets are named by interface, promiscuity is judged by who holds them.
    this.guard(() => {
      this.interfaces = readInterfaces();
    });
    this.guard(() => this.pollPacketSockets(now));
    this.guard(() => this.pollInterfaces(now));
    if (this.kmsgOpen) this.guard(() => this.pollKmsg(now));
    if (this.pendingLost > 0) {
      const lost = this.pendingLost;
      this.pendingLost = 0;
      this.guard(() => this.reportLost(lost, now));
    }
    this.slowestPollMs = Math.max(this.slowestPollMs, performance.now() - started);
  }

  private inScope(pid: number): boolean {
    return this.scopeRoot === undefined || this.watch.inScope(pid);
  }

  private netnsEntity(netns: number | undefined): Entity[] {
    if (netns === undefined || netns === this.scan.ownNetns) return [];
    return [{ type: 'host', value: this.scan.label(netns), role: 'network_namespace' }];
  }

  private evidence(source: string, timeMs: number, detail: string): Evidence {
    return { source: `host:${source}`, time: isoTime(timeMs), detail: capText(detail, 512) };
  }

  private classify(pid: number, snap: Snapshot): ToolMatch | undefined {
    const facts = { exe: snap.exe, argv: snap.argv, readScript: (p: string) => readScriptOf(pid, p) };
    const m = classifyExec(facts);
    if (m || !snap.exe || !this.buildIds) return m;
    // The build id is read now: only while the process still runs the executable of the snapshot (not one it exec'd since).
    const byId = readLink(`/proc/${pid}/exe`) === snap.exe ? this.buildIds.toolOf(pid) : undefined;
    return byId ? classifyExec({ ...facts, buildIdTool: byId }) : undefined;
  }

  // --- process executions ---

  private onExec(ev: ExecEvent): void {
    const { pid, snap } = ev;
    if (pid === process.pid || !snap) return;
    if (!this.inScope(pid)) return;
    if (this.scopeRoot !== undefined && !this.baselineDone && !isOwnToolPid(pid, snap.ppid)) {
      if (MIRROR_CONFIG_TOOLS.has(baseName(snap.exe)) || MIRROR_CONFIG_TOOLS.has(baseName(snap.argv[0] ?? ''))) this.baselineTainted = true;
    }
    const match = this.classify(pid, snap);
    const capRaw = snap.uid > 0 && hasCap(snap.capEff, CAP_NET_RAW);
    if (!match && !capRaw) return;
    const info = enrich(pid, snap, this.watch.lookup, match !== undefined);
    const ctx = contextOf(info);
    if (match) {
      const parentTool = info.ancestors[0] ? toolByName(info.ancestors[0].name)?.tool : undefined;
      if (!(match.helperOf && parentTool && match.helperOf.includes(parentTool))) this.reportExec(match, info, ctx, ev);
    }
    if (capRaw || (info.uid > 0 && hasCap(info.capEff, CAP_NET_RAW))) this.reportCapNetRaw(info, ctx, match ? `runs ${match.tool}` : undefined, ev.timeMs, ev.source);
  }

  private onUidChange(pid: number, timeMs: number): void {
    if (pid === process.pid || !this.inScope(pid)) return;
    const snap = snapshotFromProc(pid);
    if (!snap || snap.uid <= 0 || !hasCap(snap.capEff, CAP_NET_RAW)) return;
    const info = enrich(pid, snap, this.watch.lookup, false);
    this.reportCapNetRaw(info, contextOf(info), 'changed user and kept it', timeMs, 'process-events');
  }

  private allowed(info: ProcessInfo, ctx: RunContext, j: Judgement): { severity: Severity; suffix: string } {
    const a = allowedBy(this.cfg.allow, info, ctx, this.hostname);
    return a ? { severity: 'info', suffix: `; allowed by config (${a.text})` } : { severity: j.severity, suffix: '' };
  }

  private hit(rule: string, key: string, severity: Severity, info: ProcessInfo, tool?: string): void {
    if (!this.opts.onProcessHit) return;
    try {
      this.opts.onProcessHit({ rule, key, severity, pid: info.pid, exe: info.exe, tool });
    } catch (e) {
      this.note(`onProcessHit failed: ${(e as Error).message}`);
    }
  }

  private reportExec(m: ToolMatch, info: ProcessInfo, ctx: RunContext, ev: ExecEvent): void {
    const j = judgeExec(m, ctx);
    const { severity, suffix } = this.allowed(info, ctx, j);
    const rule = EXEC_RULES[m.technique];
    const on = m.interfaces.length > 0 ? ` on ${m.interfaces.slice(0, 4).map((i) => capText(i, 64)).join(', ')}` : '';
    const partial = info.partial ? '; it exited before it could be fully inspected' : '';
    const entities = processEntities(info, m.kind === 'aitm' ? 'attacker' : 'sniffer');
    for (const i of m.interfaces.slice(0, 4)) entities.push({ type: 'interface', value: capText(i, 64), role: 'capture_interface' });
    if (m.writes && m.writes !== '-' && m.writes !== 'files') entities.push({ type: 'file', value: capText(m.writes), role: 'capture_file' });
    entities.push(...this.netnsEntity(info.netns));
    if (this.scopeRoot !== undefined && severityRank(severity) >= severityRank('medium')) this.lastScopeCaptureMs = ev.timeMs;
    const key = `${m.tool}|${info.uid}|${info.exe}|${argvText(info.argv)}|${info.containerId ?? ''}|${this.scan.label(info.netns)}`;
    this.opts.report(
      rule,
      key,
      ev.timeMs,
      {
        message: capText(`${m.tool} ${doing(m.technique)}${on} (pid ${info.pid}, ${userText(info)}): ${j.reasons.join('; ')}${suffix}${partial}`, MAX_MESSAGE),
        entities,
        severity,
        confidence: m.via === 'argv0' ? 0.6 : info.partial ? 0.8 : 0.9,
      },
      this.evidence(ev.source, ev.timeMs, `pid ${info.pid} ppid ${info.ppid}; recognised by ${m.via}${m.detail ? ` (${m.detail})` : ''}`),
    );
    this.hit(rule, key, severity, info, m.tool);
  }

  private reportCapNetRaw(info: ProcessInfo, ctx: RunContext, combined: string | undefined, timeMs: number, source: string): void {
    const j = judgeCapNetRaw(combined, ctx);
    const { severity, suffix } = this.allowed(info, ctx, j);
    const name = baseName(info.exe || info.argv[0] || '?');
    const key = `${info.exe}|${info.uid}|${combined ?? ''}|${info.containerId ?? ''}|${this.scan.label(info.netns)}`;
    this.opts.report(
      'host-cap-net-raw',
      key,
      timeMs,
      {
        message: capText(`${capText(name, 64)} (pid ${info.pid}) runs as ${userText(info)} with CAP_NET_RAW effective${combined ? ` and ${combined}` : ''}: ${j.reasons.join('; ')}${suffix}`, MAX_MESSAGE),
        entities: [...processEntities(info, 'holder'), ...this.netnsEntity(info.netns)],
        severity,
      },
      this.evidence(source, timeMs, `pid ${info.pid} CapEff 0x${info.capEff.toString(16)}`),
    );
    this.hit('host-cap-net-raw', key, severity, info);
  }

  // --- packet sockets ---

  private ifnameOf(netns: number, ifindex: number, pid: number): string {
    if (ifindex === 0) return 'all interfaces';
    const name = netns === this.scan.ownNetns ? this.interfaces.find((x) => x.ifindex === ifindex)?.name : ifnamesSeenBy(pid).get(ifindex);
    return name ?? `ifindex ${ifindex}`;
  }

  private pollPacketSockets(now: number): void {
    for (const o of this.sockets.poll(this.scan)) {
      if (o.pid === process.pid || !this.inScope(o.pid)) continue;
      const snap = snapshotFromProc(o.pid);
      if (!snap) continue;
      this.reportPacketSocket(o, snap, now);
    }
  }

  private reportPacketSocket(o: SocketOwner, snap: Snapshot, now: number): void {
    const info = enrich(o.pid, snap, this.watch.lookup, true);
    const ctx = contextOf(info);
    const tool = this.classify(o.pid, snap);
    const name = baseName(info.exe || info.argv[0] || '?');
    const daemon = PACKET_SOCKET_DAEMONS.has(name.toLowerCase());
    const ifname = this.ifnameOf(o.netns, o.sock.ifindex, o.pid);
    const j = judgePacketSocket({ proto: o.sock.proto, ifindex: o.sock.ifindex, ifname }, daemon, tool, ctx);
    const { severity, suffix } = this.allowed(info, ctx, j);
    const proto = `0x${o.sock.proto.toString(16).padStart(4, '0')}`;
    if (this.scopeRoot !== undefined && o.sock.proto === ETH_P_ALL) this.lastScopeCaptureMs = now;
    const key = `${info.exe}|${info.uid}|${proto}|${ifname}|${this.scan.label(o.netns)}|${info.containerId ?? ''}`;
    this.opts.report(
      'host-packet-socket',
      key,
      now,
      {
        message: capText(`${tool ? tool.tool : capText(name, 64)} (pid ${info.pid}, ${userText(info)}) holds a packet socket on ${ifname}${o.netns !== this.scan.ownNetns ? ` in ${this.scan.label(o.netns)}` : ''}: ${j.reasons.join('; ')}${suffix}`, MAX_MESSAGE),
        entities: [
          ...processEntities(info, tool ? 'sniffer' : 'capturer'),
          { type: 'interface', value: capText(ifname, 64), role: 'capture_interface' },
          ...this.netnsEntity(o.netns),
        ],
        severity,
      },
      this.evidence('proc-net-packet', now, `pid ${info.pid} socket:[${o.sock.inode}] type ${o.sock.type} proto ${proto} ifindex ${o.sock.ifindex}`),
    );
    this.hit('host-packet-socket', key, severity, info, tool?.tool);
    if (info.uid > 0 && hasCap(info.capEff, CAP_NET_RAW)) this.reportCapNetRaw(info, ctx, 'holds a packet socket', now, 'proc-net-packet');
  }

  // --- promiscuous interfaces ---

  /** What a process holding an interface says about its promiscuity (read once per change of holders). */
  private holder(pid: number): PromiscHolder | undefined {
    const snap = snapshotFromProc(pid);
    if (!snap) return undefined;
    const name = baseName(snap.exe || snap.argv[0] || '?');
    return { pid, name, argv: snap.argv, daemon: PACKET_SOCKET_DAEMONS.has(name.toLowerCase()) && !this.classify(pid, snap) };
  }

  private holders(pids: Iterable<number>): PromiscHolder[] {
    const out: PromiscHolder[] = [];
    for (const pid of new Set(pids)) {
      const h = out.length < MAX_PROMISC_HOLDERS ? this.holder(pid) : undefined;
      if (h) out.push(h);
    }
    return out;
  }

  /**
   * Holders of the tap devices among these, when nothing else settles the
   * verdict (a member, a sniffer, a switch daemon's packet socket): one
   * budgeted /proc fd scan for all of them.
   */
  private tunHolders(wanted: { name: string; member: boolean; capturers: PromiscHolder[] }[]): Map<string, PromiscHolder[]> {
    const out = new Map<string, PromiscHolder[]>();
    const names = new Set(wanted.filter((w) => !w.member && !w.capturers.some((h) => !h.daemon || isSwitchDaemon(h))).map((w) => w.name));
    if (this.scopeRoot !== undefined || names.size === 0) return out;
    for (const [name, pids] of findTunHolders(names, this.scan)) out.set(name, this.holders(pids));
    return out;
  }

  private pollInterfaces(now: number): void {
    const own = this.scan.label(this.scan.ownNetns);
    const promisc = new Set<string>();
    // Packet sockets of this namespace that receive from one interface or, with ETH_P_ALL, from all of them.
    const sockets = this.sockets.owners().filter((o) => o.netns === this.scan.ownNetns);
    const fresh: { i: InterfaceState; key: string; capturers: PromiscHolder[] }[] = [];
    for (const i of this.interfaces) {
      if (!i.promisc) continue;
      promisc.add(i.name);
      const key = `${own}|${i.name}`;
      const onIt = sockets.filter((o) => o.sock.ifindex === i.ifindex || (o.sock.ifindex === 0 && o.sock.proto === ETH_P_ALL));
      let owners = onIt.filter((o) => o.pid !== process.pid);
      if (this.scopeRoot !== undefined) {
        owners = owners.filter((o) => this.inScope(o.pid));
        if (owners.length === 0) continue; // not (yet) attributable to the watched tree
      }
      const pids = pidSetKey(owners);
      const prev = this.promiscReported.get(key);
      if (prev) {
        // Reported as by design (or our own capture): a capturer that comes later still makes it medium.
        if (prev.pids === pids || severityRank(prev.level === 'own' ? 'info' : prev.level) >= severityRank('medium')) continue;
        prev.pids = pids;
        const capturers = this.holders(owners.map((o) => o.pid));
        if (!capturers.some((h) => !h.daemon)) continue;
        const v = judgePromisc(i.name, i, capturers, [], '');
        prev.level = v.severity;
        this.reportPromisc(key, v, now, 'sysfs', `/sys/class/net/${i.name}/flags has IFF_PROMISC; a capturer joined`);
        continue;
      }
      if (onIt.length > 0 && owners.length === 0) {
        this.promiscReported.set(key, { level: 'own', pids }); // our own capture (`sniffwatch watch`)
        continue;
      }
      fresh.push({ i, key, capturers: this.holders(owners.map((o) => o.pid)) });
    }
    const taps = this.tunHolders(fresh.filter((f) => f.i.tun).map((f) => ({ name: f.i.name, member: f.i.member, capturers: f.capturers })));
    for (const { i, key, capturers } of fresh) {
      const v = judgePromisc(i.name, i, capturers, taps.get(i.name) ?? [], '');
      // Nothing names a cause yet: a switch opens its packet socket just after making the port promiscuous.
      if (v.severity === 'medium' && !capturers.some((h) => !h.daemon) && !this.promiscPending.has(key)) {
        this.promiscPending.add(key);
        continue;
      }
      this.promiscPending.delete(key);
      this.promiscReported.set(key, { level: v.severity, pids: pidSetKey(capturers) });
      this.reportPromisc(key, v, now, 'sysfs', `/sys/class/net/${i.name}/flags has IFF_PROMISC`);
    }
    for (const set of [this.promiscReported, this.promiscPending]) {
      for (const key of set.keys()) {
        const bar = key.indexOf('|');
        if (key.slice(0, bar) === own && !promisc.has(key.slice(bar + 1))) set.delete(key);
      }
    }
  }

  private reportPromisc(key: string, v: PromiscVerdict, now: number, source: string, detail: string): void {
    const entities: Entity[] = [{ type: 'interface', value: capText(v.ifname, 64), role: 'promiscuous_interface' }];
    for (const h of v.named) entities.push({ type: 'process', value: capText(`${h.pid} ${argvText(h.argv)}`), role: h.role });
    this.opts.report('host-promiscuous-interface', key, now, { message: capText(v.message, MAX_MESSAGE), entities, severity: v.severity }, this.evidence(source, now, detail));
  }

  /** Holders of packet sockets bound to an interface of one of these names in another network namespace. */
  private capturersElsewhere(names: ReadonlySet<string>): Map<string, number[]> {
    const out = new Map<string, number[]>();
    const tables = new Map<number, Map<number, string>>();
    for (const o of this.sockets.owners()) {
      if (o.netns === this.scan.ownNetns || o.pid === process.pid || o.sock.ifindex === 0) continue;
      let table = tables.get(o.netns);
      if (!table) tables.set(o.netns, (table = ifnamesSeenBy(o.pid)));
      const name = table.get(o.sock.ifindex);
      if (name === undefined || !names.has(name)) continue;
      const list = out.get(name) ?? [];
      if (!list.includes(o.pid)) list.push(o.pid);
      out.set(name, list);
    }
    return out;
  }

  private pollKmsg(now: number): void {
    const lines = this.kmsg.drain();
    const pending = this.kmsgPending;
    this.kmsgPending = [];
    if (lines.length === 0 && pending.length === 0) return;
    const bridgePorts = new Set<string>();
    const entered = new Map<string, { member: boolean; retry: boolean }>();
    for (const p of pending) entered.set(p.ifname, { member: p.member, retry: true });
    for (const l of lines) {
      const port = parseKmsgBridgePort(l);
      if (port) bridgePorts.add(port);
      const p = parseKmsgPromisc(l);
      if (p?.entered && !entered.has(p.ifname)) entered.set(p.ifname, { member: false, retry: false });
    }
    const wanted: { name: string; member: boolean; retry: boolean }[] = [];
    for (const [ifname, e] of entered) {
      // Promiscuous now in the sensor's namespace: the sysfs check reports it, with its capturers.
      if (this.interfaces.some((i) => i.name === ifname && i.promisc)) continue;
      // Otherwise the kernel log does not say which namespace (or the switch was shorter than a poll).
      if (this.scopeRoot !== undefined && now - this.lastScopeCaptureMs > SCOPE_CAPTURE_WINDOW_MS) continue;
      const member = e.member || bridgePorts.has(ifname) || (this.interfaces.find((i) => i.name === ifname)?.member ?? false);
      if (wanted.length < MAX_KMSG_PROMISC) wanted.push({ name: ifname, member, retry: e.retry });
    }
    if (wanted.length === 0) return;
    // Attributed by interface name (the kernel log gives no namespace), from packet sockets in other namespaces and tap holders.
    const elsewhere = this.scopeRoot === undefined ? this.capturersElsewhere(new Set(wanted.map((w) => w.name))) : new Map<string, number[]>();
    const named = wanted.map((w) => ({ ...w, capturers: this.holders(elsewhere.get(w.name) ?? []) }));
    const taps = this.tunHolders(named);
    for (const w of named) {
      const v = judgePromisc(w.name, { member: w.member }, w.capturers, taps.get(w.name) ?? [], KMSG_NOTE);
      if (v.severity === 'medium' && !w.retry && !w.capturers.some((h) => !h.daemon)) {
        this.kmsgPending.push({ ifname: w.name, member: w.member });
        continue;
      }
      this.reportPromisc(`kmsg|${w.name}`, v, now, 'kmsg', `kernel: ${capText(w.name, 64)} entered promiscuous mode (network namespace not given by the kernel log)`);
    }
  }

  private reportLost(lost: number, now: number): void {
    this.opts.report(
      'host-sensor-events-lost',
      'process-events',
      now,
      {
        message: `${lost} process event(s) lost (kernel socket buffer overflow); ${this.watch.stats.lost} in total: executions in that window were not inspected`,
        entities: [{ type: 'host', value: capText(this.hostname, 64), role: 'sensor_host' }],
      },
      this.evidence('process-events', now, `lost ${lost}`),
    );
  }

  // --- traffic duplication ---

  /** A runner for the traffic-duplication reads, inside the namespace entered by `prefix` (nsenter) if any. */
  private toolRunner(prefix: readonly string[] = []): Runner {
    return (argvs) => {
      this.mirrorCommands += argvs.length;
      return runCommands(argvs, prefix);
    };
  }

  private async pollMirrors(): Promise<void> {
    try {
      if (this.stopped) return;
      const baseline = this.scopeRoot !== undefined && this.mirrorPolls === 0;
      this.mirrorPolls++;
      const now = Date.now();
      const seen = new Set<string>();
      const namespaces = this.scan.netnsList().slice(0, MAX_NAMESPACES_PER_MIRROR_POLL);
      for (const ns of namespaces) {
        if (this.stopped) return;
        const own = ns.inode === this.scan.ownNetns;
        if (!own && !this.nsenterChecked) {
          this.nsenterChecked = true;
          if (!onPath('nsenter')) {
            this.toolsMissing.add('nsenter');
            this.note('nsenter not installed (util-linux): traffic duplication is checked in the sensor\'s own network namespace only');
          }
        }
        if (!own && this.toolsMissing.has('nsenter')) continue;
        // A namespace gone meanwhile makes nsenter fail: its commands all fail, and nothing is read from it.
        const run = this.toolRunner(own ? [] : ['nsenter', `--net=${ns.path}`, '--']);
        const { configs, tunnels } = await readNamespaceMirrors(run, this.toolsMissing);
        const label = this.scan.label(ns.inode);
        for (const c of configs) this.considerMirror(c, tunnels, label, seen, baseline, now);
        for (const t of tunnels) this.considerTunnel(t, configs, label, seen, baseline, now);
      }
      for (const c of await readOvsMirrors(this.toolRunner(), this.toolsMissing)) this.considerMirror(c, [], 'host', seen, baseline, now);
      for (const k of [...this.mirrorSeen]) if (!seen.has(k)) this.mirrorSeen.delete(k);
      if (baseline) {
        this.baselineDone = true;
        if (this.baselineTainted) for (const report of this.baselineHeld) report();
        this.baselineHeld.length = 0;
      }
    } catch (e) {
      this.errors++;
      this.note(`traffic duplication check failed (continuing): ${(e as Error).message}`);
    } finally {
      this.mirrorRunning = undefined;
    }
  }

  private allowedCollector(ip: string | undefined): boolean {
    if (ip === undefined) return false;
    const n = parseIp4(ip);
    return n !== undefined && this.cfg.mirrorCollectors.has(n);
  }

  /**
   * Marks a mirror or tunnel as present in this poll; true when it is new and
   * should be reported now. A baseline sighting is held instead, and `report`
   * runs if the baseline turns out to be tainted.
   */
  private firstSighting(key: string, seen: Set<string>, baseline: boolean, report: () => void): boolean {
    seen.add(key);
    if (this.mirrorSeen.has(key)) return false;
    this.mirrorSeen.add(key);
    if (baseline) {
      this.baselineHeld.push(() => {
        this.mirrorSeen.delete(key);
        report();
      });
      return false;
    }
    return true;
  }

  private considerMirror(c: MirrorConfig, tunnels: Tunnel[], label: string, seen: Set<string>, baseline: boolean, now: number): void {
    if (c.mechanism === 'tc mirred' && c.action === 'redirect' && c.targetDev && /^ifb/.test(c.targetDev)) return; // ingress shaping through an IFB device
    const tunnel = c.targetDev ? tunnels.find((t) => t.ifname === c.targetDev) : undefined;
    const collector = c.collector ?? tunnel?.remote;
    const key = `${label}|${c.id}`;
    if (!this.firstSighting(key, seen, baseline, () => this.considerMirror(c, tunnels, label, seen, false, now))) return;
    const allowedIp = this.allowedCollector(collector);
    const byName = allowedIp ? undefined : mirrorAllowedBy(this.cfg.allowedMirrors, c);
    const severity: Severity = allowedIp || byName ? 'info' : collector ? 'high' : c.action === 'mirror' ? 'medium' : 'low';
    const entities: Entity[] = [];
    if (c.source) entities.push({ type: 'interface', value: c.source, role: 'source' });
    if (c.targetDev) entities.push({ type: 'interface', value: c.targetDev, role: 'mirror_port' });
    if (collector) entities.push({ type: 'ip', value: collector, role: 'collector' });
    entities.push({ type: 'host', value: label, role: 'network_namespace' });
    const via = tunnel ? ` through ${tunnel.kind} device ${tunnel.ifname}${tunnel.id !== undefined ? ` (id ${tunnel.id})` : ''}` : '';
    this.opts.report(
      'host-traffic-mirror',
      key,
      now,
      {
        message: `${c.what}${collector ? `; copies go to ${collector}${via}` : ''} (${label})${allowedIp ? '; collector allowed by config' : byName ? `; allowed by config (${capText(byName.text, 128)})` : ''}${this.scopeRoot !== undefined ? '; configured while the watched command ran' : ''}`,
        entities,
        severity,
      },
      this.evidence(c.mechanism.split(' ')[0]!, now, c.what),
    );
  }

  private considerTunnel(t: Tunnel, configs: MirrorConfig[], label: string, seen: Set<string>, baseline: boolean, now: number): void {
    if (!t.remote || this.allowedCollector(t.remote)) return;
    if (configs.some((c) => c.targetDev === t.ifname)) return; // the mirror feeding it is the finding
    const key = `${label}|tunnel|${t.ifname}|${t.remote}`;
    if (!this.firstSighting(key, seen, baseline, () => this.considerTunnel(t, configs, label, seen, false, now))) return;
    const erspan = /erspan/.test(t.kind);
    const byName = mirrorAllowedBy(this.cfg.allowedMirrors, { targetDev: t.ifname });
    this.opts.report(
      'host-traffic-mirror',
      key,
      now,
      {
        message: `${t.kind} device ${t.ifname} sends to ${t.remote}, which is not in host.mirror_collectors${erspan ? ' (ERSPAN exists to carry mirrored traffic)' : ''} (${label})${byName ? `; allowed by config (${capText(byName.text, 128)})` : ''}`,
        entities: [
          { type: 'interface', value: t.ifname, role: 'mirror_port' },
          { type: 'ip', value: t.remote, role: 'collector' },
          { type: 'host', value: label, role: 'network_namespace' },
        ],
        severity: byName ? 'info' : erspan ? 'high' : 'low',
      },
      this.evidence('ip-link', now, `${t.kind} ${t.ifname} remote ${t.remote}${t.local ? ` local ${t.local}` : ''}`),
    );
  }
}
