import { spawn } from 'node:child_process';
import { createWriteStream, writeFileSync, type WriteStream } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { SniffwatchConfig } from '../config/config.js';
import { parseSeverity, severityRank, type Finding } from '../findings/finding.js';
import type { HostSensors, HostSensorStats, ProcessHit } from '../host/index.js';
import type { ProcessSubscription } from '../host/process-subscription.js';
import { escapeForTerminal } from '../outputs/escape.js';
import type { LiveFormat } from '../outputs/live.js';
import { EXIT_USAGE, fail } from './exit.js';
import { EXIT_POLICY, RUN_OPTIONS, type LauncherHandover, type RunFlags } from './run-options.js';

// `sniffwatch run [options] -- COMMAND...`: a CI guard. Runs the command with
// the terminal's stdio, watches every process it starts (process-events
// connector, or /proc in fallback), and reports sniffers, adversary-in-the-
// middle tools, packet sockets, promiscuous switches and traffic duplication
// inside that process tree. Findings go to stderr (stdout is the command's)
// or to --output.
//
// Exit status: the command's own (128+N when it died of signal N), unless the
// policy is fail or kill and a finding of medium or above was made: then
// EXIT_POLICY (3), with a line on stderr saying so and what the command
// itself returned. 126/127: the command could not be started.
//
// Start-up is on the job's critical path, so only the process-events
// subscription comes before the command: the rest of the sensor (and its
// modules) loads while the command runs, and takes over the events that
// arrived meanwhile. Without the connector, or with --policy kill (which must
// act within milliseconds), the sensor is complete before the command starts.
// Started by the launcher (bin/sniffwatch runs native/procconn/launcher.c when
// it is built), the command is already running when this process starts: the
// launcher subscribed, started it, and passes its process events and, at the
// end, its exit status (LauncherHandover); it also reaps it and forwards
// signals. The scope is then the command's tree instead of this process's.
// Either way the traffic-duplication baseline (mirrors already configured,
// not reported) is read while the command starts: a mirror it sets up before
// that read (about 0.1 s in) counts as already there.

const EXIT_CANNOT_EXECUTE = 126;
const EXIT_NOT_FOUND = 127;

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

function closeStream(s: WriteStream): Promise<void> {
  return new Promise((resolve) => s.end(resolve));
}

interface Guard {
  sensors: HostSensors;
  findings(): Finding[];
  format: LiveFormat;
}

interface GuardOptions {
  flags: RunFlags;
  /** From --config; the defaults without it. */
  config: SniffwatchConfig | undefined;
  file: WriteStream | undefined;
  minRank: number;
  pollMs: number;
  subscription: ProcessSubscription;
  /** Pids killed by policy kill. */
  killed: Set<number>;
}

/** Loads the findings pipeline and starts the host sensors on the given subscription. */
async function startGuard(o: GuardOptions): Promise<Guard> {
  const [{ reportSink }, { FindingAggregator }, { getRule }, { SecretRedactor }, { startHostSensors, HOST_RULES }, { liveWriter }, { defaultConfig }] = await Promise.all([
    import('../analyzers/report-sink.js'),
    import('../findings/aggregate.js'),
    import('../findings/rules.js'),
    import('../findings/redact.js'),
    import('../host/index.js'),
    import('../outputs/live.js'),
    import('../config/config.js'),
  ]);
  const { flags, file, killed } = o;
  // Rule definitions are read at a rule's first finding; a kill must not wait for that.
  if (flags.policy === 'kill') for (const rule of HOST_RULES) getRule(rule);
  const config = o.config ?? defaultConfig();
  const mediumRank = severityRank('medium');
  const format: LiveFormat = flags.format ?? (file ? 'jsonl' : 'pretty');
  const write = liveWriter(format, file ?? process.stderr);
  const aggregator = new FindingAggregator({
    profile: flags.profile,
    onChange: (f, isNew) => {
      if (severityRank(f.severity) >= o.minRank) write(f, isNew);
    },
  });
  const report = reportSink(aggregator, new SecretRedactor(false, config.secretSalt));

  const onProcessHit = (hit: ProcessHit): void => {
    if (flags.policy !== 'kill' || severityRank(hit.severity) < mediumRank) return;
    if (hit.pid <= 1 || hit.pid === process.pid || killed.has(hit.pid)) return;
    try {
      process.kill(hit.pid, 'SIGKILL');
      killed.add(hit.pid);
      process.stderr.write(`sniffwatch: policy kill: killed pid ${hit.pid} (${escapeForTerminal(hit.tool ?? hit.exe)}) for ${hit.rule}\n`);
      report(hit.rule, hit.key, Date.now(), { message: `${hit.tool ?? hit.exe} (pid ${hit.pid}) was killed by policy`, entities: [], severity: hit.severity }, { source: 'sniffwatch-run', detail: `SIGKILL sent to pid ${hit.pid} (policy kill)` });
    } catch (e) {
      process.stderr.write(`sniffwatch: policy kill: could not kill pid ${hit.pid}: ${(e as NodeJS.ErrnoException).code ?? 'error'}\n`);
    }
  };

  const sensors = await startHostSensors({ config, report, scope: { rootPid: o.subscription.scopeRoot ?? process.pid }, pollMs: o.pollMs, onProcessHit, subscription: o.subscription });
  for (const n of sensors.notes) process.stderr.write(`sniffwatch: note: ${n}\n`);
  return { sensors, findings: () => aggregator.findings(), format };
}

interface CommandResult {
  /** The run's exit status before the policy: the command's, 128+N for signal N, 126/127 when it could not start. */
  status: number;
  note?: string;
  seconds: number;
  /** CPU the launcher used (events and /proc reads), when it started the command. */
  launcherCpuSeconds?: number;
}

/** Starts the command with the terminal's stdio; signals sent to sniffwatch meanwhile go to it. */
async function spawnCommand(command: string[]): Promise<CommandResult> {
  const commandStart = performance.now();
  const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals): void => {
    try {
      child.kill(sig);
    } catch {
      // already gone
    }
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  const result = await new Promise<{ status: number; note?: string }>((resolve) => {
    child.once('error', (e: NodeJS.ErrnoException) => {
      const status = e.code === 'ENOENT' ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
      resolve({ status, note: `cannot run ${escapeForTerminal(command[0]!)}: ${e.code ?? e.message}` });
    });
    child.once('exit', (code, signal) => {
      resolve({ status: code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0) });
    });
  });
  for (const sig of FORWARDED) process.off(sig, forward);
  return { ...result, seconds: (performance.now() - commandStart) / 1000 };
}

/** Waits for the launcher's line `exit STATUS COMMAND_MS LAUNCHER_CPU_MS` once the command has ended. */
async function launcherResult(launcher: LauncherHandover): Promise<CommandResult> {
  const control = new Socket({ fd: launcher.controlFd, readable: true, writable: false });
  const line = await new Promise<string | undefined>((resolve) => {
    let text = '';
    control.setEncoding('utf8');
    control.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
      else if (text.length > 256) resolve(undefined);
    });
    control.once('end', () => resolve(undefined));
    control.once('error', () => resolve(undefined));
  });
  control.destroy();
  const m = line === undefined ? null : /^exit (\d+) ([\d.]+) ([\d.]+)$/.exec(line);
  if (!m) return { status: 1, seconds: 0, note: 'run: the launcher ended without the command\'s exit status' };
  return { status: Number(m[1]), seconds: Number(m[2]) / 1000, launcherCpuSeconds: Number(m[3]) / 1000 };
}

/** Signals the launcher forwards to the command: this process carries on until the command ends. */
const ignoreForwarded = (): void => {};

export async function runCommand(command: string[], flags: RunFlags, launcher?: LauncherHandover): Promise<void> {
  if (launcher) for (const sig of FORWARDED) process.on(sig, ignoreForwarded);
  if (command.length === 0) {
    process.stderr.write('sniffwatch: run: no command given (sniffwatch run [options] -- COMMAND...)\n');
    process.exit(EXIT_USAGE);
  }
  // `run --output -- CMD` reads as an output file named "--": a forgotten file name, not a wish.
  if (flags.output === '--') {
    process.stderr.write('sniffwatch: run: --output needs a file name before -- (sniffwatch run --output FILE -- COMMAND...)\n');
    process.exit(EXIT_USAGE);
  }
  const pollMs = Number(flags.pollMs);
  const [minPoll, maxPoll] = RUN_OPTIONS.find((o) => o.key === 'pollMs')!.range!;
  if (!Number.isInteger(pollMs) || pollMs < minPoll || pollMs > maxPoll) {
    process.stderr.write(`sniffwatch: run: --poll-ms must be an integer from ${minPoll} to ${maxPoll}\n`);
    process.exit(EXIT_USAGE);
  }
  // A configuration that does not load stops the job before it starts.
  const config = flags.config === undefined ? undefined : (await import('./config-flag.js')).loadConfigFlag(flags.config);
  const minRank = severityRank(parseSeverity(flags.minSeverity) ?? 'low');
  const mediumRank = severityRank('medium');

  let file: WriteStream | undefined;
  if (flags.output) {
    file = createWriteStream(flags.output, { flags: 'w' });
    await new Promise<void>((resolve, reject) => {
      file!.once('open', () => resolve());
      file!.once('error', reject);
    }).catch((e: NodeJS.ErrnoException) => fail(new Error(`--output ${flags.output}: ${e.code ?? e.message}`)));
  }

  // Subscribed before the command starts, so every process it starts is seen (with the
  // launcher, it subscribed and started the command before this process).
  const { ProcessSubscription } = await import('../host/process-subscription.js');
  // The scope: this process's tree, or the command's when the launcher started it.
  const subscription = new ProcessSubscription(launcher?.commandPid ?? process.pid);
  if (process.platform === 'linux') subscription.open(undefined, launcher?.eventsFd);
  const killed = new Set<number>();
  const starting = startGuard({ flags, config, file, minRank, pollMs, subscription, killed }).then(
    (guard) => ({ guard, error: undefined }),
    (error: unknown) => ({ guard: undefined, error }),
  );
  if (!launcher && (!subscription.live || flags.policy === 'kill')) {
    const started = await starting;
    if (started.error !== undefined) fail(started.error);
  }

  const cpuAtStart = flags.stats && !launcher ? cpuSeconds() : 0;
  const result = launcher ? await launcherResult(launcher) : await spawnCommand(command);
  for (const sig of FORWARDED) process.off(sig, ignoreForwarded);
  if (result.note) process.stderr.write(`sniffwatch: ${result.note}\n`);

  const { guard, error } = await starting;
  if (!guard) fail(error);
  const { sensors, format } = guard;
  await sensors.flush();
  await sensors.stop();
  for (const n of sensors.notes) if (n.startsWith('host sensor error')) process.stderr.write(`sniffwatch: note: ${n}\n`);

  const findings = guard.findings();
  const serious = findings.filter((f) => severityRank(f.severity) >= mediumRank);
  const shown = findings.filter((f) => severityRank(f.severity) >= minRank);
  if (shown.length > 0 || killed.size > 0) {
    const where = file ? ` (written to ${flags.output})` : '';
    process.stderr.write(`sniffwatch: run: ${shown.length} finding(s), ${serious.length} medium or above${killed.size > 0 ? `, ${killed.size} process(es) killed` : ''}${where}\n`);
  }
  if (flags.stats) process.stderr.write(`sniffwatch: run: ${statsLine(sensors.stats(), result.seconds, cpuAtStart, result.launcherCpuSeconds)}\n`);
  let status = result.status;
  if (flags.policy !== 'audit' && serious.length > 0) {
    process.stderr.write(`sniffwatch: policy ${flags.policy}: exit ${EXIT_POLICY} because of ${serious.length} finding(s) of medium or above (the command itself exited ${result.status})\n`);
    status = EXIT_POLICY;
  }
  if (file) {
    // Live lines were written as findings appeared (a cancelled job keeps them); the file ends
    // with the final state: counts, every evidence item (kills included), escalations.
    await closeStream(file);
    const [{ findingLine }, { renderFinding }] = await Promise.all([import('../outputs/jsonl.js'), import('../outputs/pretty.js')]);
    try {
      writeFileSync(flags.output!, shown.map((f) => (format === 'jsonl' ? findingLine(f) : `${renderFinding(f)}\n\n`)).join(''));
    } catch (e) {
      process.stderr.write(`sniffwatch: --output ${flags.output}: ${(e as NodeJS.ErrnoException).code ?? 'write failed'}\n`);
    }
  }
  process.exit(status);
}

function cpuSeconds(): number {
  const usage = process.resourceUsage();
  return (usage.userCPUTime + usage.systemCPUTime) / 1e6;
}

/**
 * What the guard cost: its own CPU (all its threads, not the command's or the
 * tools it ran), the part of it spent while the command ran (what the command
 * could have lost), next to the command's wall time.
 */
function statsLine(stats: HostSensorStats, commandSeconds: number, cpuAtStart: number, launcherCpu: number | undefined): string {
  const usage = process.resourceUsage();
  const user = usage.userCPUTime / 1e6;
  const system = usage.systemCPUTime / 1e6;
  const total = user + system + (launcherCpu ?? 0);
  return (
    `stats: command ran ${commandSeconds.toFixed(3)} s; sniffwatch used ${total.toFixed(3)} s of CPU, ${(total - cpuAtStart).toFixed(3)} s of it after the command started ` +
    `(user ${user.toFixed(3)} s, system ${system.toFixed(3)} s${launcherCpu === undefined ? '' : `, launcher ${launcherCpu.toFixed(3)} s`}, ` +
    `${(usage.maxRSS / 1024).toFixed(1)} MiB peak RSS); ${stats.execs} exec event(s) handled (${stats.mode}), ${stats.lost} lost, ${stats.polls} poll(s), slowest poll ${stats.slowestPollMs.toFixed(1)} ms; ` +
    `${stats.mirrorChecks} traffic-duplication check(s) running ${stats.mirrorCommands} command(s)`
  );
}
