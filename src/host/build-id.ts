import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { TOOLS } from './tool-table.js';
import { BoundedMap } from '../util/bounded-map.js';

// A renamed copy of tcpdump is still tcpdump: its ELF GNU build id (a hash
// the linker stamps into .note.gnu.build-id) is the same. The sensor learns
// the build ids of the tools installed on this host once, then recognises
// any executable carrying one. Reads are bounded (headers and notes only).

const MAX_PHDRS = 64;
const MAX_NOTE = 4096;
const NT_GNU_BUILD_ID = 3;

/** The GNU build id of an ELF file as hex, or undefined. Never throws. */
export function readBuildId(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    return buildIdOfFd(fd);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function pread(fd: number, len: number, pos: number): Buffer {
  const b = Buffer.alloc(len);
  const n = readSync(fd, b, 0, len, pos);
  return b.subarray(0, n);
}

function buildIdOfFd(fd: number): string | undefined {
  const h = pread(fd, 64, 0);
  if (h.length < 52 || h.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = h[4] === 2;
  const le = h[5] === 1;
  const u16 = (b: Buffer, o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number): number => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  if (is64 && h.length < 64) return undefined;
  const phoff = is64 ? u64(h, 32) : u32(h, 28);
  const phentsize = is64 ? u16(h, 54) : u16(h, 42);
  const phnum = Math.min(is64 ? u16(h, 56) : u16(h, 44), MAX_PHDRS);
  if (phentsize < (is64 ? 56 : 32) || phentsize > 256 || !Number.isSafeInteger(phoff)) return undefined;
  const ph = pread(fd, phentsize * phnum, phoff);
  for (let i = 0; i + phentsize <= ph.length; i += phentsize) {
    if (u32(ph, i) !== 4 /* PT_NOTE */) continue;
    const off = is64 ? u64(ph, i + 8) : u32(ph, i + 4);
    const size = Math.min(is64 ? u64(ph, i + 32) : u32(ph, i + 16), MAX_NOTE);
    if (!Number.isSafeInteger(off)) continue;
    const notes = pread(fd, size, off);
    for (let p = 0; p + 12 <= notes.length; ) {
      const namesz = u32(notes, p);
      const descsz = u32(notes, p + 4);
      const type = u32(notes, p + 8);
      const nameStart = p + 12;
      const descStart = nameStart + ((namesz + 3) & ~3);
      const next = descStart + ((descsz + 3) & ~3);
      if (namesz > MAX_NOTE || descsz > MAX_NOTE || next > notes.length || next <= p) break;
      if (type === NT_GNU_BUILD_ID && namesz === 4 && notes.toString('latin1', nameStart, nameStart + 3) === 'GNU') {
        return notes.toString('hex', descStart, descStart + descsz);
      }
      p = next;
    }
  }
  return undefined;
}

const TOOL_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin', '/opt/zeek/bin', '/opt/suricata/bin', '/opt/snort/bin'];
const CACHE_MAX = 4096;

/**
 * Build ids of the installed tools, and a cache of executables already
 * looked at (by device, inode, size and mtime, so a replaced file is re-read).
 */
export class BuildIdIndex {
  private readonly toolById = new Map<string, string>();
  private readonly seen = new BoundedMap<string, string | undefined>(CACHE_MAX);

  constructor(dirs: readonly string[] = TOOL_DIRS) {
    for (const spec of TOOLS) {
      for (const name of spec.names) {
        for (const dir of dirs) {
          const id = readBuildId(join(dir, name));
          if (id && !this.toolById.has(id)) this.toolById.set(id, name);
        }
      }
    }
  }

  get size(): number {
    return this.toolById.size;
  }

  /** The tool name whose build id /proc/PID/exe carries, if any. */
  toolOf(pid: number): string | undefined {
    if (this.toolById.size === 0) return undefined;
    const exe = `/proc/${pid}/exe`;
    let fd: number;
    try {
      fd = openSync(exe, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch {
      return undefined;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return undefined;
      const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
      if (this.seen.has(key)) return this.seen.get(key);
      const id = buildIdOfFd(fd);
      const tool = id === undefined ? undefined : this.toolById.get(id);
      this.seen.set(key, tool);
      return tool;
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }
}
