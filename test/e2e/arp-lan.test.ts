// End to end: real ARP spoofing tools on a namespace LAN, captured on the
// bridge, then `sniffwatch scan` on the capture. Needs root; see README.md.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { assertNotBlamed, atLeast, describe, hasEntity, isAtLeast } from '../helpers/captures.js';
import type { CliRun } from '../helpers/cli.js';
import { arpReplies, assertExit, assertNothingLoud, E2eWorkDir, freshLan, scanCapture, skipUnless, tcpdumpPackets } from '../helpers/e2e.js';
import { scapyPython, toWifi } from '../helpers/wifi.js';
import { gratuitousArpArgv, sleep, ATTACKER, GATEWAY, UPSTREAM, VICTIM, type HostSpec, type Lan } from '../helpers/netns-lan.js';

const work = new E2eWorkDir('arp');
const workDir = work.path;

/** Victim pings upstream in the background; the attacker pings the gateway once so both bindings are on the wire. */
async function normalTraffic(lan: Lan): Promise<{ stop: () => Promise<void> }> {
  const ping = lan.spawn('victim', ['ping', '-n', '-i', '0.5', '-w', '60', UPSTREAM.ip], 'victim ping');
  await lan.exec('attacker', ['ping', '-n', '-c', '2', '-i', '0.5', GATEWAY.ip], { timeoutMs: 10_000 });
  return {
    stop: async () => {
      await ping.stop('SIGINT', 5000);
    },
  };
}

/** The T1557.002 assertions shared by every spoofing scenario. */
function assertArpMitm(r: CliRun, impersonated: string[]): void {
  const all = describe(r.findings);
  assertExit(r, 1);
  const main = r.findings.find(
    (f) =>
      f.attack.techniques.includes('T1557.002') &&
      isAtLeast(f, 'high') &&
      hasEntity(f, 'mac', ATTACKER.mac, 'attacker') &&
      hasEntity(f, 'ip', GATEWAY.ip, 'impersonated'),
  );
  assert.ok(
    main,
    `no high/critical T1557.002 finding naming mac ${ATTACKER.mac} as attacker and ip ${GATEWAY.ip} as impersonated; findings:\n${all}`,
  );
  for (const ip of impersonated) {
    assert.ok(
      r.findings.some((f) => hasEntity(f, 'ip', ip, 'impersonated')),
      `no finding names ip ${ip} as impersonated; findings:\n${all}`,
    );
  }
}

function assertForgedOnWire(pcap: string, forgedIps: string[]): void {
  const replies = arpReplies(pcap);
  for (const ip of forgedIps) {
    assert.ok(
      replies.some((r) => r.ip === ip && r.mac === ATTACKER.mac && r.ethSrc === ATTACKER.mac),
      `capture has no forged reply "${ip} is-at ${ATTACKER.mac}" (tool did not poison); ${replies.length} ARP replies seen`,
    );
  }
}

test('benign LAN traffic yields no medium+ finding', { timeout: 60_000 }, async (t) => {
  if (!(await skipUnless(t, ['arping']))) return;
  const lan = await freshLan(t);
  const pcap = join(workDir, 'benign.pcap');
  const cap = await lan.startCapture(pcap);
  const announce = gratuitousArpArgv(VICTIM.ip, 'eth0', 3);
  await Promise.all([
    lan.exec('victim', ['ping', '-n', '-c', '10', '-i', '0.5', UPSTREAM.ip], { timeoutMs: 20_000 }),
    (async () => {
      await sleep(1000);
      await lan.exec('victim', announce.argv, { timeoutMs: 15_000, okCodes: announce.okCodes });
    })(),
    lan.exec('attacker', ['ping', '-n', '-c', '4', '-i', '0.5', GATEWAY.ip], { timeoutMs: 15_000 }),
  ]);
  await cap.stop();

  await t.test('capture has no conflicting ARP replies', (st) =>
    work.withPcap(st, pcap, () => {
      const owners: Record<string, string> = { [GATEWAY.ip]: GATEWAY.mac, [VICTIM.ip]: VICTIM.mac, [ATTACKER.ip]: ATTACKER.mac };
      const replies = arpReplies(pcap);
      assert.ok(replies.length > 0, 'expected some ARP replies in the capture');
      for (const r of replies) assert.equal(r.mac, owners[r.ip], `unexpected binding ${r.ip} is-at ${r.mac}`);
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

// arpspoof sends one forged reply every 2 s and, on SIGINT, re-ARPs the true
// binding for about 5 s before exiting.
async function runArpspoof(t: TestContext, name: string, extraArgs: string[]): Promise<string> {
  const lan = await freshLan(t);
  const pcap = join(workDir, `${name}.pcap`);
  const cap = await lan.startCapture(pcap);
  const traffic = await normalTraffic(lan);
  await sleep(2000);
  // A real MITM forwards what it intercepts, so the victim keeps working.
  await lan.sysctl('attacker', 'net.ipv4.ip_forward', '1');
  const spoof = lan.spawn('attacker', ['arpspoof', '-i', 'eth0', '-t', VICTIM.ip, ...extraArgs, GATEWAY.ip], 'arpspoof');
  await spoof.waitFor(/is-at/, 10_000);
  await sleep(6000);
  const exit = await spoof.stop('SIGINT', 15_000);
  await traffic.stop();
  await cap.stop();
  t.diagnostic(`arpspoof exit ${exit.code ?? exit.signal}; last line: ${spoof.output().trim().split('\n').at(-1)}`);
  return pcap;
}

test('arpspoof one-way poisoning of the victim is reported', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['arpspoof']))) return;
  const pcap = await runArpspoof(t, 'arpspoof-oneway', []);
  await t.test('capture holds forged replies', (st) => work.withPcap(st, pcap, () => assertForgedOnWire(pcap, [GATEWAY.ip])));
  await t.test('scan reports T1557.002 with attacker mac and impersonated gateway', (st) =>
    work.withPcap(st, pcap, () => assertArpMitm(scanCapture(pcap), [])),
  );
});

test('arpspoof two-way (-r) poisoning is reported for both addresses', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['arpspoof']))) return;
  const pcap = await runArpspoof(t, 'arpspoof-twoway', ['-r']);
  await t.test('capture holds forged replies both ways', (st) =>
    work.withPcap(st, pcap, () => assertForgedOnWire(pcap, [GATEWAY.ip, VICTIM.ip])),
  );
  await t.test('scan reports T1557.002 and both impersonated addresses', (st) =>
    work.withPcap(st, pcap, () => assertArpMitm(scanCapture(pcap), [VICTIM.ip])),
  );
  await t.test('the same traffic as a monitor-mode Wi-Fi capture (radiotap, rewritten by scapy) is reported alike', (st) => {
    const python = scapyPython();
    if (python === null) {
      st.skip('tool missing: python3 with scapy (Debian python3-scapy)');
      return;
    }
    return work.withPcap(st, pcap, () => {
      const wifi = toWifi(python, pcap, workDir, ['radiotap']);
      assert.ok('paths' in wifi, 'the capture has VLAN tags');
      assertArpMitm(scanCapture(wifi.paths.radiotap!), [VICTIM.ip]);
    });
  });
});

test('arpspoof already poisoning when the capture starts: the gateway answering a bystander exposes it', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['arpspoof']))) return;
  const BYSTANDER: HostSpec = { name: 'bystander', ip: '198.18.0.20', mac: '02:53:57:00:00:14' };
  const lan = await freshLan(t, { extraHosts: [BYSTANDER] });
  // arpspoof resolves the victim and the gateway from its own address, then forges every 2 s: all of that
  // before the capture, which only sees the forged replies and the gateway answering for itself. The
  // attacker's kernel answers no ARP for its own address (a poisoner keeping its address off the wire),
  // so nothing but the contest itself can name it.
  await lan.sysctl('attacker', 'net.ipv4.conf.eth0.arp_ignore', '8');
  const spoof = lan.spawn('attacker', ['arpspoof', '-i', 'eth0', '-t', VICTIM.ip, GATEWAY.ip], 'arpspoof');
  await spoof.waitFor(/is-at/, 10_000);
  await sleep(3000);
  const pcap = join(workDir, 'arpspoof-midway.pcap');
  const cap = await lan.startCapture(pcap);
  await sleep(4500);
  await lan.exec('bystander', ['ip', 'neigh', 'flush', 'all'], { timeoutMs: 5000 });
  await lan.exec('bystander', ['ping', '-n', '-c', '2', '-i', '0.5', GATEWAY.ip], { timeoutMs: 10_000 });
  await sleep(4500);
  await cap.stop();
  const exit = await spoof.stop('SIGINT', 15_000);
  t.diagnostic(`arpspoof exit ${exit.code ?? exit.signal}`);
  await t.test('capture holds forged replies, the gateway\'s own answer, and nothing of the attacker\'s own address', (st) =>
    work.withPcap(st, pcap, () => {
      assertForgedOnWire(pcap, [GATEWAY.ip]);
      const replies = arpReplies(pcap);
      assert.ok(replies.some((r) => r.ip === GATEWAY.ip && r.mac === GATEWAY.mac), `no reply from the gateway: ${JSON.stringify(replies)}`);
      const own = tcpdumpPackets(pcap, `arp and ether src ${ATTACKER.mac}`).filter((l) => l.includes(`tell ${ATTACKER.ip}`) || l.includes(`${ATTACKER.ip} is-at`));
      assert.deepEqual(own, [], 'the attacker used its own address');
    }),
  );
  await t.test('scan reports T1557.002 naming the attacker, never the gateway', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      assertArpMitm(r, []);
      assertNotBlamed(atLeast(r.findings, 'medium'), GATEWAY, 'the gateway');
    }),
  );
});

test('ettercap arp:remote poisoning is reported', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['ettercap']))) return;
  const lan = await freshLan(t);
  const pcap = join(workDir, 'ettercap.pcap');
  const cap = await lan.startCapture(pcap);
  const traffic = await normalTraffic(lan);
  await sleep(2000);
  // Targets are MAC/IPv4/IPv6/PORTs in 0.8.3. stdin is closed by spawn, and
  // ettercap forwards the intercepted traffic itself.
  const ec = lan.spawn(
    'attacker',
    ['ettercap', '-T', '-q', '-i', 'eth0', '-M', 'arp:remote', `/${VICTIM.ip}//`, `/${GATEWAY.ip}//`],
    'ettercap',
  );
  await ec.waitFor(/Starting Unified sniffing/, 20_000);
  await sleep(6000);
  // SIGINT: ettercap re-ARPs the true bindings (~3 s) before exiting.
  const exit = await ec.stop('SIGINT', 15_000);
  await traffic.stop();
  await cap.stop();
  t.diagnostic(`ettercap exit ${exit.code ?? exit.signal}`);
  await t.test('capture holds forged replies', (st) => work.withPcap(st, pcap, () => assertForgedOnWire(pcap, [GATEWAY.ip])));
  await t.test('scan reports T1557.002 with attacker mac and impersonated gateway', (st) =>
    work.withPcap(st, pcap, () => assertArpMitm(scanCapture(pcap), [])),
  );
});
