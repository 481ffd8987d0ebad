import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { findingSummary, scanAllFindings } from '../helpers/cli.js';
import { CORPUS, MANIFEST, frameCount, untaggedEthernetRows } from '../helpers/corpus.js';
import { sniffwatchIpFrames, tsharkAvailable, tsharkIpFrames } from '../helpers/ip-frames.js';
import { reframe, scapyPython } from '../helpers/reframe.js';

// The public regression captures rewritten by scapy behind carrier and WAN
// framings (ethernet-to-carrier.py): MPLS, Ethernet pseudowires, PPPoE,
// PKTAP, the switch headers of SPAN captures (Cisco MetaData, VN-Tag, E-Tag,
// PBB), IP in IP, PPP, Cisco HDLC and NFLOG. tshark must read the same IP
// packets in each rewrite as in the original (the rewrite is a real capture,
// not one only sniffwatch reads), sniffwatch's decoder the same ones, and
// sniffwatch must report what it reports on the original:
// - framings that keep the Ethernet header: exactly the same findings;
// - framings that carry only the IP packet (IP in IP, the IP-only link
//   types): the same findings of every rule that reads no link-layer address
//   (credentials, TLS, DNS and local name poisoning, DHCP, SNMP); rules built
//   on MAC addresses (ARP, Neighbor Discovery) have nothing to read there.
//   IP in IP is also inventoried as a tunnel.

const LINK_KEPT = ['mpls', 'mpls2', 'eompls', 'pppoe', 'pktap', 'cmd', 'vntag', 'etag', 'pbb'] as const;
const IP_ONLY = ['ipip', 'ppp', 'ppp-hdlc', 'chdlc', 'nflog'] as const;
const FRAMINGS = [...LINK_KEPT, ...IP_ONLY];
/** Rules whose findings come from IP and above only. */
const NETWORK_LAYER_RULES = /^(cred-|starttls-|tls-|dns-|llmnr-|dhcp-)/;
/** Above this many frames the rewrite is skipped (scapy writes a few thousand frames/s per framing). */
const MAX_FRAMES = 3000;

/** Wireshark guesses whether a pseudowire has a control word; the rewrite's pseudowire label (77) says it has. */
const TSHARK_OPTIONS: Record<string, string[]> = { eompls: ['-d', 'mpls.label==77,pwethcw'] };

function networkLayer(findings: readonly Finding[]): string[] {
  return findingSummary(findings.filter((f) => NETWORK_LAYER_RULES.test(f.rule_id)));
}

const python = scapyPython();
const tshark = tsharkAvailable();
if (!existsSync(MANIFEST)) {
  test('carrier framings of the public captures', (t) => t.skip(`corpus not found at ${CORPUS}: carrier framing set not run`));
} else if (python === null) {
  test('carrier framings of the public captures', (t) => t.skip('tool missing: python3 with scapy (Debian python3-scapy)'));
} else if (!tshark) {
  test('carrier framings of the public captures', (t) => t.skip('tool missing: tshark (Debian tshark), which cross-reads the rewrites'));
} else {
  for (const row of untaggedEthernetRows()) {
    const original = join(CORPUS, row.file);
    if (frameCount(original) > MAX_FRAMES) continue;
    test(`carrier framings of ${row.file} yield its findings`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-carrier-'));
      try {
        const converted = reframe('ethernet-to-carrier.py', python, original, dir, FRAMINGS);
        if (!('paths' in converted)) throw new Error(`${row.file}: ${converted.notApplicable}`);
        const ip = tsharkIpFrames(original);
        const findings = scanAllFindings(original);
        const all = findingSummary(findings);
        const network = networkLayer(findings);
        for (const framing of FRAMINGS) {
          const path: string = converted.paths[framing]!;
          assert.deepEqual(tsharkIpFrames(path, TSHARK_OPTIONS[framing]), ip, `tshark reads other IP packets in the ${framing} rewrite of ${row.file}`);
          assert.deepEqual(await sniffwatchIpFrames(path), ip, `sniffwatch reads other IP packets in the ${framing} rewrite of ${row.file}`);
          const got = scanAllFindings(path);
          if ((LINK_KEPT as readonly string[]).includes(framing)) {
            assert.deepEqual(findingSummary(got), all, `${framing} framing of ${row.file}`);
            continue;
          }
          assert.deepEqual(networkLayer(got), network, `${framing} framing of ${row.file}`);
          if (framing === 'ipip' && ip.length > 0) {
            assert.ok(
              got.some((f) => f.rule_id === 'tunnel-observed' && f.message.startsWith('IP-in-IP ')),
              `no IP-in-IP tunnel reported in the ipip framing of ${row.file}`,
            );
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}
