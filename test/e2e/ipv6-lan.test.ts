// End to end: IPv6 first-hop attacks with real tools on a namespace LAN
// (radvd, THC kill_router6 and parasite6, dnsmasq with dhclient -6, kernel
// redirects of a forwarding attacker), captured on the bridge, then `sniffwatch scan`.
// Only ULA/link-local IPv6 (fd53:7700::/48) and 198.18.0.0/15. Needs root.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { atLeast, describe, hasEntity, isAtLeast } from '../helpers/captures.js';
import type { CliRun } from '../helpers/cli.js';
import { assertExit, assertNothingLoud, E2eWorkDir, freshLan, scanCapture, settleAndStop, skipUnless, tcpdumpPackets } from '../helpers/e2e.js';
import { ATTACKER, GATEWAY, sleep, UPSTREAM, VICTIM, waitLinkLocal, type Background, type Lan } from '../helpers/netns-lan.js';

const work = new E2eWorkDir('ipv6');
const workDir = work.path;

const LAN_PREFIX = 'fd53:7700::';
const ROGUE_PREFIX = 'fd53:7701::';
const UPSTREAM_PREFIX = 'fd53:7799::';

function scan(pcap: string): CliRun {
  return scanCapture(pcap, ['--min-severity', 'info', '--fail-on', 'medium', '--no-progress']);
}

/** tcpdump's verbose reading of the capture with link-layer addresses, one line per packet. */
function tcpdumpLines(pcap: string, filter: string): string[] {
  return tcpdumpPackets(pcap, filter, ['-e', '-v']);
}

interface V6Lan {
  lan: Lan;
  gatewayLl: string;
  victimLl: string;
  attackerLl: string;
}

/** A LAN with IPv6 on, the gateway forwarding IPv6 and holding fd53:7700::1, every link-local address usable. */
async function freshV6Lan(t: TestContext): Promise<V6Lan> {
  const lan = await freshLan(t, { ipv6: true });
  await lan.exec('gateway', ['ip', '-6', 'addr', 'add', `${LAN_PREFIX}1/64`, 'dev', 'eth0', 'nodad']);
  await lan.sysctl('gateway', 'net.ipv6.conf.all.forwarding', '1');
  const [gatewayLl, victimLl, attackerLl] = await Promise.all(['gateway', 'victim', 'attacker'].map((n) => waitLinkLocal(lan, n)));
  return { lan, gatewayLl: gatewayLl!, victimLl: victimLl!, attackerLl: attackerLl! };
}

/** radvd in `node`'s namespace, advertising every 3-4 s (radvd's minimum). */
function startRadvd(lan: Lan, node: string, name: string, body: string): Background {
  const conf = join(workDir, `${name}.conf`);
  writeFileSync(conf, `interface eth0 {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 4;\n${body}\n};\n`);
  return lan.spawn(node, ['radvd', '-n', '-m', 'stderr', '-C', conf, '-p', join(workDir, `${name}.pid`)], name);
}

const GATEWAY_RADVD = `  AdvManagedFlag on;\n  prefix ${LAN_PREFIX}/64 { };\n  RDNSS ${LAN_PREFIX}1 { };`;

/** dnsmasq as a DHCPv6 server only (no DNS, no RA) leasing from `range`. */
function startDhcpv6Server(lan: Lan, node: string, name: string, range: string, dns: string, lease: string): Background {
  return lan.spawn(
    node,
    [
      'dnsmasq',
      '--keep-in-foreground',
      '--no-daemon',
      '--port=0',
      '--interface=eth0',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      `--dhcp-range=${range},64,${lease}`,
      `--dhcp-option=option6:dns-server,[${dns}]`,
      `--pid-file=${join(workDir, `${name}.pid`)}`,
      `--dhcp-leasefile=${join(workDir, `${name}.leases`)}`,
      '--log-dhcp',
    ],
    name,
  );
}

/** One DHCPv6 exchange by the victim's dhclient (not touching its addresses); resolves when it bound a lease. */
async function dhcpv6Client(lan: Lan, name: string): Promise<string> {
  const client = lan.spawn(
    'victim',
    ['dhclient', '-6', '-1', '-d', '-v', '-lf', join(workDir, `${name}.leases`), '-pf', join(workDir, `${name}.pid`), '-sf', '/bin/true', 'eth0'],
    name,
  );
  try {
    await client.waitFor(/Bound to lease/, 30_000);
  } finally {
    await client.stop('SIGTERM', 5000);
  }
  return client.output();
}

test('benign: radvd on the gateway, its DHCPv6 server and a client raise nothing of medium or above', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['radvd', 'dnsmasq', 'dhclient']))) return;
  const { lan, gatewayLl } = await freshV6Lan(t);
  const pcap = join(workDir, 'benign.pcap');
  const cap = await lan.startCapture(pcap);
  const radvd = startRadvd(lan, 'gateway', 'gw-radvd', GATEWAY_RADVD);
  const dhcp = startDhcpv6Server(lan, 'gateway', 'gw-dhcp6', `${LAN_PREFIX}100,${LAN_PREFIX}1ff`, `${LAN_PREFIX}1`, '1h');
  await sleep(4500);
  await dhcpv6Client(lan, 'benign-client');
  await lan.exec('victim', ['ping', '-6', '-n', '-c', '3', '-i', '0.3', `${LAN_PREFIX}1`], { timeoutMs: 10_000 });
  await lan.exec('victim', ['ping', '-n', '-c', '2', '-i', '0.3', UPSTREAM.ip], { timeoutMs: 10_000 });
  await dhcp.stop('SIGTERM', 5000);
  // A router shutting down sends a final RA with lifetime 0: that is not an attack.
  await radvd.stop('SIGTERM', 5000);
  await settleAndStop(cap);

  await t.test('capture holds the router advertisements and a DHCPv6 reply', (st) =>
    work.withPcap(st, pcap, () => {
      const ras = tcpdumpLines(pcap, 'icmp6 and ip6[40] == 134');
      assert.ok(ras.length >= 2, `expected RAs in the capture, got ${ras.length}`);
      assert.ok(ras.every((l) => l.includes(`${GATEWAY.mac} >`) && l.includes(`${gatewayLl} >`)), `RAs from another sender:\n${ras.join('\n')}`);
      assert.ok(tcpdumpLines(pcap, 'udp src port 547').some((l) => /dhcp6 reply/.test(l)), 'no DHCPv6 reply from the gateway');
    }),
  );
  await t.test('scan reports nothing medium or above, exit 0', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scan(pcap);
      assertNothingLoud(r.findings);
      assertExit(r, 0);
      const server = r.findings.find((f) => f.rule_id === 'ipv6-rogue-dhcpv6');
      assert.ok(server && hasEntity(server, 'mac', GATEWAY.mac, 'server'), `the gateway's DHCPv6 server is inventoried at low:\n${describe(r.findings)}`);
    }),
  );
});

test('a second radvd on the attacker advertising its own prefix and DNS server is a critical rogue router', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['radvd']))) return;
  const { lan, attackerLl } = await freshV6Lan(t);
  const pcap = join(workDir, 'rogue-radvd.pcap');
  const cap = await lan.startCapture(pcap);
  const radvd = startRadvd(lan, 'gateway', 'gw-radvd2', GATEWAY_RADVD);
  await sleep(4500);
  await lan.sysctl('attacker', 'net.ipv6.conf.all.forwarding', '1');
  const rogue = startRadvd(lan, 'attacker', 'rogue-radvd', `  AdvDefaultPreference high;\n  prefix ${ROGUE_PREFIX}/64 { };\n  RDNSS ${attackerLl} { };`);
  await sleep(5000);
  const routes = (await lan.exec('victim', ['ip', '-6', 'route', 'show', 'default'], { timeoutMs: 5000 })).stdout;
  t.diagnostic(`victim default routes: ${routes.trim().replace(/\n/g, ' | ')}`);
  await rogue.stop('SIGTERM', 5000);
  await radvd.stop('SIGTERM', 5000);
  await settleAndStop(cap);

  await t.test('capture holds RAs from the attacker', (st) =>
    work.withPcap(st, pcap, () => {
      const ras = tcpdumpLines(pcap, 'icmp6 and ip6[40] == 134').filter((l) => l.includes(`${ATTACKER.mac} >`));
      assert.ok(ras.some((l) => l.includes(`${ROGUE_PREFIX}/64`)), `no RA with the rogue prefix from ${ATTACKER.mac}`);
    }),
  );
  await t.test('scan reports a critical rogue router naming the attacker link-local address and MAC', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scan(pcap);
      const hit = r.findings.find((f) => f.rule_id === 'ipv6-rogue-router-advertisement');
      assert.ok(hit, `no rogue RA finding:\n${describe(r.findings)}`);
      assert.equal(hit.severity, 'critical', describe([hit]));
      assert.ok(hit.attack.techniques.includes('T1557'));
      assert.ok(hasEntity(hit, 'ip', attackerLl, 'attacker'), describe([hit]));
      assert.ok(hasEntity(hit, 'mac', ATTACKER.mac, 'attacker'), describe([hit]));
      assert.ok(hasEntity(hit, 'mac', GATEWAY.mac, 'legitimate'), describe([hit]));
      assertExit(r, 1);
      // The legitimate router is never the one blamed.
      assert.ok(!atLeast(r.findings, 'medium').some((f) => hasEntity(f, 'mac', GATEWAY.mac, 'attacker')), describe(atLeast(r.findings, 'medium')));
    }),
  );
});

test('a rogue radvd heard before the gateway\'s loses the trust once the gateway, seen routing IPv4, advertises', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['radvd']))) return;
  const { lan, attackerLl } = await freshV6Lan(t);
  const pcap = join(workDir, 'rogue-radvd-first.pcap');
  const cap = await lan.startCapture(pcap);
  // The capture starts during the attack: the rogue's RAs come first.
  await lan.sysctl('attacker', 'net.ipv6.conf.all.forwarding', '1');
  const rogue = startRadvd(lan, 'attacker', 'rogue-radvd-first', `  AdvDefaultPreference high;\n  prefix ${ROGUE_PREFIX}/64 { };\n  RDNSS ${attackerLl} { };`);
  await sleep(4500);
  // The gateway routes the victim's IPv4 traffic, then its own radvd advertises.
  await lan.exec('victim', ['ping', '-n', '-c', '3', '-i', '0.3', UPSTREAM.ip], { timeoutMs: 15_000 });
  const radvd = startRadvd(lan, 'gateway', 'gw-radvd-late', GATEWAY_RADVD);
  await sleep(9000);
  await rogue.stop('SIGTERM', 5000);
  await radvd.stop('SIGTERM', 5000);
  await settleAndStop(cap);

  await t.test('capture holds the rogue\'s RA before the gateway\'s, and the gateway forwarding IPv4', (st) =>
    work.withPcap(st, pcap, () => {
      const ras = tcpdumpLines(pcap, 'icmp6 and ip6[40] == 134');
      const firstRogue = ras.findIndex((l) => l.includes(`${ATTACKER.mac} >`));
      const firstGateway = ras.findIndex((l) => l.includes(`${GATEWAY.mac} >`));
      assert.ok(firstRogue >= 0 && firstGateway > firstRogue, `RAs in the capture:\n${ras.join('\n')}`);
      assert.ok(tcpdumpPackets(pcap, `icmp and ether src ${GATEWAY.mac} and src host ${UPSTREAM.ip}`).length > 0, 'no forwarded echo reply');
    }),
  );
  await t.test('scan reports the attacker as the rogue router, the gateway as legitimate, never blamed', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scan(pcap);
      const hit = r.findings.find((f) => f.rule_id === 'ipv6-rogue-router-advertisement');
      assert.ok(hit, `no rogue RA finding:\n${describe(r.findings)}`);
      assert.ok(isAtLeast(hit, 'high'), describe([hit]));
      assert.ok(hasEntity(hit, 'mac', ATTACKER.mac, 'attacker') && hasEntity(hit, 'ip', attackerLl, 'attacker'), describe([hit]));
      assert.ok(hasEntity(hit, 'mac', GATEWAY.mac, 'legitimate'), describe([hit]));
      assert.match(hit.message, /trust moved from .* whose MAC forwards IPv4 traffic as a router/);
      assertExit(r, 1);
      assert.ok(!atLeast(r.findings, 'medium').some((f) => hasEntity(f, 'mac', GATEWAY.mac, 'attacker')), describe(atLeast(r.findings, 'medium')));
    }),
  );
});

test("THC kill_router6 withdrawing the gateway in its name is reported", { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['radvd', 'atk6-kill_router6']))) return;
  const { lan, gatewayLl } = await freshV6Lan(t);
  const pcap = join(workDir, 'kill-router6.pcap');
  const cap = await lan.startCapture(pcap);
  const radvd = startRadvd(lan, 'gateway', 'gw-radvd3', GATEWAY_RADVD);
  await sleep(4500);
  const kill = lan.spawn('attacker', ['atk6-kill_router6', 'eth0', gatewayLl], 'kill_router6');
  await sleep(7000);
  await kill.stop('SIGINT', 5000);
  await radvd.stop('SIGTERM', 5000);
  await settleAndStop(cap);
  t.diagnostic(`kill_router6: ${kill.output().trim().split('\n').at(-1) ?? ''}`);

  await t.test('capture holds lifetime-0 RAs in the gateway\'s name from the attacker MAC', (st) =>
    work.withPcap(st, pcap, () => {
      const forged = tcpdumpLines(pcap, 'icmp6 and ip6[40] == 134').filter((l) => l.includes(`${ATTACKER.mac} >`) && l.includes(`${gatewayLl} >`));
      assert.ok(forged.some((l) => /router lifetime 0s/.test(l)), `no forged lifetime-0 RA: ${forged.length} RAs from the attacker`);
    }),
  );
  await t.test('scan reports ipv6-router-kill: attacker MAC, impersonated gateway address', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scan(pcap);
      const hit = r.findings.find((f) => f.rule_id === 'ipv6-router-kill' && f.severity === 'high');
      assert.ok(hit, `no high ipv6-router-kill finding:\n${describe(r.findings)}`);
      assert.ok(hit.attack.techniques.includes('T1557'));
      assert.ok(hasEntity(hit, 'mac', ATTACKER.mac, 'attacker'), describe([hit]));
      assert.ok(hasEntity(hit, 'ip', gatewayLl, 'impersonated'), describe([hit]));
      assert.ok(hasEntity(hit, 'mac', GATEWAY.mac, 'legitimate'), describe([hit]));
      assertExit(r, 1);
    }),
  );
});

test('a rogue dnsmasq DHCPv6 server on the attacker, naming itself as DNS server, is reported against the real one', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnless(t, ['radvd', 'dnsmasq', 'dhclient']))) return;
  const { lan, attackerLl, victimLl } = await freshV6Lan(t);
  await lan.exec('attacker', ['ip', '-6', 'addr', 'add', `${ROGUE_PREFIX}66/64`, 'dev', 'eth0', 'nodad']);
  const pcap = join(workDir, 'rogue-dhcpv6.pcap');
  const cap = await lan.startCapture(pcap);
  const radvd = startRadvd(lan, 'gateway', 'gw-radvd4', GATEWAY_RADVD);
  const legit = startDhcpv6Server(lan, 'gateway', 'gw-dhcp6b', `${LAN_PREFIX}100,${LAN_PREFIX}1ff`, `${LAN_PREFIX}1`, '1h');
  await sleep(2000);
  await dhcpv6Client(lan, 'client-before');
  // mitm6-style: its own link-local address as the DNS server, a 5-minute lease.
  const rogue = startDhcpv6Server(lan, 'attacker', 'rogue-dhcp6', `${ROGUE_PREFIX}100,${ROGUE_PREFIX}1ff`, attackerLl, '5m');
  await sleep(1500);
  await dhcpv6Client(lan, 'client-after');
  // What mitm6 does next: as the client's DNS server, it answers every name with its own link-local address.
  const rogueDns = lan.spawn(
    'attacker',
    ['dnsmasq', '--keep-in-foreground', '--no-daemon', '--interface=eth0', '--bind-interfaces', '--no-resolv', '--no-hosts', `--address=/#/${attackerLl}`, `--pid-file=${join(workDir, 'rogue-dns.pid')}`],
    'rogue-dns',
  );
  await sleep(500);
  const lookup = await lan.exec('victim', ['dig', '+time=2', '+tries=2', '+short', 'AAAA', 'wpad.corp.example', `@${attackerLl}%eth0`], { okCodes: [0, 9] });
  await rogueDns.stop('SIGTERM', 5000);
  await rogue.stop('SIGTERM', 5000);
  await legit.stop('SIGTERM', 5000);
  await radvd.stop('SIGTERM', 5000);
  await settleAndStop(cap);

  await t.test('capture holds an ADVERTISE from the attacker', (st) =>
    work.withPcap(st, pcap, () => {
      const adverts = tcpdumpLines(pcap, 'udp src port 547').filter((l) => l.includes(`${ATTACKER.mac} >`) && /dhcp6 advertise/.test(l));
      assert.ok(adverts.length > 0, 'dnsmasq on the attacker did not answer');
    }),
  );
  await t.test('scan reports ipv6-rogue-dhcpv6 (critical, mitm6 pattern) naming the attacker and the client', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scan(pcap);
      const hit = r.findings.find((f) => f.rule_id === 'ipv6-rogue-dhcpv6' && hasEntity(f, 'mac', ATTACKER.mac, 'attacker'));
      assert.ok(hit, `no rogue DHCPv6 finding naming ${ATTACKER.mac}:\n${describe(r.findings)}`);
      assert.equal(hit.severity, 'critical', describe([hit]));
      assert.ok(hit.attack.techniques.includes('T1557.003'));
      assert.ok(hasEntity(hit, 'ip', attackerLl, 'attacker'), describe([hit]));
      assert.ok(hasEntity(hit, 'ip', attackerLl, 'dns-server'), describe([hit]));
      assert.ok(hasEntity(hit, 'ip', victimLl, 'victim'), describe([hit]));
      assert.ok(hasEntity(hit, 'mac', GATEWAY.mac, 'legitimate'), describe([hit]));
      assert.ok(!atLeast(r.findings, 'medium').some((f) => hasEntity(f, 'mac', GATEWAY.mac, 'attacker')), `the real server is blamed:\n${describe(atLeast(r.findings, 'medium'))}`);
    }),
  );
  await t.test("the rogue server's DNS answer pointing at itself is dns-answer-points-to-contested-host", (st) =>
    work.withPcap(st, pcap, () => {
      assert.equal(lookup.stdout.trim(), attackerLl, `dig through the rogue DNS server: ${lookup.stdout}${lookup.stderr}`);
      const r = scan(pcap);
      const hit = r.findings.find((f) => f.rule_id === 'dns-answer-points-to-contested-host');
      assert.ok(hit, `no dns-answer-points-to-contested-host:\n${describe(r.findings)}`);
      assert.ok(hasEntity(hit, 'ip', attackerLl, 'attacker'), describe([hit]));
      assert.ok(hasEntity(hit, 'mac', ATTACKER.mac, 'attacker'), describe([hit]));
      assert.ok(hasEntity(hit, 'ip', victimLl, 'victim'), describe([hit]));
      assert.ok(hasEntity(hit, 'host', 'wpad.corp.example', 'queried-name'), describe([hit]));
      assert.match(hit.message, /answered DHCPv6 as a rogue server/);
    }),
  );
});

test('a forwarding attacker on the victim\'s path sends kernel ICMP and ICMPv6 redirects, reported against it', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, []))) return;
  const { lan, gatewayLl, attackerLl } = await freshV6Lan(t);
  // An IPv6 upstream behind the gateway, as the IPv4 one is.
  await lan.exec('gateway', ['ip', '-6', 'addr', 'add', `${UPSTREAM_PREFIX}1/64`, 'dev', 'eth1', 'nodad']);
  await lan.exec('upstream', ['ip', '-6', 'addr', 'add', `${UPSTREAM_PREFIX}2/64`, 'dev', 'eth0', 'nodad']);
  await lan.exec('upstream', ['ip', '-6', 'route', 'add', `${LAN_PREFIX}/64`, 'via', `${UPSTREAM_PREFIX}1`]);
  await lan.exec('victim', ['ip', '-6', 'addr', 'add', `${LAN_PREFIX}10/64`, 'dev', 'eth0', 'nodad']);
  // The attacker needs the LAN prefix on-link too: the kernel redirects only hosts it can reach directly.
  await lan.exec('attacker', ['ip', '-6', 'addr', 'add', `${LAN_PREFIX}66/64`, 'dev', 'eth0', 'nodad']);
  const pcap = join(workDir, 'redirects.pcap');
  const cap = await lan.startCapture(pcap);
  await lan.exec('victim', ['ping', '-n', '-c', '2', '-i', '0.3', UPSTREAM.ip], { timeoutMs: 10_000 });
  // The attacker forwards (as an on-path attacker must) and sends redirects (the kernel default).
  await lan.sysctl('attacker', 'net.ipv4.ip_forward', '1');
  await lan.exec('attacker', ['sysctl', '-q', '-w', 'net.ipv4.conf.all.send_redirects=1', 'net.ipv4.conf.eth0.send_redirects=1', 'net.ipv6.conf.all.forwarding=1']);
  await lan.exec('attacker', ['ip', '-6', 'route', 'add', `${UPSTREAM_PREFIX}/64`, 'via', gatewayLl, 'dev', 'eth0']);
  // The victim's traffic to upstream is routed through the attacker.
  await lan.exec('victim', ['ip', 'route', 'replace', '198.19.0.0/24', 'via', ATTACKER.ip]);
  await lan.exec('victim', ['ip', '-6', 'route', 'add', `${UPSTREAM_PREFIX}/64`, 'via', attackerLl, 'dev', 'eth0']);
  await lan.exec('victim', ['ping', '-n', '-c', '3', '-i', '0.3', UPSTREAM.ip], { timeoutMs: 10_000, okCodes: [0, 1] });
  await lan.exec('victim', ['ping', '-6', '-n', '-c', '3', '-i', '0.3', `${UPSTREAM_PREFIX}2`], { timeoutMs: 10_000, okCodes: [0, 1] });
  await settleAndStop(cap);

  await t.test('capture holds redirects from the attacker', (st) =>
    work.withPcap(st, pcap, () => {
      assert.ok(tcpdumpLines(pcap, 'icmp[0] == 5').some((l) => l.includes(`${ATTACKER.mac} >`)), 'no ICMP redirect from the attacker');
      assert.ok(tcpdumpLines(pcap, 'icmp6 and ip6[40] == 137').some((l) => l.includes(`${ATTACKER.mac} >`)), 'no ICMPv6 redirect from the attacker');
    }),
  );
  await t.test('scan reports icmp-redirect for both, naming the attacker and the victim', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scan(pcap);
      const redirects = r.findings.filter((f) => f.rule_id === 'icmp-redirect');
      const v4 = redirects.find((f) => hasEntity(f, 'ip', ATTACKER.ip, 'attacker'));
      assert.ok(v4, `no ICMP redirect finding naming ${ATTACKER.ip}:\n${describe(r.findings)}`);
      assert.ok(isAtLeast(v4, 'medium'));
      assert.ok(v4.attack.techniques.includes('T1557'));
      assert.ok(hasEntity(v4, 'mac', ATTACKER.mac, 'attacker'));
      assert.ok(hasEntity(v4, 'ip', VICTIM.ip, 'victim'));
      assert.ok(hasEntity(v4, 'ip', GATEWAY.ip, 'attacker-controlled'), 'the kernel points the victim at the real gateway');
      const v6 = redirects.find((f) => hasEntity(f, 'ip', attackerLl, 'attacker'));
      assert.ok(v6, `no ICMPv6 redirect finding naming ${attackerLl}:\n${describe(r.findings)}`);
      assert.ok(isAtLeast(v6, 'medium'));
      assert.ok(hasEntity(v6, 'mac', ATTACKER.mac, 'attacker'));
      assert.ok(hasEntity(v6, 'ip', `${LAN_PREFIX}10`, 'victim'));
    }),
  );
});

/** The victim and the gateway resolving each other's link-local and ULA addresses (neighbor caches flushed first). */
async function neighborTraffic(lan: Lan, gatewayLl: string, victimLl: string): Promise<void> {
  await Promise.all(['gateway', 'victim'].map((n) => lan.exec(n, ['ip', '-6', 'neigh', 'flush', 'dev', 'eth0'])));
  // A deadline (-w): while a spoofer holds a binding, replies may never come, and ping would otherwise linger 10 s for them.
  const ping = (node: string, to: string): Promise<unknown> => lan.exec(node, ['ping', '-6', '-n', '-c', '3', '-i', '0.3', '-w', '4', to], { timeoutMs: 10_000, okCodes: [0, 1] });
  await ping('victim', `${gatewayLl}%eth0`);
  await ping('victim', `${LAN_PREFIX}1`);
  await ping('gateway', `${victimLl}%eth0`);
  await ping('gateway', `${LAN_PREFIX}10`);
}

test('benign: hosts resolving and pinging each other over IPv6 and a DAD cycle raise nothing of medium or above', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['radvd']))) return;
  const { lan, gatewayLl, victimLl } = await freshV6Lan(t);
  const pcap = join(workDir, 'nd-benign.pcap');
  const cap = await lan.startCapture(pcap);
  const radvd = startRadvd(lan, 'gateway', 'gw-radvd5', GATEWAY_RADVD);
  await sleep(4500);
  // Added with duplicate address detection: a solicitation from :: for it, then the address in use.
  await lan.exec('victim', ['ip', '-6', 'addr', 'add', `${LAN_PREFIX}10/64`, 'dev', 'eth0']);
  await sleep(2500);
  await neighborTraffic(lan, gatewayLl, victimLl);
  await lan.exec('attacker', ['ping', '-6', '-n', '-c', '2', '-i', '0.3', `${victimLl}%eth0`], { timeoutMs: 10_000, okCodes: [0, 1] });
  await radvd.stop('SIGTERM', 5000);
  await settleAndStop(cap);

  await t.test('capture holds a DAD probe and neighbor advertisements', (st) =>
    work.withPcap(st, pcap, () => {
      assert.ok(tcpdumpLines(pcap, 'icmp6 and ip6[40] == 135 and src host ::').some((l) => l.includes(`who has ${LAN_PREFIX}10`)), 'no DAD probe for the added address');
      assert.ok(tcpdumpLines(pcap, 'icmp6 and ip6[40] == 136').some((l) => l.includes(`${GATEWAY.mac} >`)), 'no neighbor advertisement from the gateway');
    }),
  );
  await t.test('scan reports nothing medium or above, exit 0', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scan(pcap);
      assertNothingLoud(r.findings);
      assertExit(r, 0);
    }),
  );
});

test('THC parasite6 answering neighbor solicitations with its own MAC is reported against it', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['radvd', 'atk6-parasite6']))) return;
  const { lan, gatewayLl, victimLl } = await freshV6Lan(t);
  await lan.exec('victim', ['ip', '-6', 'addr', 'add', `${LAN_PREFIX}10/64`, 'dev', 'eth0', 'nodad']);
  const pcap = join(workDir, 'parasite6.pcap');
  const cap = await lan.startCapture(pcap);
  const radvd = startRadvd(lan, 'gateway', 'gw-radvd6', GATEWAY_RADVD);
  await sleep(4500);
  const parasite = lan.spawn('attacker', ['atk6-parasite6', 'eth0'], 'parasite6');
  await sleep(1500);
  await neighborTraffic(lan, gatewayLl, victimLl);
  await sleep(1000);
  await neighborTraffic(lan, gatewayLl, victimLl);
  await parasite.stop('SIGINT', 5000);
  await radvd.stop('SIGTERM', 5000);
  await settleAndStop(cap);
  t.diagnostic(`parasite6: ${parasite.output().trim().split('\n').slice(-3).join(' | ')}`);
  const claimed = [gatewayLl, victimLl, `${LAN_PREFIX}1`, `${LAN_PREFIX}10`];

  await t.test('capture holds neighbor advertisements from the attacker for other stations\' addresses', (st) =>
    work.withPcap(st, pcap, () => {
      const forged = tcpdumpLines(pcap, 'icmp6 and ip6[40] == 136').filter((l) => l.includes(`${ATTACKER.mac} >`));
      assert.ok(forged.some((l) => claimed.some((ip) => l.includes(`tgt is ${ip}`))), `no advertisement of another station's address from ${ATTACKER.mac}:\n${forged.slice(0, 5).join('\n')}`);
    }),
  );
  await t.test('scan reports ND spoofing at high or above naming the attacker MAC and an impersonated address', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scan(pcap);
      const hits = atLeast(r.findings, 'high').filter((f) => f.rule_id.startsWith('ndp-') && hasEntity(f, 'mac', ATTACKER.mac, 'attacker'));
      assert.ok(hits.length > 0, `no high ndp-* finding naming ${ATTACKER.mac}:\n${describe(r.findings)}`);
      assert.ok(hits.every((f) => f.attack.techniques.includes('T1557')));
      assert.ok(hits.some((f) => claimed.some((ip) => hasEntity(f, 'ip', ip, 'impersonated'))), describe(hits));
      assertExit(r, 1);
      for (const owner of [GATEWAY.mac, VICTIM.mac]) {
        assert.ok(!atLeast(r.findings, 'medium').some((f) => hasEntity(f, 'mac', owner, 'attacker')), `${owner} is blamed:\n${describe(atLeast(r.findings, 'medium'))}`);
      }
    }),
  );
});
