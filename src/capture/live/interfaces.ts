import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

// Network interfaces as Linux shows them in /sys/class/net: cheap enough to
// read every couple of seconds, so `watch` notices interfaces going down,
// coming back and appearing without a netlink socket.

const SYS_NET = '/sys/class/net';
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_RUNNING = 0x40;

export interface InterfaceState {
  name: string;
  /** Changes when an interface is deleted and created again under the same name. */
  ifindex: number;
  up: boolean;
  running: boolean;
  loopback: boolean;
  /** The interface this one is enslaved to, if any. */
  master?: string;
  /** Whether that master is a bridge or bond, which sees every frame of its ports. */
  masterSeesFrames?: boolean;
}

/** Linux interface names: 1-15 bytes, no '/', no whitespace, not '.' or '..'. */
export function isValidInterfaceName(name: string): boolean {
  return /^[^\s/:]{1,15}$/.test(name) && name !== '.' && name !== '..';
}

/**
 * libpcap's capture devices that are not network interfaces and so are not
 * in /sys/class/net: `any` (every interface, Linux cooked) and `nflog` /
 * `nflog:GROUP` (what netfilter rules log to NFLOG groups).
 */
export function isCapturePseudoDevice(name: string): boolean {
  return /^(any|nflog(:\d{1,5})?)$/.test(name);
}

/** The interface's current state, or undefined when it does not exist; a pseudo-device is always up. */
export function readInterface(name: string, root = SYS_NET): InterfaceState | undefined {
  if (isCapturePseudoDevice(name)) return { name, ifindex: 0, up: true, running: true, loopback: false };
  if (!isValidInterfaceName(name)) return undefined;
  const dir = join(root, name);
  let flags: number;
  let ifindex: number;
  try {
    flags = Number.parseInt(readFileSync(join(dir, 'flags'), 'utf8').trim(), 16);
    ifindex = Number.parseInt(readFileSync(join(dir, 'ifindex'), 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isFinite(flags) || !Number.isFinite(ifindex)) return undefined;
  const state: InterfaceState = {
    name,
    ifindex,
    up: (flags & IFF_UP) !== 0,
    running: (flags & IFF_RUNNING) !== 0,
    loopback: (flags & IFF_LOOPBACK) !== 0,
  };
  try {
    state.master = basename(readlinkSync(join(dir, 'master')));
    state.masterSeesFrames = exists(join(root, state.master, 'bridge')) || exists(join(root, state.master, 'bonding'));
  } catch {
    // not enslaved
  }
  return state;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Every interface in /sys/class/net (empty when it cannot be read, e.g. not Linux). */
export function listInterfaces(root = SYS_NET): InterfaceState[] {
  let names: string[];
  try {
    names = readdirSync(root).sort();
  } catch {
    return [];
  }
  const out: InterfaceState[] = [];
  for (const n of names) {
    const s = readInterface(n, root);
    if (s) out.push(s);
  }
  return out;
}

/**
 * Interfaces `watch` captures on by default: up and not loopback. Ports of a
 * bridge or bond are left out, because the master interface sees the same
 * frames and capturing both would analyse every frame twice.
 */
export function isDefaultCaptureInterface(s: InterfaceState): boolean {
  return s.up && !s.loopback && s.masterSeesFrames !== true;
}
