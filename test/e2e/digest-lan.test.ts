// End to end: HTTP Digest logins a sniffer harvests, made by lighttpd
// (mod_auth with an htdigest file) and curl --digest on a namespace LAN,
// captured on the bridge, then `sniffwatch scan`. The reported line must be
// the one each password used cracks; a request without credentials stays
// quiet. Needs root.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, hasEntity } from '../helpers/captures.js';
import { httpDigestLineMatches } from '../helpers/challenge-response.js';
import { assertNoCredentialFindings, assertSecretsRedacted, E2eWorkDir, freshLan, scanAll, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { VICTIM, type HostSpec } from '../helpers/netns-lan.js';

const SERVER: HostSpec = { name: 'server', ip: '198.18.0.20', mac: '02:53:57:00:00:14' };
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const USER = `cam${TAG}`;
const PASSWORD = `Cam-${TAG}`;
const WRONG = `Wrong-${TAG}`;
const REALM = 'lobby camera';

const work = new E2eWorkDir('digest');
const dir = work.path;

test('HTTP Digest logins to lighttpd with curl --digest: accepted and refused, each line cracking to the password used; no credentials, no finding', { timeout: 60_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['lighttpd', 'curl', 'ss']))) return;
  const lan = await freshLan(t, { extraHosts: [SERVER] });
  const www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'snapshot.txt'), 'frame\n');
  const ha1 = createHash('md5').update(`${USER}:${REALM}:${PASSWORD}`).digest('hex');
  writeFileSync(join(dir, 'htdigest'), `${USER}:${REALM}:${ha1}\n`);
  const conf = join(dir, 'lighttpd.conf');
  writeFileSync(
    conf,
    `server.modules = ("mod_auth", "mod_authn_file")
server.document-root = "${www}"
server.bind = "${SERVER.ip}"
server.port = 80
server.pid-file = "${dir}/lighttpd.pid"
server.errorlog = "${dir}/lighttpd-error.log"
auth.backend = "htdigest"
auth.backend.htdigest.userfile = "${dir}/htdigest"
auth.require = ("/" => ("method" => "digest", "realm" => "${REALM}", "require" => "valid-user"))
`,
  );
  lan.spawn('server', ['lighttpd', '-D', '-f', conf], 'lighttpd');
  await waitListener(lan, 'server', 80);
  const curl = (args: string[]): Promise<unknown> => lan.exec('victim', ['curl', '-sS', '--max-time', '15', '-o', '/dev/null', '-w', '%{http_code}', ...args, `http://${SERVER.ip}/snapshot.txt`], { timeoutMs: 25_000 });

  const attackPcap = join(dir, 'attack.pcap');
  let cap = await lan.startCapture(attackPcap);
  await curl(['--digest', '-u', `${USER}:${PASSWORD}`]);
  await curl(['--digest', '-u', `${USER}:${WRONG}`]);
  await settleAndStop(cap);
  const benignPcap = join(dir, 'benign.pcap');
  cap = await lan.startCapture(benignPcap);
  await curl([]);
  await settleAndStop(cap);

  await work.withPcap(t, attackPcap, () => {
    const findings = scanAll(attackPcap, ['--show-secrets']).findings;
    const digest = findings.filter((f) => f.rule_id === 'cred-http-digest');
    const f = digest.find((x) => hasEntity(x, 'ip', VICTIM.ip, 'client') && hasEntity(x, 'host', `${SERVER.ip}:80`, 'server') && hasEntity(x, 'user', USER, 'login-succeeded'));
    assert.ok(f, `no cred-http-digest for ${USER}:\n${describe(findings)}`);
    assert.deepEqual(f.attack.techniques, ['T1040']);
    assert.ok(hasEntity(f, 'user', USER, 'login-failed'), 'the refused attempt is not among the outcomes');
    const lines = (f.secrets ?? []).map((s) => s.value ?? '');
    assert.ok(lines.some((l) => httpDigestLineMatches(l, PASSWORD)), `no line cracks to the password: ${lines.join(' | ')}`);
    assert.ok(lines.some((l) => httpDigestLineMatches(l, WRONG)), `no line cracks to the wrong password tried: ${lines.join(' | ')}`);
    assertSecretsRedacted(attackPcap, lines.map((l) => l.split('$')[2]!));
  });
  await work.withPcap(t, benignPcap, () => {
    assertNoCredentialFindings(benignPcap);
  });
});
