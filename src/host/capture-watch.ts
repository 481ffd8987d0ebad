import { closeSync, constants, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { readLink, readText } from './procfs.js';
import type { ProcScan } from './proc-scan.js';

// Capture capability on the host, read from the kernel's own tables:
// - packet sockets (/proc/PID/net/packet, one read per network namespace),
//   attributed to processes through /proc/PID/fd -> socket:[inode];
// - promiscuous interfaces (/sys/class/net/*/flags & IFF_PROMISC, which also
//   shows promiscuity that libpcap asked for and `ip link` does not print);
// - the kernel's "entered promiscuous mode" log lines (/dev/kmsg), which also
//   cover other namespaces and switches shorter than a poll.
// This module only observes; sensor.ts decides what to report.

export interface PacketSocket {
  inode: number;
  /** SOCK_RAW 3, SOCK_DGRAM 2. */
  type: number;
  /** Ethertype it receives (host order); 3 = ETH_P_ALL, 0 = none until bound. */
  proto: number;
  /** 0 = not bound to one interface. */
  ifindex: number;
  uid: number;
}

/** /proc/net/packet: "sk RefCnt Type Proto Iface R Rmem User Inode" (Proto in hex). */
export function parseProcNetPacket(text: string, cap = 4096): PacketSocket[] {
  const out: PacketSocket[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length && out.length < cap; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 9) continue;
    const type = Number(f[2]);
    const proto = parseInt(f[3]!, 16);
    const ifindex = Number(f[4]);
    const uid = Number(f[7]);
    const inode = Number(f[8]);
    if (![type, proto, ifindex, uid, inode].every(Number.isSafeInteger) || inode <= 0) continue;
    out.push({ inode, type, proto, ifindex, uid });
  }
  return out;
}

export interface SocketOwner {
  pid: number;
  netns: number;
  sock: PacketSocket;
}

const FD_BUDGET = 200_000;
const FDS_PER_PID = 65_536;
const MAX_SOCKETS = 16_384;
const ATTRIBUTION_TRIES = 3;
const UNBOUND_POLLS = 3;

/** Packet sockets per namespace, and which processes hold the new ones. */
export class PacketSocketTable {
  /** inode -> socket and namespace, as of the last poll. */
  current = new Map<number, { sock: PacketSocket; netns: number }>();
  /** inode -> owners found (empty while still being looked for). */
  private readonly attributed = new Map<number, number[]>();
  private readonly tries = new Map<number, number>();
  /** Sockets still unbound (proto 0): libpcap binds right after creating; judged once bound or after a few polls. */
  private readonly unbound = new Map<number, number>();
  unattributed = 0;

  /** Returns the sockets whose owners were found in this poll (each once per socket). */
  poll(scan: ProcScan): SocketOwner[] {
    const next = new Map<number, { sock: PacketSocket; netns: number }>();
    for (const ns of scan.netnsList()) {
      for (const pid of ns.pids) {
        const text = readText(`/proc/${pid}/net/packet`, 1 << 20);
        if (text === undefined) continue;
        for (const sock of parseProcNetPacket(text)) if (next.size < MAX_SOCKETS) next.set(sock.inode, { sock, netns: ns.inode });
        break;
      }
    }
    this.current = next;
    for (const inode of [...this.attributed.keys()]) if (!next.has(inode)) this.attributed.delete(inode);
    for (const inode of [...this.tries.keys()]) if (!next.has(inode)) this.tries.delete(inode);
    for (const inode of [...this.unbound.keys()]) if (!next.has(inode)) this.unbound.delete(inode);

    const wanted = new Set<number>();
    for (const [inode, e] of next) {
      if (this.attributed.has(inode)) continue;
      if (e.sock.proto === 0) {
        const polls = (this.unbound.get(inode) ?? 0) + 1;
        this.unbound.set(inode, polls);
        if (polls < UNBOUND_POLLS) continue;
      }
      wanted.add(inode);
    }
    if (wanted.size === 0) return [];
    const wantedNs = new Set<number>();
    for (const inode of wanted) wantedNs.add(next.get(inode)!.netns);
    const found = findSocketOwners(wanted, wantedNs, scan);
    const out: SocketOwner[] = [];
    for (const inode of wanted) {
      const owners = found.get(inode);
      const entry = next.get(inode)!;
      if (owners && owners.length > 0) {
        this.attributed.set(inode, owners);
        this.tries.delete(inode);
        for (const pid of owners) out.push({ pid, netns: entry.netns, sock: entry.sock });
      } else {
        const t = (this.tries.get(inode) ?? 0) + 1;
        this.tries.set(inode, t);
        if (t >= ATTRIBUTION_TRIES) {
          this.attributed.set(inode, []);
          this.unattributed++;
        }
      }
    }
    return out;
  }

  /** Current sockets with their owners (for promiscuity attribution). */
  owners(): SocketOwner[] {
    const out: SocketOwner[] = [];
    for (const [inode, pids] of this.attributed) {
      const e = this.current.get(inode);
      if (e) for (const pid of pids) out.push({ pid, netns: e.netns, sock: e.sock });
    }
    return out;
  }
}

/**
 * Calls `visit` with each fd link of the processes in `order`, within a budget
 * of readlinks, until it returns true (done).
 */
function scanFds(order: readonly number[], visit: (pid: number, fd: string, link: string) => boolean): void {
  let budget = FD_BUDGET;
  for (const pid of order) {
    if (budget <= 0) return;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds.slice(0, FDS_PER_PID)) {
      if (--budget <= 0) return;
      const link = readLink(`/proc/${pid}/fd/${fd}`);
      if (link && visit(pid, fd, link)) return;
    }
  }
}

/** Adds pid to the owners of `key`, at most 8 per key. */
function addOwner<K>(found: Map<K, number[]>, key: K, pid: number): void {
  const list = found.get(key);
  if (!list) found.set(key, [pid]);
  else if (list.length < 8 && !list.includes(pid)) list.push(pid);
}

/** Scans /proc/PID/fd for socket:[inode] links, namespace members first. */
function findSocketOwners(wanted: Set<number>, wantedNs: Set<number>, scan: ProcScan): Map<number, number[]> {
  const found = new Map<number, number[]>();
  const inNs = (p: number): boolean => wantedNs.has(scan.netnsOf(p) ?? 0);
  const order = [...scan.pids.filter((p) => inNs(p)), ...scan.pids.filter((p) => !inNs(p))];
  scanFds(order, (pid, _fd, link) => {
    if (!link.startsWith('socket:[')) return false;
    const inode = Number(link.slice(8, -1));
    if (wanted.has(inode)) addOwner(found, inode, pid);
    return found.size >= wanted.size;
  });
  return found;
}

/** The device a /dev/net/tun descriptor is attached to: "iff:\tNAME" in /proc/PID/fdinfo/FD. */
export function parseTunFdinfo(text: string): string | undefined {
  return /^iff:\s*(\S{1,64})$/m.exec(text)?.[1];
}

/** Processes holding these tun/tap devices open, by device name (any network namespace). */
export function findTunHolders(names: ReadonlySet<string>, scan: ProcScan): Map<string, number[]> {
  const found = new Map<string, number[]>();
  if (names.size === 0) return found;
  scanFds(scan.pids, (pid, fd, link) => {
    if (link !== '/dev/net/tun') return false;
    const iff = parseTunFdinfo(readText(`/proc/${pid}/fdinfo/${fd}`, 4096) ?? '');
    if (iff !== undefined && names.has(iff)) addOwner(found, iff, pid);
    return false; // a device may have several holders (multiqueue)
  });
  return found;
}

/**
 * ifindex -> name in another network namespace, from the tables a process
 * there sees: /proc/PID/net/igmp ("Idx Device :") and dev_mcast ("ifindex
 * name ..."). Interfaces without IPv4 or multicast addresses are not listed.
 */
export function parseIfnames(igmp: string, devMcast: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of igmp.split('\n').slice(0, 4096)) {
    const m = /^(\d+)\s+(\S{1,64})\s*:/.exec(line);
    if (m) out.set(Number(m[1]), m[2]!);
  }
  for (const line of devMcast.split('\n').slice(0, 16384)) {
    const m = /^(\d+)\s+(\S{1,64})\s/.exec(line);
    if (m && !out.has(Number(m[1]))) out.set(Number(m[1]), m[2]!);
  }
  return out;
}

export function ifnamesSeenBy(pid: number): Map<number, string> {
  return parseIfnames(readText(`/proc/${pid}/net/igmp`, 1 << 20) ?? '', readText(`/proc/${pid}/net/dev_mcast`, 1 << 20) ?? '');
}

export const IFF_PROMISC = 0x100;

export interface InterfaceState {
  name: string;
  ifindex: number;
  promisc: boolean;
  /** A bridge port, bond or team member: promiscuous by design. */
  member: boolean;
  /** A port of Open vSwitch's kernel datapath (its master, "ovs-system"). */
  ovsDatapath?: string;
  /** A tun/tap device (a process holds it open, e.g. ovs-vswitchd's netdev datapath). */
  tun?: true;
}

/** The kernel datapath ovs-vswitchd creates: ports enslaved to it are made promiscuous by the kernel for OVS. */
const OVS_KERNEL_DATAPATH = 'ovs-system';

/**
 * Switch daemons whose ports are promiscuous by design (they put them in
 * promiscuous mode themselves); each is also one of PACKET_SOCKET_DAEMONS.
 */
export const SWITCH_DAEMONS: ReadonlySet<string> = new Set(['ovs-vswitchd']);

const MAX_INTERFACES = 4096;

/** Interfaces of the sensor's own namespace from /sys/class/net. */
export function readInterfaces(root = '/sys/class/net'): InterfaceState[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const out: InterfaceState[] = [];
  for (const name of names.slice(0, MAX_INTERFACES)) {
    const flags = parseInt(readText(`${root}/${name}/flags`, 64) ?? '', 16);
    const ifindex = Number((readText(`${root}/${name}/ifindex`, 64) ?? '').trim());
    if (!Number.isFinite(flags)) continue;
    const master = readLink(`${root}/${name}/master`);
    const state: InterfaceState = {
      name,
      ifindex: Number.isInteger(ifindex) ? ifindex : 0,
      promisc: (flags & IFF_PROMISC) !== 0,
      member: existsSync(`${root}/${name}/brport`) || master !== undefined,
    };
    if (master !== undefined && master.slice(master.lastIndexOf('/') + 1) === OVS_KERNEL_DATAPATH) state.ovsDatapath = OVS_KERNEL_DATAPATH;
    if (existsSync(`${root}/${name}/tun_flags`)) state.tun = true;
    out.push(state);
  }
  return out;
}

export interface KmsgPromisc {
  ifname: string;
  entered: boolean;
}

/** "device eth0 entered promiscuous mode" (older kernels) and "eth0: entered promiscuous mode" (6.x). */
export function parseKmsgPromisc(message: string): KmsgPromisc | undefined {
  const m = /^(?:device (\S{1,64}) (entered|left)|(\S{1,64}): (entered|left)) promiscuous mode$/.exec(message.trim());
  if (!m) return undefined;
  return { ifname: m[1] ?? m[3]!, entered: (m[2] ?? m[4]) === 'entered' };
}

/** "br0: port 1(p-gw) entered blocking state": the interface was just made a bridge port. */
export function parseKmsgBridgePort(message: string): string | undefined {
  const m = /^\S{1,64}: port \d+\((\S{1,64})\) entered \S+ state$/.exec(message.trim());
  return m ? m[1] : undefined;
}

/** The message of one /dev/kmsg record: "prio,seq,usec,flags;message\n KEY=value...". */
export function kmsgMessage(record: string): string {
  const semi = record.indexOf(';');
  if (semi < 0) return '';
  const nl = record.indexOf('\n', semi);
  return record.slice(semi + 1, nl < 0 ? undefined : nl);
}

const KMSG_RECORD_MAX = 8192;
const KMSG_PER_POLL = 4096;
const KMSG_SKIP_MAX = 1 << 20;

/** Reads /dev/kmsg without blocking, from the moment it was opened on. */
export class KmsgReader {
  private fd: number | undefined;
  private readonly buf = Buffer.allocUnsafe(KMSG_RECORD_MAX);

  /** Returns why it cannot be read, or undefined. */
  open(path = '/dev/kmsg'): string | undefined {
    try {
      this.fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      return `${path} not readable (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    // Skip the backlog: only what happens from now on. (No lseek in Node; read it away.)
    this.drain(KMSG_SKIP_MAX);
    return undefined;
  }

  /** Messages logged since the last call (at most `max`). */
  drain(max = KMSG_PER_POLL): string[] {
    const out: string[] = [];
    if (this.fd === undefined) return out;
    for (let i = 0; i < max; i++) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue; // records overwritten before we read them
        if (code === 'EINVAL') continue; // a record larger than the buffer: skipped
        break; // EAGAIN: nothing more now
      }
      if (n <= 0) break;
      if (max !== KMSG_SKIP_MAX) out.push(kmsgMessage(this.buf.toString('utf8', 0, n)));
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
