// End to end: real cleartext-login servers and clients from Debian on a
// namespace LAN, captured on the bridge, then `sniffwatch scan`. The client is
// the "victim" host (198.18.0.10), the servers run on an extra host "server"
// (198.18.0.20). Attack runs log in in cleartext (one success and one failure
// per protocol); benign runs use the same clients over TLS (FTPS, HTTPS,
// STLS/STARTTLS, LDAP StartTLS) or without credentials. Needs root; see
// README.md. FTP and Telnet log in as a throw-away local account created for
// the run and deleted afterwards (namespaces share /etc/passwd).

import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity } from '../helpers/captures.js';
import { apopLineMatches, cramMd5LineMatches, digestMd5LineMatches } from '../helpers/challenge-response.js';
import { assertNothingLoud, E2eWorkDir, freshLan, scanAll, selfSignedCertificate, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { findTool, missingTool, VICTIM, type HostSpec, type Lan } from '../helpers/netns-lan.js';

const SERVER: HostSpec = { name: 'server', ip: '198.18.0.20', mac: '02:53:57:00:00:14' };
const CLIENT = VICTIM;

// Unique per run, so a failure can never be mistaken for text from elsewhere.
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const LOCAL_USER = `swc${TAG}`.slice(0, 30);
const PASSWORDS = {
  local: `Loc-${TAG}-pw`,
  mail: `Mail-${TAG}-pw`,
  http: `Http-${TAG}-pw`,
  ldap: `Ldap-${TAG}-pw`,
  form: `Form-${TAG}-pw`,
  wrong: `Wrong-${TAG}-pw`,
};
const MAIL_USER = `mailuser${TAG}`;
/** An unsigned-looking JWT naming the HTTP user, as an API client sends it (curl --oauth2-bearer). */
const BEARER = [{ alg: 'HS256', typ: 'JWT' }, { preferred_username: `webuser${TAG}`, exp: 1893456000 }].map((o) => Buffer.from(JSON.stringify(o)).toString('base64url')).join('.') + '.c2lnbmF0dXJl';
const HTTP_USER = `webuser${TAG}`;
const LDAP_SUFFIX = 'dc=example,dc=org';
const LDAP_ADMIN = `cn=admin,${LDAP_SUFFIX}`;
/** A SASL user slapd has no secret for: its CRAM-MD5 and DIGEST-MD5 binds are refused (49), after the challenge and the response crossed. */
const LDAP_SASL_USER = `sasluser${TAG}`;

const work = new E2eWorkDir('cred');
const workDir = work.path;
// The servers read their files after dropping privileges.
chmodSync(workDir, 0o755);
let userCreated = false;
after(() => {
  if (userCreated) spawnSync('userdel', ['-f', LOCAL_USER], { stdio: 'ignore' });
});

/** One login the attack capture must show: a password seen as typed, or a challenge-response line that `cracks` to it. */
interface Expected {
  rule: string;
  port: number;
  user: string;
  outcome: 'succeeded' | 'failed';
  password: string;
  cracks?: (line: string, password: string) => boolean;
}

function findLogin(findings: readonly Finding[], x: Expected): Finding | undefined {
  return findings.find(
    (f) =>
      f.rule_id === x.rule &&
      f.attack.techniques.includes('T1040') &&
      hasEntity(f, 'ip', CLIENT.ip, 'client') &&
      hasEntity(f, 'ip', SERVER.ip, 'server') &&
      hasEntity(f, 'host', `${SERVER.ip}:${x.port}`, 'server') &&
      hasEntity(f, 'user', x.user, `login-${x.outcome}`),
  );
}

interface Service {
  name: string;
  tools: string[];
  /** Starts the server; throws (with the server's output) if it does not come up. */
  start(lan: Lan): Promise<void>;
  /** Cleartext logins; returns what the scan must report. */
  attack(lan: Lan): Promise<Expected[]>;
  /** The same clients over TLS or without credentials. */
  benign(lan: Lan): Promise<void>;
}

async function curl(lan: Lan, args: string[], okCodes = [0]): Promise<string> {
  const r = await lan.exec('victim', ['curl', '-sS', '--max-time', '15', ...args], { timeoutMs: 25_000, okCodes });
  return r.stdout;
}

function createLocalUser(): void {
  if (userCreated) return;
  const home = join(workDir, 'home');
  execFileSync('useradd', ['-M', '-N', '-d', home, '-s', '/bin/sh', LOCAL_USER], { stdio: 'ignore' });
  userCreated = true;
  mkdirSync(home);
  const uid = Number(execFileSync('id', ['-u', LOCAL_USER], { encoding: 'utf8' }).trim());
  chownSync(home, uid, -1);
  execFileSync('chpasswd', [], { input: `${LOCAL_USER}:${PASSWORDS.local}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
}

const ftp: Service = {
  name: 'FTP (vsftpd, curl ftp://)',
  tools: ['vsftpd', 'curl', 'openssl', 'useradd'],
  async start(lan) {
    createLocalUser();
    const { cert, key } = selfSignedCertificate(workDir, SERVER.ip);
    const conf = join(workDir, 'vsftpd.conf');
    writeFileSync(
      conf,
      [
        'listen=YES',
        'listen_ipv6=NO',
        `listen_address=${SERVER.ip}`,
        'background=NO',
        'anonymous_enable=NO',
        'local_enable=YES',
        'write_enable=NO',
        'pam_service_name=vsftpd',
        'seccomp_sandbox=NO',
        'secure_chroot_dir=/var/run/vsftpd/empty',
        'xferlog_enable=NO',
        'ssl_enable=YES',
        `rsa_cert_file=${cert}`,
        `rsa_private_key_file=${key}`,
        'force_local_logins_ssl=NO',
        'force_local_data_ssl=NO',
        'require_ssl_reuse=NO',
        'pasv_min_port=30000',
        'pasv_max_port=30100',
        '',
      ].join('\n'),
    );
    lan.spawn('server', ['vsftpd', conf], 'vsftpd');
    await waitListener(lan, 'server', 21);
  },
  async attack(lan) {
    await curl(lan, ['--list-only', `ftp://${SERVER.ip}/`, '--user', `${LOCAL_USER}:${PASSWORDS.local}`]);
    await curl(lan, ['--list-only', `ftp://${SERVER.ip}/`, '--user', `${LOCAL_USER}:${PASSWORDS.wrong}`], [67]);
    return [
      { rule: 'cred-ftp', port: 21, user: LOCAL_USER, outcome: 'succeeded', password: PASSWORDS.local },
      { rule: 'cred-ftp', port: 21, user: LOCAL_USER, outcome: 'failed', password: PASSWORDS.wrong },
    ];
  },
  async benign(lan) {
    await curl(lan, ['--ssl-reqd', '-k', '--list-only', `ftp://${SERVER.ip}/`, '--user', `${LOCAL_USER}:${PASSWORDS.local}`]);
  },
};

/** A scripted Telnet client (no telnetlib): refuses options except ECHO/SGA, answers the prompts. */
const TELNET_CLIENT = String.raw`
import socket, sys, time
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((host, port), timeout=20)
buf = b''
def pump():
    global buf
    data = s.recv(4096)
    if not data:
        raise SystemExit('connection closed; last output: %r' % buf[-300:])
    i = 0
    while i < len(data):
        b = data[i]
        if b == 255 and i + 2 < len(data) and data[i + 1] in (251, 252, 253, 254):
            cmd, opt = data[i + 1], data[i + 2]
            if cmd == 253:
                s.sendall(bytes([255, 252, opt]))
            elif cmd == 251:
                s.sendall(bytes([255, 253 if opt in (1, 3) else 254, opt]))
            i += 3
            continue
        if b == 255 and i + 1 < len(data) and data[i + 1] == 250:
            j = data.find(bytes([255, 240]), i)
            i = len(data) if j < 0 else j + 2
            continue
        buf += bytes([b])
        i += 1
def until(*pats):
    end = time.time() + 20
    while not any(p in buf.lower() for p in pats):
        if time.time() > end:
            raise SystemExit('timeout waiting for %r; output: %r' % (pats, buf[-300:]))
        pump()
until(b'login:')
s.sendall(user.encode() + b'\r\n')
until(b'password:')
buf = b''
s.sendall(pw.encode() + b'\r\n')
until(b'$ ', b'# ', b'incorrect', b'login:')
verdict = 'refused' if (b'incorrect' in buf.lower() or b'login:' in buf.lower()) else 'ok'
if verdict == 'ok':
    s.sendall(b'exit\r\n')
    time.sleep(0.5)
s.close()
print(verdict)
`;

/** inetd in a few lines: telnetd expects the connection on stdin/stdout. */
const TELNET_INETD = String.raw`
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 23))
s.listen(8)
print('listening', flush=True)
while True:
    c, _ = s.accept()
    if os.fork() == 0:
        os.setsid()
        for fd in (0, 1, 2):
            os.dup2(c.fileno(), fd)
        os.execv(sys.argv[2], [sys.argv[2]])
    c.close()
`;

const telnet: Service = {
  name: 'Telnet (inetutils telnetd, scripted client)',
  tools: ['telnetd', 'python3', 'useradd'],
  async start(lan) {
    createLocalUser();
    writeFileSync(join(workDir, 'inetd.py'), TELNET_INETD);
    writeFileSync(join(workDir, 'telnet-client.py'), TELNET_CLIENT);
    const d = lan.spawn('server', ['python3', join(workDir, 'inetd.py'), SERVER.ip, findTool('telnetd')!], 'telnet inetd');
    await d.waitFor(/listening/, 10_000);
  },
  async attack(lan) {
    const run = async (pw: string): Promise<string> => (await lan.exec('victim', ['python3', join(workDir, 'telnet-client.py'), SERVER.ip, '23', LOCAL_USER, pw], { timeoutMs: 40_000 })).stdout.trim();
    assert.equal(await run(PASSWORDS.local), 'ok', 'telnet login with the right password');
    assert.equal(await run(PASSWORDS.wrong), 'refused', 'telnet login with a wrong password');
    return [
      { rule: 'cred-telnet', port: 23, user: LOCAL_USER, outcome: 'succeeded', password: PASSWORDS.local },
      { rule: 'cred-telnet', port: 23, user: LOCAL_USER, outcome: 'failed', password: PASSWORDS.wrong },
    ];
  },
  async benign() {
    // Telnet has no TLS; the benign counterpart (SSH) is not a Telnet client.
  },
};

const http: Service = {
  name: 'HTTP (nginx auth_basic, curl http:// with Basic, a form and a bearer token)',
  tools: ['nginx', 'curl', 'openssl'],
  async start(lan) {
    const { cert, key } = selfSignedCertificate(workDir, SERVER.ip);
    const root = join(workDir, 'www');
    mkdirSync(join(root, 'private'), { recursive: true });
    writeFileSync(join(root, 'index.html'), 'public\n');
    writeFileSync(join(root, 'private', 'index.html'), 'private\n');
    const hash = execFileSync('openssl', ['passwd', '-apr1', PASSWORDS.http], { encoding: 'utf8' }).trim();
    writeFileSync(join(workDir, 'htpasswd'), `${HTTP_USER}:${hash}\n`);
    const conf = join(workDir, 'nginx.conf');
    writeFileSync(
      conf,
      `daemon off;
master_process off;
pid ${workDir}/nginx.pid;
error_log ${workDir}/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${workDir}/nginx-body;
  proxy_temp_path ${workDir}/nginx-proxy;
  fastcgi_temp_path ${workDir}/nginx-fastcgi;
  uwsgi_temp_path ${workDir}/nginx-uwsgi;
  scgi_temp_path ${workDir}/nginx-scgi;
  server {
    listen ${SERVER.ip}:80;
    listen ${SERVER.ip}:443 ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    root ${root};
    location /private/ { auth_basic "sniffwatch"; auth_basic_user_file ${workDir}/htpasswd; }
    location = /login { return 302 /; }
  }
}
`,
    );
    lan.spawn('server', ['nginx', '-c', conf, '-p', workDir], 'nginx');
    await waitListener(lan, 'server', 80);
  },
  async attack(lan) {
    await curl(lan, ['-f', '-u', `${HTTP_USER}:${PASSWORDS.http}`, `http://${SERVER.ip}/private/`]);
    await curl(lan, ['-f', '-u', `${HTTP_USER}:${PASSWORDS.wrong}`, `http://${SERVER.ip}/private/`], [22]);
    await curl(lan, ['--data', `username=${HTTP_USER}&password=${PASSWORDS.form}`, `http://${SERVER.ip}/login`]);
    await curl(lan, ['-f', '--oauth2-bearer', BEARER, `http://${SERVER.ip}/`]);
    return [
      { rule: 'cred-http-basic', port: 80, user: HTTP_USER, outcome: 'succeeded', password: PASSWORDS.http },
      { rule: 'cred-http-basic', port: 80, user: HTTP_USER, outcome: 'failed', password: PASSWORDS.wrong },
      { rule: 'cred-http-form', port: 80, user: HTTP_USER, outcome: 'succeeded', password: PASSWORDS.form },
      { rule: 'cred-http-token', port: 80, user: HTTP_USER, outcome: 'succeeded', password: BEARER },
    ];
  },
  async benign(lan) {
    await curl(lan, ['-f', '-k', '-u', `${HTTP_USER}:${PASSWORDS.http}`, `https://${SERVER.ip}/private/`]);
    await curl(lan, ['-f', '-k', '--oauth2-bearer', BEARER, `https://${SERVER.ip}/`]);
    await curl(lan, ['-f', `http://${SERVER.ip}/`]);
  },
};

const mail: Service = {
  name: 'POP3/IMAP/SMTP submission (dovecot, curl pop3:// imap:// smtp://)',
  tools: ['dovecot', 'curl', 'openssl'],
  async start(lan) {
    const { cert, key } = selfSignedCertificate(workDir, SERVER.ip);
    const dir = join(workDir, 'dovecot');
    mkdirSync(join(dir, 'run'), { recursive: true });
    mkdirSync(join(dir, 'mail'), { recursive: true });
    chownSync(join(dir, 'mail'), 65534, 65534);
    writeFileSync(join(dir, 'users'), `${MAIL_USER}:{PLAIN}${PASSWORDS.mail}\n`);
    const conf = join(dir, 'dovecot.conf');
    writeFileSync(
      conf,
      `protocols = pop3 imap submission
listen = ${SERVER.ip}
base_dir = ${dir}/run
log_path = ${dir}/dovecot.log
ssl = yes
ssl_cert = <${cert}
ssl_key = <${key}
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 apop
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = ${dir}/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=${dir}/mail/%u
}
mail_location = maildir:${dir}/mail/%u/Maildir
hostname = mail.example.org
submission_relay_host = 127.0.0.1
submission_relay_port = 2525
service imap-login {
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submissions {
    port = 0
  }
}
`,
    );
    lan.spawn('server', ['dovecot', '-F', '-c', conf], 'dovecot');
    await waitListener(lan, 'server', 110);
    await waitListener(lan, 'server', 143);
    await waitListener(lan, 'server', 587);
  },
  async attack(lan) {
    const good = `${MAIL_USER}:${PASSWORDS.mail}`;
    const bad = `${MAIL_USER}:${PASSWORDS.wrong}`;
    // curl picks the strongest mechanism offered (CRAM-MD5 here): the cleartext logins ask for PLAIN.
    const plain = ['--login-options', 'AUTH=PLAIN'];
    await curl(lan, [...plain, '-u', good, `pop3://${SERVER.ip}/`]);
    await curl(lan, [...plain, '-u', bad, `pop3://${SERVER.ip}/`], [67]);
    await curl(lan, [...plain, '-u', good, `imap://${SERVER.ip}/`]);
    await curl(lan, [...plain, '-u', bad, `imap://${SERVER.ip}/`], [67]);
    // Submission: AUTH happens before MAIL; the relay is not reachable, which does not matter here.
    await curl(lan, [...plain, '-u', good, '--mail-from', `${MAIL_USER}@example.org`, '--mail-rcpt', 'someone@example.org', '-T', '/dev/null', `smtp://${SERVER.ip}:587`], [0, 55, 56]);
    await curl(lan, [...plain, '-u', bad, '--mail-from', `${MAIL_USER}@example.org`, '--mail-rcpt', 'someone@example.org', '-T', '/dev/null', `smtp://${SERVER.ip}:587`], [67]);
    // Challenge-response logins: CRAM-MD5 in all three, APOP in POP3 (dovecot has the plaintext passwords they need).
    await curl(lan, ['-u', good, '--login-options', 'AUTH=CRAM-MD5', `pop3://${SERVER.ip}/`]);
    await curl(lan, ['-u', bad, '--login-options', 'AUTH=CRAM-MD5', `imap://${SERVER.ip}/`], [67]);
    await curl(lan, ['-u', good, '--login-options', 'AUTH=CRAM-MD5', '--mail-from', `${MAIL_USER}@example.org`, '--mail-rcpt', 'someone@example.org', '-T', '/dev/null', `smtp://${SERVER.ip}:587`], [0, 55, 56]);
    await curl(lan, ['-u', good, '--login-options', 'AUTH=+APOP', `pop3://${SERVER.ip}/`]);
    const crackable = (rule: string, port: number, outcome: 'succeeded' | 'failed', password: string, cracks: Expected['cracks']): Expected => ({ rule, port, user: MAIL_USER, outcome, password, cracks });
    return [
      ...(['pop3', 'imap', 'smtp'] as const).flatMap((p) => {
        const port = p === 'pop3' ? 110 : p === 'imap' ? 143 : 587;
        return [
          { rule: `cred-${p}`, port, user: MAIL_USER, outcome: 'succeeded' as const, password: PASSWORDS.mail },
          { rule: `cred-${p}`, port, user: MAIL_USER, outcome: 'failed' as const, password: PASSWORDS.wrong },
        ];
      }),
      crackable('cred-pop3', 110, 'succeeded', PASSWORDS.mail, cramMd5LineMatches),
      crackable('cred-imap', 143, 'failed', PASSWORDS.wrong, cramMd5LineMatches),
      crackable('cred-smtp', 587, 'succeeded', PASSWORDS.mail, cramMd5LineMatches),
      crackable('cred-pop3', 110, 'succeeded', PASSWORDS.mail, apopLineMatches),
    ];
  },
  async benign(lan) {
    const good = `${MAIL_USER}:${PASSWORDS.mail}`;
    await curl(lan, ['--ssl-reqd', '-k', '-u', good, `pop3://${SERVER.ip}/`]);
    await curl(lan, ['--ssl-reqd', '-k', '-u', good, `imap://${SERVER.ip}/`]);
    await curl(lan, ['--ssl-reqd', '-k', '-u', good, '--mail-from', `${MAIL_USER}@example.org`, '--mail-rcpt', 'someone@example.org', '-T', '/dev/null', `smtp://${SERVER.ip}:587`], [0, 55, 56]);
  },
};

const ldap: Service = {
  name: 'LDAP (slapd, ldapwhoami: simple binds, SASL CRAM-MD5 and DIGEST-MD5 binds)',
  tools: ['slapd', 'ldapwhoami', 'openssl'],
  async start(lan) {
    const { cert, key } = selfSignedCertificate(workDir, SERVER.ip);
    const db = join(workDir, 'ldapdb');
    mkdirSync(db, { recursive: true });
    const conf = join(workDir, 'slapd.conf');
    writeFileSync(
      conf,
      `include /etc/ldap/schema/core.schema
pidfile ${workDir}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile ${cert}
TLSCertificateKeyFile ${key}
database mdb
maxsize 16777216
suffix "${LDAP_SUFFIX}"
rootdn "${LDAP_ADMIN}"
rootpw ${PASSWORDS.ldap}
directory ${db}
`,
    );
    // 389 and a non-standard port: LDAP is recognised by content there.
    lan.spawn('server', ['slapd', '-d', '0', '-f', conf, '-h', `ldap://${SERVER.ip}:389/ ldap://${SERVER.ip}:10389/`], 'slapd');
    await waitListener(lan, 'server', 389);
    await waitListener(lan, 'server', 10389);
  },
  async attack(lan) {
    await lan.exec('victim', ['ldapwhoami', '-x', '-H', `ldap://${SERVER.ip}:389`, '-D', LDAP_ADMIN, '-w', PASSWORDS.ldap], { timeoutMs: 15_000 });
    await lan.exec('victim', ['ldapwhoami', '-x', '-H', `ldap://${SERVER.ip}:10389`, '-D', LDAP_ADMIN, '-w', PASSWORDS.wrong], { timeoutMs: 15_000, okCodes: [49] });
    for (const mech of ['CRAM-MD5', 'DIGEST-MD5']) {
      await lan.exec('victim', ['ldapwhoami', '-Y', mech, '-U', LDAP_SASL_USER, '-w', PASSWORDS.ldap, '-H', `ldap://${SERVER.ip}:389`], { timeoutMs: 15_000, okCodes: [49] });
    }
    return [
      { rule: 'cred-ldap', port: 389, user: LDAP_ADMIN, outcome: 'succeeded', password: PASSWORDS.ldap },
      { rule: 'cred-ldap', port: 10389, user: LDAP_ADMIN, outcome: 'failed', password: PASSWORDS.wrong },
      { rule: 'cred-ldap', port: 389, user: LDAP_SASL_USER, outcome: 'failed', password: PASSWORDS.ldap, cracks: cramMd5LineMatches },
      { rule: 'cred-ldap', port: 389, user: LDAP_SASL_USER, outcome: 'failed', password: PASSWORDS.ldap, cracks: digestMd5LineMatches },
    ];
  },
  async benign(lan) {
    // Anonymous bind, and a simple bind inside StartTLS.
    await lan.exec('victim', ['ldapwhoami', '-x', '-H', `ldap://${SERVER.ip}:389`], { timeoutMs: 15_000 });
    await lan.exec('victim', ['env', 'LDAPTLS_REQCERT=never', 'ldapwhoami', '-x', '-ZZ', '-H', `ldap://${SERVER.ip}:389`, '-D', LDAP_ADMIN, '-w', PASSWORDS.ldap], { timeoutMs: 15_000 });
  },
};

const SERVICES = [ftp, telnet, http, mail, ldap];

test('cleartext logins of real servers and clients are reported; the same clients over TLS are not', { timeout: 110_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['ss']))) return;
  const lan = await freshLan(t, { extraHosts: [SERVER] });

  // Start what can run here; a protocol whose server does not come up is skipped with the reason.
  const skipped = new Map<Service, string>();
  for (const s of SERVICES) {
    const missing = missingTool(s.tools);
    if (missing) {
      skipped.set(s, missing);
      continue;
    }
    try {
      await s.start(lan);
    } catch (e) {
      skipped.set(s, `server did not start: ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`);
    }
  }
  const running = SERVICES.filter((s) => !skipped.has(s));

  const attackPcap = join(workDir, 'attack.pcap');
  let cap = await lan.startCapture(attackPcap);
  const expected = new Map<Service, Expected[]>();
  for (const s of running) expected.set(s, await s.attack(lan));
  await settleAndStop(cap);

  const benignPcap = join(workDir, 'benign.pcap');
  cap = await lan.startCapture(benignPcap);
  for (const s of running) await s.benign(lan);
  await settleAndStop(cap);

  const attack = scanAll(attackPcap);
  const benign = scanAll(benignPcap);
  const fail = (e: unknown): never => {
    work.keep();
    throw e;
  };

  for (const s of SERVICES) {
    await t.test(s.name, (st) => {
      const reason = skipped.get(s);
      if (reason) {
        st.skip(reason);
        return;
      }
      try {
        for (const x of expected.get(s)!) {
          const hit = findLogin(attack.findings, x);
          assert.ok(hit, `no ${x.rule} finding for ${x.user} (${x.outcome}) from ${CLIENT.ip} to ${SERVER.ip}:${x.port}; findings:\n${describe(attack.findings)}`);
          assert.ok(!attack.stdout.includes(x.password), `the password of ${x.rule} appears in the default output`);
          if (!x.cracks) assert.ok(hit.secrets?.some((sec) => sec.length === x.password.length && sec.value === undefined), `${x.rule}: no redacted secret of ${x.password.length} chars`);
        }
        const credsInBenign = benign.findings.filter((f) => f.rule_id.startsWith('cred-') || f.rule_id === 'starttls-not-used');
        assert.deepEqual(describe(credsInBenign), '', 'TLS/anonymous runs raised credential findings');
      } catch (e) {
        fail(e);
      }
    });
  }

  await t.test('mail clients that ignored the offered STARTTLS are named', (st) => {
    if (skipped.has(mail)) {
      st.skip(skipped.get(mail)!);
      return;
    }
    for (const proto of ['POP3', 'IMAP', 'SMTP']) {
      assert.ok(
        attack.findings.some((f) => f.rule_id === 'starttls-not-used' && f.message.startsWith(proto) && hasEntity(f, 'ip', CLIENT.ip, 'client')),
        `no starttls-not-used for ${proto}:\n${describe(attack.findings)}`,
      );
    }
  });

  await t.test('benign runs raise nothing of medium or above; --show-secrets prints the passwords', (st) => {
    try {
      assertNothingLoud(benign.findings);
      if (running.length === 0) {
        st.skip('no server could run');
        return;
      }
      const shown = scanAll(attackPcap, ['--show-secrets']);
      for (const x of [...expected.values()].flat()) {
        const cracks = x.cracks;
        if (cracks) assert.ok(findLogin(shown.findings, x)?.secrets?.some((sec) => cracks(sec.value ?? '', x.password)), `${x.rule}: no line of ${x.user} (${x.outcome}) cracks to the password`);
        else assert.ok(shown.stdout.includes(x.password), `${x.rule}: password not shown with --show-secrets`);
      }
    } catch (e) {
      fail(e);
    }
  });
});
