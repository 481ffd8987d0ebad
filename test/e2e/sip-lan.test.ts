// End to end: SIP Digest registrations a sniffer harvests, made by sipsak
// against Kamailio (a registrar checking one password, qop=auth) over UDP
// and TCP on a namespace LAN, captured on the bridge, then `sniffwatch
// scan`. The reported line must be the one each password used cracks, the
// outcome Kamailio's; a SIP OPTIONS ping without credentials stays quiet.
// Needs root.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, hasEntity } from '../helpers/captures.js';
import { sipLineMatches } from '../helpers/challenge-response.js';
import { assertNoCredentialFindings, assertSecretsRedacted, E2eWorkDir, freshLan, scanAll, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { VICTIM, type HostSpec } from '../helpers/netns-lan.js';

const SERVER: HostSpec = { name: 'server', ip: '198.18.0.20', mac: '02:53:57:00:00:14' };
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const USER = `ext${TAG}`;
const PASSWORD = `Sip-${TAG}`;
const WRONG = `Wrong-${TAG}`;
/** Registers over TCP (Kamailio checks the password, not the name). */
const TCP_USER = `${USER}t`;

const work = new E2eWorkDir('sip');
const dir = work.path;

test('SIP REGISTER with Digest from sipsak to Kamailio over UDP and TCP: accepted and refused, each line cracking to the password used; OPTIONS without credentials, no finding', { timeout: 60_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['kamailio', 'sipsak', 'ss']))) return;
  const lan = await freshLan(t, { extraHosts: [SERVER] });
  const cfg = join(dir, 'kamailio.cfg');
  writeFileSync(
    cfg,
    `#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=1
listen=udp:${SERVER.ip}:5060
listen=tcp:${SERVER.ip}:5060
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "auth.so"
request_route {
  if (is_method("REGISTER")) {
    if (!pv_auth_check("$fd", "${PASSWORD}", "0", "0")) {
      auth_challenge("$fd", "1");
      exit;
    }
    sl_send_reply("200", "OK");
    exit;
  }
  sl_send_reply("200", "OK");
}
`,
  );
  lan.spawn('server', ['kamailio', '-DD', '-E', '-f', cfg, '-P', join(dir, 'kamailio.pid'), '-Y', dir, '-w', dir], 'kamailio');
  await waitListener(lan, 'server', 5060, 'udp');
  await waitListener(lan, 'server', 5060, 'tcp');
  const register = (password: string, user = USER, transport = 'udp'): Promise<unknown> =>
    lan.exec('victim', ['sipsak', '-U', '-i', '-x', '60', `--transport=${transport}`, '-C', `sip:${user}@${VICTIM.ip}`, '-s', `sip:${user}@${SERVER.ip}`, '--auth-username', user, '-a', password], {
      timeoutMs: 20_000,
      okCodes: [0, 1, 2, 3],
    });

  const attackPcap = join(dir, 'attack.pcap');
  let cap = await lan.startCapture(attackPcap);
  await register(PASSWORD);
  await register(WRONG);
  await register(PASSWORD, TCP_USER, 'tcp');
  await settleAndStop(cap);
  const benignPcap = join(dir, 'benign.pcap');
  cap = await lan.startCapture(benignPcap);
  await lan.exec('victim', ['sipsak', '-s', `sip:${SERVER.ip}`], { timeoutMs: 20_000, okCodes: [0, 1, 2, 3] });
  await settleAndStop(cap);

  await work.withPcap(t, attackPcap, () => {
    const findings = scanAll(attackPcap, ['--show-secrets']).findings;
    const f = findings.find((x) => x.rule_id === 'cred-sip' && hasEntity(x, 'ip', VICTIM.ip, 'client') && hasEntity(x, 'host', `${SERVER.ip}:5060`, 'server') && hasEntity(x, 'user', USER, 'login-succeeded'));
    assert.ok(f, `no cred-sip for ${USER}:\n${describe(findings)}`);
    assert.deepEqual(f.attack.techniques, ['T1040']);
    assert.equal(f.severity, 'medium');
    assert.ok(hasEntity(f, 'user', USER, 'login-failed'), 'the refused registration is not among the outcomes');
    const lines = (f.secrets ?? []).map((s) => s.value ?? '');
    assert.ok(lines.some((l) => l.startsWith('$sip$*') && sipLineMatches(l, PASSWORD)), `no line cracks to the password: ${lines.join(' | ')}`);
    assert.ok(lines.some((l) => sipLineMatches(l, WRONG)), `no line cracks to the wrong password tried: ${lines.join(' | ')}`);
    const tcp = findings.find((x) => x.rule_id === 'cred-sip' && hasEntity(x, 'ip', VICTIM.ip, 'client') && hasEntity(x, 'user', TCP_USER, 'login-succeeded'));
    assert.ok(tcp, `no cred-sip for the registration over TCP:\n${describe(findings)}`);
    assert.ok((tcp.secrets ?? []).some((x) => sipLineMatches(x.value ?? '', PASSWORD)), 'the TCP registration line does not crack to the password');
    assertSecretsRedacted(attackPcap, lines.map((l) => l.split('*').pop()!));
  });
  await work.withPcap(t, benignPcap, () => {
    assertNoCredentialFindings(benignPcap);
  });
});
