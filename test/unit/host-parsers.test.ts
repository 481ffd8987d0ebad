import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kmsgMessage, parseIfnames, parseKmsgBridgePort, parseKmsgPromisc, parseProcNetPacket, parseTunFdinfo, readInterfaces } from '../../src/host/capture-watch.js';
import { ovsMirrors, parseIptablesTee, parseJson, parseMirred, parseNftDup, parseOvsTable, parseQdiscs, parseTunnels, readNamespaceMirrors, runCommands, type CommandResult, type Runner } from '../../src/host/mirror.js';
import { CAP_NET_RAW, containerIdFromCgroup, environValues, hasCap, parseStat, parseStatus, splitCmdline } from '../../src/host/procfs.js';
import { withTempDir } from '../helpers/captures.js';

// Parsers of what the kernel and the networking tools print. The tc, ip, nft
// and iptables texts below were recorded from iproute2 6.1, nftables 1.0.6
// and iptables 1.8.9 (Debian 12) on a namespace with a VXLAN mirror.

test('/proc/PID/status: ppid, effective uid, CapEff; garbage gives undefined', () => {
  const s = parseStatus('Name:\ttcpdump\nUmask:\t0022\nState:\tS (sleeping)\nPPid:\t4200\nUid:\t0\t102\t102\t102\nCapEff:\t0000000000002000\n');
  assert.deepEqual(s && { ...s, capEff: s.capEff.toString(16) }, { name: 'tcpdump', ppid: 4200, uid: 102, capEff: '2000' });
  assert.ok(s && hasCap(s.capEff, CAP_NET_RAW));
  assert.equal(parseStatus('garbage'), undefined);
  assert.equal(parseStatus('PPid:\tx\nUid:\t1 2 3 4\n'), undefined);
  assert.equal(parseStatus('PPid:\t1\nUid:\t1\t2\t3\t4\nCapEff:\tzz\n')?.capEff, 0n);
});

test('/proc/PID/stat: a comm with ") " and spaces does not shift the fields', () => {
  const fields = ['S', '77', '77', '77', '34816', ...Array(14).fill('0'), '123456', '0'];
  const st = parseStat(`4242 (evil) 1 2 3 (x) ${fields.join(' ')}`);
  assert.deepEqual(st, { comm: 'evil) 1 2 3 (x', ppid: 77, ttyNr: 34816, startTime: 123456 });
  assert.equal(parseStat('no parens'), undefined);
});

test('cmdline, cgroup container ids, environ', () => {
  assert.deepEqual(splitCmdline('tcpdump\0-i\0lo\0'), ['tcpdump', '-i', 'lo']);
  assert.deepEqual(splitCmdline('nginx: worker process'), ['nginx: worker process']);
  assert.equal(splitCmdline(`a\0${'b\0'.repeat(1000)}`).length, 256);
  assert.equal(splitCmdline('x'.repeat(10_000))[0]!.length, 4096);
  const id = 'f'.repeat(64);
  assert.equal(containerIdFromCgroup(`0::/system.slice/docker-${id}.scope\n`), id);
  assert.equal(containerIdFromCgroup(`0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-${id}.scope\n`), id);
  assert.equal(containerIdFromCgroup(`12:pids:/docker/${id}\n`), id);
  assert.equal(containerIdFromCgroup('0::/user.slice/user-1000.slice/session-2.scope\n'), undefined);
  const env = environValues(`PATH=/bin\0CI=true\0GITHUB_ACTIONS=${'x'.repeat(500)}\0=bad\0noequals\0`, new Set(['CI', 'GITHUB_ACTIONS']));
  assert.equal(env.get('CI'), 'true');
  assert.equal(env.get('GITHUB_ACTIONS')!.length, 128);
});

test('/proc/net/packet rows', () => {
  const text = 'sk               RefCnt Type Proto  Iface R Rmem   User   Inode\n00000000234fb01f 3      3    0003   1     1 0      0      421701\nffff 3 2 0800 2 1 0 101 5000\nshort row\nx x x zz x x x x x\n';
  assert.deepEqual(parseProcNetPacket(text), [
    { inode: 421701, type: 3, proto: 3, ifindex: 1, uid: 0 },
    { inode: 5000, type: 2, proto: 0x800, ifindex: 2, uid: 101 },
  ]);
});

test('kernel log: both promiscuous-mode formats, bridge ports, record framing, interface tables', () => {
  assert.deepEqual(parseKmsgPromisc('device eth0 entered promiscuous mode'), { ifname: 'eth0', entered: true });
  assert.deepEqual(parseKmsgPromisc('eth0: entered promiscuous mode'), { ifname: 'eth0', entered: true });
  assert.deepEqual(parseKmsgPromisc('p-gateway: left promiscuous mode'), { ifname: 'p-gateway', entered: false });
  assert.equal(parseKmsgPromisc('eth0: renamed from veth123'), undefined);
  assert.equal(parseKmsgBridgePort('br0: port 1(p-gateway) entered blocking state'), 'p-gateway');
  assert.equal(parseKmsgBridgePort('br0: port 1(p-gateway) entered forwarding state'), 'p-gateway');
  assert.equal(kmsgMessage('6,2104,2801280245,-;lo: entered promiscuous mode\n SUBSYSTEM=net\n DEVICE=n1\n'), 'lo: entered promiscuous mode');
  assert.equal(kmsgMessage('no separator'), '');
  const names = parseIfnames('Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n1\tlo        :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n2\teth0      :     1      V3\n', '2    eth0            1     0     333300000001\n3    vx0             1     0     01005e000001\n');
  assert.deepEqual([...names], [[1, 'lo'], [2, 'eth0'], [3, 'vx0']]);
});

/** A fake /sys/class/net/NAME directory with flags and ifindex. */
function sysNetIface(dir: string, name: string, flags: string, ifindex: number): string {
  const d = join(dir, name);
  mkdirSync(d);
  writeFileSync(join(d, 'flags'), `${flags}\n`);
  writeFileSync(join(d, 'ifindex'), `${ifindex}\n`);
  return d;
}

test('/sys/class/net: IFF_PROMISC from flags, bridge and bond members', async () => {
  await withTempDir(async (dir) => {
    const iface = (name: string, flags: string, ifindex: number): string => sysNetIface(dir, name, flags, ifindex);
    iface('lo', '0x109', 1);
    iface('eth0', '0x1003', 2);
    mkdirSync(join(iface('p-gw', '0x1103', 3), 'brport'));
    symlinkSync('../bond0', join(iface('eth1', '0x1903', 4), 'master'));
    writeFileSync(join(dir, 'junk'), 'not a directory');
    const got = readInterfaces(dir).sort((a, b) => a.ifindex - b.ifindex);
    assert.deepEqual(got, [
      { name: 'lo', ifindex: 1, promisc: true, member: false },
      { name: 'eth0', ifindex: 2, promisc: false, member: false },
      { name: 'p-gw', ifindex: 3, promisc: true, member: true },
      { name: 'eth1', ifindex: 4, promisc: true, member: true },
    ]);
  });
});

test('/sys/class/net: Open vSwitch kernel-datapath ports (master ovs-system) and tun/tap devices', async () => {
  await withTempDir(async (dir) => {
    const iface = (name: string, flags: string, ifindex: number): string => sysNetIface(dir, name, flags, ifindex);
    symlinkSync('../ovs-system', join(iface('eth2', '0x1103', 5), 'master'));
    writeFileSync(join(iface('ovsbr', '0x1102', 6), 'tun_flags'), '0x1802\n');
    const got = readInterfaces(dir).sort((a, b) => a.ifindex - b.ifindex);
    assert.deepEqual(got, [
      { name: 'eth2', ifindex: 5, promisc: true, member: true, ovsDatapath: 'ovs-system' },
      { name: 'ovsbr', ifindex: 6, promisc: true, member: false, tun: true },
    ]);
  });
});

test('/proc/PID/fdinfo of a /dev/net/tun descriptor names its device', () => {
  // Recorded from ovs-vswitchd's tap of a netdev bridge (Linux 6.x).
  assert.equal(parseTunFdinfo('pos:\t0\nflags:\t0104002\nmnt_id:\t80\nino:\t105\niff:\tovsbr\n'), 'ovsbr');
  assert.equal(parseTunFdinfo('pos:\t0\nflags:\t0104002\nmnt_id:\t80\n'), undefined, 'not attached yet');
  assert.equal(parseTunFdinfo(`iff:\t${'x'.repeat(100)}\n`), undefined);
});

const TC_FILTERS = `[{"protocol":"all","pref":49152,"kind":"u32","chain":0},{"protocol":"all","pref":49152,"kind":"u32","chain":0,"options":{"fh":"800::800","order":2048,"key_ht":"800","bkt":"0","not_in_hw":true,"match":{"value":"0","mask":"0","offmask":"","off":0},"actions":[{"order":1,"kind":"mirred","mirred_action":"mirror","direction":"egress","to_dev":"vx0","control_action":{"type":"pipe"},"index":1,"ref":1,"bind":1}]}}]`;
const TC_ACTIONS = `[{"total acts":2},{"actions":[{"order":0,"kind":"mirred","mirred_action":"mirror","direction":"egress","to_dev":"vx0","control_action":{"type":"pipe"},"index":1,"ref":1,"bind":1,"not_in_hw":true,"used_hw_stats":["disabled"]},{"order":1,"kind":"mirred","mirred_action":"redirect","direction":"egress","to_dev":"ifb0","control_action":{"type":"stolen"},"index":2,"ref":1,"bind":1}]}]`;
const TC_QDISCS = `[{"kind":"htb","handle":"1:","dev":"d1","root":true,"refcnt":3,"options":{"r2q":10}},{"kind":"noqueue","handle":"0:","dev":"d0","root":true,"refcnt":2,"options":{}},{"kind":"clsact","handle":"ffff:","dev":"d0","parent":"ffff:fff1","options":{}},{"kind":"fq_codel","handle":"0:","dev":"eth0","root":true,"options":{}}]`;
const IP_LINKS = `[{"ifindex":4,"ifname":"vx0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"linkinfo":{"info_kind":"vxlan","info_data":{"id":42,"remote":"198.18.5.2","link":"d0","port":4789}}},{"ifindex":5,"ifname":"flannel.1","linkinfo":{"info_kind":"vxlan","info_data":{"id":1,"local":"10.0.0.4","port":8472}}},{"ifindex":6,"ifname":"span0","linkinfo":{"info_kind":"erspan","info_data":{"remote":"203.0.113.7","local":"10.0.0.4","erspan_ver":1}}},{"ifindex":1,"ifname":"lo"}]`;
const NFT = `{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, {"table": {"family": "netdev", "name": "t", "handle": 1}}, {"rule": {"family": "netdev", "table": "t", "chain": "c", "handle": 2, "expr": [{"dup": {"addr": "vx0"}}]}}, {"rule": {"family": "ip", "table": "m", "chain": "c", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "protocol"}}, "right": "tcp"}}, {"dup": {"addr": "198.18.5.9", "dev": "d0"}}]}}]}`;
const IPTABLES = `# Generated by iptables-save v1.8.9 (nf_tables)\n*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j TEE --gateway 198.18.5.7\n-A PREROUTING -p tcp -j ACCEPT\nCOMMIT\n`;

test('tc: mirred actions anywhere in the JSON, qdiscs that can hold filters', () => {
  assert.deepEqual(parseMirred(parseJson(TC_FILTERS)), [{ index: 1, action: 'mirror', direction: 'egress', toDev: 'vx0' }]);
  assert.deepEqual(
    parseMirred(parseJson(TC_ACTIONS)).map((a) => `${a.index} ${a.action} ${a.toDev}`),
    ['1 mirror vx0', '2 redirect ifb0'],
  );
  assert.deepEqual([...parseQdiscs(parseJson(TC_QDISCS))], [['d1', ['root']], ['d0', ['ingress', 'egress']]]);
});

test('tunnels, nft dup, iptables TEE', () => {
  assert.deepEqual(parseTunnels(parseJson(IP_LINKS)), [
    { ifname: 'vx0', kind: 'vxlan', remote: '198.18.5.2', local: undefined, id: 42 },
    { ifname: 'flannel.1', kind: 'vxlan', remote: undefined, local: '10.0.0.4', id: 1 },
    { ifname: 'span0', kind: 'erspan', remote: '203.0.113.7', local: '10.0.0.4', id: undefined },
  ]);
  const dups = parseNftDup(parseJson(NFT));
  assert.equal(dups.length, 2);
  assert.equal(dups[0]!.targetDev, 'vx0');
  assert.equal(dups[0]!.collector, undefined);
  assert.equal(dups[1]!.collector, '198.18.5.9');
  assert.equal(dups[1]!.targetDev, 'd0');
  const tee = parseIptablesTee(IPTABLES, 'ip');
  assert.equal(tee.length, 1);
  assert.equal(tee[0]!.collector, '198.18.5.7');
  assert.match(tee[0]!.what, /iptables mangle table rule "-A PREROUTING -j TEE --gateway 198\.18\.5\.7"/);
});

test('Open vSwitch: mirror rows, output port names and tunnel remotes from the database JSON', () => {
  // The format `ovs-vsctl --format=json list TABLE` prints (OVSDB JSON atoms).
  const mirrors = parseOvsTable({ headings: ['_uuid', 'name', 'output_port', 'output_vlan', 'select_all'], data: [[['uuid', 'm-1'], 'm0', ['uuid', 'p-1'], ['set', []], true]] });
  const ports = parseOvsTable({ headings: ['_uuid', 'name'], data: [[['uuid', 'p-1'], 'gre0']] });
  const ifaces = parseOvsTable({ headings: ['name', 'type', 'options'], data: [['gre0', 'gre', ['map', [['remote_ip', '203.0.113.9']]]]] });
  const got = ovsMirrors(mirrors, ports, ifaces);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.targetDev, 'gre0');
  assert.equal(got[0]!.collector, '203.0.113.9');
  assert.match(got[0]!.what, /mirror m0 \(all ports\) sends copies to port gre0/);
  assert.deepEqual(parseOvsTable('nonsense'), []);
});

test('Open vSwitch 3.1 output: bridge, selected ports and VLANs, tunnel kind; remote_ip=flow is no collector', () => {
  // Recorded from ovs-vsctl 3.1.0 (Debian 12), userspace datapath: `--format=json list Mirror`,
  // `--columns=_uuid,name list Port`, `--columns=name,type,options list Interface`, `--columns=name,mirrors list Bridge`.
  const mirrors = parseOvsTable(parseJson(
    '{"data":[[["uuid","4c604450-8085-412f-8476-3912a34d34b5"],["map",[]],"m0",["uuid","d642bfdc-486b-4474-9c12-f8272f4c17f0"],["set",[]],false,["uuid","e5add95e-88be-487e-a536-ed19c054e90e"],["set",[["uuid","d41a1bbe-4ef9-4304-be26-10c6310b0dc5"],["uuid","e5add95e-88be-487e-a536-ed19c054e90e"]]],["set",[10,20]],["set",[]],["map",[]]],[["uuid","437d1fa4-dea5-4b5f-a133-4a7fed0ca213"],["map",[]],"m2",["set",[]],30,true,["set",[]],["set",[]],["set",[]],["set",[]],["map",[]]],[["uuid","8897c39d-251c-47fd-ae00-d78ce14ee9b6"],["map",[]],"m1",["uuid","1677362f-ccdc-48f7-815b-a17eacd0c5d2"],["set",[]],true,["set",[]],["set",[]],["set",[]],["set",[]],["map",[]]]],"headings":["_uuid","external_ids","name","output_port","output_vlan","select_all","select_dst_port","select_src_port","select_vlan","snaplen","statistics"]}',
  ));
  const ports = parseOvsTable(parseJson(
    '{"data":[[["uuid","462f0268-fdda-4226-9139-317aaa8dedf6"],"br0"],[["uuid","d642bfdc-486b-4474-9c12-f8272f4c17f0"],"vx0"],[["uuid","d41a1bbe-4ef9-4304-be26-10c6310b0dc5"],"vb"],[["uuid","e5add95e-88be-487e-a536-ed19c054e90e"],"va"],[["uuid","1677362f-ccdc-48f7-815b-a17eacd0c5d2"],"fl0"]],"headings":["_uuid","name"]}',
  ));
  const ifaces = parseOvsTable(parseJson(
    '{"data":[["va","",["map",[]]],["vx0","vxlan",["map",[["key","42"],["remote_ip","198.18.7.10"]]]],["vb","",["map",[]]],["br0","internal",["map",[]]],["fl0","gre",["map",[["remote_ip","flow"]]]]],"headings":["name","type","options"]}',
  ));
  const bridges = parseOvsTable(parseJson(
    '{"data":[["br0",["set",[["uuid","437d1fa4-dea5-4b5f-a133-4a7fed0ca213"],["uuid","4c604450-8085-412f-8476-3912a34d34b5"],["uuid","8897c39d-251c-47fd-ae00-d78ce14ee9b6"]]]]],"headings":["name","mirrors"]}',
  ));
  const got = ovsMirrors(mirrors, ports, ifaces, bridges);
  assert.deepEqual(
    got.map((m) => [m.what, m.source, m.targetDev, m.collector]),
    [
      ['Open vSwitch mirror m0 (from port vb, va, to port va, VLAN 10, 20) sends copies to port vx0 (vxlan tunnel) on bridge br0', undefined, 'vx0', '198.18.7.10'],
      ['Open vSwitch mirror m2 (all ports) sends copies to VLAN 30 on bridge br0', undefined, undefined, undefined],
      ['Open vSwitch mirror m1 (all ports) sends copies to port fl0 (gre tunnel, remote chosen per flow) on bridge br0', undefined, 'fl0', undefined],
    ],
  );
});

test('one namespace end to end with recorded command output; missing tools are skipped and remembered', async () => {
  const outputs: Record<string, string> = {
    'ip -d -j link show': IP_LINKS,
    'tc -j actions ls action mirred': TC_ACTIONS,
    'tc -s -j qdisc show': TC_QDISCS,
    'tc -j filter show dev d0 ingress': TC_FILTERS,
    'tc -j filter show dev d0 egress': '[]',
    'tc -j filter show dev d1': '[]',
    'nft -j list ruleset': NFT,
  };
  const asked: string[] = [];
  const one = (argv: readonly string[]): CommandResult => {
    const k = argv.join(' ');
    asked.push(k);
    if (argv[0] === 'iptables-save' || argv[0] === 'ip6tables-save') return { ok: false, stdout: '', missing: true };
    return k in outputs ? { ok: true, stdout: outputs[k]!, missing: false } : { ok: false, stdout: '', missing: false };
  };
  const run: Runner = async (argvs) => argvs.map(one);
  const missing = new Set<string>();
  const { configs, tunnels } = await readNamespaceMirrors(run, missing);
  assert.equal(tunnels.length, 3);
  const tc = configs.find((c) => c.id === 'tc|1|mirror|vx0');
  assert.ok(tc);
  assert.equal(tc.source, 'd0');
  assert.match(tc.what, /tc mirred action 1 on d0 ingress mirrors packets to vx0/);
  assert.ok(configs.some((c) => c.mechanism === 'nft dup' && c.collector === '198.18.5.9'));
  assert.deepEqual([...missing].sort(), ['ip6tables-save', 'iptables-save']);
  asked.length = 0;
  await readNamespaceMirrors(run, missing);
  assert.ok(!asked.some((a) => a.startsWith('iptables-save')), 'a missing tool is not asked again');
});

test('the names a mirror was given, for host.allowed_mirrors: OVS mirror and bridge, tc filter, nft table and chain', async () => {
  const ovs = ovsMirrors(
    parseOvsTable({ headings: ['_uuid', 'name', 'output_port', 'select_all'], data: [[['uuid', 'm-1'], 'to-ids', ['uuid', 'p-1'], true]] }),
    parseOvsTable({ headings: ['_uuid', 'name'], data: [[['uuid', 'p-1'], 'gre0']] }),
    [],
    parseOvsTable({ headings: ['name', 'mirrors'], data: [['br-int', ['uuid', 'm-1']]] }),
  );
  assert.deepEqual(ovs[0]!.names, { ovsMirror: 'to-ids', bridge: 'br-int' });
  assert.deepEqual(
    parseNftDup(parseJson(NFT)).map((d) => d.names),
    [
      { nftTable: 't', nftChain: 'c' },
      { nftTable: 'm', nftChain: 'c' },
    ],
  );
  const outputs: Record<string, string> = {
    'tc -j actions ls action mirred': TC_ACTIONS,
    'tc -s -j qdisc show': TC_QDISCS,
    'tc -j filter show dev d0 ingress': TC_FILTERS,
  };
  const run: Runner = async (argvs) =>
    argvs.map((argv): CommandResult => {
      const out = outputs[argv.join(' ')];
      return out === undefined ? { ok: false, stdout: '', missing: false } : { ok: true, stdout: out, missing: false };
    });
  const { configs } = await readNamespaceMirrors(run, new Set());
  assert.deepEqual(
    configs.map((c) => [c.id, c.names]),
    [
      ['tc|1|mirror|vx0', { tcFilter: { device: 'd0', parent: 'ingress' } }],
      ['tc|2|redirect|ifb0', undefined],
    ],
  );
});

test('hostile JSON: deep nesting and huge arrays are bounded, not thrown', () => {
  let deep: unknown = { kind: 'mirred', mirred_action: 'mirror', to_dev: 'x', index: 1 };
  for (let i = 0; i < 10_000; i++) deep = [deep];
  assert.deepEqual(parseMirred(deep), []);
  assert.doesNotThrow(() => parseTunnels(Array(100_000).fill({ ifname: 'x', linkinfo: { info_kind: 'vxlan', info_data: { remote: 7 } } })));
  assert.equal(parseJson('{'), undefined);
  assert.deepEqual(parseNftDup(parseJson('{"nftables":[{"rule":{"expr":[{"dup":{"addr":5}}]}}]}')).length, 1);
});

test('runCommands: one shell runs a batch; arguments stay data, each command keeps its output and status, a hung one ends the batch', async () => {
  const [link, absent, failing, quoted, forged] = await runCommands([
    ['ip', '-j', 'link', 'show', 'lo'],
    ['sniffwatch-no-such-tool'],
    ['sh', '-c', 'printf "partial"; exit 3'],
    ['printf', '%s|', '$(touch /tmp/sniffwatch-pwned)', '"; exit 9; "', '${1}', 'a\nb'],
    ['printf', '\n0123 0 0\nafter'],
  ]);
  assert.equal(link!.ok, true);
  assert.match(link!.stdout, /"ifname":"lo"/);
  assert.deepEqual(absent, { ok: false, stdout: '', missing: true });
  assert.deepEqual(failing, { ok: false, stdout: 'partial', missing: false });
  assert.deepEqual(quoted, { ok: true, stdout: '$(touch /tmp/sniffwatch-pwned)|"; exit 9; "|${1}|a\nb|', missing: false });
  assert.equal(existsSync('/tmp/sniffwatch-pwned'), false);
  // A line that looks like a marker is output: the real marker carries a nonce nobody else knows.
  assert.deepEqual(forged, { ok: true, stdout: '\n0123 0 0\nafter', missing: false });
  const started = Date.now();
  const [done, hung, after] = await runCommands([['echo', 'first'], ['sleep', '30'], ['echo', 'never']], [], 300);
  assert.ok(Date.now() - started < 10_000, 'the hung command was killed');
  assert.deepEqual(done, { ok: true, stdout: 'first\n', missing: false });
  assert.equal(hung!.ok, false);
  assert.equal(after!.ok, false);
});
