// End to end: SOCKS5 proxy logins a sniffer harvests, made by curl against
// Dante's danted (username method, checked against a throw-away local user) on
// a namespace LAN, captured on the bridge, then `sniffwatch scan`: a login
// accepted (with the CONNECT target it asked for), one refused, and a client
// offering no password method, which stays quiet. Needs root.

import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, hasEntity } from '../helpers/captures.js';
import { assertNothingLoud, assertSecretsRedacted, E2eWorkDir, freshLan, scanAll, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { UPSTREAM, VICTIM, type HostSpec } from '../helpers/netns-lan.js';

const SERVER: HostSpec = { name: 'proxy', ip: '198.18.0.30', mac: '02:53:57:00:00:1e' };
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const USER = `socks${TAG}`;
const PASSWORD = `Socks-${TAG}-pw`;

const work = new E2eWorkDir('socks');
const dir = work.path;
let userCreated = false;
after(() => {
  if (userCreated) spawnSync('userdel', ['-f', USER], { stdio: 'ignore' });
});

test('SOCKS5 logins from curl to danted: accepted (naming the CONNECT target) and refused; no password offered, no finding', { timeout: 60_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['danted', 'curl', 'python3', 'useradd', 'ss']))) return;
  execFileSync('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', USER], { stdio: 'ignore' });
  userCreated = true;
  execFileSync('chpasswd', [], { input: `${USER}:${PASSWORD}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
  const conf = join(dir, 'danted.conf');
  writeFileSync(
    conf,
    [
      'logoutput: stderr',
      `internal: ${SERVER.ip} port = 1080`,
      'external: eth0',
      'socksmethod: username',
      'clientmethod: none',
      'user.privileged: root',
      'user.unprivileged: nobody',
      'client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }',
      'socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }',
      '',
    ].join('\n'),
  );
  const lan = await freshLan(t, { extraHosts: [SERVER] });
  lan.spawn('proxy', ['danted', '-f', conf, '-p', join(dir, 'danted.pid')], 'danted');
  lan.spawn('upstream', ['python3', '-m', 'http.server', '8080', '--bind', UPSTREAM.ip, '--directory', dir], 'http.server');
  await waitListener(lan, 'proxy', 1080);
  await waitListener(lan, 'upstream', 8080);
  // 97: curl's "proxy handshake error" (refused login, no acceptable method).
  const curl = (proxy: string): Promise<unknown> => lan.exec('victim', ['curl', '-sS', '--max-time', '10', '--socks5', proxy, `http://${UPSTREAM.ip}:8080/`], { timeoutMs: 20_000, okCodes: [0, 97] });

  const pcap = join(dir, 'socks.pcap');
  const cap = await lan.startCapture(pcap);
  await curl(`${USER}:${PASSWORD}@${SERVER.ip}:1080`);
  await curl(`${USER}:Wrong-${TAG}@${SERVER.ip}:1080`);
  await curl(`${SERVER.ip}:1080`);
  await settleAndStop(cap);

  await work.withPcap(t, pcap, () => {
    const findings = scanAll(pcap, ['--show-secrets']).findings;
    const socks = findings.filter((f) => f.rule_id === 'cred-socks');
    assert.equal(socks.length, 1, describe(findings));
    const f = socks[0]!;
    assert.deepEqual(f.attack.techniques, ['T1040']);
    assert.equal(f.severity, 'high');
    assert.ok(hasEntity(f, 'ip', VICTIM.ip, 'client') && hasEntity(f, 'host', `${SERVER.ip}:1080`, 'server'), describe([f]));
    assert.ok(hasEntity(f, 'user', USER, 'login-succeeded') && hasEntity(f, 'user', USER, 'login-failed'), describe([f]));
    assert.deepEqual(f.secrets?.map((s) => s.value).sort(), [PASSWORD, `Wrong-${TAG}`].sort());
    assert.match(f.message, new RegExp(`CONNECT ${UPSTREAM.ip.replace(/\./g, '\\.')}:8080`));
    assert.equal(f.count, 2);
    assertSecretsRedacted(pcap, [PASSWORD]);
    assertNothingLoud(findings.filter((x) => x.rule_id !== 'cred-socks'));
  });
});
