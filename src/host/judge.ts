import { SEVERITIES, type Entity, type Severity } from '../findings/finding.js';
import type { HostAllowRule } from './config.js';
import type { Ancestor, ProcessInfo } from './process-info.js';
import { BUILD_TOOLS, CI_ENV_KEYS, INSTALLERS, NPM_INSTALL_EVENTS, SHELLS, WRAPPERS, type HostTechnique } from './tool-table.js';
import { baseName, type ToolMatch } from './tools.js';

// Severity from context. An administrator's interactive tcpdump is the
// everyday case; the same capture started by a build tool, a CI job or a
// package's install script, writing a file or listening on every interface,
// or any adversary-in-the-middle tool at all, is worse.

export const EXEC_RULES: Readonly<Record<HostTechnique, string>> = {
  T1040: 'host-sniffer-exec',
  T1557: 'host-aitm-tool-exec',
  'T1557.001': 'host-llmnr-poisoner-exec',
  'T1557.002': 'host-arp-spoof-tool-exec',
  'T1557.003': 'host-dhcp-spoof-tool-exec',
};

const DOING: Readonly<Record<HostTechnique, string>> = {
  T1040: 'is capturing traffic',
  T1557: 'is intercepting traffic as an adversary in the middle',
  'T1557.001': 'is poisoning LLMNR/NBT-NS/mDNS name resolution or relaying NTLM authentication',
  'T1557.002': 'is poisoning ARP caches',
  'T1557.003': 'is spoofing DHCP/DHCPv6',
};

export interface RunContext {
  /** Started from a shell on a terminal. */
  interactive: boolean;
  /** Nearest ancestor that is not a wrapper (sudo, env, ip netns exec...). */
  parent?: Ancestor;
  ci?: string;
  buildTool?: string;
  installer?: string;
}

function matchesAncestor(a: Ancestor, spec: { name: RegExp; args?: RegExp }): boolean {
  return spec.name.test(a.name) && (spec.args === undefined || spec.args.test(a.argv.slice(1).join(' ')));
}

/** `self`: the sensor's own process (the `sniffwatch run` wrapper), which is not a build tool of its children. */
export function contextOf(info: ProcessInfo, self = process.pid): RunContext {
  const parent = info.ancestors.find((a) => !WRAPPERS.has(a.name));
  const ctx: RunContext = { interactive: info.ttyNr > 0 && parent !== undefined && SHELLS.has(parent.name), parent };
  ctx.ci = CI_ENV_KEYS.find((k) => {
    const v = info.env?.get(k);
    return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
  });
  const lifecycle = info.env?.get('npm_lifecycle_event');
  if (lifecycle !== undefined && NPM_INSTALL_EVENTS.has(lifecycle)) ctx.installer = `an npm ${lifecycle} script${info.env?.get('npm_package_name') ? ` of ${info.env.get('npm_package_name')}` : ''}`;
  else if (info.env?.has('DPKG_MAINTSCRIPT_PACKAGE')) ctx.installer = `the ${info.env.get('DPKG_MAINTSCRIPT_NAME') ?? 'maintainer'} script of package ${info.env.get('DPKG_MAINTSCRIPT_PACKAGE')}`;
  else if (info.env?.has('PIP_BUILD_TRACKER')) ctx.installer = 'a pip package build';
  for (const a of info.ancestors) {
    if (a.pid === self) continue;
    if (!ctx.installer) {
      const inst = INSTALLERS.find((s) => matchesAncestor(a, s));
      if (inst) ctx.installer = `${inst.label} (${a.name}, pid ${a.pid})`;
    }
    if (!ctx.buildTool) {
      const b = BUILD_TOOLS.find((s) => matchesAncestor(a, s));
      if (b) ctx.buildTool = `${a.name} (${b.label}, pid ${a.pid})`;
    }
  }
  return ctx;
}

function severityAt(rank: number): Severity {
  return SEVERITIES[Math.max(1, Math.min(SEVERITIES.length - 1, rank))]!;
}

export interface Judgement {
  severity: Severity;
  reasons: string[];
}

/** Raises a base rank by the run's context; interactive runs with no other context stay at `interactiveCap`. */
function withContext(rank: number, ctx: RunContext, reasons: string[], interactiveCap: number, cap: number): Judgement {
  let r = rank;
  if (ctx.ci) {
    r++;
    reasons.push(`inside a CI job (${ctx.ci} is set)`);
  }
  if (ctx.installer) {
    r += 2;
    reasons.push(`during ${ctx.installer}`);
  } else if (ctx.buildTool) {
    r++;
    reasons.push(`a child of ${ctx.buildTool}`);
  }
  if (ctx.interactive && !ctx.ci && !ctx.installer && !ctx.buildTool) r = Math.min(r, interactiveCap);
  if (!ctx.installer) r = Math.min(r, cap);
  return { severity: severityAt(r), reasons };
}

function originReason(ctx: RunContext): string {
  if (ctx.interactive) return `started from an interactive ${ctx.parent?.name ?? 'shell'} on a terminal`;
  return `not started from an interactive shell${ctx.parent ? ` (parent ${ctx.parent.name}, pid ${ctx.parent.pid})` : ''}`;
}

export function judgeExec(m: ToolMatch, ctx: RunContext): Judgement {
  const reasons = [originReason(ctx)];
  const aitm = m.kind === 'aitm';
  let r = aitm ? (ctx.interactive ? 2 : 3) : ctx.interactive ? 1 : 2;
  if (m.writes !== undefined || m.allInterfaces) {
    r++;
    if (m.allInterfaces) reasons.push('captures on all interfaces');
    if (m.writes !== undefined) reasons.push(m.writes === '-' ? 'streams packets to stdout' : m.writes === 'files' ? 'writes captured flows to files' : `writes packets to ${capText(m.writes)}`);
  }
  return withContext(r, ctx, reasons, aitm ? 3 : 2, aitm ? 4 : 3);
}

export interface PacketSocketFacts {
  proto: number;
  ifindex: number;
  ifname?: string;
}

export const ETH_P_ALL = 0x0003;

export function judgePacketSocket(s: PacketSocketFacts, daemon: boolean, tool: ToolMatch | undefined, ctx: RunContext): Judgement {
  if (daemon && !tool) return { severity: 'info', reasons: ['a network daemon that uses packet sockets for its own protocol'] };
  const reasons = [originReason(ctx)];
  let r = s.proto === ETH_P_ALL ? 2 : 1;
  reasons.push(s.proto === ETH_P_ALL ? 'receives every protocol (ETH_P_ALL)' : `bound to ethertype 0x${s.proto.toString(16).padStart(4, '0')}`);
  if (s.ifindex === 0 && s.proto === ETH_P_ALL) {
    r++;
    reasons.push('on all interfaces');
  }
  return withContext(r, ctx, reasons, 2, 3);
}

export function judgeCapNetRaw(combined: string | undefined, ctx: RunContext): Judgement {
  const reasons = [originReason(ctx)];
  if (combined) reasons.push(combined);
  return withContext(combined ? 2 : 1, ctx, reasons, combined ? 2 : 1, combined ? 3 : 2);
}

export function doing(t: HostTechnique): string {
  return DOING[t];
}

/** The first allow entry that matches this process on this host. */
export function allowedBy(allow: readonly HostAllowRule[], info: ProcessInfo, ctx: RunContext, hostname: string): HostAllowRule | undefined {
  return allow.find(
    (a) =>
      (a.exe === undefined || a.exe.test(info.exe)) &&
      (a.user === undefined || a.user === info.user || a.user === String(info.uid)) &&
      (a.parent === undefined || a.parent === ctx.parent?.name) &&
      (a.host === undefined || a.host.test(hostname)),
  );
}

export const MAX_TEXT = 256;

export function capText(s: string, max = MAX_TEXT): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** argv as one line, arguments with spaces quoted, capped. */
export function argvText(argv: readonly string[]): string {
  return capText(argv.map((a) => (a === '' || /[\s'"]/.test(a) ? `'${a.replace(/'/g, "'\\''")}'` : a)).join(' '));
}

export function userText(info: ProcessInfo): string {
  if (info.uid < 0) return 'unknown user';
  return info.user ? `${info.user} (uid ${info.uid})` : `uid ${info.uid}`;
}

/** process (pid + argv), executable, user, parent chain, container. */
export function processEntities(info: ProcessInfo, role: string): Entity[] {
  const out: Entity[] = [{ type: 'process', value: capText(`${info.pid} ${argvText(info.argv)}`), role }];
  out.push({ type: 'file', value: capText(info.exe || '(unknown executable)'), role: 'executable' });
  if (info.uid >= 0) out.push({ type: 'user', value: capText(userText(info)), role: 'actor' });
  if (info.ancestors.length > 0) {
    out.push({ type: 'process', value: capText(info.ancestors.map((a) => `${a.pid} ${baseName(a.name)}`).join(' < ')), role: 'parent_chain' });
  }
  if (info.containerId) out.push({ type: 'host', value: info.containerId, role: 'container' });
  return out;
}
