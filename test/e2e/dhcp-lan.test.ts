// End to end: a real DHCP server (dnsmasq) on the gateway, a real client
// (ISC dhclient) on the victim, then a rogue dnsmasq and yersinia's DHCP
// starvation on the attacker; captured on the bridge and scanned with
// `sniffwatch scan`. Needs root; see README.md.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { describe, hasEntity } from '../helpers/captures.js';
import type { Finding } from '../../src/findings/finding.js';
import { assertExit, assertNothingLoud, dhcpReplies, E2eWorkDir, freshLan, scanCapture, settleAndStop, skipUnless, tcpdumpPackets } from '../helpers/e2e.js';
import {
  acquireDhcpLease,
  releaseDhcpLease,
  dnsmasqDhcpArgv,
  dnsmasqRelayArgv,
  sleep,
  ATTACKER,
  DNSMASQ_DHCP_READY,
  GATEWAY,
  UPSTREAM,
  VICTIM,
  type Background,
  type HostSpec,
  type Lan,
} from '../helpers/netns-lan.js';

const work = new E2eWorkDir('dhcp');
const workDir = work.path;

/** dnsmasq as the DHCP server of `host` (dnsmasqDhcpArgv), leases and pid file in `dir`. */
function startDnsmasq(lan: Lan, host: string, dir: string, pool: [string, string], router: string, dns: string): Background {
  return lan.spawn(host, dnsmasqDhcpArgv(host, dir, pool, router, dns), `dnsmasq@${host}`);
}

/** Scans `pcap` and returns its critical T1557.003 dhcp-rogue-server finding naming the attacker's address and MAC, handing out to the victim. */
function criticalRogueFromAttacker(pcap: string): { hit: Finding; all: string; findings: Finding[] } {
  const r = scanCapture(pcap);
  const all = describe(r.findings);
  assertExit(r, 1);
  const hit = r.findings.find((f) => f.rule_id === 'dhcp-rogue-server');
  assert.ok(hit, `no dhcp-rogue-server finding:\n${all}`);
  assert.equal(hit.severity, 'critical', all);
  assert.deepEqual(hit.attack.techniques, ['T1557.003']);
  assert.ok(hasEntity(hit, 'ip', ATTACKER.ip, 'attacker'), all);
  assert.ok(hasEntity(hit, 'mac', ATTACKER.mac, 'attacker'), all);
  assert.ok(hasEntity(hit, 'mac', VICTIM.mac, 'victim'), all);
  return { hit, all, findings: r.findings };
}

test('benign: dnsmasq leases, renews and releases to dhclient; no medium+ finding', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['dnsmasq', 'dhclient']))) return;
  const lan = await freshLan(t);
  const dir = mkdtempSync(join(workDir, 'benign-'));
  const pcap = join(dir, 'dhcp-benign.pcap');
  const cap = await lan.startCapture(pcap);
  const server = startDnsmasq(lan, 'gateway', dir, ['198.18.0.100', '198.18.0.150'], GATEWAY.ip, GATEWAY.ip);
  await server.waitFor(DNSMASQ_DHCP_READY, 15_000);
  const first = await acquireDhcpLease(lan, dir, true);
  // INIT-REBOOT with the remembered lease (REQUEST/ACK), a fresh DORA, then a release.
  const again = await acquireDhcpLease(lan, dir, false);
  await acquireDhcpLease(lan, dir, true);
  await releaseDhcpLease(lan, dir);
  await server.stop('SIGTERM', 5000);
  await settleAndStop(cap);
  t.diagnostic(`leases: ${first}, ${again}`);

  await t.test('capture holds the gateway\'s OFFER and ACKs', (st) =>
    work.withPcap(st, pcap, () => {
      const replies = dhcpReplies(pcap);
      assert.ok(replies.some((r) => r.type === 'Offer' && r.serverId === GATEWAY.ip && r.ethSrc === GATEWAY.mac), JSON.stringify(replies));
      assert.ok(replies.filter((r) => r.type === 'ACK').length >= 2, JSON.stringify(replies));
      assert.ok(replies.every((r) => r.serverId === GATEWAY.ip));
    }),
  );
  await t.test('scan reports nothing medium or above, exit 0', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      assertNothingLoud(r.findings);
      assertExit(r, 0);
    }),
  );
});

test('rogue dnsmasq on the attacker handing out itself as router and DNS is dhcp-rogue-server', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnless(t, ['dnsmasq', 'dhclient']))) return;
  const lan = await freshLan(t);
  const dir = mkdtempSync(join(workDir, 'rogue-'));
  const pcap = join(dir, 'dhcp-rogue.pcap');
  const cap = await lan.startCapture(pcap);
  const server = startDnsmasq(lan, 'gateway', dir, ['198.18.0.100', '198.18.0.150'], GATEWAY.ip, GATEWAY.ip);
  await server.waitFor(DNSMASQ_DHCP_READY, 15_000);
  // The network's server answers first: it is the one the scan trusts.
  await acquireDhcpLease(lan, dir, true);
  const rogue = startDnsmasq(lan, 'attacker', dir, ['198.18.0.200', '198.18.0.220'], ATTACKER.ip, ATTACKER.ip);
  await rogue.waitFor(DNSMASQ_DHCP_READY, 15_000);
  // Both servers answer every DISCOVER; which lease the client takes depends on who is faster.
  const leases: string[] = [];
  for (let i = 0; i < 3; i++) leases.push(await acquireDhcpLease(lan, dir, true));
  await releaseDhcpLease(lan, dir);
  await rogue.stop('SIGTERM', 5000);
  await server.stop('SIGTERM', 5000);
  await settleAndStop(cap);
  t.diagnostic(`leases taken while the rogue ran: ${leases.join(', ')}`);

  await t.test('capture holds OFFERs from the rogue naming itself as router', (st) =>
    work.withPcap(st, pcap, () => {
      const replies = dhcpReplies(pcap);
      assert.ok(
        replies.some((r) => r.type === 'Offer' && r.serverId === ATTACKER.ip && r.ethSrc === ATTACKER.mac && r.router === ATTACKER.ip),
        `no rogue OFFER in the capture: ${JSON.stringify(replies)}`,
      );
    }),
  );
  await t.test('scan reports critical T1557.003 dhcp-rogue-server with the attacker IP and MAC', (st) =>
    work.withPcap(st, pcap, () => {
      const { hit, all, findings } = criticalRogueFromAttacker(pcap);
      assert.ok(hasEntity(hit, 'ip', ATTACKER.ip, 'attacker-controlled'), all);
      assert.ok(hasEntity(hit, 'ip', GATEWAY.ip, 'legitimate'), all);
      assert.ok(!findings.some((f) => f.rule_id === 'dhcp-rogue-server' && hasEntity(f, 'ip', GATEWAY.ip, 'attacker')), `the real server was reported:\n${all}`);
    }),
  );
});

test('TunnelVision: a rogue dnsmasq handing out the network\'s own router and DNS with /1 static routes (option 121) through itself is critical dhcp-rogue-server and dhcp-route-injection', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnless(t, ['dnsmasq', 'dhclient', 'tshark']))) return;
  const lan = await freshLan(t);
  const dir = mkdtempSync(join(workDir, 'tunnelvision-'));
  const pcap = join(dir, 'dhcp-tunnelvision.pcap');
  const cap = await lan.startCapture(pcap);
  const server = startDnsmasq(lan, 'gateway', dir, ['198.18.0.100', '198.18.0.150'], GATEWAY.ip, GATEWAY.ip);
  await server.waitFor(DNSMASQ_DHCP_READY, 15_000);
  await acquireDhcpLease(lan, dir, true);
  // The rogue looks like the network's server (same router, same DNS); only its routes differ. Forced: dhclient does not ask for option 121 here.
  const routes = `--dhcp-option-force=121,0.0.0.0/1,${ATTACKER.ip},128.0.0.0/1,${ATTACKER.ip}`;
  const rogue = lan.spawn('attacker', [...dnsmasqDhcpArgv('attacker', dir, ['198.18.0.200', '198.18.0.220'], GATEWAY.ip, GATEWAY.ip), routes], 'dnsmasq@attacker');
  await rogue.waitFor(DNSMASQ_DHCP_READY, 15_000);
  for (let i = 0; i < 2; i++) await acquireDhcpLease(lan, dir, true);
  await rogue.stop('SIGTERM', 5000);
  await server.stop('SIGTERM', 5000);
  await settleAndStop(cap);

  await t.test('tshark reads the two /1 routes through the attacker in the rogue\'s OFFERs', (st) =>
    work.withPcap(st, pcap, () => {
      // tshark gives each route as its bytes: prefix length, significant octets, router.
      const via = Buffer.from(ATTACKER.ip.split('.').map(Number)).toString('hex');
      const routes = execFileSync('tshark', ['-n', '-r', pcap, '-Y', `dhcp.option.dhcp == 2 && ip.src == ${ATTACKER.ip}`, '-T', 'fields', '-e', 'dhcp.option.classless_static_route'], { encoding: 'utf8' }).trim().split('\n');
      assert.ok(routes.length > 0 && routes.every((r) => r === `0100${via},0180${via}`), routes.join('\n'));
    }),
  );
  await t.test('scan: critical dhcp-rogue-server naming the routes, and high dhcp-route-injection naming the attacker and its routes', (st) =>
    work.withPcap(st, pcap, () => {
      const { hit, all, findings } = criticalRogueFromAttacker(pcap);
      assert.match(hit.message, /static routes 0\.0\.0\.0\/1 via 198\.18\.0\.66, 128\.0\.0\.0\/1 via 198\.18\.0\.66/, all);
      const inj = findings.find((f) => f.rule_id === 'dhcp-route-injection');
      assert.ok(inj, all);
      assert.equal(inj.severity, 'high');
      assert.ok(hasEntity(inj, 'ip', ATTACKER.ip, 'attacker') && hasEntity(inj, 'mac', ATTACKER.mac, 'attacker') && hasEntity(inj, 'ip', ATTACKER.ip, 'attacker-controlled'), all);
      assert.match(inj.message, /TunnelVision/);
      assert.ok(!findings.some((f) => f.rule_id === 'dhcp-route-injection' && hasEntity(f, 'ip', GATEWAY.ip, 'server')), `the network's server was reported:\n${all}`);
    }),
  );
});

test('a lone rogue dnsmasq, with the network\'s server silent, is dhcp-rogue-server by the gateway seen forwarding', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnless(t, ['dnsmasq', 'dhclient']))) return;
  const lan = await freshLan(t);
  const dir = mkdtempSync(join(workDir, 'lone-rogue-'));
  const pcap = join(dir, 'dhcp-lone-rogue.pcap');
  const cap = await lan.startCapture(pcap);
  // Ordinary traffic first: the gateway forwards the victim's pings to the upstream host.
  await lan.exec('victim', ['ping', '-n', '-c', '3', '-i', '0.3', UPSTREAM.ip], { timeoutMs: 15_000 });
  // No DHCP server of the network's answers in this capture: only the rogue does.
  const rogue = startDnsmasq(lan, 'attacker', dir, ['198.18.0.200', '198.18.0.220'], ATTACKER.ip, ATTACKER.ip);
  await rogue.waitFor(DNSMASQ_DHCP_READY, 15_000);
  const lease = await acquireDhcpLease(lan, dir, true);
  await releaseDhcpLease(lan, dir);
  await rogue.stop('SIGTERM', 5000);
  await settleAndStop(cap);
  t.diagnostic(`lease taken from the rogue: ${lease}`);

  await t.test('capture holds the forwarded pings and only the rogue\'s DHCP answers', (st) =>
    work.withPcap(st, pcap, () => {
      const replies = dhcpReplies(pcap);
      assert.ok(replies.some((r) => r.type === 'Offer' && r.serverId === ATTACKER.ip && r.router === ATTACKER.ip), JSON.stringify(replies));
      assert.ok(replies.every((r) => r.serverId === ATTACKER.ip), JSON.stringify(replies));
      assert.ok(tcpdumpPackets(pcap, `icmp and ether src ${GATEWAY.mac} and src host ${UPSTREAM.ip}`).length > 0, 'no forwarded echo reply');
    }),
  );
  await t.test('scan reports critical dhcp-rogue-server naming the attacker and the gateway it bypasses', (st) =>
    work.withPcap(st, pcap, () => {
      const { hit, all } = criticalRogueFromAttacker(pcap);
      assert.ok(hasEntity(hit, 'ip', GATEWAY.ip, 'gateway'), all);
      assert.match(hit.message, /the subnet's gateway, seen forwarding traffic, is 198\.18\.0\.1/);
    }),
  );
});

/** The second server of a failover pair, behind the gateway on a link of its own. */
const SECOND_SERVER: HostSpec = { name: 'dhcpb', ip: '198.19.2.2', mac: '02:53:57:00:02:02' };

test('a failover pair behind the gateway\'s relay agent (dnsmasq --dhcp-relay to two dnsmasq servers, split scope) stays quiet; a rogue beside it does not', { timeout: 150_000 }, async (t) => {
  if (!(await skipUnless(t, ['dnsmasq', 'dhclient']))) return;
  const lan = await freshLan(t, { routedHosts: [SECOND_SERVER] });
  const dir = mkdtempSync(join(workDir, 'relay-'));
  const pcap = join(dir, 'dhcp-relay.pcap');
  // The whole run, and its first part alone (before the rogue starts).
  const before = join(dir, 'dhcp-relay-before-rogue.pcap');
  const cap = await lan.startCapture(pcap);
  const capBefore = await lan.startCapture(before);
  // Split scope: each server leases half of the LAN's pool, both handing out the gateway and the same DNS server.
  const a = startDnsmasq(lan, 'upstream', dir, ['198.18.0.100', '198.18.0.149'], GATEWAY.ip, UPSTREAM.ip);
  const b = startDnsmasq(lan, SECOND_SERVER.name, dir, ['198.18.0.150', '198.18.0.199'], GATEWAY.ip, UPSTREAM.ip);
  await a.waitFor(DNSMASQ_DHCP_READY, 15_000);
  await b.waitFor(DNSMASQ_DHCP_READY, 15_000);
  const relay = lan.spawn('gateway', dnsmasqRelayArgv('gateway', dir, GATEWAY.ip, [UPSTREAM.ip, SECOND_SERVER.ip]), 'dnsmasq-relay@gateway');
  await relay.waitFor(/DHCP relay from 198\.18\.0\.1 to 198\.19\.2\.2/, 15_000);
  const leases: string[] = [];
  for (let i = 0; i < 3; i++) leases.push(await acquireDhcpLease(lan, dir, true));
  await settleAndStop(capBefore);
  // Then a rogue on the LAN itself.
  const rogue = startDnsmasq(lan, 'attacker', dir, ['198.18.0.200', '198.18.0.220'], ATTACKER.ip, ATTACKER.ip);
  await rogue.waitFor(DNSMASQ_DHCP_READY, 15_000);
  for (let i = 0; i < 2; i++) leases.push(await acquireDhcpLease(lan, dir, true));
  await releaseDhcpLease(lan, dir);
  for (const p of [rogue, relay, b, a]) await p.stop('SIGTERM', 5000);
  await settleAndStop(cap);
  t.diagnostic(`leases: ${leases.join(', ')}`);

  await t.test('capture holds OFFERs of both servers that the gateway sent on from its giaddr', (st) =>
    work.withPcap(st, pcap, () => {
      const replies = dhcpReplies(before);
      for (const server of [UPSTREAM.ip, SECOND_SERVER.ip]) {
        assert.ok(replies.some((r) => r.type === 'Offer' && r.serverId === server && r.ethSrc === GATEWAY.mac && r.ipSrc === GATEWAY.ip), `${server}: ${JSON.stringify(replies)}`);
      }
    }),
  );
  await t.test('scan: the two relayed servers are neither rogue nor competing; the rogue on the LAN is critical dhcp-rogue-server', (st) =>
    work.withPcap(st, pcap, () => {
      const quiet = scanCapture(before);
      assertNothingLoud(quiet.findings);
      assert.deepEqual(quiet.findings.filter((f) => f.rule_id.startsWith('dhcp-')), [], describe(quiet.findings));
      const { hit, all, findings } = criticalRogueFromAttacker(pcap);
      assert.ok(hasEntity(hit, 'ip', ATTACKER.ip, 'attacker-controlled'), all);
      for (const server of [UPSTREAM.ip, SECOND_SERVER.ip]) {
        assert.ok(!findings.some((f) => f.rule_id.startsWith('dhcp-') && (hasEntity(f, 'ip', server, 'attacker') || hasEntity(f, 'ip', server, 'suspect'))), `${server} blamed:\n${all}`);
      }
    }),
  );
});

test('yersinia DHCP starvation (attack 1) is dhcp-starvation', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['dnsmasq', 'yersinia', 'tc']))) return;
  const lan = await freshLan(t);
  const dir = mkdtempSync(join(workDir, 'starve-'));
  const pcap = join(dir, 'dhcp-starvation.pcap');
  // yersinia sends as fast as the link takes (hundreds of thousands of frames a
  // second on veth); a token bucket keeps the capture small.
  await lan.exec('attacker', ['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', '2mbit', 'burst', '16kb', 'latency', '50ms'], { timeoutMs: 10_000 });
  const cap = await lan.startCapture(pcap);
  const server = startDnsmasq(lan, 'gateway', dir, ['198.18.0.100', '198.18.0.150'], GATEWAY.ip, GATEWAY.ip);
  await server.waitFor(DNSMASQ_DHCP_READY, 15_000);
  // yersinia stops at the first byte on stdin, so it gets a pipe that stays
  // open and empty. Its log (-l) and stderr would hold one line per frame the
  // token bucket refused (ENOBUFS).
  const attack = lan.spawn('attacker', ['sh', '-c', 'cd "$1" && sleep 120 | yersinia -l /dev/null dhcp -attack 1 -interface eth0 2>/dev/null', 'sh', dir], 'yersinia');
  await attack.waitFor(/Starting DOS attack sending DISCOVER/, 15_000);
  await sleep(3000);
  await attack.stop('SIGINT', 2000);
  await server.stop('SIGTERM', 5000);
  await settleAndStop(cap);

  await t.test('capture holds DISCOVERs from many client addresses', (st) =>
    work.withPcap(st, pcap, () => {
      const requests = tcpdumpPackets(pcap, 'udp dst port 67');
      const clients = new Set(requests.map((l) => /Request from ([0-9a-f:]{17})/.exec(l)?.[1]).filter((mac) => mac !== undefined));
      assert.ok(clients.size >= 100, `only ${clients.size} client addresses in the capture`);
    }),
  );
  await t.test('scan reports high T1557.003 dhcp-starvation', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      const all = describe(r.findings);
      assertExit(r, 1);
      const hit = r.findings.find((f) => f.rule_id === 'dhcp-starvation');
      assert.ok(hit, `no dhcp-starvation finding:\n${all}`);
      assert.equal(hit.severity, 'high');
      assert.deepEqual(hit.attack.techniques, ['T1557.003']);
      assert.ok(hit.entities.some((e) => e.role === 'claimed-client'), all);
      assert.match(hit.message, /distinct client hardware addresses sent DHCP DISCOVER\/REQUEST within/);
    }),
  );
});
