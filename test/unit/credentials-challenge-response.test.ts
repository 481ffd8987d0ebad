import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { ntlmAuthenticateMessage, ntlmChallengeMessage, TcpConversation, type TcpEndpoint } from '../../src/craft/frames.js';
import type { Finding } from '../../src/findings/finding.js';
import { defaultConfig } from '../../src/config/config.js';
import { PacketEngine } from '../../src/analyzers/engine.js';
import { selectAnalyzers } from '../../src/analyzers/index.js';
import { newRawFrame } from '../../src/capture/frame.js';
import { FindingAggregator } from '../../src/findings/aggregate.js';
import { rng } from '../helpers/fuzz.js';
import { scanCaptures } from '../../src/pipeline.js';
import { describe, hasEntity, withTempDir, writePcap, type TimedFrame } from '../helpers/captures.js';
import { bindResponse, saslBind } from '../helpers/ldap.js';
import { httpDigestLineMatches, ntlmV2Blob, ntlmV2LineMatches, ntlmV2Response } from '../helpers/challenge-response.js';
import {
  nbss,
  nbssSessionRequest,
  smb1NegotiateResponse,
  smb1SessionSetupBlob,
  smb1SessionSetupPlain,
  smb1SessionSetupResponse,
  smb2Header,
  smb2NegotiateResponse,
  smb2SessionSetupRequest,
  smb2SessionSetupResponse,
  spnego,
  STATUS_LOGON_FAILURE,
  STATUS_MORE_PROCESSING_REQUIRED,
  STATUS_PASSWORD_MUST_CHANGE,
  STATUS_SUCCESS,
} from '../helpers/smb.js';

// NTLM logins a sniffer harvests from SMB (2/3 and 1) and HTTP: crafted
// sessions whose AUTHENTICATE messages carry real NTLMv2 responses computed
// from a password, through the whole pipeline. The reported hashcat line must
// be the one that password cracks.

const CLIENT_IP = '198.18.0.10';
const SERVER_IP = '198.18.0.1';
const CLIENT_MAC = '02:00:00:00:00:10';
const SERVER_MAC = '02:00:00:00:00:01';
const PASSWORD = 'Summer2026!';
const CHALLENGE = Buffer.from('1122334455667788', 'hex');

let nextPort = 41000;
let nextStart = 0;

function conn(port: number, client: Partial<TcpEndpoint> = {}): TcpConversation {
  nextStart += 10;
  return new TcpConversation({ mac: CLIENT_MAC, ip: CLIENT_IP, port: nextPort++, ...client }, { mac: SERVER_MAC, ip: SERVER_IP, port }, { start: nextStart }).handshake();
}

async function scan(convs: TcpConversation[], showSecrets = false): Promise<Finding[]> {
  const frames: TimedFrame[] = convs.flatMap((c) => c.frames).sort((a, b) => a.t - b.t);
  const r = await withTempDir((dir) => scanCaptures([writePcap(`${dir}/in.pcap`, frames)], { config: defaultConfig(), profile: 'production', showSecrets }));
  assert.deepEqual(r.errors, []);
  return r.findings;
}

function authenticate(user: string, domain: string, password = PASSWORD, challenge = CHALLENGE): Buffer {
  return ntlmAuthenticateMessage({ user, domain, workstation: 'LAPTOP7', ntResponse: ntlmV2Response(password, user, domain, challenge, ntlmV2Blob()) });
}

const NEGOTIATE = Buffer.from('NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2', 'latin1');

/** An SMB 3.1.1 login: NEGOTIATE, then the three NTLMSSP legs in SESSION_SETUP, then `final` as the last status. */
function smb2Login(c: TcpConversation, user: string, domain: string, final: number, flags = 0, password = PASSWORD): TcpConversation {
  return c
    .server(smb2NegotiateResponse(0, 0x0311))
    .client(smb2SessionSetupRequest(1, spnego(NEGOTIATE)))
    .server(smb2SessionSetupResponse(1, STATUS_MORE_PROCESSING_REQUIRED, spnego(ntlmChallengeMessage(CHALLENGE))))
    .client(smb2SessionSetupRequest(2, spnego(authenticate(user, domain, password)), 0x1234n))
    .server(smb2SessionSetupResponse(2, final, Buffer.alloc(0), flags));
}

function smbFindings(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.rule_id === 'cred-smb');
}

test('SMB 3.1.1: the NTLMv2 login is reported with user, client, server, outcome and a hashcat line the password cracks', async () => {
  const ok = smb2Login(conn(445), 'alice', 'CORP', STATUS_SUCCESS);
  // What follows a login is encrypted: it is not read.
  ok.client(nbss(Buffer.concat([Buffer.from([0xfd, 0x53, 0x4d, 0x42]), Buffer.alloc(60, 7)])));
  const bad = smb2Login(conn(445, { ip: '198.18.0.11' }), 'bob', 'CORP', STATUS_LOGON_FAILURE, 0, 'Winter2025');
  const findings = await scan([ok, bad], true);
  const hits = smbFindings(findings);
  assert.equal(hits.length, 2, describe(findings));
  const alice = hits.find((f) => hasEntity(f, 'user', 'CORP\\alice', 'login-succeeded'))!;
  assert.ok(alice, describe(hits));
  assert.deepEqual(alice.attack.techniques, ['T1040']);
  assert.ok(hasEntity(alice, 'ip', CLIENT_IP, 'client') && hasEntity(alice, 'ip', SERVER_IP, 'server') && hasEntity(alice, 'host', `${SERVER_IP}:445`, 'server'));
  assert.equal(alice.severity, 'medium');
  assert.match(alice.message, /^SMB session setup \(SMB 3\.1\.1\) with NTLMv2 from/);
  assert.match(alice.message, /STATUS_SUCCESS/);
  assert.match(alice.message, /workstation LAPTOP7/);
  const line = alice.secrets?.[0]?.value;
  assert.ok(line?.startsWith('alice::CORP:1122334455667788:'), line);
  assert.ok(ntlmV2LineMatches(line!, PASSWORD), `the reported line is not what '${PASSWORD}' yields: ${line}`);
  assert.ok(!ntlmV2LineMatches(line!, 'wrong'), 'the check accepts any password');
  const bob = hits.find((f) => hasEntity(f, 'user', 'CORP\\bob', 'login-failed'))!;
  assert.ok(bob, describe(hits));
  assert.equal(bob.severity, 'low');
  assert.match(bob.message, /STATUS_LOGON_FAILURE/);
  assert.ok(ntlmV2LineMatches(bob.secrets![0]!.value!, 'Winter2025'));
});

test('SMB: secrets are redacted by default; a guest mapping is a failure; a password that must change was accepted', async () => {
  const guest = smb2Login(conn(445), 'nobody', 'CORP', STATUS_SUCCESS, 0x0001);
  const expired = smb2Login(conn(445, { ip: '198.18.0.12' }), 'carol', 'CORP', STATUS_PASSWORD_MUST_CHANGE);
  const findings = await scan([guest, expired]);
  const hits = smbFindings(findings);
  assert.equal(hits.length, 2, describe(findings));
  const g = hits.find((f) => hasEntity(f, 'user', 'CORP\\nobody'))!;
  assert.ok(hasEntity(g, 'user', 'CORP\\nobody', 'login-failed'), describe(hits));
  assert.match(g.message, /as guest/);
  const c = hits.find((f) => hasEntity(f, 'user', 'CORP\\carol'))!;
  assert.ok(hasEntity(c, 'user', 'CORP\\carol', 'login-succeeded'), describe(hits));
  assert.match(c.message, /password accepted, then STATUS_PASSWORD_MUST_CHANGE/);
  for (const f of hits) {
    assert.equal(f.secrets?.[0]?.value, undefined);
    assert.ok(!JSON.stringify(f).includes('1122334455667788'), 'the hashcat line leaks into the finding');
  }
});

test('SMB1: extended security over NetBIOS 139, NTLMv1 to a NEGOTIATE challenge (high), a plaintext password, anonymous nothing', async () => {
  const ext = conn(139)
    .client(nbssSessionRequest())
    .server(nbss(Buffer.alloc(0), 0x82))
    .client(smb1SessionSetupBlob(5, spnego(NEGOTIATE)))
    .server(smb1SessionSetupResponse(5, STATUS_MORE_PROCESSING_REQUIRED, spnego(ntlmChallengeMessage(CHALLENGE))))
    .client(smb1SessionSetupBlob(6, spnego(authenticate('dave', 'CORP'))))
    .server(smb1SessionSetupResponse(6, STATUS_SUCCESS));
  const v1 = conn(445, { ip: '198.18.0.13' })
    .server(smb1NegotiateResponse(1, Buffer.from('a1b2c3d4e5f60718', 'hex'), true))
    .client(smb1SessionSetupPlain(2, Buffer.alloc(24, 0x11), Buffer.alloc(24, 0x22), 'erin', 'OLDDOM'))
    .server(smb1SessionSetupResponse(2, STATUS_SUCCESS));
  const plain = conn(445, { ip: '198.18.0.14' })
    .server(smb1NegotiateResponse(1, Buffer.alloc(8), false))
    .client(smb1SessionSetupPlain(2, Buffer.from('Plain-Pw9\0', 'latin1'), Buffer.alloc(0), 'frank', ''))
    .server(smb1SessionSetupResponse(2, STATUS_LOGON_FAILURE));
  const anonymous = conn(445, { ip: '198.18.0.15' })
    .server(smb1NegotiateResponse(1, Buffer.alloc(8, 1), true))
    .client(smb1SessionSetupPlain(2, Buffer.alloc(1), Buffer.alloc(0), '', ''))
    .server(smb1SessionSetupResponse(2, STATUS_SUCCESS));
  const findings = await scan([ext, v1, plain, anonymous], true);
  const hits = smbFindings(findings);
  assert.equal(hits.length, 3, describe(findings));
  const dave = hits.find((f) => hasEntity(f, 'user', 'CORP\\dave', 'login-succeeded'))!;
  assert.ok(dave && hasEntity(dave, 'host', `${SERVER_IP}:139`, 'server'), describe(hits));
  assert.match(dave.message, /session setup \(SMB1\) with NTLMv2/);
  assert.ok(ntlmV2LineMatches(dave.secrets![0]!.value!, PASSWORD));
  const erin = hits.find((f) => hasEntity(f, 'user', 'OLDDOM\\erin', 'login-succeeded'))!;
  assert.ok(erin, describe(hits));
  assert.equal(erin.severity, 'high');
  assert.match(erin.message, /NTLMv1.*broken cryptography.*key is recovered/);
  assert.equal(erin.secrets![0]!.value, `erin::OLDDOM:${'11'.repeat(24)}:${'22'.repeat(24)}:a1b2c3d4e5f60718`);
  const frank = hits.find((f) => hasEntity(f, 'user', 'frank', 'login-failed'))!;
  assert.ok(frank, describe(hits));
  assert.match(frank.message, /plaintext password/);
  assert.equal(frank.secrets![0]!.value, 'Plain-Pw9');
  assert.equal(frank.severity, 'medium');
});

test('HTTP: NTLM and Negotiate exchanges give the crackable response with the 401 challenge; Basic still works beside them', async () => {
  const b64 = (b: Buffer): string => b.toString('base64');
  const web = conn(80)
    .client('GET /intranet/ HTTP/1.1\r\nHost: portal\r\n\r\n')
    .server('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n')
    .client(`GET /intranet/ HTTP/1.1\r\nHost: portal\r\nAuthorization: NTLM ${b64(NEGOTIATE)}\r\n\r\n`)
    .server(`HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM ${b64(ntlmChallengeMessage(CHALLENGE))}\r\nContent-Length: 0\r\n\r\n`)
    .client(`GET /intranet/ HTTP/1.1\r\nHost: portal\r\nAuthorization: NTLM ${b64(authenticate('gina', 'CORP'))}\r\n\r\n`)
    .server('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  const proxy = conn(3128, { ip: '198.18.0.16' })
    .client(`GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\nProxy-Authorization: Negotiate ${b64(spnego(NEGOTIATE))}\r\n\r\n`)
    .server(`HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate ${b64(spnego(ntlmChallengeMessage(CHALLENGE)))}\r\nContent-Length: 0\r\n\r\n`)
    .client(`GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\nProxy-Authorization: Negotiate ${b64(spnego(authenticate('hugo', 'CORP', 'bad-guess')))}\r\n\r\n`)
    .server('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
  const findings = await scan([web, proxy], true);
  const hits = findings.filter((f) => f.rule_id === 'cred-http-ntlm');
  assert.equal(hits.length, 2, describe(findings));
  const gina = hits.find((f) => hasEntity(f, 'user', 'CORP\\gina', 'login-succeeded'))!;
  assert.ok(gina && hasEntity(gina, 'host', `${SERVER_IP}:80`, 'server'), describe(hits));
  assert.match(gina.message, /Authorization NTLM with NTLMv2/);
  assert.match(gina.message, /GET \/intranet\/ \(Host portal\)/);
  assert.ok(ntlmV2LineMatches(gina.secrets![0]!.value!, PASSWORD));
  const hugo = hits.find((f) => hasEntity(f, 'user', 'CORP\\hugo', 'login-failed'))!;
  assert.ok(hugo, describe(hits));
  assert.match(hugo.message, /Proxy-Authorization Negotiate with NTLMv2/);
  assert.ok(ntlmV2LineMatches(hugo.secrets![0]!.value!, 'bad-guess'));
  assert.equal(findings.filter((f) => f.rule_id === 'cred-http-basic').length, 0);
});

test('SMB: hostile records are flagged malformed and never throw; other binary protocols on 445 stay quiet', async () => {
  // NextCommand pointing past the record, a security buffer outside its message, a truncated header.
  const loop = smb2Header({ command: 1, messageId: 9, nextCommand: 0x7fffffff });
  const badOffset = smb2SessionSetupRequest(3, spnego(authenticate('ivan', 'CORP')));
  badOffset.writeUInt16LE(0xfff0, 4 + 64 + 12);
  const hostile = conn(445)
    .client(nbss(Buffer.concat([loop, Buffer.alloc(24)])))
    .client(badOffset)
    .client(nbss(Buffer.from([0xfe, 0x53, 0x4d, 0x42, 0x40])))
    .client(smb2SessionSetupRequest(4, spnego(authenticate('judy', 'CORP'))))
    .server(smb2SessionSetupResponse(4, STATUS_SUCCESS));
  const negotiate = nbss(smb2Header({ command: 0, messageId: 0 }));
  const notSmb = conn(445, { ip: '198.18.0.17' }).client(negotiate).client(nbss(Buffer.alloc(40, 0x41)));
  const notNetbios = conn(445, { ip: '198.18.0.19' }).client(negotiate).client(Buffer.from([0x99, 1, 2, 3, 4, 5, 6, 7, 8]));
  const other = conn(445, { ip: '198.18.0.18' }).client(Buffer.from('\x00\x00\x00\x10HELLOWORLDHELLOW', 'latin1')).server(Buffer.alloc(20, 0x00));
  const findings = await scan([hostile, notSmb, notNetbios, other]);
  const smb = smbFindings(findings);
  assert.deepEqual(smb.map((f) => f.entities.find((e) => e.type === 'user')?.value), ['CORP\\judy'], describe(findings));
  const malformed = findings.filter((f) => f.rule_id === 'decode-malformed').map((f) => f.message);
  for (const reason of ['NextCommand beyond the record', 'security buffer outside the message', 'SMB2 header truncated', 'without an SMB header', 'does not frame as NetBIOS session records']) {
    assert.ok(
      malformed.some((m) => m.includes(reason)),
      `no malformed finding for "${reason}": ${malformed.join(' | ')}`,
    );
  }
});

test('SMB and HTTP NTLM sessions with bytes flipped anywhere in their payloads: no exception, nothing left behind', () => {
  const sessions = [
    smb2Login(conn(445), 'kim', 'CORP', STATUS_SUCCESS),
    conn(139).client(nbssSessionRequest()).server(nbss(Buffer.alloc(0), 0x82)).client(smb1SessionSetupBlob(5, spnego(authenticate('lee', 'CORP')))).server(smb1SessionSetupResponse(5, STATUS_SUCCESS)),
    conn(445).server(smb1NegotiateResponse(1, CHALLENGE, true)).client(smb1SessionSetupPlain(2, Buffer.alloc(24, 1), Buffer.alloc(24, 2), 'max', 'D')).server(smb1SessionSetupResponse(2, STATUS_SUCCESS)),
    conn(445).server(smb1NegotiateResponse(1, CHALLENGE, false)).client(smb1SessionSetupPlain(2, Buffer.from('pw\0'), Buffer.alloc(0), 'ned', '')).server(smb1SessionSetupResponse(2, STATUS_LOGON_FAILURE)),
    conn(80)
      .client(`GET / HTTP/1.1\r\nHost: h\r\nAuthorization: NTLM ${NEGOTIATE.toString('base64')}\r\n\r\n`)
      .server(`HTTP/1.1 401 U\r\nWWW-Authenticate: NTLM ${ntlmChallengeMessage(CHALLENGE).toString('base64')}\r\nContent-Length: 0\r\n\r\n`)
      .client(`GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Negotiate ${spnego(authenticate('ola', 'CORP')).toString('base64')}\r\n\r\n`)
      .server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
  ];
  const frames = sessions.flatMap((c) => c.frames).sort((a, b) => a.t - b.t);
  const HEADERS = 14 + 20 + 20;
  let reported = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const r = rng(seed);
    const aggregator = new FindingAggregator({ profile: 'production' });
    const engine = new PacketEngine(selectAnalyzers(['credentials']), defaultConfig(), aggregator, { secretSalt: 'fuzz' });
    const f = newRawFrame();
    frames.forEach((x, i) => {
      const b = Buffer.from(x.frame);
      if (b.length > HEADERS && r() < 0.5) {
        for (let k = 1 + Math.floor(r() * 6); k > 0; k--) {
          const at = HEADERS + Math.floor(r() * (b.length - HEADERS));
          b[at] = r() < 0.5 ? b[at]! ^ (1 << Math.floor(r() * 8)) : [0, 0xff, 0x80, 0x7f, 0x01][Math.floor(r() * 5)]!;
        }
      }
      Object.assign(f, { data: b, offset: 0, caplen: b.length, origlen: b.length, linktype: 1, tsSec: 1_700_000_000 + i, tsNsec: 0, frameNo: i + 1 });
      assert.doesNotThrow(() => engine.handleFrame(f), `seed ${seed}, frame ${i + 1}`);
    });
    engine.finish();
    assert.equal(engine.stats.stateEntries, 0, `seed ${seed}: flows left after finish`);
    reported += aggregator.findings().filter((x) => x.rule_id.startsWith('cred-')).length;
  }
  // Most mutants still hold logins: the mutations reached the parsers rather than breaking every flow at its start.
  assert.ok(reported > 400, `only ${reported} credentials in 400 mutants`);
});

test('SMTP, IMAP and POP3 AUTH NTLM: the response with the challenge of the 334 / "+" line, under each protocol\'s rule, with its verdict', async () => {
  const b64 = (b: Buffer): string => b.toString('base64');
  const challenge = b64(ntlmChallengeMessage(CHALLENGE));
  const smtp = conn(25)
    .server('220 mail.corp ESMTP\r\n')
    .client('EHLO ws7\r\n')
    .server('250-mail.corp\r\n250 AUTH NTLM LOGIN\r\n')
    .client(`AUTH NTLM ${b64(NEGOTIATE)}\r\n`)
    .server(`334 ${challenge}\r\n`)
    .client(`${b64(authenticate('pat', 'CORP'))}\r\n`)
    .server('235 2.7.0 Authentication successful\r\n');
  const imap = conn(143, { ip: '198.18.0.21' })
    .server('* OK IMAP4rev1 ready\r\n')
    .client('a1 AUTHENTICATE NTLM\r\n')
    .server('+\r\n')
    .client(`${b64(NEGOTIATE)}\r\n`)
    .server(`+ ${challenge}\r\n`)
    .client(`${b64(authenticate('quinn', 'CORP'))}\r\n`)
    .server('a1 OK AUTHENTICATE completed\r\n');
  const pop3 = conn(110, { ip: '198.18.0.22' })
    .server('+OK POP3 ready\r\n')
    .client('AUTH NTLM\r\n')
    .server('+ \r\n')
    .client(`${b64(NEGOTIATE)}\r\n`)
    .server(`+ ${challenge}\r\n`)
    .client(`${b64(authenticate('rhea', 'CORP', 'not-it'))}\r\n`)
    .server('-ERR authentication failed\r\n');
  const findings = await scan([smtp, imap, pop3], true);
  for (const [rule, user, outcome, password, client] of [
    ['cred-smtp', 'CORP\\pat', 'succeeded', PASSWORD, CLIENT_IP],
    ['cred-imap', 'CORP\\quinn', 'succeeded', PASSWORD, '198.18.0.21'],
    ['cred-pop3', 'CORP\\rhea', 'failed', 'not-it', '198.18.0.22'],
  ] as const) {
    const f = findings.find((x) => x.rule_id === rule && hasEntity(x, 'user', user, `login-${outcome}`) && hasEntity(x, 'ip', client, 'client'));
    assert.ok(f, `no ${rule} for ${user}:\n${describe(findings)}`);
    assert.match(f.message, /NTLM with NTLMv2.*NTLM challenge-response/);
    assert.equal(f.severity, outcome === 'failed' ? 'low' : 'medium');
    assert.ok(ntlmV2LineMatches(f.secrets![0]!.value!, password), `${rule}: ${f.secrets![0]!.value}`);
  }
});

test('NTLM relay: the victim\'s SMB login to the relay, passed on to LDAP on another server, names the relay, the victim and the target', async () => {
  const victim = { mac: '02:00:00:00:00:10', ip: '198.18.0.10' };
  const relay = { mac: '02:00:00:00:00:66', ip: '198.18.0.66' };
  const target = { mac: '02:00:00:00:00:01', ip: '198.18.0.1' };
  // ntlmrelayx hands the target's challenge to the victim and the victim's answer to the target: one AUTHENTICATE, two connections.
  const auth = spnego(authenticate('vera', 'CORP'));
  nextStart += 10;
  const leg1 = new TcpConversation({ ...victim, port: 50001 }, { ...relay, port: 445 }, { start: nextStart }).handshake();
  const leg2 = new TcpConversation({ ...relay, port: 50002 }, { ...target, port: 389 }, { start: nextStart + 1 }).handshake();
  leg1.server(smb2NegotiateResponse(0, 0x0302)).client(smb2SessionSetupRequest(1, spnego(NEGOTIATE)));
  leg2.client(saslBind(1, 'GSS-SPNEGO', spnego(NEGOTIATE))).server(bindResponse(1, 14, ntlmChallengeMessage(CHALLENGE)));
  leg1.server(smb2SessionSetupResponse(1, STATUS_MORE_PROCESSING_REQUIRED, spnego(ntlmChallengeMessage(CHALLENGE)))).client(smb2SessionSetupRequest(2, auth));
  leg2.client(saslBind(2, 'GSS-SPNEGO', auth)).server(bindResponse(2, 0));
  leg1.server(smb2SessionSetupResponse(2, STATUS_LOGON_FAILURE));
  // The same login seen twice through a NAT (both legs end at the same server), and two different logins: no relay.
  const natAuth = spnego(authenticate('walt', 'CORP'));
  const inside = conn(445).client(smb2SessionSetupRequest(1, natAuth)).server(smb2SessionSetupResponse(1, STATUS_SUCCESS));
  const outside = conn(445, { ip: '198.19.0.1', mac: '02:00:00:00:01:01' }).client(smb2SessionSetupRequest(1, natAuth)).server(smb2SessionSetupResponse(1, STATUS_SUCCESS));
  const other = conn(445, { ip: '198.18.0.23' }).client(smb2SessionSetupRequest(1, spnego(authenticate('walt', 'CORP')))).server(smb2SessionSetupResponse(1, STATUS_SUCCESS));
  const findings = await scan([leg1, leg2, inside, outside, other]);
  const relays = findings.filter((f) => f.rule_id === 'ntlm-relay');
  assert.equal(relays.length, 1, describe(findings));
  const f = relays[0]!;
  assert.equal(f.severity, 'high');
  assert.deepEqual(f.attack.techniques, ['T1557.001']);
  assert.ok(hasEntity(f, 'ip', relay.ip, 'attacker'), JSON.stringify(f.entities));
  assert.ok(hasEntity(f, 'ip', victim.ip, 'victim'));
  assert.ok(hasEntity(f, 'host', `${relay.ip}:445`, 'relay'));
  assert.ok(hasEntity(f, 'host', `${target.ip}:389`, 'target'));
  assert.ok(hasEntity(f, 'user', 'CORP\\vera', 'relayed'));
  assert.match(f.message, /NTLM relay by 198\.18\.0\.66: 198\.18\.0\.10 authenticated as 'CORP\\vera' to 198\.18\.0\.66:445 \(SMB\).*198\.18\.0\.66 to 198\.18\.0\.1:389 \(LDAP\)/);
});

test('HTTP Digest: the response with realm, nonce, method and URI as a line the password cracks; quoted escapes read; outcome from the status', async () => {
  const md5 = (t: string): string => createHash('md5').update(t).digest('hex');
  const realm = 'cam "lobby"';
  const ha1 = md5(`xavier:${realm}:${PASSWORD}`);
  const response = md5(`${ha1}:n0nce:00000001:c1:auth:${md5('GET:/snapshot.jpg')}`);
  const header = `Digest username="xavier", realm="cam \\"lobby\\"", nonce="n0nce", uri="/snapshot.jpg", algorithm=MD5, qop=auth, nc=00000001, cnonce="c1", response="${response}"`;
  const ok = conn(80).client(`GET /snapshot.jpg HTTP/1.1\r\nHost: cam\r\nAuthorization: ${header}\r\n\r\n`).server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const legacy = md5(`${md5(`yara:router:guess`)}:abc:${md5('GET:/')}`);
  const bad = conn(8080, { ip: '198.18.0.24' })
    .client(`GET / HTTP/1.1\r\nHost: router\r\nAuthorization: Digest username="yara", realm="router", nonce="abc", uri="/", response="${legacy}"\r\n\r\n`)
    .server('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  const findings = await scan([ok, bad], true);
  const hits = findings.filter((f) => f.rule_id === 'cred-http-digest');
  assert.equal(hits.length, 2, describe(findings));
  const x = hits.find((f) => hasEntity(f, 'user', 'xavier', 'login-succeeded'))!;
  assert.ok(x, describe(hits));
  assert.equal(x.severity, 'medium');
  assert.match(x.message, /Authorization Digest \(MD5\).*a Digest response/);
  assert.ok(httpDigestLineMatches(x.secrets![0]!.value!, PASSWORD), x.secrets![0]!.value);
  const y = hits.find((f) => hasEntity(f, 'user', 'yara', 'login-failed'))!;
  assert.ok(y, describe(hits));
  assert.equal(y.severity, 'low');
  assert.ok(httpDigestLineMatches(y.secrets![0]!.value!, 'guess'), 'RFC 2617 digest without qop');
});
