// End to end: SQL Server logins a sniffer reads, made by FreeTDS's tsql on a
// namespace LAN captured on the bridge, then `sniffwatch scan`. Microsoft SQL
// Server is not packaged in Debian, so the server is test/helpers/tds-server.py,
// which answers PRELOGIN with "encryption not supported", checks one account
// and answers LOGINACK or error 18456 as SQL Server does. A login accepted and
// one refused must be reported with the passwords typed, as tshark reads them
// from the same capture (dsniff prints nothing for TDS 7 logins). Needs root.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, hasEntity } from '../helpers/captures.js';
import { assertNothingLoud, assertSecretsRedacted, E2eWorkDir, freshLan, scanAll, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { VICTIM, type HostSpec } from '../helpers/netns-lan.js';

const SERVER_SCRIPT = fileURLToPath(new URL('../../../test/helpers/tds-server.py', import.meta.url));
const DB: HostSpec = { name: 'db', ip: '198.18.0.34', mac: '02:53:57:00:00:22' };
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const USER = `app${TAG}`;
const PASSWORD = `Sql-${TAG}-pw`;
const WRONG = `Wrong-${TAG}`;

const work = new E2eWorkDir('mssql');
const dir = work.path;

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
    const sql = findings.filter((f) => f.rule_id === 'cred-mssql');
    assert.equal(sql.length, 1, describe(findings));
    const f = sql[0]!;
    assert.deepEqual(f.attack.techniques, ['T1040']);
    assert.equal(f.severity, 'high');
    assert.equal(f.count, 2);
    assert.ok(hasEntity(f, 'ip', VICTIM.ip, 'client') && hasEntity(f, 'host', `${DB.ip}:1433`, 'server'), describe([f]));
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
