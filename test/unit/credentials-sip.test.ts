import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ipv4UdpFrame, TcpConversation } from '../../src/craft/frames.js';
import { defaultConfig } from '../../src/config/config.js';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity, scanFrames, type TimedFrame } from '../helpers/captures.js';
import { LINKTYPE_ETHERNET } from '../../src/capture/linktypes.js';
import { rng } from '../helpers/fuzz.js';
import { sipLineMatches } from '../helpers/challenge-response.js';

// SIP Digest logins over UDP and TCP, with responses computed from a password as a
// phone does (RFC 3261 22.4, RFC 2617 3.2.2): the reported line must verify
// with that password and not with another, and the final response to the
// same Call-ID and CSeq must give the outcome.

const PHONE = { ip: '198.18.0.20', mac: '02:00:00:00:00:20' };
const PBX = { ip: '198.18.0.5', mac: '02:00:00:00:00:05' };
const REALM = 'voice.example';
const PASSWORD = 'Ext-1001-pw';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

let clock = 0;
let nextCall = 1;

interface Login {
  method?: string;
  user?: string;
  password?: string;
  qop?: boolean;
  proxy?: boolean;
  compact?: boolean;
  /** Final response to the authenticated request; none when undefined. */
  final?: string;
  phonePort?: number;
  retransmit?: boolean;
  /** A body (SDP) on the authenticated request. */
  body?: string;
}

/** A request, the server's challenge, the request again with credentials, and the final response: [sent by the phone, message]. */
function loginMessages(o: Login = {}): [boolean, string][] {
  const method = o.method ?? 'REGISTER';
  const user = o.user ?? '1001';
  const uri = method === 'REGISTER' ? `sip:${PBX.ip}` : `sip:1002@${PBX.ip}`;
  const callId = `${nextCall++}a7f3@${PHONE.ip}`;
  const port = o.phonePort ?? 5062;
  const nonce = `${md5(callId).slice(0, 16)}`;
  const via = (branch: string): string => `${o.compact ? 'v' : 'Via'}: SIP/2.0/UDP ${PHONE.ip}:${port};branch=z9hG4bK${branch}`;
  const head = (cseq: number, branch: string): string[] => [
    `${method} ${uri} SIP/2.0`,
    via(branch),
    `From: <sip:${user}@${PBX.ip}>;tag=9fxced76sl`,
    `To: <sip:${user}@${PBX.ip}>`,
    `${o.compact ? 'i' : 'Call-ID'}: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    'Max-Forwards: 70',
  ];
  const ha1 = md5(`${user}:${REALM}:${o.password ?? PASSWORD}`);
  const ha2 = md5(`${method}:${uri}`);
  const cnonce = '0a4f113b';
  const response = o.qop ? md5(`${ha1}:${nonce}:00000001:${cnonce}:auth:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
  const params = [`username="${user}"`, `realm="${REALM}"`, `nonce="${nonce}"`, `uri="${uri}"`, `response="${response}"`, 'algorithm=MD5'];
  if (o.qop) params.push('qop=auth', 'nc=00000001', `cnonce="${cnonce}"`);
  const authName = o.proxy ? 'Proxy-Authorization' : 'Authorization';
  // Folded across two lines, as RFC 3261 7.3.1 allows.
  const auth = `${authName}: Digest ${params.slice(0, 3).join(', ')},\r\n ${params.slice(3).join(', ')}`;
  const status = (code: string, cseq: number, extra: string[] = []): string =>
    [`SIP/2.0 ${code}`, via('x'), `From: <sip:${user}@${PBX.ip}>;tag=9fxced76sl`, `To: <sip:${user}@${PBX.ip}>;tag=srv`, `Call-ID: ${callId}`, `CSeq: ${cseq} ${method}`, ...extra, 'Content-Length: 0', '', ''].join('\r\n');
  const challenge = `${o.proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate'}: Digest realm="${REALM}", nonce="${nonce}"${o.qop ? ', qop="auth"' : ''}`;
  const body = o.body ?? '';
  const messages: [boolean, string][] = [
    [true, [...head(1, 'a1'), 'Content-Length: 0', '', ''].join('\r\n')],
    [false, status(o.proxy ? '407 Proxy Authentication Required' : '401 Unauthorized', 1, [challenge])],
    [true, [...head(2, 'a2'), auth, `${o.compact ? 'l' : 'Content-Length'}: ${body.length}`, '', body].join('\r\n')],
  ];
  if (o.retransmit) messages.push(messages[2]!);
  if (method === 'INVITE') messages.push([false, status('100 Trying', 2)], [false, status('180 Ringing', 2)]);
  if (o.final !== undefined) messages.push([false, status(o.final, 2, o.final.startsWith('401') ? [`${challenge}, stale=${o.final.includes('stale') ? 'true' : 'false'}`] : [])]);
  return messages;
}

/** The messages as UDP datagrams, 10 s apart. */
function login(o: Login = {}): TimedFrame[] {
  const port = o.phonePort ?? 5062;
  return loginMessages(o).map(([fromPhone, text]) => {
    clock += 10;
    const payload = Buffer.from(text, 'latin1');
    const frame = fromPhone ? ipv4UdpFrame(PHONE.mac, PBX.mac, PHONE.ip, PBX.ip, port, 5060, payload) : ipv4UdpFrame(PBX.mac, PHONE.mac, PBX.ip, PHONE.ip, 5060, port, payload);
    return { t: clock, frame };
  });
}

async function scan(frames: TimedFrame[], showSecrets = true): Promise<Finding[]> {
  const r = await scanFrames(frames.sort((a, b) => a.t - b.t), defaultConfig(), LINKTYPE_ETHERNET, showSecrets);
  assert.deepEqual(r.errors, []);
  return r.findings;
}

function sip(findings: readonly Finding[], user: string, outcome: string): Finding {
  const f = findings.find((x) => x.rule_id === 'cred-sip' && hasEntity(x, 'user', user, `login-${outcome}`));
  assert.ok(f, `no cred-sip for ${user} (${outcome}):\n${describe(findings)}`);
  assert.ok(hasEntity(f, 'ip', PHONE.ip, 'client') && hasEntity(f, 'ip', PBX.ip, 'server'), describe([f]));
  return f;
}

test('SIP REGISTER with Digest (plain and qop=auth) over UDP: the hashcat 11400 line verifies with the password, 200 OK is success', async () => {
  const findings = await scan([...login({ final: '200 OK' }), ...login({ user: '1003', qop: true, final: '200 OK', phonePort: 5060 })]);
  for (const user of ['1001', '1003']) {
    const f = sip(findings, user, 'succeeded');
    assert.equal(f.severity, 'medium');
    assert.deepEqual(f.attack.techniques, ['T1040']);
    const line = f.secrets![0]!.value!;
    assert.match(line, /^\$sip\$\*198\.18\.0\.5\*198\.18\.0\.20\*100[13]\*voice\.example\*REGISTER\*\*sip:198\.18\.0\.5\*\*/);
    assert.ok(sipLineMatches(line, PASSWORD), line);
    assert.ok(!sipLineMatches(line, 'not-the-password'), line);
    assert.match(f.message, /SIP REGISTER Authorization Digest \(MD5\)/);
  }
});

test('SIP: a wrong password refused with 401 is a failed login (low); 403 too; stale=true counts as accepted', async () => {
  const findings = await scan([
    ...login({ user: '2001', password: 'guess', final: '401 Unauthorized' }),
    ...login({ user: '2002', password: 'guess', final: '403 Forbidden' }),
    ...login({ user: '2003', final: '401 Unauthorized stale' }),
  ]);
  const wrong = sip(findings, '2001', 'failed');
  assert.equal(wrong.severity, 'low');
  assert.ok(!sipLineMatches(wrong.secrets![0]!.value!, PASSWORD));
  assert.ok(sipLineMatches(wrong.secrets![0]!.value!, 'guess'));
  sip(findings, '2002', 'failed');
  const stale = sip(findings, '2003', 'succeeded');
  assert.match(stale.message, /stale=true/);
});

test('SIP INVITE through a proxy (407, Proxy-Authorization, compact headers): provisional responses wait for the final one', async () => {
  const findings = await scan([...login({ method: 'INVITE', user: '3001', proxy: true, compact: true, final: '200 OK' }), ...login({ method: 'INVITE', user: '3002', proxy: true })]);
  const f = sip(findings, '3001', 'succeeded');
  assert.match(f.message, /INVITE Proxy-Authorization Digest/);
  assert.ok(sipLineMatches(f.secrets![0]!.value!, PASSWORD));
  // No final response before the end of the capture: reported, outcome unknown.
  sip(findings, '3002', 'unknown');
});

test('SIP: a retransmitted request counts once; secrets are redacted by default', async () => {
  const findings = await scan(login({ user: '4001', retransmit: true, final: '200 OK' }), false);
  const f = sip(findings, '4001', 'succeeded');
  assert.equal(f.count, 1);
  assert.equal(f.secrets?.[0]?.value, undefined);
});

test('SIP: other traffic on 5060 is ignored, hostile messages never throw, a message without Call-ID is malformed', async () => {
  const frames: TimedFrame[] = [];
  const junk = (text: string | Buffer, sport = 40000): void => {
    clock += 10;
    frames.push({ t: clock, frame: ipv4UdpFrame(PHONE.mac, PBX.mac, PHONE.ip, PBX.ip, sport, 5060, Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1')) });
  };
  junk('hello, not SIP at all\r\n\r\n');
  junk(`OPTIONS sip:${PBX.ip} SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n`);
  junk(`REGISTER sip:${PBX.ip} SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\n${'X-Long: y\r\n'.repeat(2000)}\r\n`);
  const valid = Buffer.concat(login({ user: '5001', final: '200 OK' }).map((x) => x.frame.subarray(42)));
  const r = rng(11);
  for (let n = 0; n < 300; n++) {
    const b = Buffer.from(valid.subarray(0, Math.floor(r() * valid.length)));
    for (let k = 0; k < 6; k++) if (b.length > 0) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    junk(b, 41000 + n);
  }
  const findings = await scan(frames, false);
  const malformed = findings.filter((f) => f.rule_id === 'decode-malformed').map((f) => f.message);
  assert.ok(malformed.some((m) => m.includes('without Call-ID or CSeq')), describe(findings));
  assert.ok(malformed.some((m) => m.includes('header section longer than')), describe(findings));
});

test('SIP over TCP: messages cut at the blank line and by Content-Length (an SDP body passed over), split across segments', async () => {
  const sdp = 'v=0\r\no=- 1 1 IN IP4 198.18.0.20\r\ns=-\r\nc=IN IP4 198.18.0.20\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=x:REGISTER sip:x SIP/2.0\r\n\r\n';
  const frames: TimedFrame[] = [];
  for (const [user, mss, compact] of [['6001', 1460, false], ['6002', 1, true]] as const) {
    clock += 10;
    const tcp = new TcpConversation({ ...PHONE, port: 40000 + Number(user) - 6000 }, { ...PBX, port: 5060 }, { start: clock }).handshake();
    for (const [fromPhone, text] of loginMessages({ method: 'INVITE', user, proxy: true, compact, body: sdp, final: '200 OK' })) {
      if (fromPhone) tcp.client(text, mss);
      else tcp.server(text, mss);
    }
    frames.push(...tcp.frames);
    clock += 10;
  }
  // A stream that starts like SIP but never ends its headers is malformed, not a crash.
  clock += 10;
  const endless = new TcpConversation({ ...PHONE, port: 45000 }, { ...PBX, port: 5060 }, { start: clock }).handshake();
  endless.client(`REGISTER sip:${PBX.ip} SIP/2.0\r\n${'X-Pad: y\r\n'.repeat(1000)}`, 1000);
  frames.push(...endless.frames);
  const findings = await scan(frames);
  for (const user of ['6001', '6002']) {
    const f = sip(findings, user, 'succeeded');
    assert.ok(sipLineMatches(f.secrets![0]!.value!, PASSWORD), f.secrets![0]!.value!);
    assert.ok(hasEntity(f, 'host', `${PBX.ip}:5060`, 'server'), describe([f]));
  }
  assert.ok(findings.some((f) => f.rule_id === 'decode-malformed' && f.message.includes('SIP over TCP does not frame')), describe(findings));
});
