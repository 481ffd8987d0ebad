import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// JavaScript side of native/procconn: the kernel's process-events connector.
// The addon is optional (built at install when build tools are present);
// without it, or without root, the sensor scans /proc instead.

/** Record layout of a batch: REC_WIDTH doubles per event. */
export const REC_WIDTH = 8;
export const EV_FORK = 1;
export const EV_EXEC = 2;
export const EV_EXIT = 3;
export const EV_UID = 4;
// Fields: [0] kind, [1] pid (tgid), [7] wall-clock ms from the kernel timestamp, and
//   FORK: [2] parent tgid
//   EXEC: [2] exe string index (-1 none), [3] cmdline string index (-1 none), [4] ppid, [5] euid, [6] CapEff (-1 unknown)
//   EXIT: [2] exit code, [3] exit signal
//   UID:  [2] real uid, [3] effective uid

/**
 * Each EXEC also has a row of EXTRA_WIDTH doubles in `extra` (in record order), read by the
 * addon's thread right at the exec: [X_TTY] tty_nr (-1: stat unreadable, the process was
 * gone), [X_NETNS] network namespace inode (-1), [X_CGROUP] cgroup text and [X_ENV] the wanted
 * environment entries ("K=V\0...") as string indexes (-1 unread), [X_NANC] how many ancestors
 * were read, [X_NEXT] the pid where that chain stopped because it was gone (0: complete), then
 * per ancestor from X_ANC: pid, cmdline string index (-1), comm string index.
 * Addons built before this have no `extra`: the caller reads /proc itself.
 */
export const EXTRA_WIDTH = 24;
export const X_TTY = 0;
export const X_NETNS = 1;
export const X_CGROUP = 2;
export const X_ENV = 3;
export const X_NANC = 4;
export const X_NEXT = 5;
export const X_ANC = 6;

export type BatchCallback = (records: Float64Array | null, strings: string[] | null, lost: number, overflows: number, error: string | undefined, extra: Float64Array | undefined) => void;

export interface Connector {
  close(): void;
  /** Events lost so far (sequence gaps). */
  lost(): number;
}

interface Addon {
  /** With launcherFd, the events come framed from the `run` launcher on that pipe (native/procconn/launcher.c). */
  open(cb: BatchCallback, rcvbufBytes: number, envKeys: readonly string[], launcherFd?: number): Connector;
  /** Whether open() takes launcherFd; undefined in addons built before the launcher. */
  readonly launcherPipe?: boolean;
  /** Doubles per exec row of `extra`; undefined in addons without snapshots beyond the record. */
  readonly extraWidth?: number;
}

const ADDON_PATH = fileURLToPath(new URL('../../../native/procconn/build/Release/procconn.node', import.meta.url));

let addon: Addon | undefined;
let loadError: string | undefined;

function load(): Addon | undefined {
  if (addon || loadError) return addon;
  if (process.env.SNIFFWATCH_NO_PROCCONN === '1') {
    loadError = 'disabled by SNIFFWATCH_NO_PROCCONN=1';
    return undefined;
  }
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  } catch (e) {
    loadError = `native addon not built (${(e as NodeJS.ErrnoException).code ?? 'error'}; run npm run build:native with build-essential installed)`;
  }
  return addon;
}

/**
 * Opens the connector, or returns why it cannot be used (one line). `envKeys`: environment
 * variables the addon copies at each exec. `extra` reaches `cb` only from an addon whose
 * layout this file knows. `launcherFd`: read the events the `run` launcher passes on that
 * pipe instead of subscribing.
 */
export function openConnector(cb: BatchCallback, rcvbufBytes = 8 << 20, envKeys: readonly string[] = [], launcherFd?: number): Connector | string {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  const a = load();
  if (!a) return loadError ?? 'native addon unavailable';
  if (launcherFd !== undefined && a.launcherPipe !== true) return 'native addon older than the run launcher (run npm run build:native)';
  const known = a.extraWidth === EXTRA_WIDTH;
  try {
    return a.open((records, strings, lost, overflows, error, extra) => cb(records, strings, lost, overflows, error, known ? extra : undefined), rcvbufBytes, envKeys, launcherFd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EACCES') return 'needs root (CAP_NET_ADMIN) to subscribe to process events';
    return (e as Error).message;
  }
}
