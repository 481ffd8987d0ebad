import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4UdpFrame, TcpConversation } from '../../src/craft/frames.js';
import { defaultConfig } from '../../src/config/config.js';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity, scanFrames, type TimedFrame } from '../helpers/captures.js';
import { LINKTYPE_ETHERNET } from '../../src/capture/linktypes.js';
import { mutated, rng } from '../helpers/fuzz.js';
import { asRep, asReq, encryptedTimestamp, ETYPE_RC4_HMAC, gssApReq, kerberosRc4LineMatches, krbError, rc4HmacEncrypt, tcpRecord, tgsRep, tgsReq, USAGE_AS_REP_ENC_PART, USAGE_TICKET } from '../helpers/kerberos.js';
import { bindResponse, saslBind } from '../helpers/ldap.js';
import { smb2SessionSetupRequest, smb2SessionSetupResponse } from '../helpers/smb.js';

// Kerberos AS exchanges over UDP and TCP, with RC4-HMAC encryption computed
// from a password, through the whole pipeline: the reported hashcat line must
// decrypt with that password, and the KDC's answer must give the outcome.

const CLIENT = { ip: '198.18.0.10', mac: '02:00:00:00:00:10' };
const KDC = { ip: '198.18.0.2', mac: '02:00:00:00:00:02' };
const REALM = 'CORP.EXAMPLE';
const PASSWORD = 'Autumn2026!';

let clock = 0;
let nextPort = 50000;

/** One UDP exchange: each message a datagram, client to KDC and back, 10 ms apart. */
function udpExchange(messages: [fromClient: boolean, msg: Buffer][], client = CLIENT): TimedFrame[] {
  const port = nextPort++;
  return messages.map(([fromClient, msg]) => {
    clock += 10;
    const frame = fromClient ? ipv4UdpFrame(client.mac, KDC.mac, client.ip, KDC.ip, port, 88, msg) : ipv4UdpFrame(KDC.mac, client.mac, KDC.ip, client.ip, 88, port, msg);
    return { t: clock, frame };
  });
}

async function scan(frames: TimedFrame[], showSecrets = true): Promise<Finding[]> {
  const r = await scanFrames(frames.sort((a, b) => a.t - b.t), defaultConfig(), LINKTYPE_ETHERNET, showSecrets);
  assert.deepEqual(r.errors, []);
  return r.findings;
}

function kerberos(findings: readonly Finding[], user: string, outcome: string, client = CLIENT.ip): Finding {
  const f = findings.find((x) => x.rule_id === 'cred-kerberos' && hasEntity(x, 'user', user, `login-${outcome}`) && hasEntity(x, 'ip', client, 'client'));
  assert.ok(f, `no cred-kerberos for ${user} (${outcome}) from ${client}:\n${describe(findings)}`);
  assert.deepEqual(f.attack.techniques, ['T1040']);
  assert.ok(hasEntity(f, 'ip', KDC.ip, 'server') && hasEntity(f, 'host', `${KDC.ip}:88`, 'server'));
  return f;
}

const rc4Preauth = (password = PASSWORD): { etype: number; cipher: Buffer } => ({ etype: ETYPE_RC4_HMAC, cipher: encryptedTimestamp(password) });

test('Kerberos over UDP: RC4 pre-authentication accepted (AS-REP) and refused (PREAUTH_FAILED), each line decrypting with the password used', async () => {
  const ok = udpExchange([
    [true, asReq({ user: 'alice', realm: REALM })],
    [false, krbError(25, REALM, 'alice')],
    [true, asReq({ user: 'alice', realm: REALM, preauth: rc4Preauth() })],
    [false, asRep('alice', REALM, ETYPE_RC4_HMAC, rc4HmacEncrypt(PASSWORD, USAGE_AS_REP_ENC_PART, Buffer.alloc(40, 1)))],
  ]);
  const bad = udpExchange([[true, asReq({ user: 'bob', realm: REALM, preauth: rc4Preauth('guess-1') })], [false, krbError(24, REALM, 'bob')]]);
  const findings = await scan([...ok, ...bad]);
  const alice = kerberos(findings, `alice@${REALM}`, 'succeeded');
  assert.equal(alice.severity, 'medium');
  assert.match(alice.message, /AS-REQ pre-authentication \(RC4-HMAC\).*sent a timestamp encrypted with the key of the password.*login succeeded \(AS-REP\)/);
  const line = alice.secrets?.[0]?.value ?? '';
  assert.match(line, new RegExp(`^\\$krb5pa\\$23\\$alice\\$${REALM.replace('.', '\\.')}\\$`));
  assert.ok(kerberosRc4LineMatches(line, PASSWORD), `the line does not decrypt with the password: ${line}`);
  assert.ok(!kerberosRc4LineMatches(line, 'wrong'), 'the check accepts any password');
  const bob = kerberos(findings, `bob@${REALM}`, 'failed');
  assert.equal(bob.severity, 'low');
  assert.match(bob.message, /KDC_ERR_PREAUTH_FAILED/);
  assert.ok(kerberosRc4LineMatches(bob.secrets![0]!.value!, 'guess-1'));
  // The first AS-REQ carries nothing crackable, and PREAUTH_REQUIRED is not an outcome.
  assert.equal(findings.filter((f) => f.rule_id === 'cred-kerberos').length, 2, describe(findings));
});

test('Kerberos over TCP (length-prefixed, one byte per segment for the reply), AS-REP roasting, DES high, an unanswered login unknown', async () => {
  clock += 100;
  const tcp = new TcpConversation({ ...CLIENT, port: nextPort++ }, { ...KDC, port: 88 }, { start: clock }).handshake();
  tcp.client(tcpRecord(asReq({ user: 'carol', realm: REALM, preauth: rc4Preauth() }))).server(tcpRecord(asRep('carol', REALM, 18, Buffer.alloc(200, 7))), 1);
  const roast = udpExchange([
    [true, asReq({ user: 'svc-backup', realm: REALM })],
    [false, asRep('svc-backup', REALM, ETYPE_RC4_HMAC, rc4HmacEncrypt('Backup#1', USAGE_AS_REP_ENC_PART, Buffer.alloc(60, 2)))],
  ]);
  const des = udpExchange([[true, asReq({ user: 'legacy', realm: REALM, preauth: { etype: 3, cipher: Buffer.alloc(40, 9) } })], [false, asRep('legacy', REALM, 3, Buffer.alloc(64, 3))]]);
  const silent = udpExchange([[true, asReq({ user: 'dave', realm: REALM, preauth: rc4Preauth() })]]);
  const aes = udpExchange([[true, asReq({ user: 'gus', realm: REALM, preauth: { etype: 18, cipher: Buffer.alloc(56, 4) } })], [false, asRep('gus', REALM, 18, Buffer.alloc(64, 5))]]);
  const findings = await scan([...tcp.frames, ...roast, ...des, ...silent, ...aes]);
  // AES pre-authentication, every domain login's, is low; its line is hashcat's $krb5pa$18$ form with the whole cipher.
  const gus = kerberos(findings, `gus@${REALM}`, 'succeeded');
  assert.equal(gus.severity, 'low');
  assert.equal(gus.secrets![0]!.value, `$krb5pa$18$gus$${REALM}$${'04'.repeat(56)}`);
  const carol = kerberos(findings, `carol@${REALM}`, 'succeeded');
  assert.ok(kerberosRc4LineMatches(carol.secrets![0]!.value!, PASSWORD));
  const svc = kerberos(findings, `svc-backup@${REALM}`, 'succeeded');
  assert.match(svc.message, /AS-REP without pre-authentication.*AS-REP roasting.*the server sent user/);
  assert.equal(svc.severity, 'medium');
  assert.ok(kerberosRc4LineMatches(svc.secrets![0]!.value!, 'Backup#1'), svc.secrets![0]!.value);
  const legacy = kerberos(findings, `legacy@${REALM}`, 'succeeded');
  assert.equal(legacy.severity, 'high');
  assert.match(legacy.message, /DES-CBC-MD5.*broken cryptography/);
  const dave = kerberos(findings, `dave@${REALM}`, 'unknown');
  assert.match(dave.message, /no KDC reply seen/);
});

test('Kerberos: hostile datagrams and streams are flagged malformed and never throw', async () => {
  const valid = asReq({ user: 'erin', realm: REALM, preauth: rc4Preauth() });
  const cut = valid.subarray(0, valid.length - 30);
  const huge = Buffer.from(valid);
  huge[1] = 0x84;
  const frames = udpExchange([
    [true, cut],
    [true, huge],
    [true, Buffer.from([0x6a, 0x03, 0x30, 0x01, 0x02])],
    [true, Buffer.alloc(64, 0x41)],
  ]);
  clock += 100;
  const tcp = new TcpConversation({ ...CLIENT, port: nextPort++ }, { ...KDC, port: 88 }, { start: clock }).handshake();
  tcp.client(tcpRecord(asReq({ user: 'fay', realm: REALM }))).client(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x6a]));
  const r = rng(7);
  for (let n = 0; n < 300; n++) {
    const b = Buffer.from(valid);
    for (let k = 0; k < 4; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    frames.push(...udpExchange([[true, b], [false, krbError(24, REALM, 'erin')]]));
  }
  const findings = await scan([...frames, ...tcp.frames], false);
  const malformed = findings.filter((f) => f.rule_id === 'decode-malformed').map((f) => f.message);
  assert.ok(malformed.some((m) => m.includes('kerberos')), describe(findings));
  assert.ok(malformed.some((m) => m.includes('does not frame as length-prefixed messages')), malformed.join(' | '));
  for (const f of findings.filter((x) => x.rule_id === 'cred-kerberos')) assert.equal(f.secrets?.[0]?.value, undefined);
});

test('TGS-REP: an RC4 service ticket is medium, its hashcat 13100 line decrypting with the service account\'s password; DES is high; AES tickets and referrals stay quiet', async () => {
  const SERVICE_PW = 'Svc-Passw0rd!';
  const ticket = rc4HmacEncrypt(SERVICE_PW, USAGE_TICKET, Buffer.alloc(120, 7));
  const rc4 = udpExchange([[true, tgsReq('MSSQLSvc/db1.corp.example:1433', REALM)], [false, tgsRep('alice', REALM, 'MSSQLSvc/db1.corp.example:1433', ETYPE_RC4_HMAC, ticket)]]);
  const des = udpExchange([[true, tgsReq('HTTP/legacy.corp.example', REALM)], [false, tgsRep('alice', REALM, 'HTTP/legacy.corp.example', 3, Buffer.alloc(64, 9))]]);
  const aes = udpExchange([[true, tgsReq('cifs/fs1.corp.example', REALM)], [false, tgsRep('alice', REALM, 'cifs/fs1.corp.example', 18, Buffer.alloc(96, 5))]]);
  const referral = udpExchange([[true, tgsReq('krbtgt/OTHER.EXAMPLE', REALM)], [false, tgsRep('alice', REALM, 'krbtgt/OTHER.EXAMPLE', ETYPE_RC4_HMAC, Buffer.alloc(96, 5))]]);
  // Over TCP, a length-prefixed TGS-REQ opens the stream.
  const tcp = new TcpConversation({ ...CLIENT, port: nextPort++ }, { ...KDC, port: 88 }, { start: (clock += 10) })
    .handshake()
    .client(tcpRecord(tgsReq('HTTP/web.corp.example', REALM)))
    .server(tcpRecord(tgsRep('bob', REALM, 'HTTP/web.corp.example', ETYPE_RC4_HMAC, rc4HmacEncrypt(SERVICE_PW, USAGE_TICKET, Buffer.alloc(90, 3)))));
  const findings = await scan([...rc4, ...des, ...aes, ...referral, ...tcp.frames]);
  const sql = kerberos(findings, `MSSQLSvc/db1.corp.example:1433@${REALM}`, 'succeeded');
  assert.equal(sql.severity, 'medium');
  assert.match(sql.message, /TGS-REP service ticket \(RC4-HMAC\).*issued to alice@CORP\.EXAMPLE.*Kerberoasting/);
  const line = sql.secrets![0]!.value!;
  assert.match(line, /^\$krb5tgs\$23\$\*MSSQLSvc\/db1\.corp\.example:1433\$CORP\.EXAMPLE\$/);
  assert.ok(kerberosRc4LineMatches(line, SERVICE_PW), line);
  assert.ok(!kerberosRc4LineMatches(line, 'wrong'), line);
  assert.equal(kerberos(findings, `HTTP/legacy.corp.example@${REALM}`, 'succeeded').severity, 'high');
  const web = kerberos(findings, `HTTP/web.corp.example@${REALM}`, 'succeeded');
  assert.ok(kerberosRc4LineMatches(web.secrets![0]!.value!, SERVICE_PW));
  assert.ok(!findings.some((f) => f.rule_id === 'cred-kerberos' && (hasEntity(f, 'user', `cifs/fs1.corp.example@${REALM}`) || f.entities.some((e) => /krbtgt/.test(e.value)))), describe(findings));
});

test('AP-REQ: a service ticket presented in HTTP Negotiate, an SMB2 session setup or an LDAP GSSAPI bind is reported like one taken from the KDC (RC4 cracks to the service password); AES tickets, NTLM and broken tokens do not', async () => {
  const SERVICE_PW = 'Web-Svc-2026!';
  const WEB = { ip: '198.18.0.80', mac: '02:00:00:00:00:80' };
  const rc4Ticket = (spn: string): Buffer => gssApReq(spn, REALM, ETYPE_RC4_HMAC, rc4HmacEncrypt(SERVICE_PW, USAGE_TICKET, Buffer.alloc(150, 7)));
  const negotiate = (token: Buffer): string => `GET /reports HTTP/1.1\r\nHost: web.corp.example\r\nAuthorization: Negotiate ${token.toString('base64')}\r\n\r\n`;
  const conv = (port: number): TcpConversation => new TcpConversation({ ...CLIENT, port: nextPort++ }, { ...WEB, port }, { start: (clock += 10) }).handshake();
  const http = conv(80).client(Buffer.from(negotiate(rc4Ticket('HTTP/web.corp.example')))).server(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  const smb = conv(445)
    .client(smb2SessionSetupRequest(2, rc4Ticket('cifs/fs2.corp.example')))
    .server(smb2SessionSetupResponse(2, 0));
  const ldap = conv(389)
    .client(saslBind(3, 'GSSAPI', gssApReq('ldap/dc1.corp.example', REALM, ETYPE_RC4_HMAC, rc4HmacEncrypt(SERVICE_PW, USAGE_TICKET, Buffer.alloc(150, 7)), true)))
    .server(bindResponse(3, 14));
  // An AES ticket (the default): the salt a cracker needs is not on the wire.
  const aes = conv(80).client(Buffer.from(negotiate(gssApReq('HTTP/aes.corp.example', REALM, 18, Buffer.alloc(160, 5))))).server(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  // An AP-REQ cut short inside the token: malformed, not a credential.
  const cut = rc4Ticket('HTTP/cut.corp.example').subarray(0, 100);
  const broken = conv(80).client(Buffer.from(negotiate(cut))).server(Buffer.from('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n'));
  const findings = await scan([...http.frames, ...smb.frames, ...ldap.frames, ...aes.frames, ...broken.frames]);
  const tickets = findings.filter((f) => f.rule_id === 'cred-kerberos');
  assert.equal(tickets.length, 3, describe(findings));
  for (const [spn, port, carrier, outcome] of [
    ['HTTP/web.corp.example', 80, /HTTP Authorization Negotiate: AP-REQ service ticket \(RC4-HMAC\)/, 'succeeded'],
    ['cifs/fs2.corp.example', 445, /SMB session setup \(SMB [^)]*\): AP-REQ service ticket \(RC4-HMAC\)/, 'succeeded'],
    ['ldap/dc1.corp.example', 389, /LDAP SASL GSSAPI bind: AP-REQ service ticket \(RC4-HMAC\)/, 'unknown'],
  ] as const) {
    const f = tickets.find((x) => hasEntity(x, 'user', `${spn}@${REALM}`, `login-${outcome}`));
    assert.ok(f, `${spn}: ${describe(tickets)}`);
    assert.equal(f.severity, 'medium');
    assert.deepEqual(f.attack.techniques, ['T1040']);
    assert.ok(hasEntity(f, 'ip', CLIENT.ip, 'client') && hasEntity(f, 'host', `${WEB.ip}:${port}`, 'server'), describe([f]));
    assert.match(f.message, carrier);
    assert.match(f.message, new RegExp(`Kerberoasting\\): the client presented, for '${spn.replace(/[.]/g, '\\.')}@CORP\\.EXAMPLE', a service ticket`));
    const line = f.secrets![0]!.value!;
    assert.ok(line.startsWith(`$krb5tgs$23$*${spn}$${REALM}$`), line);
    assert.ok(kerberosRc4LineMatches(line, SERVICE_PW), line);
    assert.ok(!kerberosRc4LineMatches(line, 'not-it'), line);
  }
  assert.ok(!findings.some((f) => f.entities.some((e) => /aes\.corp|cut\.corp/.test(e.value))), describe(findings));
  assert.ok(findings.some((f) => f.rule_id === 'decode-malformed' && /Kerberos AP-REQ/.test(f.message)), describe(findings));
});

test('AP-REQ hostile input: mutated GSS tokens in HTTP Negotiate, SMB and LDAP binds never throw and report nothing but tickets and malformed notices', async () => {
  const WEB = { ip: '198.18.0.81', mac: '02:00:00:00:00:81' };
  const token = gssApReq('HTTP/web.corp.example', REALM, ETYPE_RC4_HMAC, rc4HmacEncrypt('x', USAGE_TICKET, Buffer.alloc(120, 7)));
  const next = rng(23);
  const frames: TimedFrame[] = [];
  for (let n = 0; n < 300; n++) {
    const t = mutated(token, 1 + (n % 4), next, 40);
    const conv = new TcpConversation({ ...CLIENT, port: nextPort++ }, { ...WEB, port: [80, 445, 389][n % 3]! }, { start: (clock += 1) }).handshake();
    if (n % 3 === 0) conv.client(Buffer.from(`GET / HTTP/1.1\r\nHost: w\r\nAuthorization: Negotiate ${t.toString('base64')}\r\n\r\n`)).server(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    else if (n % 3 === 1) conv.client(smb2SessionSetupRequest(2, t)).server(smb2SessionSetupResponse(2, 0));
    else conv.client(saslBind(3, 'GSSAPI', t)).server(bindResponse(3, 0));
    frames.push(...conv.frames);
  }
  const findings = await scan(frames);
  assert.deepEqual([...new Set(findings.map((f) => f.rule_id))].filter((r) => r !== 'cred-kerberos' && r !== 'decode-malformed'), [], describe(findings));
});
