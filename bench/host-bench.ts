// Host-sensor benchmark, two parts:
//
// 1. Exec-event throughput: the host sensor (startHostSensors, machine-wide,
//    as `sniffwatch watch` runs it) in its own process, while a fork/exec
//    storm compiled here with the system cc (posix_spawn of a tiny static
//    program, from one worker per CPU, paced to a target rate) runs in rising
//    steps. Per step: execs started, execs the sensor saw, events it counted
//    lost, execs gone before they could be read, its CPU.
// 2. `sniffwatch run` overhead: its fixed cost (when a 0.5 s command starts
//    and when sniffwatch exits after it, against the same command alone), and
//    the same build with and without
//    `sniffwatch run --policy audit --` in front, alternating, several runs
//    each: wall time (median and paired difference) and CPU time; a pair
//    during which other processes were busy is measured again.
//    Builds: `npx tsc -p tsconfig.json --outDir TMP` (this repository), and a
//    longer job script (tsc, a type check, the two native addons rebuilt with
//    node-gyp from a temporary copy, twice).
//
// Needs root (the process-events connector), cc for the storm and GNU time
// for the builds; without them it says what is missing and exits 0. `npm run bench:host` (see
// --help). Results go to stdout (tables) and bench/out/host-results.json.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostSensorStats } from '../src/host/index.js';
import { readNamespaceMirrors, readOvsMirrors, runCommands, type Runner } from '../src/host/mirror.js';
import { median, readProcTimes, round } from './stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'bench', 'out');
/** The sniffwatch command as users run it: `run` goes through the native launcher when it is built. */
const DEFAULT_CLI = join(ROOT, 'bin', 'sniffwatch');

/** argv running the CLI: a .js file with this Node, anything else (the sniffwatch command) as it is. */
function cliArgv(cli: string, args: string[]): string[] {
  return cli.endsWith('.js') ? [process.execPath, cli, ...args] : [cli, ...args];
}
const SELF = fileURLToPath(import.meta.url);
const DEFAULT_RESULTS = join(OUT, 'host-results.json');
const NODE_GYP = ['/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js', join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
/** A storm step that reaches less than this share of its target rate is the storm's ceiling. */
const SATURATED = 0.85;
/** After a step, the sensor's counters are read once a SETTLE_MS interval brings no more than background events. */
const SETTLE_MS = 300;
/** Execs per SETTLE_MS from the rest of the machine (the sensor counts every exec) still taken as settled. */
const BACKGROUND_EXECS = 30;
const CLK_TCK = 100;

const HELP = `usage: node dist/bench/host-bench.js [options]   (as root)
  --rates LIST        storm steps, execs per second, comma-separated (default 1000,2000,4000,8000,16000);
                      an unpaced step follows, and steps stop once the storm cannot keep up
  --step-seconds S    length of each storm step (default 5)
  --workers N         storm processes (default: one per CPU)
  --runs N            runs of the tsc build with and without sniffwatch run, each (default 21)
  --long-runs N       runs of the longer job script, each (default 5)
  --job-rounds N      rounds of the job script (tsc, type check, addons) per run (default 2, ~23 s here)
  --fixed-runs N      runs of a 0.5 s command for the fixed start and end cost, each (default 21)
  --disturbed-percent P  a pair during which other processes used more than P% of a core is measured
                      again (default 25)
  --retries N         extra pairs per build to replace disturbed ones (default 6)
  --skip-storm        only the run overhead
  --skip-run          only the storm
  --quiet-cpu P       before each measurement, wait until other processes use less than P% of a core
                      (default 10)
  --quiet-max-wait S  then measure anyway (default 120)
  --cli FILE          the sniffwatch CLI to measure: the command (default bin/sniffwatch) or a main.js, run with node (dist/src/cli/main.js: run without the launcher; another build to compare)
  --out FILE          results JSON (default bench/out/host-results.json)`;

// ---------------------------------------------------------------- helpers

const progress = (line: string): void => void process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => process.exit(130));

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

function have(file: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${file}`], { stdio: 'ignore' }).status === 0;
}

/** utime + stime of a process (all its threads), in seconds; NaN once it is gone. */
function cpuSeconds(pid: number): number {
  const t = readProcTimes(pid);
  return t === undefined ? Number.NaN : (t.utime + t.stime) / CLK_TCK;
}

/** Busy CPU of the whole machine so far (all cores, time stolen by the hypervisor included), in seconds, from /proc/stat. */
function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is counted in user): all but idle and iowait.
  return f.slice(0, 8).reduce((a, b, i) => (i === 3 || i === 4 ? a : a + b), 0) / CLK_TCK;
}

/** Waits until the rest of the machine uses less than `maxPercent` of a core (over 2 s); returns what it used last. */
async function waitForQuietMachine(maxPercent: number, maxSeconds: number): Promise<number> {
  const started = Date.now();
  let said = false;
  while (true) {
    const b0 = machineBusySeconds();
    await sleep(2000);
    const busy = round((machineBusySeconds() - b0) * 50);
    if (busy < maxPercent || Date.now() - started >= maxSeconds * 1000) return busy;
    if (!said) progress(`waiting until other processes use less than ${maxPercent}% of a core (now ${busy}%, at most ${maxSeconds} s)`);
    said = true;
  }
}

// ---------------------------------------------------------------- the sensor, in its own process

// `host-bench.js --sensor`: the host sensor as `watch` runs it (machine-wide, 1 s polls);
// answers each "stats" line on stdin with one JSON line, stops at the end of stdin.
async function sensorChild(): Promise<void> {
  const { startHostSensors } = await import('../src/host/index.js');
  const { defaultConfig } = await import('../src/config/config.js');
  let findings = 0;
  const sensors = await startHostSensors({ config: defaultConfig(), report: () => void findings++, pollMs: 1000 });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === 'stats') process.stdout.write(`${JSON.stringify({ ...sensors.stats(), findings, notes: sensors.notes })}\n`);
  }
  await sensors.stop();
  process.exit(0);
}

type SensorStats = HostSensorStats & { findings: number; notes: string[] };

class SensorProcess {
  private readonly child = spawn(process.execPath, [SELF, '--sensor'], { stdio: ['pipe', 'pipe', 'inherit'] });
  private readonly replies: ((s: SensorStats) => void)[] = [];

  constructor() {
    createInterface({ input: this.child.stdout! }).on('line', (l) => this.replies.shift()?.(JSON.parse(l) as SensorStats));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  stats(): Promise<SensorStats> {
    return new Promise((res) => {
      this.replies.push(res);
      this.child.stdin!.write('stats\n');
    });
  }

  /** Counters once events arrive no faster than the machine's background rate (at most 5 s). */
  async settled(): Promise<SensorStats> {
    let last = await this.stats();
    for (let i = 0; i < 5000 / SETTLE_MS; i++) {
      await sleep(SETTLE_MS);
      const now = await this.stats();
      if (now.execs - last.execs <= BACKGROUND_EXECS && now.lost === last.lost) return now;
      last = now;
    }
    return last;
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    await new Promise((res) => this.child.once('exit', res));
  }
}

// ---------------------------------------------------------------- the storm

const STORM_C = `#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
extern char **environ;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
/* storm RATE SECONDS WORKERS EXE: posix_spawn + wait of EXE, RATE per second in all (0: as fast as possible). */
int main(int argc, char **argv) {
  if (argc != 5) return 2;
  double rate = atof(argv[1]), secs = atof(argv[2]);
  int workers = atoi(argv[3]);
  char *args[] = { argv[4], NULL };
  int fds[2];
  if (pipe(fds) != 0) return 1;
  double t0 = now();
  for (int w = 0; w < workers; w++) {
    if (fork() != 0) continue;
    double per = rate / workers, next = now();
    long ok = 0, failed = 0;
    while (now() - t0 < secs) {
      if (per > 0) {
        double t = now();
        /* Behind by more than 10 ms: skip ahead instead of bursting, so a slow step shows as a lower rate. */
        if (t - next > 0.01) next = t;
        if (next > t) { struct timespec d = { (time_t)(next - t), (long)((next - t - (time_t)(next - t)) * 1e9) }; nanosleep(&d, NULL); }
        next += 1.0 / per;
      }
      pid_t pid;
      int st;
      if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) != 0) { failed++; continue; }
      if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0) ok++; else failed++;
    }
    long r[2] = { ok, failed };
    if (write(fds[1], r, sizeof r) != sizeof r) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  long ok = 0, failed = 0, r[2];
  while (read(fds[0], r, sizeof r) == sizeof r) { ok += r[0]; failed += r[1]; }
  while (wait(NULL) > 0) {}
  printf("%ld %ld %.6f\\n", ok, failed, now() - t0);
  return 0;
}
`;

interface StormTools {
  storm: string;
  /** The program each exec runs: a static no-op when it links, else /bin/true. */
  target: string;
}

function buildStorm(): StormTools | string {
  if (!have('cc')) return 'cc not installed (Debian package build-essential)';
  const dir = tempDir('sniffwatch-host-bench-');
  writeFileSync(join(dir, 'storm.c'), STORM_C);
  writeFileSync(join(dir, 'nop.c'), 'int main(void) { return 0; }\n');
  execFileSync('cc', ['-O2', '-o', join(dir, 'storm'), join(dir, 'storm.c')], { stdio: 'pipe' });
  const nop = spawnSync('cc', ['-O2', '-static', '-o', join(dir, 'nop'), join(dir, 'nop.c')], { stdio: 'pipe' });
  return { storm: join(dir, 'storm'), target: nop.status === 0 ? join(dir, 'nop') : '/bin/true' };
}

interface StormStep {
  /** Target execs per second; 0: unpaced. */
  targetRate: number;
  execs: number;
  failed: number;
  seconds: number;
  rate: number;
  /** Execs the sensor counted over the step (the whole machine: includes other processes). */
  seen: number;
  lost: number;
  vanished: number;
  /** The sensor process's CPU over the step, % of one core. */
  sensorCpuPercent: number;
  /** Longest exec-to-handling delay since the sensor started (a running maximum). */
  maxLatencyMs: number;
  /** CPU the rest of the machine used just before the step, % of one core. */
  othersBeforePercent: number;
}

async function stormStep(tools: StormTools, sensor: SensorProcess, targetRate: number, seconds: number, workers: number, opts: Options): Promise<StormStep> {
  const othersBeforePercent = await waitForQuietMachine(opts.quietCpu, opts.quietMaxWait);
  const before = await sensor.settled();
  const cpu0 = cpuSeconds(sensor.pid);
  const out = await new Promise<string>((res, rej) => {
    const p = spawn(tools.storm, [String(targetRate), String(seconds), String(workers), tools.target], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (c: Buffer) => (text += c.toString()));
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res(text) : rej(new Error(`storm exited ${code}`))));
  });
  const after = await sensor.settled();
  const cpu1 = cpuSeconds(sensor.pid);
  const [execs, failed, secs] = out.trim().split(' ').map(Number) as [number, number, number];
  return {
    targetRate,
    execs,
    failed,
    seconds: round(secs, 2),
    rate: Math.round(execs / secs),
    seen: after.execs - before.execs,
    lost: after.lost - before.lost,
    vanished: after.vanished - before.vanished,
    sensorCpuPercent: round(((cpu1 - cpu0) / secs) * 100),
    maxLatencyMs: after.maxLatencyMs,
    othersBeforePercent,
  };
}

async function measureStorm(opts: Options): Promise<{ target: string; workers: number; mode: string; notes: string[]; steps: StormStep[] } | string> {
  const tools = buildStorm();
  if (typeof tools === 'string') return tools;
  const sensor = new SensorProcess();
  try {
    const first = await sensor.settled();
    if (first.mode !== 'process-events') return `the sensor is in ${first.mode} mode (${first.notes.join('; ')}): no process events to measure`;
    const steps: StormStep[] = [];
    for (const rate of [...opts.rates, 0]) {
      const step = await stormStep(tools, sensor, rate, opts.stepSeconds, opts.workers, opts);
      steps.push(step);
      progress(`storm ${rate === 0 ? 'unpaced' : `${rate}/s`}: ${step.execs} execs at ${step.rate}/s, sensor saw ${step.seen}, lost ${step.lost}, vanished ${step.vanished}, sensor CPU ${step.sensorCpuPercent}%`);
      if (rate > 0 && step.rate < rate * SATURATED) {
        // The storm's ceiling on this machine: one unpaced step shows it, the higher steps would repeat it.
        const max = await stormStep(tools, sensor, 0, opts.stepSeconds, opts.workers, opts);
        steps.push(max);
        progress(`storm unpaced: ${max.execs} execs at ${max.rate}/s, sensor saw ${max.seen}, lost ${max.lost}, vanished ${max.vanished}, sensor CPU ${max.sensorCpuPercent}%`);
        break;
      }
    }
    return { target: tools.target, workers: opts.workers, mode: first.mode, notes: first.notes, steps };
  } finally {
    await sensor.stop();
  }
}

// ---------------------------------------------------------------- run overhead

interface Timed {
  wall: number;
  cpu: number;
  /** CPU used meanwhile by everything else on the machine (and stolen by the hypervisor), % of one core. */
  othersCpuPercent: number;
  status: number | null;
  stderr: string;
}

let timeDir: string | undefined;

/** Runs argv, returning its wall time and the CPU time of it and all its descendants (GNU time). */
function timed(argv: string[], cwd: string): Timed {
  timeDir ??= tempDir('sniffwatch-host-bench-time-');
  const file = join(timeDir, 'time');
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', file, ...argv], { cwd, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 });
  const wall = (performance.now() - t0) / 1000;
  const busy = machineBusySeconds() - busy0;
  const cpu = readFileSync(file, 'utf8').trim().split('\n').pop()!.split(' ').map(Number).reduce((a, b) => a + b, 0);
  return { wall, cpu, othersCpuPercent: Math.max(0, round(((busy - cpu) / wall) * 100)), status: r.status, stderr: r.stderr };
}

interface OverheadPair {
  plain: number;
  guarded: number;
  plainCpu: number;
  guardedCpu: number;
  /** Highest CPU of other processes during either run, % of one core. */
  othersCpuPercent: number;
  disturbed: boolean;
}

interface OverheadResult {
  build: string;
  command: string;
  /** Every pair measured, disturbed ones included; the summary uses the clean ones. */
  pairs: OverheadPair[];
  clean: number;
  plainMedian: number;
  guardedMedian: number;
  /** Median of the per-pair differences (guarded minus plain, measured one right after the other). */
  pairedDiffMedian: number;
  ratio: number;
  overheadPercent: number;
  pairedOverheadPercent: number;
  /** CPU time sniffwatch run added (its own and its children's), median over pairs. */
  cpuOverheadSeconds: number;
  /** sniffwatch's own CPU time while the command ran, per guarded run (median, and the largest), from --stats; null when the CLI lacks it. */
  sniffwatchCpuSeconds: number | null;
  sniffwatchCpuMaxSeconds: number | null;
  /** Most commands a guarded run's traffic-duplication checks ran (their CPU is not in sniffwatch's own). */
  mirrorCommandsMax: number | null;
  /** Anything sniffwatch run wrote on stderr (notes, findings) in the guarded runs. */
  sniffwatchStderr: string[];
}

async function measureOverhead(build: string, command: (outDir: string) => string[], runs: number, opts: Options): Promise<OverheadResult> {
  const pairs: OverheadPair[] = [];
  const said = new Set<string>();
  const ownCpu: number[] = [];
  const mirrorCommands: number[] = [];
  const work = tempDir('sniffwatch-host-bench-build-');
  const stats = cliHasStats(opts.cli);
  const guard = (argv: string[]): string[] => cliArgv(opts.cli, ['run', '--policy', 'audit', ...(stats ? ['--stats'] : []), '--', ...argv]);
  // One unmeasured run of each: the page cache, npx's cache and the JIT start warm for both.
  timed(command(join(work, 'warm')), ROOT);
  timed(guard(command(join(work, 'warm'))), ROOT);
  for (let i = 0; pairs.filter((p) => !p.disturbed).length < runs && i < runs + opts.retries; i++) {
    await waitForQuietMachine(opts.quietCpu, opts.quietMaxWait);
    const got: Partial<Record<'plain' | 'guarded', Timed>> = {};
    // Alternating which goes first, so drift in the machine's load falls on both.
    for (const kind of i % 2 === 0 ? (['plain', 'guarded'] as const) : (['guarded', 'plain'] as const)) {
      const argv = command(join(work, `${kind}${i}`));
      const r = timed(kind === 'guarded' ? guard(argv) : argv, ROOT);
      if (r.status !== 0) throw new Error(`${build}${kind === 'guarded' ? ' under sniffwatch run' : ''} exited ${r.status}:\n${r.stderr.slice(-2000)}`);
      if (kind === 'guarded') {
        for (const l of r.stderr.split('\n')) if (l.startsWith('sniffwatch') && !STATS_LINE.test(l)) said.add(l);
        const own = STATS_LINE.exec(r.stderr);
        if (own) {
          ownCpu.push(Number(own[1]));
          mirrorCommands.push(Number(own[2]));
        }
      }
      got[kind] = r;
    }
    const others = Math.max(got.plain!.othersCpuPercent, got.guarded!.othersCpuPercent);
    const pair = { plain: round(got.plain!.wall, 3), guarded: round(got.guarded!.wall, 3), plainCpu: round(got.plain!.cpu, 2), guardedCpu: round(got.guarded!.cpu, 2), othersCpuPercent: others, disturbed: others > opts.disturbedPercent };
    pairs.push(pair);
    progress(`${build} pair ${i + 1}: plain ${pair.plain.toFixed(2)} s, under sniffwatch run ${pair.guarded.toFixed(2)} s; other processes ${others}% of a core${pair.disturbed ? ' (disturbed, not counted)' : ''}`);
  }
  const clean = pairs.filter((p) => !p.disturbed);
  const use = clean.length > 0 ? clean : pairs;
  const plainMedian = median(use.map((p) => p.plain));
  const guardedMedian = median(use.map((p) => p.guarded));
  const pairedDiffMedian = median(use.map((p) => p.guarded - p.plain));
  return {
    build,
    command: command('TMP').map((x) => (x === process.execPath ? 'node' : x)).join(' '),
    pairs,
    clean: clean.length,
    plainMedian: round(plainMedian, 3),
    guardedMedian: round(guardedMedian, 3),
    pairedDiffMedian: round(pairedDiffMedian, 3),
    ratio: round(guardedMedian / plainMedian, 4),
    overheadPercent: round((guardedMedian / plainMedian - 1) * 100, 2),
    pairedOverheadPercent: round((pairedDiffMedian / plainMedian) * 100, 2),
    cpuOverheadSeconds: round(median(use.map((p) => p.guardedCpu - p.plainCpu)), 3),
    sniffwatchCpuSeconds: ownCpu.length > 0 ? round(median(ownCpu), 3) : null,
    sniffwatchCpuMaxSeconds: ownCpu.length > 0 ? round(Math.max(...ownCpu), 3) : null,
    mirrorCommandsMax: mirrorCommands.length > 0 ? Math.max(...mirrorCommands) : null,
    sniffwatchStderr: [...said],
  };
}

/**
 * CPU seconds per command of a traffic-duplication check: the same reads the
 * sensor does, `rounds` times, with this process's reaped-children CPU
 * (/proc/self/stat cutime + cstime, in clock ticks) before and after. One
 * command takes a few ms, below GNU time's 10 ms resolution; many add up.
 * sniffwatch's --stats counts the commands, its own CPU does not include theirs.
 */
async function mirrorCommandCpu(rounds: number): Promise<{ commands: number; cpuPerCommand: number }> {
  let commands = 0;
  // As the sensor runs them: one shell per batch (runCommands).
  const runner: Runner = (argvs) => {
    commands += argvs.length;
    return runCommands(argvs);
  };
  const before = childrenCpuSeconds();
  for (let i = 0; i < rounds; i++) {
    const missing = new Set<string>();
    await readNamespaceMirrors(runner, missing);
    await readOvsMirrors(runner, missing);
  }
  const cpu = childrenCpuSeconds() - before;
  return { commands, cpuPerCommand: commands > 0 ? cpu / commands : 0 };
}

/** CPU of this process's children that have been waited for. */
function childrenCpuSeconds(): number {
  const t = readProcTimes('self')!;
  return (t.cutime + t.cstime) / CLK_TCK;
}

/** The stats line of `sniffwatch run --stats`: its own CPU (all its threads, not the command's) after the command started. */
const STATS_LINE = /^sniffwatch: run: stats: .*? sniffwatch used \d+\.\d+ s of CPU, (\d+\.\d+) s of it after the command started.* running (\d+) command\(s\)$/m;

/** Builds of the CLI from before --stats existed are still measured, without it. */
function cliHasStats(cli: string): boolean {
  const [file, ...args] = cliArgv(cli, ['run', '--help']);
  const r = spawnSync(file!, args, { encoding: 'utf8' });
  return r.stdout.includes('--stats');
}

interface FixedCost {
  runs: number;
  /** Launch to the command's first instruction, ms (median): directly, and under sniffwatch run. */
  startPlainMs: number;
  startGuardedMs: number;
  /** The command's last instruction to the exit of what was launched, ms (median). */
  endPlainMs: number;
  endGuardedMs: number;
}

/**
 * sniffwatch run's fixed cost before and after the command, from a command that prints the time
 * when it starts and when it ends, 0.5 s later (as in a build, sniffwatch is fully started by then).
 */
async function measureFixedCost(runs: number, opts: Options): Promise<FixedCost> {
  const probe = ['sh', '-c', 'date +%s%N; sleep 0.5; date +%s%N'];
  const start: Record<'plain' | 'guarded', number[]> = { plain: [], guarded: [] };
  const end: Record<'plain' | 'guarded', number[]> = { plain: [], guarded: [] };
  await waitForQuietMachine(opts.quietCpu, opts.quietMaxWait);
  for (let i = 0; i < runs; i++) {
    for (const kind of ['plain', 'guarded'] as const) {
      const argv = kind === 'plain' ? probe : cliArgv(opts.cli, ['run', '--policy', 'audit', '--', ...probe]);
      const t0 = performance.timeOrigin + performance.now();
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      const t1 = performance.timeOrigin + performance.now();
      const [began, ended] = r.stdout.trim().split('\n').map((l) => Number(l) / 1e6) as [number, number];
      start[kind].push(began - t0);
      end[kind].push(t1 - ended);
    }
  }
  return {
    runs,
    startPlainMs: round(median(start.plain)),
    startGuardedMs: round(median(start.guarded)),
    endPlainMs: round(median(end.plain)),
    endGuardedMs: round(median(end.guarded)),
  };
}

const tscBuild = (outDir: string): string[] => ['npx', 'tsc', '-p', 'tsconfig.json', '--outDir', outDir];

/** A longer CI-like job: tsc, a type check and both native addons rebuilt with node-gyp from a copy, `rounds` times. */
function jobScript(rounds: number): { script: string; command: (outDir: string) => string[] } | undefined {
  const gyp = NODE_GYP.find((p) => existsSync(p));
  if (!gyp || !have('cc') || !have('make')) return undefined;
  const dir = tempDir('sniffwatch-host-bench-job-');
  const script = join(dir, 'job.sh');
  const addons = ['pcap', 'procconn'].filter((a) => existsSync(join(ROOT, 'native', a, 'binding.gyp')));
  writeFileSync(
    script,
    [
      'set -e',
      'out="$1"',
      `for round in $(seq ${rounds}); do`,
      '  npx tsc -p tsconfig.json --outDir "$out/ts$round"',
      '  npx tsc -p tsconfig.json --noEmit',
      `  for addon in ${addons.join(' ')}; do`,
      '    mkdir -p "$out/native$round"',
      `    cp -r "${join(ROOT, 'native')}/$addon" "$out/native$round/"`,
      '    rm -rf "$out/native$round/$addon/build"',
      `    (cd "$out/native$round/$addon" && npm_config_nodedir="\${npm_config_nodedir:-/usr}" "${process.execPath}" "${gyp}" rebuild --silent >/dev/null)`,
      '  done',
      'done',
      '',
    ].join('\n'),
  );
  return { script, command: (outDir) => ['sh', script, outDir] };
}

// ---------------------------------------------------------------- report

function printStorm(s: Exclude<Awaited<ReturnType<typeof measureStorm>>, string>): void {
  console.log(`\nExec-event throughput: host sensor (${s.mode}), storm of ${s.target} from ${s.workers} worker(s)\n`);
  console.log('| target/s | execs | achieved/s | seen by sensor | lost | vanished | sensor CPU | max latency so far | others before |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const t of s.steps) {
    console.log(`| ${t.targetRate === 0 ? 'unpaced' : t.targetRate} | ${t.execs} | ${t.rate} | ${t.seen} | ${t.lost} | ${t.vanished} | ${t.sensorCpuPercent}% | ${t.maxLatencyMs} ms | ${t.othersBeforePercent}% |`);
  }
  const clean = s.steps.filter((t) => t.lost === 0 && t.seen >= t.execs);
  console.log(clean.length > 0 ? `\nHighest rate with zero loss: ${Math.max(...clean.map((t) => t.rate))} execs/s` : '\nEvery step lost events');
}

/**
 * An upper bound on the wall time run adds, from quantities that do not swing with the VM: the
 * command starts later and sniffwatch exits after it (fixed cost), and every CPU second that
 * sniffwatch and the tools it runs (ip, tc, nft, iptables-save, ovs-vsctl) use while the command
 * runs could at worst be taken from it (on a machine the command keeps fully busy).
 */
function overheadBound(o: OverheadResult, fixed: FixedCost, tools: { cpuPerCommand: number }): { seconds: number; toolSeconds: number; percent: number } | null {
  if (o.sniffwatchCpuMaxSeconds === null || o.mirrorCommandsMax === null) return null;
  const toolSeconds = o.mirrorCommandsMax * tools.cpuPerCommand;
  const seconds = fixedSeconds(fixed) + o.sniffwatchCpuMaxSeconds + toolSeconds;
  return { seconds: round(seconds, 3), toolSeconds: round(toolSeconds, 3), percent: round((seconds / o.plainMedian) * 100, 2) };
}

function fixedSeconds(fixed: FixedCost): number {
  return (fixed.startGuardedMs - fixed.startPlainMs + fixed.endGuardedMs - fixed.endPlainMs) / 1000;
}

function printOverhead(list: OverheadResult[], fixed: FixedCost, tools: { commands: number; cpuPerCommand: number }): void {
  console.log('\n`sniffwatch run --policy audit` overhead\n');
  console.log('| build | clean pairs | plain (median) | under run (median) | ratio | overhead | paired diff (median) | CPU overhead |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const o of list) {
    console.log(`| ${o.build} | ${o.clean} of ${o.pairs.length} | ${o.plainMedian.toFixed(3)} s | ${o.guardedMedian.toFixed(3)} s | ${o.ratio.toFixed(4)} | ${o.overheadPercent}% | ${(o.pairedDiffMedian * 1000).toFixed(0)} ms (${o.pairedOverheadPercent}%) | ${(o.cpuOverheadSeconds * 1000).toFixed(0)} ms |`);
  }
  console.log(
    `\nBound: fixed cost, plus sniffwatch's own CPU while the command ran and the CPU of the commands its traffic-duplication checks ran ` +
      `(${(tools.cpuPerCommand * 1000).toFixed(1)} ms each, measured over ${tools.commands}), largest over the runs, against the plain median:\n`,
  );
  console.log('| build | sniffwatch CPU during the build (median) | (largest) | check commands (largest) | their CPU | fixed cost | bound | bound % |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const o of list) {
    const b = overheadBound(o, fixed, tools);
    if (b === null) console.log(`| ${o.build} | - | - | - | - | - | - | not measured (the CLI has no --stats) |`);
    else console.log(`| ${o.build} | ${(o.sniffwatchCpuSeconds! * 1000).toFixed(0)} ms | ${(o.sniffwatchCpuMaxSeconds! * 1000).toFixed(0)} ms | ${o.mirrorCommandsMax} | ${(b.toolSeconds * 1000).toFixed(0)} ms | ${(fixedSeconds(fixed) * 1000).toFixed(0)} ms | ${(b.seconds * 1000).toFixed(0)} ms | ${b.percent}% |`);
  }
  for (const o of list) if (o.sniffwatchStderr.length > 0) console.log(`\n${o.build}: sniffwatch run said:\n  ${o.sniffwatchStderr.join('\n  ')}`);
}

// ---------------------------------------------------------------- main

interface Options {
  rates: number[];
  stepSeconds: number;
  workers: number;
  runs: number;
  longRuns: number;
  jobRounds: number;
  fixedRuns: number;
  retries: number;
  disturbedPercent: number;
  skipStorm: boolean;
  skipRun: boolean;
  quietCpu: number;
  quietMaxWait: number;
  cli: string;
  out: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      rates: { type: 'string', default: '1000,2000,4000,8000,16000' },
      'step-seconds': { type: 'string', default: '5' },
      workers: { type: 'string', default: String(cpus().length) },
      runs: { type: 'string', default: '21' },
      'long-runs': { type: 'string', default: '5' },
      'job-rounds': { type: 'string', default: '2' },
      'fixed-runs': { type: 'string', default: '21' },
      retries: { type: 'string', default: '6' },
      'disturbed-percent': { type: 'string', default: '25' },
      'skip-storm': { type: 'boolean', default: false },
      'skip-run': { type: 'boolean', default: false },
      'quiet-cpu': { type: 'string', default: '10' },
      'quiet-max-wait': { type: 'string', default: '120' },
      cli: { type: 'string', default: DEFAULT_CLI },
      out: { type: 'string', default: DEFAULT_RESULTS },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const num = (name: string, v: string, integer = true): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
      console.error(`host-bench: --${name} must be a ${integer ? 'non-negative integer' : 'non-negative number'}\n${HELP}`);
      process.exit(2);
    }
    return n;
  };
  return {
    rates: values.rates.split(',').map((r) => num('rates', r)).filter((r) => r > 0),
    stepSeconds: num('step-seconds', values['step-seconds'], false),
    workers: Math.max(1, num('workers', values.workers)),
    runs: num('runs', values.runs),
    longRuns: num('long-runs', values['long-runs']),
    jobRounds: Math.max(1, num('job-rounds', values['job-rounds'])),
    fixedRuns: Math.max(1, num('fixed-runs', values['fixed-runs'])),
    retries: num('retries', values.retries),
    disturbedPercent: num('disturbed-percent', values['disturbed-percent'], false),
    skipStorm: values['skip-storm'],
    skipRun: values['skip-run'],
    quietCpu: num('quiet-cpu', values['quiet-cpu'], false),
    quietMaxWait: num('quiet-max-wait', values['quiet-max-wait'], false),
    cli: resolve(values.cli),
    out: resolve(values.out),
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--sensor')) return sensorChild();
  const opts = parseOptions();
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    console.log(`host-bench: needs root on Linux (process-events connector); running as uid ${process.getuid?.()} on ${process.platform}: nothing measured`);
    return;
  }
  const results: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, kernel: release(), node: process.version, load1AtStart: round(loadavg()[0]!, 2) },
    options: { ...opts, out: undefined },
  };
  const save = (): void => {
    mkdirSync(dirname(opts.out), { recursive: true });
    writeFileSync(opts.out, `${JSON.stringify(results, null, 2)}\n`);
  };

  if (!opts.skipStorm) {
    progress('exec storm against the host sensor');
    const storm = await measureStorm(opts);
    if (typeof storm === 'string') {
      console.log(`exec storm not measured: ${storm}`);
      results.storm = { skipped: storm };
    } else {
      results.storm = storm;
      printStorm(storm);
    }
    save();
  }

  if (!opts.skipRun && !existsSync('/usr/bin/time')) {
    console.log('sniffwatch run overhead not measured: needs GNU time (Debian package time) for the CPU time of each build');
    results.runOverhead = { skipped: 'GNU time not installed' };
  } else if (!opts.skipRun) {
    progress('sniffwatch run fixed cost: start and end of a 0.5 s command');
    const fixed = await measureFixedCost(opts.fixedRuns, opts);
    results.runFixedCost = fixed;
    console.log(`\nsniffwatch run fixed cost (${fixed.runs} runs, medians): the command starts ${fixed.startGuardedMs} ms after launch (${fixed.startPlainMs} ms without sniffwatch), and sniffwatch exits ${fixed.endGuardedMs} ms after it ends (${fixed.endPlainMs} ms without)`);
    const overhead: OverheadResult[] = [];
    results.runOverhead = overhead;
    if (opts.runs > 0) {
      progress('sniffwatch run overhead: tsc build');
      overhead.push(await measureOverhead('tsc build', tscBuild, opts.runs, opts));
      save();
    }
    const job = jobScript(opts.jobRounds);
    if (!job) console.log('longer job not measured: needs cc, make and the node-gyp that ships with npm');
    else if (opts.longRuns > 0) {
      progress(`sniffwatch run overhead: job script (tsc, type check, native addons; ${opts.jobRounds} rounds)`);
      overhead.push({ ...(await measureOverhead(`job script (${opts.jobRounds} rounds)`, job.command, opts.longRuns, opts)), command: `sh job.sh TMP (${readFileSync(job.script, 'utf8').split('\n').slice(2, -2).map((l) => l.trim()).join('; ')})` });
      save();
    }
    if (overhead.length > 0) {
      const tools = await mirrorCommandCpu(30);
      results.mirrorCommandCpu = tools;
      results.runOverheadBound = overhead.map((o) => ({ build: o.build, ...overheadBound(o, fixed, tools) }));
      save();
      printOverhead(overhead, fixed, tools);
    }
  }
  console.log(`\nresults: ${opts.out}`);
}

await main();
