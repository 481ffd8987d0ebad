// End to end: `sniffwatch watch` capturing live on the bridge of a namespace
// LAN while real attack tools run. Findings must arrive on stdout while the
// attack is still going, with an evidence pcap holding the attack frames;
// interfaces going down, coming back and appearing are followed; SIGTERM
// stops it cleanly with capture statistics. Needs root and the native addon.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { WIRE_ANALYZERS } from '../../src/analyzers/index.js';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity, isAtLeast } from '../helpers/captures.js';
import { arpReplies, assertNothingLoud, benignLanTraffic, E2eWorkDir, freshLan, skipUnless } from '../helpers/e2e.js';
import { skipUnlessPcapAddon, startWatchIn, type WatchRun } from '../helpers/watch.js';
import {
  acquireDhcpLease,
  dnsmasqDhcpArgv,
  DNSMASQ_DHCP_READY,
  sleep,
  ATTACKER,
  GATEWAY,
  UPSTREAM,
  VICTIM,
  type Lan,
} from '../helpers/netns-lan.js';

/** Evidence pcaps of the watch runs. */
const workDir = new E2eWorkDir('watch').path;
const STATS_LINE = /br0: (\d+) packet\(s\) received, (\d+) dropped by the kernel, (\d+) dropped by the interface, (\d+) analysed \(opened (\d+) time\(s\)\)/;

async function setup(t: TestContext, tools: string[]): Promise<Lan | undefined> {
  if (!skipUnlessPcapAddon(t) || !(await skipUnless(t, tools))) return undefined;
  return freshLan(t);
}

function startWatch(t: TestContext, lan: Lan, args: string[]): WatchRun {
  return startWatchIn(t, lan.bridgeNs, args);
}

/** Forged "<ip> is-at <attacker>" replies in a pcap, read with tcpdump (independent of our decoder). */
function forgedReplies(pcap: string, ip: string): number {
  return arpReplies(pcap).filter((r) => r.ethSrc === ATTACKER.mac && r.ip === ip && r.mac === ATTACKER.mac).length;
}

/** Checks the exit summary on stderr and reports the measured latency. */
function assertStats(t: TestContext, w: WatchRun, opens = 1): void {
  assert.match(w.stderr, /stopping \(SIGTERM\)/);
  const m = STATS_LINE.exec(w.stderr);
  assert.ok(m, `no br0 statistics on stderr:\n${w.stderr}`);
  assert.ok(Number(m[1]) > 0 && Number(m[4]) > 0, `nothing captured: ${m[0]}`);
  assert.equal(Number(m[5]), opens, m[0]);
  t.diagnostic(m[0]);
  const lat = /detection latency.*/.exec(w.stderr);
  if (lat) t.diagnostic(lat[0]);
}

test('arpspoof is reported live, while it runs, with the forged replies in the evidence pcap', { timeout: 90_000 }, async (t) => {
  const lan = await setup(t, ['arpspoof']);
  if (!lan) return;
  const evidenceDir = mkdtempSync(join(workDir, 'evidence-'));
  const watch = startWatch(t, lan, ['--iface', 'br0', '--format', 'jsonl', '--evidence-dir', evidenceDir]);
  await watch.waitStderr(/watching br0 \(EN10MB, promiscuous/, 15_000);

  const ping = lan.spawn('victim', ['ping', '-n', '-i', '0.5', '-w', '60', UPSTREAM.ip], 'victim ping');
  await lan.exec('attacker', ['ping', '-n', '-c', '2', '-i', '0.5', GATEWAY.ip], { timeoutMs: 10_000 });
  await sleep(1000);
  await lan.sysctl('attacker', 'net.ipv4.ip_forward', '1');
  const spoof = lan.spawn('attacker', ['arpspoof', '-i', 'eth0', '-t', VICTIM.ip, GATEWAY.ip], 'arpspoof');
  await spoof.waitFor(/is-at/, 10_000);

  const hit = await watch.waitFinding(
    (f) =>
      f.attack.techniques.includes('T1557.002') &&
      isAtLeast(f, 'high') &&
      hasEntity(f, 'mac', ATTACKER.mac, 'attacker') &&
      hasEntity(f, 'ip', GATEWAY.ip, 'impersonated'),
    'high T1557.002 finding naming the attacker MAC and the impersonated gateway',
    20_000,
  );
  const stillRunning = spoof.running();
  // Let arpspoof send a couple more replies so the escalations, if any, also happen live.
  await sleep(2500);
  await spoof.stop('SIGINT', 15_000);
  await ping.stop('SIGINT', 5000);
  const exit = await watch.stop('SIGTERM', 20_000);

  await t.test('the finding arrived while arpspoof was still running', () => {
    assert.ok(stillRunning, 'arpspoof had already exited when the finding arrived');
  });
  await t.test('its evidence pcap exists and holds the forged replies (tcpdump -r)', () => {
    const pcap = hit.evidence.find((e) => e.pcap)?.pcap;
    assert.ok(pcap, `finding has no evidence pcap: ${JSON.stringify(hit.evidence)}`);
    assert.ok(pcap.startsWith(evidenceDir), `evidence pcap ${pcap} is not in --evidence-dir ${evidenceDir}`);
    assert.ok(existsSync(pcap), `evidence pcap ${pcap} does not exist`);
    const n = forgedReplies(pcap, GATEWAY.ip);
    assert.ok(n >= 1, `no forged "${GATEWAY.ip} is-at ${ATTACKER.mac}" reply in ${pcap}`);
    t.diagnostic(`${n} forged replies in ${pcap}`);
  });
  await t.test('SIGTERM: clean exit 1 (--fail-on medium reached) with capture statistics on stderr', (st) => {
    assert.deepEqual(exit, { code: 1, signal: null }, `stderr:\n${watch.stderr}`);
    assertStats(st, watch);
    console.error(`# ${/detection latency.*/.exec(watch.stderr)?.[0] ?? 'no latency line'}`);
  });
});

test('benign LAN traffic watched live: no medium+ finding, exit 0', { timeout: 60_000 }, async (t) => {
  const lan = await setup(t, ['arping']);
  if (!lan) return;
  const watch = startWatch(t, lan, ['--iface', 'br0', '--format', 'jsonl', '--evidence-dir', join(workDir, 'benign-evidence')]);
  await watch.waitStderr(/watching br0/, 15_000);
  await benignLanTraffic(lan);
  await sleep(500);
  const exit = await watch.stop('SIGTERM', 20_000);
  assertNothingLoud(watch.findings, 'benign traffic');
  assert.deepEqual(exit, { code: 0, signal: null }, `stderr:\n${watch.stderr}`);
  assertStats(t, watch);
});

test('kernel drops are counted and reported, never silent', { timeout: 60_000 }, async (t) => {
  const lan = await setup(t, []);
  if (!lan) return;
  // The smallest kernel buffer (64 KiB), and sniffwatch frozen while the victim floods: the ring overflows.
  const watch = startWatch(t, lan, ['--iface', 'br0', '--format', 'jsonl', '--buffer-mib', '0.0625', '--evidence-dir', join(workDir, 'drop-evidence')]);
  await watch.waitStderr(/watching br0/, 15_000);
  watch.signal('SIGSTOP');
  try {
    await lan.exec('victim', ['ping', '-n', '-q', '-f', '-c', '3000', GATEWAY.ip], { timeoutMs: 30_000, okCodes: [0, 1] });
  } finally {
    watch.signal('SIGCONT');
  }
  const warning = await watch.waitStderr(/warning: br0: (\d+) packet\(s\) dropped by the kernel/, 20_000);
  assert.ok(Number(warning[1]) > 0, warning[0]);
  const exit = await watch.stop('SIGTERM', 20_000);
  assert.deepEqual(exit, { code: 0, signal: null }, `stderr:\n${watch.stderr}`);
  const m = STATS_LINE.exec(watch.stderr);
  assert.ok(m, `no br0 statistics on stderr:\n${watch.stderr}`);
  assert.ok(Number(m[2]) > 0, `the exit statistics show no kernel drops: ${m[0]}`);
  assert.ok(Number(m[1]) >= Number(m[4]) + Number(m[2]), `received must cover analysed plus dropped: ${m[0]}`);
  t.diagnostic(m[0]);
});

test('interfaces going down, coming back, appearing and vanishing are followed', { timeout: 60_000 }, async (t) => {
  const lan = await setup(t, []);
  if (!lan) return;
  // No --iface: every up, non-loopback interface; the bridge's ports are left out.
  const watch = startWatch(t, lan, ['--format', 'jsonl', '--evidence-dir', join(workDir, 'iface-evidence')]);
  await watch.waitStderr(/watching br0/, 15_000);
  assert.doesNotMatch(watch.stderr, /watching (p-|lo\b)/, 'bridge ports and loopback must not be captured by default');
  const ipIn = (args: string[]): Promise<unknown> => lan.exec('bridge', ['ip', ...args], { timeoutMs: 10_000 });

  await ipIn(['link', 'set', 'br0', 'down']);
  await watch.waitStderr(/br0: (capture stopped|interface went down)/, 10_000);
  await ipIn(['link', 'set', 'br0', 'up']);
  await watch.waitStderr(/capturing on br0 again/, 10_000);
  // Traffic after the re-open is analysed.
  await lan.exec('attacker', ['ping', '-n', '-c', '2', '-i', '0.5', GATEWAY.ip], { timeoutMs: 10_000 });

  await ipIn(['link', 'add', 'swtest0', 'type', 'veth', 'peer', 'name', 'swtest1']);
  await ipIn(['link', 'set', 'swtest0', 'up']);
  await ipIn(['link', 'set', 'swtest1', 'up']);
  await watch.waitStderr(/watching swtest0/, 10_000);
  await watch.waitStderr(/watching swtest1/, 10_000);
  await ipIn(['link', 'del', 'swtest0']);
  await watch.waitStderr(/swtest0: interface is gone/, 10_000);

  const exit = await watch.stop('SIGTERM', 20_000);
  assert.deepEqual(exit, { code: 0, signal: null }, `stderr:\n${watch.stderr}`);
  assertStats(t, watch, 2);
});

test('a rogue dnsmasq DHCP server is reported live', { timeout: 90_000 }, async (t) => {
  if (!WIRE_ANALYZERS.some((a) => a.name === 'dhcp')) {
    t.skip('DHCP analyzer (src/analyzers/dhcp) is not registered');
    return;
  }
  const lan = await setup(t, ['dnsmasq', 'dhclient']);
  if (!lan) return;
  const dir = mkdtempSync(join(workDir, 'dhcp-'));
  const watch = startWatch(t, lan, ['--iface', 'br0', '--format', 'jsonl', '--evidence-dir', join(dir, 'evidence')]);
  await watch.waitStderr(/watching br0/, 15_000);
  const server = lan.spawn('gateway', dnsmasqDhcpArgv('gateway', dir, ['198.18.0.100', '198.18.0.150'], GATEWAY.ip, GATEWAY.ip), 'dnsmasq@gateway');
  await server.waitFor(DNSMASQ_DHCP_READY, 15_000);
  // The network's own server first, then the rogue answers DISCOVERs too.
  await acquireDhcpLease(lan, dir);
  const rogue = lan.spawn('attacker', dnsmasqDhcpArgv('attacker', dir, ['198.18.0.200', '198.18.0.220'], ATTACKER.ip, ATTACKER.ip), 'dnsmasq@attacker');
  await rogue.waitFor(DNSMASQ_DHCP_READY, 15_000);
  const hitPromise = watch.waitFinding(
    (f) => f.rule_id === 'dhcp-rogue-server' && hasEntity(f, 'ip', ATTACKER.ip, 'attacker'),
    'dhcp-rogue-server finding naming the attacker',
    40_000,
  );
  hitPromise.catch(() => undefined);
  for (let i = 0; i < 3 && !watch.findings.some((f) => f.rule_id === 'dhcp-rogue-server'); i++) await acquireDhcpLease(lan, dir);
  let hit: Finding | undefined;
  let error: unknown;
  try {
    hit = await hitPromise;
  } catch (e) {
    error = e;
  }
  const rogueRunning = rogue.running();
  await rogue.stop('SIGTERM', 5000);
  await server.stop('SIGTERM', 5000);
  const exit = await watch.stop('SIGTERM', 20_000);
  if (error) throw error;
  assert.ok(hit);
  assert.ok(rogueRunning, 'the rogue server had exited before the finding arrived');
  assert.deepEqual(hit.attack.techniques, ['T1557.003'], describe([hit]));
  assert.ok(hasEntity(hit, 'mac', ATTACKER.mac, 'attacker'), describe([hit]));
  assert.equal(exit.code, 1, `stderr:\n${watch.stderr}`);
  assertStats(t, watch);
});
