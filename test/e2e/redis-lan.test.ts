// End to end: Redis passwords a sniffer harvests, made by redis-cli against
// redis-server (requirepass and an ACL user) on a namespace LAN, captured on
// the bridge, then `sniffwatch scan`: AUTH accepted and refused, an ACL user
// over RESP3 (HELLO AUTH); a command without a password stays quiet. Needs root.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity } from '../helpers/captures.js';
import { assertNoCredentialFindings, assertSecretsRedacted, E2eWorkDir, freshLan, scanAll, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { VICTIM, type HostSpec } from '../helpers/netns-lan.js';

const SERVER: HostSpec = { name: 'server', ip: '198.18.0.20', mac: '02:53:57:00:00:14' };
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const PASSWORD = `Redis-${TAG}`;
const ACL_USER = `app${TAG}`;
const ACL_PASSWORD = `Acl-${TAG}`;

const work = new E2eWorkDir('redis');
const dir = work.path;

test('Redis logins from redis-cli to redis-server: AUTH accepted and refused, an ACL user over RESP3; no password, no finding', { timeout: 60_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['redis-server', 'redis-cli', 'ss']))) return;
  const lan = await freshLan(t, { extraHosts: [SERVER] });
  lan.spawn(
    'server',
    ['redis-server', '--port', '6379', '--bind', SERVER.ip, '--requirepass', PASSWORD, '--save', '', '--appendonly', 'no', '--dir', dir, '--user', ACL_USER, 'on', `>${ACL_PASSWORD}`, '~*', '+@all'],
    'redis-server',
  );
  await waitListener(lan, 'server', 6379);
  const cli = (args: string[]): Promise<unknown> => lan.exec('victim', ['redis-cli', '-h', SERVER.ip, '--no-auth-warning', ...args, 'PING'], { timeoutMs: 20_000, okCodes: [0, 1] });

  const attackPcap = join(dir, 'attack.pcap');
  let cap = await lan.startCapture(attackPcap);
  await cli(['-a', PASSWORD]);
  await cli(['-a', `Wrong-${TAG}`]);
  await cli(['-3', '--user', ACL_USER, '--pass', ACL_PASSWORD]);
  await settleAndStop(cap);
  const benignPcap = join(dir, 'benign.pcap');
  cap = await lan.startCapture(benignPcap);
  await cli([]);
  await settleAndStop(cap);

  await work.withPcap(t, attackPcap, () => {
    const findings = scanAll(attackPcap, ['--show-secrets']).findings;
    const redis = (user: string, outcome: string): Finding => {
      const f = findings.find((x) => x.rule_id === 'cred-redis' && hasEntity(x, 'ip', VICTIM.ip, 'client') && hasEntity(x, 'host', `${SERVER.ip}:6379`, 'server') && hasEntity(x, 'user', user, `login-${outcome}`));
      assert.ok(f, `no cred-redis for ${user} (${outcome}):\n${describe(findings)}`);
      assert.deepEqual(f.attack.techniques, ['T1040']);
      return f;
    };
    const def = redis('default', 'succeeded');
    assert.equal(def.severity, 'high');
    assert.ok(hasEntity(def, 'user', 'default', 'login-failed'), 'the refused AUTH is not among the outcomes');
    assert.deepEqual(def.secrets?.map((s) => s.value).sort(), [PASSWORD, `Wrong-${TAG}`].sort());
    const acl = redis(ACL_USER, 'succeeded');
    assert.equal(acl.secrets?.[0]?.value, ACL_PASSWORD);
    assertSecretsRedacted(attackPcap, [PASSWORD, ACL_PASSWORD]);
  });
  await work.withPcap(t, benignPcap, () => {
    assertNoCredentialFindings(benignPcap);
  });
});
