import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bindResponse, ldapMessage, saslBind, simpleBind } from '../helpers/ldap.js';
import { tcpFrame, ntlmAuthenticateMessage, ntlmChallengeMessage, TCP_ACK, TCP_PSH, TcpConversation, type TcpEndpoint } from '../../src/craft/frames.js';
import type { Finding } from '../../src/findings/finding.js';
import { assertSecretsOnlyInSecrets, atLeast, describe, hasEntity, scanFrames, withTempDir, writePcap, type TimedFrame } from '../helpers/captures.js';
import { runCli } from '../helpers/cli.js';
import { mutated, rng } from '../helpers/fuzz.js';
import { apopLineMatches, cramMd5LineMatches, digestMd5LineMatches, digestMd5Response, mysqlNativeLineMatches, vncLineMatches, vncResponse } from '../helpers/challenge-response.js';
import { createHmac } from 'node:crypto';
import { scanCaptures, type ScanResult } from '../../src/pipeline.js';
import { parseConfig, sectionOf } from '../../src/config/config.js';
import { CONFIG_SECTIONS } from '../../src/analyzers/index.js';
import { CREDENTIALS_SECTION, CredentialsAnalyzer } from '../../src/analyzers/credentials/credentials-analyzer.js';
import { NetworkModel } from '../../src/analyzers/network-model.js';
import { newRawFrame } from '../../src/capture/frame.js';
import { LINKTYPE_ETHERNET } from '../../src/capture/linktypes.js';
import { defaultConfig } from '../../src/config/config.js';
import { decodeFrame } from '../../src/decode/decoder.js';
import { Packet } from '../../src/decode/packet.js';

// Crafted TCP sessions for every protocol the credentials analyzer parses,
// through the real pipeline (pcap -> reader -> decoder -> reassembler ->
// parsers -> findings), with the server's verdict, look-alikes that must stay
// quiet, and hostile streams.

const CLIENT_IP = '198.18.0.10';
const SERVER_IP = '198.18.0.1';
const CLIENT_MAC = '02:00:00:00:00:10';
const SERVER_MAC = '02:00:00:00:00:01';
const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');

let nextPort = 40000;
let nextStart = 0;

/** A connection from the client to the server's `port`, handshake done, starting after the previous one. */
function conn(port: number, client: Partial<TcpEndpoint> = {}): TcpConversation {
  nextStart += 10;
  return new TcpConversation({ mac: CLIENT_MAC, ip: CLIENT_IP, port: nextPort++, ...client }, { mac: SERVER_MAC, ip: SERVER_IP, port }, { start: nextStart }).handshake();
}

function framesOf(...convs: TcpConversation[]): TimedFrame[] {
  return convs.flatMap((c) => c.frames).sort((a, b) => a.t - b.t);
}

/** Scans with secrets shown, and checks that none of them shows anywhere but in its finding's secrets. */
async function scanShowingSecrets(...convs: TcpConversation[]): Promise<ScanResult> {
  const r = await withTempDir((d) => scanCaptures([writePcap(join(d, 'in.pcap'), framesOf(...convs))], { config: defaultConfig(), profile: 'production', showSecrets: true }));
  assertSecretsOnlyInSecrets(r.findings);
  return r;
}

async function findingsOf(...convs: TcpConversation[]): Promise<Finding[]> {
  const r = await scanFrames(framesOf(...convs));
  assert.deepEqual(r.errors, []);
  return r.findings;
}

function cred(findings: readonly Finding[], rule: string): Finding[] {
  return findings.filter((f) => f.rule_id === rule);
}

function one(findings: readonly Finding[], rule: string): Finding {
  const hits = cred(findings, rule);
  assert.equal(hits.length, 1, `expected one ${rule}:\n${describe(findings)}`);
  return hits[0]!;
}

function credRules(findings: readonly Finding[]): string[] {
  return findings.filter((f) => f.rule_id.startsWith('cred-') || f.rule_id === 'starttls-not-used').map((f) => f.rule_id);
}

/** Client, server and user entities, the ATT&CK mapping and the outcome, as every cred-* finding must carry them. */
function assertCredential(f: Finding, port: number, user: string, outcome: 'succeeded' | 'failed' | 'unknown', secretLength: number): void {
  assert.deepEqual(f.attack.techniques, ['T1040']);
  assert.ok(hasEntity(f, 'ip', CLIENT_IP, 'client'), JSON.stringify(f.entities));
  assert.ok(hasEntity(f, 'ip', SERVER_IP, 'server'));
  assert.ok(hasEntity(f, 'host', `${SERVER_IP}:${port}`, 'server'));
  assert.ok(hasEntity(f, 'user', user, `login-${outcome}`), JSON.stringify(f.entities));
  assert.match(f.message, outcome === 'unknown' ? /outcome unknown/ : new RegExp(`login ${outcome}`));
  assert.ok(f.secrets?.some((s) => s.length === secretLength && /^[0-9a-f]{12}$/.test(s.hash) && s.value === undefined), JSON.stringify(f.secrets));
}

// --- FTP ----------------------------------------------------------------------

test('FTP: USER/PASS accepted is high, refused is medium, anonymous is low and says so', async () => {
  const ok = conn(21).server('220 (vsFTPd 3.0.3)\r\n').client('USER alice\r\n').server('331 Please specify the password.\r\n').client('PASS s3cret pw\r\n').server('230 Login successful.\r\n').close();
  const bad = conn(21).server('220 ready\r\n').client('USER bob\r\n').server('331 pw\r\n').client('PASS nope\r\n').server('530 Login incorrect.\r\n').close();
  const anon = conn(21).server('220-Welcome\r\n220 FTP ready\r\n').client('USER anonymous\r\n').server('331 Guest login ok\r\n').client('PASS guest@example.org\r\n').server('230-Hello\r\n230 Guest login ok\r\n');
  const findings = await findingsOf(ok, bad, anon);
  const hits = cred(findings, 'cred-ftp');
  assert.equal(hits.length, 3, describe(findings));
  const alice = hits.find((f) => hasEntity(f, 'user', 'alice'))!;
  assertCredential(alice, 21, 'alice', 'succeeded', 9);
  assert.equal(alice.severity, 'high');
  assert.match(alice.message, /\(230\)/);
  const bob = hits.find((f) => hasEntity(f, 'user', 'bob'))!;
  assertCredential(bob, 21, 'bob', 'failed', 4);
  assert.equal(bob.severity, 'medium');
  const anonymous = hits.find((f) => hasEntity(f, 'user', 'anonymous'))!;
  assert.equal(anonymous.severity, 'low');
  assert.match(anonymous.message, /anonymous login/);
});

test('FTP on a non-standard port is recognised by its greeting; AUTH TLS (234) is not reported', async () => {
  const odd = conn(2121).server('220 ProFTPD Server ready\r\n').client('USER carol\r\n').server('331 ok\r\n').client('PASS pw1\r\n').server('230 ok\r\n');
  const tls = conn(21).server('220 ready\r\n').client('AUTH TLS\r\n').server('234 Proceed with negotiation.\r\n').client(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])).client('USER fake\r\nPASS fake\r\n');
  const findings = await findingsOf(odd, tls);
  assertCredential(one(findings, 'cred-ftp'), 2121, 'carol', 'succeeded', 3);
});

test('control bytes typed into the first line after a bare "220" greeting (arrow keys through nc) do not hide the FTP login', async () => {
  // "220 ready" on a port of neither names FTP nor SMTP: the client's first line decides, escape sequences and all.
  const ftp = conn(2121).server('220 ready\r\n').client('USER carol\x1b[D\x1b[C\r\n').server('331 Password required\r\n').client('PASS pw-carol\r\n').server('230 Logged in\r\n');
  // Without a text greeting, the same bytes still mean a binary protocol.
  const silent = conn(2121, { ip: '198.18.0.13' }).client('USER dave\x1b[D\r\nPASS pw-dave\r\n').server('230 Logged in\r\n');
  const findings = await findingsOf(ftp, silent);
  assertCredential(one(findings, 'cred-ftp'), 2121, 'carol\x1b[D\x1b[C', 'succeeded', 8);
  assert.ok(!findings.some((x) => hasEntity(x, 'ip', '198.18.0.13')), describe(findings));
});

// --- Telnet -------------------------------------------------------------------

const IAC = 0xff;
const telnetNegotiation = Buffer.from([IAC, 0xfd, 0x18, IAC, 0xfd, 0x20, IAC, 0xfb, 0x01, IAC, 0xfb, 0x03]);

/** A character-at-a-time login: every keystroke in its own segment, echoed by the server. */
function typeChars(c: TcpConversation, text: string, echo: boolean): void {
  for (const ch of text) {
    c.client(ch);
    if (echo && ch !== '\r') c.server(ch === '\x7f' ? '\b \b' : ch);
  }
}

test('Telnet: character mode with echo, backspace and option negotiation; "Last login" is success', async () => {
  const c = conn(23).server(telnetNegotiation).client(Buffer.from([IAC, 0xfc, 0x18, IAC, 0xfe, 0x01])).server('\r\nDebian GNU/Linux 12\r\ndebian login: ');
  typeChars(c, 'dax\x7fve\r', true);
  c.client(Buffer.from([0x00]));
  c.server('\r\nPassword: ');
  typeChars(c, 'hunter2\r', false);
  c.server('\r\nLast login: Mon Jan  1 00:00:00 2026 from 198.18.0.10\r\n$ ');
  const findings = await findingsOf(c);
  const f = one(findings, 'cred-telnet');
  assertCredential(f, 23, 'dave', 'succeeded', 7);
  assert.equal(f.severity, 'high');
});

test('Telnet: "Login incorrect" is a failure; a session that ends without a verdict is unknown; NEW-ENVIRON names the user', async () => {
  const bad = conn(23).server(telnetNegotiation).server('login: ').client('erin\r\n').server('Password:').client('wrong\r\n').server('\r\nLogin incorrect\r\nlogin: ').close();
  const env = Buffer.concat([Buffer.from([IAC, 0xfa, 39, 0, 0]), Buffer.from('USER'), Buffer.from([1]), Buffer.from('frank'), Buffer.from([IAC, 0xf0])]);
  const silent = conn(2323).server(telnetNegotiation).client(env).server('Password: ').client('pw-frank\r\n').close();
  const findings = await findingsOf(bad, silent);
  const hits = cred(findings, 'cred-telnet');
  assert.equal(hits.length, 2, describe(findings));
  assertCredential(hits.find((f) => hasEntity(f, 'user', 'erin'))!, 23, 'erin', 'failed', 5);
  const frank = hits.find((f) => hasEntity(f, 'user', 'frank'))!;
  assertCredential(frank, 2323, 'frank', 'unknown', 8);
});

test('Telnet: a 100k-line session stays bounded (only the stream cap is read) and its login is still found', async () => {
  const c = conn(23).server(telnetNegotiation).server('login: ').client('gina\r\n').server('Password: ').client('pw\r\n').server('Last login: today\r\n$ ');
  const lines = Buffer.from('ls -la /tmp/some/dir\r\n'.repeat(100_000));
  c.client(lines, 60_000);
  c.server(Buffer.alloc(500_000, 0x41), 60_000);
  const r = await scanFrames(framesOf(c));
  assertCredential(one(r.findings, 'cred-telnet'), 23, 'gina', 'succeeded', 2);
  assert.ok(r.stats.stateEntries < 10, `state entries ${r.stats.stateEntries}`);
});

// --- HTTP ---------------------------------------------------------------------

test('HTTP Basic: 200 is success, 401 failure; colons in the password and extra spaces are tolerated; pipelined pairs match', async () => {
  const c = conn(80)
    .client(`GET /a HTTP/1.1\r\nHost: intranet\r\nAuthorization: Basic  ${b64('harry:wrong')}\r\n\r\nGET /b HTTP/1.1\r\nHost: intranet\r\nAuthorization: Basic ${b64('ivy:pa:ss:word')}\r\n\r\n`)
    .server('HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\r\nnope!')
    .server('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n');
  const findings = await findingsOf(c);
  const hits = cred(findings, 'cred-http-basic');
  assert.equal(hits.length, 2, describe(findings));
  const harry = hits.find((f) => hasEntity(f, 'user', 'harry'))!;
  assertCredential(harry, 80, 'harry', 'failed', 5);
  assert.match(harry.message, /GET \/a \(Host intranet\)/);
  const ivy = hits.find((f) => hasEntity(f, 'user', 'ivy'))!;
  assertCredential(ivy, 80, 'ivy', 'succeeded', 10);
  assert.equal(ivy.severity, 'high');
});

test('HTTP: long response bodies (fixed length and chunked, some segments out of order) are passed over, and the responses after them still pair with their requests', async () => {
  // Bodies that read like responses: passed over by length, they must not be taken for the next message.
  const decoy = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'.repeat(500);
  const c = conn(80)
    .client('GET /big HTTP/1.1\r\nHost: intranet\r\n\r\n')
    .server(`HTTP/1.1 200 OK\r\nContent-Length: ${decoy.length}\r\n\r\n${decoy}`)
    .client(`GET /secret HTTP/1.1\r\nHost: intranet\r\nAuthorization: Basic ${b64('lena:wrong')}\r\n\r\n`)
    .server('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n')
    .client(`GET /chunked HTTP/1.1\r\nHost: intranet\r\nAuthorization: Basic ${b64('lena:right')}\r\n\r\n`)
    .server(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${decoy.length.toString(16)}\r\n${decoy}\r\n10\r\n${decoy.slice(0, 16)}\r\n0\r\n\r\n`)
    .client(`GET /again HTTP/1.1\r\nHost: intranet\r\nAuthorization: Basic ${b64('milo:guess')}\r\n\r\n`)
    .server('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  // Swap two body segments of the first response: they arrive out of order.
  const big = c.frames.findIndex((f) => f.frame.includes(`Content-Length: ${decoy.length}\r\n`));
  assert.ok(big > 0);
  [c.frames[big + 3], c.frames[big + 4]] = [c.frames[big + 4]!, c.frames[big + 3]!];
  const findings = await findingsOf(c);
  const hits = cred(findings, 'cred-http-basic');
  assert.equal(hits.length, 2, describe(findings));
  const lena = hits.find((f) => hasEntity(f, 'user', 'lena'))!;
  assert.ok(hasEntity(lena, 'user', 'lena', 'login-failed') && hasEntity(lena, 'user', 'lena', 'login-succeeded'), JSON.stringify(lena.entities));
  assertCredential(hits.find((f) => hasEntity(f, 'user', 'milo'))!, 80, 'milo', 'failed', 5);
});

test('HTTP: Proxy-Authorization Basic on any port, and a urlencoded login form with its 302', async () => {
  const proxy = conn(3130).client(`GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\nProxy-Authorization: Basic ${b64('jack:proxypw')}\r\n\r\n`).server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const body = 'csrf=1&username=kate%40corp.example&password=p%40ss+word&remember=on';
  const form = conn(8080)
    .client(`POST /login HTTP/1.1\r\nHost: app\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`)
    .client(body)
    .server('HTTP/1.1 302 Found\r\nLocation: /home\r\nContent-Length: 0\r\n\r\n');
  const findings = await findingsOf(proxy, form);
  const p = one(findings, 'cred-http-basic');
  assertCredential(p, 3130, 'jack', 'succeeded', 7);
  assert.match(p.message, /Proxy-Authorization/);
  const f = one(findings, 'cred-http-form');
  assertCredential(f, 8080, 'kate@corp.example', 'succeeded', 'p@ss word'.length);
  assert.match(f.message, /POST \/login/);
});

test('HTTP: a login form sent with GET puts the password in the URL; the message names the path only; a search for "password" is no login', async () => {
  const login = conn(80)
    .client('GET /cgi-bin/login.cgi?user=operator&passwd=Gate%2Fkeeper-77&lang=en HTTP/1.1\r\nHost: nvr.internal\r\n\r\n')
    .server('HTTP/1.1 302 Found\r\nLocation: /live\r\nContent-Length: 0\r\n\r\n');
  const wrong = conn(80, { ip: '198.18.0.76' })
    .client('GET /login?username=admin&pwd=admin123 HTTP/1.1\r\n\r\n')
    .server('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  const search = conn(80, { ip: '198.18.0.77' })
    .client('GET /search?q=password+reset&user=help HTTP/1.1\r\n\r\n')
    .server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const r = await scanShowingSecrets(login, wrong, search);
  const forms = cred(r.findings, 'cred-http-form');
  assert.equal(forms.length, 2, describe(r.findings));
  const ok = forms.find((f) => hasEntity(f, 'ip', CLIENT_IP, 'client'))!;
  assert.ok(ok && hasEntity(ok, 'user', 'operator', 'login-succeeded'), describe(forms));
  assert.equal(ok.severity, 'high');
  assert.deepEqual(ok.secrets!.map((x) => x.value), ['Gate/keeper-77']);
  assert.match(ok.message, /login form \(GET query\) from .*GET \/cgi-bin\/login\.cgi\?… \(Host nvr\.internal\).*login succeeded \(HTTP 302\)/);
  const bad = forms.find((f) => hasEntity(f, 'ip', '198.18.0.76', 'client'))!;
  assert.ok(bad && hasEntity(bad, 'user', 'admin', 'login-failed'), describe(forms));
  assert.ok(!r.findings.some((f) => hasEntity(f, 'ip', '198.18.0.77')), describe(r.findings));
});

test('HTTP Bearer tokens: a JWT names its user and expiry, an opaque token is still a token; 401 refuses; the token is redacted by default', async () => {
  const b64url = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const jwt = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({ sub: '42', preferred_username: 'svc-billing', exp: 1893456000 })}.c2lnbmF0dXJl`;
  const api = conn(8080).client(`GET /v1/invoices HTTP/1.1\r\nHost: billing.internal\r\nAuthorization: Bearer ${jwt}\r\n\r\n`).server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const opaque = conn(80, { ip: '198.18.0.71' }).client('GET /api HTTP/1.1\r\nHost: tools.internal\r\nAuthorization: Bearer gho_16C7e42F292c6912E7710c838347Ae178B4a\r\n\r\n').server('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  const r = await scanShowingSecrets(api, opaque);
  const hits = cred(r.findings, 'cred-http-token');
  assert.equal(hits.length, 2, describe(r.findings));
  const svc = hits.find((f) => hasEntity(f, 'user', 'svc-billing', 'login-succeeded'))!;
  assert.ok(svc, describe(hits));
  assert.equal(svc.severity, 'high');
  assert.match(svc.message, /Authorization Bearer \(JWT\).*GET \/v1\/invoices \(Host billing\.internal\).*expires 2030-01-01T00:00:00\.000Z.*replayed until it expires/);
  assert.equal(svc.secrets![0]!.value, jwt);
  const gh = hits.find((f) => hasEntity(f, 'user', '(bearer token)', 'login-failed'))!;
  assert.ok(gh, describe(hits));
  assert.equal(gh.severity, 'medium');
  const hidden = await findingsOf(conn(8080).client(`GET / HTTP/1.1\r\nAuthorization: Bearer ${jwt}\r\n\r\n`));
  assertCredential(one(hidden, 'cred-http-token'), 8080, 'svc-billing', 'unknown', jwt.length);
});

test('HTTP API keys in headers and access tokens in URLs are tokens (cred-http-token); 401 refuses; short values are left out', async () => {
  const key = 'k3y-9f8e7d6c5b4a39281706';
  const api = conn(8080).client(`GET /v2/metrics HTTP/1.1\r\nHost: grafana.internal\r\nX-API-Key: ${key}\r\n\r\n`).server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const vault = conn(8200, { ip: '198.18.0.71' }).client('GET /v1/secret/data/db HTTP/1.1\r\nX-Vault-Token: hvs.CAESIJrandomtokenvalue\r\n\r\n').server('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
  const url = conn(80, { ip: '198.18.0.72' }).client('GET /feed?format=json&access_token=EAAB0a1b2c3d4e5f6%2B7&page=2 HTTP/1.1\r\nHost: social.internal\r\n\r\n').server('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  const short = conn(80, { ip: '198.18.0.73' }).client('GET /x?api_key=abc HTTP/1.1\r\nApi-Key: 1234\r\n\r\n').server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const r = await scanShowingSecrets(api, vault, url, short);
  const hits = cred(r.findings, 'cred-http-token');
  assert.equal(hits.length, 3, describe(r.findings));
  const byClient = (ip: string): Finding => {
    const f = hits.find((x) => hasEntity(x, 'ip', ip, 'client'));
    assert.ok(f, `${ip}: ${describe(hits)}`);
    return f;
  };
  const a = byClient(CLIENT_IP);
  assert.equal(a.severity, 'high');
  assert.match(a.message, /HTTP X-Api-Key header from .*GET \/v2\/metrics \(Host grafana\.internal\).*sent an API key .*login succeeded \(HTTP 200\)/);
  assert.equal(a.secrets![0]!.value, key);
  // 403: the key may be valid and only lack a permission, so the outcome is unknown.
  const v = byClient('198.18.0.71');
  assert.match(v.message, /X-Vault-Token header.*outcome unknown \(HTTP 403\)/);
  assert.ok(hasEntity(v, 'user', '(no user)', 'login-unknown'), describe([v]));
  const u = byClient('198.18.0.72');
  assert.equal(u.severity, 'medium');
  assert.match(u.message, /URL query parameter access_token.*an access token in the URL.*login failed \(HTTP 401\)/);
  assert.equal(u.secrets![0]!.value, 'EAAB0a1b2c3d4e5f6+7');
  // The query holds the secret: the message names the path only, and the token is nowhere but in secrets.
  assert.match(u.message, /GET \/feed\?… \(Host social\.internal\)/);
  assert.ok(!JSON.stringify({ ...u, secrets: [] }).includes('EAAB0a1b2c3d4e5f6'), describe([u]));
  assert.ok(!r.findings.some((f) => hasEntity(f, 'ip', '198.18.0.73')), describe(r.findings));
});

test('HTTP headers named like a key (…-Token, …-Api-Key, …-Secret) but in no list are tokens too; anti-forgery, WebSocket, paging and short values are not', async () => {
  const shop = 'shpat_0123456789abcdef0123456789ab';
  const amz = 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ';
  const api = conn(8080)
    .client(`GET /admin/api/2024-01/orders.json HTTP/1.1\r\nHost: shop.internal\r\nX-Shopify-Access-Token: ${shop}\r\n\r\n`)
    .server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
    .client(`PUT /bucket/key HTTP/1.1\r\nHost: s3.internal\r\nX-Amz-Security-Token: ${amz}\r\nContent-Length: 0\r\n\r\n`)
    .server('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
  const quiet = conn(80, { ip: '198.18.0.78' })
    .client(
      'POST /form HTTP/1.1\r\nX-CSRF-Token: 0123456789abcdef0123456789abcdef\r\nX-Next-Page-Token: CAoQAxoKMjAyNi0xMS0yNQ\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Algolia-API-Key: short\r\nX-Request-Id: 5f0c8a3e-6f1b-4d0e-9a5c-2b7d8e9f0a1b\r\nContent-Length: 0\r\n\r\n',
    )
    .server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  // The sender chooses the name: a long one is cut short in the message.
  const long = conn(80, { ip: '198.18.0.79' })
    .client(`GET / HTTP/1.1\r\nX-${'a'.repeat(5000)}-Token: ${shop}\r\n\r\n`)
    .server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const r = await scanShowingSecrets(api, quiet, long);
  const longHit = cred(r.findings, 'cred-http-token').find((f) => hasEntity(f, 'ip', '198.18.0.79', 'client'));
  assert.ok(longHit && longHit.message.length < 1000, describe(r.findings));
  const hits = cred(r.findings, 'cred-http-token').filter((f) => f !== longHit);
  assert.equal(hits.length, 1, describe(r.findings));
  const t = hits[0]!;
  assert.equal(t.count, 2);
  assert.deepEqual(t.secrets!.map((x) => x.value).sort(), [amz, shop].sort());
  assert.match(t.message, /X-Shopify-Access-Token header .*GET \/admin\/api\/2024-01\/orders\.json .*an API key or token .*login succeeded \(HTTP 200\)/);
  assert.ok(!r.findings.some((f) => hasEntity(f, 'ip', '198.18.0.78')), describe(r.findings));
});

test('HTTP session cookies are medium (T1539), authentication cookies high; other cookies and flags stay quiet', async () => {
  const sid = 'q3v9k2l8m1n7b6c5x4z3';
  const browse = conn(80)
    .client(`GET /app/ HTTP/1.1\r\nHost: intranet.internal\r\nCookie: _ga=GA1.2.3456789.123456789; PHPSESSID=${sid}; theme=dark-mode-large\r\n\r\n`)
    .server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')
    .client(`GET /app/page2 HTTP/1.1\r\nHost: intranet.internal\r\nCookie: PHPSESSID=${sid}\r\n\r\n`)
    .server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const ticket = 'F1A2B3C4D5E6F708192A3B4C5D6E7F80';
  const forms = conn(8080, { ip: '198.18.0.71' })
    .client(`GET /reports HTTP/1.1\r\nHost: erp.internal\r\nCookie: ASP.NET_SessionId=abcdefghijklmnopqrstuvwx; .ASPXAUTH=${ticket}\r\n\r\n`)
    .server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const refused = conn(80, { ip: '198.18.0.72' }).client('GET / HTTP/1.1\r\nCookie: sessionid=expiredsession0001\r\n\r\n').server('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  const quiet = conn(80, { ip: '198.18.0.73' }).client('GET / HTTP/1.1\r\nCookie: _ga=GA1.2.1234567890; lang=en-US-long; session=1; PHPSESSID=deleted\r\n\r\n').server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const r = await scanShowingSecrets(browse, forms, refused, quiet);
  const hits = cred(r.findings, 'cred-http-session');
  assert.equal(hits.length, 3, describe(r.findings));
  const byClient = (ip: string): Finding => {
    const f = hits.find((x) => hasEntity(x, 'ip', ip, 'client'));
    assert.ok(f, `${ip}: ${describe(hits)}`);
    return f;
  };
  const php = byClient(CLIENT_IP);
  assert.equal(php.severity, 'medium');
  assert.deepEqual(php.attack.techniques, ['T1040', 'T1539']);
  assert.equal(php.count, 2);
  assert.deepEqual(php.secrets!.map((x) => x.value), [sid]);
  assert.match(php.message, /HTTP Cookie PHPSESSID .*GET \/app\/ \(Host intranet\.internal\).*the session cookie PHPSESSID .*takes over the session.*the server accepted the request \(HTTP 200\)/);
  const asp = byClient('198.18.0.71');
  assert.equal(asp.severity, 'high');
  assert.equal(asp.count, 2);
  assert.deepEqual(asp.secrets!.map((x) => x.value).sort(), ['abcdefghijklmnopqrstuvwx', ticket].sort());
  const old = byClient('198.18.0.72');
  assert.equal(old.severity, 'low');
  assert.match(old.message, /the server refused the request \(HTTP 401\)/);
  assert.ok(!r.findings.some((f) => hasEntity(f, 'ip', '198.18.0.73')), describe(r.findings));
});

test('HTTP Set-Cookie: a session the server hands out is reported from the response, with its status; known names, and unknown ones the server marks HttpOnly', async () => {
  const sid = 'k9f8e7d6c5b4a3210fedcba9';
  const custom = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
  const login = conn(80)
    .client('POST /login HTTP/1.1\r\nHost: shop.internal\r\nContent-Length: 0\r\n\r\n')
    .server(`HTTP/1.1 302 Found\r\nLocation: /\r\nSet-Cookie: PHPSESSID=${sid}; path=/\r\nSet-Cookie: acct_key=${custom}; Path=/; HttpOnly; SameSite=Lax\r\nContent-Length: 0\r\n\r\n`);
  // Not sessions: a readable preference, a short HttpOnly flag, a CDN's bot cookie, a deletion.
  const quiet = conn(80, { ip: '198.18.0.74' })
    .client('GET / HTTP/1.1\r\nHost: www.internal\r\n\r\n')
    .server(
      'HTTP/1.1 200 OK\r\nSet-Cookie: theme=dark-mode-large-font; Path=/\r\nSet-Cookie: consent=yes-all; HttpOnly\r\n' +
        'Set-Cookie: __cf_bm=Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Ff; path=/; HttpOnly; Secure\r\nSet-Cookie: sessionid=0123456789abcdef0123; Max-Age=0; Path=/\r\nContent-Length: 0\r\n\r\n',
    );
  const refused = conn(80, { ip: '198.18.0.75' })
    .client('GET /admin HTTP/1.1\r\n\r\n')
    .server('HTTP/1.1 401 Unauthorized\r\nSet-Cookie: tracker_state=ffffffffffffffffffff0000; HttpOnly\r\nContent-Length: 0\r\n\r\n');
  const r = await scanShowingSecrets(login, quiet, refused);
  const hits = cred(r.findings, 'cred-http-session');
  const set = hits.find((f) => hasEntity(f, 'ip', CLIENT_IP, 'client'));
  assert.ok(set, describe(r.findings));
  assert.equal(set.severity, 'medium');
  assert.equal(set.count, 2);
  assert.deepEqual(set.secrets!.map((x) => x.value).sort(), [custom, sid].sort());
  assert.match(set.message, /HTTP Set-Cookie PHPSESSID .*POST \/login \(Host shop\.internal\).*the server set the session cookie PHPSESSID .*takes over the session.*the server accepted the request \(HTTP 302\)/);
  assert.ok(!r.findings.some((f) => hasEntity(f, 'ip', '198.18.0.74')), describe(r.findings));
  const old = hits.find((f) => hasEntity(f, 'ip', '198.18.0.75', 'client'));
  assert.ok(old, describe(hits));
  assert.equal(old.severity, 'low');
  assert.match(old.message, /Set-Cookie tracker_state .*the server refused the request \(HTTP 401\)/);
  assert.equal(hits.length, 2, describe(hits));
});

test('HTTP look-alikes stay quiet: no credentials, other auth schemes, forms without a password field, bodies that look like headers', async () => {
  const body = 'q=Authorization%3A+Basic+abc&user=x';
  const c = conn(80)
    .client('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
    .server('HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n\r\n')
    .client(`GET /b HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7\r\n\r\nPOST /search HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    .server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const findings = await findingsOf(c);
  assert.deepEqual(credRules(findings), [], describe(findings));
});

// --- POP3 ---------------------------------------------------------------------

test('POP3: USER/PASS, AUTH PLAIN refused, AUTH LOGIN, APOP (medium, crackable), XOAUTH2 token', async () => {
  const up = conn(110).server('+OK ready\r\n').client('USER lara\r\n').server('+OK\r\n').client('PASS pw-lara\r\n').server('+OK maildrop has 2 messages\r\n');
  const plain = conn(110).server('+OK ready\r\n').client(`AUTH PLAIN ${b64('\0mike\0badpw')}\r\n`).server('-ERR authentication failed\r\n');
  const login = conn(110).server('+OK ready\r\n').client('AUTH LOGIN\r\n').server('+ VXNlcm5hbWU6\r\n').client(`${b64('nina')}\r\n`).server('+ UGFzc3dvcmQ6\r\n').client(`${b64('pw-nina')}\r\n`).server('+OK\r\n');
  const apop = conn(110).server('+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n').client('APOP oscar c4c9334bac560ecc979e58001b3e22fb\r\n').server('+OK\r\n');
  const xoauth = conn(110).client('CAPA\r\n').server('+OK\r\nSASL XOAUTH2\r\n.\r\n').client('AUTH XOAUTH2\r\n').server('+ \r\n').client(`${b64('user=pia@example.com\x01auth=Bearer ya29.token\x01\x01')}\r\n`).server('+OK Welcome.\r\n');
  const findings = await findingsOf(up, plain, login, apop, xoauth);
  const hits = cred(findings, 'cred-pop3');
  assert.equal(hits.length, 5, describe(findings));
  const get = (u: string): Finding => hits.find((f) => hasEntity(f, 'user', u))!;
  assertCredential(get('lara'), 110, 'lara', 'succeeded', 7);
  assertCredential(get('mike'), 110, 'mike', 'failed', 5);
  assert.equal(get('mike').severity, 'medium');
  assertCredential(get('nina'), 110, 'nina', 'succeeded', 7);
  assert.match(get('nina').message, /AUTH LOGIN/);
  assert.equal(get('oscar').severity, 'medium');
  assert.match(get('oscar').message, /APOP digest.*cracked offline/);
  assertCredential(get('pia@example.com'), 110, 'pia@example.com', 'succeeded', 'ya29.token'.length);
  assert.match(get('pia@example.com').message, /bearer token/);
  assert.deepEqual(cred(findings, 'starttls-not-used'), []);
});

test('CRAM-MD5 in POP3, IMAP and SMTP is a hashcat 16400 line (challenge and response) that cracks to the password; APOP is digest:timestamp (hashcat 20)', async () => {
  const cram = (challenge: string, user: string, password: string): string => b64(`${user} ${createHmac('md5', password).update(challenge).digest('hex')}`);
  const ch = (n: number): string => `<${n}.1700000000@mail.example.org>`;
  const pop = conn(110).server('+OK ready\r\n').client('AUTH CRAM-MD5\r\n').server(`+ ${b64(ch(1))}\r\n`).client(`${cram(ch(1), 'pia', 'Pia-pw-1')}\r\n`).server('+OK\r\n');
  const imap = conn(143, { ip: '198.18.0.31' })
    .server('* OK ready\r\n')
    .client('a1 AUTHENTICATE CRAM-MD5\r\n')
    .server(`+ ${b64(ch(2))}\r\n`)
    .client(`${cram(ch(2), 'ivo', 'Wrong-pw')}\r\n`)
    .server('a1 NO [AUTHENTICATIONFAILED] failed\r\n');
  const smtp = conn(587, { ip: '198.18.0.32' })
    .server('220 mail.example.org ESMTP\r\n')
    .client('EHLO c\r\n')
    .server('250-mail.example.org\r\n250 AUTH CRAM-MD5\r\n')
    .client('AUTH CRAM-MD5\r\n')
    .server(`334 ${b64(ch(3))}\r\n`)
    .client(`${cram(ch(3), 'sam', 'Sam-pw-3')}\r\n`)
    .server('235 2.7.0 ok\r\n');
  // RFC 1939's own example: the digest of this timestamp and "tanstaaf".
  const apop = conn(110, { ip: '198.18.0.33' }).server('+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n').client('APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n').server('+OK\r\n');
  const r = await scanShowingSecrets(pop, imap, smtp, apop);
  const find = (rule: string, user: string, outcome: string): Finding => {
    const f = r.findings.find((x) => x.rule_id === rule && hasEntity(x, 'user', user, `login-${outcome}`));
    assert.ok(f, `no ${rule} for ${user} (${outcome}):\n${describe(r.findings)}`);
    return f;
  };
  const p = find('cred-pop3', 'pia', 'succeeded');
  assert.equal(p.severity, 'medium');
  assert.match(p.message, /AUTH CRAM-MD5.*CRAM-MD5 response/);
  assert.ok(cramMd5LineMatches(p.secrets![0]!.value!, 'Pia-pw-1'), p.secrets![0]!.value);
  assert.ok(!cramMd5LineMatches(p.secrets![0]!.value!, 'Pia-pw-2'));
  const i = find('cred-imap', 'ivo', 'failed');
  assert.equal(i.severity, 'low');
  assert.ok(cramMd5LineMatches(i.secrets![0]!.value!, 'Wrong-pw'));
  assert.ok(cramMd5LineMatches(find('cred-smtp', 'sam', 'succeeded').secrets![0]!.value!, 'Sam-pw-3'));
  const a = find('cred-pop3', 'mrose', 'succeeded');
  assert.equal(a.secrets![0]!.value, 'c4c9334bac560ecc979e58001b3e22fb:<1896.697170952@dbc.mtview.ca.us>');
  assert.ok(apopLineMatches(a.secrets![0]!.value!, 'tanstaaf'));
});

test('DIGEST-MD5 in IMAP and in an LDAP bind is John\'s dmd5 line (RFC 2831 example included) that cracks to the password; the empty answer to rspauth adds nothing', async () => {
  // RFC 2831 section 4's IMAP example: chris, password "secret".
  const rfc = { user: 'chris', realm: 'elwood.innosoft.com', nonce: 'OA6MG9tEQGm2hh', uri: 'imap/elwood.innosoft.com', cnonce: 'OA6MHXh6VqTrRk', nc: '00000001', qop: 'auth' };
  assert.equal(digestMd5Response('secret', rfc), 'd388dad90d4bbd760a152321f2143af7');
  const challenge = 'realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8';
  const response = (f: typeof rfc, password: string): string =>
    `charset=utf-8,username="${f.user}",realm="${f.realm}",nonce="${f.nonce}",nc=${f.nc},cnonce="${f.cnonce}",digest-uri="${f.uri}",response=${digestMd5Response(password, f)},qop=${f.qop}`;
  const imap = conn(143)
    .server('* OK ready\r\n')
    .client('a1 AUTHENTICATE DIGEST-MD5\r\n')
    .server(`+ ${b64(challenge)}\r\n`)
    .client(`${b64(response(rfc, 'secret'))}\r\n`)
    .server(`+ ${b64('rspauth=ea40f60335c427b5527b84dbabcdfffd')}\r\n`)
    .client('\r\n')
    .server('a1 OK Logged in\r\n');
  const ldapUser = { ...rfc, user: 'dora', realm: 'example.org', uri: 'ldap/dc1.example.org', nonce: 'n0nce-LDAP', cnonce: 'cn0nce' };
  const ldap = conn(389, { ip: '198.18.0.19' })
    .client(saslBind(2, 'DIGEST-MD5'))
    .server(bindResponse(2, 14, Buffer.from(challenge)))
    .client(saslBind(3, 'DIGEST-MD5', Buffer.from(response(ldapUser, 'Wrong-dora'))))
    .server(bindResponse(3, 49));
  const r = await scanFrames(framesOf(imap, ldap), undefined, undefined, true);
  const chris = r.findings.find((f) => f.rule_id === 'cred-imap' && hasEntity(f, 'user', 'chris', 'login-succeeded'));
  assert.ok(chris, describe(r.findings));
  assert.equal(chris.count, 1);
  assert.equal(chris.severity, 'medium');
  assert.match(chris.message, /AUTHENTICATE DIGEST-MD5.*DIGEST-MD5 response/);
  const line = chris.secrets![0]!.value!;
  assert.equal(line, '$DIGEST-MD5$chris$elwood.innosoft.com$OA6MG9tEQGm2hh$imap/elwood.innosoft.com$OA6MHXh6VqTrRk$00000001$auth$d388dad90d4bbd760a152321f2143af7');
  assert.ok(digestMd5LineMatches(line, 'secret') && !digestMd5LineMatches(line, 'secret2'));
  const dora = r.findings.find((f) => f.rule_id === 'cred-ldap' && hasEntity(f, 'user', 'dora', 'login-failed'));
  assert.ok(dora && hasEntity(dora, 'ip', '198.18.0.19', 'client'), describe(r.findings));
  assert.match(dora.message, /SASL DIGEST-MD5 bind/);
  assert.ok(digestMd5LineMatches(dora.secrets![0]!.value!, 'Wrong-dora'));
});

test('POP3: STLS offered but not used is starttls-not-used; a session that upgrades is benign', async () => {
  const plain = conn(110).server('+OK ready\r\n').client('CAPA\r\n').server('+OK\r\nUSER\r\nSTLS\r\n.\r\n').client('USER quinn\r\n').server('+OK\r\n').client('PASS pw-q\r\n').server('+OK\r\n');
  const upgraded = conn(110, { ip: '198.18.0.11' }).server('+OK ready\r\n').client('CAPA\r\n').server('+OK\r\nSTLS\r\n.\r\n').client('STLS\r\n').server('+OK Begin TLS\r\n').client(Buffer.from([0x16, 0x03, 0x01, 0, 4, 1, 2, 3, 4])).client('USER x\r\nPASS y\r\n');
  const findings = await findingsOf(plain, upgraded);
  const s = one(findings, 'starttls-not-used');
  assert.equal(s.severity, 'medium');
  assert.deepEqual(s.attack.techniques, ['T1040']);
  assert.ok(hasEntity(s, 'ip', CLIENT_IP, 'client') && hasEntity(s, 'host', `${SERVER_IP}:110`, 'server'));
  assert.match(s.message, /offered STARTTLS/);
  assertCredential(one(findings, 'cred-pop3'), 110, 'quinn', 'succeeded', 4);
  assert.ok(!findings.some((f) => hasEntity(f, 'ip', '198.18.0.11')), describe(findings));
});

// --- IMAP ---------------------------------------------------------------------

test('IMAP: LOGIN with quoted strings and with literals, AUTHENTICATE PLAIN with SASL-IR, NO is a failure', async () => {
  const quoted = conn(143).server('* OK IMAP4rev1 ready\r\n').client('a1 LOGIN "rita" "pa \\"ss"\r\n').server('a1 OK LOGIN completed\r\n');
  const literal = conn(143).server('* OK ready\r\n').client('b1 LOGIN {4}\r\n').server('+ go ahead\r\n').client('sam1 {6}\r\n').server('+ go ahead\r\n').client('pw-sam\r\n').server('b1 NO [AUTHENTICATIONFAILED] bad\r\n');
  const sasl = conn(143).server('* OK ready\r\n').client(`c1 AUTHENTICATE PLAIN ${b64('\0tess\0pw-tess')}\r\n`).server('c1 OK done\r\n');
  const findings = await findingsOf(quoted, literal, sasl);
  const hits = cred(findings, 'cred-imap');
  assert.equal(hits.length, 3, describe(findings));
  assertCredential(hits.find((f) => hasEntity(f, 'user', 'rita'))!, 143, 'rita', 'succeeded', 6);
  assertCredential(hits.find((f) => hasEntity(f, 'user', 'sam1'))!, 143, 'sam1', 'failed', 6);
  const tess = hits.find((f) => hasEntity(f, 'user', 'tess'))!;
  assertCredential(tess, 143, 'tess', 'succeeded', 7);
  assert.match(tess.message, /AUTHENTICATE PLAIN/);
});

test('IMAP: CAPABILITY STARTTLS then a cleartext LOGIN is starttls-not-used; STARTTLS then TLS is benign; message bodies are not commands', async () => {
  const plain = conn(143).server('* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n').client('a LOGIN uma pw-uma\r\n').server('a OK\r\n');
  const upgraded = conn(143, { ip: '198.18.0.12' }).server('* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n').client('a STARTTLS\r\n').server('a OK Begin TLS\r\n').client(Buffer.from([0x16, 0x03, 0x03, 0, 2, 1, 2]));
  const fetch = conn(143, { ip: '198.18.0.13' })
    .server('* OK ready\r\n')
    .client('f1 SELECT INBOX\r\n')
    .server('* 1 FETCH (BODY[] {30}\r\nf1 LOGIN victor pw-not-login\r\n)\r\nf1 OK\r\n');
  const findings = await findingsOf(plain, upgraded, fetch);
  assertCredential(one(findings, 'cred-imap'), 143, 'uma', 'succeeded', 6);
  one(findings, 'starttls-not-used');
  assert.ok(!findings.some((f) => hasEntity(f, 'ip', '198.18.0.12') || hasEntity(f, 'ip', '198.18.0.13')), describe(findings));
});

// --- SMTP ---------------------------------------------------------------------

test('SMTP: AUTH LOGIN accepted (235) after EHLO offered STARTTLS; AUTH PLAIN refused (535); DATA bodies are skipped', async () => {
  const login = conn(587)
    .server('220 mail.example ESMTP Postfix\r\n')
    .client('EHLO client\r\n')
    .server('250-mail.example\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n')
    .client(`AUTH LOGIN ${b64('walt')}\r\n`)
    .server('334 UGFzc3dvcmQ6\r\n')
    .client(`${b64('pw-walt')}\r\n`)
    .server('235 2.7.0 Authentication successful\r\n');
  const plain = conn(25, { ip: '198.18.0.14' })
    .server('220 mx ESMTP\r\n')
    .client('EHLO c\r\n')
    .server('250 AUTH PLAIN\r\n')
    .client('AUTH PLAIN\r\n')
    .server('334 \r\n')
    .client(`${b64('\0xena\0wrong')}\r\n`)
    .server('535 5.7.8 Error: authentication failed\r\n')
    .client('MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n')
    .server('250 ok\r\n250 ok\r\n354 go\r\n')
    .client(`Subject: hi\r\n\r\nAUTH PLAIN ${b64('\0yuri\0inbody')}\r\n.\r\n`)
    .server('250 queued\r\n');
  const findings = await findingsOf(login, plain);
  const hits = cred(findings, 'cred-smtp');
  assert.equal(hits.length, 2, describe(findings));
  assertCredential(hits.find((f) => hasEntity(f, 'user', 'walt'))!, 587, 'walt', 'succeeded', 7);
  const xena = hits.find((f) => hasEntity(f, 'user', 'xena'))!;
  assert.ok(hasEntity(xena, 'ip', '198.18.0.14', 'client'));
  assert.ok(hasEntity(xena, 'user', 'xena', 'login-failed'));
  assert.equal(cred(findings, 'starttls-not-used').length, 1, 'only the session that was offered STARTTLS');
});

test('SMTP: STARTTLS accepted (220) then TLS is benign', async () => {
  const c = conn(25).server('220 mx ESMTP\r\n').client('EHLO c\r\n').server('250-mx\r\n250 STARTTLS\r\n').client('STARTTLS\r\n').server('220 2.0.0 Ready to start TLS\r\n').client(Buffer.from([0x16, 0x03, 0x01, 0, 1, 1]));
  const findings = await findingsOf(c);
  assert.deepEqual(atLeast(findings, 'low'), [], describe(findings));
});

// --- LDAP ---------------------------------------------------------------------

test('LDAP: simple bind accepted, invalidCredentials (49) on a non-standard port, anonymous bind ignored, bytes one per segment', async () => {
  const ok = conn(389).client(simpleBind(1, 'cn=admin,dc=example,dc=org', 'adminpw')).server(bindResponse(1, 0));
  const bad = conn(10389).client(simpleBind(7, 'uid=yves,ou=people,dc=example,dc=org', 'guess'), 1).server(bindResponse(7, 49));
  const anon = conn(389, { ip: '198.18.0.15' }).client(simpleBind(1, '', '')).server(bindResponse(1, 0));
  const findings = await findingsOf(ok, bad, anon);
  const hits = cred(findings, 'cred-ldap');
  assert.equal(hits.length, 2, describe(findings));
  const admin = hits.find((f) => hasEntity(f, 'user', 'cn=admin,dc=example,dc=org'))!;
  assertCredential(admin, 389, 'cn=admin,dc=example,dc=org', 'succeeded', 7);
  assert.equal(admin.severity, 'high');
  const yves = hits.find((f) => hasEntity(f, 'user', 'uid=yves,ou=people,dc=example,dc=org'))!;
  assertCredential(yves, 10389, 'uid=yves,ou=people,dc=example,dc=org', 'failed', 5);
  assert.match(yves.message, /resultCode 49 invalidCredentials/);
});

test('LDAP: SASL PLAIN is a cleartext password, NTLM and CRAM-MD5 crackable responses (with the server challenge)', async () => {
  const plain = conn(389).client(saslBind(2, 'PLAIN', Buffer.from('\0zoe\0pw-zoe'))).server(bindResponse(2, 0));
  const challenge = Buffer.from('0123456789abcdef', 'hex');
  const ntResponse = Buffer.concat([Buffer.alloc(16, 0xaa), Buffer.alloc(40, 0x01)]);
  const ntlm = conn(389, { ip: '198.18.0.16' })
    .client(saslBind(3, 'GSS-SPNEGO', Buffer.from('NTLMSSP\0\x01\0\0\0', 'latin1')))
    .server(bindResponse(3, 14, ntlmChallengeMessage(challenge)))
    .client(saslBind(4, 'GSS-SPNEGO', ntlmAuthenticateMessage({ user: 'adam', domain: 'CORP', ntResponse })))
    .server(bindResponse(4, 0));
  const cramChallenge = '<1896.697170952@ldap.example.org>';
  const cramResponse = `zoe ${createHmac('md5', 'Zoe-cram-pw').update(cramChallenge).digest('hex')}`;
  const cram = conn(389, { ip: '198.18.0.17' })
    .client(saslBind(5, 'CRAM-MD5'))
    .server(bindResponse(5, 14, Buffer.from(cramChallenge)))
    .client(saslBind(6, 'CRAM-MD5', Buffer.from(cramResponse)))
    .server(bindResponse(6, 49));
  // A CRAM-MD5 response without a challenge seen (the capture began late) cannot be checked: not reported.
  const late = conn(389, { ip: '198.18.0.18' }).client(saslBind(7, 'CRAM-MD5', Buffer.from(cramResponse))).server(bindResponse(7, 0));
  const r = await scanFrames(framesOf(plain, ntlm, cram, late));
  const hits = cred(r.findings, 'cred-ldap');
  assert.equal(hits.length, 3, describe(r.findings));
  assertCredential(hits.find((f) => hasEntity(f, 'ip', CLIENT_IP, 'client'))!, 389, 'zoe', 'succeeded', 6);
  const zoeCram = cred((await scanFrames(framesOf(cram), undefined, undefined, true)).findings, 'cred-ldap')[0]!;
  assert.ok(zoeCram && hasEntity(zoeCram, 'user', 'zoe', 'login-failed') && hasEntity(zoeCram, 'ip', '198.18.0.17', 'client'), describe(hits));
  assert.match(zoeCram.message, /SASL CRAM-MD5 bind.*CRAM-MD5 response.*resultCode 49/);
  assert.equal(zoeCram.severity, 'low');
  assert.ok(cramMd5LineMatches(zoeCram.secrets![0]!.value!, 'Zoe-cram-pw'), zoeCram.secrets![0]!.value);
  assert.ok(!cramMd5LineMatches(zoeCram.secrets![0]!.value!, 'other'));
  const adam = hits.find((f) => hasEntity(f, 'user', 'CORP\\adam'))!;
  assert.ok(adam, describe(hits));
  assert.equal(adam.severity, 'medium');
  assert.match(adam.message, /NTLM challenge-response.*cracked offline/);
  assert.ok(hasEntity(adam, 'ip', '198.18.0.16', 'client'));
  // The secret is the hashcat line, which carries the server challenge.
  const expected = `adam::CORP:0123456789abcdef:${'aa'.repeat(16)}:${'01'.repeat(40)}`;
  assert.equal(adam.secrets?.[0]?.length, expected.length);
});

test('LDAP hostile input: huge and lying BER lengths stay bounded, never read past the bytes, and are flagged malformed', async () => {
  // Outer length claims 2 GiB: skipped by length, never buffered.
  const huge = Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01, 0x60, 0x00]);
  const a = conn(389).client(huge).client(Buffer.alloc(5000, 0x41)).client(simpleBind(2, 'cn=after', 'x'));
  // Inner length past the message: the message is rejected, the stream goes on.
  const lying = ldapMessage(1, Buffer.from([0x60, 0x05, 0x02, 0x01, 0x03, 0x04, 0x7f]));
  const b = conn(389, { ip: '198.18.0.18' }).client(lying).client(simpleBind(3, 'cn=bob', 'pw-bob')).server(bindResponse(3, 0));
  // Not BER at all on the LDAP port.
  const c = conn(389, { ip: '198.18.0.19' }).client('hello there\r\n').client(simpleBind(1, 'cn=eve', 'pw-eve'));
  const r = await scanFrames(framesOf(a, b, c));
  const hits = cred(r.findings, 'cred-ldap');
  assert.deepEqual(hits.map((f) => f.entities.find((e) => e.type === 'user')?.value), ['cn=bob'], describe(r.findings));
  assert.ok(r.findings.some((f) => f.rule_id === 'decode-malformed' && f.severity === 'info' && /ldap/.test(f.message)), describe(r.findings));
});

// --- Hostile TCP ----------------------------------------------------------------

test('overlapping segments cannot rewrite a password already seen (first wins)', async () => {
  const c = conn(21).server('220 FTP\r\n').client('USER bea\r\n').server('331 pw\r\n');
  const seq = c.clientSeq;
  // The real PASS line, then an overlapping "retransmission" with other bytes, then the reply.
  c.segment(true, seq, TCP_ACK | TCP_PSH, Buffer.from('PASS real-pw\r\n'));
  c.segment(true, seq, TCP_ACK | TCP_PSH, Buffer.from('PASS fake-pw-longer\r\n'));
  c.clientSeq = (seq + 'PASS real-pw\r\n'.length) >>> 0;
  c.server('230 ok\r\n');
  const findings = await findingsOf(c);
  const f = one(findings, 'cred-ftp');
  assertCredential(f, 21, 'bea', 'succeeded', 'real-pw'.length);
  assert.equal(f.count, 1);
});

test('out-of-order and one-byte segments are reassembled before parsing', async () => {
  const c = conn(110).server('+OK\r\n');
  const line = Buffer.from('USER cleo\r\nPASS pw-cleo\r\n');
  const seq = c.clientSeq;
  // Bytes in reverse order, one per segment.
  for (let i = line.length - 1; i >= 0; i--) c.segment(true, seq + i, TCP_ACK | TCP_PSH, line.subarray(i, i + 1));
  c.clientSeq = (seq + line.length) >>> 0;
  c.server('+OK\r\n+OK\r\n');
  const findings = await findingsOf(c);
  assertCredential(one(findings, 'cred-pop3'), 110, 'cleo', 'succeeded', 7);
});

test('TLS and unknown binary protocols on credential ports, and random bytes everywhere, raise nothing and keep state bounded', async () => {
  const tls = conn(443).client(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x10, ...Buffer.alloc(16, 7)])).server(Buffer.from([0x16, 0x03, 0x03, 0, 2, 1, 2]));
  const ssh = conn(2222).server('SSH-2.0-OpenSSH_9.2\r\n').client('SSH-2.0-OpenSSH_9.2\r\n');
  let seed = 7;
  const rand = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    return b;
  };
  const fuzz = [21, 23, 25, 80, 110, 143, 389, 3268, 8080].map((port) => conn(port).client(rand(3000)).server(rand(3000)).client(rand(700)));
  const r = await scanFrames(framesOf(tls, ssh, ...fuzz));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(credRules(r.findings), [], describe(r.findings));
});

// --- Secrets --------------------------------------------------------------------

test('the secret never appears in JSONL output by default, and does with --show-secrets', async () => {
  const password = 'Tr0ub4dor&3-unique';
  const c = conn(21).server('220 FTP\r\n').client('USER dora\r\n').server('331 pw\r\n').client(`PASS ${password}\r\n`).server('230 ok\r\n');
  const token = 'ya29.A0ARrdaM-unique-token';
  const x = conn(143).server('* OK\r\n').client(`a AUTHENTICATE XOAUTH2 ${b64(`user=dora@example.com\x01auth=Bearer ${token}\x01\x01`)}\r\n`).server('a OK\r\n');
  await withTempDir(async (dir) => {
    const pcap = writePcap(join(dir, 'creds.pcap'), framesOf(c, x));
    const quiet = runCli(['scan', '--format', 'jsonl', '--fail-on', 'none', pcap]);
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.ok(quiet.findings.some((f) => f.rule_id === 'cred-ftp') && quiet.findings.some((f) => f.rule_id === 'cred-imap'), quiet.stdout);
    assert.ok(!quiet.stdout.includes(password) && !quiet.stdout.includes(token), 'secret leaked into default output');
    assert.ok(!quiet.stdout.includes(b64(`user=dora@example.com\x01auth=Bearer ${token}\x01\x01`)));
    const pretty = runCli(['scan', '--format', 'pretty', '--fail-on', 'none', pcap]);
    assert.ok(!pretty.stdout.includes(password));
    assert.match(pretty.stdout, /secret: 18 chars, hash [0-9a-f]{12}/);
    const shown = runCli(['scan', '--format', 'jsonl', '--show-secrets', '--fail-on', 'none', pcap]);
    assert.ok(shown.stdout.includes(password) && shown.stdout.includes(token), shown.stdout);
    assert.match(shown.stderr, /--show-secrets/);
  });
});

test('frames of one session aggregate: the same client, server and user are one finding per rule', async () => {
  const a = conn(110).server('+OK\r\n').client('USER finn\r\nPASS one\r\n').server('+OK\r\n-ERR\r\n');
  const b = conn(110).server('+OK\r\n').client('USER finn\r\nPASS two\r\n').server('+OK\r\n+OK\r\n');
  const findings = await findingsOf(a, b);
  const f = one(findings, 'cred-pop3');
  assert.equal(f.count, 2);
  assert.equal(f.severity, 'high', 'escalated by the successful login');
  assert.equal(f.secrets?.length, 2);
});

test('a credential on a flow evicted or still open at the end is reported with an unknown outcome', async () => {
  const c = conn(21).server('220 FTP\r\n').client('USER gus\r\n').server('331\r\n').client('PASS pw-gus\r\n');
  const findings = await findingsOf(c);
  assertCredential(one(findings, 'cred-ftp'), 21, 'gus', 'unknown', 6);
  // A stray segment for an unrelated flow on a high port is ignored.
  const stray = tcpFrame(CLIENT_MAC, SERVER_MAC, CLIENT_IP, SERVER_IP, 50001, 50002, 1, 1, TCP_ACK | TCP_PSH, Buffer.from('PASS x\r\n'));
  const r = await scanFrames([{ t: 1, frame: stray }]);
  assert.deepEqual(credRules(r.findings), []);
});

test('the credentials config section: values, defaults, unknown keys refused; stream_bytes bounds what is read', async () => {
  const cfg = parseConfig('credentials:\n  max_flows: 10\n  stream_bytes: 64\n', 'sw.yml', CONFIG_SECTIONS);
  assert.deepEqual(sectionOf(cfg, CREDENTIALS_SECTION), { maxFlows: 10, streamBytes: 64, maxBufferedBytes: 16 * 1024 * 1024 });
  assert.throws(() => parseConfig('credentials:\n  max_flow: 10\n', 'sw.yml', CONFIG_SECTIONS), /unknown key 'max_flow'/);
  assert.throws(() => parseConfig('credentials:\n  stream_bytes: 0\n', 'sw.yml', CONFIG_SECTIONS), /positive integer/);
  // The login starts after the first 64 bytes of the client's stream: not read.
  const late = conn(21).server('220 FTP\r\n').client(`NOOP ${'x'.repeat(70)}\r\n`).client('USER hal\r\nPASS pw-hal\r\n').server('200 ok\r\n230 ok\r\n');
  const early = conn(21).server('220 FTP\r\n').client('USER ian\r\nPASS pw-ian\r\n').server('230 ok\r\n');
  const r = await scanFrames(framesOf(late, early), cfg);
  assert.deepEqual(cred(r.findings, 'cred-ftp').map((f) => f.entities.find((e) => e.type === 'user')?.value), ['ian']);
});

test('user names are capped in findings', async () => {
  const long = 'u'.repeat(5000);
  const c = conn(110).server('+OK\r\n').client(`USER ${long}\r\nPASS pw\r\n`).server('+OK\r\n+OK\r\n');
  const f = one(await findingsOf(c), 'cred-pop3');
  const user = f.entities.find((e) => e.type === 'user')!.value;
  assert.ok(user.length <= 257, `user entity of ${user.length} chars`);
  assert.ok(f.message.length < 1200);
});

/** The analyzer alone, fed decoded frames, with the rules it reported. */
function analyzerHarness(budgetBytes?: number): { a: CredentialsAnalyzer; feed: (frames: TimedFrame[]) => void; rules: string[] } {
  const config = defaultConfig();
  const rules: string[] = [];
  const a = new CredentialsAnalyzer(
    { config, network: new NetworkModel(config), report: (rule) => rules.push(rule), reportAt: (rule) => rules.push(rule) },
    budgetBytes,
  );
  const pkt = new Packet();
  const raw = newRawFrame();
  const feed = (frames: TimedFrame[]): void => {
    for (const f of frames) {
      raw.data = f.frame;
      raw.caplen = raw.origlen = f.frame.length;
      raw.linktype = LINKTYPE_ETHERNET;
      raw.tsSec = Math.floor(f.t);
      raw.frameNo++;
      decodeFrame(raw, pkt);
      a.onTcp(pkt);
    }
  };
  return { a, feed, rules };
}

test('parser buffers share one budget: many flows with long partial lines cannot hold more, and everything is given back', () => {
  const { a, feed, rules } = analyzerHarness(4096);
  const convs: TcpConversation[] = [];
  for (let i = 0; i < 200; i++) {
    const c = conn(110, { port: 20000 + i }).server('+OK\r\n').client(`USER ${'v'.repeat(300)}`);
    convs.push(c);
    feed(c.frames.splice(0));
    assert.ok(a.budget.used <= 4096, `budget used ${a.budget.used}`);
  }
  // The lines end; logins complete on the flows whose partial line fit or was truncated.
  for (const c of convs) feed(c.client('\r\nPASS pw\r\n').server('+OK\r\n+OK\r\n').close().frames.splice(0));
  a.finish();
  assert.equal(a.budget.used, 0, 'budget leaked');
  assert.equal(a.stateSize(), 0);
  assert.equal(rules.filter((r) => r === 'cred-pop3').length, 200);
});

test('flows stopped early (TLS, upgrades, finished logins) give their buffers back at once', () => {
  const { a, feed } = analyzerHarness();
  const tls = conn(443).client(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x10, ...Buffer.alloc(16, 7)]));
  const partial = conn(21).server('220 FTP\r\n').client('USER wu\r\nPASS pw\r\n').server('230 ok\r\n').client('NOOP and a partial line');
  const ldapHalf = conn(389).client(simpleBind(1, 'cn=x', 'y').subarray(0, 10));
  feed(framesOf(tls, partial, ldapHalf));
  assert.ok(a.budget.used > 0, 'the half LDAP message is held');
  a.finish();
  assert.equal(a.budget.used, 0);
});

test('a mid-stream flow between two high ports whose roles were guessed wrong is turned round by its content', async () => {
  const request = Buffer.from(`GET /x HTTP/1.1\r\nHost: h\r\nAuthorization: Basic ${b64('kim:pw-kim')}\r\n\r\n`);
  const response = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  // No handshake captured; the client's port (50000) is the lower one, so the port guess calls it the server.
  const frames: TimedFrame[] = [
    { t: 1, frame: tcpFrame(CLIENT_MAC, SERVER_MAC, CLIENT_IP, SERVER_IP, 50000, 60000, 100, 900, TCP_ACK | TCP_PSH, request) },
    { t: 1.01, frame: tcpFrame(SERVER_MAC, CLIENT_MAC, SERVER_IP, CLIENT_IP, 60000, 50000, 900, 100 + request.length, TCP_ACK | TCP_PSH, response) },
  ];
  const r = await scanFrames(frames);
  assertCredential(one(r.findings, 'cred-http-basic'), 60000, 'kim', 'succeeded', 6);
});

// --- PostgreSQL ---------------------------------------------------------------

function pgStartup(user: string, database: string, code = 0x00030000): Buffer {
  const params = Buffer.from(`user\0${user}\0database\0${database}\0application_name\0psql\0\0`, 'latin1');
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + params.length, 0);
  head.writeUInt32BE(code, 4);
  return Buffer.concat([head, params]);
}

function pgMessage(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

const pgAuth = (code: number, extra = Buffer.alloc(0)): Buffer => pgMessage('R', Buffer.concat([Buffer.from([0, 0, 0, code]), extra]));
const pgPassword = (text: string): Buffer => pgMessage('p', Buffer.from(`${text}\0`, 'latin1'));
const pgError = (code: string): Buffer => pgMessage('E', Buffer.from(`SFATAL\0C${code}\0Mpassword authentication failed\0\0`, 'latin1'));

test('PostgreSQL: a cleartext password after a refused SSLRequest (high), an MD5 response with its salt, a refusal (28P01), SSL accepted and SCRAM not reported', async () => {
  const sslNo = Buffer.alloc(8);
  sslNo.writeUInt32BE(8, 0);
  sslNo.writeUInt32BE(80877103, 4);
  const clear = conn(5432).client(sslNo).server('N').client(pgStartup('app', 'orders')).server(pgAuth(3)).client(pgPassword('Pg-clear-1')).server(Buffer.concat([pgAuth(0), pgMessage('Z', Buffer.from('I'))]));
  const md5 = conn(15432, { ip: '198.18.0.31' })
    .client(pgStartup('report', 'sales'))
    .server(pgAuth(5, Buffer.from('a1b2c3d4', 'hex')))
    .client(pgPassword(`md5${'e'.repeat(32)}`))
    .server(pgError('28P01'));
  const tls = conn(5432, { ip: '198.18.0.32' }).client(sslNo).server('S').client(Buffer.from([0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5]));
  const scram = conn(5432, { ip: '198.18.0.33' })
    .client(pgStartup('svc', 'db'))
    .server(pgAuth(10, Buffer.from('SCRAM-SHA-256\0\0', 'latin1')))
    .client(pgMessage('p', Buffer.from('SCRAM-SHA-256\0\0\0\0\x20n,,n=,r=abcdefghijklmnopqrstuvwx', 'latin1')))
    .server(pgAuth(0));
  const findings = await findingsOf(clear, md5, tls, scram);
  const hits = cred(findings, 'cred-postgres');
  assert.equal(hits.length, 2, describe(findings));
  const app = hits.find((f) => hasEntity(f, 'user', 'app'))!;
  assertCredential(app, 5432, 'app', 'succeeded', 10);
  assert.equal(app.severity, 'high');
  assert.match(app.message, /cleartext password.*database orders/);
  const report = hits.find((f) => hasEntity(f, 'user', 'report'))!;
  assert.ok(hasEntity(report, 'user', 'report', 'login-failed') && hasEntity(report, 'ip', '198.18.0.31', 'client'), describe(hits));
  assert.equal(report.severity, 'low');
  assert.match(report.message, /md5 password.*ErrorResponse 28P01/);
  assert.equal(report.secrets?.[0]?.length, `$postgres$report*a1b2c3d4*${'e'.repeat(32)}`.length);
});

// --- MySQL / MariaDB ------------------------------------------------------------

function myPacket(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}

function myGreeting(scramble: Buffer, plugin = 'mysql_native_password'): Buffer {
  const caps = Buffer.alloc(2);
  caps.writeUInt16LE(0xf7ff);
  const upper = Buffer.alloc(2);
  upper.writeUInt16LE(0x81bf);
  return myPacket(
    0,
    Buffer.concat([Buffer.from([0x0a]), Buffer.from('10.11.6-MariaDB-0+deb12u1\0', 'latin1'), Buffer.alloc(4, 7), scramble.subarray(0, 8), Buffer.from([0]), caps, Buffer.from([0x2d]), Buffer.from([2, 0]), upper, Buffer.from([21]), Buffer.alloc(10), scramble.subarray(8), Buffer.from([0]), Buffer.from(`${plugin}\0`, 'latin1')]),
  );
}

function myNative(password: string, scramble: Buffer): Buffer {
  const sha1 = (...parts: Buffer[]): Buffer => parts.reduce((h, p) => h.update(p), createHash('sha1')).digest();
  const stage1 = sha1(Buffer.from(password));
  const mask = sha1(scramble, sha1(stage1));
  return Buffer.from(stage1.map((b, i) => b ^ mask[i]!));
}

/** HandshakeResponse41 with CLIENT_SECURE_CONNECTION, CONNECT_WITH_DB and PLUGIN_AUTH. */
function myLogin(user: string, auth: Buffer, database: string, plugin = 'mysql_native_password'): Buffer {
  const head = Buffer.alloc(32);
  head.writeUInt32LE(0x000aa20d | 0x8000 | 0x8 | 0x80000, 0);
  head.writeUInt32LE(16777216, 4);
  head[8] = 0x2d;
  return myPacket(1, Buffer.concat([head, Buffer.from(`${user}\0`), Buffer.from([auth.length]), auth, Buffer.from(`${database}\0${plugin}\0`)]));
}

test('MySQL: a native-password login whose line cracks to the password, an auth switch, a cleartext plugin (high), ERR 1045, SSL not followed', async () => {
  const scramble = Buffer.from('0123456789abcdefghij', 'latin1');
  const ok = conn(3306).server(myGreeting(scramble)).client(myLogin('shop', myNative('Db-pw-1', scramble), 'shopdb')).server(myPacket(2, Buffer.from([0, 0, 0, 2, 0, 0, 0])));
  const fresh = Buffer.from('ABCDEFGHIJKLMNOPQRST', 'latin1');
  const switched = conn(13306, { ip: '198.18.0.41' })
    .server(myGreeting(scramble, 'caching_sha2_password'))
    .client(myLogin('ops', Buffer.alloc(32, 1), '', 'caching_sha2_password'))
    .server(myPacket(2, Buffer.concat([Buffer.from([0xfe]), Buffer.from('mysql_native_password\0'), fresh, Buffer.from([0])])))
    .client(myPacket(3, myNative('Ops-pw-2', fresh)))
    .server(myPacket(4, Buffer.concat([Buffer.from([0xff, 0x15, 0x04]), Buffer.from('#28000Access denied')])));
  const clear = conn(3306, { ip: '198.18.0.42' }).server(myGreeting(scramble, 'mysql_clear_password')).client(myLogin('legacy', Buffer.from('Clear-pw-3\0'), 'old', 'mysql_clear_password')).server(myPacket(2, Buffer.from([0, 0, 0, 2, 0, 0, 0])));
  const sslHead = Buffer.alloc(32);
  sslHead.writeUInt32LE(0x000aa20d | 0x800, 0);
  const tls = conn(3306, { ip: '198.18.0.43' }).server(myGreeting(scramble)).client(myPacket(1, sslHead)).client(Buffer.from([0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5]));
  const r = await scanShowingSecrets(ok, switched, clear, tls);
  const hits = cred(r.findings, 'cred-mysql');
  assert.equal(hits.length, 3, describe(r.findings));
  const shop = hits.find((f) => hasEntity(f, 'user', 'shop', 'login-succeeded'))!;
  assert.ok(shop, describe(hits));
  assert.equal(shop.severity, 'medium');
  assert.match(shop.message, /mysql_native_password.*database shopdb.*login succeeded \(OK\)/);
  assert.ok(mysqlNativeLineMatches(shop.secrets![0]!.value!, 'Db-pw-1'), shop.secrets![0]!.value);
  const ops = hits.find((f) => hasEntity(f, 'user', 'ops', 'login-failed'))!;
  assert.ok(ops, describe(hits));
  assert.match(ops.message, /ERR 1045/);
  assert.ok(mysqlNativeLineMatches(ops.secrets![0]!.value!, 'Ops-pw-2'), 'the line is not the one of the auth switch');
  const legacy = hits.find((f) => hasEntity(f, 'user', 'legacy', 'login-succeeded'))!;
  assert.equal(legacy.severity, 'high');
  assert.equal(legacy.secrets![0]!.value, 'Clear-pw-3');
});

// --- Redis --------------------------------------------------------------------

/** A RESP array of bulk strings, as clients send commands. */
function resp(...args: (string | Buffer)[]): Buffer {
  return Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.map((a) => Buffer.concat([Buffer.from(`$${Buffer.byteLength(a)}\r\n`), Buffer.from(a), Buffer.from('\r\n')]))]);
}

test('Redis: AUTH (requirepass and ACL user), HELLO AUTH with a RESP3 map reply, inline AUTH on 6379; pipelined replies paired by order, bulk values with line breaks counted by length', async () => {
  const accepted = conn(16380).client(resp('AUTH', 'Req-pw-1')).server('+OK\r\n');
  // Pipelined: a value holding CRLF and a line starting with "-", then a wrong AUTH; the replies come in order.
  const tricky = 'a\r\n-ERR not a reply\r\n*9\r\nb';
  const pipelined = conn(6379, { ip: '198.18.0.51' })
    .client(Buffer.concat([resp('PING'), resp('SET', 'k', tricky), resp('GET', 'k'), resp('AUTH', 'ops', 'Wrong-pw')]))
    .server(`+PONG\r\n+OK\r\n$${tricky.length}\r\n${tricky}\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n`);
  const hello = conn(6379, { ip: '198.18.0.52' })
    .client(resp('HELLO', '3', 'AUTH', 'alice', 'Alice-pw-2', 'SETNAME', 'app'))
    .server('%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nmodules\r\n*0\r\n$5\r\nproto\r\n:3\r\n');
  const inline = conn(6379, { ip: '198.18.0.53' }).client('AUTH Inline-pw-3\r\n').server('+OK\r\n');
  const noAuth = conn(6379, { ip: '198.18.0.54' }).client(resp('GET', 'x')).server('$-1\r\n');
  const r = await scanShowingSecrets(accepted, pipelined, hello, inline, noAuth);
  const hits = cred(r.findings, 'cred-redis');
  assert.equal(hits.length, 4, describe(r.findings));
  const req = hits.find((f) => hasEntity(f, 'host', `${SERVER_IP}:16380`, 'server'))!;
  assert.ok(hasEntity(req, 'user', 'default', 'login-succeeded'), describe([req]));
  assert.equal(req.severity, 'high');
  assert.equal(req.secrets![0]!.value, 'Req-pw-1');
  const wrong = hits.find((f) => hasEntity(f, 'user', 'ops', 'login-failed'))!;
  assert.ok(wrong, describe(hits));
  assert.equal(wrong.severity, 'medium');
  assert.match(wrong.message, /WRONGPASS/);
  const alice = hits.find((f) => hasEntity(f, 'user', 'alice', 'login-succeeded'))!;
  assert.ok(alice, describe(hits));
  assert.match(alice.message, /HELLO AUTH/);
  assert.equal(alice.secrets![0]!.value, 'Alice-pw-2');
  const inl = hits.find((f) => hasEntity(f, 'ip', '198.18.0.53', 'client'))!;
  assert.ok(hasEntity(inl, 'user', 'default', 'login-succeeded'), describe([inl]));
  assert.equal(inl.secrets![0]!.value, 'Inline-pw-3');
});

test('Redis: a broken array length is malformed; mutated sessions never throw; the password is redacted by default', async () => {
  const broken = conn(6379, { ip: '198.18.0.60' }).client('*99999999999\r\n$4\r\nAUTH\r\n');
  const convs = [broken, conn(6379).client(resp('AUTH', 'Pw-9')).server('-ERR invalid password\r\n')];
  const valid = Buffer.concat([resp('PING'), resp('AUTH', 'u', 'p'), resp('HELLO', '3', 'AUTH', 'u', 'p')]);
  const reply = Buffer.from('+PONG\r\n-WRONGPASS x\r\n%1\r\n$1\r\na\r\n*2\r\n:1\r\n$3\r\nabc\r\n');
  const next = rng(99);
  for (let n = 0; n < 200; n++) convs.push(conn(6379, { ip: `198.18.1.${n}` }).client(mutated(valid, 3, next)).server(mutated(reply, 3, next)));
  const findings = await findingsOf(...convs);
  assert.ok(findings.some((f) => f.rule_id === 'decode-malformed' && /Redis command array length/.test(f.message)), describe(findings));
  const refused = cred(findings, 'cred-redis').find((f) => hasEntity(f, 'ip', CLIENT_IP, 'client'))!;
  assertCredential(refused, 6379, 'default', 'failed', 4);
});

// --- SOCKS5 -------------------------------------------------------------------

/** RFC 1929 username/password request. */
function socksLogin(user: string, password: string): Buffer {
  return Buffer.concat([Buffer.from([1, user.length]), Buffer.from(user), Buffer.from([password.length]), Buffer.from(password)]);
}

/** RFC 1928 request (or reply) for a domain name target. */
function socksConnect(host: string, port: number, code = 1): Buffer {
  return Buffer.concat([Buffer.from([5, code, 0, 3, host.length]), Buffer.from(host), Buffer.from([port >> 8, port & 0xff])]);
}

const SOCKS_OK = Buffer.from([5, 0, 0, 1, 198, 18, 0, 1, 0x9c, 0x40]);

test('SOCKS5: username/password accepted is high and names the CONNECT target, refused is medium; any port; one-byte segments; a greeting without method 2 is not followed', async () => {
  const ok = conn(1080).client(Buffer.from([5, 2, 0, 2])).server(Buffer.from([5, 2])).client(socksLogin('alice', 'Socks-pw-1')).server(Buffer.from([1, 0])).client(socksConnect('intranet.example', 443)).server(SOCKS_OK);
  const refused = conn(1080, { ip: '198.18.0.71' }).client(Buffer.from([5, 1, 2])).server(Buffer.from([5, 2])).client(socksLogin('bob', 'nope')).server(Buffer.from([1, 1])).close();
  // Another port; the greeting and login in one segment (a client that does not wait), an IPv4 target.
  const odd = conn(31080, { ip: '198.18.0.72' })
    .client(Buffer.concat([Buffer.from([5, 1, 2]), socksLogin('carol', 'Pw-3')]))
    .server(Buffer.from([5, 2, 1, 0]))
    .client(Buffer.from([5, 1, 0, 1, 198, 19, 0, 7, 0, 80]));
  // Every byte in its own segment.
  const slow = conn(1080, { ip: '198.18.0.73' });
  for (const b of Buffer.concat([Buffer.from([5, 2, 0, 2])])) slow.client(Buffer.from([b]));
  slow.server(Buffer.from([5, 2]));
  for (const b of socksLogin('dave', 'Pw-dave-4')) slow.client(Buffer.from([b]));
  slow.server(Buffer.from([1, 0])).close();
  const noAuth = conn(1080, { ip: '198.18.0.74' }).client(Buffer.from([5, 1, 0])).server(Buffer.from([5, 0])).client(socksConnect('x.example', 80)).server(SOCKS_OK);
  const r = await scanShowingSecrets(ok, refused, odd, slow, noAuth);
  const hits = cred(r.findings, 'cred-socks');
  assert.equal(hits.length, 4, describe(r.findings));
  const alice = hits.find((f) => hasEntity(f, 'user', 'alice', 'login-succeeded'))!;
  assert.ok(alice, describe(hits));
  assert.equal(alice.severity, 'high');
  assert.deepEqual(alice.attack.techniques, ['T1040']);
  assert.ok(hasEntity(alice, 'host', `${SERVER_IP}:1080`, 'server'));
  assert.match(alice.message, /CONNECT intranet\.example:443/);
  assert.equal(alice.secrets![0]!.value, 'Socks-pw-1');
  const bob = hits.find((f) => hasEntity(f, 'user', 'bob', 'login-failed'))!;
  assert.ok(bob, describe(hits));
  assert.equal(bob.severity, 'medium');
  const carol = hits.find((f) => hasEntity(f, 'user', 'carol', 'login-succeeded'))!;
  assert.ok(carol && hasEntity(carol, 'host', `${SERVER_IP}:31080`, 'server'), describe(hits));
  assert.match(carol.message, /CONNECT 198\.19\.0\.7:80/);
  const dave = hits.find((f) => hasEntity(f, 'user', 'dave', 'login-succeeded'))!;
  assert.ok(dave, describe(hits));
  assert.equal(dave.secrets![0]!.value, 'Pw-dave-4');
  assert.ok(!r.findings.some((f) => hasEntity(f, 'ip', '198.18.0.74')), describe(r.findings));
});

test('SOCKS5: look-alikes stay quiet, a broken version is malformed, mutated sessions never throw, the password is redacted by default', async () => {
  // Binary protocols that start with 5 but are no SOCKS5 greeting offering method 2.
  const lookAlikes = [
    conn(1080, { ip: '198.18.0.80' }).client(Buffer.from([5, 3, 0, 1, 0xff])).server(Buffer.from([5, 0xff])),
    conn(9000, { ip: '198.18.0.81' }).client(Buffer.from([5, 2, 0, 2, 7, 7, 7])).server(Buffer.from([1, 0])),
  ];
  const broken = conn(1080, { ip: '198.18.0.82' }).client(Buffer.from([5, 1, 2])).server(Buffer.from([5, 2])).client(Buffer.from([9, 1, 0x41, 1, 0x42]));
  const refused = conn(1080).client(Buffer.from([5, 1, 2])).server(Buffer.from([5, 2])).client(socksLogin('erin', 'Pw-5')).server(Buffer.from([1, 0xff]));
  const convs = [...lookAlikes, broken, refused];
  const valid = Buffer.concat([Buffer.from([5, 2, 0, 2]), socksLogin('u', 'p'), socksConnect('h.example', 443)]);
  const reply = Buffer.from([5, 2, 1, 0, ...SOCKS_OK]);
  const next = rng(7);
  for (let n = 0; n < 300; n++) convs.push(conn(1080, { ip: `198.18.2.${n % 250}`, port: 50000 + n }).client(mutated(valid, 2, next)).server(mutated(reply, 2, next)));
  const findings = await findingsOf(...convs);
  for (const ip of ['198.18.0.80', '198.18.0.81']) assert.ok(!findings.some((f) => f.rule_id.startsWith('cred-') && hasEntity(f, 'ip', ip)), `${ip}: ${describe(findings)}`);
  assert.ok(findings.some((f) => f.rule_id === 'decode-malformed' && /SOCKS5 username\/password request of an unknown version/.test(f.message)), describe(findings));
  assertCredential(cred(findings, 'cred-socks').find((f) => hasEntity(f, 'ip', CLIENT_IP, 'client'))!, 1080, 'erin', 'failed', 4);
});

// --- MQTT ---------------------------------------------------------------------

interface MqttConnectSpec {
  level?: 3 | 4 | 5;
  clientId?: string;
  user?: string;
  password?: string;
  will?: { topic: string; message: string };
  flags?: number;
}

const mqttString = (s: string): Buffer => Buffer.concat([Buffer.from([s.length >> 8, s.length & 0xff]), Buffer.from(s, 'utf8')]);

/** An MQTT control packet: type and flags, the remaining length as a variable-length integer, the body. */
function mqttPacket(typeAndFlags: number, body: Buffer): Buffer {
  const len: number[] = [];
  let n = body.length;
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from([typeAndFlags, ...len]), body]);
}

function mqttConnect(s: MqttConnectSpec): Buffer {
  const level = s.level ?? 4;
  const v5 = level === 5;
  let flags = s.flags ?? 0x02;
  if (s.user !== undefined) flags |= 0x80;
  if (s.password !== undefined) flags |= 0x40;
  if (s.will) flags |= 0x04;
  // MQTT 5 properties: Session Expiry Interval (0x11), four bytes.
  const props = v5 ? Buffer.from([5, 0x11, 0, 0, 0, 60]) : Buffer.alloc(0);
  const parts = [mqttString(level === 3 ? 'MQIsdp' : 'MQTT'), Buffer.from([level, flags, 0, 60]), props, mqttString(s.clientId ?? 'sensor-7')];
  if (s.will) parts.push(v5 ? Buffer.from([0]) : Buffer.alloc(0), mqttString(s.will.topic), mqttString(s.will.message));
  if (s.user !== undefined) parts.push(mqttString(s.user));
  if (s.password !== undefined) parts.push(mqttString(s.password));
  return mqttPacket(0x10, Buffer.concat(parts));
}

/** CONNACK: session present 0 and the return (3.1.x) or reason (5.0, then empty properties) code. */
const mqttConnack = (code: number, v5 = false): Buffer => mqttPacket(0x20, Buffer.from(v5 ? [0, code, 0] : [0, code]));
const MQTT_PUBLISH = mqttPacket(0x30, Buffer.concat([mqttString('plant/line1/temp'), Buffer.from('21.5')]));

test('MQTT: CONNECT accepted is high and names the client id, refused is medium (3.1, 3.1.1, 5.0); any port; one-byte segments; a will; no password, no finding', async () => {
  const ok = conn(1883).client(mqttConnect({ user: 'plant', password: 'Mqtt-pw-1', clientId: 'press-04' })).server(mqttConnack(0)).client(MQTT_PUBLISH);
  const v5 = conn(1883, { ip: '198.18.0.71' }).client(mqttConnect({ level: 5, user: 'bob', password: 'nope', will: { topic: 'bye', message: 'gone' } })).server(mqttConnack(0x86, true)).close();
  const v31 = conn(1883, { ip: '198.18.0.72' }).client(mqttConnect({ level: 3, user: 'carol', password: 'Pw-3' })).server(mqttConnack(4)).close();
  // Another port, the CONNECT and a PUBLISH in one segment before the broker answers.
  const odd = conn(31883, { ip: '198.18.0.73' }).client(Buffer.concat([mqttConnect({ level: 5, user: 'dave', password: 'Pw-dave-4' }), MQTT_PUBLISH])).server(mqttConnack(0, true));
  const slow = conn(1883, { ip: '198.18.0.74' });
  for (const b of mqttConnect({ user: 'erin', password: 'Pw-erin-5', clientId: '' })) slow.client(Buffer.from([b]));
  for (const b of mqttConnack(0)) slow.server(Buffer.from([b]));
  const userOnly = conn(1883, { ip: '198.18.0.75' }).client(mqttConnect({ user: 'device-token-abc' })).server(mqttConnack(0));
  const anonymous = conn(1883, { ip: '198.18.0.76' }).client(mqttConnect({})).server(mqttConnack(0));
  const r = await scanShowingSecrets(ok, v5, v31, odd, slow, userOnly, anonymous);
  const hits = cred(r.findings, 'cred-mqtt');
  assert.equal(hits.length, 5, describe(r.findings));
  const plant = hits.find((f) => hasEntity(f, 'user', 'plant', 'login-succeeded'))!;
  assert.ok(plant, describe(hits));
  assert.equal(plant.severity, 'high');
  assert.deepEqual(plant.attack.techniques, ['T1040']);
  assert.ok(hasEntity(plant, 'host', `${SERVER_IP}:1883`, 'server'));
  assert.match(plant.message, /MQTT CONNECT \(MQTT 3\.1\.1\).*client id 'press-04'.*login succeeded \(CONNACK return code 0x00\)/);
  assert.equal(plant.secrets![0]!.value, 'Mqtt-pw-1');
  const bob = hits.find((f) => hasEntity(f, 'user', 'bob', 'login-failed'))!;
  assert.ok(bob, describe(hits));
  assert.equal(bob.severity, 'medium');
  assert.match(bob.message, /MQTT 5\.0.*CONNACK reason code 0x86/);
  const carol = hits.find((f) => hasEntity(f, 'user', 'carol', 'login-failed'))!;
  assert.ok(carol, describe(hits));
  assert.match(carol.message, /MQTT 3\.1\)/);
  const dave = hits.find((f) => hasEntity(f, 'user', 'dave', 'login-succeeded'))!;
  assert.ok(dave && hasEntity(dave, 'host', `${SERVER_IP}:31883`, 'server'), describe(hits));
  const erin = hits.find((f) => hasEntity(f, 'user', 'erin', 'login-succeeded'))!;
  assert.ok(erin, describe(hits));
  assert.equal(erin.secrets![0]!.value, 'Pw-erin-5');
  assert.match(erin.message, /client id '\(empty\)'/);
  for (const ip of ['198.18.0.75', '198.18.0.76']) assert.ok(!r.findings.some((f) => hasEntity(f, 'ip', ip)), `${ip}: ${describe(r.findings)}`);
});

test('MQTT: look-alikes stay quiet, broken CONNECTs are malformed, a refusal before the password is checked is unknown, mutated sessions never throw, the password is redacted', async () => {
  // Binary streams that start with 0x10 but are no CONNECT.
  const lookAlikes = [
    conn(1883, { ip: '198.18.0.80' }).client(Buffer.from([0x10, 8, 0, 4, 0x4d, 0x51, 0x54, 0x54, 9, 0xc2])).server(mqttConnack(0)),
    conn(9000, { ip: '198.18.0.81' }).client(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3])).server(Buffer.from([0x20, 2, 0, 0])),
  ];
  // The password's length runs past the packet; the reserved flag set.
  const overrun = mqttConnect({ user: 'frank', password: 'Pw-6' });
  overrun[overrun.length - 6] = 0x40;
  const broken = conn(1883, { ip: '198.18.0.82' }).client(overrun).server(mqttConnack(0));
  const reserved = conn(1883, { ip: '198.18.0.83' }).client(mqttConnect({ user: 'gina', password: 'Pw-7', flags: 0x03 })).server(mqttConnack(0));
  const versionRefused = conn(1883).client(mqttConnect({ user: 'hank', password: 'Pw-hank-8' })).server(mqttConnack(1));
  const convs = [...lookAlikes, broken, reserved, versionRefused];
  const valid = Buffer.concat([mqttConnect({ level: 5, user: 'u', password: 'p', will: { topic: 't', message: 'm' } }), MQTT_PUBLISH]);
  const reply = mqttConnack(0, true);
  const next = rng(11);
  for (let n = 0; n < 300; n++) convs.push(conn(1883, { ip: `198.18.2.${n % 250}`, port: 50000 + n }).client(mutated(valid, 2, next)).server(mutated(reply, 1, next)));
  const findings = await findingsOf(...convs);
  for (const ip of ['198.18.0.80', '198.18.0.81', '198.18.0.82', '198.18.0.83']) assert.ok(!findings.some((f) => f.rule_id.startsWith('cred-') && hasEntity(f, 'ip', ip)), `${ip}: ${describe(findings)}`);
  const malformed = findings.filter((f) => f.rule_id === 'decode-malformed').map((f) => f.message);
  assert.ok(malformed.some((m) => /mqtt: CONNECT user name or password runs past the packet/.test(m)), malformed.join('\n'));
  assert.ok(malformed.some((m) => /mqtt: CONNECT with the reserved flag set/.test(m)), malformed.join('\n'));
  const hank = cred(findings, 'cred-mqtt').find((f) => hasEntity(f, 'ip', CLIENT_IP, 'client'))!;
  assertCredential(hank, 1883, 'hank', 'unknown', 9);
  assert.match(hank.message, /refused before the password was checked/);
});

// --- VNC ----------------------------------------------------------------------

const rfb = (minor: number): Buffer => Buffer.from(`RFB 003.00${minor}\n`, 'latin1');
const u32be = (n: number): Buffer => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const VNC_CHALLENGE = Buffer.from('84076f040550eea9341967633b5f3855', 'hex');

test('VNC: the challenge-response of RFB 3.8 and 3.3 is reported as a $vnc$ line that cracks to the password (medium accepted, low refused); VeNCrypt Plain is a cleartext password; any port', async () => {
  const v38 = conn(5900).server(rfb(8)).client(rfb(8)).server(Buffer.from([2, 2, 19])).client(Buffer.from([2])).server(VNC_CHALLENGE).client(vncResponse('Vnc-pw-1', VNC_CHALLENGE)).server(u32be(0)).client(Buffer.from([1]));
  const reason = Buffer.from('Authentication failed');
  const refused = conn(5901, { ip: '198.18.0.71' }).server(rfb(8)).client(rfb(8)).server(Buffer.from([1, 2])).client(Buffer.from([2])).server(VNC_CHALLENGE).client(vncResponse('guess', VNC_CHALLENGE)).server(Buffer.concat([u32be(1), u32be(reason.length), reason])).close();
  // RFB 3.3: the server names the type; a viewer speaking 3.8 to a 3.3 server speaks 3.3.
  const v33 = conn(15900, { ip: '198.18.0.72' }).server(rfb(3)).client(rfb(8)).server(u32be(2)).server(VNC_CHALLENGE).client(vncResponse('LongerThan8', VNC_CHALLENGE)).server(u32be(0));
  const user = Buffer.from('operator');
  const password = Buffer.from('Plain-pw-4');
  const plain = conn(5900, { ip: '198.18.0.73' })
    .server(rfb(8))
    .client(rfb(8))
    .server(Buffer.from([1, 19]))
    .client(Buffer.from([19]))
    .server(Buffer.from([0, 2]))
    .client(Buffer.from([0, 2]))
    .server(Buffer.from([0]))
    .server(Buffer.concat([Buffer.from([2]), u32be(261), u32be(256)]))
    .client(u32be(256))
    .client(Buffer.concat([u32be(user.length), u32be(password.length), user, password]))
    .server(u32be(0));
  const none = conn(5900, { ip: '198.18.0.74' }).server(rfb(8)).client(rfb(8)).server(Buffer.from([1, 1])).client(Buffer.from([1])).server(u32be(0));
  const r = await scanShowingSecrets(v38, refused, v33, plain, none);
  const hits = cred(r.findings, 'cred-vnc');
  assert.equal(hits.length, 4, describe(r.findings));
  const byClient = (ip: string): Finding => {
    const f = hits.find((x) => hasEntity(x, 'ip', ip, 'client'));
    assert.ok(f, `${ip}: ${describe(hits)}`);
    return f;
  };
  const ok = byClient(CLIENT_IP);
  assert.equal(ok.severity, 'medium');
  assert.deepEqual(ok.attack.techniques, ['T1040']);
  assert.ok(hasEntity(ok, 'host', `${SERVER_IP}:5900`, 'server') && hasEntity(ok, 'user', '(no user)', 'login-succeeded'), describe([ok]));
  assert.match(ok.message, /VNC password authentication \(RFB 3\.8\).*login succeeded/);
  assert.ok(vncLineMatches(ok.secrets![0]!.value!, 'Vnc-pw-1') && !vncLineMatches(ok.secrets![0]!.value!, 'Vnc-pw-2'), ok.secrets![0]!.value);
  const bad = byClient('198.18.0.71');
  assert.equal(bad.severity, 'low');
  assert.match(bad.message, /login failed \(SecurityResult failed \(Authentication failed\)\)/);
  assert.ok(vncLineMatches(bad.secrets![0]!.value!, 'guess'));
  const old = byClient('198.18.0.72');
  assert.match(old.message, /RFB 3\.3/);
  // Only the first eight characters count.
  assert.ok(vncLineMatches(old.secrets![0]!.value!, 'LongerTh'));
  const p = byClient('198.18.0.73');
  assert.equal(p.severity, 'high');
  assert.ok(hasEntity(p, 'user', 'operator', 'login-succeeded'), describe([p]));
  assert.equal(p.secrets![0]!.value, 'Plain-pw-4');
  assert.ok(!r.findings.some((f) => hasEntity(f, 'ip', '198.18.0.74')), describe(r.findings));
});

test('VNC: look-alikes stay quiet, a broken version is malformed, mutated handshakes never throw, the line is redacted by default', async () => {
  const lookAlikes = [
    // Text that starts like RFB but is no version line; a server that offers only TLS (18).
    conn(5900, { ip: '198.18.0.80' }).server(Buffer.from('RFB is a protocol\r\n')).client(Buffer.from('hello\r\n')),
    conn(5900, { ip: '198.18.0.81' }).server(rfb(8)).client(rfb(8)).server(Buffer.from([1, 18])).client(Buffer.from([18])),
  ];
  const broken = conn(5900, { ip: '198.18.0.82' }).server(rfb(8)).client(Buffer.from('RFB 3.8 please\n'));
  const refused = conn(5900).server(rfb(7)).client(rfb(7)).server(Buffer.from([1, 2])).client(Buffer.from([2])).server(VNC_CHALLENGE).client(vncResponse('x', VNC_CHALLENGE)).server(u32be(1));
  const convs = [...lookAlikes, broken, refused];
  const client = Buffer.concat([rfb(8), Buffer.from([2]), vncResponse('p', VNC_CHALLENGE)]);
  const server = Buffer.concat([rfb(8), Buffer.from([2, 2, 19]), VNC_CHALLENGE, u32be(0)]);
  const next = rng(13);
  for (let n = 0; n < 300; n++) convs.push(conn(5900, { ip: `198.18.2.${n % 250}`, port: 50000 + n }).server(mutated(server, 2, next)).client(mutated(client, 2, next)).server(u32be(0)));
  const findings = await findingsOf(...convs);
  for (const ip of ['198.18.0.80', '198.18.0.81', '198.18.0.82']) assert.ok(!findings.some((f) => f.rule_id.startsWith('cred-') && hasEntity(f, 'ip', ip)), `${ip}: ${describe(findings)}`);
  assert.ok(findings.some((f) => f.rule_id === 'decode-malformed' && /RFB client version is not/.test(f.message)), describe(findings));
  const f = cred(findings, 'cred-vnc').find((x) => hasEntity(x, 'ip', CLIENT_IP, 'client'))!;
  assertCredential(f, 5900, '(no user)', 'failed', 71);
  assert.match(f.message, /RFB 3\.7/);
});

// --- MS-SQL (TDS) -----------------------------------------------------------------

const tdsPacket = (type: number, payload: Buffer, status = 1): Buffer => {
  const h = Buffer.alloc(8);
  h[0] = type;
  h[1] = status;
  h.writeUInt16BE(8 + payload.length, 2);
  h[6] = 1;
  return Buffer.concat([h, payload]);
};

/** PRELOGIN with VERSION and ENCRYPTION options ([MS-TDS] 2.2.6.5); the server's answer is the same options in a response packet (type 4). */
function tdsPrelogin(encryption: number, type = 0x12): Buffer {
  const table = Buffer.from([0, 0, 11, 0, 6, 1, 0, 17, 0, 1, 0xff]);
  return tdsPacket(type, Buffer.concat([table, Buffer.from([15, 0, 0x07, 0xd0, 0, 0]), Buffer.from([encryption])]));
}

const tdsPreloginAnswer = (encryption: number): Buffer => tdsPrelogin(encryption, 0x04);

/** LOGIN7 with its strings in UCS-2, the password obfuscated as clients do (nibbles swapped, XOR 0xA5). */
function tdsLogin7(user: string, password: string, opts: { host?: string; app?: string; database?: string } = {}): Buffer {
  const strings = [opts.host ?? 'WS-042', user, password, opts.app ?? 'Report Builder', '198.18.0.1', '', 'ODBC', 'us_english', opts.database ?? ''];
  const fixed = Buffer.alloc(36 + 4 * strings.length + 6 + 4 * 4);
  fixed.writeUInt32LE(0x74000004, 4);
  let off = fixed.length;
  const data: Buffer[] = [];
  strings.forEach((s, i) => {
    let bytes = Buffer.from(s, 'utf16le');
    if (i === 2) bytes = Buffer.from(bytes.map((b) => (((b << 4) | (b >> 4)) & 0xff) ^ 0xa5));
    fixed.writeUInt16LE(off, 36 + 4 * i);
    fixed.writeUInt16LE(s.length, 36 + 4 * i + 2);
    data.push(bytes);
    off += bytes.length;
  });
  const body = Buffer.concat([fixed, ...data]);
  body.writeUInt32LE(body.length, 0);
  return tdsPacket(0x10, body);
}

const tdsToken = (type: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([type, body.length & 0xff, body.length >> 8]), body]);
const TDS_DONE = Buffer.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const TDS_ENVCHANGE = tdsToken(0xe3, Buffer.from([1, 6, ...Buffer.from('master', 'utf16le'), 0]));
const TDS_LOGINACK = tdsPacket(0x04, Buffer.concat([TDS_ENVCHANGE, tdsToken(0xad, Buffer.from([1, 0x74, 0, 0, 4, 0, 15, 0, 0, 0])), TDS_DONE]));
const tdsError = (n: number): Buffer => {
  const e = Buffer.alloc(6);
  e.writeUInt32LE(n, 0);
  e[4] = 1;
  e[5] = 14;
  return tdsPacket(0x04, Buffer.concat([tdsToken(0xaa, Buffer.concat([e, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0])])), TDS_DONE]));
};

test('MS-SQL: a LOGIN7 outside TLS is a cleartext password (accepted high, refused medium); without PRELOGIN and on another port too; encrypted logins stay quiet', async () => {
  const ok = conn(1433).client(tdsPrelogin(2)).server(tdsPreloginAnswer(2)).client(tdsLogin7('svc_report', 'Sql-pw-1', { database: 'Finance' })).server(TDS_LOGINACK);
  const refused = conn(1433, { ip: '198.18.0.71' }).client(tdsPrelogin(0)).server(tdsPreloginAnswer(2)).client(tdsLogin7('sa', 'guess')).server(tdsError(18456)).close();
  // A TDS 7.0 client that sends its LOGIN7 first, to a named instance's port.
  const old = conn(49170, { ip: '198.18.0.72' }).client(tdsLogin7('legacy', 'Pw-legacy-3')).server(TDS_LOGINACK);
  // The server supports encryption: a TLS handshake in PRELOGIN packets follows, then the login inside TLS.
  const tls = conn(1433, { ip: '198.18.0.73' }).client(tdsPrelogin(0)).server(tdsPreloginAnswer(0)).client(tdsPacket(0x12, Buffer.from([0x16, 3, 1, 0, 4, 1, 0, 0, 0]))).client(Buffer.from([0x17, 3, 3, 0, 40, ...Buffer.alloc(40, 7)]));
  const r = await scanShowingSecrets(ok, refused, old, tls);
  const hits = cred(r.findings, 'cred-mssql');
  assert.equal(hits.length, 3, describe(r.findings));
  const svc = hits.find((f) => hasEntity(f, 'user', 'svc_report', 'login-succeeded'))!;
  assert.ok(svc, describe(hits));
  assert.equal(svc.severity, 'high');
  assert.deepEqual(svc.attack.techniques, ['T1040']);
  assert.ok(hasEntity(svc, 'host', `${SERVER_IP}:1433`, 'server'));
  assert.match(svc.message, /MS-SQL LOGIN7 .*host 'WS-042', application 'Report Builder', server name '198\.18\.0\.1', database 'Finance'.*login succeeded \(LOGINACK\)/);
  assert.equal(svc.secrets![0]!.value, 'Sql-pw-1');
  const sa = hits.find((f) => hasEntity(f, 'user', 'sa', 'login-failed'))!;
  assert.ok(sa, describe(hits));
  assert.equal(sa.severity, 'medium');
  assert.match(sa.message, /login failed \(error 18456\)/);
  const legacy = hits.find((f) => hasEntity(f, 'user', 'legacy', 'login-succeeded'))!;
  assert.ok(legacy && hasEntity(legacy, 'host', `${SERVER_IP}:49170`, 'server'), describe(hits));
  assert.equal(legacy.secrets![0]!.value, 'Pw-legacy-3');
  assert.ok(!r.findings.some((f) => hasEntity(f, 'ip', '198.18.0.73') || (f.rule_id === 'decode-malformed' && /tds/i.test(f.message))), describe(r.findings));
});

test('MS-SQL Windows logins (SSPI): the NTLM exchange after a LOGIN7 encrypted alone ("encryption off" on both sides) or sent in clear is a crackable hash; full TLS stays quiet', async () => {
  const challenge = Buffer.from('1122334455667788', 'hex');
  const ntResponse = Buffer.concat([Buffer.alloc(16, 0xbb), Buffer.alloc(48, 0x02)]);
  const sspiAnswer = tdsPacket(0x04, tdsToken(0xed, ntlmChallengeMessage(challenge)));
  const authenticate = (user: string): Buffer => tdsPacket(0x11, ntlmAuthenticateMessage({ user, domain: 'CORP', ntResponse }));
  const tlsHandshake = tdsPacket(0x12, Buffer.from([0x16, 3, 1, 0, 4, 1, 0, 0, 0]));
  const encryptedLogin = Buffer.from([0x17, 3, 3, 0, 48, ...Buffer.alloc(48, 7)]);
  // Encryption "off" on both sides: TLS for the LOGIN7 alone, then the NTLM exchange in clear.
  const off = conn(1433)
    .client(tdsPrelogin(0))
    .server(tdsPreloginAnswer(0))
    .client(tlsHandshake)
    .server(tdsPacket(0x12, Buffer.from([0x16, 3, 3, 0, 4, 2, 0, 0, 0])))
    .client(encryptedLogin)
    .server(sspiAnswer)
    .client(authenticate('svc_etl'))
    .server(TDS_LOGINACK);
  // No encryption support: the LOGIN7 (with its NTLM NEGOTIATE, no SQL user) in clear; refused.
  const clear = conn(1433, { ip: '198.18.0.74' }).client(tdsPrelogin(2)).server(tdsPreloginAnswer(2)).client(tdsLogin7('', '')).server(sspiAnswer).client(authenticate('kim')).server(tdsError(18452));
  // The client asked for encryption: everything stays in TLS, whatever follows.
  const on = conn(1433, { ip: '198.18.0.75' }).client(tdsPrelogin(1)).server(tdsPreloginAnswer(0)).client(tlsHandshake).client(encryptedLogin).server(sspiAnswer).client(authenticate('nobody'));
  // A SQL Server login encrypted alone: the answer is LOGINACK at once, nothing readable.
  const sqlAuth = conn(1433, { ip: '198.18.0.76' }).client(tdsPrelogin(0)).server(tdsPreloginAnswer(0)).client(tlsHandshake).client(encryptedLogin).server(TDS_LOGINACK);
  const r = await scanShowingSecrets(off, clear, on, sqlAuth);
  const hits = cred(r.findings, 'cred-mssql');
  assert.equal(hits.length, 2, describe(r.findings));
  const etl = hits.find((f) => hasEntity(f, 'user', 'CORP\\svc_etl', 'login-succeeded'))!;
  assert.ok(etl, describe(hits));
  assert.equal(etl.severity, 'medium');
  assert.deepEqual(etl.attack.techniques, ['T1040']);
  assert.ok(hasEntity(etl, 'host', `${SERVER_IP}:1433`, 'server') && hasEntity(etl, 'ip', CLIENT_IP, 'client'));
  assert.match(etl.message, /MS-SQL TDS SSPI \(Windows authentication\) with NTLMv2.*cracked offline.*login succeeded \(LOGINACK\)/);
  assert.equal(etl.secrets![0]!.value, `svc_etl::CORP:1122334455667788:${'bb'.repeat(16)}:${'02'.repeat(48)}`);
  const kim = hits.find((f) => hasEntity(f, 'user', 'CORP\\kim', 'login-failed'))!;
  assert.ok(kim && hasEntity(kim, 'ip', '198.18.0.74', 'client'), describe(hits));
  assert.match(kim.message, /login failed \(error 18452\)/);
  // Its LOGIN7 was in clear: what it named is in the message.
  assert.match(kim.message, /host 'WS-042', application 'Report Builder'/);
  for (const ip of ['198.18.0.75', '198.18.0.76']) assert.ok(!r.findings.some((f) => hasEntity(f, 'ip', ip)), `${ip}: ${describe(r.findings)}`);
  assert.ok(!r.findings.some((f) => f.rule_id === 'decode-malformed'), describe(r.findings));
  // Mutated Windows logins, both ways: never an exception.
  const next = rng(29);
  const client = Buffer.concat([tdsPrelogin(0), tlsHandshake, encryptedLogin, authenticate('fuzz')]);
  const server = Buffer.concat([tdsPreloginAnswer(0), sspiAnswer, TDS_LOGINACK]);
  const convs = [];
  for (let n = 0; n < 300; n++) convs.push(conn(1433, { ip: `198.18.3.${n % 250}`, port: 50000 + n }).client(mutated(client, 2, next)).server(mutated(server, 2, next)));
  await findingsOf(...convs);
});

test('MS-SQL: look-alikes stay quiet, a LOGIN7 whose password runs past the packet is malformed, mutated sessions never throw, the password is redacted', async () => {
  const lookAlikes = [
    conn(1433, { ip: '198.18.0.80' }).client(Buffer.from([0x12, 1, 0, 40, 0, 0, 1, 0, 9, 9, 9, 9, 9, 9, 9, 9])).server(Buffer.from([4, 1, 0, 8, 0, 0, 1, 0])),
    conn(9000, { ip: '198.18.0.81' }).client(Buffer.from([0x10, 1, 0, 16, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0x20])),
  ];
  const cut = tdsLogin7('frank', 'Pw-6');
  cut.writeUInt16LE(200, 8 + 36 + 4 * 2 + 2);
  const broken = conn(1433, { ip: '198.18.0.82' }).client(tdsPrelogin(2)).server(tdsPreloginAnswer(2)).client(cut).server(TDS_LOGINACK);
  const unknown = conn(1433).client(tdsPrelogin(2)).server(tdsPreloginAnswer(2)).client(tdsLogin7('gina', 'Pw-gina-7')).server(tdsPacket(0x04, Buffer.from([0x81, 1, 0])));
  const convs = [...lookAlikes, broken, unknown];
  const client = Buffer.concat([tdsPrelogin(2), tdsLogin7('u', 'p')]);
  const server = Buffer.concat([tdsPreloginAnswer(2), TDS_LOGINACK]);
  const next = rng(17);
  for (let n = 0; n < 300; n++) convs.push(conn(1433, { ip: `198.18.2.${n % 250}`, port: 50000 + n }).client(mutated(client, 2, next)).server(mutated(server, 2, next)));
  const findings = await findingsOf(...convs);
  for (const ip of ['198.18.0.80', '198.18.0.81', '198.18.0.82']) assert.ok(!findings.some((f) => f.rule_id.startsWith('cred-') && hasEntity(f, 'ip', ip)), `${ip}: ${describe(findings)}`);
  assert.ok(findings.some((f) => f.rule_id === 'decode-malformed' && /LOGIN7 user name or password runs past the packet/.test(f.message)), describe(findings));
  assertCredential(cred(findings, 'cred-mssql').find((f) => hasEntity(f, 'ip', CLIENT_IP, 'client'))!, 1433, 'gina', 'unknown', 9);
});
