// End to end: MQTT logins a sniffer harvests, made by mosquitto_pub against a
// mosquitto broker (password file, anonymous clients refused) on a namespace
// LAN, captured on the bridge, then `sniffwatch scan`: MQTT 3.1.1 accepted,
// MQTT 5.0 refused, MQTT 3.1 accepted, and a client without a password, which
// stays quiet. tshark, reading the same capture, must see the same user names
// and passwords. Needs root.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, hasEntity } from '../helpers/captures.js';
import { assertNothingLoud, assertSecretsRedacted, E2eWorkDir, freshLan, scanAll, settleAndStop, skipUnless, waitListener } from '../helpers/e2e.js';
import { VICTIM, type HostSpec } from '../helpers/netns-lan.js';

const BROKER: HostSpec = { name: 'broker', ip: '198.18.0.31', mac: '02:53:57:00:00:1f' };
const TAG = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const USER = `meter${TAG}`;
const PASSWORD = `Mqtt-${TAG}-pw`;
const WRONG = `Wrong-${TAG}`;

const work = new E2eWorkDir('mqtt');
const dir = work.path;

test('MQTT logins from mosquitto_pub to mosquitto: 3.1.1 and 3.1 accepted, 5.0 refused, each naming its client id; no password, no finding; tshark sees the same logins', { timeout: 60_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['mosquitto', 'mosquitto_pub', 'mosquitto_passwd', 'tshark']))) return;
  const passwords = join(dir, 'passwords');
  writeFileSync(passwords, '');
  execFileSync('mosquitto_passwd', ['-b', passwords, USER, PASSWORD], { stdio: 'ignore' });
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, ['user root', `listener 1883 ${BROKER.ip}`, 'allow_anonymous false', `password_file ${passwords}`, 'log_dest stderr', ''].join('\n'));
  const lan = await freshLan(t, { extraHosts: [BROKER] });
  lan.spawn('broker', ['mosquitto', '-c', conf], 'mosquitto');
  await waitListener(lan, 'broker', 1883);
  // mosquitto_pub exits with the refusal code: 5 ("not authorised") for MQTT 3.1.x, the reason code 135 (0x87) for 5.0.
  const publish = (version: string, clientId: string, login: string[]): Promise<unknown> =>
    lan.exec('victim', ['mosquitto_pub', '-h', BROKER.ip, '-p', '1883', '-V', version, '-i', clientId, ...login, '-t', 'plant/line1/temp', '-m', '21.5'], { timeoutMs: 20_000, okCodes: [0, 5, 135] });

  const pcap = join(dir, 'mqtt.pcap');
  const cap = await lan.startCapture(pcap);
  await publish('mqttv311', `press-${TAG}`, ['-u', USER, '-P', PASSWORD]);
  await publish('mqttv5', `valve-${TAG}`, ['-u', USER, '-P', WRONG]);
  await publish('mqttv31', `pump-${TAG}`, ['-u', USER, '-P', PASSWORD]);
  await publish('mqttv311', `anon-${TAG}`, []);
  await settleAndStop(cap);

  await work.withPcap(t, pcap, () => {
    const findings = scanAll(pcap, ['--show-secrets']).findings;
    const mqtt = findings.filter((f) => f.rule_id === 'cred-mqtt');
    assert.equal(mqtt.length, 1, describe(findings));
    const f = mqtt[0]!;
    assert.deepEqual(f.attack.techniques, ['T1040']);
    assert.equal(f.severity, 'high');
    assert.equal(f.count, 3);
    assert.ok(hasEntity(f, 'ip', VICTIM.ip, 'client') && hasEntity(f, 'host', `${BROKER.ip}:1883`, 'server'), describe([f]));
    assert.ok(hasEntity(f, 'user', USER, 'login-succeeded') && hasEntity(f, 'user', USER, 'login-failed'), describe([f]));
    assert.deepEqual(f.secrets?.map((s) => s.value).sort(), [PASSWORD, WRONG].sort());
    // The first attempt's message; the others are counted.
    assert.match(f.message, new RegExp(`CONNECT \\(MQTT 3\\.1\\.1\\).*client id 'press-${TAG}'.*login succeeded`));
    assertSecretsRedacted(pcap, [PASSWORD, WRONG]);
    assertNothingLoud(findings.filter((x) => x.rule_id !== 'cred-mqtt'));

    const seen = execFileSync('tshark', ['-n', '-r', pcap, '-Y', 'mqtt.passwd', '-T', 'fields', '-e', 'mqtt.username', '-e', 'mqtt.passwd'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split('\t').join(':'))
      .sort();
    assert.deepEqual(seen, [`${USER}:${PASSWORD}`, `${USER}:${PASSWORD}`, `${USER}:${WRONG}`].sort());
  });
});
