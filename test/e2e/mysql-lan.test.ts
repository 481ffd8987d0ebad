// End to end: MariaDB logins a sniffer harvests, made by Debian's MariaDB
// server and client on a namespace LAN, captured on the bridge, then
// `sniffwatch scan`: mysql_native_password logins (accepted and refused),
// whose reported line must crack to each password used, and, as the benign
// run, the same login over TLS. Needs root; the server runs as the mysql user.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, hasEntity } from '../helpers/captures.js';
import { mysqlNativeLineMatches } from '../helpers/challenge-response.js';
import { assertNoCredentialFindings, E2eWorkDir, freshLan, scanAll, selfSignedCertificate, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { VICTIM, type HostSpec, type Lan } from '../helpers/netns-lan.js';

const SERVER: HostSpec = { name: 'server', ip: '198.18.0.20', mac: '02:53:57:00:00:14' };
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const PASSWORD = `Db-${TAG}`;
const WRONG = `Wrong-${TAG}`;

const work = new E2eWorkDir('mysql');
const dir = work.path;

async function mariadb(lan: Lan, password: string, extra: string[], ok: boolean): Promise<void> {
  await lan.exec('victim', ['mariadb', '--no-defaults', '-h', SERVER.ip, '-u', 'shop', `-p${password}`, '--connect-timeout=10', ...extra, 'shopdb', '-e', 'select 1'], { timeoutMs: 20_000, okCodes: ok ? [0] : [1] });
}

test('MariaDB logins with the mariadb client: mysql_native_password lines that crack to each password used, the outcome; over TLS nothing', { timeout: 120_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['mariadbd', 'mariadb-install-db', 'mariadb', 'openssl', 'ss']))) return;
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  mkdirSync(data);
  execFileSync('chown', ['mysql:mysql', data]);
  execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--user=mysql', '--auth-root-authentication-method=socket', '--skip-test-db'], { stdio: 'ignore' });
  // Inside the data directory: the server, running as mysql, creates them.
  const socket = join(data, 'mysqld.sock');
  const { cert, key } = selfSignedCertificate(dir, SERVER.ip);
  const lan = await freshLan(t, { extraHosts: [SERVER] });
  lan.spawn('server', ['mariadbd', '--no-defaults', `--datadir=${data}`, '--user=mysql', `--bind-address=${SERVER.ip}`, `--socket=${socket}`, `--pid-file=${join(data, 'mysqld.pid')}`, '--skip-name-resolve', `--ssl-cert=${cert}`, `--ssl-key=${key}`], 'mariadbd');
  await waitListener(lan, 'server', 3306);
  const sql = `CREATE DATABASE shopdb; CREATE USER 'shop'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('${PASSWORD}'); GRANT ALL ON shopdb.* TO 'shop'@'%';`;
  await lan.exec('server', ['mariadb', '--no-defaults', `--socket=${socket}`, '-u', 'root', '-e', sql], { timeoutMs: 20_000 });

  const attackPcap = join(dir, 'attack.pcap');
  const cap = await lan.startCapture(attackPcap);
  await mariadb(lan, PASSWORD, ['--skip-ssl'], true);
  await mariadb(lan, WRONG, ['--skip-ssl'], false);
  await settleAndStop(cap);
  const benignPcap = join(dir, 'benign.pcap');
  const tlsCap = await lan.startCapture(benignPcap);
  await mariadb(lan, PASSWORD, ['--ssl'], true);
  await settleAndStop(tlsCap);

  await work.withPcap(t, attackPcap, () => {
    const findings = scanAll(attackPcap, ['--show-secrets']).findings;
    const f = findings.find((x) => x.rule_id === 'cred-mysql' && hasEntity(x, 'ip', VICTIM.ip, 'client') && hasEntity(x, 'host', `${SERVER.ip}:3306`, 'server') && hasEntity(x, 'user', 'shop', 'login-succeeded'));
    assert.ok(f, `no cred-mysql for shop:\n${describe(findings)}`);
    assert.deepEqual(f.attack.techniques, ['T1040']);
    assert.ok(hasEntity(f, 'user', 'shop', 'login-failed'), 'the refused login is not among the outcomes');
    assert.match(f.message, /mysql_native_password.*database shopdb/);
    const lines = (f.secrets ?? []).map((s) => s.value ?? '');
    assert.ok(lines.some((l) => mysqlNativeLineMatches(l, PASSWORD)), `no line cracks to the password: ${lines.join(' | ')}`);
    assert.ok(lines.some((l) => mysqlNativeLineMatches(l, WRONG)), `no line cracks to the wrong password tried: ${lines.join(' | ')}`);
    assert.ok(!lines.some((l) => mysqlNativeLineMatches(l, 'not-it')), 'the check accepts any password');
  });
  await work.withPcap(t, benignPcap, () => {
    assertNoCredentialFindings(benignPcap, 'a TLS login');
  });
});
