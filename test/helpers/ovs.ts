// A private Open vSwitch for end-to-end tests: its own database, ovsdb-server
// and ovs-vswitchd inside one namespace of a test LAN, every file (database,
// sockets, pid files, logs) in a directory of the test, the userspace
// datapath (datapath_type=netdev, no openvswitch kernel module needed). Never
// touches a system OVS: no systemd, nothing in /var/run/openvswitch.

import type { TestContext } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LAN_CIDR, missingTool, sleep, type Background, type HostSpec, type Lan } from './netns-lan.js';

export const OVS_TOOLS = ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl'] as const;
const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

/** Skips the test, naming the tool and its package, when Open vSwitch is not installed. */
export function skipUnlessOvs(t: TestContext): boolean {
  const why = ovsMissing();
  if (!why) return true;
  t.skip(why);
  return false;
}

/** Why this private Open vSwitch cannot run (tool or schema missing, with the package), or undefined. */
export function ovsMissing(extraTools: readonly string[] = []): string | undefined {
  let why = missingTool([...OVS_TOOLS, ...extraTools]);
  if (!why && !existsSync(SCHEMA)) why = `Open vSwitch schema missing: ${SCHEMA}`;
  return why && `${why} (Debian package openvswitch-switch)`;
}

export interface Ovs {
  /** OVS_RUNDIR of this instance: db.sock is in it. */
  readonly rundir: string;
  /** ovs-vsctl against this instance; waits until ovs-vswitchd applied the change. */
  vsctl(args: readonly string[]): Promise<string>;
  /** ovs-appctl against this instance's ovs-vswitchd. */
  appctl(args: readonly string[]): Promise<string>;
  /** Stops ovs-vswitchd, then ovsdb-server (SIGTERM, SIGKILL after a grace period). Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts ovsdb-server and ovs-vswitchd in `node`'s namespace, files in `dir`; stopped when the test ends. */
export async function startOvs(t: TestContext, lan: Lan, node: string, dir: string): Promise<Ovs> {
  const db = join(dir, 'conf.db');
  const sock = join(dir, 'db.sock');
  // OVS_RUNDIR also places the per-bridge management sockets ovs-vswitchd creates.
  const env = ['env', `OVS_RUNDIR=${dir}`, `OVS_LOGDIR=${dir}`, `OVS_DBDIR=${dir}`];
  const daemon = (name: string, args: string[]): Background =>
    lan.spawn(node, [...env, name, ...args, `--pidfile=${join(dir, `${name}.pid`)}`, `--unixctl=${join(dir, `${name}.ctl`)}`, `--log-file=${join(dir, `${name}.log`)}`, '--no-chdir'], name);
  const procs: Background[] = [];
  const stop = async (): Promise<void> => {
    for (const p of procs.splice(0).reverse()) await p.stop('SIGTERM', 5000);
  };
  t.after(stop);
  const vsctl = async (args: readonly string[]): Promise<string> => (await lan.exec(node, ['ovs-vsctl', `--db=unix:${sock}`, '--timeout=20', ...args], { timeoutMs: 30_000 })).stdout;

  await lan.exec(node, ['ovsdb-tool', 'create', db, SCHEMA], { timeoutMs: 10_000 });
  const server = daemon('ovsdb-server', [db, `--remote=punix:${sock}`]);
  procs.push(server);
  for (let i = 0; !existsSync(sock); i++) {
    if (!server.running() || i > 100) throw new Error(`ovsdb-server did not create ${sock}:\n${server.output()}`);
    await sleep(100);
  }
  await vsctl(['--no-wait', 'init']);
  procs.push(daemon('ovs-vswitchd', [`unix:${sock}`]));
  // Two VLAN headers parsed (QinQ). Without --no-wait this returns once ovs-vswitchd has applied it, so it is up.
  await vsctl(['set', 'Open_vSwitch', '.', 'other_config:vlan-limit=2']);
  const appctl = async (args: readonly string[]): Promise<string> =>
    (await lan.exec(node, ['ovs-appctl', `--target=${join(dir, 'ovs-vswitchd.ctl')}`, ...args], { timeoutMs: 30_000 })).stdout;
  return { rundir: dir, vsctl, appctl, stop };
}

/**
 * Puts `host`'s eth0 on a new netdev bridge and moves its address (and MAC)
 * to the bridge's internal port, with the default route via `gateway`: the
 * "br-phy" setup OVS userspace tunnel ports need for their underlay, since
 * native tunnelling routes and resolves neighbours only on OVS bridges.
 */
export async function ovsUnderlay(lan: Lan, ovs: Ovs, host: HostSpec, bridge: string, gateway: string): Promise<void> {
  const ipIn = (args: string[]): Promise<unknown> => lan.exec(host.name, ['ip', ...args], { timeoutMs: 10_000 });
  await ovs.vsctl(['add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev', `other_config:hwaddr=${host.mac}`, '--', 'add-port', bridge, 'eth0']);
  await ipIn(['addr', 'flush', 'dev', 'eth0']);
  await ipIn(['link', 'set', bridge, 'up']);
  await ipIn(['addr', 'add', `${host.ip}/${LAN_CIDR.split('/')[1]}`, 'dev', bridge]);
  await ipIn(['route', 'add', 'default', 'via', gateway, 'dev', bridge]);
  // OVS also learns the route from the kernel, asynchronously; adding it here makes it present now.
  await ovs.appctl(['ovs/route/add', LAN_CIDR, bridge]);
}
