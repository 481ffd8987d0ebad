import { PROFILES, SEVERITIES, type Profile, type Severity } from '../findings/finding.js';
import type { LiveFormat } from '../outputs/live.js';

// The options of `sniffwatch run`, as data: the commander definition (help,
// errors) is built from this table, and so is the parser that `run` takes
// first. `run` sits in front of CI jobs and its start-up is theirs: loading
// commander and building every command costs ~9 ms before the job starts,
// so well-formed arguments are parsed here, and anything else (help, an
// unknown or invalid option, no command) goes to commander for its messages.

export const EXIT_POLICY = 3;

export type RunPolicy = 'audit' | 'fail' | 'kill';

export interface RunFlags {
  profile: Profile;
  policy: RunPolicy;
  format?: LiveFormat;
  output?: string;
  config?: string;
  minSeverity: Severity;
  pollMs: string;
  stats?: boolean;
}

export interface RunOptionSpec {
  /** Long flag, e.g. '--profile'. */
  flag: string;
  key: keyof RunFlags;
  /** Placeholder of the value in help ('<profile>'); absent for a boolean flag. */
  value?: string;
  description: string;
  choices?: readonly string[];
  /** Integer values from min to max, inclusive. */
  range?: readonly [number, number];
  default?: string;
}

export const RUN_DESCRIPTION = `run a command and report packet sniffing, adversary-in-the-middle tools, packet sockets, promiscuous interfaces and traffic duplication by anything it starts (a CI guard; needs root). Exit status: the command's own, or ${EXIT_POLICY} when --policy fail/kill and a finding reached medium`;

export const RUN_OPTIONS: readonly RunOptionSpec[] = [
  { flag: '--profile', key: 'profile', value: '<profile>', description: 'environment whose guidance is shown', choices: PROFILES, default: 'ci' },
  {
    flag: '--policy',
    key: 'policy',
    value: '<policy>',
    description: `audit: report only; fail: exit ${EXIT_POLICY} after the command if a finding reached medium; kill: also SIGKILL offending processes at once`,
    choices: ['audit', 'fail', 'kill'],
    default: 'audit',
  },
  { flag: '--format', key: 'format', value: '<format>', description: 'findings format (default: pretty on stderr, jsonl with --output)', choices: ['pretty', 'jsonl'] },
  { flag: '--output', key: 'output', value: '<file>', description: 'write findings to this file instead of stderr' },
  { flag: '--config', key: 'config', value: '<file>', description: 'YAML configuration (host.allow, host.mirror_collectors)' },
  { flag: '--min-severity', key: 'minSeverity', value: '<level>', description: 'write findings of this severity and above', choices: SEVERITIES, default: 'low' },
  { flag: '--poll-ms', key: 'pollMs', value: '<ms>', description: 'how often /proc, /sys and the kernel log are read', range: [50, 60_000], default: '250' },
  { flag: '--stats', key: 'stats', description: "print sniffwatch's own CPU time, peak memory and event counts on stderr when the command ends" },
];

/**
 * `run`'s arguments (after the word run) when they are well-formed: options,
 * then the command (after `--`, or from the first argument that is not an
 * option, as commander's passThroughOptions does). Undefined for anything
 * commander should answer: help, an unknown flag, a value outside its
 * choices or one that looks like a flag, a missing value or command.
 */
export function parseRunArgs(args: readonly string[]): { command: string[]; flags: RunFlags } | undefined {
  const values: Partial<Record<keyof RunFlags, string | boolean>> = {};
  for (const o of RUN_OPTIONS) if (o.default !== undefined) values[o.key] = o.default;
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = RUN_OPTIONS.find((o) => o.flag === flag);
    if (!spec) return undefined;
    if (spec.value === undefined) {
      if (eq > 0) return undefined;
      values[spec.key] = true;
      continue;
    }
    let value: string | undefined;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (i + 1 < args.length) value = args[++i];
    // A value that looks like an option is left to commander's reading of it.
    if (value === undefined || (eq < 0 && value.startsWith('-')) || (spec.choices && !spec.choices.includes(value))) return undefined;
    values[spec.key] = value;
  }
  const command = args.slice(i);
  if (command.length === 0) return undefined;
  return { command, flags: values as unknown as RunFlags };
}

/** What the launcher (bin/sniffwatch → native/procconn/launcher.c) passes: see launcherFromEnv. */
export interface LauncherHandover {
  eventsFd: number;
  controlFd: number;
  commandPid: number;
}

/**
 * The launcher started the command before this process and reads its process events; it
 * says so in SNIFFWATCH_RUN_ATTACH=EVENTS_FD,CONTROL_FD,COMMAND_PID, which is taken out of the
 * environment so that nothing this process starts inherits it.
 */
export function launcherFromEnv(env: NodeJS.ProcessEnv = process.env): LauncherHandover | undefined {
  const value = env.SNIFFWATCH_RUN_ATTACH;
  if (value === undefined) return undefined;
  delete env.SNIFFWATCH_RUN_ATTACH;
  const m = /^(\d+),(\d+),(\d+)$/.exec(value);
  return m ? { eventsFd: Number(m[1]), controlFd: Number(m[2]), commandPid: Number(m[3]) } : undefined;
}
