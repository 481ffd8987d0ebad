// Small statistics shared by the benchmarks, and the CPU times they read from /proc.

import { readFileSync } from 'node:fs';

/** Median of the finite values; NaN when there are none. */
export function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const round = (x: number, digits = 1): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

/** CPU times of a process from /proc/PID/stat, in clock ticks: its own, and its waited-for children's. */
export interface ProcTimes {
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

/** `pid`'s CPU times (proc(5) fields 14-17, after the parenthesised command name); undefined when it is gone. */
export function readProcTimes(pid: number | 'self'): ProcTimes | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
  } catch {
    return undefined;
  }
}
