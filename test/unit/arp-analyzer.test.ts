import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arpFrame, arpReply as reply, arpRequest as request, ipv4UdpFrame, BROADCAST_MAC, ZERO_MAC } from '../../src/craft/frames.js';
import { defaultConfig } from '../../src/config/config.js';
import { parseIp4, parseMac } from '../../src/decode/addr.js';
import { assertNotBlamed, atLeast, describe, hasEntity, isAtLeast, scanFrames, type TimedFrame } from '../helpers/captures.js';

const GW = { mac: '02:00:00:00:00:01', ip: '198.18.0.1' };
const VICTIM = { mac: '02:00:00:00:00:10', ip: '198.18.0.10' };
const OTHER = { mac: '02:00:00:00:00:20', ip: '198.18.0.20' };
const ATTACKER = { mac: '02:00:00:00:00:66', ip: '198.18.0.66' };
const UPSTREAM = '198.19.0.2';


/** A quiet LAN: everyone resolves the gateway, the gateway routes the victim's traffic upstream. */
function baseline(): TimedFrame[] {
  const frames: TimedFrame[] = [];
  let t = 0;
  for (const h of [VICTIM, OTHER, ATTACKER]) {
    frames.push({ t: (t += 0.1), frame: request(h, GW.ip) });
    frames.push({ t: (t += 0.001), frame: reply(GW, h) });
  }
  for (let i = 0; i < 5; i++) {
    frames.push({ t: (t += 0.2), frame: ipv4UdpFrame(VICTIM.mac, GW.mac, VICTIM.ip, UPSTREAM, 40000, 53, Buffer.alloc(30)) });
    frames.push({ t: (t += 0.01), frame: ipv4UdpFrame(GW.mac, VICTIM.mac, UPSTREAM, VICTIM.ip, 53, 40000, Buffer.alloc(60)) });
  }
  return frames;
}

test('benign LAN traffic, announcements and probes raise nothing of medium or above', async () => {
  const frames = baseline();
  let t = 3;
  // Gratuitous announcement of the victim's own binding, RFC 5227 probe, request/reply pairs.
  frames.push({ t: (t += 0.1), frame: arpFrame({ op: 1, senderMac: VICTIM.mac, senderIp: VICTIM.ip, targetMac: ZERO_MAC, targetIp: VICTIM.ip }) });
  frames.push({ t: (t += 0.1), frame: arpFrame({ op: 2, senderMac: VICTIM.mac, senderIp: VICTIM.ip, targetMac: BROADCAST_MAC, targetIp: VICTIM.ip }) });
  frames.push({ t: (t += 0.1), frame: arpFrame({ op: 1, senderMac: '02:00:00:00:00:99', senderIp: '0.0.0.0', targetMac: ZERO_MAC, targetIp: '198.18.0.99' }) });
  frames.push({ t: (t += 0.1), frame: request(OTHER, VICTIM.ip) });
  frames.push({ t: (t += 0.001), frame: reply(VICTIM, OTHER) });
  const { findings, errors } = await scanFrames(frames);
  assert.deepEqual(errors, []);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
  assert.ok(findings.some((f) => f.rule_id === 'arp-new-station' && hasEntity(f, 'ip', VICTIM.ip)), 'stations are inventoried');
});

test('arpspoof: a station with its own address claims the gateway in unsolicited replies', async () => {
  const frames = baseline();
  let t = 3;
  for (let i = 0; i < 5; i++) frames.push({ t: (t += 2), frame: reply(ATTACKER, VICTIM, GW.ip) });
  const { findings } = await scanFrames(frames);
  const hit = findings.find((f) => f.rule_id === 'arp-gateway-impersonation');
  assert.ok(hit, describe(findings));
  assert.equal(hit.severity, 'high');
  assert.deepEqual(hit.attack.techniques, ['T1557.002']);
  assert.ok(hasEntity(hit, 'mac', ATTACKER.mac, 'attacker'));
  assert.ok(hasEntity(hit, 'ip', GW.ip, 'impersonated'));
  assert.ok(hasEntity(hit, 'ip', ATTACKER.ip, 'attacker'));
  assert.ok(hasEntity(hit, 'ip', VICTIM.ip, 'victim'));
  assert.ok(hasEntity(hit, 'mac', GW.mac, 'legitimate'));
});

test('the real gateway answering again makes the binding flip-flop: critical, same attacker', async () => {
  const frames = baseline();
  let t = 3;
  for (let i = 0; i < 3; i++) {
    frames.push({ t: (t += 1), frame: reply(ATTACKER, VICTIM, GW.ip) });
    frames.push({ t: (t += 0.5), frame: request(GW, VICTIM.ip) });
  }
  const { findings } = await scanFrames(frames);
  const flip = findings.find((f) => f.rule_id === 'arp-binding-flip-flop');
  assert.ok(flip, describe(findings));
  assert.equal(flip.severity, 'critical');
  assert.ok(hasEntity(flip, 'mac', ATTACKER.mac, 'attacker'));
  assert.ok(hasEntity(flip, 'mac', GW.mac, 'legitimate'));
  assert.ok(flip.count >= 2);
});

test('capture started mid-attack: a forwarding two-way poisoner is not taken for a router, nor the gateway address for its own', async () => {
  // The poisoner (ettercap arp:remote) already relays the victim's and the gateway's traffic when the capture starts.
  const frames: TimedFrame[] = [
    { t: 0, frame: request(ATTACKER, VICTIM.ip) },
    { t: 0.001, frame: reply(VICTIM, ATTACKER) },
  ];
  let t = 0.1;
  for (let i = 0; i < 3; i++) {
    frames.push({ t: (t += 0.1), frame: ipv4UdpFrame(VICTIM.mac, ATTACKER.mac, VICTIM.ip, GW.ip, 40000 + i, 53, Buffer.alloc(30)) });
    frames.push({ t: (t += 0.001), frame: ipv4UdpFrame(ATTACKER.mac, GW.mac, VICTIM.ip, GW.ip, 40000 + i, 53, Buffer.alloc(30)) });
    frames.push({ t: (t += 0.001), frame: ipv4UdpFrame(GW.mac, ATTACKER.mac, GW.ip, VICTIM.ip, 53, 40000 + i, Buffer.alloc(60)) });
    frames.push({ t: (t += 0.001), frame: ipv4UdpFrame(ATTACKER.mac, VICTIM.mac, GW.ip, VICTIM.ip, 53, 40000 + i, Buffer.alloc(60)) });
  }
  for (let i = 0; i < 3; i++) {
    frames.push({ t: (t += 1), frame: reply(ATTACKER, VICTIM, GW.ip) });
    frames.push({ t: (t += 0.001), frame: reply(ATTACKER, GW, VICTIM.ip) });
    if (i === 0) {
      frames.push({ t: (t += 0.5), frame: request(GW, ATTACKER.ip) });
      frames.push({ t: (t += 0.001), frame: reply(ATTACKER, GW) });
    }
  }
  const { findings } = await scanFrames(frames);
  const loud = atLeast(findings, 'medium');
  assertNotBlamed(loud, GW, 'the gateway');
  const victimAsGateway = loud.filter((f) => f.message.includes(`${VICTIM.ip} (a gateway)`));
  assert.deepEqual(victimAsGateway.map((f) => f.rule_id), [], `the victim is taken for a gateway:\n${describe(victimAsGateway)}`);
  const takeover = loud.find((f) => f.rule_id === 'arp-ip-takeover' && hasEntity(f, 'ip', VICTIM.ip, 'impersonated'));
  assert.ok(takeover && hasEntity(takeover, 'mac', ATTACKER.mac, 'attacker') && hasEntity(takeover, 'ip', GW.ip, 'impersonated'), describe(findings));
  assert.match(takeover.message, /speaks for 198\.18\.0\.66 and has also taken 198\.18\.0\.1/);
  const flip = loud.find((f) => f.rule_id === 'arp-binding-flip-flop' && hasEntity(f, 'ip', GW.ip, 'impersonated'));
  assert.ok(flip && isAtLeast(flip, 'high') && hasEntity(flip, 'mac', ATTACKER.mac, 'attacker'), describe(findings));
});

test('capture started mid-attack with the poisoner\'s claim of the gateway first: the gateway address is impersonated, never the attacker\'s', async () => {
  // The order ettercap arp:remote produced in a capture started mid-attack: the forged replies come before the poisoner uses its own address.
  let t = 0;
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 3; i++) {
    frames.push({ t: (t += 1), frame: reply(ATTACKER, VICTIM, GW.ip) });
    frames.push({ t: (t += 0.001), frame: reply(ATTACKER, GW, VICTIM.ip) });
    if (i === 0) {
      frames.push({ t: (t += 0.05), frame: request(ATTACKER, VICTIM.ip) });
      frames.push({ t: (t += 0.001), frame: reply(VICTIM, ATTACKER) });
    }
    if (i === 1) {
      frames.push({ t: (t += 0.5), frame: request(GW, ATTACKER.ip) });
      frames.push({ t: (t += 0.001), frame: reply(ATTACKER, GW) });
    }
  }
  const { findings } = await scanFrames(frames);
  const loud = atLeast(findings, 'medium');
  assertNotBlamed(loud, GW, 'the gateway');
  const takeover = loud.find((f) => f.rule_id === 'arp-ip-takeover' && hasEntity(f, 'ip', VICTIM.ip, 'impersonated'));
  assert.ok(takeover && hasEntity(takeover, 'mac', ATTACKER.mac, 'attacker'), describe(findings));
  assert.ok(hasEntity(takeover, 'ip', ATTACKER.ip, 'attacker') && hasEntity(takeover, 'ip', GW.ip, 'impersonated'), describe([takeover]));
});

test('capture started mid-attack by a poisoner that never uses an address of its own: the owner answering again exposes it', async () => {
  // arpspoof's replies to the victim every 2 s, the victim's traffic relayed through the poisoner; then another
  // station asks for the gateway, whose answer is the first the capture holds from it.
  let t = 0;
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 5; i++) {
    frames.push({ t: (t += 2), frame: reply(ATTACKER, VICTIM, GW.ip) });
    frames.push({ t: t + 0.5, frame: ipv4UdpFrame(VICTIM.mac, ATTACKER.mac, VICTIM.ip, UPSTREAM, 40000, 53, Buffer.alloc(20)) });
    frames.push({ t: t + 0.51, frame: ipv4UdpFrame(ATTACKER.mac, GW.mac, VICTIM.ip, UPSTREAM, 40000, 53, Buffer.alloc(20)) });
  }
  frames.push({ t: (t += 1), frame: request(OTHER, GW.ip) });
  frames.push({ t: (t += 0.001), frame: reply(GW, OTHER) });
  const reclaimed = await scanFrames(frames);
  const loud = atLeast(reclaimed.findings, 'medium');
  assertNotBlamed(loud, GW, 'the gateway');
  const hit = loud.find((f) => f.rule_id === 'arp-gateway-impersonation' || f.rule_id === 'arp-ip-takeover');
  assert.ok(hit && isAtLeast(hit, 'high'), describe(reclaimed.findings));
  assert.ok(hasEntity(hit, 'mac', ATTACKER.mac, 'attacker') && hasEntity(hit, 'ip', GW.ip, 'impersonated') && hasEntity(hit, 'mac', GW.mac, 'legitimate'), describe([hit]));
  assert.match(hit.message, /only in replies to stations that had not asked/);

  // The poisoner goes on (1.5 s after the gateway's answer, within the other station's request window): the flip-flop
  // names it, although it held the binding first.
  frames.push({ t: t + 1.5, frame: reply(ATTACKER, VICTIM, GW.ip) });
  const flipped = await scanFrames(frames);
  const flip = flipped.findings.find((f) => f.rule_id === 'arp-binding-flip-flop');
  assert.ok(flip && isAtLeast(flip, 'high'), describe(flipped.findings));
  assert.ok(hasEntity(flip, 'mac', ATTACKER.mac, 'attacker') && hasEntity(flip, 'mac', GW.mac, 'legitimate'), describe([flip]));
  assert.ok(hasEntity(flip, 'ip', VICTIM.ip, 'victim'), describe([flip]));
  assertNotBlamed(atLeast(flipped.findings, 'medium'), GW, 'the gateway');
});

test('a reply answers only the station that asked: one to another station within the window is unsolicited', async () => {
  const frames: TimedFrame[] = [
    { t: 1, frame: request(OTHER, GW.ip) },
    { t: 1.001, frame: reply(GW, OTHER) },
    { t: 2, frame: request(VICTIM, GW.ip) },
    { t: 2.001, frame: reply(GW, VICTIM) },
    // Both asked within the window; the answer to the earlier asker still counts as solicited.
    { t: 2.002, frame: reply(GW, OTHER) },
    // Nobody at 198.18.0.66 asked: unsolicited, although the gateway's address was asked for a moment ago.
    { t: 2.5, frame: reply(GW, ATTACKER) },
  ];
  // More stations asking at once than are kept (a busy segment refreshing its gateway): every answer within the window counts as one.
  for (let i = 0; i < 6; i++) frames.push({ t: 20 + i * 0.001, frame: request({ mac: `02:00:00:00:01:0${i}`, ip: `198.18.1.${i + 1}` }, GW.ip) });
  frames.push({ t: 20.01, frame: reply(GW, { mac: '02:00:00:00:01:00', ip: '198.18.1.1' }) });
  const { findings } = await scanFrames(frames);
  const unsolicited = findings.filter((f) => f.rule_id === 'arp-unsolicited-reply');
  assert.equal(unsolicited.length, 1, describe(findings));
  assert.equal(unsolicited[0]!.count, 1, describe(findings));
  assert.ok(hasEntity(unsolicited[0]!, 'ip', ATTACKER.ip, 'victim'), describe(unsolicited));
});

test('a NIC replaced once is low; first-hop redundancy failover is info', async () => {
  const frames = baseline();
  let t = 3;
  const replaced = { mac: '02:00:00:00:00:21', ip: OTHER.ip };
  frames.push({ t: (t += 1), frame: arpFrame({ op: 1, senderMac: replaced.mac, senderIp: replaced.ip, targetMac: ZERO_MAC, targetIp: replaced.ip }) });
  frames.push({ t: (t += 1), frame: request(replaced, GW.ip) });
  const vip = '198.18.0.254';
  frames.push({ t: (t += 1), frame: arpFrame({ op: 1, senderMac: '00:00:5e:00:01:01', senderIp: vip, targetMac: ZERO_MAC, targetIp: vip }) });
  frames.push({ t: (t += 1), frame: arpFrame({ op: 1, senderMac: '02:00:00:00:00:fe', senderIp: vip, targetMac: ZERO_MAC, targetIp: vip }) });
  const { findings } = await scanFrames(frames);
  assert.deepEqual(atLeast(findings, 'medium'), [], describe(findings));
  const changed = findings.filter((f) => f.rule_id === 'arp-binding-changed');
  assert.ok(changed.some((f) => f.severity === 'low' && hasEntity(f, 'ip', OTHER.ip)));
  assert.ok(changed.some((f) => f.severity === 'info' && hasEntity(f, 'ip', vip)));
});

test('two-way poisoning reports both impersonated addresses', async () => {
  const frames = baseline();
  let t = 3;
  for (let i = 0; i < 3; i++) {
    frames.push({ t: (t += 2), frame: reply(ATTACKER, VICTIM, GW.ip) });
    frames.push({ t: (t += 0.01), frame: reply(ATTACKER, GW, VICTIM.ip) });
  }
  const { findings } = await scanFrames(frames);
  const impersonated = new Set(atLeast(findings, 'medium').flatMap((f) => f.entities.filter((e) => e.role === 'impersonated').map((e) => e.value)));
  assert.ok(impersonated.has(GW.ip) && impersonated.has(VICTIM.ip), describe(findings));
  const takeover = findings.find((f) => f.rule_id === 'arp-ip-takeover');
  assert.ok(takeover && takeover.severity === 'high', describe(findings));
});

test('static bindings from the config turn any contradiction into a high finding', async () => {
  const config = defaultConfig();
  config.arp.known.set(parseIp4(OTHER.ip)!, parseMac(OTHER.mac)!);
  const frames: TimedFrame[] = [{ t: 1, frame: request({ mac: '02:00:00:00:00:77', ip: OTHER.ip }, GW.ip) }];
  const { findings } = await scanFrames(frames, config);
  const v = findings.find((f) => f.rule_id === 'arp-static-binding-violation');
  assert.ok(v && v.severity === 'high', describe(findings));
  assert.ok(hasEntity(v, 'mac', '02:00:00:00:00:77', 'attacker'));
  assert.ok(hasEntity(v, 'mac', OTHER.mac, 'legitimate'));
});

test('crafted frames: Ethernet/ARP sender mismatch, bogon senders, reply floods', async () => {
  const frames = baseline();
  let t = 3;
  frames.push({ t: (t += 0.1), frame: reply(ATTACKER, VICTIM, OTHER.ip, OTHER.mac) });
  frames.push({ t: (t += 0.1), frame: arpFrame({ op: 2, senderMac: ATTACKER.mac, senderIp: '127.0.0.1', targetMac: VICTIM.mac, targetIp: VICTIM.ip }) });
  frames.push({ t: (t += 0.1), frame: arpFrame({ op: 2, senderMac: '01:00:5e:00:00:01', senderIp: '198.18.0.77', targetMac: VICTIM.mac, targetIp: VICTIM.ip }, ATTACKER.mac) });
  for (let i = 0; i < 60; i++) frames.push({ t: (t += 0.005), frame: reply(ATTACKER, VICTIM, `198.18.1.${i}`) });
  const { findings } = await scanFrames(frames);
  const rules = new Set(findings.map((f) => f.rule_id));
  for (const r of ['arp-ethernet-sender-mismatch', 'arp-bogon-sender', 'arp-reply-flood', 'arp-mac-multiple-ips']) assert.ok(rules.has(r), `${r} missing:\n${describe(findings)}`);
  const mismatch = findings.find((f) => f.rule_id === 'arp-ethernet-sender-mismatch')!;
  assert.ok(hasEntity(mismatch, 'mac', ATTACKER.mac, 'attacker'));
});

test('malformed ARP is an info finding and does not stop the scan', async () => {
  const bad = arpFrame({ op: 2, senderMac: ATTACKER.mac, senderIp: ATTACKER.ip, targetMac: VICTIM.mac, targetIp: VICTIM.ip });
  bad[14 + 4] = 200; // hardware address length far past the frame
  const truncated = bad.subarray(0, 14 + 6);
  const frames: TimedFrame[] = [{ t: 0, frame: bad }, { t: 0.1, frame: truncated }, ...baseline().map((f) => ({ t: f.t + 1, frame: f.frame }))];
  const { findings, errors } = await scanFrames(frames);
  assert.deepEqual(errors, []);
  const malformed = findings.filter((f) => f.rule_id === 'decode-malformed');
  assert.equal(malformed.length, 2, describe(findings));
  assert.ok(malformed.every((f) => f.severity === 'info' && f.evidence[0]!.frame! <= 2));
  assert.ok(findings.some((f) => f.rule_id === 'arp-new-station'), 'frames after the malformed ones were analysed');
});

test('an ARP flood of random stations keeps state bounded', async () => {
  const config = defaultConfig();
  config.arp.maxStations = 500;
  const frames: TimedFrame[] = [];
  for (let i = 0; i < 20000; i++) {
    const mac = `02:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:00:01`;
    frames.push({ t: i * 0.0001, frame: request({ mac, ip: `198.18.${(i >> 8) & 255}.${i & 255}` }, GW.ip) });
  }
  const { findings, suppressed, stats } = await scanFrames(frames, config);
  assert.equal(stats.arp, 20000);
  // One finding per station up to the per-rule cap; the rest are counted, not kept.
  assert.equal(findings.filter((f) => f.rule_id === 'arp-new-station').length, 1000);
  assert.equal(suppressed.get('arp-new-station'), 19000);
  // Stations, MACs and pending requests are each capped at maxStations (65536 for requests).
  assert.ok(stats.stateEntries <= 500 + 500 + 1, `state entries: ${stats.stateEntries}`);
});
