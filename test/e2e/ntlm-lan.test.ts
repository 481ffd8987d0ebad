// End to end: NTLM logins a sniffer on the LAN harvests, made by real
// servers and clients from Debian on a namespace LAN and captured on the
// bridge, then `sniffwatch scan`:
// - Samba's smbd and smbclient: SMB 3.1.1 on 445, SMB over NetBIOS on 139, SMB1
//   with extended security, and SMB1 with NTLMv1 (spnego and NTLMv2 turned off
//   on the client, as legacy clients do);
// - impacket's NTLM relay (ntlmrelayx's library) on the attacker's host,
//   passing the victim's smbclient login on to Samba;
// - squid as an authenticating proxy (its ntlm_fake_auth helper accepts any
//   account) with curl --proxy-ntlm.
// AUTH NTLM in mail protocols is covered by crafted sessions only
// (test/unit/credentials-ntlm.test.ts): Debian's dovecot is built without
// the NTLM mechanism.
// Each NTLMv2 hashcat line sniffwatch reports must be the one the password
// used cracks. Anonymous SMB and unauthenticated HTTP must stay quiet. Needs
// root; the accounts are throw-away local users deleted afterwards.

import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity } from '../helpers/captures.js';
import { assertNoCredentialFindings, E2eWorkDir, freshLan, scanAll, selfSignedCertificate, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { ATTACKER, findTool, pythonWith, VICTIM, type HostSpec, type Lan } from '../helpers/netns-lan.js';
import { ntlmV2LineMatches } from '../helpers/challenge-response.js';

const HELPERS = new URL('../../../test/helpers/', import.meta.url).pathname;
const TDS_SERVER = join(HELPERS, 'tds-server.py');
const SERVER: HostSpec = { name: 'server', ip: '198.18.0.20', mac: '02:53:57:00:00:14' };
const CLIENT = VICTIM;
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const USERS = { a: `swa${TAG}`.slice(0, 20), b: `swb${TAG}`.slice(0, 20) };
const PASSWORDS = { a: `Smb-A-${TAG}`, b: `Smb-B-${TAG}`, wrong: `Wrong-${TAG}`, web: `Web-${TAG}` };
const WORKGROUP = 'SWTEST';

const work = new E2eWorkDir('ntlm');
const dir = work.path;
chmodSync(dir, 0o755);
const created: string[] = [];
after(() => {
  for (const u of created) spawnSync('userdel', ['-f', u], { stdio: 'ignore' });
});

/** The finding for one login: rule, user (with its outcome), client, server endpoint. */
function login(findings: readonly Finding[], rule: string, user: string, outcome: 'succeeded' | 'failed', port: number): Finding {
  const hit = findings.find(
    (f) =>
      f.rule_id === rule &&
      f.attack.techniques.includes('T1040') &&
      hasEntity(f, 'user', user, `login-${outcome}`) &&
      hasEntity(f, 'ip', CLIENT.ip, 'client') &&
      hasEntity(f, 'ip', SERVER.ip, 'server') &&
      hasEntity(f, 'host', `${SERVER.ip}:${port}`, 'server'),
  );
  assert.ok(hit, `no ${rule} for ${user} (${outcome}) from ${CLIENT.ip} to ${SERVER.ip}:${port}:\n${describe(findings)}`);
  return hit;
}

function startSamba(lan: Lan): void {
  for (const sub of ['private', 'lock', 'state', 'cache', 'pid', 'ncalrpc', 'share']) mkdirSync(join(dir, sub), { recursive: true });
  chmodSync(join(dir, 'share'), 0o755);
  writeFileSync(join(dir, 'share', 'report.txt'), 'quarterly numbers\n');
  const conf = join(dir, 'smb.conf');
  writeFileSync(
    conf,
    `[global]
  workgroup = ${WORKGROUP}
  server role = standalone server
  interfaces = ${SERVER.ip}
  bind interfaces only = yes
  smb ports = 445 139
  private dir = ${dir}/private
  lock directory = ${dir}/lock
  state directory = ${dir}/state
  cache directory = ${dir}/cache
  pid directory = ${dir}/pid
  ncalrpc dir = ${dir}/ncalrpc
  passdb backend = tdbsam:${dir}/private/passdb.tdb
  log file = ${dir}/smbd.log
  disable netbios = yes
  server min protocol = NT1
  ntlm auth = yes
  map to guest = never
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
[share]
  path = ${dir}/share
  read only = yes
`,
  );
  for (const key of ['a', 'b'] as const) {
    // The namespaces share /etc/passwd: each account is created once per run, its Samba password once per server.
    if (!created.includes(USERS[key])) {
      execFileSync('useradd', ['-M', '-N', '-s', '/bin/false', USERS[key]], { stdio: 'ignore' });
      created.push(USERS[key]);
    }
    execFileSync('smbpasswd', ['-c', conf, '-s', '-a', USERS[key]], { input: `${PASSWORDS[key]}\n${PASSWORDS[key]}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
  }
  writeClientConf();
  lan.spawn('server', ['smbd', '--foreground', '--no-process-group', '--debug-stdout', '-s', conf], 'smbd');
}

/** The victims' smbclient configuration: the test's workgroup, SMB1 allowed. */
function writeClientConf(): void {
  writeFileSync(join(dir, 'client.conf'), `[global]\n  workgroup = ${WORKGROUP}\n  client min protocol = NT1\n`);
}

async function smbclient(lan: Lan, args: string[], okCodes = [0]): Promise<void> {
  await lan.exec('victim', ['smbclient', '-s', join(dir, 'client.conf'), ...args, '-c', 'ls'], { timeoutMs: 30_000, okCodes });
}

test('SMB logins to a real Samba server: NTLMv2 hashes that crack to the password, NTLMv1 high, outcomes from the server; anonymous SMB quiet', { timeout: 120_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['smbd', 'smbclient', 'smbpasswd', 'useradd', 'ss']))) return;
  const lan = await freshLan(t, { extraHosts: [SERVER] });
  startSamba(lan);
  await waitListener(lan, 'server', 445);
  await waitListener(lan, 'server', 139);
  const share = `//${SERVER.ip}/share`;

  const attackPcap = join(dir, 'smb-attack.pcap');
  let cap = await lan.startCapture(attackPcap);
  await smbclient(lan, [share, '-U', `${USERS.a}%${PASSWORDS.a}`]);
  await smbclient(lan, ['-p', '139', share, '-U', `${USERS.a}%${PASSWORDS.wrong}`], [1]);
  await smbclient(lan, ['-m', 'NT1', share, '-U', `${USERS.b}%${PASSWORDS.b}`]);
  await smbclient(lan, ['-m', 'NT1', '-p', '139', '--option=client use spnego=no', '--option=client ntlmv2 auth=no', share, '-U', `${USERS.b}%${PASSWORDS.b}`]);
  await settleAndStop(cap);

  const benignPcap = join(dir, 'smb-benign.pcap');
  cap = await lan.startCapture(benignPcap);
  await lan.exec('victim', ['smbclient', '-s', join(dir, 'client.conf'), '-N', '-L', `//${SERVER.ip}`], { timeoutMs: 30_000, okCodes: [0, 1] });
  await settleAndStop(cap);

  await work.withPcap(t, attackPcap, () => {
    const shown = scanAll(attackPcap, ['--show-secrets']).findings;
    const userA = `${WORKGROUP}\\${USERS.a}`;
    const userB = `${WORKGROUP}\\${USERS.b}`;
    const lineOf = (f: Finding, password: string): string | undefined => f.secrets?.map((s) => s.value ?? '').find((v) => ntlmV2LineMatches(v, password));

    const ok = login(shown, 'cred-smb', userA, 'succeeded', 445);
    assert.match(ok.message, /session setup \(SMB 3\.1\.1\) with NTLMv2/);
    assert.ok(lineOf(ok, PASSWORDS.a), `no reported line cracks to the password:\n${JSON.stringify(ok.secrets)}`);
    const bad = login(shown, 'cred-smb', userA, 'failed', 139);
    assert.match(bad.message, /STATUS_LOGON_FAILURE/);
    assert.ok(lineOf(bad, PASSWORDS.wrong), `the failed login's line does not crack to the password tried:\n${JSON.stringify(bad.secrets)}`);
    const smb1 = login(shown, 'cred-smb', userB, 'succeeded', 445);
    assert.match(smb1.message, /session setup \(SMB1\) with NTLMv2/);
    assert.ok(lineOf(smb1, PASSWORDS.b));
    const v1 = login(shown, 'cred-smb', userB, 'succeeded', 139);
    assert.match(v1.message, /session setup \(SMB1\) with NTLMv1/);
    assert.equal(v1.severity, 'high');
    // user::domain:lm:nt:challenge, as hashcat mode 5500 takes it.
    assert.ok(v1.secrets?.some((s) => new RegExp(`^${USERS.b}::${WORKGROUP}:[0-9a-f]{48}:[0-9a-f]{48}:[0-9a-f]{16}$`).test(s.value ?? '')), JSON.stringify(v1.secrets));

    const redacted = scanAll(attackPcap);
    for (const f of redacted.findings.filter((x) => x.rule_id === 'cred-smb')) assert.ok(f.secrets?.every((s) => s.value === undefined));
    for (const f of shown.filter((x) => x.rule_id === 'cred-smb')) for (const s of f.secrets ?? []) assert.ok(!redacted.stdout.includes(s.value!.split(':')[4]!), 'a response appears in the default output');
  });
  await work.withPcap(t, benignPcap, () => {
    assertNoCredentialFindings(benignPcap, 'anonymous SMB');
  });
});

test('a proxy login through squid with curl --proxy-ntlm: the NTLMv2 response cracks to the password; unauthenticated HTTP is quiet', { timeout: 90_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['squid', 'curl', 'python3', 'ss']))) return;
  const helper = ['/usr/lib/squid/ntlm_fake_auth', '/usr/lib64/squid/ntlm_fake_auth'].find((p) => spawnSync('test', ['-x', p]).status === 0);
  if (!helper || !findTool('squid')) {
    t.skip('tool missing: squid ntlm_fake_auth helper');
    return;
  }
  const lan = await freshLan(t, { extraHosts: [SERVER] });
  const www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'index.html'), 'intranet\n');
  const conf = join(dir, 'squid.conf');
  writeFileSync(
    conf,
    `http_port ${SERVER.ip}:3128
auth_param ntlm program ${helper}
auth_param ntlm children 2
acl authed proxy_auth REQUIRED
http_access allow authed
http_access deny all
cache deny all
access_log none
cache_log ${dir}/squid-cache.log
pid_filename ${dir}/squid.pid
coredump_dir ${dir}
cache_effective_user proxy
`,
  );
  lan.spawn('server', ['python3', '-m', 'http.server', '8080', '--bind', SERVER.ip, '--directory', www], 'http.server');
  lan.spawn('server', ['squid', '-N', '-f', conf], 'squid');
  await waitListener(lan, 'server', 8080);
  await waitListener(lan, 'server', 3128);

  const attackPcap = join(dir, 'proxy-attack.pcap');
  let cap = await lan.startCapture(attackPcap);
  const r = await lan.exec('victim', ['curl', '-sS', '--max-time', '15', '-x', `http://${SERVER.ip}:3128`, '--proxy-ntlm', '-U', `CORP\\webuser:${PASSWORDS.web}`, `http://${SERVER.ip}:8080/index.html`], { timeoutMs: 25_000 });
  assert.equal(r.stdout, 'intranet\n');
  await settleAndStop(cap);

  const benignPcap = join(dir, 'proxy-benign.pcap');
  cap = await lan.startCapture(benignPcap);
  await lan.exec('victim', ['curl', '-sS', '--max-time', '15', `http://${SERVER.ip}:8080/index.html`], { timeoutMs: 25_000 });
  await settleAndStop(cap);

  await work.withPcap(t, attackPcap, () => {
    const shown = scanAll(attackPcap, ['--show-secrets']).findings;
    const f = login(shown, 'cred-http-ntlm', 'CORP\\webuser', 'succeeded', 3128);
    assert.match(f.message, /Proxy-Authorization NTLM with NTLMv2/);
    assert.ok(f.secrets?.some((s) => ntlmV2LineMatches(s.value ?? '', PASSWORDS.web)), `no reported line cracks to the password: ${JSON.stringify(f.secrets)}`);
  });
  await work.withPcap(t, benignPcap, () => {
    assertNoCredentialFindings(benignPcap);
  });
});

/** What the relay logs in to: Samba over SMB, or SQL Server (tds-server.py, encryption off) with the victim's account. */
const RELAY_TARGETS = [
  { name: 'Samba', scheme: 'smb', port: 445, tools: ['smbd', 'smbpasswd'] },
  { name: 'a SQL Server (tds-server.py)', scheme: 'mssql', port: 1433, tools: ['openssl'] },
] as const;

for (const target of RELAY_TARGETS) {
  test(`impacket's NTLM relay between a victim's smbclient and ${target.name} names the relaying host, the victim and the target`, { timeout: 120_000 }, async (t: TestContext) => {
    if (!(await skipUnless(t, ['smbclient', 'useradd', 'ss', ...target.tools]))) return;
    const python = pythonWith('impacket.examples.ntlmrelayx.servers');
    if (!python) {
      t.skip('tool missing: python3 with impacket (Debian package python3-impacket)');
      return;
    }
    const lan = await freshLan(t, { extraHosts: [SERVER] });
    if (target.scheme === 'smb') {
      startSamba(lan);
    } else {
      writeClientConf();
      const { cert, key } = selfSignedCertificate(dir, 'relay-target');
      lan.spawn('server', ['python3', TDS_SERVER, SERVER.ip, '1433', USERS.a, PASSWORDS.a, 'off', cert, key], 'tds-server.py');
    }
    await waitListener(lan, 'server', target.port);
    const relay = lan.spawn('attacker', [python, join(HELPERS, 'ntlm-relay.py'), ATTACKER.ip, `${target.scheme}://${SERVER.ip}`, join(dir, 'loot')], 'ntlm-relay');
    await relay.waitFor(/relay ready/, 20_000);
    await waitListener(lan, 'attacker', 445);

    const pcap = join(dir, `relay-${target.scheme}.pcap`);
    const cap = await lan.startCapture(pcap);
    // The victim logs in to the attacker's address (as after a poisoned name lookup); the relay passes the login on to the target.
    await smbclient(lan, [`//${ATTACKER.ip}/share`, '-U', `${USERS.a}%${PASSWORDS.a}`], [0, 1]);
    await relay.waitFor(/relayed /, 20_000);
    await settleAndStop(cap);

    await work.withPcap(t, pcap, () => {
      const findings = scanAll(pcap).findings;
      const user = `${WORKGROUP}\\${USERS.a}`;
      const f = findings.find((x) => x.rule_id === 'ntlm-relay');
      assert.ok(f, `no ntlm-relay:\n${describe(findings)}`);
      assert.equal(f.severity, 'high');
      assert.deepEqual(f.attack.techniques, ['T1557.001']);
      assert.ok(hasEntity(f, 'ip', ATTACKER.ip, 'attacker'), JSON.stringify(f.entities));
      assert.ok(hasEntity(f, 'ip', CLIENT.ip, 'victim'));
      assert.ok(hasEntity(f, 'host', `${SERVER.ip}:${target.port}`, 'target'));
      assert.ok(hasEntity(f, 'user', user, 'relayed'));
      assert.match(f.message, new RegExp(`${ATTACKER.ip.replace(/\./g, '\\.')} logged in to ${SERVER.ip.replace(/\./g, '\\.')}:${target.port} as the user`));
      assert.ok(!findings.some((x) => x.rule_id === 'ntlm-relay' && !hasEntity(x, 'ip', ATTACKER.ip, 'attacker')), 'another host named as a relay');
    });
  });
}
