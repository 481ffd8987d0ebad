// End to end: Kerberos logins a sniffer on the LAN harvests, made by MIT
// Kerberos from Debian (krb5kdc, kinit) on a namespace LAN and captured on
// the bridge, then `sniffwatch scan`: a user who requires pre-authentication
// logging in over UDP and over TCP, the same user with a wrong password, an
// account without pre-authentication (AS-REP roasting), service tickets for
// an RC4-only service (reported, cracking to its password) and an AES one (quiet), and, as the benign
// run, a principal the KDC does not know. The encrypted timestamp in each
// reported line must be the one tshark reads from the same frame. Then curl
// presents service tickets to a web server (HTTP Negotiate): the RC4 one is
// reported from the HTTP request alone, the AES one is not. Needs root.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity } from '../helpers/captures.js';
import { kerberosRc4LineMatches } from '../helpers/kerberos.js';
import { assertNoCredentialFindings, assertSecretsRedacted, E2eWorkDir, freshLan, scanAll, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { VICTIM, type HostSpec, type Lan } from '../helpers/netns-lan.js';

const KDC: HostSpec = { name: 'kdc', ip: '198.18.0.20', mac: '02:53:57:00:00:14' };
const REALM = 'SNIFFWATCH.TEST';
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const PASSWORDS = { alice: `Alice-${TAG}`, bob: `Bob-${TAG}`, wrong: `Wrong-${TAG}`, service: `Svc-${TAG}` };
/** A service whose only key is RC4-HMAC (what Kerberoasting looks for), and one with the default AES keys. */
const RC4_SERVICE = 'HTTP/web.sniffwatch.test';
const AES_SERVICE = 'host/aes.sniffwatch.test';
/** Web servers with those keys, for curl --negotiate. */
const RC4_WEB = 'web.sniffwatch.test';
const AES_WEB = 'aes.sniffwatch.test';

const work = new E2eWorkDir('kerberos');
const dir = work.path;

function krb5conf(extra: string): string {
  return `[libdefaults]\n  default_realm = ${REALM}\n  dns_lookup_kdc = false\n  dns_lookup_realm = false\n  rdns = false\n${extra}[realms]\n  ${REALM} = {\n    kdc = ${KDC.ip}\n  }\n`;
}

function setUpKdc(): { env: Record<string, string> } {
  writeFileSync(join(dir, 'krb5.conf'), krb5conf(''));
  writeFileSync(join(dir, 'krb5-tcp.conf'), krb5conf('  udp_preference_limit = 1\n'));
  writeFileSync(
    join(dir, 'kdc.conf'),
    `[kdcdefaults]\n  kdc_listen = ${KDC.ip}\n  kdc_tcp_listen = ${KDC.ip}\n[realms]\n  ${REALM} = {\n    database_name = ${dir}/principal\n    supported_enctypes = aes256-cts:normal aes128-cts:normal arcfour-hmac:normal\n    key_stash_file = ${dir}/stash\n    acl_file = ${dir}/kadm5.acl\n  }\n[logging]\n  kdc = FILE:${dir}/kdc.log\n`,
  );
  const env = { ...process.env, KRB5_CONFIG: join(dir, 'krb5.conf'), KRB5_KDC_PROFILE: join(dir, 'kdc.conf') } as Record<string, string>;
  execFileSync('kdb5_util', ['create', '-s', '-P', `Master-${TAG}`, '-r', REALM], { env, stdio: 'ignore' });
  execFileSync('kadmin.local', ['-r', REALM, '-q', `addprinc -pw ${PASSWORDS.alice} +requires_preauth alice`], { env, stdio: 'ignore' });
  execFileSync('kadmin.local', ['-r', REALM, '-q', `addprinc -pw ${PASSWORDS.bob} -requires_preauth bob`], { env, stdio: 'ignore' });
  execFileSync('kadmin.local', ['-r', REALM, '-q', `addprinc -pw ${PASSWORDS.service} -e arcfour-hmac:normal ${RC4_SERVICE}`], { env, stdio: 'ignore' });
  execFileSync('kadmin.local', ['-r', REALM, '-q', `addprinc -randkey ${AES_SERVICE}`], { env, stdio: 'ignore' });
  execFileSync('kadmin.local', ['-r', REALM, '-q', `addprinc -randkey HTTP/${AES_WEB}`], { env, stdio: 'ignore' });
  // Host names taken as given: there is no DNS on the namespace LAN.
  writeFileSync(join(dir, 'krb5-http.conf'), krb5conf('  dns_canonicalize_hostname = false\n'));
  return { env };
}

async function kinit(lan: Lan, conf: string, principal: string, password: string, ok: boolean): Promise<void> {
  await lan.exec('victim', ['sh', '-c', `echo '${password}' | KRB5_CONFIG=${join(dir, conf)} KRB5CCNAME=FILE:${join(dir, `cc-${principal}-${Date.now()}`)} kinit ${principal}`], { timeoutMs: 20_000, okCodes: ok ? [0] : [1] });
}

/** alice logs in and asks the KDC for tickets to `services` (kvno: TGS-REQ, TGS-REP). */
async function serviceTickets(lan: Lan, services: string[]): Promise<void> {
  const cc = `FILE:${join(dir, `cc-tgs-${Date.now()}`)}`;
  await lan.exec('victim', ['sh', '-c', `echo '${PASSWORDS.alice}' | KRB5_CONFIG=${join(dir, 'krb5.conf')} KRB5CCNAME=${cc} kinit alice && KRB5_CONFIG=${join(dir, 'krb5.conf')} KRB5CCNAME=${cc} kvno ${services.join(' ')}`], { timeoutMs: 20_000 });
}

/** AS-REQs with PA-ENC-TIMESTAMP as tshark reads them: transport, principal and the timestamp's cipher. */
function tsharkPreauths(pcap: string): { transport: string; principal: string; cipher: string }[] {
  const r = spawnSync('tshark', ['-n', '-r', pcap, '-Y', 'kerberos.msg_type == 10 && kerberos.padata_type == 2', '-T', 'fields', '-E', 'occurrence=f', '-e', 'tcp.srcport', '-e', 'kerberos.CNameString', '-e', 'kerberos.realm', '-e', 'kerberos.cipher'], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [tcp, name, realm, cipher] = l.split('\t');
      return { transport: tcp ? 'tcp' : 'udp', principal: `${name}@${realm}`, cipher: (cipher ?? '').replace(/:/g, '') };
    });
}

function kerberosFinding(findings: readonly Finding[], user: string, outcome: string): Finding {
  const f = findings.find(
    (x) =>
      x.rule_id === 'cred-kerberos' &&
      x.attack.techniques.includes('T1040') &&
      hasEntity(x, 'user', user, `login-${outcome}`) &&
      hasEntity(x, 'ip', VICTIM.ip, 'client') &&
      hasEntity(x, 'ip', KDC.ip, 'server') &&
      hasEntity(x, 'host', `${KDC.ip}:88`, 'server'),
  );
  assert.ok(f, `no cred-kerberos for ${user} (${outcome}) from ${VICTIM.ip} to ${KDC.ip}:88:\n${describe(findings)}`);
  return f;
}

test('MIT Kerberos logins: pre-authentication over UDP and TCP with its outcome, AS-REP roasting; an unknown principal stays quiet', { timeout: 90_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['krb5kdc', 'kdb5_util', 'kadmin.local', 'kinit', 'tshark', 'ss', 'curl', 'python3']))) return;
  const { env } = setUpKdc();
  const lan = await freshLan(t, { extraHosts: [KDC] });
  lan.spawn('kdc', ['env', `KRB5_CONFIG=${env.KRB5_CONFIG}`, `KRB5_KDC_PROFILE=${env.KRB5_KDC_PROFILE}`, 'krb5kdc', '-n'], 'krb5kdc');
  await waitListener(lan, 'kdc', 88);

  const attackPcap = join(dir, 'attack.pcap');
  let cap = await lan.startCapture(attackPcap);
  await kinit(lan, 'krb5.conf', 'alice', PASSWORDS.alice, true);
  await kinit(lan, 'krb5-tcp.conf', 'alice', PASSWORDS.wrong, false);
  await kinit(lan, 'krb5.conf', 'bob', PASSWORDS.bob, true);
  await serviceTickets(lan, [RC4_SERVICE, AES_SERVICE]);
  await settleAndStop(cap);
  const tcpPcap = join(dir, 'tcp.pcap');
  cap = await lan.startCapture(tcpPcap);
  await kinit(lan, 'krb5-tcp.conf', 'alice', PASSWORDS.alice, true);
  await settleAndStop(cap);
  const benignPcap = join(dir, 'benign.pcap');
  cap = await lan.startCapture(benignPcap);
  await kinit(lan, 'krb5.conf', 'nobody', PASSWORDS.wrong, false);
  await settleAndStop(cap);
  const negotiatePcap = join(dir, 'negotiate.pcap');
  writeFileSync(join(dir, 'negotiate-server.py'), NEGOTIATE_SERVER);
  lan.spawn('kdc', ['python3', join(dir, 'negotiate-server.py'), KDC.ip], 'negotiate-server.py');
  await waitListener(lan, 'kdc', 80);
  cap = await lan.startCapture(negotiatePcap);
  const codes = await negotiate(lan, [RC4_WEB, AES_WEB]);
  await settleAndStop(cap);

  for (const pcap of [attackPcap, tcpPcap]) {
    await work.withPcap(t, pcap, () => {
      const run = scanAll(pcap, ['--show-secrets']);
      const theirs = tsharkPreauths(pcap);
      assert.ok(theirs.length >= (pcap === attackPcap ? 2 : 1), `tshark found ${theirs.length} pre-authentications`);
      for (const a of theirs) {
        const f = run.findings.find((x) => x.rule_id === 'cred-kerberos' && hasEntity(x, 'user', a.principal) && (x.secrets ?? []).some((s) => (s.value ?? '').endsWith(`$${a.cipher}`)));
        assert.ok(f, `no cred-kerberos line holding the ${a.transport} cipher of ${a.principal}:\n${describe(run.findings)}`);
      }
      if (pcap === attackPcap) {
        // MIT's default keys are AES: a login is low, the roastable account medium.
        assert.equal(kerberosFinding(run.findings, `alice@${REALM}`, 'succeeded').severity, 'low');
        // The refused attempt joins the same finding (same client, KDC and user), with its outcome as the user's role.
        kerberosFinding(run.findings, `alice@${REALM}`, 'failed');
        const roast = kerberosFinding(run.findings, `bob@${REALM}`, 'succeeded');
        assert.match(roast.message, /AS-REP without pre-authentication.*AS-REP roasting/);
        assert.equal(roast.severity, 'medium');
        assert.ok(roast.secrets?.some((s) => new RegExp(`^\\$krb5asrep\\$\\d+\\$bob\\$${REALM.replace(/\./g, '\\.')}\\$[0-9a-f]{24}\\$[0-9a-f]+$`).test(s.value ?? '')), JSON.stringify(roast.secrets));
        // Kerberoasting from the wire: the RC4 ticket's line cracks to the service's password; the AES service is not reported.
        const ticket = run.findings.find((x) => x.rule_id === 'cred-kerberos' && hasEntity(x, 'user', `${RC4_SERVICE}@${REALM}`));
        assert.ok(ticket, `no service ticket for ${RC4_SERVICE}:\n${describe(run.findings)}`);
        assert.equal(ticket.severity, 'medium');
        assert.match(ticket.message, /TGS-REP service ticket \(RC4-HMAC\).*issued to alice@/);
        assert.ok(ticket.secrets?.some((s) => kerberosRc4LineMatches(s.value ?? '', PASSWORDS.service)), JSON.stringify(ticket.secrets));
        assert.ok(!run.findings.some((x) => x.entities.some((e) => e.value.startsWith(AES_SERVICE))), describe(run.findings));
        assertSecretsRedacted(pcap, theirs.map((a) => a.cipher.slice(0, 32)));
      } else {
        kerberosFinding(run.findings, `alice@${REALM}`, 'succeeded');
      }
    });
  }
  await work.withPcap(t, benignPcap, () => {
    assertNoCredentialFindings(benignPcap);
  });
  await t.test('service tickets presented in HTTP Negotiate (curl): the RC4 one reported from the request alone, cracking to the service password; the AES one quiet', (st) =>
    work.withPcap(st, negotiatePcap, () => {
      assert.deepEqual(codes, ['200', '200']);
      // What tshark reads of the AP-REQs in the capture: the services and the tickets' etypes.
      const seen = execFileSync('tshark', ['-n', '-r', negotiatePcap, '-Y', 'kerberos.msg_type == 14', '-T', 'fields', '-E', 'occurrence=f', '-e', 'kerberos.SNameString', '-e', 'kerberos.etype'], { encoding: 'utf8' });
      assert.match(seen, new RegExp(`HTTP\\t23`), seen);
      const run = scanAll(negotiatePcap, ['--show-secrets']);
      // No KDC traffic in this capture but the kinit: the ticket comes from the HTTP request.
      const f = run.findings.find((x) => x.rule_id === 'cred-kerberos' && hasEntity(x, 'user', `HTTP/${RC4_WEB}@${REALM}`, 'login-succeeded') && hasEntity(x, 'host', `${KDC.ip}:80`, 'server'));
      assert.ok(f, `no cred-kerberos for the ticket curl presented to ${RC4_WEB}:\n${describe(run.findings)}`);
      assert.equal(f.severity, 'medium');
      assert.ok(hasEntity(f, 'ip', VICTIM.ip, 'client'));
      assert.match(f.message, /HTTP Authorization Negotiate: AP-REQ service ticket \(RC4-HMAC\).*Kerberoasting/);
      const lines = (f.secrets ?? []).map((x) => x.value ?? '');
      assert.ok(lines.some((l) => kerberosRc4LineMatches(l, PASSWORDS.service)), lines.join('\n'));
      assert.ok(!lines.some((l) => kerberosRc4LineMatches(l, PASSWORDS.alice)), lines.join('\n'));
      assert.ok(!run.findings.some((x) => x.entities.some((e) => e.value.includes(AES_WEB))), describe(run.findings));
      assertSecretsRedacted(negotiatePcap, lines.map((l) => l.split('$').pop()!.slice(0, 64)));
    }),
  );
});

/** A web server that asks for Negotiate and lets in whoever sends a token (it checks none: the client's request is what is captured). */
const NEGOTIATE_SERVER = [
  'import sys',
  'from http.server import BaseHTTPRequestHandler, HTTPServer',
  'class Handler(BaseHTTPRequestHandler):',
  '    def do_GET(self):',
  "        ok = self.headers.get('Authorization', '').startswith('Negotiate ')",
  '        self.send_response(200 if ok else 401)',
  "        if not ok: self.send_header('WWW-Authenticate', 'Negotiate')",
  "        self.send_header('Content-Length', '0')",
  '        self.end_headers()',
  "HTTPServer((sys.argv[1], 80), Handler).serve_forever()",
  '',
].join('\n');

/** alice logs in, then curl fetches each web server's page with --negotiate; returns the HTTP status codes. */
async function negotiate(lan: Lan, hosts: string[]): Promise<string[]> {
  const conf = join(dir, 'krb5-http.conf');
  const cc = `FILE:${join(dir, `cc-http-${Date.now()}`)}`;
  await lan.exec('victim', ['sh', '-c', `echo '${PASSWORDS.alice}' | KRB5_CONFIG=${conf} KRB5CCNAME=${cc} kinit alice`], { timeoutMs: 20_000 });
  const codes: string[] = [];
  for (const host of hosts) {
    const r = await lan.exec('victim', ['env', `KRB5_CONFIG=${conf}`, `KRB5CCNAME=${cc}`, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--negotiate', '-u', ':', '--resolve', `${host}:80:${KDC.ip}`, `http://${host}/`], { timeoutMs: 20_000 });
    codes.push(r.stdout.trim());
  }
  return codes;
}
