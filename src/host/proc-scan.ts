import { readdirSync } from 'node:fs';
import { listPids, nsInode, readLink, statIno } from './procfs.js';

// One pass over /proc per poll: which processes exist (new ones are what the
// /proc fallback reports as executions) and which network namespace each is
// in (packet sockets and traffic mirrors are per namespace). The namespace
// link is read once per process, not on every poll.

export interface NetnsInfo {
  inode: number;
  /** Name under /run/netns, if the namespace is named. */
  name?: string;
  /** Path that enters it (nsenter --net=PATH). */
  path: string;
  /** Some processes inside it (for /proc/PID/net/*), at most a few. */
  pids: number[];
}

const MAX_NETNS = 256;
const PIDS_PER_NETNS = 4;
const NETNS_DIRS = ['/run/netns', '/var/run/netns'];
const NAMED_REFRESH_MS = 100;

export class ProcScan {
  pids: number[] = [];
  /** Processes that were not there at the previous scan (all of them at the first). */
  newPids: number[] = [];
  readonly ownNetns: number;
  private netnsOfPid = new Map<number, number>();
  private namespaces = new Map<number, NetnsInfo>();
  scans = 0;

  constructor() {
    this.ownNetns = nsInode(readLink('/proc/self/ns/net')) ?? 0;
  }

  scan(): void {
    const list = listPids();
    const prev = this.netnsOfPid;
    const next = new Map<number, number>();
    const fresh: number[] = [];
    for (const pid of list) {
      let ns = prev.get(pid);
      if (ns === undefined) {
        ns = nsInode(readLink(`/proc/${pid}/ns/net`)) ?? 0;
        fresh.push(pid);
      }
      next.set(pid, ns);
    }
    this.netnsOfPid = next;
    this.pids = list;
    this.newPids = fresh;
    this.scans++;
    this.namespaces = this.collectNamespaces();
  }

  netnsOf(pid: number): number | undefined {
    return this.netnsOfPid.get(pid);
  }

  netnsList(): NetnsInfo[] {
    return [...this.namespaces.values()];
  }

  netns(inode: number): NetnsInfo | undefined {
    return this.namespaces.get(inode);
  }

  /** 'host' for the sensor's own namespace, 'netns NAME' for named ones, else 'netns net:[N]'. */
  label(inode: number | undefined): string {
    if (inode === undefined || inode === 0) return 'unknown network namespace';
    if (inode === this.ownNetns) return 'host';
    let n = this.namespaces.get(inode);
    if (!n?.name && Date.now() - this.namedAt > NAMED_REFRESH_MS) {
      // Created since the last scan (`ip netns add` just before the process started)?
      this.addNamed(this.namespaces);
      n = this.namespaces.get(inode);
    }
    return n?.name ? `netns ${n.name}` : `netns net:[${inode}]`;
  }

  private namedAt = 0;

  private addNamed(out: Map<number, NetnsInfo>): void {
    this.namedAt = Date.now();
    for (const dir of NETNS_DIRS) {
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names.slice(0, MAX_NETNS)) {
        const path = `${dir}/${name}`;
        const ino = statIno(path);
        if (ino === undefined || out.size >= MAX_NETNS) continue;
        const known = out.get(ino);
        if (known) {
          known.name ??= name;
          continue;
        }
        out.set(ino, { inode: ino, name, path, pids: [] });
      }
    }
  }

  private collectNamespaces(): Map<number, NetnsInfo> {
    const out = new Map<number, NetnsInfo>();
    out.set(this.ownNetns, { inode: this.ownNetns, path: '/proc/self/ns/net', pids: [] });
    this.addNamed(out);
    for (const [pid, ino] of this.netnsOfPid) {
      if (ino === 0) continue;
      let n = out.get(ino);
      if (!n) {
        if (out.size >= MAX_NETNS) continue;
        n = { inode: ino, path: `/proc/${pid}/ns/net`, pids: [] };
        out.set(ino, n);
      }
      if (n.pids.length < PIDS_PER_NETNS) n.pids.push(pid);
    }
    return out;
  }
}
