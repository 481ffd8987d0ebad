// End to end: real ARP spoofing tools on a namespace LAN, captured on the
// bridge, then `sniffwatch scan` on the capture. Needs root; see README.md.

import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canRunNetns, createLan, gratuitousArpArgv, sleep, ATTACKER, GATEWAY, UPSTREAM, VICTIM, type Lan } from '../helpers/netns-lan.js';

// dist/test/e2e/ -> repository root
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = join(REPO, 'dist/src/cli/main.js');
const KEEP = process.env.SNIFFWATCH_E2E_KEEP === '1';

const workDir = mkdtempSync(join(tmpdir(), 'sniffwatch-e2e-arp-'));
let keepWorkDir = KEEP;
after(() => {
  if (keepWorkDir) console.error(`# e2e captures kept in ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
});

interface ScanEntity {
  type: string;
  value: string;
  role?: string;
}

interface ScanFinding {
  rule_id: string;
  title: string;
  severity: string;
  confidence: number;
  attack: { tactics: string[]; techniques: string[] };
  entities: ScanEntity[];
  count: number;
  first_seen: string;
  last_seen: string;
  evidence: { source: string; frame?: number }[];
}

interface ScanResult {
  status: number | null;
  stdout: string;
  stderr: string;
  findings: ScanFinding[];
}

const MEDIUM_OR_ABOVE = new Set(['medium', 'high', 'critical']);

function scan(pcap: string): ScanResult {
  assert.ok(existsSync(CLI), `scanner not built: ${CLI} is missing (run npx tsc -p tsconfig.json)`);
  const r = spawnSync(process.execPath, [CLI, 'scan', '--format', 'jsonl', pcap], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  assert.ok(!r.error, `scanner did not run: ${r.error?.message}`);
  const findings: ScanFinding[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    try {
      findings.push(JSON.parse(line) as ScanFinding);
    } catch {
      assert.fail(`scanner stdout line is not JSON: ${line.slice(0, 200)}`);
    }
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, findings };
}

interface ArpReply {
  ethSrc: string;
  ip: string;
  mac: string;
}

/** ARP replies in the capture, read with tcpdump so the check does not depend on our own decoder. */
function arpReplies(pcap: string): ArpReply[] {
  const text = execFileSync('tcpdump', ['-n', '-e', '-r', pcap, 'arp'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const out: ArpReply[] = [];
  const re = /^\S+ ([0-9a-f:]{17}) > [0-9a-f:]{17}, .*Reply (\d+\.\d+\.\d+\.\d+) is-at ([0-9a-f:]{17})/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m) out.push({ ethSrc: m[1]!, ip: m[2]!, mac: m[3]! });
  }
  return out;
}

function hasEntity(f: ScanFinding, type: string, value: string, role: string): boolean {
  return (f.entities ?? []).some((e) => e.type === type && e.value.toLowerCase() === value && e.role === role);
}

function summary(findings: ScanFinding[]): string {
  return findings
    .map((f) => `${f.rule_id} ${f.severity} ${JSON.stringify(f.attack?.techniques)} ${JSON.stringify(f.entities)}`)
    .join('\n');
}

/** Runs assertions that need the capture; on failure keeps it and says where it is. */
async function withPcap(t: TestContext, pcap: string, fn: () => void | Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    keepWorkDir = true;
    t.diagnostic(`capture: ${pcap}`);
    console.error(`# ${t.name}: capture kept at ${pcap}`);
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
function assertArpMitm(r: ScanResult, impersonated: string[]): void {
  const all = summary(r.findings);
  assert.equal(r.status, 1, `exit status 1 expected with a high finding; got ${r.status}\nstderr: ${r.stderr}\n${all}`);
  const attackerMac = ATTACKER.mac.toLowerCase();
  const main = r.findings.find(
    (f) =>
      (f.attack?.techniques ?? []).includes('T1557.002') &&
      (f.severity === 'high' || f.severity === 'critical') &&
      hasEntity(f, 'mac', attackerMac, 'attacker') &&
      hasEntity(f, 'ip', GATEWAY.ip, 'impersonated'),
  );
  assert.ok(
    main,
    `no high/critical T1557.002 finding naming mac ${attackerMac} as attacker and ip ${GATEWAY.ip} as impersonated; findings:\n${all}`,
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
    withPcap(st, pcap, () => {
      const owners: Record<string, string> = { [GATEWAY.ip]: GATEWAY.mac, [VICTIM.ip]: VICTIM.mac, [ATTACKER.ip]: ATTACKER.mac };
      const replies = arpReplies(pcap);
      assert.ok(replies.length > 0, 'expected some ARP replies in the capture');
      for (const r of replies) assert.equal(r.mac, owners[r.ip], `unexpected binding ${r.ip} is-at ${r.mac}`);
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
  await t.test('capture holds forged replies', (st) => withPcap(st, pcap, () => assertForgedOnWire(pcap, [GATEWAY.ip])));
  await t.test('scan reports T1557.002 with attacker mac and impersonated gateway', (st) =>
    withPcap(st, pcap, () => assertArpMitm(scan(pcap), [])),
  );
});

test('arpspoof two-way (-r) poisoning is reported for both addresses', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['arpspoof']))) return;
  const pcap = await runArpspoof(t, 'arpspoof-twoway', ['-r']);
  await t.test('capture holds forged replies both ways', (st) =>
    withPcap(st, pcap, () => assertForgedOnWire(pcap, [GATEWAY.ip, VICTIM.ip])),
  );
  await t.test('scan reports T1557.002 and both impersonated addresses', (st) =>
    withPcap(st, pcap, () => assertArpMitm(scan(pcap), [VICTIM.ip])),
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
  await t.test('capture holds forged replies', (st) => withPcap(st, pcap, () => assertForgedOnWire(pcap, [GATEWAY.ip])));
  await t.test('scan reports T1557.002 with attacker mac and impersonated gateway', (st) =>
    withPcap(st, pcap, () => assertArpMitm(scan(pcap), [])),
  );
});
