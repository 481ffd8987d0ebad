import { closeSync, constants, fstatSync, openSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';

// Bounded, never-throwing readers of /proc and /sys. Everything read here is
// controlled by whoever runs the process (argv, comm, environment, cgroup
// names): lengths are capped and parsing tolerates anything.

/** Cap on argv kept per process, and on one argument's length. */
export const MAX_ARGS = 256;
export const MAX_ARG_CHARS = 4096;
const READ_CAP = 64 * 1024;
const scratch = Buffer.allocUnsafe(READ_CAP);

/**
 * Reads at most `cap` bytes. O_NONBLOCK: a FIFO or device named by an attacker
 * (a "script" path in argv) must not block the sensor.
 */
export function readCapped(path: string, cap = READ_CAP, regularOnly = false): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
  try {
    if (regularOnly && !fstatSync(fd).isFile()) return undefined;
    const limit = Math.min(cap, READ_CAP);
    let got = 0;
    while (got < limit) {
      const n = readSync(fd, scratch, got, limit - got, null);
      if (n <= 0) break;
      got += n;
    }
    return Buffer.from(scratch.subarray(0, got));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

export function readText(path: string, cap = READ_CAP): string | undefined {
  return readCapped(path, cap)?.toString('latin1');
}

export function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** argv from /proc/PID/cmdline bytes (NUL-separated), capped in count and length. */
export function splitCmdline(raw: string): string[] {
  if (raw === '') return [];
  const parts = raw.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  // A process may rewrite its argv area into one space-separated string (setproctitle): keep it as one.
  return parts.slice(0, MAX_ARGS).map((a) => (a.length > MAX_ARG_CHARS ? a.slice(0, MAX_ARG_CHARS) : a));
}

export function readArgv(pid: number, cap = 32 * 1024): string[] | undefined {
  const b = readCapped(`/proc/${pid}/cmdline`, cap);
  return b === undefined ? undefined : splitCmdline(b.toString('utf8'));
}

export interface ProcStatus {
  name: string;
  ppid: number;
  /** Effective uid. */
  uid: number;
  /** CapEff as a bigint (bits above 63 do not exist yet, but the text is hostile-proofed anyway). */
  capEff: bigint;
}

export function parseStatus(text: string): ProcStatus | undefined {
  const field = (key: string): string | undefined => {
    const at = text.startsWith(`${key}:`) ? 0 : text.indexOf(`\n${key}:`);
    if (at < 0) return undefined;
    const start = text.indexOf(':', at + (at === 0 ? 0 : 1)) + 1;
    const end = text.indexOf('\n', start);
    return text.slice(start, end < 0 ? undefined : end).trim();
  };
  const ppid = Number(field('PPid'));
  const uid = Number((field('Uid') ?? '').split(/\s+/)[1]);
  const cap = field('CapEff') ?? '';
  if (!Number.isInteger(ppid) || !Number.isInteger(uid)) return undefined;
  return { name: field('Name') ?? '', ppid, uid, capEff: /^[0-9a-f]{1,16}$/i.test(cap) ? BigInt(`0x${cap}`) : 0n };
}

export function readStatus(pid: number): ProcStatus | undefined {
  const t = readText(`/proc/${pid}/status`, 8192);
  return t === undefined ? undefined : parseStatus(t);
}

export const CAP_NET_RAW = 13n;
export const CAP_NET_ADMIN = 12n;

export function hasCap(capEff: bigint, bit: bigint): boolean {
  return ((capEff >> bit) & 1n) === 1n;
}

export interface ProcStat {
  comm: string;
  ppid: number;
  /** Controlling terminal device number; 0 = none. */
  ttyNr: number;
  /** Clock ticks after boot; with the pid it names one process across pid reuse. */
  startTime: number;
}

/** /proc/PID/stat: comm is in parentheses and may itself contain ") ", so fields are counted from the last ')'. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const f = text.slice(close + 2).split(' ');
  // after comm: state(0) ppid(1) pgrp(2) session(3) tty_nr(4) ... starttime(19)
  const ppid = Number(f[1]);
  const ttyNr = Number(f[4]);
  const startTime = Number(f[19]);
  if (!Number.isFinite(ppid) || !Number.isFinite(ttyNr)) return undefined;
  return { comm: text.slice(open + 1, close), ppid, ttyNr, startTime: Number.isFinite(startTime) ? startTime : 0 };
}

export function readStat(pid: number): ProcStat | undefined {
  const t = readText(`/proc/${pid}/stat`, 4096);
  return t === undefined ? undefined : parseStat(t);
}

/** Container id from /proc/PID/cgroup (docker, containerd, CRI-O, podman, kubepods); undefined on the host. */
export function containerIdFromCgroup(text: string): string | undefined {
  const m = /(?:docker|cri-containerd|crio|libpod|containerd)[-/]([0-9a-f]{64})(?:\.scope)?\b|\/kubepods[^\n]*\/([0-9a-f]{64})\b|\/docker\/([0-9a-f]{64})\b/.exec(text);
  return m ? (m[1] ?? m[2] ?? m[3]) : undefined;
}

export function readContainerId(pid: number): string | undefined {
  const t = readText(`/proc/${pid}/cgroup`, 16384);
  return t === undefined ? undefined : containerIdFromCgroup(t);
}

/** Selected variables of /proc/PID/environ (NUL-separated KEY=VALUE), values capped. */
export function environValues(raw: string, keys: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const k = entry.slice(0, eq);
    if (keys.has(k) && !out.has(k)) out.set(k, entry.slice(eq + 1, eq + 1 + 128));
  }
  return out;
}

export function readEnviron(pid: number, keys: ReadonlySet<string>): Map<string, string> | undefined {
  const b = readCapped(`/proc/${pid}/environ`, READ_CAP);
  return b === undefined ? undefined : environValues(b.toString('utf8'), keys);
}

/** Numeric entries of /proc, at most `cap`. */
export function listPids(cap = 1 << 17): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(n);
    if (Number.isInteger(pid) && pid > 0) out.push(pid);
    if (out.length >= cap) break;
  }
  return out;
}

/** 'net:[4026531840]' -> 4026531840 */
export function nsInode(link: string | undefined): number | undefined {
  if (!link) return undefined;
  const m = /:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : undefined;
}

export function statIno(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/**
 * A script named on a process's command line, read as that process sees it
 * (its cwd and root), only when it is a regular file.
 */
export function readScriptOf(pid: number, path: string, cap = READ_CAP): string | undefined {
  if (path.length > 4096 || path.includes('\0')) return undefined;
  const full = path.startsWith('/') ? `/proc/${pid}/root${path}` : `/proc/${pid}/cwd/${path}`;
  return readCapped(full, cap, true)?.toString('utf8');
}

let users: { map: Map<number, string>; mtimeMs: number; checked: number } | undefined;

/** uid -> login name from /etc/passwd, re-read when the file changes (checked at most every 30 s). */
export function userName(uid: number, now = Date.now()): string | undefined {
  if (!users || now - users.checked > 30_000) {
    let mtimeMs = -1;
    try {
      mtimeMs = statSync('/etc/passwd').mtimeMs;
    } catch {
      // no passwd: numeric uids only
    }
    if (!users || users.mtimeMs !== mtimeMs) {
      const map = new Map<number, string>();
      const text = readCapped('/etc/passwd', READ_CAP)?.toString('utf8') ?? '';
      for (const line of text.split('\n')) {
        const f = line.split(':');
        const id = Number(f[2]);
        if (f.length >= 3 && f[0] && Number.isInteger(id) && !map.has(id)) map.set(id, f[0].slice(0, 64));
      }
      users = { map, mtimeMs, checked: now };
    } else {
      users.checked = now;
    }
  }
  return users.map.get(uid);
}
