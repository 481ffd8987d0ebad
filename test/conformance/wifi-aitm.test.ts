import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { atLeast, describe, hasEntity, withTempDir } from '../helpers/captures.js';
import { runCli } from '../helpers/cli.js';
import { scapyPython } from '../helpers/wifi.js';

// Wi-Fi evil twins (T1557.004) in monitor-mode captures that scapy writes
// (wifi-aitm.py): an open copy of a protected network, a KARMA responder, an
// aireplay-ng style deauthentication burst, and a busy but benign air. No
// radio can be put in monitor mode here, so scapy's 802.11 layers build the
// frames independently of sniffwatch's decoder; tshark reads each capture
// cleanly first.

const SCENARIOS = fileURLToPath(new URL('../../../test/helpers/wifi-aitm.py', import.meta.url));
const TWIN = '02:00:00:00:66:66';
const KARMA = '02:00:00:00:77:77';
const AP1 = '02:00:00:00:0a:01';
const AP2 = '02:00:00:00:0a:02';
const STATION = '02:00:00:00:00:c1';

function scan(path: string, extra: string[] = []): Finding[] {
  const run = runCli(['scan', '--format', 'jsonl', '--min-severity', 'info', '--fail-on', 'none', ...extra, path]);
  assert.equal(run.status, 0, run.stderr);
  return run.findings;
}

const python = scapyPython();
if (python === null) {
  test('Wi-Fi evil twin scenarios', (t) => t.skip('tool missing: python3 with scapy (Debian python3-scapy)'));
} else {
  test('Wi-Fi evil twins: open copy, unlisted access point, KARMA, deauthentication flood; a busy benign air stays quiet', async (t) => {
    await withTempDir(async (dir) => {
      const made = spawnSync(python, [SCENARIOS, dir], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(made.status, 0, made.stderr);
      const tshark = spawnSync('tshark', ['-v']).status === 0;
      if (!tshark) t.diagnostic('tshark missing: the scapy captures are not cross-read');
      for (const name of ['twin', 'karma', 'deauth', 'clone', 'benign']) {
        if (!tshark) break;
        const r = spawnSync('tshark', ['-r', join(dir, `${name}.pcap`), '-Y', '_ws.malformed || _ws.expert.severity >= error'], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim(), '', `tshark finds ${name}.pcap malformed`);
      }

      await t.test('an open access point copying a WPA2 network is the attacker; the roaming and WPA3 access points are not', () => {
        const f = scan(join(dir, 'twin.pcap'));
        const twin = f.find((x) => x.rule_id === 'wlan-open-twin');
        assert.ok(twin, describe(f));
        assert.equal(twin.severity, 'high');
        assert.ok(twin.attack.techniques.includes('T1557.004'));
        assert.ok(hasEntity(twin, 'mac', TWIN, 'attacker'));
        assert.ok(hasEntity(twin, 'ssid', 'CorpWiFi', 'impersonated'));
        assert.ok(hasEntity(twin, 'mac', AP1, 'legitimate'));
        assert.ok(!f.some((x) => hasEntity(x, 'mac', AP1, 'attacker') || hasEntity(x, 'mac', AP2, 'attacker')), describe(f));
      });

      await t.test('with the network\'s access points listed, an unlisted one is reported even with the same protection', () => {
        const cfg = join(dir, 'aps.yml');
        writeFileSync(cfg, `wifi:\n  access_points:\n    CorpWiFi: ["${AP1}", "02:00:00:00:0a:03"]\n`);
        const f = scan(join(dir, 'twin.pcap'), ['--config', cfg]);
        const rogue = f.filter((x) => x.rule_id === 'wlan-rogue-access-point');
        assert.deepEqual(rogue.map((x) => x.entities.find((e) => e.role === 'attacker')?.value).sort(), [AP2, TWIN], describe(f));
      });

      await t.test('one BSSID answering probes for five remembered networks is a KARMA responder', () => {
        const f = scan(join(dir, 'karma.pcap'));
        const karma = f.find((x) => x.rule_id === 'wlan-karma-responder');
        assert.ok(karma, describe(f));
        assert.ok(hasEntity(karma, 'mac', KARMA, 'attacker'));
        assert.ok(hasEntity(karma, 'ssid', 'Home', 'impersonated'));
        assert.equal(atLeast(f, 'medium').filter((x) => x.rule_id !== 'wlan-karma-responder').length, 0, describe(f));
      });

      await t.test('64 deauthentications in half a second, forged from the access point, are a flood against the station', () => {
        const f = scan(join(dir, 'deauth.pcap'));
        const flood = f.find((x) => x.rule_id === 'wlan-deauth-flood');
        assert.ok(flood, describe(f));
        assert.ok(hasEntity(flood, 'mac', AP1, 'impersonated'));
        assert.ok(hasEntity(flood, 'mac', STATION, 'victim'));
        assert.match(flood.message, /reason codes 7/);
      });

      await t.test("a copy cloning the access point's BSSID is found: open, or with the same protection on another channel", () => {
        const f = scan(join(dir, 'clone.pcap'));
        const open = f.find((x) => x.rule_id === 'wlan-open-twin');
        assert.ok(open && hasEntity(open, 'mac', AP1, 'impersonated'), describe(f));
        assert.match(open.message, /second device is using the access point's BSSID/);
        const cloned = f.find((x) => x.rule_id === 'wlan-cloned-bssid' && hasEntity(x, 'mac', AP2, 'impersonated'));
        assert.ok(cloned, describe(f));
        assert.match(cloned.message, /channels 11 and 3/);
      });

      await t.test('several networks, a hidden one, roaming access points, a few disconnections, a channel change: nothing medium or above', () => {
        const f = scan(join(dir, 'benign.pcap'));
        assert.deepEqual(atLeast(f, 'medium'), [], describe(f));
      });
    });
  });
}
