import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, sectionOf } from '../../src/config/config.js';
import { HOST_CONFIG } from '../../src/host/config.js';
import { allowedBy, argvText, contextOf, ETH_P_ALL, judgeCapNetRaw, judgeExec, judgePacketSocket, processEntities } from '../../src/host/judge.js';
import type { Ancestor, ProcessInfo } from '../../src/host/process-info.js';
import { classifyExec } from '../../src/host/tools.js';

// Severity from context: the same capture is low from an admin's terminal and
// critical from a package's install script.

const SELF = -1; // no ancestor is the sensor itself in these tables

function proc(argv: string[], ancestors: [string, ...string[]][], opts: { tty?: number; env?: Record<string, string>; uid?: number; user?: string } = {}): ProcessInfo {
  const chain: Ancestor[] = ancestors.map(([name, ...rest], i) => ({ pid: 1000 - i, name, argv: [name, ...rest] }));
  return {
    pid: 4242,
    ppid: chain[0]?.pid ?? 1,
    uid: opts.uid ?? 0,
    user: opts.user ?? 'root',
    exe: `/usr/bin/${argv[0]}`,
    argv,
    capEff: 0n,
    ttyNr: opts.tty ?? 0,
    ancestors: chain,
    env: new Map(Object.entries(opts.env ?? {})),
    partial: false,
  };
}

function judge(p: ProcessInfo): { severity: string; reasons: string[] } {
  const m = classifyExec({ exe: p.exe, argv: p.argv });
  assert.ok(m, `${p.argv.join(' ')} is a tool`);
  return judgeExec(m, contextOf(p, SELF));
}

const TTY = 34816; // /dev/pts/0

test('interactive tcpdump from a shell on a terminal is low; writing a file or -i any makes it medium, never more', () => {
  assert.equal(judge(proc(['tcpdump', '-i', 'eth0'], [['bash'], ['sshd']], { tty: TTY })).severity, 'low');
  assert.equal(judge(proc(['tcpdump', '-i', 'eth0', '-w', 'x.pcap'], [['bash'], ['sshd']], { tty: TTY })).severity, 'medium');
  assert.equal(judge(proc(['tcpdump', '-i', 'any', '-w', 'x.pcap'], [['sudo'], ['bash']], { tty: TTY })).severity, 'medium', 'sudo is a wrapper: the shell is still the parent');
});

test('a shell without a terminal is not interactive', () => {
  const j = judge(proc(['tcpdump', '-i', 'eth0'], [['sh'], ['cron']]));
  assert.equal(j.severity, 'medium');
  assert.match(j.reasons[0]!, /not started from an interactive shell \(parent sh/);
});

test('non-interactive captures rise with -i any, a CI job, a build tool, an install script', () => {
  assert.equal(judge(proc(['tcpdump', '-i', 'any'], [['systemd']])).severity, 'high');
  const ci = judge(proc(['tcpdump', '-i', 'lo'], [['sh'], ['runner']], { env: { GITHUB_ACTIONS: 'true' } }));
  assert.equal(ci.severity, 'high');
  assert.ok(ci.reasons.some((r) => /CI job \(GITHUB_ACTIONS/.test(r)));
  assert.equal(judge(proc(['tcpdump', '-i', 'lo'], [['sh'], ['runner']], { env: { CI: 'false' } })).severity, 'medium', 'CI=false is not a CI job');
  const make = judge(proc(['tcpdump', '-i', 'lo'], [['sh'], ['make', 'test']]));
  assert.equal(make.severity, 'high');
  assert.ok(make.reasons.some((r) => /child of make/.test(r)));
  const gradle = judge(proc(['tcpdump', '-i', 'lo'], [['sh'], ['java', '-cp', 'gradle-launcher.jar', 'org.gradle.launcher.GradleMain']]));
  assert.equal(gradle.severity, 'high');
  const postinstall = judge(proc(['tcpdump', '-i', 'any', '-w', '/tmp/.c'], [['sh'], ['node'], ['npm', 'install']], { env: { npm_lifecycle_event: 'postinstall', npm_package_name: 'evil-pkg' } }));
  assert.equal(postinstall.severity, 'critical');
  assert.ok(postinstall.reasons.some((r) => /npm postinstall script of evil-pkg/.test(r)));
  assert.equal(judge(proc(['tcpdump', '-i', 'lo'], [['sh'], ['python3', '-m', 'pip', 'install', '.']])).severity, 'critical');
  assert.equal(judge(proc(['tcpdump', '-i', 'lo'], [['sh']], { env: { DPKG_MAINTSCRIPT_PACKAGE: 'foo', DPKG_MAINTSCRIPT_NAME: 'postinst' } })).severity, 'critical');
});

test('any adversary-in-the-middle tool is worse than a sniffer', () => {
  assert.equal(judge(proc(['arpspoof', '-i', 'eth0', '-t', '10.0.0.5', '10.0.0.1'], [['bash']], { tty: TTY })).severity, 'medium');
  assert.equal(judge(proc(['arpspoof', '-i', 'eth0', '-t', '10.0.0.5', '10.0.0.1'], [['systemd']])).severity, 'high');
  assert.equal(judge(proc(['ettercap', '-T', '-M', 'arp', '//', '//'], [['sh'], ['npm', 'test']], { env: { CI: 'true' } })).severity, 'critical');
});

test('packet sockets: daemons are info, ETH_P_ALL on all interfaces is worse than one ethertype', () => {
  const ctx = contextOf(proc(['x'], [['systemd']]), SELF);
  assert.equal(judgePacketSocket({ proto: 0x0800, ifindex: 2 }, true, undefined, ctx).severity, 'info');
  assert.equal(judgePacketSocket({ proto: 0x0806, ifindex: 2 }, false, undefined, ctx).severity, 'low');
  assert.equal(judgePacketSocket({ proto: ETH_P_ALL, ifindex: 2 }, false, undefined, ctx).severity, 'medium');
  assert.equal(judgePacketSocket({ proto: ETH_P_ALL, ifindex: 0 }, false, undefined, ctx).severity, 'high');
});

test('CAP_NET_RAW: low alone, medium combined with capture', () => {
  const ctx = contextOf(proc(['x'], [['systemd']]), SELF);
  assert.equal(judgeCapNetRaw(undefined, ctx).severity, 'low');
  assert.equal(judgeCapNetRaw('holds a packet socket', ctx).severity, 'medium');
});

test('host.allow: every given field must match; exe globs, user by name or uid, parent skips wrappers, host', () => {
  const cfg = sectionOf(
    parseConfig(
      `host:\n  allow:\n    - { exe: /usr/bin/tcp*, user: netops }\n    - { exe: /usr/bin/suricata, parent: systemd }\n    - { user: 1001, host: "ci-*" }\n  mirror_collectors: [198.18.0.9]\n`,
      'cfg.yml',
      [HOST_CONFIG],
    ),
    HOST_CONFIG,
  );
  assert.equal(cfg.mirrorCollectors.size, 1);
  const netops = proc(['tcpdump', '-i', 'eth0'], [['bash']], { uid: 1500, user: 'netops' });
  assert.equal(allowedBy(cfg.allow, netops, contextOf(netops, SELF), 'web1')?.text, 'exe=/usr/bin/tcp* user=netops');
  const other = proc(['tcpdump', '-i', 'eth0'], [['bash']], { uid: 1501, user: 'eve' });
  assert.equal(allowedBy(cfg.allow, other, contextOf(other, SELF), 'web1'), undefined);
  const ids = { ...proc(['suricata', '-i', 'eth0'], [['sudo'], ['systemd']]), exe: '/usr/bin/suricata' };
  assert.ok(allowedBy(cfg.allow, ids, contextOf(ids, SELF), 'web1'));
  const byUid = proc(['tcpdump'], [['sh']], { uid: 1001, user: 'ci' });
  assert.ok(allowedBy(cfg.allow, byUid, contextOf(byUid, SELF), 'ci-runner-3'));
  assert.equal(allowedBy(cfg.allow, byUid, contextOf(byUid, SELF), 'web1'), undefined);
  assert.throws(() => parseConfig('host:\n  allow:\n    - {}\n', 'c.yml', [HOST_CONFIG]), /c\.yml: host\.allow\[0\]: give at least one of/);
  assert.throws(() => parseConfig('host:\n  alow: []\n', 'c.yml', [HOST_CONFIG]), /unknown key 'alow'/);
  assert.throws(() => parseConfig('host:\n  mirror_collectors: [nope]\n', 'c.yml', [HOST_CONFIG]), /not an IPv4 address/);
});

test('entities: pid with argv (quoted, capped), executable, user, parent chain, container', () => {
  const p = { ...proc(['tcpdump', '-i', 'eth0', 'port 80', 'x'.repeat(1000)], [['sh'], ['node']]), containerId: 'a'.repeat(64) };
  const ents = processEntities(p, 'sniffer');
  const main = ents.find((e) => e.role === 'sniffer')!;
  assert.equal(main.type, 'process');
  assert.ok(main.value.startsWith("4242 tcpdump -i eth0 'port 80' xxx"));
  assert.ok(main.value.length <= 256);
  assert.deepEqual(ents.find((e) => e.role === 'executable'), { type: 'file', value: '/usr/bin/tcpdump', role: 'executable' });
  assert.deepEqual(ents.find((e) => e.role === 'actor'), { type: 'user', value: 'root (uid 0)', role: 'actor' });
  assert.equal(ents.find((e) => e.role === 'parent_chain')?.value, '1000 sh < 999 node');
  assert.equal(ents.find((e) => e.role === 'container')?.value, 'a'.repeat(64));
  assert.equal(argvText(["it's", '']), "'it'\\''s' ''");
});
