import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CONFIG_SECTIONS } from '../../src/analyzers/index.js';
import { defaultConfig, loadConfig, type SniffwatchConfig } from '../../src/config/config.js';
import type { Finding } from '../../src/findings/finding.js';
import { scanCaptures } from '../../src/pipeline.js';
import { hasEntity, isAtLeast, withTempDir } from '../helpers/captures.js';
import { DEBIAN_CAPTURES, DEBIAN_CAPTURES_MISSING, debianCapturesPresent } from '../helpers/debian.js';
import { withMutatedFrames } from '../helpers/fuzz.js';
import { sniffwatchIpFrames, tsharkAvailable, tsharkIpFrames } from '../helpers/ip-frames.js';

// Every regression capture in Debian's tcpdump and wireshark source packages
// (scripts/fetch-debian-captures.sh puts them in the cache; .ci/run fetches
// them): hundreds of captures sniffwatch was not written against, many of
// them fuzzed or cut short on purpose. Each must scan without an exception,
// with at most located read errors, and stay quiet (nothing of medium or
// above) unless it really holds what a finding says.

const DIR = DEBIAN_CAPTURES;

/** Captures whose medium-or-above findings are right, and what they must include. */
const LOUD: Record<string, { rule: string; why: string }> = {
  'tcpdump/arp-oobr.pcap': { rule: 'arp-binding-flip-flop', why: 'fuzzed ARP: bit-flipped senders contradict each other as a poisoner would' },
  'wireshark/rsasnakeoil2.pcap': { rule: 'tls-weak-version', why: 'an SSL 3.0 session' },
  'wireshark/dhe1.pcapng.gz': { rule: 'tls-weak-version', why: 'a TLS 1.0 session' },
  'wireshark/dmgr.pcapng': { rule: 'tls-weak-version', why: 'a TLS 1.0 session' },
  'tcpdump/afs.pcap': { rule: 'cred-kerberos', why: 'a DES AS-REP to a request without pre-authentication' },
  'wireshark/krb-816.pcap.gz': { rule: 'cred-kerberos', why: 'RC4 and DES pre-authentication' },
  'wireshark/smb300-aes-128-ccm.pcap.gz': { rule: 'cred-smb', why: 'an NTLMv2 login to an SMB 3.0 share' },
  'wireshark/smb311-aes-128-ccm.pcap.gz': { rule: 'cred-smb', why: 'an NTLMv2 login to an SMB 3.1.1 share' },
  'wireshark/smb311-aes-128-gcm.pcap.gz': { rule: 'cred-smb', why: 'an NTLMv2 login to an SMB 3.1.1 share' },
  'wireshark/smb311-aes-256-ccm.pcap.gz': { rule: 'cred-smb', why: 'an NTLMv2 login to an SMB 3.1.1 share' },
  'wireshark/smb311-aes-256-gcm.pcap.gz': { rule: 'cred-smb', why: 'an NTLMv2 login to an SMB 3.1.1 share' },
  'tcpdump/ripv2_auth.pcap': { rule: 'cred-routing-auth', why: 'RIPv2 with a simple password (and keyed MD5)' },
};

/** Not captures at all (CBOR diagnostics, logs, text2pcap input): a located "not a capture file" error. */
const NOT_CAPTURES = /\.(cbordiag|log|txt)$/;

function files(): string[] {
  const out: string[] = [];
  for (const sub of ['tcpdump', 'wireshark']) {
    const d = join(DIR, sub);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d).sort()) out.push(`${sub}/${name}`);
  }
  return out;
}

async function scan(rel: string, config: SniffwatchConfig = defaultConfig()): Promise<{ findings: Finding[]; errors: string[]; decrypted: number; skipped: number }> {
  const r = await scanCaptures([join(DIR, rel)], { config, profile: 'production' });
  return { findings: r.findings, errors: r.errors.map((e) => e.message), decrypted: r.stats.wlanDecrypted, skipped: r.stats.wlanSkipped };
}

/** Intact (FCS verified) protected 802.11 data frames tshark decrypts (`readable`) or not with the passphrase. */
function tsharkDecrypts(rel: string, ssid: string, passphrase: string, readable: boolean): number {
  const r = spawnSync(
    'tshark',
    [
      ...['-o', 'wlan.check_checksum:TRUE', '-o', 'wlan.enable_decryption:TRUE', '-o', `uat:80211_keys:"wpa-pwd","${passphrase}:${ssid}"`],
      ...['-r', join(DIR, rel), '-Y', `wlan.fc.type == 2 && wlan.fc.protected == 1 && wlan.fcs.status == 1 && ${readable ? '' : '!'}llc`],
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).length;
}

function wifiConfig(dir: string, ssid: string, passphrase: string): SniffwatchConfig {
  const file = join(dir, 'wifi.yml');
  writeFileSync(file, `wifi:\n  networks:\n    - ssid: "${ssid}"\n      passphrase: "${passphrase}"\n`);
  return loadConfig(file, CONFIG_SECTIONS);
}

if (!debianCapturesPresent()) {
  test('captures from Debian source packages', (t) => t.skip(DEBIAN_CAPTURES_MISSING));
} else {
  test('every capture of the tcpdump and wireshark source packages scans, quietly unless it holds an attack', { timeout: 600_000 }, async () => {
    const all = files();
    assert.ok(all.length > 500, `only ${all.length} files in ${DIR}`);
    const problems: string[] = [];
    for (const rel of all) {
      let r;
      try {
        r = await scan(rel);
      } catch (e) {
        problems.push(`${rel}: exception ${(e as Error).stack ?? String(e)}`);
        continue;
      }
      for (const msg of r.errors) {
        // A read error names the file and the byte where reading stopped.
        if (!msg.includes(rel.split('/')[1]!) || !/byte \d+/.test(msg)) problems.push(`${rel}: unlocated error: ${msg}`);
      }
      if (NOT_CAPTURES.test(rel) && !r.errors.some((m) => /not a capture file/.test(m))) problems.push(`${rel}: not a capture, yet no "not a capture file" error`);
      const loud = r.findings.filter((f) => isAtLeast(f, 'medium'));
      const expected = LOUD[rel];
      if (expected) {
        if (!loud.some((f) => f.rule_id === expected.rule)) problems.push(`${rel}: no ${expected.rule} finding (${expected.why})`);
      } else if (loud.length > 0) {
        problems.push(`${rel}: ${loud.map((f) => `${f.severity} ${f.rule_id}: ${f.message}`).join('; ')}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('on every capture of a link type sniffwatch decodes, the frames carrying IP are the ones tshark shows IP in', { timeout: 900_000 }, async (t) => {
    if (!tsharkAvailable()) {
      t.skip('tool missing: tshark');
      return;
    }
    let compared = 0;
    const problems: string[] = [];
    for (const rel of files()) {
      const ours = await sniffwatchIpFrames(join(DIR, rel));
      if (ours === null) continue;
      const theirs = tsharkIpFrames(join(DIR, rel));
      compared++;
      const mine = new Set(ours);
      const tsharks = new Set(theirs);
      const onlyOurs = ours.filter((n) => !tsharks.has(n));
      const onlyTshark = theirs.filter((n) => !mine.has(n));
      if (onlyOurs.length > 0 || onlyTshark.length > 0) problems.push(`${rel}: IP read by sniffwatch only in frames ${onlyOurs.slice(0, 8).join(',')}; by tshark only in ${onlyTshark.slice(0, 8).join(',')}`);
    }
    assert.ok(compared > 500, `only ${compared} captures compared`);
    assert.deepEqual(problems, []);
  });

  test('every OSPFv2 and RIPv2 simple password tshark reads is reported, and each router\'s keyed-MD5 line holds a digest tshark shows', async (t) => {
    if (!tsharkAvailable()) {
      t.skip('tool missing: tshark');
      return;
    }
    let routers = 0;
    const problems: string[] = [];
    for (const rel of files().filter((f) => /(^|\/)(rip|ospf)[^6]*$/i.test(f) && !/ripng/i.test(f))) {
      // Source address, simple password, MD5 digest (a 16-byte cryptographic authentication).
      const fields = ['ip.src', 'rip.auth.passwd', 'ospf.auth.simple', 'rip.auth_data_len', 'rip.authentication_data', 'ospf.auth.crypt.data_length', 'ospf.auth.crypt.data'];
      const r = spawnSync('tshark', ['-r', join(DIR, rel), '-Y', 'rip.auth.type > 1 || ospf.auth.type > 0', '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8' });
      const simple = new Map<string, Set<string>>();
      const digests = new Map<string, Set<string>>();
      for (const line of r.stdout.split('\n').filter(Boolean)) {
        const [ip, ripPw, ospfPw, ripLen, ripData, ospfLen, ospfData] = line.split('|') as [string, string, string, string, string, string, string];
        const pw = ripPw || ospfPw;
        if (pw) (simple.get(ip) ?? simple.set(ip, new Set()).get(ip)!).add(pw);
        const digest = ripLen === '16' ? ripData : ospfLen === '16' ? ospfData : '';
        if (digest) (digests.get(ip) ?? digests.set(ip, new Set()).get(ip)!).add(digest.replace(/:/g, ''));
      }
      if (simple.size === 0 && digests.size === 0) continue;
      const ours = (await scanCaptures([join(DIR, rel)], { config: defaultConfig(), profile: 'production', showSecrets: true })).findings.filter((f) => f.rule_id === 'cred-routing-auth');
      const secretsOf = (ip: string): string[] => ours.filter((f) => hasEntity(f, 'ip', ip, 'router')).flatMap((f) => (f.secrets ?? []).map((x) => x.value ?? ''));
      for (const [ip, pws] of simple) {
        routers++;
        for (const pw of pws) if (!secretsOf(ip).includes(pw)) problems.push(`${rel}: ${ip}'s password ${pw} not reported`);
      }
      for (const [ip, set] of digests) {
        routers++;
        const lines = secretsOf(ip).filter((x) => x.startsWith('$netmd5$'));
        if (!lines.some((l) => set.has(l.slice(-32)))) problems.push(`${rel}: no net-md5 line of ${ip} holds a digest tshark shows (${[...set].join(', ')})`);
      }
    }
    t.diagnostic(`${routers} routers compared`);
    assert.ok(routers > 0, 'no OSPF or RIP authentication in the captures');
    assert.deepEqual(problems, []);
  });

  test("Wireshark's WPA capture: every protected data frame is counted as not analysed, as tshark counts them", async (t) => {
    const rel = 'wireshark/wpa-Induction.pcap.gz';
    if (spawnSync('tshark', ['-v']).status !== 0) {
      t.skip('tool missing: tshark');
      return;
    }
    // Frames whose FCS fails are damaged: sniffwatch reports them malformed, so only intact ones are compared.
    const tshark = spawnSync('tshark', ['-o', 'wlan.check_checksum:TRUE', '-r', join(DIR, rel), '-Y', 'wlan.fc.type == 2 && wlan.fc.protected == 1 && wlan.fcs.status == 1'], {
      encoding: 'utf8',
    });
    const protectedFrames = tshark.stdout.split('\n').filter(Boolean).length;
    assert.ok(protectedFrames > 100, `tshark found ${protectedFrames}`);
    const r = await scan(rel);
    const notice = r.findings.find((f) => f.rule_id === 'decode-wlan-skipped');
    assert.equal(notice?.count, protectedFrames);
    assert.equal(notice?.severity, 'info');
  });

  // Wireshark's WPA2-Personal captures with the passphrases its own test suite uses.
  const WPA2 = [
    { rel: 'wireshark/wpa-Induction.pcap.gz', ssid: 'Coherer', passphrase: 'Induction', router: { ip: '192.168.0.1', mac: '00:0c:41:82:b2:53' } },
    // Its station rekeys: the new handshake's message 3 travels under the old keys.
    { rel: 'wireshark/wpa-test-decode.pcap.gz', ssid: 'test', passphrase: 'test0815', router: { ip: '172.16.1.1', mac: '10:6f:3f:0e:33:3c' } },
  ];
  for (const net of WPA2) {
    test(`${net.rel} with its passphrase: decrypted frame for frame as tshark decrypts it, then analysed`, async (t) => {
      if (spawnSync('tshark', ['-v']).status !== 0) {
        t.skip('tool missing: tshark');
        return;
      }
      await withTempDir(async (dir) => {
        const r = await scan(net.rel, wifiConfig(dir, net.ssid, net.passphrase));
        assert.equal(r.decrypted, tsharkDecrypts(net.rel, net.ssid, net.passphrase, true));
        assert.ok(r.decrypted > 100);
        assert.equal(r.skipped, tsharkDecrypts(net.rel, net.ssid, net.passphrase, false));
        // The access point's router, learned from ARP inside the encrypted frames.
        const station = r.findings.find((f) => f.rule_id === 'arp-new-station' && hasEntity(f, 'ip', net.router.ip) && hasEntity(f, 'mac', net.router.mac));
        assert.ok(station, r.findings.map((f) => f.message).join('\n'));
        assert.match(station.evidence[0]?.detail ?? '', /inside WPA2-CCMP \(decrypted\)/);
        // (The file name of wpa-Induction holds its passphrase: only what the findings say is checked.)
        const said = JSON.stringify(r.findings.map((f) => [f.message, f.entities, f.evidence.map((e) => e.detail)]));
        assert.ok(!said.includes(net.passphrase), 'the passphrase appears in a finding');
        // Another passphrase decrypts nothing: every protected frame stays in the notice.
        const wrong = await scan(net.rel, wifiConfig(dir, net.ssid, 'not-the-passphrase'));
        assert.equal(wrong.decrypted, 0);
        assert.equal(wrong.skipped, r.decrypted + r.skipped);
      });
    });
  }

  test('mutated frames of the WPA2 captures, passphrase configured, never crash the handshake tracking or decryption', { timeout: 300_000 }, async () => {
    await withTempDir(async (dir) => {
      let frames = 0;
      for (const [i, net] of WPA2.entries()) {
        const config = wifiConfig(dir, net.ssid, net.passphrase);
        await withMutatedFrames(join(DIR, net.rel), dir, 6, 70_000 + i * 100, async (mutant, seed) => {
          const r = await scanCaptures([mutant], { config, profile: 'production' });
          assert.deepEqual(r.errors, [], `seed ${seed}`);
          frames += r.stats.frames;
        });
      }
      assert.ok(frames > 0);
    });
  });
}
