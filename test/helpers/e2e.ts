// What the end-to-end tests (test/e2e/*-lan.test.ts) share: a work directory
// kept when something failed, skipping with the reason, a fresh namespace LAN
// per test, capture handling, tcpdump's independent reading of a capture, and
// `sniffwatch scan` on it with the checks every scenario makes.

import { after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { assertNotBlamed, assertSecretsOnlyInSecrets, atLeast, describe, hasEntity } from './captures.js';
import { CLI, runCli, type CliRun } from './cli.js';
import { canRunNetns, createLan, gratuitousArpArgv, scapyPython, sleep, ATTACKER, GATEWAY, UPSTREAM, VICTIM, type Capture, type Lan, type LanOptions } from './netns-lan.js';

/**
 * A temporary directory for one e2e file's captures and tool files, removed
 * after the run unless SNIFFWATCH_E2E_KEEP=1 or a check failed (then its path
 * is printed).
 */
export class E2eWorkDir {
  readonly path: string;
  private keepAfterRun = process.env.SNIFFWATCH_E2E_KEEP === '1';

  constructor(name: string) {
    this.path = mkdtempSync(join(tmpdir(), `sniffwatch-e2e-${name}-`));
    after(() => {
      if (this.keepAfterRun) console.error(`# e2e captures kept in ${this.path}`);
      else rmSync(this.path, { recursive: true, force: true });
    });
  }

  /** Keeps the directory after the run, for a look at what failed. */
  keep(): void {
    this.keepAfterRun = true;
  }

  /** Runs checks that need the capture; on failure keeps it and says where it is. */
  async withPcap(t: TestContext, pcap: string, fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.keep();
      t.diagnostic(`capture: ${pcap}`);
      console.error(`# ${t.name}: capture kept at ${pcap}`);
      throw e;
    }
  }
}

/** Skips the test with the reason when there is no netns LAN with these tools (and, if asked, no python3 with scapy). */
export async function skipUnless(t: TestContext, tools: string[], opts: { scapy?: boolean } = {}): Promise<boolean> {
  let why = await canRunNetns(tools);
  if (!why && opts.scapy && !scapyPython()) why = 'tool missing: python3 with scapy (Debian package python3-scapy)';
  if (why) t.skip(why);
  return why === undefined;
}

/** A new namespace LAN, destroyed when the test ends. */
export async function freshLan(t: TestContext, opts?: LanOptions): Promise<Lan> {
  const lan = await createLan(opts);
  t.after(() => lan.destroy());
  return lan;
}

/**
 * Stops a bridge capture after a pause: answers that come late (a spoofer
 * answers tens of milliseconds after the query, a server's last reply after
 * the client is done) belong in it.
 */
export async function settleAndStop(cap: Capture, settleMs = 2000): Promise<void> {
  await sleep(settleMs);
  await cap.stop();
}

/** Waits until something listens on `port` (TCP or UDP) in `host`'s namespace; throws after about 15 s. */
export async function waitListener(lan: Lan, host: string, port: number, proto: 'tcp' | 'udp' = 'tcp'): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const r = await lan.exec(host, ['ss', proto === 'tcp' ? '-Hltn' : '-Hlun', `sport = :${port}`], { timeoutMs: 5000 });
    if (r.stdout.trim() !== '') return;
    await sleep(100);
  }
  throw new Error(`nothing listens on ${proto.toUpperCase()} port ${port} in ${host}`);
}

/**
 * Benign LAN chatter, at once: the victim pings upstream through the gateway
 * (`pings` times) and announces itself with gratuitous ARP, the attacker's
 * host pings the gateway (half as often). Needs arping.
 */
export async function benignLanTraffic(lan: Lan, pings = 8): Promise<void> {
  const announce = gratuitousArpArgv(VICTIM.ip, 'eth0', 3);
  await Promise.all([
    lan.exec('victim', ['ping', '-n', '-c', String(pings), '-i', '0.5', UPSTREAM.ip], { timeoutMs: 20_000 }),
    lan.exec('victim', announce.argv, { timeoutMs: 15_000, okCodes: announce.okCodes }),
    lan.exec('attacker', ['ping', '-n', '-c', String(Math.ceil(pings / 2)), '-i', '0.5', GATEWAY.ip], { timeoutMs: 15_000 }),
  ]);
}

/** tcpdump's reading of a capture (independent of our decoder): one line per packet, -v continuation lines joined. */
export function tcpdumpPackets(pcap: string, filter: string, flags: readonly string[] = []): string[] {
  const text = execFileSync('tcpdump', ['-n', ...flags, '-r', pcap, filter], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  return text
    .replace(/\n\s+/g, ' ')
    .split('\n')
    .filter((l) => l.trim());
}

export interface ArpReply {
  ethSrc: string;
  ip: string;
  mac: string;
}

/** ARP replies in the capture, read with tcpdump. */
export function arpReplies(pcap: string): ArpReply[] {
  const out: ArpReply[] = [];
  const re = /^\S+ ([0-9a-f:]{17}) > [0-9a-f:]{17}, .*Reply (\d+\.\d+\.\d+\.\d+) is-at ([0-9a-f:]{17})/;
  for (const line of tcpdumpPackets(pcap, 'arp', ['-e'])) {
    const m = re.exec(line);
    if (m) out.push({ ethSrc: m[1]!, ip: m[2]!, mac: m[3]! });
  }
  return out;
}

export interface DhcpReply {
  ethSrc: string;
  ipSrc: string;
  serverId: string;
  router?: string;
  type: string;
}

/** DHCP replies in the capture (message type, server identifier, router), read with tcpdump. */
export function dhcpReplies(pcap: string): DhcpReply[] {
  const out: DhcpReply[] = [];
  for (const packet of tcpdumpPackets(pcap, 'udp src port 67', ['-e', '-v'])) {
    const src = /^\S+ ([0-9a-f:]{17}) >/.exec(packet);
    const ipSrc = /\s([\d.]+)\.67 > /.exec(packet);
    const type = /DHCP-Message \(53\), length 1: (\w+)/.exec(packet);
    const sid = /Server-ID \(54\), length 4: ([\d.]+)/.exec(packet);
    if (!src || !ipSrc || !type || !sid) continue;
    out.push({ ethSrc: src[1]!, ipSrc: ipSrc[1]!, serverId: sid[1]!, router: /Default-Gateway \(3\), length \d+: ([\d.]+)/.exec(packet)?.[1], type: type[1]! });
  }
  return out;
}

/** The victim's IPv6 neighbour cache entry for `ip` ("<ip> lladdr <mac> [router] STATE"), or ''. */
export async function victimNeighbour(lan: Lan, ip: string): Promise<string> {
  const r = await lan.exec('victim', ['ip', '-6', 'neigh', 'show', ip, 'dev', 'eth0'], { timeoutMs: 5000 });
  return r.stdout.trim();
}

/**
 * `sniffwatch scan --format jsonl [extraArgs] pcap` with the built CLI; fails
 * unless the scanner ran to completion (exit 0, or 1 for findings at the
 * --fail-on level).
 */
export function scanCapture(pcap: string, extraArgs: readonly string[] = []): CliRun {
  assert.ok(existsSync(CLI), `scanner not built: ${CLI} is missing (run npx tsc -p tsconfig.json)`);
  const r = runCli(['scan', '--format', 'jsonl', ...extraArgs, pcap]);
  assert.equal(r.signal, null, `scanner killed by ${r.signal}\nstderr: ${r.stderr}`);
  assert.ok(r.status === 0 || r.status === 1, `scanner failed with exit ${r.status}\nstderr: ${r.stderr}`);
  return r;
}

/** Every finding, info included, and exit 0 or 1 whatever was found: for tests that judge the findings, not the exit status. */
export function scanAll(pcap: string, extraArgs: readonly string[] = []): CliRun {
  const run = scanCapture(pcap, ['--min-severity', 'info', '--fail-on', 'none', ...extraArgs]);
  // With the values shown, each must stay in its finding's secrets: messages and entities name secrets, never quote them.
  if (extraArgs.includes('--show-secrets')) assertSecretsOnlyInSecrets(run.findings);
  return run;
}

/**
 * Scans again without --show-secrets: none of `secrets` may appear in the
 * output. Failure messages name a secret by index and length only, so the
 * test log does not print it either; an empty secret would always be found,
 * and no secrets would check nothing, so both fail at once.
 */
export function assertSecretsRedacted(pcap: string, secrets: readonly string[]): void {
  assert.ok(secrets.length > 0, 'no secrets to look for');
  secrets.forEach((s, i) => assert.ok(s !== '', `secret ${i} is empty`));
  const { stdout } = scanAll(pcap);
  secrets.forEach((s, i) => assert.ok(!stdout.includes(s), `secret ${i} (${s.length} chars) appears in the default output`));
}

/** What a capture without logins (or with logins under TLS) must show: no cred-* finding and nothing loud. */
export function assertNoCredentialFindings(pcap: string, what = 'benign capture'): Finding[] {
  const findings = scanAll(pcap).findings;
  const creds = describe(findings.filter((f) => f.rule_id.startsWith('cred-')));
  assert.deepEqual(creds, '', `${what} raised credential findings:\n${creds}`);
  assertNothingLoud(findings, what);
  return findings;
}

export function assertExit(r: CliRun, status: number): void {
  assert.equal(r.status, status, `exit status ${status} expected; got ${r.status}\nstderr: ${r.stderr}\n${describe(r.findings)}`);
}

/** What a benign run must show: no finding of medium or above. */
export function assertNothingLoud(findings: readonly Finding[], what = 'benign capture'): void {
  const loud = atLeast(findings, 'medium');
  assert.deepEqual(
    loud.map((f) => `${f.rule_id} ${f.severity}`),
    [],
    `${what} raised:\n${describe(loud)}`,
  );
}

/** A Neighbor Discovery spoofing run by the attacker against the victim's binding of the gateway's link-local address. */
export interface NdSpoofingRun {
  tool: string;
  /** What the tool printed, for the failure message. */
  output: () => string;
  gatewayLl: string;
  /** The victim's neighbour entry for gatewayLl before the attack, and while it ran. */
  before: string;
  during: readonly string[];
}

/**
 * What every ND spoofing scenario checks: the tool's advertisements claim the
 * gateway's address for the attacker's MAC and the victim took it (read with
 * tcpdump and `ip neigh`), and scan reports it at high or above against the
 * attacker, blaming neither the gateway nor the victim.
 */
export async function checkNdSpoofing(t: TestContext, work: E2eWorkDir, pcap: string, run: NdSpoofingRun): Promise<void> {
  const { tool, gatewayLl } = run;
  await t.test(`${tool}'s advertisements claim the gateway's address for its MAC, and the victim took it`, (st) =>
    work.withPcap(st, pcap, () => {
      const forged = tcpdumpPackets(pcap, 'icmp6 and ip6[40] == 136', ['-e', '-v']).filter((l) => l.includes(`${ATTACKER.mac} > ${VICTIM.mac}`));
      assert.ok(
        forged.some((l) => l.includes(`tgt is ${gatewayLl}`) && l.includes(`link-address option (2), length 8 (1): ${ATTACKER.mac}`)),
        `no advertisement of ${gatewayLl} from ${ATTACKER.mac} to the victim; ${tool} said:\n${run.output().slice(0, 3000)}`,
      );
      assert.ok(run.before.includes(`lladdr ${GATEWAY.mac}`), `victim did not know the gateway before: ${run.before}`);
      assert.ok(
        run.during.some((e) => e.includes(`lladdr ${ATTACKER.mac}`)),
        `victim's cache never pointed ${gatewayLl} at ${ATTACKER.mac}: ${run.during.join(' | ')}`,
      );
    }),
  );
  await t.test(`scan reports ND spoofing at high or above naming ${tool}'s MAC as attacker and the gateway's address as impersonated`, (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      const hits = atLeast(r.findings, 'high').filter(
        (f) => f.rule_id.startsWith('ndp-') && hasEntity(f, 'mac', ATTACKER.mac, 'attacker') && hasEntity(f, 'ip', gatewayLl, 'impersonated'),
      );
      assert.ok(hits.length > 0, `no high ndp-* finding naming ${ATTACKER.mac} as attacker and ${gatewayLl} as impersonated:\n${describe(r.findings)}`);
      assert.ok(hits.every((f) => f.attack.techniques.includes('T1557')), describe(hits));
      st.diagnostic(`ndp findings: ${hits.map((f) => `${f.rule_id} ${f.severity}`).join(', ')}`);
      for (const owner of [GATEWAY, VICTIM]) assertNotBlamed(atLeast(r.findings, 'medium'), owner);
      assertExit(r, 1);
    }),
  );
}

/**
 * A self-signed certificate and key for TLS servers, made once per directory
 * and name. The key is world-readable: some servers read it after dropping
 * privileges.
 */
export function selfSignedCertificate(dir: string, commonName: string): { cert: string; key: string } {
  const cert = join(dir, `${commonName}.cert.pem`);
  const key = join(dir, `${commonName}.key.pem`);
  if (!existsSync(cert) || !existsSync(key)) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${commonName}`, '-keyout', key, '-out', cert], {
      stdio: 'ignore',
      timeout: 30_000,
    });
    chmodSync(key, 0o644);
  }
  return { cert, key };
}

/** An HTTP Basic login the victim makes to the gateway, and how to find it among findings. */
export interface HttpBasicLogin {
  port: number;
  user: string;
  password: string;
}

/**
 * Starts a real server on the gateway (python3's http.server, serving `dir`)
 * and has curl on the victim log in to it with HTTP Basic until it answers 200.
 */
export async function httpBasicLogin(lan: Lan, dir: string, login: HttpBasicLogin): Promise<void> {
  lan.spawn('gateway', ['python3', '-m', 'http.server', '--bind', GATEWAY.ip, String(login.port), '--directory', dir], 'http.server');
  const url = `http://${GATEWAY.ip}:${login.port}/`;
  for (let i = 0; ; i++) {
    const r = await lan.exec('victim', ['curl', '-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', '-u', `${login.user}:${login.password}`, url], {
      timeoutMs: 10_000,
      okCodes: [0, 7, 28],
    });
    if (r.code === 0 && r.stdout === '200') return;
    if (i >= 30) throw new Error(`curl ${url} failed: ${r.stdout} ${r.stderr}`);
    await sleep(300);
  }
}

export function isHttpBasicLogin(login: HttpBasicLogin): (f: Finding) => boolean {
  return (f) => f.rule_id === 'cred-http-basic' && hasEntity(f, 'user', login.user);
}

/** The finding names the victim as client, the gateway's port as server and the user, and never the password. */
export function assertHttpBasicLogin(f: Finding | undefined, all: readonly Finding[], login: HttpBasicLogin): void {
  assert.ok(f, describe(all));
  assert.ok(hasEntity(f, 'ip', VICTIM.ip, 'client'), JSON.stringify(f.entities));
  assert.ok(hasEntity(f, 'host', `${GATEWAY.ip}:${login.port}`, 'server'), JSON.stringify(f.entities));
  assert.ok(hasEntity(f, 'user', login.user), JSON.stringify(f.entities));
  assert.equal(f.severity, 'high');
  assert.ok(!JSON.stringify(f).includes(login.password), 'the password is shown');
}
