import { hostname as osHostname } from 'node:os';
import { sectionOf, type SniffwatchConfig } from '../config/config.js';
import { parseIp4 } from '../decode/addr.js';
import { isoTime, severityRank, type Entity, type Evidence, type Severity } from '../findings/finding.js';
import type { Report } from '../analyzers/analyzer.js';
import { BuildIdIndex } from './build-id.js';
import { ifnamesSeenBy, KmsgReader, PacketSocketTable, parseKmsgBridgePort, parseKmsgPromisc, readInterfaces, type InterfaceState, type SocketOwner } from './capture-watch.js';
import { HOST_CONFIG, type HostConfig } from './config.js';
import { allowedBy, argvText, capText, contextOf, doing, ETH_P_ALL, EXEC_RULES, judgeCapNetRaw, judgeExec, judgePacketSocket, processEntities, userText, type Judgement, type RunContext } from './judge.js';
import { isOwnToolPid, MIRROR_CONFIG_TOOLS, readNamespaceMirrors, readOvsMirrors, runCommand, type MirrorConfig, type Runner, type Tunnel } from './mirror.js';
import { enrich, snapshotFromProc, type ProcessInfo, type Snapshot } from './process-info.js';
import type { ExecEvent, ProcessWatch } from './process-watch.js';
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
  private readonly promiscReported = new Set<string>();
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
    this.watch = this.subscription.watch;
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
    this.subscription.attach({
      onExec: (ev) => this.guard(() => this.onExec(ev)),
      onUidChange: (pid, t) => this.guard(() => this.onUidChange(pid, t)),
      onLost: (lost) => {
        this.pendingLost += lost;
      },
      onError: (m) => this.note(m),
    });
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
    this.watch.stop();
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
    if (this.scopeRoot !== undefined && !this.baselineDone && !isOwnToolPid(pid)) {
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

  /** Processes holding a packet socket that receives from this interface of the sensor's namespace. */
  private capturersOf(ifindex: number): SocketOwner[] {
    return this.sockets.owners().filter((o) => o.netns === this.scan.ownNetns && (o.sock.ifindex === ifindex || (o.sock.ifindex === 0 && o.sock.proto === ETH_P_ALL)));
  }

  private pollInterfaces(now: number): void {
    this.interfaces = readInterfaces();
    const promisc = new Set<string>();
    for (const i of this.interfaces) {
      if (!i.promisc) continue;
      promisc.add(i.name);
      const key = `${this.scan.label(this.scan.ownNetns)}|${i.name}`;
      if (this.promiscReported.has(key)) continue;
      const capturers = this.capturersOf(i.ifindex);
      if (capturers.length > 0 && capturers.every((o) => o.pid === process.pid)) {
        this.promiscReported.add(key); // our own capture (`sniffwatch watch`)
        continue;
      }
      let owners = capturers.filter((o) => o.pid !== process.pid);
      if (this.scopeRoot !== undefined) {
        owners = owners.filter((o) => this.inScope(o.pid));
        if (owners.length === 0) continue; // not (yet) attributable to the watched tree
      }
      this.promiscReported.add(key);
      this.reportPromisc(i.name, key, i.member, owners, now, 'sysfs', `/sys/class/net/${i.name}/flags has IFF_PROMISC`);
    }
    for (const key of [...this.promiscReported]) {
      const [ns, name] = key.split('|');
      if (ns === 'host' && name !== undefined && !promisc.has(name)) this.promiscReported.delete(key);
    }
  }

  private reportPromisc(ifname: string, key: string, member: boolean, owners: SocketOwner[], now: number, source: string, detail: string): void {
    const entities: Entity[] = [{ type: 'interface', value: capText(ifname, 64), role: 'promiscuous_interface' }];
    const names: string[] = [];
    for (const o of owners.slice(0, 4)) {
      const snap = snapshotFromProc(o.pid);
      if (!snap) continue;
      const name = baseName(snap.exe || snap.argv[0] || '?');
      names.push(`${name} (pid ${o.pid})`);
      entities.push({ type: 'process', value: capText(`${o.pid} ${argvText(snap.argv)}`), role: 'capturer' });
    }
    const severity: Severity = member ? 'info' : 'medium';
    this.opts.report(
      'host-promiscuous-interface',
      key,
      now,
      {
        message: member
          ? `${ifname} is promiscuous as a bridge or bond member (by design)`
          : `${ifname} entered promiscuous mode${source === 'kmsg' ? ' (kernel log: the network namespace is not known, and it may have left it again)' : ''}${names.length > 0 ? `; capturing: ${names.join(', ')}` : ''}`,
        entities,
        severity,
      },
      this.evidence(source, now, detail),
    );
  }

  private pollKmsg(now: number): void {
    const lines = this.kmsg.drain();
    if (lines.length === 0) return;
    const bridgePorts = new Set<string>();
    const entered: string[] = [];
    for (const l of lines) {
      const port = parseKmsgBridgePort(l);
      if (port) bridgePorts.add(port);
      const p = parseKmsgPromisc(l);
      if (p?.entered) entered.push(p.ifname);
    }
    const current = readInterfaces();
    for (const ifname of entered) {
      // Promiscuous now in the sensor's namespace: the sysfs check reports it, with its capturers.
      if (current.some((i) => i.name === ifname && i.promisc)) continue;
      // Otherwise the kernel log does not say which namespace (or the switch was shorter than a poll).
      if (this.scopeRoot !== undefined && now - this.lastScopeCaptureMs > SCOPE_CAPTURE_WINDOW_MS) continue;
      const member = bridgePorts.has(ifname) || (current.find((i) => i.name === ifname)?.member ?? false);
      this.reportPromisc(ifname, `kmsg|${ifname}`, member, [], now, 'kmsg', `kernel: ${capText(ifname, 64)} entered promiscuous mode (network namespace not given by the kernel log)`);
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
        if (!own && this.toolsMissing.has('nsenter')) continue;
        const run: Runner = own ? (argv) => runCommand(argv) : (argv) => runCommand(['nsenter', `--net=${ns.path}`, '--', ...argv]);
        if (!own) {
          const probe = await runCommand(['nsenter', `--net=${ns.path}`, '--', 'true']);
          if (probe.missing) {
            this.toolsMissing.add('nsenter');
            this.note('nsenter not installed (util-linux): traffic duplication is checked in the sensor\'s own network namespace only');
            continue;
          }
          if (!probe.ok) continue; // namespace gone meanwhile
        }
        const { configs, tunnels } = await readNamespaceMirrors(run, this.toolsMissing);
        const label = this.scan.label(ns.inode);
        for (const c of configs) this.considerMirror(c, tunnels, label, seen, baseline, now);
        for (const t of tunnels) this.considerTunnel(t, configs, label, seen, baseline, now);
      }
      for (const c of await readOvsMirrors(runCommand, this.toolsMissing)) this.considerMirror(c, [], 'host', seen, baseline, now);
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

  private considerMirror(c: MirrorConfig, tunnels: Tunnel[], label: string, seen: Set<string>, baseline: boolean, now: number): void {
    if (c.mechanism === 'tc mirred' && c.action === 'redirect' && c.targetDev && /^ifb/.test(c.targetDev)) return; // ingress shaping through an IFB device
    const tunnel = c.targetDev ? tunnels.find((t) => t.ifname === c.targetDev) : undefined;
    const collector = c.collector ?? tunnel?.remote;
    const key = `${label}|${c.id}`;
    seen.add(key);
    if (this.mirrorSeen.has(key)) return;
    this.mirrorSeen.add(key);
    if (baseline) {
      this.baselineHeld.push(() => {
        this.mirrorSeen.delete(key);
        this.considerMirror(c, tunnels, label, seen, false, now);
      });
      return;
    }
    const allowed = this.allowedCollector(collector);
    const severity: Severity = allowed ? 'info' : collector ? 'high' : c.action === 'mirror' ? 'medium' : 'low';
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
        message: `${c.what}${collector ? `; copies go to ${collector}${via}` : ''} (${label})${allowed ? '; collector allowed by config' : ''}${this.scopeRoot !== undefined ? '; configured while the watched command ran' : ''}`,
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
    seen.add(key);
    if (this.mirrorSeen.has(key)) return;
    this.mirrorSeen.add(key);
    if (baseline) {
      this.baselineHeld.push(() => {
        this.mirrorSeen.delete(key);
        this.considerTunnel(t, configs, label, seen, false, now);
      });
      return;
    }
    const erspan = /erspan/.test(t.kind);
    this.opts.report(
      'host-traffic-mirror',
      key,
      now,
      {
        message: `${t.kind} device ${t.ifname} sends to ${t.remote}, which is not in host.mirror_collectors${erspan ? ' (ERSPAN exists to carry mirrored traffic)' : ''} (${label})`,
        entities: [
          { type: 'interface', value: t.ifname, role: 'mirror_port' },
          { type: 'ip', value: t.remote, role: 'collector' },
          { type: 'host', value: label, role: 'network_namespace' },
        ],
        severity: erspan ? 'high' : 'low',
      },
      this.evidence('ip-link', now, `${t.kind} ${t.ifname} remote ${t.remote}${t.local ? ` local ${t.local}` : ''}`),
    );
  }
}
