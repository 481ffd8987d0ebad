import { EXEC_ENV_KEYS } from './tool-table.js';
import { baseName } from './tools.js';
import { nsInode, readArgv, readContainerId, readEnviron, readLink, readStat, readStatus, userName } from './procfs.js';

// What the sensor knows about one process. With the connector, the addon's
// reader thread read it at the exec (exe, argv, status, tty, namespace,
// cgroup, environment, live parents); otherwise it is read from /proc here,
// when the process is still there. A process that was gone before its reads
// keeps what was captured and is marked partial.

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

/** An ancestor as read from its stat (comm) and cmdline. */
export function ancestorOf(pid: number, comm: string, argv: readonly string[]): Ancestor {
  const name = (argv[0] ? baseName(argv[0]) : comm) || comm;
  return { pid, name: name.slice(0, MAX_NAME), argv: shortArgv(argv) };
}

/**
 * Ancestors from `ppid` up, after the `read` ones: from /proc when `live`, else (and for parents
 * that exited) from the table.
 */
export function ancestorsOf(ppid: number, known: ProcessLookup, read: readonly Ancestor[] = [], live = true): Ancestor[] {
  const out = read.slice(0, MAX_ANCESTORS);
  let pid = ppid;
  while (out.length < MAX_ANCESTORS && pid > 0) {
    const st = live ? readStat(pid) : undefined;
    if (st) {
      out.push(ancestorOf(pid, st.comm, readArgv(pid, 4096) ?? []));
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

/** The rest of a process's context, as the addon read it at the exec. */
export interface ExecFacts {
  /** -1: stat was unreadable, the process was gone (partial). */
  ttyNr: number;
  netns?: number;
  containerId?: string;
  env?: Map<string, string>;
  /** Parents that were alive at the exec, nearest first. */
  ancestors: Ancestor[];
  /** Where that chain stopped because the parent was gone: the table continues from here (0: complete). */
  ancestorsFrom: number;
}

export interface Snapshot {
  exe: string;
  argv: string[];
  ppid: number;
  uid: number;
  capEff: bigint;
  /** Read by the addon at the exec; without it enrich() reads /proc now. */
  facts?: ExecFacts;
}

/** Completes a snapshot (from the exec event or a /proc scan) with tty, container, netns, ancestry and environment. */
export function enrich(pid: number, snap: Snapshot, known: ProcessLookup, withEnv: boolean): ProcessInfo {
  const f = snap.facts;
  let { ppid, uid, capEff } = snap;
  let facts: ExecFacts;
  if (f) {
    facts = f;
    if (ppid <= 0) ppid = known(pid)?.ppid ?? 0;
  } else {
    // Read now: the process may have exited (partial) or, rarely, its pid been reused.
    const stat = readStat(pid);
    const status = stat ? readStatus(pid) : undefined;
    if (ppid <= 0) ppid = stat?.ppid ?? known(pid)?.ppid ?? 0;
    if (uid < 0) uid = status?.uid ?? -1;
    if (capEff === 0n) capEff = status?.capEff ?? 0n;
    facts = {
      ttyNr: stat ? stat.ttyNr : -1,
      containerId: stat ? readContainerId(pid) : undefined,
      netns: stat ? nsInode(readLink(`/proc/${pid}/ns/net`)) : undefined,
      env: withEnv && stat ? readEnviron(pid, EXEC_ENV_KEYS) : undefined,
      ancestors: [],
      ancestorsFrom: ppid,
    };
  }
  const info: ProcessInfo = {
    pid,
    ppid,
    uid,
    user: uid >= 0 ? userName(uid) : undefined,
    exe: snap.exe,
    argv: snap.argv,
    capEff,
    ttyNr: facts.ttyNr,
    containerId: facts.containerId,
    netns: facts.netns,
    // Parents the addon did not reach were gone at the exec: only the table knows them.
    ancestors: ancestorsOf(facts.ancestorsFrom, known, facts.ancestors, !f),
    partial: facts.ttyNr < 0,
  };
  if (withEnv && facts.env) info.env = facts.env;
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
