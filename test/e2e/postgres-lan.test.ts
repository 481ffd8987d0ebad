// End to end: PostgreSQL logins a sniffer harvests, made by Debian's
// PostgreSQL server and psql on a namespace LAN, captured on the bridge, then
// `sniffwatch scan`: a role under pg_hba.conf's "password" method (the
// password in clear), one under "md5" (a salted MD5 that cracks offline), a
// refused login, and, as the benign run, a role under scram-sha-256, which
// exposes nothing reusable. Needs root; the server runs as the postgres user.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, hasEntity } from '../helpers/captures.js';
import { assertNoCredentialFindings, assertSecretsRedacted, E2eWorkDir, freshLan, scanAll, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { VICTIM, type HostSpec, type Lan } from '../helpers/netns-lan.js';

const SERVER: HostSpec = { name: 'server', ip: '198.18.0.20', mac: '02:53:57:00:00:14' };
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const PASSWORDS = { clear: `Clear-${TAG}`, md5: `Md5-${TAG}`, scram: `Scram-${TAG}`, wrong: `Wrong-${TAG}` };

const work = new E2eWorkDir('postgres');
const dir = work.path;

/** Debian's server binaries (/usr/lib/postgresql/<major>/bin), the newest. */
function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(root, majors[0], 'bin');
}

function asPostgres(argv: string[], input?: string): void {
  execFileSync('runuser', ['-u', 'postgres', '--', ...argv], { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'], cwd: '/' });
}

async function psql(lan: Lan, user: string, password: string, ok: boolean): Promise<void> {
  await lan.exec('victim', ['env', `PGPASSWORD=${password}`, 'psql', `host=${SERVER.ip} dbname=postgres user=${user} sslmode=disable connect_timeout=10`, '-c', 'select 1'], { timeoutMs: 20_000, okCodes: ok ? [0] : [2] });
}

test('PostgreSQL logins with psql: a cleartext password (high), a salted MD5 that cracks to the password, a refusal; SCRAM stays quiet', { timeout: 90_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['psql', 'runuser', 'ss']))) return;
  const bin = postgresBin();
  if (!bin) {
    t.skip('tool missing: postgres (Debian package postgresql)');
    return;
  }
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true });
  chmodSync(dir, 0o755);
  execFileSync('chown', ['-R', 'postgres:postgres', data]);
  asPostgres([join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres']);
  const roles = [
    `SET password_encryption = 'md5'`,
    `CREATE ROLE clara LOGIN PASSWORD '${PASSWORDS.clear}'`,
    `CREATE ROLE milo LOGIN PASSWORD '${PASSWORDS.md5}'`,
    `SET password_encryption = 'scram-sha-256'`,
    `CREATE ROLE sam LOGIN PASSWORD '${PASSWORDS.scram}'`,
  ].join(';\n');
  asPostgres([join(bin, 'postgres'), '--single', '-D', data, 'postgres'], `${roles};\n`);
  writeFileSync(join(data, 'pg_hba.conf'), `local all all trust\nhost all clara 198.18.0.0/24 password\nhost all milo 198.18.0.0/24 md5\nhost all sam 198.18.0.0/24 scram-sha-256\n`);
  execFileSync('chown', ['postgres:postgres', join(data, 'pg_hba.conf')]);
  const lan = await freshLan(t, { extraHosts: [SERVER] });
  lan.spawn('server', ['runuser', '-u', 'postgres', '--', join(bin, 'postgres'), '-D', data, '-c', `listen_addresses=${SERVER.ip}`, '-c', `unix_socket_directories=${data}`, '-c', 'ssl=off'], 'postgres');
  await waitListener(lan, 'server', 5432);

  const attackPcap = join(dir, 'attack.pcap');
  let cap = await lan.startCapture(attackPcap);
  await psql(lan, 'clara', PASSWORDS.clear, true);
  await psql(lan, 'milo', PASSWORDS.md5, true);
  await psql(lan, 'milo', PASSWORDS.wrong, false);
  await settleAndStop(cap);
  const benignPcap = join(dir, 'benign.pcap');
  cap = await lan.startCapture(benignPcap);
  await psql(lan, 'sam', PASSWORDS.scram, true);
  await settleAndStop(cap);

  await work.withPcap(t, attackPcap, () => {
    const run = scanAll(attackPcap, ['--show-secrets']);
    const pg = run.findings.filter((f) => f.rule_id === 'cred-postgres' && hasEntity(f, 'ip', VICTIM.ip, 'client') && hasEntity(f, 'host', `${SERVER.ip}:5432`, 'server'));
    const clara = pg.find((f) => hasEntity(f, 'user', 'clara', 'login-succeeded'));
    assert.ok(clara, `no cred-postgres for clara:\n${describe(run.findings)}`);
    assert.equal(clara.severity, 'high');
    assert.equal(clara.secrets?.[0]?.value, PASSWORDS.clear);
    const milo = pg.find((f) => hasEntity(f, 'user', 'milo', 'login-succeeded'));
    assert.ok(milo && hasEntity(milo, 'user', 'milo', 'login-failed'), `no cred-postgres for milo's two logins:\n${describe(run.findings)}`);
    // $postgres$user*salt*md5(md5(password + user) + salt): what a cracker checks for each guess.
    const cracks = (line: string, password: string): boolean => {
      const m = /^\$postgres\$milo\*([0-9a-f]{8})\*([0-9a-f]{32})$/.exec(line);
      const inner = createHash('md5').update(password + 'milo').digest('hex');
      return m !== null && createHash('md5').update(Buffer.concat([Buffer.from(inner), Buffer.from(m[1]!, 'hex')])).digest('hex') === m[2];
    };
    const lines = (milo.secrets ?? []).map((s) => s.value ?? '');
    assert.ok(lines.some((l) => cracks(l, PASSWORDS.md5)), `no line cracks to milo's password: ${lines.join(' | ')}`);
    assert.ok(lines.some((l) => cracks(l, PASSWORDS.wrong)), `no line cracks to the wrong password tried: ${lines.join(' | ')}`);
    assertSecretsRedacted(attackPcap, [PASSWORDS.clear]);
  });
  await work.withPcap(t, benignPcap, () => {
    assertNoCredentialFindings(benignPcap, 'a SCRAM login');
  });
});
