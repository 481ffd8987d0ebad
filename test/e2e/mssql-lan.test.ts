// End to end: SQL Server logins a sniffer reads, made by real clients on a
// namespace LAN captured on the bridge, then `sniffwatch scan`. Microsoft SQL
// Server is not packaged in Debian, so the server is test/helpers/tds-server.py,
// which checks one account and answers LOGINACK or error 18456 as SQL Server
// does.
// - SQL Server logins from FreeTDS's tsql, the server answering PRELOGIN with
//   "encryption not supported": accepted and refused, with the passwords typed,
//   as tshark reads them from the same capture (dsniff prints nothing for TDS 7
//   logins).
// - Windows (NTLM) logins from impacket's TDS client and from tsql, both
//   PRELOGINs saying "encryption off": TLS for the LOGIN7 alone, then the NTLM
//   exchange in clear. Each NetNTLMv2 line must verify with the password typed,
//   for the user tshark reads in the same AUTHENTICATE.
// Needs root.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity } from '../helpers/captures.js';
import { ntlmV2LineMatches } from '../helpers/challenge-response.js';
import { assertNothingLoud, assertSecretsRedacted, E2eWorkDir, freshLan, scanAll, selfSignedCertificate, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { pythonWith, VICTIM, type HostSpec } from '../helpers/netns-lan.js';

const SERVER_SCRIPT = fileURLToPath(new URL('../../../test/helpers/tds-server.py', import.meta.url));
const DB: HostSpec = { name: 'db', ip: '198.18.0.34', mac: '02:53:57:00:00:22' };
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const USER = `app${TAG}`;
const PASSWORD = `Sql-${TAG}-pw`;
const WRONG = `Wrong-${TAG}`;

const work = new E2eWorkDir('mssql');
const dir = work.path;

/** The one cred-mssql finding of a capture (one client, server and user): T1040, its severity and login count, the victim and the server. */
function theLoginFinding(findings: readonly Finding[], severity: string, count: number): Finding {
  const sql = findings.filter((f) => f.rule_id === 'cred-mssql');
  assert.equal(sql.length, 1, describe(findings));
  const f = sql[0]!;
  assert.deepEqual(f.attack.techniques, ['T1040']);
  assert.equal(f.severity, severity);
  assert.equal(f.count, count);
  assert.ok(hasEntity(f, 'ip', VICTIM.ip, 'client') && hasEntity(f, 'host', `${DB.ip}:1433`, 'server'), describe([f]));
  return f;
}

test('SQL Server logins from tsql (FreeTDS) outside TLS: accepted and refused, with the passwords tshark reads', { timeout: 60_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['tsql', 'python3', 'tshark']))) return;
  const lan = await freshLan(t, { extraHosts: [DB] });
  lan.spawn('db', ['python3', SERVER_SCRIPT, DB.ip, '1433', USER, PASSWORD], 'tds-server.py');
  await waitListener(lan, 'db', 1433);
  // tsql reads SQL from standard input: one batch after a login, then end of input. It exits 1 when the login is refused.
  const tsql = (password: string): Promise<unknown> =>
    lan.exec('victim', ['sh', '-c', `echo 'select 1' | tsql -H ${DB.ip} -p 1433 -U '${USER}' -P '${password}'`], { timeoutMs: 20_000, okCodes: [0, 1] });

  const pcap = join(dir, 'mssql.pcap');
  const cap = await lan.startCapture(pcap);
  await tsql(PASSWORD);
  await tsql(WRONG);
  await settleAndStop(cap);

  await work.withPcap(t, pcap, () => {
    const findings = scanAll(pcap, ['--show-secrets']).findings;
    const f = theLoginFinding(findings, 'high', 2);
    assert.ok(hasEntity(f, 'user', USER, 'login-succeeded') && hasEntity(f, 'user', USER, 'login-failed'), describe([f]));
    assert.match(f.message, /LOGIN7 .*application 'TSQL'.*login succeeded \(LOGINACK\)/);
    const secrets = (f.secrets ?? []).map((s) => s.value ?? '').sort();
    assert.deepEqual(secrets, [PASSWORD, WRONG].sort());
    const seen = execFileSync('tshark', ['-n', '-r', pcap, '-Y', 'tds.type == 16', '-T', 'fields', '-e', 'tds.7login.password'], { encoding: 'utf8' }).trim().split('\n').sort();
    assert.deepEqual(seen, secrets);
    assertSecretsRedacted(pcap, [PASSWORD, WRONG]);
    assertNothingLoud(findings.filter((x) => x.rule_id !== 'cred-mssql'));
  });
});

/** impacket's TDS client (mssqlclient.py's library) logging in with Windows authentication; prints accepted or refused. */
const IMPACKET_LOGIN = [
  'import sys',
  'from impacket import tds',
  'm = tds.MSSQL(sys.argv[1], 1433)',
  'm.connect()',
  "print('accepted' if m.login(None, sys.argv[2], sys.argv[3], sys.argv[4], None, True) else 'refused')",
].join('\n');

test('Windows (NTLM) logins to SQL Server with "encryption off" from impacket and tsql: the LOGIN7 alone in TLS, the NetNTLMv2 hashes read in clear', { timeout: 90_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['tsql', 'python3', 'tshark', 'openssl']))) return;
  const python = pythonWith('impacket.tds');
  if (python === undefined) {
    t.skip('tool missing: python3 with impacket (Debian package python3-impacket)');
    return;
  }
  const { cert, key } = selfSignedCertificate(dir, 'sql.test.lan');
  const lan = await freshLan(t, { extraHosts: [DB] });
  const server = lan.spawn('db', ['python3', SERVER_SCRIPT, DB.ip, '1433', USER, PASSWORD, 'off', cert, key], 'tds-server.py');
  await waitListener(lan, 'db', 1433);
  const freetdsConf = join(dir, 'freetds.conf');
  // "encryption = off": tsql asks for the LOGIN7 alone to be encrypted, as drivers do unless told to encrypt.
  writeFileSync(freetdsConf, '[global]\n\ttds version = 7.4\n\tencryption = off\n');

  const pcap = join(dir, 'mssql-ntlm.pcap');
  const cap = await lan.startCapture(pcap);
  const impacket = async (password: string): Promise<string> =>
    (await lan.exec('victim', [python, '-c', IMPACKET_LOGIN, DB.ip, USER, password, 'CORP'], { timeoutMs: 20_000 })).stdout.trim();
  const accepted = await impacket(PASSWORD);
  const refused = await impacket(WRONG);
  await lan.exec('victim', ['sh', '-c', `echo 'select 1' | FREETDSCONF=${freetdsConf} tsql -H ${DB.ip} -p 1433 -U 'CORP\\${USER}' -P '${PASSWORD}'`], { timeoutMs: 20_000, okCodes: [0, 1] });
  await settleAndStop(cap);

  await t.test('the server saw each login over TLS-protected LOGIN7s and answered as asked', () => {
    assert.equal(accepted, 'accepted');
    assert.equal(refused, 'refused');
    assert.equal(server.output().match(new RegExp(`login ${USER} accepted`, 'g'))?.length, 2, server.output());
    // The LOGIN7s travelled inside TLS: no LOGIN7 packet is readable in the capture, the handshakes are.
    const tds = execFileSync('tshark', ['-n', '-r', pcap, '-d', 'tcp.port==1433,tds', '-Y', 'tds.type == 16', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' }).trim();
    assert.equal(tds, '', 'a LOGIN7 is readable: the logins did not go through TLS');
  });
  await t.test('scan reports cred-mssql for each Windows login, the NetNTLMv2 lines verifying with the passwords typed', (st) =>
    work.withPcap(st, pcap, () => {
      const findings = scanAll(pcap, ['--show-secrets']).findings;
      const f = theLoginFinding(findings, 'medium', 3);
      const user = `CORP\\${USER}`;
      assert.ok(hasEntity(f, 'user', user, 'login-succeeded') && hasEntity(f, 'user', user, 'login-failed'), describe([f]));
      assert.match(f.message, /TDS SSPI \(Windows authentication\) with NTLMv2/);
      const lines = (f.secrets ?? []).map((x) => x.value ?? '');
      assert.equal(lines.filter((l) => ntlmV2LineMatches(l, PASSWORD)).length, 2, lines.join('\n'));
      assert.equal(lines.filter((l) => ntlmV2LineMatches(l, WRONG)).length, 1, lines.join('\n'));
      const seen = execFileSync('tshark', ['-n', '-r', pcap, '-d', 'tcp.port==1433,tds', '-Y', 'ntlmssp.messagetype == 3', '-T', 'fields', '-e', 'ntlmssp.auth.domain', '-e', 'ntlmssp.auth.username'], {
        encoding: 'utf8',
      })
        .trim()
        .split('\n');
      assert.deepEqual(seen, [`CORP\t${USER}`, `CORP\t${USER}`, `CORP\t${USER}`]);
      assertSecretsRedacted(pcap, lines.map((l) => l.split(':')[4]!));
      assertNothingLoud(findings.filter((x) => x.rule_id !== 'cred-mssql'));
    }),
  );
});
