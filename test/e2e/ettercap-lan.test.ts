// End to end: ettercap (0.8.3, text interface) as a third attack tool next
// to dsniff and bettercap, on a namespace LAN captured on the bridge and
// scanned with `sniffwatch scan`: ARP poisoning with its dns_spoof plugin
// against dnsmasq as the real resolver, DHCP spoofing against dnsmasq as the
// real DHCP server, and NDP poisoning over IPv6. The benign baselines of the
// same servers and clients are in dns-lan, dhcp-lan and ipv6-lan. Needs root
// and Debian's ettercap-text-only; see README.md.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { assertNotBlamed, atLeast, describe, hasEntity, isAtLeast } from '../helpers/captures.js';
import { arpReplies, assertExit, checkNdSpoofing, dhcpReplies, E2eWorkDir, freshLan, scanCapture, settleAndStop, skipUnless, tcpdumpPackets, victimNeighbour } from '../helpers/e2e.js';
import {
  acquireDhcpLease,
  dnsmasqDhcpArgv,
  findTool,
  sleep,
  startDnsmasqDns,
  waitLinkLocal,
  ATTACKER,
  DNSMASQ_DHCP_READY,
  GATEWAY,
  VICTIM,
  type Background,
  type Lan,
} from '../helpers/netns-lan.js';

const work = new E2eWorkDir('ettercap');
const workDir = work.path;

const INTRANET = 'intranet.example';
const INTRANET_ADDR = '198.18.0.50';
/** A name dnsmasq serves and ettercap's table leaves alone: ettercap forwards its queries and answers. */
const OTHER = 'files.corp.example';
const OTHER_ADDR = '198.18.0.51';

/** ettercap prints this once its sniffing and MITM threads run. */
const ETTERCAP_READY = /Starting Unified sniffing/;

/**
 * Starts ettercap in the text interface on the attacker's eth0 (stdin is
 * closed by spawn, so it runs until signalled) and waits until it sniffs.
 * With `etterDns`, that file is bind-mounted over /etc/ettercap/etter.dns,
 * the only place dns_spoof reads its table from: the mount is made in the
 * private mount namespace `ip netns exec` gives the command and goes away
 * with it.
 */
async function startEttercap(lan: Lan, label: string, args: string[], etterDns?: string): Promise<Background> {
  const argv = ['ettercap', '-T', '-q', '-i', 'eth0', ...args];
  const session = etterDns
    ? lan.spawn('attacker', ['sh', '-c', 'mount --bind "$0" /etc/ettercap/etter.dns && exec "$@"', etterDns, ...argv], label)
    : lan.spawn('attacker', argv, label);
  await session.waitFor(ETTERCAP_READY, 30_000);
  return session;
}

/** One `dig` by the victim against the gateway's resolver: the A records it got. */
async function dig(lan: Lan, name = INTRANET): Promise<string[]> {
  const r = await lan.exec('victim', ['dig', `@${GATEWAY.ip}`, name, 'A', '+short', '+tries=1', '+time=2'], { timeoutMs: 10_000, okCodes: [0, 9] });
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
}

/** Transactions (by DNS id) that got both the real and the forged address on the wire, read with tcpdump. */
function racedTransactions(pcap: string): string[] {
  const answers = new Map<string, Set<string>>();
  for (const l of tcpdumpPackets(pcap, 'udp src port 53')) {
    const m = /: (\d+)\*?-? .* A (\d+\.\d+\.\d+\.\d+)/.exec(l);
    if (m) answers.set(m[1]!, (answers.get(m[1]!) ?? new Set()).add(m[2]!));
  }
  return [...answers].filter(([, a]) => a.has(INTRANET_ADDR) && a.has(ATTACKER.ip)).map(([id]) => id);
}

/** What every scan of a dns_spoof capture must show: the spoofed name tied to the attacker, the ARP side, the resolver never blamed. */
function assertDnsSpoofReported(findings: readonly Finding[]): Finding[] {
  const all = describe(findings);
  const dns = findings.filter(
    (f) =>
      f.rule_id.startsWith('dns-') &&
      isAtLeast(f, 'medium') &&
      f.attack.techniques.includes('T1557') &&
      f.entities.some((e) => e.type === 'ip' && e.value === ATTACKER.ip) &&
      hasEntity(f, 'host', INTRANET),
  );
  assert.ok(dns.length > 0, `no dns-* finding naming ${ATTACKER.ip} and ${INTRANET}:\n${all}`);
  const arp = findings.find((f) => f.attack.techniques.includes('T1557.002') && isAtLeast(f, 'high') && hasEntity(f, 'mac', ATTACKER.mac, 'attacker'));
  assert.ok(arp, `the ARP poisoning is not reported:\n${all}`);
  assertNotBlamed(atLeast(findings, 'medium'), GATEWAY);
  return dns;
}

test('ettercap arp:remote + dns_spoof: the spoofed intranet name is reported with the attacker address', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnless(t, ['ettercap', 'mount', 'dnsmasq', 'dig']))) return;
  const lan = await freshLan(t);
  const dnsmasq = await startDnsmasqDns(lan, workDir, [
    [INTRANET, INTRANET_ADDR],
    [OTHER, OTHER_ADDR],
  ]);
  const etterDns = join(workDir, 'etter.dns');
  writeFileSync(etterDns, `${INTRANET} A ${ATTACKER.ip}\n*.${INTRANET} A ${ATTACKER.ip}\n`, { mode: 0o644 });
  // veth leaves UDP checksums to an offload that never happens; ettercap relays frames as it read them, so
  // the queries and answers it relays arrive with bad checksums unless the endpoints compute them.
  const relaying = findTool('ethtool') !== undefined;
  if (relaying) for (const n of ['victim', 'gateway']) await lan.exec(n, ['ethtool', '-K', 'eth0', 'tx', 'off']);
  const pcap = join(workDir, 'dns-spoof.pcap');
  const cap = await lan.startCapture(pcap);
  // Normal life first: the attacker's own address is on the wire and the victim resolves through dnsmasq.
  await lan.exec('attacker', ['ping', '-n', '-c', '2', '-i', '0.3', GATEWAY.ip], { timeoutMs: 10_000 });
  const before = [await dig(lan), await dig(lan)];

  const session = await startEttercap(lan, 'ettercap dns_spoof', ['-M', 'arp:remote', '-P', 'dns_spoof', `/${VICTIM.ip}//`, `/${GATEWAY.ip}//`], etterDns);
  await sleep(2000);
  // A second capture that starts now, with the attack running: no answer from before it and no start of the
  // ARP poisoning in it, as when a sensor is switched on mid-attack.
  const midPcap = join(workDir, 'dns-spoof-mid-attack.pcap');
  const midCap = await lan.startCapture(midPcap);
  const during: string[][] = [];
  const relayed: string[][] = [];
  for (let i = 0; i < 8; i++) {
    during.push(await dig(lan));
    // A name ettercap's table leaves alone: it relays the query to dnsmasq and the answer back.
    if (relaying) relayed.push(await dig(lan, OTHER));
    await sleep(500);
  }
  await midCap.stop();
  // SIGINT: ettercap re-ARPs the true bindings before exiting.
  const exit = await session.stop('SIGINT', 15_000);
  await settleAndStop(cap, 1500);
  await dnsmasq.stop('SIGTERM', 5000);
  t.diagnostic(`dig before: ${JSON.stringify(before)} during: ${JSON.stringify(during)} ${OTHER}: ${JSON.stringify(relayed)}; ettercap exit ${exit.code ?? exit.signal}`);
  t.diagnostic(`ettercap: ${session.output().trim().split('\n').filter((l) => /dns_spoof/.test(l)).slice(0, 3).join(' | ')}`);

  await t.test('ettercap poisoned the victim, which got the real answer before and the forged one during the attack', (st) =>
    work.withPcap(st, pcap, () => {
      const replies = arpReplies(pcap);
      assert.ok(
        replies.some((r) => r.ip === GATEWAY.ip && r.mac === ATTACKER.mac && r.ethSrc === ATTACKER.mac),
        `capture has no forged reply "${GATEWAY.ip} is-at ${ATTACKER.mac}"; ettercap said:\n${session.output().slice(0, 3000)}`,
      );
      assert.deepEqual(before, [[INTRANET_ADDR], [INTRANET_ADDR]]);
      assert.ok(during.some((a) => a[0] === ATTACKER.ip), `no spoofed answer reached dig: ${JSON.stringify(during)}`);
      const forged = tcpdumpPackets(pcap, `udp src port 53 and ether src ${ATTACKER.mac}`).filter((l) => l.includes(`A ${ATTACKER.ip}`));
      assert.ok(forged.length > 0, "capture has no DNS answer from the attacker's MAC");
    }),
  );
  await t.test('scan reports DNS spoofing (T1557) naming the attacker address and the spoofed name, never the resolver', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      const dns = assertDnsSpoofReported(r.findings);
      st.diagnostic(`dns findings: ${dns.map((f) => `${f.rule_id} ${f.severity}`).join(', ')}`);
      // The resolver's earlier answers came from its own MAC: the forged ones are reported against ettercap's.
      const mac = r.findings.find((f) => f.rule_id === 'dns-response-from-unqueried-server' && hasEntity(f, 'mac', ATTACKER.mac, 'attacker'));
      assert.ok(mac && hasEntity(mac, 'ip', GATEWAY.ip, 'impersonated') && hasEntity(mac, 'mac', GATEWAY.mac, 'server'), describe(r.findings));
      const races = r.findings.filter((f) => f.rule_id === 'dns-spoofed-response-race');
      assert.deepEqual(races.filter((f) => !hasEntity(f, 'mac', ATTACKER.mac, 'attacker')).map((f) => f.message), [], 'a race blames another station');
      const raced = racedTransactions(pcap);
      if (raced.length > 0) assert.ok(races.length > 0, `transactions ${raced.join(', ')} got both answers but no race is reported:\n${describe(r.findings)}`);
      else st.diagnostic('ettercap dropped every query it answered: no race on the wire');
      assertExit(r, 1);
    }),
  );
  await t.test('a capture started mid-attack ties the spoofed name to ettercap and never blames the resolver', (st) =>
    work.withPcap(st, midPcap, () => {
      const r = scanCapture(midPcap);
      const dns = assertDnsSpoofReported(r.findings);
      st.diagnostic(`dns findings: ${dns.map((f) => `${f.rule_id} ${f.severity}`).join(', ')}`);
    }),
  );
  await t.test('names ettercap relays are answered by dnsmasq through it, and its relaying is reported against its MAC', (st) => {
    if (!relaying) {
      st.skip('tool missing: ethtool (Debian package ethtool), needed for veth checksums ettercap can relay');
      return;
    }
    return work.withPcap(st, midPcap, () => {
      assert.ok(relayed.every((a) => a.length === 1 && a[0] === OTHER_ADDR), `dig through ettercap: ${JSON.stringify(relayed)}`);
      const fromGateway = tcpdumpPackets(midPcap, `udp src port 53 and ether src ${GATEWAY.mac} and ether dst ${ATTACKER.mac}`);
      assert.ok(fromGateway.some((l) => l.includes(`A ${OTHER_ADDR}`)), 'no answer of the resolver sent to ettercap for relaying');
      const r = scanCapture(midPcap);
      const mac = r.findings.find((f) => f.rule_id === 'dns-response-from-unqueried-server' && hasEntity(f, 'mac', ATTACKER.mac, 'attacker'));
      assert.ok(mac, `no dns-response-from-unqueried-server against ${ATTACKER.mac}:\n${describe(r.findings)}`);
      assert.ok(hasEntity(mac, 'ip', GATEWAY.ip, 'impersonated') && hasEntity(mac, 'mac', GATEWAY.mac, 'server'), describe([mac]));
      assert.ok(hasEntity(mac, 'host', INTRANET, 'queried-name'), `the forged answers after the first relayed one are not in it:\n${describe([mac])}`);
    });
  });
});

test('ettercap dhcp spoofing against dnsmasq is dhcp-rogue-server naming ettercap, not the real server', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnless(t, ['ettercap', 'dnsmasq', 'dhclient']))) return;
  const lan = await freshLan(t);
  const dir = mkdtempSync(join(workDir, 'dhcp-'));
  const pcap = join(dir, 'dhcp-spoof.pcap');
  const cap = await lan.startCapture(pcap);
  const server = lan.spawn('gateway', dnsmasqDhcpArgv('gateway', dir, ['198.18.0.100', '198.18.0.150'], GATEWAY.ip, GATEWAY.ip), 'dnsmasq@gateway');
  await server.waitFor(DNSMASQ_DHCP_READY, 15_000);
  // The network's server answers first: it is the one the scan trusts.
  const first = await acquireDhcpLease(lan, dir, true);
  const session = await startEttercap(lan, 'ettercap dhcp', ['-M', `dhcp:198.18.0.200-210/255.255.255.0/${ATTACKER.ip}`]);
  await sleep(1000);
  // Renewals of the remembered lease (INIT-REBOOT: a REQUEST both servers may ACK) and fresh DORAs.
  const leases: string[] = [];
  for (let i = 0; i < 4; i++) leases.push(await acquireDhcpLease(lan, dir, i % 2 === 1));
  const exit = await session.stop('SIGINT', 10_000);
  await server.stop('SIGTERM', 5000);
  await settleAndStop(cap);
  t.diagnostic(`lease before: ${first}; while ettercap ran: ${leases.join(', ')}; ettercap exit ${exit.code ?? exit.signal}`);

  await t.test('capture holds ettercap\'s DHCP answers naming itself as router', (st) =>
    work.withPcap(st, pcap, () => {
      const replies = dhcpReplies(pcap);
      st.diagnostic(JSON.stringify(replies));
      assert.ok(
        replies.some((r) => r.ethSrc === ATTACKER.mac && r.router === ATTACKER.ip),
        `no DHCP answer from ${ATTACKER.mac} naming ${ATTACKER.ip} as router; ettercap said:\n${session.output().slice(0, 3000)}`,
      );
    }),
  );
  await t.test('scan reports T1557.003 dhcp-rogue-server naming ettercap\'s address and MAC, never the gateway', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      const all = describe(r.findings);
      const hit = r.findings.find((f) => f.rule_id === 'dhcp-rogue-server' && hasEntity(f, 'mac', ATTACKER.mac, 'attacker'));
      assert.ok(hit, `no dhcp-rogue-server finding naming ${ATTACKER.mac}:\n${all}`);
      st.diagnostic(describe([hit]));
      assert.ok(isAtLeast(hit, 'high'), all);
      assert.deepEqual(hit.attack.techniques, ['T1557.003']);
      assert.ok(hasEntity(hit, 'ip', ATTACKER.ip, 'attacker'), all);
      assert.ok(hasEntity(hit, 'mac', VICTIM.mac, 'victim'), all);
      // ettercap ACKs a REQUEST with the server identifier the client chose: then it speaks in dnsmasq's name.
      if (dhcpReplies(pcap).some((x) => x.ethSrc === ATTACKER.mac && x.serverId === GATEWAY.ip)) {
        const imp = r.findings.find((f) => f.rule_id === 'dhcp-rogue-server' && hasEntity(f, 'ip', GATEWAY.ip, 'impersonated'));
        assert.ok(imp && hasEntity(imp, 'mac', ATTACKER.mac, 'attacker') && hasEntity(imp, 'mac', GATEWAY.mac, 'legitimate'), all);
      }
      assertNotBlamed(atLeast(r.findings, 'medium'), GATEWAY);
      assertExit(r, 1);
    }),
  );
});

test('ettercap ndp poisoning between the victim and the gateway is reported against ettercap\'s MAC', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnless(t, ['ettercap']))) return;
  if (!existsSync('/proc/net/if_inet6')) {
    t.skip('needs IPv6 in the kernel: /proc/net/if_inet6 is missing');
    return;
  }
  const lan = await freshLan(t, { ipv6: true });
  const [gatewayLl, victimLl] = await Promise.all([waitLinkLocal(lan, 'gateway'), waitLinkLocal(lan, 'victim'), waitLinkLocal(lan, 'attacker')]);
  const pcap = join(workDir, 'ndp-poison.pcap');
  const cap = await lan.startCapture(pcap);
  // The true bindings on the wire and in the victim's cache.
  await lan.exec('victim', ['ping', '-6', '-n', '-c', '2', '-i', '0.3', '-I', 'eth0', gatewayLl], { timeoutMs: 10_000 });
  const before = await victimNeighbour(lan, gatewayLl);
  const ping = lan.spawn('victim', ['ping', '-6', '-n', '-i', '0.5', '-w', '40', '-I', 'eth0', gatewayLl], 'victim ping -6');
  const session = await startEttercap(lan, 'ettercap ndp', ['-M', 'ndp:remote', `//${victimLl}/`, `//${gatewayLl}/`]);
  const during: string[] = [];
  for (let i = 0; i < 8; i++) {
    await sleep(1000);
    during.push(await victimNeighbour(lan, gatewayLl));
  }
  const exit = await session.stop('SIGINT', 15_000);
  await ping.stop('SIGINT', 5000);
  await settleAndStop(cap, 1000);
  t.diagnostic(`victim's entry for ${gatewayLl} before: ${before}; during: ${during.join(' | ')}; ettercap exit ${exit.code ?? exit.signal}`);
  t.diagnostic(session.output().slice(0, 3000));

  await checkNdSpoofing(t, work, pcap, { tool: 'ettercap', output: () => session.output(), gatewayLl, before, during });
});
