import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDemoCapture } from '../../src/craft/demo.js';
import { berElement, berInteger, ipv4UdpFrame, snmpPayload, TcpConversation } from '../../src/craft/frames.js';
import { defaultConfig } from '../../src/config/config.js';
import { scanCaptures } from '../../src/pipeline.js';
import { writePcap } from '../helpers/captures.js';
import { runCli } from '../helpers/cli.js';
import { rng, withMutatedFrames } from '../helpers/fuzz.js';

// Hostile input: seeded mutations of real captures (bit flips, smashed length
// fields, truncations, spliced records) through the whole pipeline with every
// analyzer. Whatever the bytes, a scan ends with findings and, at worst, a
// located error: never an exception, a hang or unbounded memory.

const CORPUS = new URL('../../../../shared/corpus/pcap/', import.meta.url).pathname;
const MUTATIONS_PER_FILE = 12;
// More rounds for a deeper local run: SNIFFWATCH_FUZZ_ROUNDS=500 node --test dist/test/conformance/mutation-fuzz.test.js
const FRAME_ROUNDS = Number(process.env.SNIFFWATCH_FUZZ_ROUNDS ?? 8);

function mutate(input: Buffer, seed: number): Buffer {
  const r = rng(seed);
  const out = Buffer.from(input);
  const kind = seed % 4;
  // Keep the file header mostly intact so the mutations reach the decoders.
  const body = Math.min(64, out.length);
  const pick = (): number => body + Math.floor(r() * Math.max(1, out.length - body));
  if (kind === 0) {
    for (let i = 0; i < 1 + out.length / 200; i++) out[pick()] ^= 1 << Math.floor(r() * 8);
  } else if (kind === 1) {
    // Length-like fields: 0, 0xff.., or large values at random aligned spots.
    for (let i = 0; i < 1 + out.length / 500; i++) {
      const at = pick() & ~1;
      if (at + 2 <= out.length) out.writeUInt16BE([0, 0xffff, 0x8000, 1][Math.floor(r() * 4)]!, at);
    }
  } else if (kind === 2) {
    return out.subarray(0, body + Math.floor(r() * (out.length - body)));
  } else {
    const a = pick();
    const b = pick();
    return Buffer.concat([out.subarray(0, Math.min(a, b)), out.subarray(Math.max(a, b) - 40 > 0 ? Math.max(a, b) - 40 : 0)]);
  }
  return out;
}

function inputs(dir: string): string[] {
  const files = existsSync(CORPUS) ? readdirSync(CORPUS).filter((f) => /\.(pcap|pcapng)$/.test(f)).map((f) => join(CORPUS, f)) : [];
  return [writeDemoCapture(dir), ...files];
}

test('mutated captures never crash, hang or leak a stack trace through the pipeline', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files = inputs(dir);
  if (!existsSync(CORPUS)) t.diagnostic(`corpus not found at ${CORPUS}: fuzzing the demo capture only`);
  let scans = 0;
  let located = 0;
  const heapBefore = process.memoryUsage().heapUsed;
  for (const [i, file] of files.entries()) {
    const original = readFileSync(file);
    for (let m = 0; m < MUTATIONS_PER_FILE; m++) {
      const seed = i * 1000 + m + 1;
      const mutant = join(dir, `mutant-${seed}.pcap`);
      writeFileSync(mutant, mutate(original, seed));
      const result = await scanCaptures([mutant], { config: defaultConfig(), profile: 'production' });
      for (const e of result.errors) assert.match(e.message, /byte \d+/, `unlocated error for seed ${seed} of ${file}`);
      located += result.errors.length;
      scans++;
      rmSync(mutant);
    }
  }
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  t.diagnostic(`${scans} mutated scans, ${located} located errors, heap growth ${(heapGrowth / 1e6).toFixed(1)} MB`);
  assert.ok(heapGrowth < 200e6, `heap grew by ${heapGrowth} bytes over ${scans} scans`);
});

test('mutated packets (headers and payloads of every frame) never crash or hang the decoders and analyzers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let scans = 0;
  let frames = 0;
  for (const [i, file] of inputs(dir).entries()) {
    // The frames themselves, so the mutations hit protocol headers rather than record framing.
    scans += await withMutatedFrames(file, dir, FRAME_ROUNDS, 50_000 + i * 100, async (mutant, seed) => {
      const result = await scanCaptures([mutant], { config: defaultConfig(), profile: 'production' });
      assert.deepEqual(result.errors, [], `seed ${seed}: a pcap we wrote ourselves must read cleanly`);
      frames += result.stats.frames;
    });
  }
  t.diagnostic(`${scans} scans of ${frames} mutated frames`);
  assert.ok(frames > 0);
});

// Hand-crafted worst cases the random mutations above rarely build.

test('terminal escapes in user names, passwords, communities and file names never reach pretty or jsonl output raw', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // CSI in its 7-bit (ESC [) and 8-bit (U+009B) forms, an OSC title change, a right-to-left override, a line separator, BEL, DEL.
  const hostile = 'x\x1b[2J\u009b31m\x1b]0;pwned\x07\u202eexe.\u2028\x7f';
  const client = { mac: '02:00:00:00:00:10', ip: '198.18.0.10' };
  const server = { mac: '02:00:00:00:00:01', ip: '198.18.0.1' };
  const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
  const basic = utf8(`${hostile}:${hostile}`).toString('base64');
  const http = new TcpConversation({ ...client, port: 40001 }, { ...server, port: 80 })
    .handshake()
    .client(`GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic ${basic}\r\n\r\n`)
    .server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const bind = berElement(0x60, Buffer.concat([berInteger(3), berElement(0x04, utf8(`cn=${hostile}`)), berElement(0x80, utf8(hostile))]));
  const ldap = new TcpConversation({ ...client, port: 40002 }, { ...server, port: 389 }, { start: 1 })
    .handshake()
    .client(berElement(0x30, Buffer.concat([berInteger(1), bind])));
  const snmp = ipv4UdpFrame(client.mac, server.mac, client.ip, server.ip, 40003, 161, snmpPayload({ version: 1, community: Buffer.from(hostile, 'utf8').toString('latin1'), pdu: 0xa0, requestId: 9 }));
  const pcap = writePcap(join(dir, `cap${hostile}.pcap`), [...http.frames, ...ldap.frames, { t: 2, frame: snmp }]);
  // eslint-disable-next-line no-control-regex
  const unsafe = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;
  for (const format of ['pretty', 'jsonl']) {
    const run = runCli(['scan', '--format', format, '--show-secrets', '--fail-on', 'none', pcap]);
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stdout, unsafe, `${format} output`);
    assert.doesNotMatch(run.stderr, unsafe, `${format} stderr`);
    if (format === 'jsonl') {
      // Escaped, not altered: the text decodes back to what was on the wire.
      const values = run.findings.flatMap((f) => [...f.entities.map((e) => e.value), ...(f.secrets ?? []).map((x) => x.value ?? '')]);
      for (const v of [hostile, `cn=${hostile}`]) assert.ok(values.includes(v), JSON.stringify(values));
      assert.ok(run.findings.some((f) => f.rule_id === 'cred-snmp-community'));
      assert.ok(run.findings.every((f) => f.evidence.every((e) => e.source === pcap)));
    }
  }
});
