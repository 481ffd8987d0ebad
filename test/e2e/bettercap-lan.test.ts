// End to end: bettercap's spoofing modules on a namespace LAN (arp.spoof,
// dns.spoof on top of it, dhcp6.spoof, the mitm6 technique, and ndp.spoof),
// captured on the bridge, then `sniffwatch scan` on the capture. Needs root
// and Debian's bettercap (2.32); see README.md. IPv6 only in ULA fd53:7720::/47
// and link-local.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { assertNotBlamed, atLeast, describe, hasEntity, isAtLeast } from '../helpers/captures.js';
import { arpReplies, assertExit, checkNdSpoofing, E2eWorkDir, freshLan, scanCapture, settleAndStop, skipUnless, tcpdumpPackets, victimNeighbour } from '../helpers/e2e.js';
import { sleep, startDnsmasqDns, waitLinkLocal, ATTACKER, GATEWAY, UPSTREAM, VICTIM, type Background, type Lan } from '../helpers/netns-lan.js';

const work = new E2eWorkDir('bettercap');
const workDir = work.path;

const INTRANET = 'intranet.example';
const INTRANET_ADDR = '198.18.0.50';
const LAN6_PREFIX = 'fd53:7720::';
const ROGUE6_PREFIX = 'fd53:7721::';

/**
 * Starts a bettercap session on the attacker's eth0 that runs `commands`
 * (ending with `sleep N; q`, so it stops by itself) and waits until its
 * output matches `ready` (a module's own start line: the session's first
 * events can be printed before or after the event stream starts, so they are
 * no signal). Kept offline and stateless: an empty caplets directory, no
 * history or environment file. The gateway is given because 2.32 does not
 * find the namespace's default gateway by itself ("Could not find mac for").
 * Its resolver is bind-mounted to loopback inside the session's own mount
 * namespace (ip netns exec made one), so net.recon's reverse lookups of the
 * hosts it sees neither reach for the machine's resolver nor show up in the
 * capture. -debug: every packet a module sends is logged, for failure messages.
 */
async function startBettercap(lan: Lan, label: string, commands: string[], ready: RegExp): Promise<Background> {
  const caplets = join(workDir, 'caplets');
  mkdirSync(caplets, { recursive: true });
  const resolvConf = join(workDir, 'attacker-resolv.conf');
  writeFileSync(resolvConf, 'nameserver 127.0.0.1\n');
  const argv = [
    'bettercap',
    '-iface',
    'eth0',
    '-gateway-override',
    GATEWAY.ip,
    '-caplets-path',
    caplets,
    '-no-history',
    '-env-file',
    '',
    '-no-colors',
    '-debug',
    '-eval',
    commands.join('; '),
  ];
  const session = lan.spawn('attacker', ['sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolvConf, ...argv], label);
  await session.waitFor(ready, 20_000);
  return session;
}

/** Waits for the session's own `q`; kills it (and fails) when it overruns `timeoutMs`. */
async function waitSessionEnd(t: TestContext, session: Background, timeoutMs: number): Promise<void> {
  const ended = await Promise.race([session.exited.then(() => true), sleep(timeoutMs, false)]);
  if (!ended) await session.stop('SIGTERM', 5000);
  const errors = session
    .output()
    .split('\n')
    // Known noise: the gateway monitor ignores -gateway-override, and targets are looked up before they answer.
    .filter((l) => /\[(err|war)\]/.test(l) && !/could not find (mac for|spoof targets)/i.test(l));
  t.diagnostic(`${session.label}: ${ended ? 'quit by itself' : 'killed after overrunning'}; warnings: ${errors.slice(0, 5).join(' | ') || 'none'}`);
  assert.ok(ended, `${session.label} did not quit within ${timeoutMs} ms:\n${session.output().slice(-2000)}`);
}

/**
 * What bettercap needs before arp.spoof: the gateway's and the victim's MACs
 * in the attacker's neighbour table (2.32 reads `ip neigh` and does not probe
 * an empty one), as an attacker that just talked to both has them.
 */
async function learnNeighbours(lan: Lan): Promise<void> {
  await Promise.all(
    [GATEWAY.ip, VICTIM.ip].map((ip) => lan.exec('attacker', ['ping', '-n', '-c', '2', '-i', '0.3', ip], { timeoutMs: 10_000 })),
  );
  const neigh = await lan.exec('attacker', ['ip', '-4', 'neigh', 'show', 'dev', 'eth0'], { timeoutMs: 5000 });
  for (const h of [GATEWAY, VICTIM]) assert.ok(neigh.stdout.includes(`${h.ip} lladdr ${h.mac}`), `attacker has no neighbour entry for ${h.ip}:\n${neigh.stdout}`);
}

/** The forged "gateway is-at attacker" replies; without them bettercap did not resolve the gateway (it then spoofs its own address). */
function assertForgedGatewayReplies(pcap: string, session: Background): void {
  const replies = arpReplies(pcap);
  assert.ok(
    replies.some((r) => r.ip === GATEWAY.ip && r.mac === ATTACKER.mac && r.ethSrc === ATTACKER.mac),
    `capture has no forged reply "${GATEWAY.ip} is-at ${ATTACKER.mac}" (bettercap did not poison); ${replies.length} ARP replies seen; bettercap said:\n${session.output().slice(0, 3000)}`,
  );
}

/** A high or critical T1557.002 finding naming bettercap's MAC as attacker and the gateway as impersonated. */
function assertArpPoisoningReported(findings: readonly Finding[]): void {
  const hit = findings.find(
    (f) =>
      f.attack.techniques.includes('T1557.002') &&
      isAtLeast(f, 'high') &&
      hasEntity(f, 'mac', ATTACKER.mac, 'attacker') &&
      hasEntity(f, 'ip', GATEWAY.ip, 'impersonated'),
  );
  assert.ok(hit, `no high/critical T1557.002 finding naming ${ATTACKER.mac} as attacker and ${GATEWAY.ip} as impersonated:\n${describe(findings)}`);
}

test('bettercap arp.spoof of the victim is reported as T1557.002 against its MAC', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['bettercap', 'mount']))) return;
  const lan = await freshLan(t);
  const pcap = join(workDir, 'arp-spoof.pcap');
  const cap = await lan.startCapture(pcap);
  // Normal life first, so the true bindings are on the wire: the victim pings upstream through the gateway.
  const ping = lan.spawn('victim', ['ping', '-n', '-i', '0.5', '-w', '60', UPSTREAM.ip], 'victim ping');
  await learnNeighbours(lan);
  await sleep(1500);
  // Only the victim is poisoned (arp.spoof.fullduplex off); bettercap turns on forwarding itself.
  const session = await startBettercap(lan, 'bettercap arp.spoof', [`set arp.spoof.targets ${VICTIM.ip}`, 'arp.spoof on', 'sleep 8', 'q'], /arp spoofer started/);
  await waitSessionEnd(t, session, 30_000);
  await ping.stop('SIGINT', 5000);
  await settleAndStop(cap, 1000);

  await t.test('capture holds bettercap\'s forged replies for the gateway', (st) => work.withPcap(st, pcap, () => assertForgedGatewayReplies(pcap, session)));
  await t.test('scan reports T1557.002 with bettercap\'s MAC as attacker and the gateway as impersonated, exit 1', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      assertArpPoisoningReported(r.findings);
      assertNotBlamed(atLeast(r.findings, 'medium'), GATEWAY, 'the real gateway');
      assertExit(r, 1);
    }),
  );
});

/** dnsmasq on the gateway answering only the intranet name, nothing upstream. */
function startDnsmasq(lan: Lan): Promise<Background> {
  return startDnsmasqDns(lan, workDir, [[INTRANET, INTRANET_ADDR]]);
}

/** One `dig` by the victim against the gateway's resolver: the A records it got. */
async function digIntranet(lan: Lan): Promise<string[]> {
  const r = await lan.exec('victim', ['dig', `@${GATEWAY.ip}`, INTRANET, 'A', '+short', '+tries=1', '+time=2'], { timeoutMs: 10_000, okCodes: [0, 9] });
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
}

test('bettercap arp.spoof + dns.spoof: the spoofed intranet name is reported with the attacker address', { timeout: 100_000 }, async (t) => {
  if (!(await skipUnless(t, ['bettercap', 'mount', 'dnsmasq', 'dig']))) return;
  const lan = await freshLan(t);
  const dnsmasq = await startDnsmasq(lan);
  const pcap = join(workDir, 'dns-spoof.pcap');
  const cap = await lan.startCapture(pcap);
  await learnNeighbours(lan);
  const before = await digIntranet(lan);

  // dns.spoof.all: answer queries for any server, not only those sent to the attacker's own address.
  const commands = [
    `set arp.spoof.targets ${VICTIM.ip}`,
    `set dns.spoof.domains ${INTRANET}`,
    `set dns.spoof.address ${ATTACKER.ip}`,
    'set dns.spoof.all true',
    'arp.spoof on',
    'dns.spoof on',
    'sleep 12',
    'q',
  ];
  // dns.spoof logs each name it will answer and the address it answers with.
  const session = await startBettercap(lan, 'bettercap dns.spoof', commands, / dns\.spoof intranet\.example -> 198\.18\.0\.66\b/);
  // Give the first forged ARP replies a moment to reach the victim's cache, then resolve repeatedly.
  await sleep(1500);
  const during: string[][] = [];
  for (let i = 0; i < 8; i++) {
    during.push(await digIntranet(lan));
    await sleep(500);
  }
  await waitSessionEnd(t, session, 30_000);
  await settleAndStop(cap, 1500);
  await dnsmasq.stop('SIGTERM', 5000);
  t.diagnostic(`dig before: ${JSON.stringify(before)} during: ${JSON.stringify(during)}`);

  await t.test('bettercap poisoned the victim, which got the real answer first, then bettercap\'s', (st) =>
    work.withPcap(st, pcap, () => {
      assertForgedGatewayReplies(pcap, session);
      assert.deepEqual(before, [INTRANET_ADDR]);
      assert.ok(during.some((a) => a[0] === ATTACKER.ip), `no spoofed answer reached dig: ${JSON.stringify(during)}`);
      const forged = tcpdumpPackets(pcap, `udp src port 53 and ether src ${ATTACKER.mac}`).filter((l) => l.includes(`A ${ATTACKER.ip}`));
      assert.ok(forged.length > 0, 'capture has no DNS answer from the attacker\'s MAC');
    }),
  );
  await t.test('scan reports DNS spoofing (T1557) naming the attacker address and the spoofed name, and the ARP poisoning', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      const all = describe(r.findings);
      const dns = r.findings.filter(
        (f) =>
          f.rule_id.startsWith('dns-') &&
          isAtLeast(f, 'medium') &&
          f.attack.techniques.includes('T1557') &&
          (hasEntity(f, 'ip', ATTACKER.ip, 'attacker') || hasEntity(f, 'ip', ATTACKER.ip, 'spoofed-answer')) &&
          hasEntity(f, 'host', INTRANET),
      );
      assert.ok(dns.length > 0, `no dns-* finding naming ${ATTACKER.ip} as attacker or spoofed answer for ${INTRANET}:\n${all}`);
      st.diagnostic(`dns findings: ${dns.map((f) => `${f.rule_id} ${f.severity}`).join(', ')}`);
      assertArpPoisoningReported(r.findings);
      assertNotBlamed(atLeast(r.findings, 'medium'), GATEWAY, 'the real gateway');
      assertExit(r, 1);
    }),
  );
});

/** A LAN with IPv6 on, or undefined after skipping the test (bettercap, `tools` or kernel IPv6 missing). */
async function freshIpv6Lan(t: TestContext, tools: string[]): Promise<Lan | undefined> {
  if (!(await skipUnless(t, ['bettercap', 'mount', ...tools]))) return undefined;
  if (!existsSync('/proc/net/if_inet6')) {
    t.skip('needs IPv6 in the kernel: /proc/net/if_inet6 is missing');
    return undefined;
  }
  return freshLan(t, { ipv6: true });
}

test('bettercap dhcp6.spoof (mitm6) is reported as a rogue DHCPv6 server naming itself as DNS server', { timeout: 90_000 }, async (t) => {
  const lan = await freshIpv6Lan(t, ['dhclient']);
  if (!lan) return;
  const [victimLl, attackerLl] = await Promise.all([waitLinkLocal(lan, 'victim'), waitLinkLocal(lan, 'attacker')]);
  const pcap = join(workDir, 'dhcp6-spoof.pcap');
  const cap = await lan.startCapture(pcap);
  const session = await startBettercap(lan, 'bettercap dhcp6.spoof', [`set dhcp6.spoof.domains ${INTRANET}`, 'dhcp6.spoof on', 'sleep 10', 'q'], /\[mod\.started\] dhcp6\.spoof/);
  // The victim asks for DHCPv6 as Windows does on any network; dhclient's script is /bin/true, so nothing is configured.
  const client = lan.spawn(
    'victim',
    ['dhclient', '-6', '-1', '-d', '-v', '-lf', join(workDir, 'dhcp6.leases'), '-pf', join(workDir, 'dhcp6.pid'), '-sf', '/bin/true', 'eth0'],
    'dhclient -6',
  );
  try {
    await client.waitFor(/Bound to lease/, 20_000);
  } finally {
    await client.stop('SIGTERM', 5000);
  }
  await waitSessionEnd(t, session, 30_000);
  await settleAndStop(cap, 1000);

  await t.test('capture holds bettercap\'s ADVERTISE and REPLY naming its link-local address as DNS server', (st) =>
    work.withPcap(st, pcap, () => {
      const fromAttacker = tcpdumpPackets(pcap, 'udp src port 547', ['-e', '-v']).filter((l) => l.includes(`${ATTACKER.mac} >`));
      for (const kind of ['advertise', 'reply']) {
        assert.ok(
          fromAttacker.some((l) => l.includes(`dhcp6 ${kind}`) && l.includes(`DNS-server ${attackerLl}`)),
          `no DHCPv6 ${kind} from ${ATTACKER.mac} naming ${attackerLl} as DNS server:\n${fromAttacker.join('\n')}`,
        );
      }
    }),
  );
  await t.test('scan reports ipv6-rogue-dhcpv6 (critical, T1557.003) naming bettercap and the victim, exit 1', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      const hit = r.findings.find((f) => f.rule_id === 'ipv6-rogue-dhcpv6' && hasEntity(f, 'mac', ATTACKER.mac, 'attacker'));
      assert.ok(hit, `no ipv6-rogue-dhcpv6 finding naming ${ATTACKER.mac}:\n${describe(r.findings)}`);
      assert.equal(hit.severity, 'critical', `mitm6 pattern (own link-local as DNS server, 300 s lease) not recognised:\n${describe([hit])}`);
      assert.ok(hit.attack.techniques.includes('T1557.003'), describe([hit]));
      assert.ok(hasEntity(hit, 'ip', attackerLl, 'attacker'), describe([hit]));
      assert.ok(hasEntity(hit, 'ip', attackerLl, 'dns-server'), describe([hit]));
      assert.ok(hasEntity(hit, 'ip', victimLl, 'victim'), describe([hit]));
      assertExit(r, 1);
    }),
  );
});

test('bettercap ndp.spoof impersonating the IPv6 router to the victim is reported against bettercap\'s MAC', { timeout: 100_000 }, async (t) => {
  const lan = await freshIpv6Lan(t, ['radvd']);
  if (!lan) return;
  // A forwarding gateway advertising itself with radvd: the established router whose link-local address bettercap claims.
  await lan.exec('gateway', ['ip', '-6', 'addr', 'add', `${LAN6_PREFIX}1/64`, 'dev', 'eth0', 'nodad']);
  await lan.sysctl('gateway', 'net.ipv6.conf.all.forwarding', '1');
  const [gatewayLl, victimLl] = await Promise.all([waitLinkLocal(lan, 'gateway'), waitLinkLocal(lan, 'victim'), waitLinkLocal(lan, 'attacker')]);
  const pcap = join(workDir, 'ndp-spoof.pcap');
  const cap = await lan.startCapture(pcap);
  const radvdConf = join(workDir, 'gateway-radvd.conf');
  writeFileSync(radvdConf, `interface eth0 {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 4;\n  prefix ${LAN6_PREFIX}/64 { };\n};\n`);
  const radvd = lan.spawn('gateway', ['radvd', '-n', '-m', 'stderr', '-C', radvdConf, '-p', join(workDir, 'gateway-radvd.pid')], 'gateway radvd');
  await sleep(4500);
  // The true binding on the wire and in the victim's cache (a host drops advertisements for addresses it has no entry for);
  // the victim in the attacker's neighbour table, which is where bettercap looks its targets up.
  await Promise.all([
    lan.exec('victim', ['ping', '-6', '-n', '-c', '2', '-i', '0.3', '-I', 'eth0', gatewayLl], { timeoutMs: 10_000 }),
    lan.exec('attacker', ['ping', '-6', '-n', '-c', '2', '-i', '0.3', '-I', 'eth0', victimLl], { timeoutMs: 10_000 }),
  ]);
  const attackerNeigh = (await lan.exec('attacker', ['ip', '-6', 'neigh', 'show', 'dev', 'eth0'], { timeoutMs: 5000 })).stdout;
  assert.ok(attackerNeigh.includes(`${victimLl} lladdr ${VICTIM.mac}`), `attacker has no neighbour entry for ${victimLl}:\n${attackerNeigh}`);
  const before = await victimNeighbour(lan, gatewayLl);
  const ping = lan.spawn('victim', ['ping', '-6', '-n', '-i', '0.5', '-w', '40', '-I', 'eth0', gatewayLl], 'victim ping -6');

  // The neighbour is the router's link-local address; the RA prefix (default d00d::) is kept inside the ULA range.
  const commands = [
    `set ndp.spoof.targets ${victimLl}`,
    `set ndp.spoof.neighbour ${gatewayLl}`,
    `set ndp.spoof.prefix ${ROGUE6_PREFIX}`,
    'set ndp.spoof.prefix.length 64',
    'ndp.spoof on',
    'sleep 10',
    'q',
  ];
  const session = await startBettercap(lan, 'bettercap ndp.spoof', commands, /ndp spoofer started/);
  const during: string[] = [];
  for (let i = 0; i < 8; i++) {
    await sleep(1000);
    during.push(await victimNeighbour(lan, gatewayLl));
  }
  await waitSessionEnd(t, session, 30_000);
  await ping.stop('SIGINT', 5000);
  await radvd.stop('SIGTERM', 5000);
  await settleAndStop(cap, 1000);
  t.diagnostic(`victim's entry for ${gatewayLl} before: ${before}; during: ${during.join(' | ')}`);

  await checkNdSpoofing(t, work, pcap, { tool: 'bettercap', output: () => session.output(), gatewayLl, before, during });
});
