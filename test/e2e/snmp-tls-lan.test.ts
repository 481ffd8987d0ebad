// End to end: SNMP community strings and weak TLS on a namespace LAN with
// real tools (net-snmp's snmpd/snmpget/snmpwalk, openssl s_server/s_client),
// captured on the bridge, then `sniffwatch scan` on the capture. Needs root;
// see README.md.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity } from '../helpers/captures.js';
import { usmLineMatches } from '../helpers/challenge-response.js';
import type { CliRun } from '../helpers/cli.js';
import {
  assertExit,
  assertNothingLoud,
  E2eWorkDir,
  freshLan,
  scanCapture,
  selfSignedCertificate,
  settleAndStop,
  skipUnless,
  tcpdumpPackets,
} from '../helpers/e2e.js';
import { type Background, type ExecResult, type HostSpec, type Lan } from '../helpers/netns-lan.js';

const work = new E2eWorkDir('snmp-tls');
const workDir = work.path;

const AGENT: HostSpec = { name: 'agent', ip: '198.18.0.20', mac: '02:53:57:00:00:14' };
const MANAGER: HostSpec = { name: 'manager', ip: '198.18.0.30', mac: '02:53:57:00:00:1e' };
const COMMUNITY = 's3cretCommunity';
const TRAP_COMMUNITY = 'trapC0mmunity';
const V3_USER = { name: 'alice', auth: 'authPass-8d1f', priv: 'privPass-3c7a' };
/** An authNoPriv user with MD5, the other HMAC hashcat 25000 takes. */
const V3_MD5_USER = { name: 'bob', auth: 'bobAuth-51e2' };
/** authPriv users with SHA-2 HMACs (RFC 7860), which hashcat takes as 26800 and 27300. */
const V3_SHA2_USERS = [
  { name: 'carol', hash: 'SHA-256', auth: 'carolAuth-77b0', hmac: 'HMAC-SHA-256-192', tag: '4' },
  { name: 'dave', hash: 'SHA-512', auth: 'daveAuth-1e93', hmac: 'HMAC-SHA-512-384', tag: '6' },
];
const TLS_PORT = 4433;
/** net-snmp without the MIB files Debian leaves to snmp-mibs-downloader: no MIB noise, numeric OIDs. */
const NO_MIBS = ['env', 'MIBS=', `SNMP_PERSISTENT_DIR=${join(workDir, 'client-persist')}`];

function lanWithAgentAndManager(t: TestContext): Promise<Lan> {
  return freshLan(t, { extraHosts: [AGENT, MANAGER] });
}

/** What tcpdump's own SNMP printer sees, so the capture is checked without our decoder. */
function tcpdumpSnmp(pcap: string): string {
  return tcpdumpPackets(pcap, 'udp port 161 or udp port 162', ['-v']).join('\n');
}

/** snmpd in the foreground on the agent, with only our config file; resolves once it serves. */
async function startSnmpd(lan: Lan): Promise<Background> {
  const persist = join(workDir, 'snmpd-persist');
  mkdirSync(persist, { recursive: true });
  const conf = join(workDir, 'snmpd.conf');
  writeFileSync(
    conf,
    [
      `[snmp] persistentDir ${persist}`,
      `agentaddress udp:${AGENT.ip}:161`,
      `rocommunity ${COMMUNITY} 198.18.0.0/24`,
      // Wrong communities make the agent send an authenticationFailure trap to the manager.
      'authtrapenable 1',
      `trapsink ${MANAGER.ip}:162 ${TRAP_COMMUNITY}`,
      `createUser ${V3_USER.name} SHA ${V3_USER.auth} AES ${V3_USER.priv}`,
      `rouser ${V3_USER.name} authpriv`,
      `createUser ${V3_MD5_USER.name} MD5 ${V3_MD5_USER.auth}`,
      `rouser ${V3_MD5_USER.name} auth`,
      ...V3_SHA2_USERS.flatMap((u) => [`createUser ${u.name} ${u.hash} ${u.auth} AES ${V3_USER.priv}`, `rouser ${u.name} authpriv`]),
      '',
    ].join('\n'),
  );
  const snmpd = lan.spawn('agent', ['env', 'MIBS=', 'snmpd', '-f', '-Lo', '-C', '-c', conf], 'snmpd');
  await snmpd.waitFor(/NET-SNMP version/, 15_000);
  return snmpd;
}

test('SNMPv2c with a secret community: reported with manager and agent, never printed unless asked', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['snmpd', 'snmpget', 'snmpwalk']))) return;
  const lan = await lanWithAgentAndManager(t);
  const snmpd = await startSnmpd(lan);
  const pcap = join(workDir, 'snmp-v2c.pcap');
  const cap = await lan.startCapture(pcap);
  const get = await lan.exec('manager', [...NO_MIBS, 'snmpget', '-v2c', '-c', COMMUNITY, '-On', AGENT.ip, '1.3.6.1.2.1.1.5.0'], { timeoutMs: 20_000 });
  const walk = await lan.exec('manager', [...NO_MIBS, 'snmpwalk', '-v2c', '-c', COMMUNITY, '-On', AGENT.ip, '1.3.6.1.2.1.1'], { timeoutMs: 20_000 });
  // A wrong community: the agent stays silent (snmpget times out, exit 1) and traps.
  const wrong = await lan.exec('manager', [...NO_MIBS, 'snmpget', '-v2c', '-c', 'notTheCommunity', '-r', '0', '-t', '1', '-On', AGENT.ip, '1.3.6.1.2.1.1.5.0'], {
    timeoutMs: 20_000,
    okCodes: [1],
  });
  await settleAndStop(cap);
  await snmpd.stop('SIGTERM', 5000);
  t.diagnostic(`snmpget: ${get.stdout.trim()}; walk lines: ${walk.stdout.trim().split('\n').length}; wrong: ${wrong.stderr.trim()}`);

  await t.test('the tools talked: answers to the right community, none to the wrong one', () => {
    assert.match(get.stdout, /\.1\.3\.6\.1\.2\.1\.1\.5\.0 = STRING/);
    assert.ok(walk.stdout.trim().split('\n').length >= 5, walk.stdout);
    assert.match(wrong.stderr, /Timeout/);
    assert.match(tcpdumpSnmp(pcap), new RegExp(`C="${COMMUNITY}"`));
  });
  await t.test('scan reports cred-snmp-community (T1040) naming manager and agent, high', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      const hit = r.findings.find(
        (f) => f.rule_id === 'cred-snmp-community' && f.severity === 'high' && hasEntity(f, 'ip', MANAGER.ip, 'client') && hasEntity(f, 'ip', AGENT.ip, 'server'),
      );
      assert.ok(hit, `no high cred-snmp-community for ${MANAGER.ip} -> ${AGENT.ip}:\n${describe(r.findings)}`);
      assert.ok(hit.attack.techniques.includes('T1040'));
      assert.ok(hasEntity(hit, 'protocol', 'SNMPv2c', 'version'));
      assert.equal(hit.secrets?.[0]?.length, COMMUNITY.length);
      assertExit(r, 1);
      const wrongUse = r.findings.find((f) => f.rule_id === 'cred-snmp-community' && f.severity === 'medium' && /wrong/.test(f.message) && hasEntity(f, 'ip', MANAGER.ip, 'client'));
      assert.ok(wrongUse, `the unanswered wrong community is not reported as likely wrong:\n${describe(r.findings)}`);
    }),
  );
  await t.test('the community is redacted in the JSONL output, and shown with --show-secrets', (st) =>
    work.withPcap(st, pcap, () => {
      const hidden = scanCapture(pcap);
      assert.ok(!hidden.stdout.includes(COMMUNITY), 'community printed without --show-secrets');
      assert.ok(!hidden.stdout.includes('notTheCommunity'), 'wrong community printed without --show-secrets');
      const shown = scanCapture(pcap, ['--show-secrets']);
      assert.ok(shown.stdout.includes(COMMUNITY), 'community missing with --show-secrets');
      assert.match(shown.stderr, /show-secrets/);
    }),
  );
  await t.test("the agent's authenticationFailure trap is reported as a rejection", (st) =>
    work.withPcap(st, pcap, () => {
      assert.match(tcpdumpSnmp(pcap), /authenticationFailure/, 'snmpd sent no authenticationFailure trap');
      const r = scanCapture(pcap);
      const trap = r.findings.find((f) => f.rule_id === 'cred-snmp-community' && /authenticationFailure/.test(f.message));
      assert.ok(trap, describe(r.findings));
      assert.match(trap.message, new RegExp(`rejected the community ${MANAGER.ip.replace(/\./g, '\\.')} sent`));
      assert.ok(!r.stdout.includes(TRAP_COMMUNITY));
    }),
  );
});

test('SNMPv3 authPriv and authNoPriv with MD5, SHA-1 and SHA-2: each HMAC reported low (cracks to the password used, a wrong one refused), no community, nothing medium or above', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['snmpd', 'snmpget']))) return;
  const lan = await lanWithAgentAndManager(t);
  const snmpd = await startSnmpd(lan);
  const v3get = (args: string[], okCodes = [0]): Promise<ExecResult> =>
    lan.exec('manager', [...NO_MIBS, 'snmpget', '-v3', '-r', '0', '-t', '2', ...args, '-On', AGENT.ip, '1.3.6.1.2.1.1.5.0'], { timeoutMs: 20_000, okCodes });
  const pcap = join(workDir, 'snmp-v3.pcap');
  let cap = await lan.startCapture(pcap);
  const get = await v3get(['-l', 'authPriv', '-u', V3_USER.name, '-a', 'SHA', '-A', V3_USER.auth, '-x', 'AES', '-X', V3_USER.priv]);
  const md5 = await v3get(['-l', 'authNoPriv', '-u', V3_MD5_USER.name, '-a', 'MD5', '-A', V3_MD5_USER.auth]);
  const sha2: ExecResult[] = [];
  for (const u of V3_SHA2_USERS) sha2.push(await v3get(['-l', 'authPriv', '-u', u.name, '-a', u.hash, '-A', u.auth, '-x', 'AES', '-X', V3_USER.priv]));
  await settleAndStop(cap);
  // A wrong password, captured apart: snmpd also sends its SNMPv1 authenticationFailure trap (with the trap community).
  const wrongPcap = join(workDir, 'snmp-v3-wrong.pcap');
  cap = await lan.startCapture(wrongPcap);
  const wrong = await v3get(['-l', 'authNoPriv', '-u', V3_MD5_USER.name, '-a', 'MD5', '-A', 'notThePassword'], [1, 2]);
  await settleAndStop(cap);
  await snmpd.stop('SIGTERM', 5000);
  await t.test('the v3 exchanges happened', () => {
    assert.match(get.stdout, /\.1\.3\.6\.1\.2\.1\.1\.5\.0 = STRING/);
    assert.match(md5.stdout, /\.1\.3\.6\.1\.2\.1\.1\.5\.0 = STRING/);
    for (const r of sha2) assert.match(r.stdout, /\.1\.3\.6\.1\.2\.1\.1\.5\.0 = STRING/);
    assert.match(wrong.stderr, /[Aa]uthentication failure|wrong digest/i);
    assert.match(tcpdumpSnmp(pcap), /SNMPv3/);
  });
  const v3 = (findings: readonly Finding[], user: string, outcome: string): Finding => {
    const f = findings.find((x) => x.rule_id === 'cred-snmpv3' && hasEntity(x, 'user', user, `login-${outcome}`) && hasEntity(x, 'ip', MANAGER.ip, 'client') && hasEntity(x, 'ip', AGENT.ip, 'server'));
    assert.ok(f, `no cred-snmpv3 for ${user} (${outcome}):\n${describe(findings)}`);
    assert.equal(f.severity, 'low');
    assert.deepEqual(f.attack.techniques, ['T1040']);
    return f;
  };
  const lines = (f: Finding): string[] => (f.secrets ?? []).map((s) => s.value ?? '');
  await t.test('scan reports cred-snmpv3 (low) per user, accepted, with a line cracking to the password; no community; nothing medium or above, exit 0', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap, ['--show-secrets']);
      assert.deepEqual(r.findings.filter((f) => f.rule_id === 'cred-snmp-community'), [], describe(r.findings));
      assert.ok(lines(v3(r.findings, V3_USER.name, 'succeeded')).some((l) => usmLineMatches(l, V3_USER.auth)), 'no SHA line cracks to the password');
      const bob = v3(r.findings, V3_MD5_USER.name, 'succeeded');
      assert.ok(lines(bob).some((l) => usmLineMatches(l, V3_MD5_USER.auth)), 'no MD5 line cracks to the password');
      assert.match(bob.message, /unencrypted/);
      for (const u of V3_SHA2_USERS) {
        const f = v3(r.findings, u.name, 'succeeded');
        assert.match(f.message, new RegExp(u.hmac));
        const line = lines(f).find((l) => l.startsWith(`$SNMPv3$${u.tag}$`));
        assert.ok(line !== undefined && usmLineMatches(line, u.auth), `no ${u.hash} line (hashcat tag ${u.tag}) cracks to the password: ${lines(f).join(' ')}`);
        assert.ok(!usmLineMatches(line, V3_USER.auth));
      }
      assertNothingLoud(r.findings);
      assertExit(scanCapture(pcap), 0);
    }),
  );
  await t.test('the wrong password is reported refused, its line cracking to the password tried', (st) =>
    work.withPcap(st, wrongPcap, () => {
      const r = scanCapture(wrongPcap, ['--show-secrets', '--fail-on', 'none']);
      const bob = v3(r.findings, V3_MD5_USER.name, 'failed');
      assert.ok(lines(bob).some((l) => usmLineMatches(l, 'notThePassword')), 'no line cracks to the wrong password tried');
    }),
  );
});

/** Segments to or from the TLS port whose payload starts with a handshake record (22), counted by tcpdump. */
function handshakeSegments(pcap: string): number {
  return tcpdumpPackets(pcap, `tcp port ${TLS_PORT} and tcp[((tcp[12] & 0xf0) >> 2)] = 22`).length;
}

/**
 * openssl s_server on the agent host with serverArgs, then one s_client
 * handshake from the manager with clientArgs; returns the capture and what
 * s_client says it negotiated. -www keeps s_server from reading stdin.
 */
async function tlsHandshake(t: TestContext, name: string, serverArgs: string[], clientArgs: string[]): Promise<{ pcap: string; protocol: string }> {
  const lan = await lanWithAgentAndManager(t);
  const { cert, key } = selfSignedCertificate(workDir, 'sniffwatch-e2e');
  const server = lan.spawn('agent', ['openssl', 's_server', '-accept', `${AGENT.ip}:${TLS_PORT}`, '-cert', cert, '-key', key, '-www', ...serverArgs], 's_server');
  await server.waitFor(/ACCEPT/, 15_000);
  const pcap = join(workDir, `${name}.pcap`);
  const cap = await lan.startCapture(pcap);
  const quoted = clientArgs.map((a) => `'${a}'`).join(' ');
  // stdin from /dev/null: s_client completes the handshake, then closes.
  const client = await lan.exec('manager', ['sh', '-c', `openssl s_client -connect ${AGENT.ip}:${TLS_PORT} ${quoted} </dev/null`], { timeoutMs: 20_000 });
  await settleAndStop(cap);
  await server.stop('SIGTERM', 5000);
  // "New, TLSv1.0, Cipher is ..." is printed for every version (the session block is not, for TLS 1.3).
  const protocol = /^New, ([^,]+),/m.exec(client.stdout)?.[1] ?? '?';
  t.diagnostic(`s_client negotiated ${protocol}`);
  return { pcap, protocol };
}

function assertWeakTls(r: CliRun, severity: string, negotiated: string): Finding {
  const hit = r.findings.find((f) => f.rule_id === 'tls-weak-version' && hasEntity(f, 'ip', MANAGER.ip, 'client') && hasEntity(f, 'ip', AGENT.ip, 'server'));
  assert.ok(hit, `no tls-weak-version naming client ${MANAGER.ip} and server ${AGENT.ip}:\n${describe(r.findings)}`);
  assert.equal(hit.severity, severity, describe([hit]));
  assert.ok(hit.attack.techniques.includes('T1557'));
  assert.ok(hasEntity(hit, 'host', `${AGENT.ip}:${TLS_PORT}`, 'service'));
  assert.ok(hasEntity(hit, 'protocol', negotiated, 'negotiated'));
  return hit;
}

test('openssl with TLS 1.0 on both sides: tls-weak-version, medium', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['openssl']))) return;
  // Debian's OpenSSL 3 allows TLS 1.0 only at security level 0.
  const { pcap, protocol } = await tlsHandshake(t, 'tls10', ['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0'], ['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0']);
  assert.equal(protocol, 'TLSv1.0', 'openssl did not negotiate TLS 1.0');
  assert.ok(handshakeSegments(pcap) >= 2, 'capture holds no ClientHello/ServerHello');
  await t.test('scan names client and server:port, TLS 1.0 negotiated and offered', (st) =>
    work.withPcap(st, pcap, () => {
      const hit = assertWeakTls(scanCapture(pcap), 'medium', 'TLS 1.0');
      assert.ok(hasEntity(hit, 'protocol', 'TLS 1.0', 'offered'));
    }),
  );
});

test('a TLS 1.3-capable client pushed down to TLS 1.0 is a downgrade: high', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['openssl']))) return;
  const { pcap, protocol } = await tlsHandshake(t, 'tls-downgrade', ['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0'], ['-cipher', 'DEFAULT@SECLEVEL=0']);
  assert.equal(protocol, 'TLSv1.0');
  await t.test('scan reports the downgrade with the offered TLS 1.3', (st) =>
    work.withPcap(st, pcap, () => {
      const hit = assertWeakTls(scanCapture(pcap), 'high', 'TLS 1.0');
      assert.ok(hasEntity(hit, 'protocol', 'TLS 1.3', 'offered'));
      assert.match(hit.message, /downgrade/);
    }),
  );
});

test('openssl defaults (TLS 1.3): nothing medium or above', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['openssl']))) return;
  const { pcap, protocol } = await tlsHandshake(t, 'tls13', [], []);
  assert.equal(protocol, 'TLSv1.3');
  assert.ok(handshakeSegments(pcap) >= 2, 'capture holds no ClientHello/ServerHello');
  await t.test('scan reports no weak version and nothing medium or above, exit 0', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      assert.deepEqual(r.findings.filter((f) => f.rule_id === 'tls-weak-version'), [], describe(r.findings));
      assertNothingLoud(r.findings);
      assertExit(r, 0);
    }),
  );
});
