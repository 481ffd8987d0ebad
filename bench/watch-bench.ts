// Live-sensor benchmark: CPU and memory of `sniffwatch watch` at idle and
// under ~100k packets/s, the packets the kernel dropped, and detection latency.
//
// Two network namespaces joined by one veth pair; `watch` captures on the
// receiving end, tcpreplay replays a generated capture (with the arpspoof
// slice, so findings happen under load) into the other end at a fixed rate.
// The veth ends carry no addresses and IPv6 is off, so the idle phase is truly
// idle and the receiving kernel answers nothing; watch sees the frames through
// promiscuous capture (its default). Resource use is read from /proc every
// 500 ms; drops and latency come from watch's own exit statistics.
//
// Needs root, iproute2, tcpreplay and the native pcap addon; without them it
// says what is missing and exits 0. Run with `npm run bench:watch` (see
// --help). Results go to stdout (tables) and bench/out/watch-results.json.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADDON_PATH } from '../src/capture/live/pcap-live.js';
import { severityRank, type Finding } from '../src/findings/finding.js';
import { ensureCapture, type GenerateResult } from './generate.js';
import { median, readProcTimes, round } from './stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'bench', 'out');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const DEFAULT_RESULTS = join(OUT, 'watch-results.json');
const SAMPLE_MS = 500;
/** Startup (module loading, JIT, rule catalogue) is left out of the idle window. */
const SETTLE_MS = 3000;
/** After the replay ends, watch gets this long to empty the kernel ring before it is stopped. */
const DRAIN_MS = 2000;
/** A run during which other processes used more than this (% of one core) is marked disturbed and measured again. */
const DISTURBED_CPU_PERCENT = 25;
const NS_PREFIX = 'swbench';
const TX_IF = 'tx0';
const RX_IF = 'rx0';
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const CLK_TCK = clockTicks();

const HELP = `usage: node dist/bench/watch-bench.js [options]   (as root)
  --runs N            measured runs (default 3)
  --packets N         packets in the generated capture, replayed in a loop (default 500000)
  --pps N             replay rate in packets per second (default 100000)
  --idle S            seconds of idle measurement, no traffic (default 30)
  --load S            seconds of replay; the loop count is derived from it (default 30)
  --quiet-load L      before each run, wait for a 1-minute load average below L (default 0.7)
  --quiet-max-wait S  give up waiting for a quiet machine after S seconds and measure anyway (default 600)
  --buffer-mib N      passed to watch (its kernel capture buffer); default: watch's own default
  --retries N         extra runs to replace runs disturbed by other processes (default 2)
  --out FILE          results JSON (default bench/out/watch-results.json)`;

// ---------------------------------------------------------------- helpers

function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** PATH for children, with the sbin directories where `ip` lives. */
function childEnv(): NodeJS.ProcessEnv {
  const have = (process.env.PATH ?? '').split(':').filter(Boolean);
  return { ...process.env, PATH: [...have, ...SBIN_DIRS.filter((d) => !have.includes(d))].join(':') };
}

function haveTool(name: string): boolean {
  return (childEnv().PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, name)));
}

function sh(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', timeout: 30_000, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
}

function ip(args: string[]): string {
  return sh('ip', args);
}

const mib = (kib: number): number => round(kib / 1024, 1);
const progress = (line: string): void => void process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// ---------------------------------------------------------------- cleanup

// Everything this process created, so an error or a signal cannot leave namespaces or processes behind.
const liveNamespaces = new Set<string>();
const liveChildren = new Set<ChildProcess>();
const liveTempDirs = new Set<string>();

function deleteNamespace(ns: string): void {
  // A namespace lives on while a process holds it: kill ours inside it first.
  try {
    for (const pid of sh('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
  } catch {
    // namespace gone
  }
  try {
    sh('ip', ['netns', 'del', ns]);
  } catch {
    // already deleted
  }
  liveNamespaces.delete(ns);
}

function cleanupAll(): void {
  for (const c of liveChildren) {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  liveChildren.clear();
  for (const ns of [...liveNamespaces]) deleteNamespace(ns);
  for (const dir of liveTempDirs) rmSync(dir, { recursive: true, force: true });
  liveTempDirs.clear();
}

process.on('exit', cleanupAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: cleaning up\n`);
    cleanupAll();
    process.exit(130);
  });
}

/** Namespaces of this benchmark left by runs that were SIGKILLed (the pid in the name is gone). */
function sweepStaleNamespaces(): void {
  let list = '';
  try {
    list = sh('ip', ['netns', 'list']);
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const m = new RegExp(`^(${NS_PREFIX}-(\\d+)-\\S+)`).exec(line.trim());
    if (!m || Number(m[2]) === process.pid || existsSync(`/proc/${m[2]}`)) continue;
    deleteNamespace(m[1]!);
  }
}

// ---------------------------------------------------------------- the wire

interface VethPair {
  txNs: string;
  rxNs: string;
}

function createVethPair(run: number): VethPair {
  const pair = { txNs: `${NS_PREFIX}-${process.pid}-${run}-tx`, rxNs: `${NS_PREFIX}-${process.pid}-${run}-rx` };
  for (const ns of [pair.txNs, pair.rxNs]) {
    ip(['netns', 'add', ns]);
    liveNamespaces.add(ns);
    // Before the veth exists, so it is created without IPv6: no router solicitations or DAD on an "idle" link.
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  }
  ip(['-n', pair.txNs, 'link', 'add', TX_IF, 'type', 'veth', 'peer', 'name', RX_IF, 'netns', pair.rxNs]);
  ip(['-n', pair.txNs, 'link', 'set', TX_IF, 'up']);
  ip(['-n', pair.rxNs, 'link', 'set', RX_IF, 'up']);
  return pair;
}

async function waitLinkUp(ns: string, ifname: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (/\bLOWER_UP\b/.test(ip(['-n', ns, '-o', 'link', 'show', ifname]))) return;
    await sleep(100);
  }
  throw new Error(`${ns}/${ifname} did not come up`);
}

// ---------------------------------------------------------------- processes

interface Proc {
  child: ChildProcess;
  /** `ip netns exec` execs the command, so this is the command's own pid. */
  pid: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
}

function spawnInNs(ns: string, argv: string[], keepStdout: boolean): Proc {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  liveChildren.add(child);
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (c: Buffer) => {
    if (keepStdout) out += c.toString('utf8');
  });
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString('utf8');
    if (err.length > 1 << 20) err = err.slice(-(1 << 20));
    for (const w of waiters) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on('error', (e) => {
      err += `\nspawn error: ${e.message}\n`;
    });
    child.on('close', (code, signal) => {
      liveChildren.delete(child);
      for (const w of waiters) w();
      res({ code, signal });
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, timeoutMs) =>
      new Promise<void>((res, rej) => {
        const check = (): void => {
          if (pattern.test(err)) finish();
          else if (done || child.exitCode !== null) finish(new Error(`${argv[0]} exited before printing ${pattern}:\n${err.slice(-2000)}`));
        };
        const timer = setTimeout(() => finish(new Error(`${argv[0]}: no ${pattern} within ${timeoutMs} ms:\n${err.slice(-2000)}`)), timeoutMs);
        const finish = (e?: Error): void => {
          clearTimeout(timer);
          waiters.delete(check);
          if (e) rej(e);
          else res();
        };
        waiters.add(check);
        check();
      }),
  };
}

async function stopProc(p: Proc, signal: NodeJS.Signals, graceMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  try {
    process.kill(p.pid, signal);
  } catch {
    // already gone
  }
  // Unreferenced: a pending timeout must not keep the benchmark alive after the process exited.
  const late = await Promise.race([p.exited, sleep(graceMs, 'timeout' as const, { ref: false })]);
  if (late !== 'timeout') return late;
  p.child.kill('SIGKILL');
  return p.exited;
}

// ---------------------------------------------------------------- /proc sampling

interface Sample {
  /** ms since the run started. */
  t: number;
  /** watch: utime and stime of all its threads, in clock ticks. */
  utime: number;
  stime: number;
  rssKiB: number;
  hwmKiB: number;
  /** The receiving veth end, from watch's own network namespace (/proc/<pid>/net/dev). */
  rxPackets: number;
  rxDropped: number;
  /** tcpreplay's utime+stime, 0 before it starts. */
  replayTicks: number;
  /** Whole machine, /proc/stat jiffies. */
  cpuBusy: number;
  cpuTotal: number;
}

function readStatusKiB(pid: number): { rss: number; hwm: number } {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
  } catch {
    return { rss: Number.NaN, hwm: Number.NaN };
  }
}

function readNetDev(pid: number, ifname: string): { packets: number; dropped: number } {
  try {
    const line = readFileSync(`/proc/${pid}/net/dev`, 'utf8')
      .split('\n')
      .find((l) => l.trim().startsWith(`${ifname}:`));
    // receive: bytes packets errs drop ...
    const f = line!.split(':')[1]!.trim().split(/\s+/).map(Number);
    return { packets: f[1]!, dropped: f[3]! };
  } catch {
    return { packets: Number.NaN, dropped: Number.NaN };
  }
}

function readMachineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  // idle + iowait
  return { busy: total - f[3]! - (f[4] ?? 0), total };
}

class Sampler {
  readonly samples: Sample[] = [];
  replayPid = -1;
  private replayTicks = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly watchPid: number,
    private readonly t0: number,
  ) {}

  start(): void {
    this.take();
    this.timer = setInterval(() => this.take(), SAMPLE_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  take(): Sample | undefined {
    const st = readProcTimes(this.watchPid);
    if (!st) return undefined;
    const mem = readStatusKiB(this.watchPid);
    const net = readNetDev(this.watchPid, RX_IF);
    const rp = this.replayPid > 0 ? readProcTimes(this.replayPid) : undefined;
    // Once tcpreplay has exited its /proc entry is gone: keep its last reading.
    if (rp) this.replayTicks = rp.utime + rp.stime;
    const cpu = readMachineCpu();
    const s: Sample = {
      t: performance.now() - this.t0,
      utime: st.utime,
      stime: st.stime,
      rssKiB: mem.rss,
      hwmKiB: mem.hwm,
      rxPackets: net.packets,
      rxDropped: net.dropped,
      replayTicks: this.replayTicks,
      cpuBusy: cpu.busy,
      cpuTotal: cpu.total,
    };
    this.samples.push(s);
    return s;
  }
}

interface WindowStats {
  seconds: number;
  /** utime+stime over wall time, in % of one core. */
  cpuPercent: number;
  userPercent: number;
  sysPercent: number;
  /** Highest CPU of one 500 ms sampling interval. */
  cpuPercentMaxInterval: number;
  rssMiBMedian: number;
  rssMiBMax: number;
}

function windowStats(a: Sample, b: Sample, within: Sample[]): WindowStats {
  const secs = (b.t - a.t) / 1000;
  const pct = (ticks: number): number => round((ticks / CLK_TCK / secs) * 100);
  let maxInterval = 0;
  for (let i = 1; i < within.length; i++) {
    const p = within[i - 1]!;
    const q = within[i]!;
    maxInterval = Math.max(maxInterval, ((q.utime + q.stime - p.utime - p.stime) / CLK_TCK / ((q.t - p.t) / 1000)) * 100);
  }
  return {
    seconds: round(secs, 2),
    cpuPercent: pct(b.utime + b.stime - a.utime - a.stime),
    userPercent: pct(b.utime - a.utime),
    sysPercent: pct(b.stime - a.stime),
    cpuPercentMaxInterval: round(maxInterval),
    rssMiBMedian: mib(median(within.map((s) => s.rssKiB))),
    rssMiBMax: mib(Math.max(...within.map((s) => s.rssKiB))),
  };
}

// ---------------------------------------------------------------- output parsing

interface ReplayStats {
  packetsSent: number | null;
  seconds: number | null;
  pps: number | null;
  mbps: number | null;
  failed: number | null;
  retriedEnobufs: number | null;
  retriedEagain: number | null;
}

function parseTcpreplay(out: string): ReplayStats {
  const num = (re: RegExp): number | null => {
    const m = re.exec(out);
    return m ? Number(m[1]) : null;
  };
  return {
    packetsSent: num(/Actual: (\d+) packets/),
    seconds: num(/Actual: \d+ packets \(\d+ bytes\) sent in ([\d.]+) seconds/),
    pps: num(/Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/),
    mbps: num(/Rated: [\d.]+ Bps, ([\d.]+) Mbps/),
    failed: num(/Failed packets:\s+(\d+)/),
    retriedEnobufs: num(/Retried packets \(ENOBUFS\):\s+(\d+)/),
    retriedEagain: num(/Retried packets \(EAGAIN\):\s+(\d+)/),
  };
}

interface WatchExitStats {
  received: number | null;
  droppedKernel: number | null;
  droppedInterface: number | null;
  analysed: number | null;
  latency: { n: number; p50Ms: number; p99Ms: number; maxMs: number } | null;
  findingsWritten: number | null;
  findingsTotal: number | null;
}

/** watch's exit summary on stderr (src/cli/watch-command.ts: statsLine, the latency and findings lines). */
function parseWatchStderr(err: string, ifname: string): WatchExitStats {
  const stats = [...err.matchAll(new RegExp(`^sniffwatch: ${ifname}: (\\d+) packet\\(s\\) received, (\\d+) dropped by the kernel, (\\d+) dropped by the interface, (\\d+) analysed`, 'gm'))].pop();
  const lat = /detection latency \(capture timestamp to finding written\): n=(\d+) p50=([\d.]+) ms p99=([\d.]+) ms max=([\d.]+) ms/.exec(err);
  const found = /(\d+) finding\(s\) written, (\d+) in total/.exec(err);
  return {
    received: stats ? Number(stats[1]) : null,
    droppedKernel: stats ? Number(stats[2]) : null,
    droppedInterface: stats ? Number(stats[3]) : null,
    analysed: stats ? Number(stats[4]) : null,
    latency: lat ? { n: Number(lat[1]), p50Ms: Number(lat[2]), p99Ms: Number(lat[3]), maxMs: Number(lat[4]) } : null,
    findingsWritten: found ? Number(found[1]) : null,
    findingsTotal: found ? Number(found[2]) : null,
  };
}

interface FindingTally {
  byRule: Record<string, number>;
  /** ARP findings of medium severity or above: the injected arpspoof slice. */
  arpAttackRules: string[];
  /** Entities with the attacker role in those findings, as "rule: type value". */
  arpAttackers: string[];
}

function tallyFindings(jsonl: string): FindingTally {
  const byRule: Record<string, number> = {};
  const rules = new Set<string>();
  const attackers = new Set<string>();
  for (const line of jsonl.split('\n')) {
    if (!line.trim()) continue;
    let f: Finding;
    try {
      f = JSON.parse(line) as Finding;
    } catch {
      continue;
    }
    byRule[f.rule_id] = (byRule[f.rule_id] ?? 0) + 1;
    if (f.rule_id.startsWith('arp-') && severityRank(f.severity) >= severityRank('medium')) {
      rules.add(f.rule_id);
      for (const e of f.entities) if (e.role === 'attacker') attackers.add(`${f.rule_id}: ${e.type} ${e.value}`);
    }
  }
  return { byRule, arpAttackRules: [...rules].sort(), arpAttackers: [...attackers].sort() };
}

// ---------------------------------------------------------------- capture file

// ---------------------------------------------------------------- quiet machine

interface QuietWait {
  load1AtStart: number;
  waitedSeconds: number;
  /** False when the machine never got quiet and the run was measured under load. */
  quiet: boolean;
}

async function waitForQuietMachine(threshold: number, maxSeconds: number): Promise<QuietWait> {
  const started = Date.now();
  let said = false;
  while (true) {
    const load1 = loadavg()[0]!;
    const waited = (Date.now() - started) / 1000;
    if (load1 < threshold) return { load1AtStart: round(load1, 2), waitedSeconds: Math.round(waited), quiet: true };
    if (waited >= maxSeconds) {
      process.stderr.write(`  machine not quiet after ${Math.round(waited)} s (load ${load1.toFixed(2)}): measuring anyway\n`);
      return { load1AtStart: round(load1, 2), waitedSeconds: Math.round(waited), quiet: false };
    }
    if (!said) process.stderr.write(`  waiting for a 1-minute load average below ${threshold} (now ${load1.toFixed(2)}, at most ${maxSeconds} s)...\n`);
    said = true;
    await sleep(5000);
  }
}

// ---------------------------------------------------------------- one run

/** argv as a command line, with paths inside the repository relative to it and node as `node`. */
function shown(argv: string[]): string {
  return argv.map((x) => (x === process.execPath ? 'node' : x.startsWith(`${ROOT}/`) ? relative(ROOT, x) : x)).join(' ');
}

interface RunResult {
  run: number;
  startedAt: string;
  machine: QuietWait & { load1AtEnd: number };
  watchCommand: string;
  replayCommand: string;
  idle: WindowStats;
  load: WindowStats & {
    /** Frames the receiving veth end counted over the load window, per second. */
    rxPps: number;
    /** tcpreplay's own CPU (it also carries the veth's kernel receive path), % of one core. */
    replayCpuPercent: number;
    /** All cores busy, % of the whole machine. */
    machineBusyPercent: number;
    /** CPU used by everything but watch and tcpreplay, % of one core: other work on the machine disturbing the run. */
    othersCpuPercent: number;
  };
  /** Other processes used more than DISTURBED_CPU_PERCENT of a core during the load window. */
  disturbed: boolean;
  /** VmHWM at the end of the run (peak RSS). */
  peakRssMiB: number;
  replay: ReplayStats & { exitCode: number | null; output: string[] };
  /** stderr: watch's last lines (drop warnings, which say when drops happened, and the exit summary). */
  watch: WatchExitStats & { exitCode: number | null; signal: string | null; stderr: string[] };
  veth: { rxPackets: number; rxDropped: number };
  findings: FindingTally;
  samples: { t: number; cpuTicks: number; rssKiB: number; rxPackets: number }[];
}

async function runOnce(run: number, capture: GenerateResult, opts: Options): Promise<RunResult> {
  const quiet = await waitForQuietMachine(opts.quietLoad, opts.quietMaxWait);
  const startedAt = new Date().toISOString();
  const evidenceDir = mkdtempSync(join(tmpdir(), 'swbench-evidence-'));
  liveTempDirs.add(evidenceDir);
  const pair = createVethPair(run);
  let watch: Proc | undefined;
  let sampler: Sampler | undefined;
  try {
    await waitLinkUp(pair.txNs, TX_IF);
    await waitLinkUp(pair.rxNs, RX_IF);
    const watchArgv = [process.execPath, CLI, 'watch', '--iface', RX_IF, '--format', 'jsonl', '--no-host', '--evidence-dir', evidenceDir];
    if (opts.bufferMib !== undefined) watchArgv.push('--buffer-mib', String(opts.bufferMib));
    const loops = Math.max(1, Math.ceil((opts.loadSeconds * opts.pps) / capture.packets));
    // -K: the file is read into memory first, so the disk cannot slow the replay; --no-flow-stats: less work per packet for tcpreplay.
    const replayArgv = ['tcpreplay', '-i', TX_IF, '--pps', String(opts.pps), '--loop', String(loops), '-K', '--no-flow-stats', capture.path];

    const t0 = performance.now();
    watch = spawnInNs(pair.rxNs, watchArgv, true);
    await watch.waitFor(new RegExp(`watching ${RX_IF} `), 30_000);
    progress(`run ${run}: watch is capturing on ${RX_IF} (pid ${watch.pid}); idle for ${opts.idleSeconds} s`);
    sampler = new Sampler(watch.pid, t0);
    await sleep(SETTLE_MS);
    sampler.start();
    const idleFrom = sampler.samples.length - 1;
    await sleep(opts.idleSeconds * 1000);
    sampler.take();
    const idleTo = sampler.samples.length - 1;

    progress(`run ${run}: idle done, replaying ${loops} x ${capture.packets} packets at ${opts.pps} pps`);
    const replay = spawnInNs(pair.txNs, replayArgv, true);
    sampler.replayPid = replay.pid;
    const timeout = sleep((opts.loadSeconds * 4 + 120) * 1000, 'timeout' as const, { ref: false });
    const replayExit = await Promise.race([replay.exited, timeout]);
    if (replayExit === 'timeout') {
      await stopProc(replay, 'SIGINT', 5000);
      throw new Error(`tcpreplay did not finish in time:\n${replay.stderr().slice(-2000)}`);
    }
    sampler.take();
    const replayEnd = sampler.samples.length - 1;
    sampler.replayPid = -1;
    progress(`run ${run}: replay done`);
    await sleep(DRAIN_MS);
    sampler.take();
    sampler.stop();
    const final = sampler.samples[sampler.samples.length - 1]!;

    const watchExit = await stopProc(watch, 'SIGINT', 30_000);
    progress(`run ${run}: watch stopped`);
    const s = sampler.samples;
    // The load window: from the first sample that saw frames arrive to the last one (tcpreplay preloads the file before it sends).
    let first = -1;
    let last = -1;
    for (let i = idleTo + 1; i <= replayEnd; i++) {
      if (s[i]!.rxPackets > s[i - 1]!.rxPackets) {
        if (first < 0) first = i;
        last = i;
      }
    }
    if (first < 0 || last <= first) throw new Error(`no frames reached ${RX_IF}; tcpreplay said:\n${(replay.stdout() + replay.stderr()).slice(-2000)}`);
    // Frames started arriving before sample `first` and stopped after sample `last - 1`: every interval between them is fully loaded.
    const a = s[first]!;
    const b = s[Math.max(first + 1, last - 1)]!;
    const loadSecs = (b.t - a.t) / 1000;
    const replayOut = replay.stdout() + replay.stderr();
    const load = windowStats(a, b, s.slice(first, last + 1));
    const replayCpuPercent = round(((b.replayTicks - a.replayTicks) / CLK_TCK / loadSecs) * 100);
    const machineBusyPercent = round(((b.cpuBusy - a.cpuBusy) / (b.cpuTotal - a.cpuTotal)) * 100);
    const othersCpuPercent = round(Math.max(0, machineBusyPercent * cpus().length - load.cpuPercent - replayCpuPercent));
    return {
      run,
      startedAt,
      machine: { ...quiet, load1AtEnd: round(loadavg()[0]!, 2) },
      watchCommand: `ip netns exec ${pair.rxNs} ${shown(watchArgv)}`,
      replayCommand: `ip netns exec ${pair.txNs} ${shown(replayArgv)}`,
      idle: windowStats(s[idleFrom]!, s[idleTo]!, s.slice(idleFrom, idleTo + 1)),
      load: { ...load, rxPps: Math.round((b.rxPackets - a.rxPackets) / loadSecs), replayCpuPercent, machineBusyPercent, othersCpuPercent },
      disturbed: othersCpuPercent > DISTURBED_CPU_PERCENT,
      // The kernel's RSS counters are per-CPU approximations: VmHWM can trail the largest VmRSS read by a few pages.
      peakRssMiB: mib(Math.max(final.hwmKiB, ...s.map((x) => x.rssKiB))),
      replay: { ...parseTcpreplay(replayOut), exitCode: replayExit.code, output: replayOut.trim().split('\n') },
      watch: {
        ...parseWatchStderr(watch.stderr(), RX_IF),
        exitCode: watchExit.code,
        signal: watchExit.signal,
        stderr: watch.stderr().trim().split('\n').slice(-40),
      },
      veth: { rxPackets: final.rxPackets - s[idleTo]!.rxPackets, rxDropped: final.rxDropped - s[idleTo]!.rxDropped },
      findings: tallyFindings(watch.stdout()),
      samples: s.map((x) => ({ t: Math.round(x.t), cpuTicks: x.utime + x.stime, rssKiB: x.rssKiB, rxPackets: x.rxPackets })),
    };
  } catch (e) {
    if (watch) process.stderr.write(`watch stderr (last lines):\n${watch.stderr().slice(-2000)}\n`);
    throw e;
  } finally {
    sampler?.stop();
    if (watch && watch.child.exitCode === null && watch.child.signalCode === null) await stopProc(watch, 'SIGKILL', 5000);
    deleteNamespace(pair.txNs);
    deleteNamespace(pair.rxNs);
    rmSync(evidenceDir, { recursive: true, force: true });
    liveTempDirs.delete(evidenceDir);
    progress(`run ${run}: namespaces deleted`);
  }
}

// ---------------------------------------------------------------- report

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const fmt = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));
const int = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : Math.round(x).toLocaleString('en-US'));

function printTables(runs: RunResult[]): void {
  // Medians over the undisturbed runs; over all of them only when every run was disturbed.
  const clean = runs.filter((r) => !r.disturbed);
  const basis = clean.length > 0 ? clean : runs;
  const medianLabel = clean.length > 0 ? `median (${clean.length} clean)` : 'median (all disturbed)';
  const med = (f: (r: RunResult) => number | null | undefined): number => median(basis.map((r) => f(r) ?? Number.NaN));
  const label = (r: RunResult): string => `run ${r.run}${r.disturbed ? '*' : ''}`;

  const resources = runs.map((r) => [
    label(r),
    fmt(r.machine.load1AtStart, 2) + (r.machine.quiet ? '' : '!'),
    fmt(r.idle.cpuPercent, 2),
    fmt(r.idle.rssMiBMedian),
    fmt(r.load.cpuPercent),
    fmt(r.load.cpuPercentMaxInterval),
    fmt(r.load.rssMiBMax),
    fmt(r.peakRssMiB),
    fmt(r.load.replayCpuPercent),
    fmt(r.load.othersCpuPercent),
  ]);
  resources.push([
    medianLabel,
    '',
    fmt(med((r) => r.idle.cpuPercent), 2),
    fmt(med((r) => r.idle.rssMiBMedian)),
    fmt(med((r) => r.load.cpuPercent)),
    fmt(med((r) => r.load.cpuPercentMaxInterval)),
    fmt(med((r) => r.load.rssMiBMax)),
    fmt(med((r) => r.peakRssMiB)),
    fmt(med((r) => r.load.replayCpuPercent)),
    fmt(med((r) => r.load.othersCpuPercent)),
  ]);
  console.log('\nwatch resources (CPU in % of one core; RSS in MiB)');
  console.log(
    table(['', 'load1', 'idle CPU%', 'idle RSS', 'load CPU%', 'max 0.5s CPU%', 'load RSS max', 'peak RSS (HWM)', 'tcpreplay CPU%', 'others CPU%'], resources),
  );

  const latency = (p50: number, p99: number, max: number): string => `${fmt(p50, 2)} / ${fmt(p99, 2)} / ${fmt(max, 1)}`;
  const capture = runs.map((r) => {
    const lat = r.watch.latency;
    return [
      label(r),
      int(r.replay.pps),
      int(r.load.rxPps),
      int(r.replay.packetsSent),
      int(r.replay.failed),
      int(r.veth.rxDropped),
      int(r.watch.received),
      int(r.watch.droppedKernel),
      int(r.watch.droppedInterface),
      int(r.watch.analysed),
      lat ? `${latency(lat.p50Ms, lat.p99Ms, lat.maxMs)} (n=${lat.n})` : '-',
      `${int(r.watch.findingsTotal)}${r.findings.arpAttackRules.length > 0 ? ' (ARP attack seen)' : ' (ARP attack MISSED)'}`,
    ];
  });
  capture.push([
    medianLabel,
    int(med((r) => r.replay.pps)),
    int(med((r) => r.load.rxPps)),
    '',
    '',
    '',
    '',
    int(med((r) => r.watch.droppedKernel)),
    int(med((r) => r.watch.droppedInterface)),
    '',
    latency(med((r) => r.watch.latency?.p50Ms), med((r) => r.watch.latency?.p99Ms), med((r) => r.watch.latency?.maxMs)),
    '',
  ]);
  console.log('\ncapture and detection under load (pps: tcpreplay\'s "Rated" / counted on the receiving veth)');
  console.log(
    table(['', 'tcpreplay pps', 'veth rx pps', 'sent', 'send failed', 'veth drop', 'watch received', 'kernel drop', 'if drop', 'analysed', 'latency p50 / p99 / max ms', 'findings'], capture),
  );
  if (runs.some((r) => r.disturbed)) console.log(`\n* disturbed: other processes used more than ${DISTURBED_CPU_PERCENT}% of a core during the load window`);
  if (runs.some((r) => !r.machine.quiet)) console.log('! the machine was not quiet before this run (1-minute load average shown)');
}

// ---------------------------------------------------------------- main

interface Options {
  runs: number;
  packets: number;
  pps: number;
  idleSeconds: number;
  loadSeconds: number;
  quietLoad: number;
  quietMaxWait: number;
  /** watch's --buffer-mib; its default when undefined. */
  bufferMib: number | undefined;
  /** Extra runs allowed to replace disturbed ones. */
  retries: number;
  out: string;
}

function parseOptions(): Options | undefined {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      packets: { type: 'string', default: '500000' },
      pps: { type: 'string', default: '100000' },
      idle: { type: 'string', default: '30' },
      load: { type: 'string', default: '30' },
      'quiet-load': { type: 'string', default: '0.7' },
      'quiet-max-wait': { type: 'string', default: '600' },
      'buffer-mib': { type: 'string' },
      retries: { type: 'string', default: '2' },
      out: { type: 'string', default: DEFAULT_RESULTS },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return undefined;
  }
  const positive = (name: string, text: string, integer: boolean): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new Error(`--${name} must be a ${integer ? 'non-negative integer' : 'non-negative number'}, not '${text}'`);
    return n;
  };
  return {
    runs: Math.max(1, positive('runs', values.runs, true)),
    packets: Math.max(1, positive('packets', values.packets, true)),
    pps: Math.max(1, positive('pps', values.pps, true)),
    idleSeconds: Math.max(1, positive('idle', values.idle, false)),
    loadSeconds: Math.max(1, positive('load', values.load, false)),
    quietLoad: positive('quiet-load', values['quiet-load'], false),
    quietMaxWait: positive('quiet-max-wait', values['quiet-max-wait'], false),
    bufferMib: values['buffer-mib'] === undefined ? undefined : Math.max(1, positive('buffer-mib', values['buffer-mib'], false)),
    retries: positive('retries', values.retries, true),
    out: resolve(values.out),
  };
}

/** Why this machine cannot run the benchmark, or undefined when it can. */
function cannotRun(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux network namespaces (platform is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, raw capture and replay)';
  if (!haveTool('ip')) return 'tool missing: ip (Debian package iproute2)';
  if (!haveTool('tcpreplay')) return 'tool missing: tcpreplay (Debian package tcpreplay)';
  if (!existsSync(ADDON_PATH)) return `native pcap addon missing (${relative(ROOT, ADDON_PATH)}): apt-get install build-essential libpcap-dev && npm run build:native`;
  if (!existsSync(CLI)) return `${relative(ROOT, CLI)} missing: npm run build`;
  return undefined;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  if (!opts) return;
  const why = cannotRun();
  if (why) {
    console.log(`watch benchmark skipped: ${why}`);
    return;
  }
  sweepStaleNamespaces();
  mkdirSync(OUT, { recursive: true });
  const capturePath = join(OUT, 'watch-capture.pcap');
  const capture = ensureCapture(capturePath, opts.packets, true, relative(ROOT, capturePath));
  // tcpreplay prints its version on stderr and exits 1.
  const version = spawnSync('tcpreplay', ['--version'], { encoding: 'utf8', env: childEnv(), timeout: 10_000 });
  const tcpreplayVersion = /tcpreplay version: (\S+)/.exec(`${version.stdout}${version.stderr}`)?.[1] ?? 'unknown';

  // Disturbed runs are kept (and shown) but measured again, up to --retries extra runs.
  const runs: RunResult[] = [];
  for (let run = 1; run <= opts.runs + opts.retries && runs.filter((r) => !r.disturbed).length < opts.runs; run++) {
    process.stderr.write(`run ${run} (${runs.filter((r) => !r.disturbed).length} of ${opts.runs} clean so far)\n`);
    const r = await runOnce(run, capture, opts);
    if (r.disturbed) progress(`run ${run}: disturbed (other processes used ${r.load.othersCpuPercent}% of a core); measuring again if retries are left`);
    runs.push(r);
  }
  printTables(runs);
  const results = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: round(totalmem() / 2 ** 30, 1), kernel: release(), node: process.version, tcpreplay: tcpreplayVersion },
    options: opts,
    capture: { file: relative(ROOT, capture.path), packets: capture.packets, bytes: capture.bytes, seed: capture.seed, withAttack: capture.withAttack, generatorVersion: capture.generatorVersion, counts: capture.counts },
    notes: [
      'CPU is utime+stime of all watch threads from /proc/<pid>/stat, in % of one core; RSS is VmRSS, peak is VmHWM (/proc/<pid>/status).',
      'The veth receive path (softirq, BPF filter, copy into the capture ring) runs mostly on the sending CPU in tcpreplay\'s context and is counted in its CPU, not in watch\'s.',
      `othersCpuPercent: machine-wide busy time minus watch and tcpreplay; a run above ${DISTURBED_CPU_PERCENT}% of a core is marked disturbed and left out of the medians.`,
      'Detection latency is watch\'s own: kernel capture timestamp to finding written, for new or escalated findings only.',
      'Idle window starts 3 s after watch said it was watching; the load window spans the samples in which the receiving veth counted frames.',
    ],
    runs,
  };
  writeFileSync(opts.out, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nresults: ${opts.out.startsWith(`${ROOT}/`) ? relative(ROOT, opts.out) : opts.out}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`watch benchmark failed: ${(e as Error)?.stack ?? String(e)}\n`);
  cleanupAll();
  process.exitCode = 1;
});
