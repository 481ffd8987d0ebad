// End to end: routing-protocol keys a sniffer harvests. Two BIRD routers on a
// namespace LAN speak OSPFv2 and RIPv2, one with simple passwords, the other
// with keyed MD5; the bridge is captured and `sniffwatch scan` must report each
// router's key: the password itself, or a net-md5 line that cracks with it.
// A third router without authentication stays quiet. Needs root.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity } from '../helpers/captures.js';
import { assertSecretsRedacted, E2eWorkDir, freshLan, scanAll, settleAndStop, skipUnless, tcpdumpPackets } from '../helpers/e2e.js';
import { sleep, type HostSpec } from '../helpers/netns-lan.js';

const R1: HostSpec = { name: 'r1', ip: '198.18.0.41', mac: '02:53:57:00:00:29' };
const R2: HostSpec = { name: 'r2', ip: '198.18.0.42', mac: '02:53:57:00:00:2a' };
const R3: HostSpec = { name: 'r3', ip: '198.18.0.43', mac: '02:53:57:00:00:2b' };
const TAG = (process.pid % 10000).toString();
const KEYS = { ospfSimple: `Os${TAG}`.slice(0, 8), ripMd5: `RipMd5-${TAG}`, ospfMd5: `OspfMd5-${TAG}`, ripSimple: `RipPw-${TAG}` };

const work = new E2eWorkDir('routing');
const dir = work.path;

/** A BIRD configuration: OSPF area 0 and RIP on eth0, each with the authentication clause given (or none). */
function birdConfig(h: HostSpec, ospfAuth: string, ripAuth: string): string {
  return `router id ${h.ip};
protocol device {}
protocol direct { ipv4; interface "eth0"; }
protocol ospf v2 {
  ipv4 { import none; export none; };
  area 0 { interface "eth0" { hello 1; ${ospfAuth} }; };
}
protocol rip {
  ipv4 { import none; export all; };
  interface "eth0" { update time 1; ${ripAuth} };
}
`;
}

function key16(key: string): Buffer {
  const k = Buffer.alloc(16);
  k.write(key, 'latin1');
  return k;
}

function netMd5Cracks(line: string, key: string): boolean {
  const m = /^\$netmd5\$([0-9a-f]+)\$([0-9a-f]{32})$/.exec(line);
  return m !== null && createHash('md5').update(Buffer.from(m[1]!, 'hex')).update(key16(key)).digest('hex') === m[2];
}

test('BIRD routers: OSPF and RIP simple passwords and keyed MD5 are cred-routing-auth with the key or a line that cracks to it; no authentication, no finding', { timeout: 60_000 }, async (t: TestContext) => {
  if (!(await skipUnless(t, ['bird']))) return;
  const lan = await freshLan(t, { extraHosts: [R1, R2, R3] });
  const configs: [HostSpec, string][] = [
    [R1, birdConfig(R1, `authentication simple; password "${KEYS.ospfSimple}";`, `authentication cryptographic; password "${KEYS.ripMd5}" { algorithm keyed md5; };`)],
    [R2, birdConfig(R2, `authentication cryptographic; password "${KEYS.ospfMd5}" { id 5; algorithm keyed md5; };`, `authentication plaintext; password "${KEYS.ripSimple}";`)],
    [R3, birdConfig(R3, '', '')],
  ];
  const pcap = join(dir, 'routing.pcap');
  const cap = await lan.startCapture(pcap);
  for (const [h, conf] of configs) {
    const file = join(dir, `${h.name}.conf`);
    writeFileSync(file, conf);
    lan.spawn(h.name, ['bird', '-f', '-c', file, '-s', join(dir, `${h.name}.ctl`), '-P', join(dir, `${h.name}.pid`)], `bird@${h.name}`);
  }
  await sleep(6000);
  await settleAndStop(cap, 500);

  await work.withPcap(t, pcap, () => {
    for (const h of [R1, R2, R3]) {
      for (const proto of ['proto ospf', 'udp port 520']) assert.ok(tcpdumpPackets(pcap, `src host ${h.ip} and ${proto}`).length > 0, `no ${proto} from ${h.name} in the capture`);
    }
    const findings = scanAll(pcap, ['--show-secrets']).findings;
    const hit = (h: HostSpec, proto: string, severity: string): Finding => {
      const f = findings.find((x) => x.rule_id === 'cred-routing-auth' && hasEntity(x, 'ip', h.ip, 'router') && hasEntity(x, 'mac', h.mac, 'router') && hasEntity(x, 'protocol', proto) && x.severity === severity);
      assert.ok(f, `no ${severity} ${proto} key of ${h.name}:\n${describe(findings)}`);
      assert.deepEqual(f.attack.techniques, ['T1040']);
      return f;
    };
    assert.deepEqual(hit(R1, 'OSPFv2', 'medium').secrets?.map((s) => s.value), [KEYS.ospfSimple]);
    assert.deepEqual(hit(R2, 'RIPv2', 'medium').secrets?.map((s) => s.value), [KEYS.ripSimple]);
    for (const [h, proto, key] of [
      [R1, 'RIPv2', KEYS.ripMd5],
      [R2, 'OSPFv2', KEYS.ospfMd5],
    ] as const) {
      const lines = hit(h, proto, 'low').secrets!.map((s) => s.value!);
      assert.ok(lines.length > 0 && lines.every((l) => netMd5Cracks(l, key) && !netMd5Cracks(l, `${key}!`)), `${proto} of ${h.name}: ${lines.join(', ')}`);
    }
    assert.ok(!findings.some((f) => hasEntity(f, 'ip', R3.ip)), describe(findings));
    assertSecretsRedacted(pcap, [KEYS.ospfSimple, KEYS.ripSimple]);
  });
});
