// A throw-away switched LAN built from network namespaces, veth pairs and a
// Linux bridge, for end-to-end tests that run real attack tools.
//
//   upstream (198.19.0.2) ── gateway eth1 (198.19.0.1)
//   routed hosts (198.19.N.x) ── gateway ethN+1 (198.19.N.1), on request
//                            gateway eth0 (198.18.0.1) ─┐
//                            victim   eth0 (198.18.0.10) ├─ br0 (own namespace, captured)
//                            attacker eth0 (198.18.0.66) ┘
//
// Only 198.18.0.0/15 (RFC 2544 benchmarking space) is used, and the gateway
// has no default route, so nothing can leave the namespaces.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

export const NS_PREFIX = 'swlan';
export const LAN_CIDR = '198.18.0.0/24';
export const UPSTREAM_CIDR = '198.19.0.0/24';
export const BRIDGE = 'br0';

export interface HostSpec {
  name: string;
  ip: string;
  /** Locally administered, lowercase, colon form. */
  mac: string;
}

export const GATEWAY: HostSpec = { name: 'gateway', ip: '198.18.0.1', mac: '02:53:57:00:00:01' };
export const VICTIM: HostSpec = { name: 'victim', ip: '198.18.0.10', mac: '02:53:57:00:00:0a' };
export const ATTACKER: HostSpec = { name: 'attacker', ip: '198.18.0.66', mac: '02:53:57:00:00:42' };
/** The gateway's second leg, towards the upstream namespace. */
export const GATEWAY_UPSTREAM: HostSpec = { name: 'gateway', ip: '198.19.0.1', mac: '02:53:57:00:01:01' };
export const UPSTREAM: HostSpec = { name: 'upstream', ip: '198.19.0.2', mac: '02:53:57:00:01:02' };

export interface LanHost {
  name: string;
  /** Namespace name, for `ip netns exec`. */
  ns: string;
  /** Interface on the bridged LAN (for upstream: its link to the gateway). */
  ifname: string;
  ip: string;
  mac: string;
}

export interface ExecOptions {
  /** Kill the command (SIGKILL) after this long. Default 30 s. */
  timeoutMs?: number;
  /** Exit codes that count as success. Default [0]. */
  okCodes?: number[];
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Background {
  readonly label: string;
  readonly pid: number;
  /** stdout and stderr so far, interleaved (last 256 KiB). */
  output(): string;
  running(): boolean;
  readonly exited: Promise<ExitInfo>;
  /** Resolves once the output matches; rejects if the process exits first or on timeout. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
  /** Sends `signal`, waits up to graceMs for exit, then SIGKILLs the process group. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
}

export interface CaptureResult {
  file: string;
  /** From tcpdump's "N packets captured" line, when it printed one. */
  packets: number | undefined;
  stderr: string;
}

export interface Capture {
  readonly file: string;
  stop(): Promise<CaptureResult>;
}

export interface LanOptions {
  /** More hosts on the bridged LAN, each with a default route via the gateway. */
  extraHosts?: HostSpec[];
  /**
   * More hosts behind the gateway like upstream, each on a link of its own: the host at its
   * address in a /24 of 198.19.0.0/16 other than upstream's, the gateway at .1 of that /24.
   */
  routedHosts?: HostSpec[];
  /** Keep IPv6 enabled (it is off by default so captures hold no ND/MLD noise). */
  ipv6?: boolean;
}

const TOOL_PACKAGES: Record<string, string> = {
  ip: 'iproute2',
  tcpdump: 'tcpdump',
  ping: 'iputils-ping',
  sysctl: 'procps',
  arping: 'arping',
  arpspoof: 'dsniff',
  ettercap: 'ettercap-text-only',
  radvd: 'radvd',
  'atk6-kill_router6': 'thc-ipv6',
  snmpd: 'snmpd',
  snmpget: 'snmp',
  snmpwalk: 'snmp',
  openssl: 'openssl',
  dnsmasq: 'dnsmasq',
  dhclient: 'isc-dhcp-client',
  yersinia: 'yersinia',
  tc: 'iproute2',
  dig: 'bind9-dnsutils',
  dnsspoof: 'dsniff',
  vsftpd: 'vsftpd',
  curl: 'curl',
  telnetd: 'inetutils-telnetd',
  python3: 'python3',
  nginx: 'nginx-light',
  dovecot: 'dovecot-core dovecot-pop3d dovecot-imapd dovecot-submissiond',
  slapd: 'slapd',
  ldapwhoami: 'ldap-utils',
  useradd: 'passwd',
  ss: 'iproute2',
  bettercap: 'bettercap',
  mount: 'mount',
  smbd: 'samba',
  smbpasswd: 'samba-common-bin',
  smbclient: 'smbclient',
  squid: 'squid',
  krb5kdc: 'krb5-kdc',
  kdb5_util: 'krb5-kdc',
  'kadmin.local': 'krb5-admin-server',
  kinit: 'krb5-user',
  tshark: 'tshark',
  lighttpd: 'lighttpd',
  psql: 'postgresql-client',
  runuser: 'util-linux',
  danted: 'dante-server',
  bird: 'bird2',
  mariadbd: 'mariadb-server',
  'mariadb-install-db': 'mariadb-server',
  mariadb: 'mariadb-client',
};

/** Absolute path of an executable, looking in PATH and the sbin directories. */
export function findTool(name: string): string | undefined {
  for (const dir of (childEnv().PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin'];

/** Environment for child processes: PATH also holds the sbin directories where ip, arpspoof and arping live. */
function childEnv(): NodeJS.ProcessEnv {
  const have = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return { ...process.env, PATH: [...have, ...SBIN_DIRS.filter((d) => !have.includes(d))].join(delimiter) };
}

let probeResult: Promise<string | undefined> | undefined;

/** The first of `tools` not on the PATH, as a one-line reason naming its Debian package; undefined when all are there. */
export function missingTool(tools: readonly string[]): string | undefined {
  const tool = tools.find((t) => !findTool(t));
  if (tool === undefined) return undefined;
  const pkg = TOOL_PACKAGES[tool];
  return `tool missing: ${tool}${pkg ? ` (Debian package ${pkg})` : ''}`;
}

/**
 * Why this process cannot build a netns LAN with the given extra tools, or
 * undefined when it can. The reason is one line, fit for t.skip().
 */
export async function canRunNetns(tools: string[] = []): Promise<string | undefined> {
  if (process.platform !== 'linux') return `needs Linux network namespaces: platform is ${process.platform}`;
  const uid = process.getuid?.();
  if (uid !== 0) return `needs root: running as uid ${uid ?? 'unknown'}`;
  const missing = missingTool(['ip', 'tcpdump', 'ping', 'sysctl', ...tools]);
  if (missing) return missing;
  probeResult ??= probeNetns();
  return probeResult;
}

async function probeNetns(): Promise<string | undefined> {
  const ns = `${NS_PREFIX}-${process.pid}-probe`;
  const steps: string[][] = [
    ['netns', 'add', ns],
    ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge'],
    ['-n', ns, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb'],
  ];
  try {
    for (const args of steps) {
      const r = await run('ip', args, { timeoutMs: 10_000, okCodes: [] });
      if (r.code !== 0) {
        const why = firstLine(r.stderr) || `exit ${r.code}`;
        return `needs root/CAP_NET_ADMIN with bridge+veth support: 'ip ${args.join(' ')}' failed: ${why}`;
      }
    }
    return undefined;
  } finally {
    await run('ip', ['netns', 'del', ns], { timeoutMs: 10_000, okCodes: [] });
  }
}

/** Runs a command; never rejects on exit status, only returns it. */
function run(file: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 30_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', env: childEnv() },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ code: 0, signal: null, timedOut: false, stdout, stderr });
          return;
        }
        const e = err as NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals; killed?: boolean };
        const code = typeof e.code === 'number' ? e.code : null;
        const extra = typeof e.code === 'string' ? `${e.code}: ${e.message}\n` : '';
        resolve({ code, signal: e.signal ?? null, timedOut: e.killed === true, stdout, stderr: extra + stderr });
      },
    );
  });
}

async function runChecked(file: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await run(file, args, opts);
  const ok = opts.okCodes ?? [0];
  if (r.code === null || !ok.includes(r.code)) {
    const how = r.timedOut ? `timed out after ${opts.timeoutMs ?? 30_000} ms` : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
    throw new Error(`${file} ${args.join(' ')}: ${how}\n${tail(r.stderr || r.stdout, 2000)}`);
  }
  return r;
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}

function tail(s: string, n: number): string {
  return s.length > n ? `…${s.slice(-n)}` : s;
}

// Everything live in this process, so exit and signal hooks can clean up
// even when a test throws or the runner kills us.
const liveLans = new Set<Lan>();
const liveProcs = new Set<ChildProcess>();
let hooksInstalled = false;
let seq = 0;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanupAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanupAllSync();
      process.kill(process.pid, sig);
    });
  }
}

function cleanupAllSync(): void {
  for (const child of liveProcs) killGroup(child, 'SIGKILL');
  liveProcs.clear();
  for (const lan of liveLans) for (const ns of lan.namespaces()) deleteNsSync(ns);
  liveLans.clear();
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      process.kill(child.pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Kills whatever still runs inside the namespace (a namespace lives on while a process holds it), then deletes it. */
function deleteNsSync(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'], env: childEnv() });
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  } catch {
    // namespace may not exist
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { timeout: 5000, stdio: 'ignore', env: childEnv() });
  } catch {
    // already deleted
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes namespaces of our prefix left behind by processes that no longer exist. */
export function sweepStaleNamespaces(): string[] {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000, env: childEnv() });
  } catch {
    return [];
  }
  const removed: string[] = [];
  const re = new RegExp(`^(${NS_PREFIX}-(\\d+)-\\S+)`);
  for (const line of list.split('\n')) {
    const m = re.exec(line.trim());
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || pidAlive(pid)) continue;
    deleteNsSync(m[1]!);
    removed.push(m[1]!);
  }
  return removed;
}

function checkHostSpec(h: HostSpec): void {
  if (!/^[a-z][a-z0-9]{0,11}$/.test(h.name)) throw new Error(`host name ${h.name}: use 1-12 lowercase letters/digits`);
  const m = /^198\.18\.0\.(\d{1,3})$/.exec(h.ip);
  if (!m || Number(m[1]) < 2 || Number(m[1]) > 254) throw new Error(`host ${h.name}: ip ${h.ip} is not a host address in ${LAN_CIDR}`);
  if (!/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/.test(h.mac)) throw new Error(`host ${h.name}: mac ${h.mac} must be locally administered unicast, lowercase`);
}

/** A routed host: its own /24 of 198.19.0.0/16 (not upstream's), the host not at .1, one host per /24. */
function checkRoutedHostSpec(h: HostSpec): void {
  checkHostSpec({ ...h, ip: '198.18.0.2' });
  const m = /^198\.19\.(\d{1,3})\.(\d{1,3})$/.exec(h.ip);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 255 || Number(m[2]) < 2 || Number(m[2]) > 254) throw new Error(`routed host ${h.name}: ip ${h.ip} is not a host address in 198.19.1.0-198.19.255.255`);
}

/** The gateway's address on a routed host's link: .1 of the host's /24. */
export function routedGatewayIp(h: HostSpec): string {
  return h.ip.replace(/\.\d+$/, '.1');
}

export class Lan {
  readonly id: string;
  readonly bridgeNs: string;
  readonly bridge = BRIDGE;
  readonly hosts: Record<string, LanHost> = {};
  private readonly procs = new Set<ChildProcess>();
  private readonly nsList: string[] = [];
  private destroyed = false;

  private constructor(id: string) {
    this.id = id;
    this.bridgeNs = `${id}-br`;
  }

  /** Builds the LAN; on any failure everything created so far is removed. */
  static async create(opts: LanOptions = {}): Promise<Lan> {
    installHooks();
    sweepStaleNamespaces();
    const extra = opts.extraHosts ?? [];
    const routed = opts.routedHosts ?? [];
    const lanHosts = [GATEWAY, VICTIM, ATTACKER, ...extra];
    for (const h of extra) checkHostSpec(h);
    for (const h of routed) checkRoutedHostSpec(h);
    if (new Set(routed.map(routedGatewayIp)).size !== routed.length) throw new Error('routed hosts need a /24 each');
    const names = new Set<string>();
    const ips = new Set<string>();
    const macs = new Set<string>();
    for (const h of [...lanHosts, UPSTREAM, ...routed]) {
      if (names.has(h.name) || ips.has(h.ip) || macs.has(h.mac)) throw new Error(`duplicate host name, ip or mac: ${h.name}`);
      names.add(h.name);
      ips.add(h.ip);
      macs.add(h.mac);
    }

    const lan = new Lan(`${NS_PREFIX}-${process.pid}-${++seq}`);
    liveLans.add(lan);
    try {
      await lan.build(lanHosts, routed, opts.ipv6 === true);
    } catch (e) {
      await lan.destroy();
      throw e;
    }
    return lan;
  }

  /** All namespace names of this LAN, bridge first. */
  namespaces(): string[] {
    return [...this.nsList];
  }

  host(name: string): LanHost {
    const h = this.hosts[name];
    if (!h) throw new Error(`no host ${name} in LAN ${this.id}`);
    return h;
  }

  private nsOf(node: string): string {
    return node === 'bridge' ? this.bridgeNs : this.host(node).ns;
  }

  private async addNs(ns: string, ipv6: boolean): Promise<void> {
    await runChecked('ip', ['netns', 'add', ns], { timeoutMs: 10_000 });
    this.nsList.push(ns);
    const v6 = ipv6 ? '0' : '1';
    await runChecked('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.all.disable_ipv6=${v6}`, `net.ipv6.conf.default.disable_ipv6=${v6}`], { timeoutMs: 10_000 });
    await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  private async build(lanHosts: HostSpec[], routedHosts: HostSpec[], ipv6: boolean): Promise<void> {
    await this.addNs(this.bridgeNs, ipv6);
    // STP off: ports forward at once instead of after the listening/learning delay.
    await ip(['-n', this.bridgeNs, 'link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0']);
    await ip(['-n', this.bridgeNs, 'link', 'set', BRIDGE, 'up']);

    for (const h of lanHosts) {
      const ns = `${this.id}-${h.name}`;
      await this.addNs(ns, ipv6);
      const port = `p-${h.name}`;
      await ip(['-n', this.bridgeNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await ip(['-n', this.bridgeNs, 'link', 'set', port, 'master', BRIDGE, 'up']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'address', h.mac]);
      await ip(['-n', ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      this.hosts[h.name] = { name: h.name, ns, ifname: 'eth0', ip: h.ip, mac: h.mac };
    }

    const gw = this.host('gateway');
    const upNs = `${this.id}-${UPSTREAM.name}`;
    await this.addNs(upNs, ipv6);
    await ip(['-n', gw.ns, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', upNs]);
    await ip(['-n', gw.ns, 'link', 'set', 'eth1', 'address', GATEWAY_UPSTREAM.mac]);
    await ip(['-n', gw.ns, 'addr', 'add', `${GATEWAY_UPSTREAM.ip}/24`, 'dev', 'eth1']);
    await ip(['-n', gw.ns, 'link', 'set', 'eth1', 'up']);
    await ip(['-n', upNs, 'link', 'set', 'eth0', 'address', UPSTREAM.mac]);
    await ip(['-n', upNs, 'addr', 'add', `${UPSTREAM.ip}/24`, 'dev', 'eth0']);
    await ip(['-n', upNs, 'link', 'set', 'eth0', 'up']);
    await ip(['-n', upNs, 'route', 'add', LAN_CIDR, 'via', GATEWAY_UPSTREAM.ip]);
    this.hosts[UPSTREAM.name] = { name: UPSTREAM.name, ns: upNs, ifname: 'eth0', ip: UPSTREAM.ip, mac: UPSTREAM.mac };
    for (const [i, h] of routedHosts.entries()) {
      const ns = `${this.id}-${h.name}`;
      const gwIf = `eth${i + 2}`;
      await this.addNs(ns, ipv6);
      await ip(['-n', gw.ns, 'link', 'add', gwIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await ip(['-n', gw.ns, 'addr', 'add', `${routedGatewayIp(h)}/24`, 'dev', gwIf]);
      await ip(['-n', gw.ns, 'link', 'set', gwIf, 'up']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'address', h.mac]);
      await ip(['-n', ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      await ip(['-n', ns, 'route', 'add', LAN_CIDR, 'via', routedGatewayIp(h)]);
      this.hosts[h.name] = { name: h.name, ns, ifname: 'eth0', ip: h.ip, mac: h.mac };
      await this.waitLinkUp(gw.ns, gwIf);
    }
    await this.sysctl('gateway', 'net.ipv4.ip_forward', '1');

    for (const h of lanHosts) {
      if (h.name !== 'gateway') await ip(['-n', this.host(h.name).ns, 'route', 'add', 'default', 'via', GATEWAY.ip]);
    }
    // Wait for carrier instead of pinging, so the capture sees the first ARP exchanges.
    for (const h of Object.values(this.hosts)) await this.waitLinkUp(h.ns, h.ifname);
    await this.waitLinkUp(gw.ns, 'eth1');
  }

  private async waitLinkUp(ns: string, ifname: string): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const r = await runChecked('ip', ['-n', ns, '-o', 'link', 'show', ifname], { timeoutMs: 5000 });
      if (/\bLOWER_UP\b/.test(r.stdout) && /state UP\b/.test(r.stdout)) return;
      await sleep(100);
    }
    throw new Error(`${ns}/${ifname} did not come up`);
  }

  async sysctl(node: string, key: string, value: string): Promise<void> {
    await this.exec(node, ['sysctl', '-q', '-w', `${key}=${value}`], { timeoutMs: 10_000 });
  }

  /** Runs argv inside a host's namespace (or 'bridge'); rejects on timeout or an exit code not in okCodes. */
  exec(node: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return runChecked('ip', ['netns', 'exec', this.nsOf(node), ...argv], opts);
  }

  /** Starts argv in the background inside a host's namespace (or 'bridge'). */
  spawn(node: string, argv: string[], label = argv[0] ?? 'process'): Background {
    if (this.destroyed) throw new Error(`LAN ${this.id} is destroyed`);
    // Own process group, so a stop can take any children along; stdin closed
    // because interactive tools (ettercap -T) must not read the test's stdin.
    const child = spawn('ip', ['netns', 'exec', this.nsOf(node), ...argv], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    this.procs.add(child);
    liveProcs.add(child);
    const cap = 256 * 1024;
    let out = '';
    const waiters = new Set<() => void>();
    const onData = (chunk: Buffer): void => {
      out += chunk.toString('utf8');
      if (out.length > cap) out = out.slice(-cap);
      for (const w of waiters) w();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    let done = false;
    const exited = new Promise<ExitInfo>((resolve) => {
      child.on('error', (err) => {
        out += `\nspawn error: ${err.message}\n`;
      });
      child.on('close', (code, signal) => {
        done = true;
        this.procs.delete(child);
        liveProcs.delete(child);
        for (const w of waiters) w();
        resolve({ code, signal });
      });
    });
    const pid = child.pid ?? -1;

    const bg: Background = {
      label,
      pid,
      output: () => out,
      running: () => !done,
      exited,
      waitFor: (pattern, timeoutMs) =>
        new Promise<void>((resolve, reject) => {
          const check = (): void => {
            if (pattern.test(out)) finish();
            else if (done) finish(new Error(`${label} exited before printing ${pattern}:\n${tail(out, 2000)}`));
          };
          const timer = setTimeout(() => finish(new Error(`${label}: no ${pattern} within ${timeoutMs} ms:\n${tail(out, 2000)}`)), timeoutMs);
          const finish = (err?: Error): void => {
            clearTimeout(timer);
            waiters.delete(check);
            if (err) reject(err);
            else resolve();
          };
          waiters.add(check);
          check();
        }),
      stop: async (signal = 'SIGTERM', graceMs = 10_000) => {
        if (done) return exited;
        try {
          process.kill(pid, signal);
        } catch {
          // exited meanwhile
        }
        const ac = new AbortController();
        const timer = sleep(graceMs, 'timeout' as const, { signal: ac.signal }).catch(() => 'aborted' as const);
        const first = await Promise.race([exited, timer]);
        ac.abort();
        if (first === 'timeout' || first === 'aborted') {
          killGroup(child, 'SIGKILL');
          return exited;
        }
        return first;
      },
    };
    return bg;
  }

  /**
   * Starts tcpdump on the bridge (which sees every frame, since capturing
   * makes it promiscuous) and resolves once it is listening.
   */
  async startCapture(file: string): Promise<Capture> {
    // -Z root: do not drop to the tcpdump user, who may not be able to write into a 0700 temp dir.
    // --immediate-mode: hand each packet over at once, so a stop right after a short exchange loses nothing.
    const td = this.spawn('bridge', ['tcpdump', '-Z', 'root', '-i', BRIDGE, '--immediate-mode', '-U', '-n', '-w', file], 'tcpdump');
    await td.waitFor(/listening on/, 15_000);
    return {
      file,
      stop: async () => {
        // SIGINT makes tcpdump flush and close the file before exiting.
        const info = await td.stop('SIGINT', 10_000);
        const stderr = td.output();
        if (info.code !== 0) throw new Error(`tcpdump exited with ${info.code ?? info.signal}:\n${tail(stderr, 2000)}`);
        const m = /(\d+) packets? captured/.exec(stderr);
        return { file, packets: m ? Number(m[1]) : undefined, stderr };
      },
    };
  }

  /** Kills leftover processes and deletes every namespace. Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const child of this.procs) killGroup(child, 'SIGKILL');
    this.procs.clear();
    for (const ns of [...this.nsList].reverse()) {
      const pids = await run('ip', ['netns', 'pids', ns], { timeoutMs: 5000, okCodes: [] });
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await run('ip', ['netns', 'del', ns], { timeoutMs: 10_000 });
    }
    liveLans.delete(this);
  }
}

function ip(args: string[]): Promise<ExecResult> {
  return runChecked('ip', args, { timeoutMs: 10_000 });
}

export function createLan(opts: LanOptions = {}): Promise<Lan> {
  return Lan.create(opts);
}

let arpingFlavor: 'iputils' | 'habets' | undefined;

/**
 * argv for a gratuitous ARP announcement of `ip` from `ifname`, and the exit
 * codes that mean it was sent. Debian ships two arpings with different
 * flags; Thomas Habets' one exits 1 because nobody answers an announcement.
 */
export function gratuitousArpArgv(ip: string, ifname = 'eth0', count = 3): { argv: string[]; okCodes: number[] } {
  if (!arpingFlavor) {
    let text = '';
    try {
      text = execFileSync('arping', ['-V'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      text = `${err.stdout ?? ''}${err.stderr ?? ''}`;
    }
    arpingFlavor = /iputils/i.test(text) ? 'iputils' : 'habets';
  }
  if (arpingFlavor === 'iputils') return { argv: ['arping', '-U', '-c', String(count), '-I', ifname, ip], okCodes: [0] };
  return { argv: ['arping', '-U', '-c', String(count), '-i', ifname, '-S', ip, ip], okCodes: [0, 1] };
}

const interpreters = new Map<string, string | null>();

/**
 * A python3 that can import `module`, Debian's first: python3-* packages
 * install for /usr/bin/python3, not for other interpreters (pyenv) that may
 * come first on the PATH. Undefined when there is none.
 */
export function pythonWith(module: string): string | undefined {
  if (!interpreters.has(module)) {
    interpreters.set(module, null);
    for (const python of ['/usr/bin/python3', 'python3']) {
      try {
        execFileSync(python, ['-c', `import ${module}`], { timeout: 30_000, stdio: 'ignore', env: childEnv() });
        interpreters.set(module, python);
        break;
      } catch {
        // not this one
      }
    }
  }
  return interpreters.get(module) ?? undefined;
}

/** A python3 that can import scapy. */
export function scapyPython(): string | undefined {
  return pythonWith('scapy.all');
}

/**
 * dnsmasq on the gateway as the LAN's DNS server, answering only `records`
 * (name and its subdomains -> IPv4 address) and nothing upstream, logging the
 * queries; no config or hosts file, its pid file in `dir`. Resolves once it serves.
 */
export async function startDnsmasqDns(lan: Lan, dir: string, records: readonly [name: string, address: string][]): Promise<Background> {
  const dnsmasq = lan.spawn(
    'gateway',
    [
      'dnsmasq',
      '--no-daemon',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      `--listen-address=${GATEWAY.ip}`,
      '--except-interface=lo',
      ...records.map(([name, address]) => `--address=/${name}/${address}`),
      `--pid-file=${join(dir, `dnsmasq-${lan.id}.pid`)}`,
      '--user=root',
      '--log-queries',
    ],
    'dnsmasq',
  );
  await dnsmasq.waitFor(/started, version/, 10_000);
  return dnsmasq;
}

/** dnsmasq prints this once its DHCP socket is up. */
export const DNSMASQ_DHCP_READY = /DHCP, IP range/;

/** dnsmasq for DHCP only (--port=0: no DNS), in the foreground, logging to stderr, without a config file, on eth0. */
const DNSMASQ_DHCP_BASE = ['dnsmasq', '--keep-in-foreground', '--log-facility=-', '--log-dhcp', '--conf-file=/dev/null', '--port=0', '--user=root', '--interface=eth0'];

/**
 * argv for dnsmasq as a DHCP server only (--port=0: no DNS) on eth0, in the
 * foreground, handing out `router` and `dns` from `pool`; no config file,
 * leases and pid file in `dir`, named after `host`.
 */
export function dnsmasqDhcpArgv(host: string, dir: string, pool: [string, string], router: string, dns: string): string[] {
  return [
    ...DNSMASQ_DHCP_BASE,
    '--bind-interfaces',
    '--no-ping',
    `--dhcp-range=${pool[0]},${pool[1]},255.255.255.0,5m`,
    `--dhcp-option=option:router,${router}`,
    `--dhcp-option=option:dns-server,${dns}`,
    `--dhcp-leasefile=${join(dir, `${host}.leases`)}`,
    `--pid-file=${join(dir, `${host}-dnsmasq.pid`)}`,
  ];
}

/**
 * argv for dnsmasq as a DHCP relay agent only, in the foreground: requests
 * arriving on eth0 are relayed to each of `servers` with `local` (an address of
 * eth0) as giaddr, and their answers sent on to the clients.
 */
export function dnsmasqRelayArgv(host: string, dir: string, local: string, servers: readonly string[]): string[] {
  return [
    ...DNSMASQ_DHCP_BASE,
    ...servers.map((s) => `--dhcp-relay=${local},${s}`),
    `--pid-file=${join(dir, `${host}-dnsmasq-relay.pid`)}`,
  ];
}

/**
 * argv for one ISC dhclient lease acquisition on eth0 in the foreground
 * (prints "bound to <ip>"); its script is /bin/true, so the namespace is never
 * reconfigured. Files go to `dir`; remove `<dir>/dhclient.leases` first for a
 * fresh DISCOVER.
 */
export function dhclientOnceArgv(dir: string): string[] {
  return dhclientArgv(dir, ['-d', '-1']);
}

function dhclientArgv(dir: string, mode: string[]): string[] {
  const conf = join(dir, 'dhclient.conf');
  writeFileSync(conf, 'timeout 20;\nretry 1;\nrequest subnet-mask, routers, domain-name-servers;\n');
  return ['dhclient', '-4', '-v', ...mode, '-sf', '/bin/true', '-cf', conf, '-lf', join(dir, 'dhclient.leases'), '-pf', join(dir, 'dhclient.pid'), 'eth0'];
}

/**
 * One lease acquisition by the victim's dhclient (dhclientOnceArgv), stopped
 * once bound; resolves with the address bound. `fresh` forgets the previous
 * lease first, so the client starts with a DISCOVER instead of asking for the
 * remembered address (INIT-REBOOT).
 */
export async function acquireDhcpLease(lan: Lan, dir: string, fresh = true): Promise<string> {
  if (fresh) rmSync(join(dir, 'dhclient.leases'), { force: true });
  const client = lan.spawn('victim', dhclientOnceArgv(dir), 'dhclient');
  try {
    await client.waitFor(/bound to [\d.]+/, 30_000);
    return /bound to ([\d.]+)/.exec(client.output())![1]!;
  } finally {
    await client.stop('SIGTERM', 5000);
  }
}

/** DHCPRELEASE of the lease acquireDhcpLease(lan, dir) left in `dir`. */
export async function releaseDhcpLease(lan: Lan, dir: string): Promise<void> {
  await lan.exec('victim', dhclientArgv(dir, ['-r']), { timeoutMs: 20_000 });
}

/**
 * Waits until `ifname` in a host's namespace has a usable (no longer
 * tentative) IPv6 link-local address and returns it; tools such as radvd and
 * DHCPv6 servers send from it. Needs a LAN created with `ipv6: true`.
 */
export async function waitLinkLocal(lan: Lan, node: string, ifname = 'eth0', timeoutMs = 10_000): Promise<string> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(200)) {
    const r = await lan.exec(node, ['ip', '-6', '-o', 'addr', 'show', 'dev', ifname, 'scope', 'link'], { timeoutMs: 5000 });
    const m = /inet6 (fe80::[0-9a-f:]+)\/64 scope link(?! tentative)(?!.*(tentative|dadfailed))/.exec(r.stdout);
    if (m) return m[1]!;
  }
  throw new Error(`${node}/${ifname}: no usable IPv6 link-local address within ${timeoutMs} ms (was the LAN created with ipv6: true?)`);
}
