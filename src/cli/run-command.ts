import { spawn } from 'node:child_process';
import { createWriteStream, writeFileSync, type WriteStream } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { SniffwatchConfig } from '../config/config.js';
import { parseSeverity, severityRank, type Finding } from '../findings/finding.js';
import type { HostSensors, HostSensorStats, ProcessHit } from '../host/index.js';
import type { ProcessSubscription } from '../host/process-subscription.js';
import { escapeForTerminal } from '../outputs/escape.js';
import type { LiveFormat } from '../outputs/live.js';
import { EXIT_USAGE, fail } from './exit.js';
import { EXIT_POLICY, type RunFlags } from './run-options.js';

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

  // Scope: this process's tree (the command is our child).
  const sensors = await startHostSensors({ config, report, scope: { rootPid: process.pid }, pollMs: o.pollMs, onProcessHit, subscription: o.subscription });
  for (const n of sensors.notes) process.stderr.write(`sniffwatch: note: ${n}\n`);
  return { sensors, findings: () => aggregator.findings(), format };
}

export async function runCommand(command: string[], flags: RunFlags): Promise<void> {
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
  if (!Number.isInteger(pollMs) || pollMs < 50 || pollMs > 60_000) {
    process.stderr.write('sniffwatch: run: --poll-ms must be an integer from 50 to 60000\n');
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

  // Subscribed before the command starts, so every process it starts is seen.
  const { ProcessSubscription } = await import('../host/process-subscription.js');
  const subscription = new ProcessSubscription(process.pid);
  if (process.platform === 'linux') subscription.open();
  const killed = new Set<number>();
  const starting = startGuard({ flags, config, file, minRank, pollMs, subscription, killed }).then(
    (guard) => ({ guard, error: undefined }),
    (error: unknown) => ({ guard: undefined, error }),
  );
  if (!subscription.live || flags.policy === 'kill') {
    const started = await starting;
    if (started.error !== undefined) fail(started.error);
  }

  const commandStart = performance.now();
  const cpuAtStart = flags.stats ? cpuSeconds() : 0;
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
  const commandSeconds = (performance.now() - commandStart) / 1000;
  for (const sig of FORWARDED) process.off(sig, forward);
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
  if (flags.stats) process.stderr.write(`sniffwatch: run: ${statsLine(sensors.stats(), commandSeconds, cpuAtStart)}\n`);
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
function statsLine(stats: HostSensorStats, commandSeconds: number, cpuAtStart: number): string {
  const usage = process.resourceUsage();
  const user = usage.userCPUTime / 1e6;
  const system = usage.systemCPUTime / 1e6;
  return (
    `stats: command ran ${commandSeconds.toFixed(3)} s; sniffwatch used ${(user + system).toFixed(3)} s of CPU, ${(user + system - cpuAtStart).toFixed(3)} s of it after the command started ` +
    `(user ${user.toFixed(3)} s, system ${system.toFixed(3)} s, ` +
    `${(usage.maxRSS / 1024).toFixed(1)} MiB peak RSS); ${stats.execs} exec event(s) handled (${stats.mode}), ${stats.lost} lost, ${stats.polls} poll(s), slowest poll ${stats.slowestPollMs.toFixed(1)} ms; ` +
    `${stats.mirrorChecks} traffic-duplication check(s) running ${stats.mirrorCommands} command(s)`
  );
}
