// End to end: default-gateway takeovers through HSRP and VRRP on the namespace
// LAN, captured on the bridge and scanned with `sniffwatch scan`. VRRP is
// real: keepalived on the gateway (master) and the victim (backup), failing
// over, then a rogue keepalived and a scapy forgery on the attacker. HSRP has
// no implementation in Debian: the group's two routers are scapy speakers that
// send what Cisco routers send (tcpdump's HSRP regression captures hold the
// real thing, see test/conformance/fhrp.test.ts), and the attack is yersinia's.
// Needs root; see README.md.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { atLeast, describe, hasEntity } from '../helpers/captures.js';
import type { Finding } from '../../src/findings/finding.js';
import { assertExit, assertNothingLoud, E2eWorkDir, freshLan, scanCapture, settleAndStop, skipUnless, tcpdumpPackets } from '../helpers/e2e.js';
import { scapyPython, sleep, ATTACKER, GATEWAY, VICTIM, type Background, type Lan } from '../helpers/netns-lan.js';
import { skipUnlessPcapAddon, startWatchIn } from '../helpers/watch.js';

const work = new E2eWorkDir('fhrp');
const workDir = work.path;
const SPEAKER = fileURLToPath(new URL('../../../test/helpers/fhrp-speaker.py', import.meta.url));
const VIP = '198.18.0.254';
const VRID = 51;
const VRRP_PASSWORD = 'swvrrp51';

function takeovers(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.rule_id === 'fhrp-takeover');
}

/** The one fhrp-takeover in `findings`: high, T1557, naming the attacker's address and MAC, the virtual gateway and the router it displaces. */
function highTakeoverByAttacker(findings: readonly Finding[], displaced = GATEWAY): Finding {
  const hit = takeovers(findings);
  assert.equal(hit.length, 1, describe(findings));
  const f = hit[0]!;
  assert.equal(f.severity, 'high', describe(hit));
  assert.deepEqual(f.attack.techniques, ['T1557']);
  assert.ok(hasEntity(f, 'ip', ATTACKER.ip, 'attacker') && hasEntity(f, 'mac', ATTACKER.mac, 'attacker'), describe(hit));
  assert.ok(hasEntity(f, 'ip', VIP, 'virtual-gateway') && hasEntity(f, 'ip', displaced.ip, 'displaced-router'), describe(hit));
  return f;
}

/** keepalived as one VRRPv2 router of VRID 51 on `host` (its own pid files and config in `dir`). */
function keepalived(lan: Lan, host: string, dir: string, priority: number): Background {
  const conf = join(dir, `keepalived-${host}.conf`);
  writeFileSync(
    conf,
    [
      'global_defs {',
      `  router_id ${host}`,
      '  vrrp_version 2',
      '  enable_script_security',
      '}',
      'vrrp_instance gw {',
      '  interface eth0',
      `  virtual_router_id ${VRID}`,
      `  priority ${priority}`,
      '  advert_int 1',
      `  authentication { auth_type PASS\n    auth_pass ${VRRP_PASSWORD} }`,
      `  virtual_ipaddress { ${VIP}/24 }`,
      '}',
      '',
    ].join('\n'),
  );
  const pid = (what: string): string => join(dir, `${host}-${what}.pid`);
  return lan.spawn(host, ['keepalived', '--dont-fork', '--log-console', '--vrrp', '-f', conf, '-p', pid('main'), '-r', pid('vrrp'), '-c', pid('checkers')], `keepalived@${host}`);
}

/** VRRP advertisements in the capture, per source address. */
function vrrpSenders(pcap: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of tcpdumpPackets(pcap, 'ip proto 112')) {
    const src = /IP (\d+\.\d+\.\d+\.\d+) > 224\.0\.0\.18/.exec(line)?.[1];
    if (src) out.set(src, (out.get(src) ?? 0) + 1);
  }
  return out;
}

test('keepalived: a VRRP pair electing, failing over and failing back stays quiet', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnless(t, ['keepalived', 'tcpdump']))) return;
  const lan = await freshLan(t);
  const dir = mkdtempSync(join(workDir, 'failover-'));
  const pcap = join(dir, 'vrrp-failover.pcap');
  const cap = await lan.startCapture(pcap);
  let master = keepalived(lan, 'gateway', dir, 150);
  const backup = keepalived(lan, 'victim', dir, 100);
  await sleep(5000);
  // The master dies: the backup takes over after three missed advertisements, then the master comes back and preempts.
  await master.stop('SIGKILL', 2000);
  await sleep(6000);
  master = keepalived(lan, 'gateway', dir, 150);
  await sleep(5000);
  await master.stop('SIGTERM', 3000);
  await sleep(2000);
  await backup.stop('SIGTERM', 3000);
  await settleAndStop(cap, 1000);

  await t.test('the capture holds both routers advertising and the virtual address moving between their MACs', (st) =>
    work.withPcap(st, pcap, () => {
      const senders = vrrpSenders(pcap);
      assert.ok((senders.get(GATEWAY.ip) ?? 0) >= 6 && (senders.get(VICTIM.ip) ?? 0) >= 3, JSON.stringify([...senders]));
      for (const host of [GATEWAY, VICTIM]) assert.ok(tcpdumpPackets(pcap, `arp and ether src ${host.mac}`).some((l) => l.includes(VIP)), `no ARP for ${VIP} from ${host.mac}`);
    }),
  );
  await t.test('scan reports nothing medium or above; the handovers are info', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap, ['--min-severity', 'info']);
      assertNothingLoud(r.findings);
      assert.deepEqual(takeovers(r.findings), [], describe(r.findings));
      const key = r.findings.find((f) => f.rule_id === 'cred-fhrp-auth');
      assert.ok(key && key.message.includes(`VRRPv2 group ${VRID}`), describe(r.findings));
      assert.ok(!r.stdout.includes(VRRP_PASSWORD), 'the VRRP password is printed');
      assert.ok(r.findings.some((f) => f.rule_id === 'arp-binding-changed' && f.message.includes(`VRRPv2 group ${VRID}`)), describe(r.findings));
    }),
  );
});

test('keepalived: a rogue keepalived preempting the live master is low (a perfect copy of a router), high once fhrp.routers lists the real routers', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnless(t, ['keepalived', 'tcpdump']))) return;
  const lan = await freshLan(t);
  const dir = mkdtempSync(join(workDir, 'rogue-'));
  const pcap = join(dir, 'vrrp-rogue.pcap');
  const cap = await lan.startCapture(pcap);
  const master = keepalived(lan, 'gateway', dir, 150);
  const backup = keepalived(lan, 'victim', dir, 100);
  await sleep(5000);
  const intruder = keepalived(lan, 'attacker', dir, 254);
  await sleep(5000);
  await intruder.stop('SIGKILL', 3000);
  await master.stop('SIGTERM', 3000);
  await backup.stop('SIGTERM', 3000);
  await settleAndStop(cap, 1000);

  await t.test('the capture holds the master and then the intruder advertising', (st) =>
    work.withPcap(st, pcap, () => {
      const senders = vrrpSenders(pcap);
      assert.ok((senders.get(GATEWAY.ip) ?? 0) >= 3 && (senders.get(ATTACKER.ip) ?? 0) >= 3, JSON.stringify([...senders]));
    }),
  );
  await t.test('without a router list: low fhrp-new-active-router, and the gateway address moving to the intruder an ARP finding', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      assert.deepEqual(takeovers(r.findings), [], describe(r.findings));
      const low = r.findings.find((f) => f.rule_id === 'fhrp-new-active-router');
      assert.ok(low && hasEntity(low, 'ip', ATTACKER.ip, 'router') && hasEntity(low, 'ip', GATEWAY.ip, 'displaced-router'), describe(r.findings));
      // The virtual address leaves the live master for a router nobody had seen: not a handover.
      const moved = atLeast(r.findings, 'medium').filter((f) => f.rule_id.startsWith('arp-') && hasEntity(f, 'ip', VIP) && hasEntity(f, 'mac', ATTACKER.mac));
      assert.ok(moved.length > 0, describe(r.findings));
    }),
  );
  await t.test('with fhrp.routers listing the gateway and the victim: high fhrp-takeover by the attacker', (st) =>
    work.withPcap(st, pcap, () => {
      const config = join(dir, 'sniffwatch.yml');
      writeFileSync(config, `fhrp:\n  routers: [${GATEWAY.ip}, ${VICTIM.ip}]\n`);
      const r = scanCapture(pcap, ['--config', config]);
      highTakeoverByAttacker(r.findings);
      assertExit(r, 1);
    }),
  );
});

test('a forged VRRP advertisement (scapy) against keepalived is a high fhrp-takeover, in the capture and live', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['keepalived', 'tcpdump'], { scapy: true }))) return;
  const lan = await freshLan(t);
  const dir = mkdtempSync(join(workDir, 'forged-'));
  const pcap = join(dir, 'vrrp-forged.pcap');
  const cap = await lan.startCapture(pcap);
  // The live sensor on the bridge: its kernel filter must let VRRP (IP protocol 112) through.
  const live = skipUnlessPcapAddon(t) ? startWatchIn(t, lan.bridgeNs, ['--iface', 'br0', '--format', 'jsonl', '--fail-on', 'none']) : undefined;
  if (live) await live.waitStderr(/watching br0/, 15_000);
  const master = keepalived(lan, 'gateway', dir, 150);
  await sleep(4000);
  await lan.exec('attacker', [scapyPython()!, SPEAKER, 'vrrp', 'eth0', ATTACKER.mac, ATTACKER.ip, String(VRID), '200', VIP, '3'], { timeoutMs: 30_000 });
  const seen = live ? await live.waitFinding((f) => f.rule_id === 'fhrp-takeover' && hasEntity(f, 'ip', ATTACKER.ip, 'attacker'), 'fhrp-takeover from the live sensor', 20_000) : undefined;
  await sleep(1000);
  await master.stop('SIGTERM', 3000);
  await settleAndStop(cap, 1000);

  await t.test('the live sensor on the bridge reports it while it happens', (st) => {
    if (!seen) {
      st.skip('native pcap addon not built');
      return;
    }
    assert.equal(seen.severity, 'high', describe([seen]));
    assert.ok(hasEntity(seen, 'mac', ATTACKER.mac, 'attacker') && hasEntity(seen, 'ip', VIP, 'virtual-gateway'), describe([seen]));
  });

  await t.test('scan reports high fhrp-takeover naming the attacker, its TTL and its MAC', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      assert.match(highTakeoverByAttacker(r.findings).message, /TTL is 64, where every VRRP router sends 255/);
      assertExit(r, 1);
    }),
  );
});

test('yersinia claiming the active role of a running HSRP group is a high fhrp-takeover', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['yersinia', 'tcpdump'], { scapy: true }))) return;
  const lan = await freshLan(t);
  const dir = mkdtempSync(join(workDir, 'hsrp-'));
  const pcap = join(dir, 'hsrp-yersinia.pcap');
  const cap = await lan.startCapture(pcap);
  const python = scapyPython()!;
  const active = lan.spawn('gateway', [python, SPEAKER, 'hsrp', 'eth0', GATEWAY.mac, GATEWAY.ip, '16', '110', '1', VIP, '30'], 'hsrp@gateway');
  const standby = lan.spawn('victim', [python, SPEAKER, 'hsrp', 'eth0', VICTIM.mac, VICTIM.ip, '8', '100', '1', VIP, '30'], 'hsrp@victim');
  await sleep(5000);
  // yersinia's raw HSRP attack: one hello in Active state (0x10) at priority 255 for the group it saw, from
  // the attacker's own MAC (-M). It stops at the first byte on stdin, so it gets a pipe that stays open.
  const attack = lan.spawn(
    'attacker',
    ['sh', '-c', `sleep 60 | yersinia -l /dev/null hsrp -attack 0 -M -interface eth0 -state 10 -priority FF -group 01 -ipvirtual ${VIP} -ipsource ${ATTACKER.ip} -password cisco`],
    'yersinia',
  );
  await attack.waitFor(/Starting NONDOS attack sending raw HSRP packet/, 15_000);
  const deadline = Date.now() + 20_000;
  while (tcpdumpPackets(pcap, `udp port 1985 and src host ${ATTACKER.ip}`).length === 0 && Date.now() < deadline) await sleep(1000);
  await sleep(2000);
  await attack.stop('SIGINT', 2000);
  await active.stop('SIGTERM', 2000);
  await standby.stop('SIGTERM', 2000);
  await settleAndStop(cap, 1000);

  await t.test("capture holds yersinia's hello among the group's", (st) =>
    work.withPcap(st, pcap, () => {
      assert.ok(tcpdumpPackets(pcap, `udp port 1985 and src host ${ATTACKER.ip} and ether src ${ATTACKER.mac}`).length >= 1, 'no HSRP hello from the attacker');
      assert.ok(tcpdumpPackets(pcap, `udp port 1985 and src host ${GATEWAY.ip}`).length >= 3, 'no hellos from the active router');
    }),
  );
  await t.test('scan reports high fhrp-takeover naming the attacker, the virtual gateway and the router it displaces', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      // One takeover, by the attacker: the group's own routers are not blamed.
      assert.match(highTakeoverByAttacker(r.findings).message, /virtual MAC 00:00:0c:07:ac:01/);
      assertExit(r, 1);
    }),
  );
});
