// End to end: a real DHCP server (dnsmasq) on the gateway, a real client
// (ISC dhclient) on the victim, then a rogue dnsmasq and yersinia's DHCP
// starvation on the attacker; captured on the bridge and scanned with
// `sniffwatch scan`. Needs root; see README.md.

import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { hasEntity } from '../helpers/captures.js';
import { CLI, runCli, type CliRun } from '../helpers/cli.js';
import { canRunNetns, createLan, sleep, ATTACKER, GATEWAY, VICTIM, type Background, type Lan } from '../helpers/netns-lan.js';

const KEEP = process.env.SNIFFWATCH_E2E_KEEP === '1';
const workDir = mkdtempSync(join(tmpdir(), 'sniffwatch-e2e-dhcp-'));
let keepWorkDir = KEEP;
after(() => {
  if (keepWorkDir) console.error(`# e2e captures kept in ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
});

const MEDIUM_OR_ABOVE = new Set(['medium', 'high', 'critical']);
/**
 * tcpdump (without --immediate-mode) hands packets over in ring-buffer blocks
 * that retire after a timeout; a DHCP exchange is over in milliseconds, so wait
 * before SIGINT or the last frames are counted as received but never written.
 */
const CAPTURE_SETTLE_MS = 2000;
/** dnsmasq prints this once its DHCP socket is up. */
const DNSMASQ_READY = /DHCP, IP range/;

function scan(pcap: string): CliRun {
  assert.ok(existsSync(CLI), `scanner not built: ${CLI} is missing (run npx tsc -p tsconfig.json)`);
  return runCli(['scan', '--format', 'jsonl', pcap], 120_000);
}

function summary(findings: Finding[]): string {
  return findings.map((f) => `${f.rule_id} ${f.severity} ${JSON.stringify(f.attack.techniques)} ${JSON.stringify(f.entities)}`).join('\n');
}

async function withPcap(t: TestContext, pcap: string, fn: () => void | Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    keepWorkDir = true;
    t.diagnostic(`capture: ${pcap}`);
    throw e;
  }
}

async function skipUnless(t: TestContext, tools: string[]): Promise<boolean> {
  const why = await canRunNetns(tools);
  if (why) t.skip(why);
  return why === undefined;
}

async function freshLan(t: TestContext): Promise<Lan> {
  const lan = await createLan();
  t.after(() => lan.destroy());
  return lan;
}

interface DhcpOffer {
  ethSrc: string;
  serverId: string;
  router?: string;
  type: string;
}

/** DHCP replies in the capture, read with tcpdump so the check does not depend on our own decoder. */
function dhcpReplies(pcap: string): DhcpOffer[] {
  const text = execFileSync('tcpdump', ['-n', '-e', '-v', '-r', pcap, 'udp src port 67'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  const out: DhcpOffer[] = [];
  for (const block of text.split(/\n(?=\d{2}:\d{2}:\d{2}\.)/)) {
    const src = /^\S+ ([0-9a-f:]{17}) >/.exec(block);
    const type = /DHCP-Message \(53\), length 1: (\w+)/.exec(block);
    const sid = /Server-ID \(54\), length 4: ([\d.]+)/.exec(block);
    if (!src || !type || !sid) continue;
    out.push({ ethSrc: src[1]!, serverId: sid[1]!, router: /Default-Gateway \(3\), length \d+: ([\d.]+)/.exec(block)?.[1], type: type[1]! });
  }
  return out;
}

/**
 * dnsmasq as a DHCP server only (--port=0: no DNS), handing out `router` and
 * `dns` from a small pool; no config file, no daemonising, leases in `dir`.
 */
function startDnsmasq(lan: Lan, host: string, dir: string, pool: [string, string], router: string, dns: string): Background {
  return lan.spawn(
    host,
    [
      'dnsmasq',
      '--keep-in-foreground',
      '--log-facility=-',
      '--log-dhcp',
      '--conf-file=/dev/null',
      '--port=0',
      '--user=root',
      '--interface=eth0',
      '--bind-interfaces',
      '--no-ping',
      `--dhcp-range=${pool[0]},${pool[1]},255.255.255.0,5m`,
      `--dhcp-option=option:router,${router}`,
      `--dhcp-option=option:dns-server,${dns}`,
      `--dhcp-leasefile=${join(dir, `${host}.leases`)}`,
      `--pid-file=${join(dir, `${host}-dnsmasq.pid`)}`,
    ],
    `dnsmasq@${host}`,
  );
}

/** ISC dhclient in the victim's namespace; the script is /bin/true so the namespace is never reconfigured. */
class Dhclient {
  private readonly conf: string;
  private runs = 0;

  constructor(
    private readonly lan: Lan,
    private readonly dir: string,
  ) {
    this.conf = join(dir, 'dhclient.conf');
    writeFileSync(this.conf, 'timeout 20;\nretry 1;\nrequest subnet-mask, routers, domain-name-servers;\n');
  }

  private argv(extra: string[]): string[] {
    return ['dhclient', '-4', '-v', '-sf', '/bin/true', '-cf', this.conf, '-lf', join(this.dir, 'victim.leases'), '-pf', join(this.dir, 'dhclient.pid'), ...extra, 'eth0'];
  }

  /** One lease acquisition; `fresh` forgets the previous lease so the client starts with a DISCOVER. */
  async acquire(fresh: boolean): Promise<string> {
    if (fresh) rmSync(join(this.dir, 'victim.leases'), { force: true });
    const c = this.lan.spawn('victim', this.argv(['-d', '-1']), `dhclient#${++this.runs}`);
    try {
      await c.waitFor(/bound to [\d.]+/, 30_000);
      return /bound to ([\d.]+)/.exec(c.output())![1]!;
    } finally {
      await c.stop('SIGTERM', 5000);
    }
  }

  /** DHCPRELEASE of the current lease. */
  async release(): Promise<void> {
    await this.lan.exec('victim', this.argv(['-r']), { timeoutMs: 20_000 });
  }
}

test('benign: dnsmasq leases, renews and releases to dhclient; no medium+ finding', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['dnsmasq', 'dhclient']))) return;
  const lan = await freshLan(t);
  const dir = mkdtempSync(join(workDir, 'benign-'));
  const pcap = join(dir, 'dhcp-benign.pcap');
  const cap = await lan.startCapture(pcap);
  const server = startDnsmasq(lan, 'gateway', dir, ['198.18.0.100', '198.18.0.150'], GATEWAY.ip, GATEWAY.ip);
  await server.waitFor(DNSMASQ_READY, 15_000);
  const client = new Dhclient(lan, dir);
  const first = await client.acquire(true);
  // INIT-REBOOT with the remembered lease (REQUEST/ACK), a fresh DORA, then a release.
  const again = await client.acquire(false);
  await client.acquire(true);
  await client.release();
  await server.stop('SIGTERM', 5000);
  await sleep(CAPTURE_SETTLE_MS);
  await cap.stop();
  t.diagnostic(`leases: ${first}, ${again}`);

  await t.test('capture holds the gateway\'s OFFER and ACKs', (st) =>
    withPcap(st, pcap, () => {
      const replies = dhcpReplies(pcap);
      assert.ok(replies.some((r) => r.type === 'Offer' && r.serverId === GATEWAY.ip && r.ethSrc === GATEWAY.mac), JSON.stringify(replies));
      assert.ok(replies.filter((r) => r.type === 'ACK').length >= 2, JSON.stringify(replies));
      assert.ok(replies.every((r) => r.serverId === GATEWAY.ip));
    }),
  );
  await t.test('scan reports nothing medium or above, exit 0', (st) =>
    withPcap(st, pcap, () => {
      const r = scan(pcap);
      const loud = r.findings.filter((f) => MEDIUM_OR_ABOVE.has(f.severity));
      assert.deepEqual(loud.map((f) => `${f.rule_id} ${f.severity}`), [], `benign capture raised:\n${summary(loud)}`);
      assert.equal(r.status, 0, `exit status 0 expected; got ${r.status}\nstderr: ${r.stderr}`);
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
  await server.waitFor(DNSMASQ_READY, 15_000);
  const client = new Dhclient(lan, dir);
  // The network's server answers first: it is the one the scan trusts.
  await client.acquire(true);
  const rogue = startDnsmasq(lan, 'attacker', dir, ['198.18.0.200', '198.18.0.220'], ATTACKER.ip, ATTACKER.ip);
  await rogue.waitFor(DNSMASQ_READY, 15_000);
  // Both servers answer every DISCOVER; which lease the client takes depends on who is faster.
  const leases: string[] = [];
  for (let i = 0; i < 3; i++) leases.push(await client.acquire(true));
  await client.release();
  await rogue.stop('SIGTERM', 5000);
  await server.stop('SIGTERM', 5000);
  await sleep(CAPTURE_SETTLE_MS);
  await cap.stop();
  t.diagnostic(`leases taken while the rogue ran: ${leases.join(', ')}`);

  await t.test('capture holds OFFERs from the rogue naming itself as router', (st) =>
    withPcap(st, pcap, () => {
      const replies = dhcpReplies(pcap);
      assert.ok(
        replies.some((r) => r.type === 'Offer' && r.serverId === ATTACKER.ip && r.ethSrc === ATTACKER.mac && r.router === ATTACKER.ip),
        `no rogue OFFER in the capture: ${JSON.stringify(replies)}`,
      );
    }),
  );
  await t.test('scan reports critical T1557.003 dhcp-rogue-server with the attacker IP and MAC', (st) =>
    withPcap(st, pcap, () => {
      const r = scan(pcap);
      const all = summary(r.findings);
      assert.equal(r.status, 1, `exit status 1 expected with a high finding; got ${r.status}\nstderr: ${r.stderr}\n${all}`);
      const hit = r.findings.find((f) => f.rule_id === 'dhcp-rogue-server');
      assert.ok(hit, `no dhcp-rogue-server finding:\n${all}`);
      assert.equal(hit.severity, 'critical', all);
      assert.deepEqual(hit.attack.techniques, ['T1557.003']);
      assert.ok(hasEntity(hit, 'ip', ATTACKER.ip, 'attacker'), all);
      assert.ok(hasEntity(hit, 'mac', ATTACKER.mac, 'attacker'), all);
      assert.ok(hasEntity(hit, 'ip', ATTACKER.ip, 'attacker-controlled'), all);
      assert.ok(hasEntity(hit, 'mac', VICTIM.mac, 'victim'), all);
      assert.ok(hasEntity(hit, 'ip', GATEWAY.ip, 'legitimate'), all);
      assert.ok(!r.findings.some((f) => f.rule_id === 'dhcp-rogue-server' && hasEntity(f, 'ip', GATEWAY.ip, 'attacker')), `the real server was reported:\n${all}`);
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
  await server.waitFor(DNSMASQ_READY, 15_000);
  // yersinia stops at the first byte on stdin, so it gets a pipe that stays
  // open and empty. Its log (-l) and stderr would hold one line per frame the
  // token bucket refused (ENOBUFS).
  const attack = lan.spawn('attacker', ['sh', '-c', 'cd "$1" && sleep 120 | yersinia -l /dev/null dhcp -attack 1 -interface eth0 2>/dev/null', 'sh', dir], 'yersinia');
  await attack.waitFor(/Starting DOS attack sending DISCOVER/, 15_000);
  await sleep(3000);
  await attack.stop('SIGINT', 2000);
  await server.stop('SIGTERM', 5000);
  await sleep(CAPTURE_SETTLE_MS);
  await cap.stop();

  await t.test('capture holds DISCOVERs from many client addresses', (st) =>
    withPcap(st, pcap, () => {
      const text = execFileSync('tcpdump', ['-n', '-r', pcap, 'udp dst port 67'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
      const clients = new Set([...text.matchAll(/Request from ([0-9a-f:]{17})/g)].map((m) => m[1]));
      assert.ok(clients.size >= 100, `only ${clients.size} client addresses in the capture`);
    }),
  );
  await t.test('scan reports high T1557.003 dhcp-starvation', (st) =>
    withPcap(st, pcap, () => {
      const r = scan(pcap);
      const all = summary(r.findings);
      assert.equal(r.status, 1, `exit status 1 expected with a high finding; got ${r.status}\nstderr: ${r.stderr}\n${all}`);
      const hit = r.findings.find((f) => f.rule_id === 'dhcp-starvation');
      assert.ok(hit, `no dhcp-starvation finding:\n${all}`);
      assert.equal(hit.severity, 'high');
      assert.deepEqual(hit.attack.techniques, ['T1557.003']);
      assert.ok(hit.entities.some((e) => e.role === 'claimed-client'), all);
      assert.match(hit.message, /distinct client hardware addresses sent DHCP DISCOVER\/REQUEST within/);
    }),
  );
});
