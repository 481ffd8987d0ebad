// End to end: VNC logins a sniffer harvests, on a namespace LAN captured on
// the bridge, then `sniffwatch scan`. TigerVNC's Xtigervnc serves one display
// with VNC authentication (a vncpasswd file) and one with VeNCrypt Plain
// (checked against a throw-away local user); vncsnapshot logs in over RFB 3.3
// and TigerVNC's vncviewer over RFB 3.8 (drawing into a private Xtigervnc
// display of its own), with right and wrong passwords. Each VNC
// authentication line must crack to the password typed; the Plain password is
// read as sent. Needs root.

import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, hasEntity } from '../helpers/captures.js';
import { vncLineMatches } from '../helpers/challenge-response.js';
import { assertNothingLoud, assertSecretsRedacted, E2eWorkDir, freshLan, scanAll, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { VICTIM, type HostSpec } from '../helpers/netns-lan.js';

const SERVER: HostSpec = { name: 'vnc', ip: '198.18.0.32', mac: '02:53:57:00:00:20' };
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const VNC_PASSWORD = 'Vnc-7pw';
const WRONG = 'Wrong-pw';
const USER = `vnc${TAG}`;
const PLAIN_PASSWORD = `Plain-${TAG}`;
// X display numbers are machine-wide (sockets in /tmp/.X11-unix), whatever the namespace.
const DISPLAY_BASE = 60 + (process.pid % 30) * 3;

const work = new E2eWorkDir('vnc');
const dir = work.path;
let userCreated = false;
after(() => {
  if (userCreated) spawnSync('userdel', ['-f', USER], { stdio: 'ignore' });
});

test('VNC logins: VNC authentication over RFB 3.3 (vncsnapshot) and 3.8 (vncviewer) cracks to the password typed; VeNCrypt Plain is read as sent; outcomes from the server', { timeout: 90_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['Xtigervnc', 'vncpasswd', 'vncsnapshot', 'vncviewer', 'useradd', 'timeout']))) return;
  execFileSync('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', USER], { stdio: 'ignore' });
  userCreated = true;
  execFileSync('chpasswd', [], { input: `${USER}:${PLAIN_PASSWORD}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
  const passwd = (name: string, password: string): string => {
    const file = join(dir, name);
    execFileSync('sh', ['-c', `vncpasswd -f > '${file}'`], { input: `${password}\n` });
    return file;
  };
  const right = passwd('right', VNC_PASSWORD);
  const wrong = passwd('wrong', WRONG);
  const lan = await freshLan(t, { extraHosts: [SERVER] });
  const xvnc = (node: string, display: number, port: number, args: string[]): void => {
    lan.spawn(node, ['Xtigervnc', `:${display}`, '-rfbport', String(port), '-nolisten', 'tcp', '-interface', node === 'victim' ? '127.0.0.1' : SERVER.ip, ...args], `Xtigervnc :${display}`);
  };
  xvnc('vnc', DISPLAY_BASE, 5901, ['-rfbauth', right, '-SecurityTypes', 'VncAuth']);
  xvnc('vnc', DISPLAY_BASE + 1, 5902, ['-SecurityTypes', 'Plain', '-PlainUsers', USER]);
  // The viewer's own screen: an X server nobody connects to over the network.
  xvnc('victim', DISPLAY_BASE + 2, 5903, ['-SecurityTypes', 'None']);
  await waitListener(lan, 'vnc', 5901);
  await waitListener(lan, 'vnc', 5902);
  await waitListener(lan, 'victim', 5903);
  // The clients stay connected once logged in (or wait for a screen): each runs a few seconds and is stopped (124).
  const run = (argv: string[], env: string[] = []): Promise<unknown> =>
    lan.exec('victim', ['env', `DISPLAY=:${DISPLAY_BASE + 2}`, ...env, 'timeout', '4', ...argv], { timeoutMs: 20_000, okCodes: [0, 1, 124] });

  const pcap = join(dir, 'vnc.pcap');
  const cap = await lan.startCapture(pcap);
  await run(['vncsnapshot', '-passwd', right, `${SERVER.ip}::5901`, join(dir, 'shot.jpg')]);
  await run(['vncviewer', '-passwd', wrong, `${SERVER.ip}::5901`]);
  await run(['vncviewer', '-SecurityTypes', 'Plain', `${SERVER.ip}::5902`], [`VNC_USERNAME=${USER}`, `VNC_PASSWORD=${PLAIN_PASSWORD}`]);
  await run(['vncviewer', '-SecurityTypes', 'Plain', `${SERVER.ip}::5902`], [`VNC_USERNAME=${USER}`, `VNC_PASSWORD=${WRONG}`]);
  await settleAndStop(cap);

  await work.withPcap(t, pcap, () => {
    const findings = scanAll(pcap, ['--show-secrets']).findings;
    const vnc = findings.filter((f) => f.rule_id === 'cred-vnc');
    assert.equal(vnc.length, 2, describe(findings));
    const auth = vnc.find((f) => hasEntity(f, 'host', `${SERVER.ip}:5901`, 'server'));
    assert.ok(auth, describe(vnc));
    assert.deepEqual(auth.attack.techniques, ['T1040']);
    assert.equal(auth.severity, 'medium');
    assert.equal(auth.count, 2);
    assert.ok(hasEntity(auth, 'ip', VICTIM.ip, 'client') && hasEntity(auth, 'user', '(no user)', 'login-succeeded') && hasEntity(auth, 'user', '(no user)', 'login-failed'), describe([auth]));
    assert.match(auth.message, /RFB 3\.3/);
    const lines = (auth.secrets ?? []).map((s) => s.value ?? '');
    assert.equal(lines.length, 2, JSON.stringify(auth.secrets));
    assert.ok(lines.some((l) => vncLineMatches(l, VNC_PASSWORD)) && lines.some((l) => vncLineMatches(l, WRONG)), lines.join('\n'));
    assert.ok(!lines.some((l) => vncLineMatches(l, 'Other-pw')));

    const plain = vnc.find((f) => hasEntity(f, 'host', `${SERVER.ip}:5902`, 'server'));
    assert.ok(plain, describe(vnc));
    assert.equal(plain.severity, 'high');
    assert.ok(hasEntity(plain, 'user', USER, 'login-succeeded') && hasEntity(plain, 'user', USER, 'login-failed'), describe([plain]));
    assert.deepEqual(plain.secrets?.map((s) => s.value).sort(), [PLAIN_PASSWORD, WRONG].sort());
    assert.match(plain.message, /VeNCrypt Plain \(RFB 3\.8\)/);

    assertSecretsRedacted(pcap, [PLAIN_PASSWORD, '$vnc$']);
    assertNothingLoud(findings.filter((x) => x.rule_id !== 'cred-vnc'));
  });
});
