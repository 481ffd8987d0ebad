// End to end: a sensor on an MPLS provider link. Two Open vSwitch bridges
// (userspace datapath) play the provider edge routers: the victim's traffic
// enters pe1, which pushes an MPLS label and sends it over the core link
// (a veth pair) to pe2, which pops it for the gateway, and back the same way
// under another label. A real client (curl) logs in to a real server
// (python3's http.server) with HTTP Basic across it. tcpdump on the core
// link records labelled frames only; `sniffwatch scan` of that capture and
// `sniffwatch watch` on the core link itself (kernel BPF filter included)
// must both report the cleartext login, with client, server and user.
// Needs root, openvswitch-switch, ethtool, tcpdump, curl and python3; watch
// also the native addon.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { assertHttpBasicLogin, E2eWorkDir, freshLan, httpBasicLogin, isHttpBasicLogin, scanAll, skipUnless, tcpdumpPackets } from '../helpers/e2e.js';
import { GATEWAY, sleep, VICTIM, type Lan } from '../helpers/netns-lan.js';
import { skipUnlessOvs, startOvs } from '../helpers/ovs.js';
import { skipUnlessPcapAddon, startWatchIn } from '../helpers/watch.js';

const work = new E2eWorkDir('mpls-link');
const CORE_IF = 'core1';
const LOGIN = { port: 8080, user: 'carrier-user', password: 'over-the-label-switched-path' };

/** Rebuilds the LAN's victim-gateway path as victim - pe1 - (core1 = core2) - pe2 - gateway, labelled in the core. */
async function mplsCore(t: TestContext, lan: Lan): Promise<void> {
  const dir = mkdtempSync(join(work.path, 'ovs-'));
  const ovs = await startOvs(t, lan, 'bridge', dir);
  const inBridge = (argv: string[]): Promise<unknown> => lan.exec('bridge', argv, { timeoutMs: 15_000 });
  await inBridge(['ip', 'link', 'add', CORE_IF, 'type', 'veth', 'peer', 'name', 'core2']);
  // A label adds four bytes: the core needs a larger MTU than the edge, as a provider's does.
  for (const dev of [CORE_IF, 'core2']) await inBridge(['ip', 'link', 'set', dev, 'mtu', '1600', 'up']);
  // The userspace datapath does not complete checksums the hosts leave to offload once it pushes a label.
  for (const h of [VICTIM, GATEWAY]) await lan.exec(h.name, ['ethtool', '-K', 'eth0', 'tx', 'off'], { timeoutMs: 10_000 });
  for (const h of [VICTIM, GATEWAY]) await inBridge(['ip', 'link', 'set', `p-${h.name}`, 'nomaster']);
  await ovs.vsctl([
    'add-br', 'pe1', '--', 'set', 'bridge', 'pe1', 'datapath_type=netdev', '--', 'add-port', 'pe1', `p-${VICTIM.name}`, '--', 'add-port', 'pe1', CORE_IF,
    '--', 'add-br', 'pe2', '--', 'set', 'bridge', 'pe2', 'datapath_type=netdev', '--', 'add-port', 'pe2', `p-${GATEWAY.name}`, '--', 'add-port', 'pe2', 'core2',
  ]);
  // IPv4 is label-switched across the core; ARP is bridged unlabelled, as on a VPLS.
  const flows: [string, string[]][] = [
    ['pe1', [
      `priority=10,in_port=p-${VICTIM.name},ip,actions=push_mpls:0x8847,set_field:1001->mpls_label,output:${CORE_IF}`,
      `priority=10,in_port=${CORE_IF},mpls,actions=pop_mpls:0x0800,output:p-${VICTIM.name}`,
      'priority=0,actions=NORMAL',
    ]],
    ['pe2', [
      `priority=10,in_port=p-${GATEWAY.name},ip,actions=push_mpls:0x8847,set_field:2002->mpls_label,output:core2`,
      `priority=10,in_port=core2,mpls,actions=pop_mpls:0x0800,output:p-${GATEWAY.name}`,
      'priority=0,actions=NORMAL',
    ]],
  ];
  for (const [bridge, rules] of flows) {
    for (const rule of rules) await inBridge(['ovs-ofctl', 'add-flow', `unix:${join(dir, `${bridge}.mgmt`)}`, rule]);
  }
}

/** A real HTTP server on the gateway and curl on the victim sending Basic credentials to it. */

test('HTTP Basic across an MPLS core: the labelled capture and a live sensor on the core link both report the login', { timeout: 120_000 }, async (t) => {
  if (!skipUnlessOvs(t) || !(await skipUnless(t, ['ovs-ofctl', 'ethtool', 'tcpdump', 'curl', 'python3']))) return;
  const lan = await freshLan(t);
  await mplsCore(t, lan);
  const pcap = join(work.path, 'core.pcap');
  const td = lan.spawn('bridge', ['tcpdump', '-Z', 'root', '-i', CORE_IF, '--immediate-mode', '-U', '-n', '-w', pcap], 'tcpdump');
  await td.waitFor(/listening on/, 15_000);
  const live = skipUnlessPcapAddon(t) ? startWatchIn(t, lan.bridgeNs, ['--iface', CORE_IF, '--format', 'jsonl', '--fail-on', 'none', '--min-severity', 'info']) : undefined;
  if (live) await live.waitStderr(/watching core1/, 15_000);
  await httpBasicLogin(lan, work.path, LOGIN);
  const seen = live ? await live.waitFinding(isHttpBasicLogin(LOGIN), 'cred-http-basic from the live sensor on the core link', 30_000) : undefined;
  await sleep(500);
  await td.stop('SIGINT', 10_000);

  // The capture holds labelled IPv4 and no bare IPv4: the login crossed as MPLS.
  const labelled = tcpdumpPackets(pcap, 'mpls and tcp port 8080');
  assert.ok(labelled.length >= 6, `labelled frames: ${labelled.length}`);
  assert.deepEqual(tcpdumpPackets(pcap, 'ip'), [], 'unlabelled IPv4 on the core link');
  const run = scanAll(pcap);
  assert.equal(run.status, 0, run.stderr);
  assertHttpBasicLogin(run.findings.find(isHttpBasicLogin(LOGIN)), run.findings, LOGIN);
  if (live) assertHttpBasicLogin(seen, live.findings, LOGIN);
  else t.diagnostic('live half skipped: native pcap addon not built');
});
