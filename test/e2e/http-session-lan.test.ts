// End to end: a web session a sniffer can hijack. PHP's built-in web server
// runs an application that starts a PHP session (PHPSESSID), logs a user in
// with a form and then sets a cookie of its own, marked HttpOnly, under a name
// no list knows; curl keeps the cookies in a jar, as a browser would, and
// sends them back on the next requests, one of them with an API key header,
// all over plain HTTP on a namespace LAN captured on the bridge. `sniffwatch
// scan` must report both cookies with the values PHP issued (in curl's jar),
// from the responses that set them and the requests that carry them, the form
// login and the API key. Needs root.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, hasEntity } from '../helpers/captures.js';
import { assertNothingLoud, assertSecretsRedacted, E2eWorkDir, freshLan, scanAll, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { VICTIM, type HostSpec } from '../helpers/netns-lan.js';

const WEB: HostSpec = { name: 'web', ip: '198.18.0.33', mac: '02:53:57:00:00:21' };
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const PASSWORD = `Form-${TAG}-pw`;
const API_KEY = `key-${TAG}-0123456789abcdef`;

const APP = `<?php
session_start();
if (($_POST['password'] ?? '') === '${PASSWORD}') {
  $_SESSION['user'] = $_POST['username'];
  setcookie('acct_key', bin2hex(random_bytes(20)), ['path' => '/', 'httponly' => true]);
}
header('Content-Type: text/plain');
echo isset($_SESSION['user']) ? "hello {$_SESSION['user']}\\n" : "please log in\\n";
`;

const work = new E2eWorkDir('http-session');
const dir = work.path;

test('HTTP session cookies from a PHP application (PHPSESSID, and its own HttpOnly cookie), set by the server and sent back by curl from its cookie jar, are reported with the values PHP issued; the form login and an API key too', { timeout: 60_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['php', 'curl']))) return;
  writeFileSync(join(dir, 'index.php'), APP);
  const lan = await freshLan(t, { extraHosts: [WEB] });
  lan.spawn('web', ['php', '-S', `${WEB.ip}:8080`, '-t', dir, join(dir, 'index.php')], 'php -S');
  await waitListener(lan, 'web', 8080);
  const jar = join(dir, 'cookies.txt');
  const url = `http://${WEB.ip}:8080/`;
  const curl = (args: string[]): Promise<unknown> => lan.exec('victim', ['curl', '-sS', '--max-time', '10', '-o', '/dev/null', ...args], { timeoutMs: 20_000 });

  const pcap = join(dir, 'session.pcap');
  const cap = await lan.startCapture(pcap);
  await curl(['-c', jar, url]);
  await curl(['-b', jar, '-c', jar, '--data-urlencode', 'username=alice', '--data-urlencode', `password=${PASSWORD}`, `${url}login`]);
  await curl(['-b', jar, `${url}reports`]);
  await curl(['-b', jar, '-H', `X-API-Key: ${API_KEY}`, `${url}api/export`]);
  await settleAndStop(cap);

  // The cookies PHP issued, as curl keeps them (Netscape cookie file: name and value are the last two fields;
  // an HttpOnly cookie's line starts with "#HttpOnly_").
  const jarCookie = (name: string): string => {
    const value = readFileSync(jar, 'utf8')
      .split('\n')
      .map((l) => l.split('\t'))
      .find((f) => f[5] === name)?.[6];
    assert.ok(value && value.length >= 20, `no ${name} in curl's jar:\n${readFileSync(jar, 'utf8')}`);
    return value;
  };
  const cookie = jarCookie('PHPSESSID');
  const accountKey = jarCookie('acct_key');

  await work.withPcap(t, pcap, () => {
    const findings = scanAll(pcap, ['--show-secrets']).findings;
    const sessions = findings.filter((f) => f.rule_id === 'cred-http-session');
    assert.equal(sessions.length, 1, describe(findings));
    const s = sessions[0]!;
    assert.deepEqual(s.attack.techniques, ['T1040', 'T1539']);
    assert.equal(s.severity, 'medium');
    // The first response sets PHPSESSID, every later request carries it, and the login's response sets acct_key.
    assert.equal(s.count, 5);
    assert.deepEqual(s.secrets?.map((x) => x.value), [cookie, accountKey]);
    assert.ok(hasEntity(s, 'ip', VICTIM.ip, 'client') && hasEntity(s, 'host', `${WEB.ip}:8080`, 'server'), describe([s]));
    assert.match(s.message, /Set-Cookie PHPSESSID .*GET \/ .*the server set the session cookie PHPSESSID/);

    const form = findings.find((f) => f.rule_id === 'cred-http-form');
    assert.ok(form && hasEntity(form, 'user', 'alice', 'login-succeeded'), describe(findings));
    assert.deepEqual(form.secrets?.map((x) => x.value), [PASSWORD]);
    const key = findings.find((f) => f.rule_id === 'cred-http-token');
    assert.ok(key, describe(findings));
    assert.deepEqual(key.secrets?.map((x) => x.value), [API_KEY]);
    assert.match(key.message, /X-Api-Key header .*GET \/api\/export/);

    assertSecretsRedacted(pcap, [cookie, accountKey, API_KEY]);
    assertNothingLoud(findings.filter((x) => !['cred-http-session', 'cred-http-form', 'cred-http-token'].includes(x.rule_id)));
  });
});
