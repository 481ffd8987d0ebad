import { CI_ENV_KEYS } from './tool-table.js';
import { baseName } from './tools.js';
import { nsInode, readArgv, readContainerId, readEnviron, readLink, readStat, readStatus, userName } from './procfs.js';

// What the sensor knows about one process: what the exec event (or the
// native snapshot taken at once) gave, completed from /proc when it is still
// there. A process that lived a millisecond keeps what was captured and is
// marked partial.

export interface Ancestor {
  pid: number;
  /** argv[0] basename, else comm. */
  name: string;
  /** First arguments, for "npm install" and "python -m pip" checks. */
  argv: string[];
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Effective uid; -1 unknown. */
  uid: number;
  user?: string;
  exe: string;
  argv: string[];
  capEff: bigint;
  /** Controlling terminal (0 none, -1 unknown). */
  ttyNr: number;
  containerId?: string;
  /** Network namespace inode; undefined unknown. */
  netns?: number;
  /** Nearest first, at most MAX_ANCESTORS. */
  ancestors: Ancestor[];
  /** CI and install markers from /proc/PID/environ when readable. */
  env?: Map<string, string>;
  /** Part of /proc was gone when read: the facts come from the event snapshot. */
  partial: boolean;
}

export const MAX_ANCESTORS = 6;
const ANCESTOR_ARGS = 8;
const ANCESTOR_ARG_CHARS = 128;
const MAX_NAME = 64;

export const ENV_KEYS: ReadonlySet<string> = new Set([...CI_ENV_KEYS, 'npm_lifecycle_event', 'npm_package_name', 'DPKG_MAINTSCRIPT_PACKAGE', 'DPKG_MAINTSCRIPT_NAME', 'PIP_BUILD_TRACKER']);

/** What the process table remembers about processes that may already have exited. */
export interface KnownProcess {
  ppid: number;
  name: string;
  argv: string[];
}

export type ProcessLookup = (pid: number) => KnownProcess | undefined;

export function shortArgv(argv: readonly string[]): string[] {
  return argv.slice(0, ANCESTOR_ARGS).map((a) => (a.length > ANCESTOR_ARG_CHARS ? a.slice(0, ANCESTOR_ARG_CHARS) : a));
}

/** Ancestor facts from /proc, else from the table (parents that exited). */
export function ancestorsOf(ppid: number, known: ProcessLookup): Ancestor[] {
  const out: Ancestor[] = [];
  let pid = ppid;
  for (let depth = 0; depth < MAX_ANCESTORS && pid > 0; depth++) {
    const st = readStat(pid);
    const argv = st ? readArgv(pid, 4096) : undefined;
    if (st) {
      const name = (argv && argv[0] ? baseName(argv[0]) : st.comm) || st.comm;
      out.push({ pid, name: name.slice(0, MAX_NAME), argv: shortArgv(argv ?? []) });
      if (pid === 1) break;
      pid = st.ppid;
      continue;
    }
    const k = known(pid);
    if (!k) break;
    out.push({ pid, name: k.name, argv: k.argv });
    pid = k.ppid;
  }
  return out;
}

export interface Snapshot {
  exe: string;
  argv: string[];
  ppid: number;
  uid: number;
  capEff: bigint;
}

/** Completes a snapshot (from the exec event or a /proc scan) with tty, container, netns, ancestry and environment. */
export function enrich(pid: number, snap: Snapshot, known: ProcessLookup, withEnv: boolean): ProcessInfo {
  const stat = readStat(pid);
  const status = stat ? readStatus(pid) : undefined;
  const partial = stat === undefined;
  const ppid = snap.ppid > 0 ? snap.ppid : (stat?.ppid ?? known(pid)?.ppid ?? 0);
  const uid = snap.uid >= 0 ? snap.uid : (status?.uid ?? -1);
  const info: ProcessInfo = {
    pid,
    ppid,
    uid,
    user: uid >= 0 ? userName(uid) : undefined,
    exe: snap.exe,
    argv: snap.argv,
    capEff: snap.capEff !== 0n ? snap.capEff : (status?.capEff ?? 0n),
    ttyNr: stat ? stat.ttyNr : -1,
    containerId: partial ? undefined : readContainerId(pid),
    netns: partial ? undefined : nsInode(readLink(`/proc/${pid}/ns/net`)),
    ancestors: ancestorsOf(ppid, known),
    partial,
  };
  if (withEnv && !partial) info.env = readEnviron(pid, ENV_KEYS);
  return info;
}

/** A snapshot read from /proc (fallback scanning, already-running processes); undefined when gone. */
export function snapshotFromProc(pid: number): Snapshot | undefined {
  const status = readStatus(pid);
  if (!status) return undefined;
  const argv = readArgv(pid) ?? [];
  const exe = readLink(`/proc/${pid}/exe`) ?? '';
  // Kernel threads have neither exe nor argv.
  if (exe === '' && argv.length === 0) return undefined;
  return { exe, argv, ppid: status.ppid, uid: status.uid, capEff: status.capEff };
}
