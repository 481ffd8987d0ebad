import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { defaultConfig } from '../../src/config/config.js';
import type { Finding } from '../../src/findings/finding.js';
import { scanCaptures } from '../../src/pipeline.js';
import { describe, hasEntity } from '../helpers/captures.js';
import { CORPUS } from '../helpers/corpus.js';
import { DEBIAN_CAPTURES, DEBIAN_CAPTURES_MISSING, debianCapturesPresent } from '../helpers/debian.js';
import { tsharkAvailable } from '../helpers/ip-frames.js';

// Crackable logins in captures made by other tools (the Debian tcpdump and
// wireshark regression suites, the corpus), against tshark's dissectors:
// - every NTLMSSP AUTHENTICATE tshark shows with a challenge-response must be
//   reported with the same client, server, user and domain, and a hashcat
//   line holding tshark's server challenge and NTProofStr;
// - every Kerberos AS-REQ with PA-ENC-TIMESTAMP tshark shows must be reported
//   with the same client, KDC and principal, and a line holding its cipher.

const NTLMSSP = Buffer.from('NTLMSSP\0', 'latin1');
const NTLMSSP_BASE64 = Buffer.from('TlRMTVNTUA', 'latin1');

/** A capture's bytes, decompressed when gzipped (empty when the compression is broken). */
function readCapture(path: string): Buffer {
  const data = readFileSync(path);
  if (data[0] !== 0x1f || data[1] !== 0x8b) return data;
  try {
    return gunzipSync(data);
  } catch {
    return Buffer.alloc(0);
  }
}

/** Captures whose bytes hold an NTLMSSP message, raw or base64: only those need tshark's look. */
function holdsNtlm(path: string): boolean {
  const data = readCapture(path);
  return data.includes(NTLMSSP) || data.includes(NTLMSSP_BASE64);
}

interface TsharkAuth {
  frame: number;
  client: string;
  server: string;
  user: string;
  domain: string;
  challenge: string;
  proof: string;
}

const FIELDS = ['frame.number', 'tcp.stream', 'ntlmssp.messagetype', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'ntlmssp.auth.username', 'ntlmssp.auth.domain', 'ntlmssp.ntlmserverchallenge', 'ntlmssp.ntlmv2_response.ntproofstr', 'ntlmssp.auth.ntresponse'];

/** AUTHENTICATE messages tshark shows with an NT response, with the challenge of their TCP stream. */
function tsharkAuths(path: string): TsharkAuth[] {
  const r = spawnSync('tshark', ['-n', '-r', path, '-Y', 'ntlmssp.messagetype', '-T', 'fields', '-E', 'occurrence=f', ...FIELDS.flatMap((f) => ['-e', f])], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const challenges = new Map<string, string>();
  const out: TsharkAuth[] = [];
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [frame, stream = '', type, ip4s, ip4d, ip6s, ip6d, user = '', domain = '', challenge = '', proof = '', nt = ''] = line.split('\t');
    if (type === '0x00000002' && challenge) challenges.set(stream, challenge.replace(/:/g, ''));
    if (type !== '0x00000003' || nt.replace(/:/g, '').length < 48) continue;
    out.push({
      frame: Number(frame),
      client: ip4s || ip6s || '',
      server: ip4d || ip6d || '',
      user,
      domain: domain === 'NULL' ? '' : domain,
      challenge: challenges.get(stream) ?? '',
      proof: proof.replace(/:/g, ''),
    });
  }
  return out;
}

/** The DER opening of an AS-REQ (pvno 5, msg-type 10): only captures holding one need tshark's look. */
const AS_REQ_START = Buffer.from('a103020105a20302010a', 'hex');

function holdsAsReq(path: string): boolean {
  return readCapture(path).includes(AS_REQ_START);
}

interface TsharkPreauth {
  frame: number;
  client: string;
  server: string;
  principal: string;
  cipher: string;
}

/** AS-REQs with PA-ENC-TIMESTAMP (padata type 2): the first cipher of the message is its encrypted timestamp. */
function tsharkPreauths(path: string): TsharkPreauth[] {
  const fields = ['frame.number', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'kerberos.CNameString', 'kerberos.realm', 'kerberos.cipher'];
  const r = spawnSync('tshark', ['-n', '-r', path, '-Y', 'kerberos.msg_type == 10 && kerberos.padata_type == 2', '-T', 'fields', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [frame, ip4s, ip4d, ip6s, ip6d, name = '', realm = '', cipher = ''] = line.split('\t');
      return { frame: Number(frame), client: ip4s || ip6s || '', server: ip4d || ip6d || '', principal: `${name}@${realm}`, cipher: cipher.replace(/:/g, '') };
    });
}

function captures(): string[] {
  const out: string[] = [];
  for (const dir of [join(DEBIAN_CAPTURES, 'tcpdump'), join(DEBIAN_CAPTURES, 'wireshark'), CORPUS]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) if (/\.(pcap|pcapng|cap)(\.gz)?$/.test(name)) out.push(join(dir, name));
  }
  return out;
}

/** A login tshark shows: where, who, and what of it the reported hashcat line must hold. */
interface TsharkLogin {
  frame: number;
  client: string;
  server: string;
  user: string;
  /** Pieces of the line (challenge, proof, cipher parts) and how it must start. */
  lineStart: string;
  linePieces: string[];
}

/**
 * For every capture `holds` picks, each login `theirs` reads with tshark must
 * be a finding of `rule` (a prefix) naming its user, client and server, whose
 * shown secret holds the pieces.
 */
async function compareWithTshark(t: TestContext, what: string, rule: string, holds: (path: string) => boolean, theirs: (path: string) => TsharkLogin[], minimum: number): Promise<void> {
  if (!tsharkAvailable()) {
    t.skip('tool missing: tshark');
    return;
  }
  if (!debianCapturesPresent()) t.diagnostic(`Debian captures ${DEBIAN_CAPTURES_MISSING}; corpus only`);
  const problems: string[] = [];
  let logins = 0;
  for (const path of captures().filter(holds)) {
    const logs = theirs(path);
    if (logs.length === 0) continue;
    const r = await scanCaptures([path], { config: defaultConfig(), profile: 'production', showSecrets: true });
    const creds = r.findings.filter((f: Finding) => f.rule_id.startsWith(rule));
    for (const a of logs) {
      logins++;
      const hit = creds.find(
        (f) =>
          f.entities.some((e) => e.type === 'user' && e.value === a.user) &&
          hasEntity(f, 'ip', a.client, 'client') &&
          hasEntity(f, 'ip', a.server, 'server') &&
          (f.secrets ?? []).some((s) => s.value !== undefined && s.value.startsWith(a.lineStart) && a.linePieces.every((p) => s.value!.includes(p))),
      );
      if (!hit) problems.push(`${path} frame ${a.frame}: ${a.user} ${a.client} -> ${a.server} (${a.linePieces.join(', ') || 'nothing'}) not reported; sniffwatch: ${describe(creds) || 'nothing'}`);
    }
  }
  t.diagnostic(`${logins} ${what} compared`);
  assert.deepEqual(problems, []);
  if (debianCapturesPresent()) assert.ok(logins >= minimum, `only ${logins} ${what} found in the captures`);
}

test('every NTLM login tshark decodes in the Debian and corpus captures is reported with its user, hosts, challenge and proof', { timeout: 600_000 }, async (t) => {
  await compareWithTshark(t, 'NTLM logins', 'cred-', holdsNtlm, (path) =>
    tsharkAuths(path).map((a) => ({ ...a, user: a.domain ? `${a.domain}\\${a.user}` : a.user, lineStart: `${a.user}::${a.domain}:`, linePieces: [a.challenge, a.proof] })),
  5);
});

test('every Kerberos pre-authentication tshark decodes in the Debian and corpus captures is reported with its principal, hosts and cipher', { timeout: 600_000 }, async (t) => {
  // RC4-HMAC lines put the checksum (the cipher's first 16 bytes) last; AES lines keep the cipher whole.
  await compareWithTshark(t, 'Kerberos pre-authentications', 'cred-kerberos', holdsAsReq, (path) =>
    tsharkPreauths(path).map((a) => ({ ...a, user: a.principal, lineStart: '$krb5pa$', linePieces: [a.cipher.slice(32), a.cipher.slice(0, 32)] })),
  3);
});

/** The DER opening of a TGS-REP (pvno 5, msg-type 13). */
const TGS_REP_START = Buffer.from('a003020105a10302010d', 'hex');

/** TGS-REPs whose ticket tshark shows under RC4-HMAC (etype 23), referrals (krbtgt) left out: the ticket's sname, realm and cipher come first. */
function tsharkRc4Tickets(path: string): TsharkLogin[] {
  const fields = ['frame.number', 'ip.src', 'ip.dst', 'kerberos.SNameString', 'kerberos.realm', 'kerberos.etype', 'kerberos.cipher'];
  const r = spawnSync('tshark', ['-n', '-r', path, '-Y', 'kerberos.msg_type == 13', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=;', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const out: TsharkLogin[] = [];
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [frame, kdc = '', client = '', sname = '', realms = '', etypes = '', ciphers = ''] = line.split('\t');
    const spn = sname.split(';').join('/');
    const realm = realms.split(';')[1] ?? realms.split(';')[0] ?? '';
    const cipher = (ciphers.split(';')[0] ?? '').replace(/:/g, '');
    if (etypes.split(';')[0] !== '23' || /^krbtgt\//i.test(spn) || cipher.length <= 32) continue;
    out.push({ frame: Number(frame), client, server: kdc, user: `${spn}@${realm}`, lineStart: '$krb5tgs$23$', linePieces: [`${cipher.slice(0, 32)}$${cipher.slice(32)}`] });
  }
  return out;
}

test('every RC4 service ticket tshark decodes in the Debian and corpus captures is reported with its service, hosts and cipher', { timeout: 600_000 }, async (t) => {
  await compareWithTshark(t, 'RC4 service tickets', 'cred-kerberos', (path) => readCapture(path).includes(TGS_REP_START), tsharkRc4Tickets, 5);
});
