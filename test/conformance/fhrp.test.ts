import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { readCapture } from '../../src/capture/reader.js';
import { ethernet, hsrpFrame, hsrpPayload, ipv6Packet, ipv6UdpFrame, vrrpFrame, vrrpPayload } from '../../src/craft/frames.js';
import { decodeFrame } from '../../src/decode/decoder.js';
import { decodeHsrp, decodeVrrp, FhrpMessage, IPPROTO_VRRP, isHsrpPorts, virtualAddressTexts } from '../../src/decode/fhrp.js';
import { Packet } from '../../src/decode/packet.js';
import type { Finding } from '../../src/findings/finding.js';
import { atLeast, describe, hasEntity, withTempDir, writePcap } from '../helpers/captures.js';
import { scanAllFindings } from '../helpers/cli.js';
import { DEBIAN_CAPTURES, DEBIAN_CAPTURES_MISSING, debianCapturesPresent } from '../helpers/debian.js';
import { tsharkAvailable } from '../helpers/ip-frames.js';

// HSRP and VRRP against real routers and tshark: the regression captures of
// Debian's tcpdump package (Cisco routers electing, failing over and
// preempting with a coup in HSRPv1; VRRPv2 and v3 masters over IPv4 and IPv6
// preempting one another) must be decoded field for field as tshark decodes
// them and must stay quiet; HSRPv2 and VRRPv3 messages built here (no real
// capture of them is at hand) must read the same in tshark and in sniffwatch.

const TSHARK_FIELDS = ['hsrp.group', 'hsrp.state', 'hsrp.priority', 'hsrp.virt_ip', 'hsrp2.group', 'hsrp2.state', 'hsrp2.priority', 'hsrp2.virt_ip', 'hsrp2.virt_ip_v6', 'vrrp.virt_rtr_id', 'vrrp.prio', 'vrrp.ip_addr', 'vrrp.ipv6_addr'];

/** Per frame carrying an HSRP group message or a VRRP advertisement: "group state priority vip[,vip]" as tshark reads it. */
function tsharkFhrp(path: string): Map<number, string> {
  const r = spawnSync('tshark', ['-n', '-r', path, '-Y', 'hsrp || vrrp', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.number', ...TSHARK_FIELDS.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = new Map<number, string>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [no, g1, s1, p1, v1, g2, s2, p2, v2, v2b, vr, vp, va, va6] = line.split('|');
    if (g1) out.set(Number(no), `${g1} ${s1} ${p1} ${v1}`);
    else if (g2) out.set(Number(no), `${g2} ${s2} ${p2} ${v2 || v2b}`);
    else if (vr) out.set(Number(no), `${vr} - ${vp} ${va || va6}`);
  }
  return out;
}

/** The same, as sniffwatch's decoder reads each frame. */
async function sniffwatchFhrp(path: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const pkt = new Packet();
  const m = new FhrpMessage();
  await readCapture(path, (f) => {
    if (!decodeFrame(f, pkt) || pkt.ipVersion === 0) return;
    const hsrp = pkt.ipProto === 17 && isHsrpPorts(pkt.srcPort, pkt.dstPort);
    const ok = hsrp ? decodeHsrp(pkt, m) : pkt.ipProto === IPPROTO_VRRP && decodeVrrp(pkt, m);
    if (!ok) return;
    out.set(f.frameNo, `${m.group} ${hsrp ? m.state : '-'} ${m.priority} ${virtualAddressTexts(pkt.buf, m, m.vipCount).join(',')}`);
  });
  return out;
}

function byRule(findings: readonly Finding[], rule: string): Finding[] {
  return findings.filter((f) => f.rule_id === rule);
}

const REAL = ['tcpdump/HSRP_coup.pcap', 'tcpdump/HSRP_election.pcap', 'tcpdump/HSRP_failover.pcap', 'tcpdump/vrrp.pcap'];

if (!debianCapturesPresent()) {
  test('HSRP and VRRP captures from Debian source packages', (t) => t.skip(DEBIAN_CAPTURES_MISSING));
} else {
  test('real HSRP and VRRP routers: every group message decoded as tshark decodes it', async (t) => {
    if (!tsharkAvailable()) {
      t.skip('tool missing: tshark');
      return;
    }
    for (const rel of REAL) {
      const path = join(DEBIAN_CAPTURES, rel);
      const theirs = tsharkFhrp(path);
      assert.ok(theirs.size >= 20, `${rel}: tshark shows only ${theirs.size} messages`);
      assert.deepEqual([...(await sniffwatchFhrp(path))], [...theirs], rel);
    }
  });

  test('real routers electing, failing over and preempting stay below medium; the coup by a router not seen before is low', async () => {
    const coup = scanAllFindings(join(DEBIAN_CAPTURES, 'tcpdump/HSRP_coup.pcap'));
    assert.deepEqual(atLeast(coup, 'medium'), [], describe(coup));
    const newcomer = byRule(coup, 'fhrp-new-active-router');
    assert.equal(newcomer.length, 1, describe(coup));
    assert.ok(hasEntity(newcomer[0]!, 'ip', '192.168.0.10', 'router') && hasEntity(newcomer[0]!, 'ip', '192.168.0.30', 'displaced-router'), describe(newcomer));
    assert.ok(hasEntity(newcomer[0]!, 'ip', '192.168.0.1', 'virtual-gateway'), describe(newcomer));
    // No authentication configured: every router sends the default key.
    assert.equal(byRule(coup, 'cred-fhrp-auth').length, 3, describe(coup));
    for (const rel of ['tcpdump/HSRP_election.pcap', 'tcpdump/HSRP_failover.pcap']) {
      const quiet = scanAllFindings(join(DEBIAN_CAPTURES, rel));
      assert.deepEqual(atLeast(quiet, 'low').filter((f) => f.rule_id !== 'cred-fhrp-auth'), [], `${rel}:\n${describe(quiet)}`);
    }
    const vrrp = scanAllFindings(join(DEBIAN_CAPTURES, 'tcpdump/vrrp.pcap'));
    assert.deepEqual(atLeast(vrrp, 'medium'), [], describe(vrrp));
    const keys = byRule(vrrp, 'cred-fhrp-auth');
    assert.ok(keys.length > 0 && keys.every((f) => f.message.includes('VRRPv2 group 42') && !JSON.stringify(f).includes('abcdefgh')), describe(keys));
  });
}

test('HSRPv2 (IPv4, IPv6) and VRRPv3 (IPv6) built here read the same in tshark and in sniffwatch', async (t) => {
  if (!tsharkAvailable()) {
    t.skip('tool missing: tshark');
    return;
  }
  const frames = [
    hsrpFrame('02:00:00:00:00:01', '198.18.0.2', { version: 2, state: 6, priority: 150, group: 300, virtualIp: '198.18.0.1', identifier: '02:00:00:00:00:01' }),
    hsrpFrame('02:00:00:00:00:02', '198.18.0.3', { version: 2, state: 5, priority: 100, group: 4095, virtualIp: '198.18.0.1', key: null }),
    ipv6UdpFrame('02:00:00:00:00:01', '33:33:00:00:00:66', 'fe80::2', 'ff02::66', 2029, 2029, hsrpPayload({ version: 2, state: 6, priority: 120, group: 9, virtualIp: 'fe80::1' }), 255),
    vrrpFrame('198.18.0.2', { version: 3, vrid: 200, priority: 254, addresses: ['198.18.0.1', '198.18.0.9'] }),
    ethernet('33:33:00:00:00:12', '00:00:5e:00:02:07', 0x86dd, ipv6Packet('fe80::2', 'ff02::12', 112, vrrpPayload({ version: 3, vrid: 7, priority: 100, addresses: ['fe80::1', '2001:db8::1'] }), 255)),
  ];
  await withTempDir(async (dir) => {
    const path = writePcap(
      join(dir, 'fhrp.pcap'),
      frames.map((frame, i) => ({ t: i, frame })),
    );
    const theirs = tsharkFhrp(path);
    assert.equal(theirs.size, frames.length, [...theirs].join('\n'));
    assert.deepEqual([...(await sniffwatchFhrp(path))], [...theirs]);
  });
});
