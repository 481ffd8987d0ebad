import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants } from 'node:fs';
import { isIP } from 'node:net';
import { BoundedMap } from '../util/bounded-map.js';
import type { AllowedMirror, TcParent } from './config.js';

// Traffic duplication configured on the host (T1020.001): tc mirred actions,
// nftables `dup`, iptables TEE, Open vSwitch mirrors, and the tunnels that
// carry copies away (VXLAN, GRE, GENEVE, ERSPAN). Each is read from its own
// tool's machine-readable output, per network namespace, by commands run with
// a timeout and an output cap. Missing tools are skipped. The parsers are
// pure functions of that output, so they are unit-tested on recorded text.

export interface Tunnel {
  ifname: string;
  kind: string;
  remote?: string;
  local?: string;
  id?: number;
}

/** Where duplicated traffic goes and how it was configured. */
export interface MirrorConfig {
  /** Stable within a namespace: what kind and which object. */
  id: string;
  /** 'tc mirred', 'nft dup', 'iptables TEE', 'ovs mirror', 'tunnel' */
  mechanism: string;
  /** Human description: "tc filter on eth0 mirrors to vx0". */
  what: string;
  /** Interface the copies are taken from, when known. */
  source?: string;
  /** Device copies are sent out of. */
  targetDev?: string;
  /** Address copies are sent to (tunnel remote, TEE gateway, dup address). */
  collector?: string;
  /** mirror (copy) or redirect (divert). */
  action: 'mirror' | 'redirect';
  /** What its owner named it, for host.allowed_mirrors. */
  names?: MirrorNames;
}

export interface MirrorNames {
  ovsMirror?: string;
  bridge?: string;
  tcFilter?: { device: string; parent: TcParent };
  nftTable?: string;
  nftChain?: string;
}

/**
 * The first host.allowed_mirrors entry naming this mirror (or, for a tunnel
 * device alone, `{ targetDev: ifname }`). A `device` entry allows whatever
 * sends copies out of that device.
 */
export function mirrorAllowedBy(allowed: readonly AllowedMirror[], c: Pick<MirrorConfig, 'targetDev' | 'names'>): AllowedMirror | undefined {
  const n = c.names ?? {};
  const is = (re: RegExp | undefined, v: string | undefined): boolean => re === undefined || (v !== undefined && re.test(v));
  return allowed.find((a) => {
    switch (a.kind) {
      case 'ovs_mirror':
        return n.ovsMirror !== undefined && a.name.test(n.ovsMirror) && is(a.bridge, n.bridge);
      case 'tc_filter':
        return n.tcFilter !== undefined && a.device.test(n.tcFilter.device) && (a.parent === undefined || a.parent === n.tcFilter.parent);
      case 'device':
        return c.targetDev !== undefined && a.device.test(c.targetDev);
      case 'nft_table':
        return n.nftTable !== undefined && a.table.test(n.nftTable) && is(a.chain, n.nftChain);
    }
  });
}

const MAX_JSON_DEPTH = 32;
const MAX_ITEMS = 4096;

/** Visits every object in a JSON value, bounded in depth and count. */
function walk(v: unknown, visit: (o: Record<string, unknown>) => void, depth = 0, budget = { n: 0 }): void {
  if (depth > MAX_JSON_DEPTH || budget.n++ > 100_000 || v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v.slice(0, MAX_ITEMS)) walk(x, visit, depth + 1, budget);
    return;
  }
  const o = v as Record<string, unknown>;
  visit(o);
  for (const x of Object.values(o)) walk(x, visit, depth + 1, budget);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v.slice(0, 256) : undefined;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface MirredAction {
  index: number;
  action: 'mirror' | 'redirect';
  direction: string;
  toDev: string;
}

/** Every mirred action in `tc -j actions ls action mirred` or `tc -j filter show ...` output. */
export function parseMirred(json: unknown): MirredAction[] {
  const out: MirredAction[] = [];
  walk(json, (o) => {
    if (o.kind !== 'mirred' || out.length >= MAX_ITEMS) return;
    const toDev = str(o.to_dev);
    const action = o.mirred_action === 'redirect' ? 'redirect' : o.mirred_action === 'mirror' ? 'mirror' : undefined;
    if (!toDev || !action) return;
    out.push({ index: typeof o.index === 'number' ? o.index : -1, action, direction: str(o.direction) ?? 'egress', toDev });
  });
  return out;
}

const CLASSLESS = new Set(['noqueue', 'pfifo_fast', 'pfifo', 'bfifo', 'fq', 'fq_codel', 'fq_pie', 'codel', 'pie', 'sfq', 'tbf', 'netem', 'cake', 'mq', 'red', 'choke', 'plug', 'skbprio']);

/** Devices whose qdiscs can hold filters, with the `tc filter show` parents to query. */
export function parseQdiscs(json: unknown): Map<string, TcParent[]> {
  const out = new Map<string, TcParent[]>();
  if (!Array.isArray(json)) return out;
  for (const q of json.slice(0, MAX_ITEMS)) {
    if (q === null || typeof q !== 'object') continue;
    const o = q as Record<string, unknown>;
    const dev = str(o.dev);
    const kind = str(o.kind);
    if (!dev || !kind || !/^[\w.@:-]{1,64}$/.test(dev)) continue;
    const parents = out.get(dev) ?? [];
    if (kind === 'clsact') parents.push('ingress', 'egress');
    else if (kind === 'ingress') parents.push('ingress');
    else if (!CLASSLESS.has(kind) && o.root === true) parents.push('root');
    if (parents.length > 0) out.set(dev, [...new Set(parents)]);
  }
  return out;
}

/** VXLAN/GRE/GENEVE/ERSPAN devices with their remote, from `ip -d -j link show`. */
export function parseTunnels(json: unknown): Tunnel[] {
  const out: Tunnel[] = [];
  if (!Array.isArray(json)) return out;
  for (const l of json.slice(0, MAX_ITEMS)) {
    if (l === null || typeof l !== 'object') continue;
    const o = l as Record<string, unknown>;
    const info = o.linkinfo as Record<string, unknown> | undefined;
    const kind = str(info?.info_kind);
    const ifname = str(o.ifname);
    if (!kind || !ifname || !/^(vxlan|gre|gretap|ip6gre|ip6gretap|erspan|ip6erspan|geneve)$/.test(kind)) continue;
    const data = (info?.info_data ?? {}) as Record<string, unknown>;
    const remote = str(data.remote) ?? str(data.remote6);
    out.push({ ifname, kind, remote: remote && remote !== 'any' ? remote : undefined, local: str(data.local) ?? str(data.local6), id: typeof data.id === 'number' ? data.id : undefined });
  }
  return out;
}

/** `dup` statements in `nft -j list ruleset`. */
export function parseNftDup(json: unknown): MirrorConfig[] {
  const out: MirrorConfig[] = [];
  walk(json, (o) => {
    const rule = o.rule as Record<string, unknown> | undefined;
    if (!rule || typeof rule !== 'object' || out.length >= MAX_ITEMS) return;
    const table = str(rule.table);
    const chain = str(rule.chain);
    const where = `${str(rule.family) ?? '?'} ${table ?? '?'} ${chain ?? '?'}`;
    const handle = typeof rule.handle === 'number' ? rule.handle : -1;
    walk(rule.expr, (e) => {
      const dup = e.dup as Record<string, unknown> | undefined;
      if (!dup || typeof dup !== 'object') return;
      const addr = str(dup.addr);
      const dev = str(dup.dev);
      const addrIsIp = addr !== undefined && isIP(addr) !== 0;
      out.push({
        id: `nft|${where}|${handle}|${addr ?? ''}|${dev ?? ''}`,
        mechanism: 'nft dup',
        what: `nftables rule in ${where} (handle ${handle}) duplicates packets to ${addr ?? '?'}${dev ? ` via ${dev}` : ''}`,
        targetDev: addrIsIp ? dev : addr,
        collector: addrIsIp ? addr : undefined,
        action: 'mirror',
        names: { nftTable: table, nftChain: chain },
      });
    });
  });
  return out;
}

/** TEE targets in iptables-save / ip6tables-save output. */
export function parseIptablesTee(text: string, family: 'ip' | 'ip6'): MirrorConfig[] {
  const out: MirrorConfig[] = [];
  let table = '?';
  for (const line of text.split('\n').slice(0, 100_000)) {
    if (line.startsWith('*')) table = line.slice(1).trim().slice(0, 64);
    if (!line.startsWith('-A ') || !/\s-j TEE\b/.test(line)) continue;
    const gw = /--gateway\s+(\S+)/.exec(line)?.[1];
    const oif = /--oif\s+(\S+)/.exec(line)?.[1];
    const rule = line.slice(0, 256);
    out.push({
      id: `${family}tables|${table}|${rule}`,
      mechanism: 'iptables TEE',
      what: `${family === 'ip' ? 'iptables' : 'ip6tables'} ${table} table rule "${rule}" copies packets to ${gw ?? '?'}`,
      collector: gw,
      targetDev: oif,
      action: 'mirror',
    });
    if (out.length >= MAX_ITEMS) break;
  }
  return out;
}

/** OVS database JSON cell: "x", ["uuid","..."], ["set",[...]], ["map",[[k,v]...]]. */
function ovsAtom(v: unknown): unknown {
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string') {
    if (v[0] === 'set') return Array.isArray(v[1]) ? v[1].map(ovsAtom) : [];
    if (v[0] === 'map') return Array.isArray(v[1]) ? Object.fromEntries(v[1].filter(Array.isArray).map((p) => [String(ovsAtom(p[0])), ovsAtom(p[1])])) : {};
    if (v[0] === 'uuid' || v[0] === 'named-uuid') return String(v[1]);
  }
  return v;
}

/** Rows of `ovs-vsctl --format=json list TABLE`: {"headings": [...], "data": [[...]]}. */
export function parseOvsTable(json: unknown): Record<string, unknown>[] {
  if (json === null || typeof json !== 'object') return [];
  const o = json as { headings?: unknown; data?: unknown };
  if (!Array.isArray(o.headings) || !Array.isArray(o.data)) return [];
  const heads = o.headings.map(String);
  return o.data.slice(0, MAX_ITEMS).filter(Array.isArray).map((row: unknown[]) => Object.fromEntries(heads.map((h, i) => [h, ovsAtom(row[i])])));
}

/** A set-valued OVSDB column after ovsAtom: a one-element set is the bare atom. */
function atoms(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
}

/** Port names of a set of port UUIDs (the UUID when the port is unknown), at most 32. */
function portNames(v: unknown, portName: ReadonlyMap<string, string>): string[] {
  return atoms(v)
    .filter((u): u is string => typeof u === 'string')
    .slice(0, 32)
    .map((u) => portName.get(u) ?? u.slice(0, 64));
}

/**
 * OVS mirrors: bridge, what they select (all ports, source/destination ports,
 * VLANs), where copies go (output port, and the tunnel remote when that port
 * is a GRE/VXLAN/GENEVE/ERSPAN interface; or an output VLAN).
 */
export function ovsMirrors(
  mirrors: Record<string, unknown>[],
  ports: Record<string, unknown>[],
  ifaces: Record<string, unknown>[],
  bridges: Record<string, unknown>[] = [],
): MirrorConfig[] {
  const portName = new Map<string, string>();
  for (const p of ports) if (typeof p._uuid === 'string' && typeof p.name === 'string') portName.set(p._uuid, p.name.slice(0, 128));
  const bridgeOf = new Map<string, string>();
  for (const b of bridges) if (typeof b.name === 'string') for (const m of atoms(b.mirrors)) if (typeof m === 'string') bridgeOf.set(m, b.name.slice(0, 128));
  const tunnelOf = new Map<string, { kind: string; remote?: string }>();
  for (const i of ifaces) {
    const opts = i.options as Record<string, unknown> | undefined;
    if (typeof i.name !== 'string' || !opts || typeof opts.remote_ip !== 'string') continue;
    // remote_ip may also be "flow" (set per packet by OpenFlow): no fixed collector then.
    const remote = isIP(opts.remote_ip) !== 0 ? opts.remote_ip : undefined;
    tunnelOf.set(i.name, { kind: typeof i.type === 'string' && i.type ? i.type.slice(0, 32) : 'tunnel', remote });
  }
  return mirrors.map((m) => {
    const name = typeof m.name === 'string' ? m.name.slice(0, 128) : '?';
    const bridge = typeof m._uuid === 'string' ? bridgeOf.get(m._uuid) : undefined;
    const outPort = typeof m.output_port === 'string' ? (portName.get(m.output_port) ?? m.output_port) : undefined;
    const vlan = typeof m.output_vlan === 'number' ? m.output_vlan : undefined;
    const tunnel = outPort ? tunnelOf.get(outPort) : undefined;
    const from = portNames(m.select_src_port, portName);
    const to = portNames(m.select_dst_port, portName);
    const vlans = atoms(m.select_vlan).filter((v): v is number => typeof v === 'number').slice(0, 32);
    const selected = new Set([...from, ...to]);
    const both = from.length > 0 && from.length === to.length && from.every((p) => to.includes(p));
    const portText = both ? [`port ${from.join(', ')}`] : [from.length > 0 ? `from port ${from.join(', ')}` : '', to.length > 0 ? `to port ${to.join(', ')}` : ''];
    const selection = m.select_all === true ? 'all ports' : [...portText, vlans.length > 0 ? `VLAN ${vlans.join(', ')}` : ''].filter(Boolean).join(', ') || 'nothing selected';
    const via = tunnel ? ` (${tunnel.kind} tunnel${tunnel.remote ? '' : ', remote chosen per flow'})` : '';
    const dest = outPort ? `port ${outPort}${via}` : vlan !== undefined ? `VLAN ${vlan}` : '?';
    return {
      id: `ovs|${bridge ?? ''}|${name}|${outPort ?? ''}|${vlan ?? ''}`,
      mechanism: 'ovs mirror',
      what: `Open vSwitch mirror ${name} (${selection}) sends copies to ${dest}${bridge ? ` on bridge ${bridge}` : ''}`,
      source: selected.size === 1 ? [...selected][0] : undefined,
      targetDev: outPort,
      collector: tunnel?.remote,
      action: 'mirror' as const,
      names: { ovsMirror: name, bridge },
    };
  });
}

export interface CommandResult {
  ok: boolean;
  stdout: string;
  /** ENOENT: the tool is not installed. */
  missing: boolean;
}

const OUTPUT_CAP = 4 << 20;
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin'];

/** The environment with the sbin directories on PATH (where tc, nft and iptables live) and a fixed locale. */
function commandEnv(): NodeJS.ProcessEnv {
  const have = (process.env.PATH ?? '').split(':').filter(Boolean);
  return { ...process.env, LC_ALL: 'C', PATH: [...have, ...SBIN.filter((d) => !have.includes(d))].join(':') };
}

/** Pids of the shells runCommands started lately: their executions and their children's are sniffwatch's own reads, not a watched command's. */
const ownToolPids = new BoundedMap<number, true>(1024);

/** Whether an execution (pid, or its parent ppid) is one of sniffwatch's own traffic-duplication reads. */
export function isOwnToolPid(pid: number, ppid = 0): boolean {
  return ownToolPids.has(pid) || (ppid > 0 && ownToolPids.has(ppid));
}

/** Whether an executable of that name is on the commands' PATH (the sbin directories included). */
export function onPath(name: string): boolean {
  for (const dir of (commandEnv().PATH ?? '').split(':')) {
    try {
      accessSync(`${dir}/${name}`, fsConstants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** sh's status for a command it could not find. */
const SH_NOT_FOUND = 127;

/**
 * Runs commands one after another in one shell, behind `prefix` (nsenter into
 * a namespace): one fork of this large process instead of one per command,
 * which cost ~2 ms of this process's CPU each. Each command's stdout ends with
 * a marker line carrying a random nonce and its exit status, so no output can
 * fake one; arguments reach the shell as positional parameters, never as
 * script text. Output is bounded, and a command that runs longer than
 * timeoutMs ends the batch (its process group is killed): the commands before
 * it keep their results, those after it fail until the next check. Never
 * rejects.
 */
export function runCommands(argvs: readonly (readonly string[])[], prefix: readonly string[] = [], timeoutMs = 5000): Promise<CommandResult[]> {
  const nonce = randomBytes(12).toString('hex');
  const params: string[] = [];
  const lines = argvs.map((argv, i) => {
    const refs = argv.map((a) => {
      params.push(a);
      return `"\${${params.length}}"`;
    });
    return `${refs.join(' ')} </dev/null 2>/dev/null; printf '\n%s %d %d\n' "$0" ${i} $?`;
  });
  const results: CommandResult[] = argvs.map(() => ({ ok: false, stdout: '', missing: false }));
  if (argvs.length === 0) return Promise.resolve(results);
  return new Promise((resolve) => {
    const command = [...prefix, 'sh', '-c', lines.join('\n'), nonce, ...params];
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'ignore'], env: commandEnv(), detached: true });
    if (child.pid !== undefined) ownToolPids.set(child.pid, true);
    const chunks: Buffer[] = [];
    let size = 0;
    const cap = OUTPUT_CAP * argvs.length;
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    // Each command gets timeoutMs: the clock restarts at each marker line.
    let timer = setTimeout(kill, timeoutMs);
    let tail = '';
    child.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size > cap) {
        kill();
        return;
      }
      chunks.push(b);
      const text = tail + b.toString('latin1');
      if (text.includes(nonce)) {
        clearTimeout(timer);
        timer = setTimeout(kill, timeoutMs);
      }
      tail = text.slice(-nonce.length);
    });
    // A prefix that cannot start (nsenter not installed: see onPath) leaves every result failed.
    child.on('error', () => undefined);
    child.on('close', () => {
      clearTimeout(timer);
      const out = Buffer.concat(chunks).toString('utf8');
      const marker = new RegExp(`\\n${nonce} (\\d+) (\\d+)\\n`, 'g');
      let from = 0;
      for (let m = marker.exec(out); m !== null; m = marker.exec(out)) {
        const i = Number(m[1]);
        const status = Number(m[2]);
        if (i < results.length) results[i] = { ok: status === 0, stdout: out.slice(from, m.index), missing: status === SH_NOT_FOUND };
        from = m.index + m[0].length;
      }
      resolve(results);
    });
  });
}

/** Programs that configure traffic duplication (tc mirred, nft dup, iptables TEE, OVS mirrors, tunnel devices). */
export const MIRROR_CONFIG_TOOLS: ReadonlySet<string> = new Set([
  'tc', 'nft', 'iptables', 'ip6tables', 'iptables-nft', 'ip6tables-nft', 'iptables-legacy', 'ip6tables-legacy', 'iptables-restore', 'ip6tables-restore',
  'iptables-nft-restore', 'iptables-legacy-restore', 'xtables-nft-multi', 'xtables-legacy-multi', 'ebtables', 'ovs-vsctl', 'ovs-ofctl', 'ip', 'bridge', 'devlink',
]);

/** Runs a batch of commands (runCommands, inside a namespace or not); one result per command. */
export type Runner = (argvs: readonly (readonly string[])[]) => Promise<CommandResult[]>;


/** Everything that duplicates traffic in one network namespace, through `run` (which enters the namespace). */
export async function readNamespaceMirrors(run: Runner, missing: Set<string>): Promise<{ configs: MirrorConfig[]; tunnels: Tunnel[] }> {
  const configs: MirrorConfig[] = [];
  const [links, mirred, nft, iptables, ip6tables] = await runTools(run, missing, [
    ['ip', '-d', '-j', 'link', 'show'],
    ['tc', '-j', 'actions', 'ls', 'action', 'mirred'],
    ['nft', '-j', 'list', 'ruleset'],
    ['iptables-save'],
    ['ip6tables-save'],
  ]);
  const tunnels = parseTunnels(parseJson(links ?? ''));

  // tc: all mirred actions, then filters on devices that can hold them (to name the source device).
  const actions = parseMirred(parseJson(mirred ?? ''));
  const sourceOf = new Map<number, { device: string; parent: TcParent }>();
  if (actions.length > 0) {
    const [qdiscs] = await runTools(run, missing, [['tc', '-s', '-j', 'qdisc', 'show']]);
    const filters = [...parseQdiscs(parseJson(qdiscs ?? ''))]
      .slice(0, 64)
      .flatMap(([device, parents]) => parents.map((parent) => ({ device, parent, argv: parent === 'root' ? ['tc', '-j', 'filter', 'show', 'dev', device] : ['tc', '-j', 'filter', 'show', 'dev', device, parent] })));
    const outputs = await runTools(run, missing, filters.map((f) => f.argv));
    filters.forEach(({ device, parent }, i) => {
      for (const a of parseMirred(parseJson(outputs[i] ?? ''))) if (!sourceOf.has(a.index)) sourceOf.set(a.index, { device, parent });
    });
  }
  for (const a of actions) {
    const src = sourceOf.get(a.index);
    configs.push({
      id: `tc|${a.index}|${a.action}|${a.toDev}`,
      mechanism: 'tc mirred',
      what: `tc mirred action ${a.index}${src ? ` on ${src.device} ${src.parent}` : ''} ${a.action === 'mirror' ? 'mirrors' : 'redirects'} packets to ${a.toDev}`,
      source: src?.device,
      targetDev: a.toDev,
      action: a.action,
      names: src ? { tcFilter: src } : undefined,
    });
  }

  if (nft) configs.push(...parseNftDup(parseJson(nft)));
  if (iptables) configs.push(...parseIptablesTee(iptables, 'ip'));
  if (ip6tables) configs.push(...parseIptablesTee(ip6tables, 'ip6'));
  return { configs, tunnels };
}

/** Runs, in one batch, the commands whose tool is not known to be missing; the output of each that succeeded. */
async function runTools(run: Runner, missing: Set<string>, argvs: readonly string[][]): Promise<(string | undefined)[]> {
  const wanted = argvs.filter((argv) => !missing.has(argv[0]!));
  const results = wanted.length > 0 ? await run(wanted) : [];
  return argvs.map((argv) => {
    const r = results[wanted.indexOf(argv)];
    if (r?.missing) missing.add(argv[0]!);
    return r?.ok ? r.stdout : undefined;
  });
}

/**
 * Open vSwitch is host-wide (one database), read once per poll when installed.
 * ovs-vsctl finds the database the way it does for an administrator: the
 * db.sock in OVS_RUNDIR (default /var/run/openvswitch), so a sensor started
 * with OVS_RUNDIR set reads that instance.
 */
export async function readOvsMirrors(run: Runner, missing: Set<string>): Promise<MirrorConfig[]> {
  // --timeout: a database that accepts but never answers must not hold the poll.
  const list = (table: string, columns?: string): string[] => ['ovs-vsctl', '--timeout=4', '--format=json', ...(columns ? [`--columns=${columns}`] : []), 'list', table];
  const rows = (out: string | undefined): Record<string, unknown>[] => (out ? parseOvsTable(parseJson(out)) : []);
  const [mirrorTable] = await runTools(run, missing, [list('Mirror')]);
  const mirrors = rows(mirrorTable);
  if (mirrors.length === 0) return [];
  const [ports, interfaces, bridges] = await runTools(run, missing, [list('Port', '_uuid,name'), list('Interface', 'name,type,options'), list('Bridge', 'name,mirrors')]);
  return ovsMirrors(mirrors, rows(ports), rows(interfaces), rows(bridges));
}
