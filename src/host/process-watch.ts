import { containerIdFromCgroup, environValues, readStat, splitCmdline } from './procfs.js';
import { ancestorOf, MAX_ANCESTORS, shortArgv, snapshotFromProc, type Ancestor, type ExecFacts, type KnownProcess, type Snapshot } from './process-info.js';
import { EV_EXEC, EV_EXIT, EV_FORK, EV_UID, EXTRA_WIDTH, REC_WIDTH, X_ANC, X_CGROUP, X_ENV, X_NANC, X_NETNS, X_NEXT, X_TTY } from './procconn.js';
import type { BatchSink, ProcessSubscription } from './process-subscription.js';
import { EXEC_ENV_KEYS } from './tool-table.js';
import type { ProcScan } from './proc-scan.js';
import { baseName } from './tools.js';
import { BoundedMap } from '../util/bounded-map.js';

// Process executions, from the kernel's process-events connector when it can
// be opened (every exec, in real time, with fork/exit for the process tree,
// and what the addon's thread read about each exec at once), else from /proc
// scans every poll (processes that live less than a poll are missed). Also
// keeps a bounded table of processes: parent, name and first arguments, so a
// short-lived parent can still be named, and whether a process descends from
// the scope root (`sniffwatch run`).

export type ExecSource = 'process-events' | 'proc-scan' | 'already-running';

export interface ExecEvent {
  pid: number;
  timeMs: number;
  /** What was read at the event; undefined when the process was gone before anything could be read. */
  snap: Snapshot | undefined;
  source: ExecSource;
}

export interface ProcessWatchHandlers {
  onExec(ev: ExecEvent): void;
  onUidChange(pid: number, timeMs: number): void;
  onLost(lost: number, overflows: number): void;
  onError(message: string): void;
}

interface Entry extends KnownProcess {
  inScope?: boolean;
}

const MAX_LIVE = 65536;
const MAX_EXITED = 4096;
const MAX_SCOPE_DEPTH = 64;

export interface ProcessWatchStats {
  execs: number;
  forks: number;
  exits: number;
  lost: number;
  overflows: number;
  /** Exec events whose process was gone before /proc could be read (by the addon's thread, or here with an older addon). */
  vanished: number;
  /** Longest delay from an exec (kernel timestamp) to its handling here, in ms. */
  maxLatencyMs: number;
}

export class ProcessWatch implements BatchSink {
  readonly stats: ProcessWatchStats = { execs: 0, forks: 0, exits: 0, lost: 0, overflows: 0, vanished: 0, maxLatencyMs: 0 };
  mode: 'process-events' | 'proc-scan' = 'proc-scan';
  private readonly live = new BoundedMap<number, Entry>(MAX_LIVE);
  private readonly exited = new BoundedMap<number, Entry>(MAX_EXITED);
  private started = false;

  constructor(
    private readonly handlers: ProcessWatchHandlers,
    private readonly scopeRoot: number | undefined,
  ) {}

  /** Takes the subscription's events, those it kept included; without its connector open, new pids are found by scanning /proc. */
  follow(subscription: ProcessSubscription): void {
    this.mode = subscription.live ? 'process-events' : 'proc-scan';
    subscription.attach(this);
  }

  lookup = (pid: number): KnownProcess | undefined => this.live.get(pid) ?? this.exited.get(pid);

  /** Whether pid descends from the scope root (always true without a scope). */
  inScope(pid: number): boolean {
    const root = this.scopeRoot;
    if (root === undefined) return true;
    const chain: number[] = [];
    let p = pid;
    let result = false;
    for (let depth = 0; depth < MAX_SCOPE_DEPTH; depth++) {
      if (p === root) {
        result = true;
        break;
      }
      if (p <= 1) break;
      const e = this.live.get(p) ?? this.exited.get(p);
      if (e?.inScope !== undefined) {
        result = e.inScope;
        break;
      }
      chain.push(p);
      const next = e ? e.ppid : readStat(p)?.ppid;
      if (next === undefined) break;
      p = next;
    }
    for (const c of chain) {
      const e = this.live.get(c);
      if (e) e.inScope = result;
    }
    return result;
  }

  /** Per poll: in fallback mode new pids are reported as executions; both modes drop entries of vanished pids. */
  poll(scan: ProcScan, now: number): void {
    const first = !this.started;
    this.started = true;
    if (this.mode === 'proc-scan' || first) {
      for (const pid of scan.newPids) {
        if (pid === process.pid) continue;
        if (this.mode === 'process-events' && this.live.has(pid)) continue;
        // With a scope (`run`), what is already there at the first poll is outside it: the scope's
        // processes all start after the subscription, whose events made them known (or, without
        // the connector, after this poll). Reading /proc for every other process was wasted.
        if (first && this.scopeRoot !== undefined) continue;
        const snap = snapshotFromProc(pid);
        if (!snap) continue;
        this.remember(pid, snap.ppid, snap.argv, snap.exe);
        this.handlers.onExec({ pid, timeMs: now, snap, source: first ? 'already-running' : 'proc-scan' });
      }
    }
    // Exits lost with a connector overflow, or never seen in fallback mode.
    if (this.live.size > scan.pids.length + 1024 || this.mode === 'proc-scan') {
      const present = new Set(scan.pids);
      for (const pid of this.live.keys()) if (!present.has(pid)) this.markExited(pid);
    }
  }

  private remember(pid: number, ppid: number, argv: readonly string[], exe: string): Entry {
    let e = this.live.get(pid);
    const name = (argv[0] ? baseName(argv[0]) : baseName(exe)).slice(0, 64);
    if (e) {
      e.ppid = ppid > 0 ? ppid : e.ppid;
      e.name = name || e.name;
      e.argv = shortArgv(argv);
      return e;
    }
    e = { ppid, name, argv: shortArgv(argv) };
    this.live.set(pid, e);
    return e;
  }

  private markExited(pid: number): void {
    const e = this.live.get(pid);
    if (!e) return;
    this.live.delete(pid);
    // Set anew, so a pid exiting again (reused) becomes the newest.
    this.exited.delete(pid);
    this.exited.set(pid, e);
  }

  onBatch(records: Float64Array | null, strings: string[] | null, lost: number, overflows: number, error: string | undefined, extra: Float64Array | undefined): void {
    try {
      if (error) {
        this.handlers.onError(`process-events connector: ${error}`);
        this.mode = 'proc-scan';
      }
      if (lost > 0 || overflows > 0) {
        this.stats.lost += lost;
        this.stats.overflows += overflows;
        this.handlers.onLost(lost, overflows);
      }
      if (!records || !strings) return;
      let row = 0;
      for (let i = 0; i + REC_WIDTH <= records.length; i += REC_WIDTH) {
        const x = records[i] === EV_EXEC && extra && row + EXTRA_WIDTH <= extra.length ? row : -1;
        if (x >= 0) row += EXTRA_WIDTH;
        this.onRecord(records, i, strings, extra, x);
      }
    } catch (e) {
      this.handlers.onError(`process event handling: ${(e as Error).message}`);
    }
  }

  /** `x`: offset of this exec's row in `extra`, -1 without one. */
  private onRecord(r: Float64Array, i: number, strings: string[], extra: Float64Array | undefined, x: number): void {
    const kind = r[i]!;
    const pid = r[i + 1]!;
    const timeMs = r[i + 7]!;
    if (kind === EV_FORK) {
      this.stats.forks++;
      const ppid = r[i + 2]!;
      const parent = this.live.get(ppid);
      const e = this.remember(pid, ppid, parent?.argv ?? [], parent?.name ?? '');
      if (this.scopeRoot !== undefined) e.inScope = ppid === this.scopeRoot || pid === this.scopeRoot || (parent?.inScope ?? this.inScope(ppid));
    } else if (kind === EV_EXEC) {
      this.stats.execs++;
      const latency = Date.now() - timeMs;
      if (latency > this.stats.maxLatencyMs) this.stats.maxLatencyMs = latency;
      const exe = stringAt(strings, r[i + 2]!) ?? '';
      const argv = splitCmdline(stringAt(strings, r[i + 3]!) ?? '');
      const known = this.live.get(pid);
      const ppid = r[i + 4]! > 0 ? r[i + 4]! : (known?.ppid ?? 0);
      const gone = exe === '' && argv.length === 0;
      if (gone) this.stats.vanished++;
      this.remember(pid, ppid, argv, exe);
      const snap: Snapshot | undefined = gone ? undefined : { exe, argv, ppid, uid: r[i + 5]!, capEff: r[i + 6]! >= 0 ? BigInt(r[i + 6]!) : 0n };
      if (snap && extra && x >= 0) snap.facts = execFacts(extra, x, strings, ppid);
      this.handlers.onExec({ pid, timeMs, snap, source: 'process-events' });
    } else if (kind === EV_EXIT) {
      this.stats.exits++;
      this.markExited(pid);
    } else if (kind === EV_UID) {
      this.handlers.onUidChange(pid, timeMs);
    }
  }
}

function stringAt(strings: readonly string[], index: number): string | undefined {
  return index >= 0 ? strings[index] : undefined;
}

/** The addon's snapshot row of one exec (layout in procconn.ts). */
function execFacts(x: Float64Array, at: number, strings: readonly string[], ppid: number): ExecFacts {
  const ancestors: Ancestor[] = [];
  const n = Math.min(x[at + X_NANC]!, MAX_ANCESTORS, (EXTRA_WIDTH - X_ANC) / 3);
  for (let k = 0; k < n; k++) {
    const a = at + X_ANC + 3 * k;
    ancestors.push(ancestorOf(x[a]!, stringAt(strings, x[a + 2]!) ?? '', splitCmdline(stringAt(strings, x[a + 1]!) ?? '')));
  }
  const cgroup = stringAt(strings, x[at + X_CGROUP]!);
  const env = stringAt(strings, x[at + X_ENV]!);
  return {
    ttyNr: x[at + X_TTY]!,
    netns: x[at + X_NETNS]! >= 0 ? x[at + X_NETNS]! : undefined,
    containerId: cgroup === undefined ? undefined : containerIdFromCgroup(cgroup),
    env: env === undefined ? undefined : environValues(env, EXEC_ENV_KEYS),
    ancestors,
    // No parent read at all (status unreadable): the table's parent, if any.
    ancestorsFrom: n === 0 && x[at + X_NEXT]! === 0 ? ppid : x[at + X_NEXT]!,
  };
}
