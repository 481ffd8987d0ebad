import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig, sectionOf } from '../../src/config/config.js';
import { SWITCH_DAEMONS } from '../../src/host/capture-watch.js';
import { HOST_CONFIG, type AllowedMirror } from '../../src/host/config.js';
import { mirrorAllowedBy, type MirrorConfig } from '../../src/host/mirror.js';
import { judgePromisc, type PromiscHolder } from '../../src/host/sensor.js';
import { PACKET_SOCKET_DAEMONS } from '../../src/host/tool-table.js';

// Known mirrors allowed by name (host.allowed_mirrors), and why an interface
// is promiscuous (switch daemons, kernel switches, capturers).

function allowedMirrors(yaml: string): AllowedMirror[] {
  return sectionOf(parseConfig(`host:\n  allowed_mirrors:\n${yaml}`, 'c.yml', [HOST_CONFIG]), HOST_CONFIG).allowedMirrors;
}

function rejects(yaml: string, message: string): void {
  assert.throws(
    () => allowedMirrors(yaml),
    (e: unknown) => e instanceof ConfigError && e.message === message,
    `expected ConfigError "${message}"`,
  );
}

test('host.allowed_mirrors: the four kinds, with their qualifiers, as written', () => {
  const got = allowedMirrors(
    [
      '    - { ovs_mirror: to-ids, bridge: br-int }',
      '    - { ovs_mirror: "tap-*" }',
      '    - { tc_filter: "eth0 ingress" }',
      '    - { tc_filter: eth1 }',
      '    - { device: vx-ids }',
      '    - { nft_table: tap, nft_chain: dup-out }',
      '',
    ].join('\n'),
  );
  assert.deepEqual(
    got.map((a) => [a.kind, a.text]),
    [
      ['ovs_mirror', 'ovs_mirror=to-ids bridge=br-int'],
      ['ovs_mirror', 'ovs_mirror=tap-*'],
      ['tc_filter', 'tc_filter=eth0 ingress'],
      ['tc_filter', 'tc_filter=eth1'],
      ['device', 'device=vx-ids'],
      ['nft_table', 'nft_table=tap nft_chain=dup-out'],
    ],
  );
  assert.deepEqual(sectionOf(parseConfig('host: {}\n', 'c.yml', [HOST_CONFIG]), HOST_CONFIG).allowedMirrors, []);
});

test('host.allowed_mirrors: unknown keys, several kinds, bad names and parents are located errors', () => {
  rejects('    - { ovs_mirror: m, nft_chain: c }\n', "c.yml: host.allowed_mirrors[0]: unknown key 'nft_chain' (expected one of: ovs_mirror, bridge)");
  rejects('    - { device: vx0 }\n    - { bridge: br0 }\n', 'c.yml: host.allowed_mirrors[1]: give exactly one of ovs_mirror, tc_filter, device, nft_table');
  rejects('    - { device: vx0, ovs_mirror: m }\n', 'c.yml: host.allowed_mirrors[0]: give exactly one of ovs_mirror, tc_filter, device, nft_table (got ovs_mirror, device)');
  rejects('    - { device: a-name-longer-than-15 }\n', "c.yml: host.allowed_mirrors[0].device: 'a-name-longer-than-15' is not an interface name (1 to 15 characters, no spaces or '/')");
  rejects('    - { device: "" }\n', 'c.yml: host.allowed_mirrors[0].device must be a non-empty string');
  rejects('    - { tc_filter: "eth0 sideways" }\n', `c.yml: host.allowed_mirrors[0].tc_filter: 'eth0 sideways' is not "DEVICE" or "DEVICE PARENT" (PARENT one of ingress, egress, root)`);
  rejects('    - { tc_filter: "eth0 ingress extra" }\n', `c.yml: host.allowed_mirrors[0].tc_filter: 'eth0 ingress extra' is not "DEVICE" or "DEVICE PARENT" (PARENT one of ingress, egress, root)`);
  rejects('    - { nft_table: "two words" }\n', "c.yml: host.allowed_mirrors[0].nft_table: 'two words' is not a name (1 to 256 characters, no spaces)");
  rejects('    - { ovs_mirror: m, bridge: [a] }\n', 'c.yml: host.allowed_mirrors[0].bridge must be a non-empty string');
  rejects('    - just-a-name\n', 'c.yml: host.allowed_mirrors[0] must be a mapping');
  assert.throws(() => parseConfig('host:\n  allowed_mirrors: { device: vx0 }\n', 'c.yml', [HOST_CONFIG]), /c\.yml: host\.allowed_mirrors must be a list/);
});

test('mirrorAllowedBy: each kind matches its own name only; bridge, parent and chain narrow it', () => {
  const allowed = allowedMirrors(
    [
      '    - { ovs_mirror: to-ids, bridge: br-int }',
      '    - { ovs_mirror: "tap-*" }',
      '    - { tc_filter: "eth0 ingress" }',
      '    - { tc_filter: eth1 }',
      '    - { device: "vx-*" }',
      '    - { nft_table: tap, nft_chain: dup-out }',
      '',
    ].join('\n'),
  );
  const by = (c: Pick<MirrorConfig, 'targetDev' | 'names'>): string | undefined => mirrorAllowedBy(allowed, c)?.text;
  assert.equal(by({ targetDev: 'gre0', names: { ovsMirror: 'to-ids', bridge: 'br-int' } }), 'ovs_mirror=to-ids bridge=br-int');
  assert.equal(by({ targetDev: 'gre0', names: { ovsMirror: 'to-ids', bridge: 'br-ex' } }), undefined);
  assert.equal(by({ targetDev: 'gre0', names: { ovsMirror: 'to-ids' } }), undefined, 'a bridge qualifier needs the bridge');
  assert.equal(by({ names: { ovsMirror: 'tap-7', bridge: 'any' } }), 'ovs_mirror=tap-*');
  assert.equal(by({ names: { ovsMirror: 'xtap-7' } }), undefined, 'wildcards match the whole name');
  assert.equal(by({ targetDev: 'd0', names: { tcFilter: { device: 'eth0', parent: 'ingress' } } }), 'tc_filter=eth0 ingress');
  assert.equal(by({ targetDev: 'd0', names: { tcFilter: { device: 'eth0', parent: 'egress' } } }), undefined);
  assert.equal(by({ targetDev: 'd0', names: { tcFilter: { device: 'eth1', parent: 'root' } } }), 'tc_filter=eth1');
  assert.equal(by({ targetDev: 'vx-ids' }), 'device=vx-*', 'a tunnel device alone');
  assert.equal(by({ targetDev: 'vx-ids', names: { ovsMirror: 'other' } }), 'device=vx-*', 'anything sending copies out of the device');
  assert.equal(by({ targetDev: 'vx0' }), undefined);
  assert.equal(by({ names: { nftTable: 'tap', nftChain: 'dup-out' } }), 'nft_table=tap nft_chain=dup-out');
  assert.equal(by({ names: { nftTable: 'tap', nftChain: 'prerouting' } }), undefined);
  assert.equal(by({ names: { nftTable: 'tap' } }), undefined);
  assert.equal(by({}), undefined);
  // The names of one kind do not satisfy another kind's entry.
  assert.equal(mirrorAllowedBy(allowedMirrors('    - { device: eth0 }\n'), { names: { tcFilter: { device: 'eth0', parent: 'ingress' } } }), undefined);
  assert.equal(mirrorAllowedBy(allowedMirrors('    - { nft_table: br-int }\n'), { names: { ovsMirror: 'm', bridge: 'br-int' } }), undefined);
});

const OVS: PromiscHolder = { pid: 100, name: 'ovs-vswitchd', argv: ['ovs-vswitchd', 'unix:/run/openvswitch/db.sock'], daemon: true };
const TCPDUMP: PromiscHolder = { pid: 200, name: 'tcpdump', argv: ['tcpdump', '-i', 'p1'], daemon: false };
const LLDPD: PromiscHolder = { pid: 300, name: 'lldpd', argv: ['lldpd'], daemon: true };
const QEMU: PromiscHolder = { pid: 400, name: 'qemu-system-x86_64', argv: ['qemu-system-x86_64'], daemon: false };

test('promiscuity: a switch daemon\'s ports and kernel switch members are info, naming the switch', () => {
  const port = judgePromisc('p1', { member: false }, [OVS], [], '');
  assert.equal(port.severity, 'info');
  assert.equal(port.message, 'p1 is promiscuous as a port of the switch daemon ovs-vswitchd (pid 100): by design');
  assert.deepEqual(port.named.map((h) => [h.pid, h.role]), [[100, 'capturer']]);
  const tap = judgePromisc('br-phy', { member: false }, [], [OVS], '');
  assert.equal(tap.severity, 'info', 'the tap device of the netdev datapath, held by ovs-vswitchd');
  assert.deepEqual(tap.named.map((h) => [h.pid, h.role]), [[100, 'switch']]);
  const kernel = judgePromisc('eth2', { member: true, ovsDatapath: 'ovs-system' }, [], [], '');
  assert.equal(kernel.severity, 'info');
  assert.match(kernel.message, /eth2 is promiscuous as a port of Open vSwitch's kernel datapath ovs-system \(set by the kernel for ovs-vswitchd; by design\)/);
  assert.equal(judgePromisc('p-gw', { member: true }, [LLDPD], [], '').severity, 'info', 'a bridge port with a protocol daemon on it');
  for (const d of SWITCH_DAEMONS) assert.ok(PACKET_SOCKET_DAEMONS.has(d), `${d} is a packet-socket daemon too`);
});

test('promiscuity: a capturer that is not a network daemon is medium, whatever else holds the interface', () => {
  for (const [iface, others] of [
    [{ member: false }, [OVS]],
    [{ member: true }, []],
    [{ member: true, ovsDatapath: 'ovs-system' }, [LLDPD]],
  ] as const) {
    const v = judgePromisc('p1', iface, [...others, TCPDUMP], [OVS], '');
    assert.equal(v.severity, 'medium', JSON.stringify(iface));
    assert.match(v.message, /^p1 entered promiscuous mode; capturing: tcpdump \(pid 200\)/, 'the sniffer is named first');
    assert.ok(v.named.some((h) => h.pid === 200 && h.role === 'capturer'));
  }
  // A tap device held by something other than a switch daemon, or no cause at all: as before.
  assert.equal(judgePromisc('tap0', { member: false }, [], [QEMU], '').severity, 'medium');
  const none = judgePromisc('eth0', { member: false }, [], [], ' (kernel log)');
  assert.equal(none.message, 'eth0 entered promiscuous mode (kernel log)');
  assert.equal(judgePromisc('eth0', { member: false }, [LLDPD], [], '').severity, 'medium', 'a protocol daemon does not explain promiscuity');
  // A tool posing under a switch daemon's name is classified as a tool, so daemon is false.
  assert.equal(judgePromisc('p1', { member: false }, [{ ...OVS, daemon: false }], [], '').severity, 'medium');
});
