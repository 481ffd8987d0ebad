// Throughput and memory benchmark: sniffwatch (ARP only, all analyzers, the
// heavier analyzers alone) against tcpdump, tshark (the ARP and the
// credential display filters) and dsniff on one generated capture, plus the
// credentials each tool finds in it against what the generator put there.
// Run with `npm run bench`; see --help for options. Results go to stdout
// (tables) and bench/out/results.json.

import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_PACKETS, ensureCapture, LOGIN_PROTOS, type EnsuredCapture, type GenerateResult, type LoginProto } from './generate.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'bench', 'out');
const CLI = 'dist/src/cli/main.js';
const GNU_TIME = '/usr/bin/time';
const TINY_PACKETS = 100;
/** GNU time: wall seconds, peak RSS KiB, user and system CPU seconds. */
const TIME_FORMAT = '%e %M %U %S';
const TIME_LINE = /^[\d.]+ (\d+) ([\d.]+) ([\d.]+)\s*$/m;

/** tshark's equivalent of sniffwatch's cleartext-login extraction (field names checked against tshark 4.0 `-G fields`). */
const TSHARK_CREDENTIAL_FILTER =
  'ftp.request.command == "PASS" || http.authorization || pop.request.command == "PASS" || imap.request.command == "LOGIN" || smtp.auth.password';
/** smtp.auth.password is only filled in when tshark decodes AUTH's base64. */
const TSHARK_CREDENTIAL_PREFS = ['-o', 'smtp.decryption:TRUE'];
/** Per protocol: sniffwatch's rule, tshark's protocol column, dsniff's service name. */
const CREDENTIAL_NAMES: Record<LoginProto, { rule: string; tshark: string; dsniff: string }> = {
  ftp: { rule: 'cred-ftp', tshark: 'FTP', dsniff: 'ftp' },
  http: { rule: 'cred-http-basic', tshark: 'HTTP', dsniff: 'http' },
  pop3: { rule: 'cred-pop3', tshark: 'POP', dsniff: 'pop3' },
  imap: { rule: 'cred-imap', tshark: 'IMAP', dsniff: 'imap' },
  smtp: { rule: 'cred-smtp', tshark: 'SMTP', dsniff: 'smtp' },
};
const SEVERITY_RANK: Record<string, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

const HELP = `usage: node dist/bench/bench.js [options]
  --packets N        packets in the main capture (default ${DEFAULT_PACKETS})
  --prefix N         packets in the small capture used for the memory check and tshark's prefix (default 200000)
  --runs N           runs per measurement; the median wall time is reported (default 3)
  --with-attack      bench on the capture with the arpspoof slice instead of the benign one
  --tshark-limit S   bench tshark on the prefix and scale if one full run would exceed S seconds (default 600)
  --skip-peers       sniffwatch rows only (no tcpdump, tshark, dsniff)`;

interface Run {
  seconds: number;
  rssKiB: number | null;
  /** User plus system CPU time (GNU time %U + %S): what contention from other processes does not inflate. */
  cpuSeconds: number | null;
  code: number | null;
  signal: string | null;
  stderrFirstLine: string;
}

interface Row {
  tool: string;
  command: string;
  file: string;
  packets: number;
  runs: Run[];
  /** Median wall time over the runs. */
  seconds: number;
  packetsPerSecond: number;
  /** Largest peak RSS over the runs. */
  peakRssMiB: number | null;
  /** Median CPU time (user + system) over the runs. */
  cpuSeconds: number | null;
  exitCodes: (number | null)[];
  ok: boolean;
  /** Set when measured on a prefix: the time a full run would take at the prefix's rate. */
  scaledFromPackets?: number;
  findings?: FindingSummary;
}

interface FindingSummary {
  lines: number;
  /** Findings per rule. */
  byRule: Record<string, number>;
  /** Occurrences per rule: the findings' `count` fields added up. */
  occurrences: Record<string, number>;
  /** Findings of medium severity or above other than cleartext credentials: none expected on the benign capture. */
  unexpected: string[];
}

type Capture = EnsuredCapture;

// ---------------------------------------------------------------- captures

function ensureBenchCapture(name: string, packets: number, withAttack: boolean): Capture {
  const path = join(OUT, name);
  return ensureCapture(path, packets, withAttack, relative(ROOT, path));
}

/** Reads the file once so every tool starts from the page cache, not from the disk. */
function warm(path: string): void {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1 << 22);
  try {
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------- running

function haveGnuTime(): boolean {
  if (!existsSync(GNU_TIME)) return false;
  const r = spawnSync(GNU_TIME, ['-f', TIME_FORMAT, 'true'], { encoding: 'utf8' });
  return r.status === 0 && TIME_LINE.test(r.stderr);
}

function toolVersion(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return null;
  const line = `${r.stdout}\n${r.stderr}`.split('\n').find((l) => l.trim() && !l.startsWith('Running as user'));
  return line?.trim() ?? '';
}

/** First stderr line worth showing; tshark's "Running as user root" banner is not. */
function firstLine(path: string): string {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(65536);
  const n = readSync(fd, buf, 0, buf.length, 0);
  closeSync(fd);
  const line = buf
    .subarray(0, n)
    .toString('utf8')
    .split('\n')
    .find((l) => l.trim() && !l.startsWith('Running as user'));
  return line?.trim() ?? '';
}

let useTime = false;

function runOnce(cmd: string, args: string[], stdoutPath: string): Run {
  const timeFile = join(OUT, '.time.txt');
  const errFile = join(OUT, '.stderr.txt');
  const outFd = openSync(stdoutPath, 'w');
  const errFd = openSync(errFile, 'w');
  const [file, argv] = useTime ? [GNU_TIME, ['-f', TIME_FORMAT, '-o', timeFile, cmd, ...args]] : [cmd, args];
  if (useTime) writeFileSync(timeFile, '');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { cwd: ROOT, stdio: ['ignore', outFd, errFd] });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  closeSync(outFd);
  closeSync(errFd);
  let rssKiB: number | null = null;
  let cpuSeconds: number | null = null;
  if (useTime) {
    // GNU time may put "Command exited with non-zero status N" before the format line.
    const m = TIME_LINE.exec(readFileSync(timeFile, 'utf8'));
    if (m) {
      rssKiB = Number(m[1]);
      cpuSeconds = Number(m[2]) + Number(m[3]);
    }
  }
  return {
    seconds,
    rssKiB,
    cpuSeconds,
    code: r.error ? null : r.status,
    signal: r.signal,
    stderrFirstLine: r.error ? r.error.message : firstLine(errFile),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** sniffwatch exits 1 when it reports findings at or above --fail-on: a completed scan, not a failure. */
const SNIFFWATCH_OK = [0, 1];

interface Measurement {
  tool: string;
  cmd: string;
  args: string[];
  capture: Capture;
  stdoutPath?: string;
  okCodes?: number[];
}

function measure(tool: string, cmd: string, args: string[], capture: Capture, runs: number, stdoutPath = '/dev/null', okCodes = [0]): Row {
  return measureAlternating([{ tool, cmd, args, capture, stdoutPath, okCodes }], runs)[0]!;
}

/**
 * Runs the measurements in turn, run by run (A, B, A, B...), so that a
 * machine whose speed drifts over minutes slows every row alike and their
 * ratios stay honest; one row per measurement.
 */
function measureAlternating(ms: readonly Measurement[], runs: number): Row[] {
  const results: Run[][] = ms.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, m] of ms.entries()) {
      const r = runOnce(m.cmd, m.args, m.stdoutPath ?? '/dev/null');
      results[k]!.push(r);
      const failed = r.code === null || !(m.okCodes ?? [0]).includes(r.code);
      process.stderr.write(`  ${m.tool} run ${i + 1}/${runs}: ${r.seconds.toFixed(2)} s${r.cpuSeconds !== null ? ` (CPU ${r.cpuSeconds.toFixed(2)} s)` : ''}${r.rssKiB !== null ? `, ${(r.rssKiB / 1024).toFixed(0)} MiB` : ''}${failed ? `, exit ${r.code ?? r.signal}: ${r.stderrFirstLine}` : ''}\n`);
    }
  }
  return ms.map((m, k) => toRow(m.tool, m.cmd, m.args, m.capture, results[k]!, m.stdoutPath ?? '/dev/null', m.okCodes ?? [0]));
}

function toRow(tool: string, cmd: string, args: string[], capture: Capture, results: Run[], stdoutPath: string, okCodes: number[]): Row {
  const seconds = median(results.map((r) => r.seconds));
  const rss = results.map((r) => r.rssKiB).filter((x): x is number => x !== null);
  const cpu = results.map((r) => r.cpuSeconds).filter((x): x is number => x !== null);
  // Paths relative to the repository, and quoted where a shell would need it, so the command can be pasted.
  const shownArgs = args.map((a) => (a.startsWith(ROOT) ? relative(ROOT, a) : a)).map((a) => (/^[\w./:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  return {
    tool,
    command: [cmd === process.execPath ? 'node' : cmd, ...shownArgs].join(' ') + (stdoutPath === '/dev/null' ? ' > /dev/null' : ` > ${relative(ROOT, stdoutPath)}`),
    file: relative(ROOT, capture.path),
    packets: capture.packets,
    runs: results,
    seconds,
    packetsPerSecond: capture.packets / seconds,
    peakRssMiB: rss.length ? Math.max(...rss) / 1024 : null,
    cpuSeconds: cpu.length === results.length ? median(cpu) : null,
    exitCodes: results.map((r) => r.code),
    ok: results.every((r) => r.code !== null && okCodes.includes(r.code)),
  };
}

function summariseFindings(path: string): FindingSummary | undefined {
  if (!existsSync(path) || statSync(path).size > 256 * 2 ** 20) return undefined;
  const byRule: Record<string, number> = {};
  const occurrences: Record<string, number> = {};
  const unexpected: string[] = [];
  let lines = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    lines++;
    let rule = '(not JSON)';
    let count = 1;
    try {
      const v = JSON.parse(line) as { rule_id?: unknown; count?: unknown; severity?: unknown; message?: unknown };
      rule = typeof v.rule_id === 'string' ? v.rule_id : '(no rule_id)';
      if (typeof v.count === 'number') count = v.count;
      const rank = SEVERITY_RANK[String(v.severity)] ?? 0;
      if (rank >= SEVERITY_RANK.medium! && !rule.startsWith('cred-') && unexpected.length < 20) unexpected.push(`${rule} (${String(v.severity)}): ${String(v.message).slice(0, 200)}`);
    } catch {
      // counted as not JSON
    }
    byRule[rule] = (byRule[rule] ?? 0) + 1;
    occurrences[rule] = (occurrences[rule] ?? 0) + count;
  }
  return { lines, byRule, occurrences, unexpected };
}

/** dsniff's records ("-----" then "date time proto src -> dst (service)") per service. */
function countDsniffRecords(path: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (!existsSync(path)) return out;
  for (const line of readFileSync(path, 'latin1').split('\n')) {
    const m = /^\d\d\/\d\d\/\d\d \d\d:\d\d:\d\d \S+ \S+ -> \S+ \(([^)]+)\)$/.exec(line);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + 1;
  }
  return out;
}

/** Frames tshark printed per protocol column (`-T fields -e frame.number -e _ws.col.Protocol`). */
function countTsharkFrames(path: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (!existsSync(path)) return out;
  for (const line of readFileSync(path, 'latin1').split('\n')) {
    const proto = line.split('\t')[1]?.trim();
    if (proto) out[proto] = (out[proto] ?? 0) + 1;
  }
  return out;
}

// ---------------------------------------------------------------- report

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Aligned text table: first column left-aligned, the others right-aligned. */
function renderTable(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function table(rows: Row[], arp: Row | undefined, all: Row | undefined): string {
  const ratio = (sw: Row | undefined, r: Row): string => (sw?.ok && r.ok ? (sw.packetsPerSecond / r.packetsPerSecond).toFixed(2) + 'x' : '-');
  const head = ['tool', 'packets', 'seconds', 'CPU s', 'packets/s', 'peak RSS MiB', 'exit', 'sw-arp / this', 'sw-all / this'];
  const body = rows.map((r) => [
    r.tool + (r.scaledFromPackets ? ' *' : ''),
    fmtInt(r.packets),
    r.seconds.toFixed(2),
    r.cpuSeconds === null || r.scaledFromPackets ? '-' : r.cpuSeconds.toFixed(2),
    fmtInt(r.packetsPerSecond),
    r.peakRssMiB === null ? 'n/a' : r.peakRssMiB.toFixed(1),
    [...new Set(r.exitCodes.map((c) => (c === null ? 'err' : String(c))))].join(','),
    ratio(arp, r),
    ratio(all, r),
  ]);
  return renderTable(head, body);
}

interface CredentialCounts {
  protocol: string;
  sessions: number | null;
  attempts: number | null;
  refused: number | null;
  sniffwatchFindings: number;
  sniffwatchOccurrences: number;
  tsharkFrames: number | null;
  dsniffRecords: number | null;
}

/** What the generator put in the file against what each tool extracted from it, per protocol. */
function credentialCounts(capture: GenerateResult, sw: FindingSummary | undefined, tshark: Record<string, number> | undefined, dsniff: Record<string, number> | undefined): CredentialCounts[] {
  const rows: CredentialCounts[] = LOGIN_PROTOS.map((p) => {
    const names = CREDENTIAL_NAMES[p];
    const truth = capture.logins?.[p];
    return {
      protocol: p,
      sessions: truth?.sessions ?? null,
      attempts: truth?.attempts ?? null,
      refused: truth?.failed ?? null,
      sniffwatchFindings: sw?.byRule[names.rule] ?? 0,
      sniffwatchOccurrences: sw?.occurrences[names.rule] ?? 0,
      tsharkFrames: tshark ? (tshark[names.tshark] ?? 0) : null,
      dsniffRecords: dsniff ? (dsniff[names.dsniff] ?? 0) : null,
    };
  });
  // SNMP communities: both sniffwatch and dsniff report them; tshark's filter above does not ask for them.
  rows.push({
    protocol: 'snmp (requests)',
    sessions: null,
    attempts: capture.snmpRequests ?? null,
    refused: null,
    sniffwatchFindings: sw?.byRule['cred-snmp-community'] ?? 0,
    sniffwatchOccurrences: sw?.occurrences['cred-snmp-community'] ?? 0,
    tsharkFrames: null,
    dsniffRecords: dsniff ? (dsniff.snmp ?? 0) : null,
  });
  return rows;
}

function credentialTable(rows: CredentialCounts[]): string {
  const n = (x: number | null): string => (x === null ? '-' : fmtInt(x));
  const head = ['protocol', 'sessions', 'password msgs', 'refused', 'sw findings', 'sw occurrences', 'tshark -Y frames', 'dsniff records'];
  return renderTable(
    head,
    rows.map((r) => [r.protocol, n(r.sessions), n(r.attempts), n(r.refused), n(r.sniffwatchFindings), n(r.sniffwatchOccurrences), n(r.tsharkFrames), n(r.dsniffRecords)]),
  );
}

// ---------------------------------------------------------------- main

function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${text}`);
  return n;
}

interface TsharkResult {
  row: Row;
  target: Capture;
  probe?: { packets: number; seconds: number; estimatedFullSeconds: number };
}

/** tshark on the full capture, or on the prefix (scaled) when one timed probe says a full run would take longer than `limit`. */
function measureTshark(tool: string, args: (file: string) => string[], full: Capture, prefix: Capture, runs: number, limit: number, stdoutPath: string, notes: string[]): TsharkResult {
  let target = full;
  let probe: TsharkResult['probe'];
  if (prefix.packets < full.packets) {
    const p = runOnce('tshark', args(prefix.path), '/dev/null');
    const estimate = (p.seconds * full.packets) / prefix.packets;
    probe = { packets: prefix.packets, seconds: p.seconds, estimatedFullSeconds: estimate };
    process.stderr.write(`${tool} probe on ${fmtInt(prefix.packets)} packets: ${p.seconds.toFixed(1)} s, full run estimated at ${estimate.toFixed(0)} s\n`);
    if (estimate > limit) target = prefix;
  }
  process.stderr.write(`${tool}\n`);
  const row = measure(tool, 'tshark', args(target.path), target, runs, stdoutPath);
  if (target !== full) {
    row.scaledFromPackets = target.packets;
    row.packets = full.packets;
    row.seconds = full.packets / row.packetsPerSecond;
    notes.push(`* ${tool} measured on the ${fmtInt(target.packets)}-packet prefix (a full run was estimated above ${limit} s); seconds scaled to ${fmtInt(full.packets)} packets at the prefix's rate, peak RSS is the prefix's`);
  }
  return { row, target, probe };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      packets: { type: 'string', default: String(DEFAULT_PACKETS) },
      prefix: { type: 'string', default: '200000' },
      runs: { type: 'string', default: '3' },
      'with-attack': { type: 'boolean', default: false },
      'tshark-limit': { type: 'string', default: '600' },
      'skip-peers': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const packets = positiveInt(values.packets, '--packets');
  const prefixPackets = Math.min(positiveInt(values.prefix, '--prefix'), packets);
  const runs = positiveInt(values.runs, '--runs');
  const withAttack = values['with-attack'];
  const tsharkLimit = Number(values['tshark-limit']);
  mkdirSync(OUT, { recursive: true });
  const notes: string[] = [];
  const loadAtStart = loadavg();

  useTime = haveGnuTime();
  if (!useTime) notes.push(`${GNU_TIME} (GNU time) is missing or not GNU: wall time only, no peak RSS (Debian: apt-get install time)`);

  // The benign capture of `prefix` packets is byte for byte the start of the benign full one.
  const full = ensureBenchCapture(withAttack ? 'capture-attack.pcap' : 'capture.pcap', packets, withAttack);
  const prefix = ensureBenchCapture('prefix.pcap', prefixPackets, false);
  const tiny = ensureBenchCapture('tiny.pcap', TINY_PACKETS, false);
  warm(full.path);
  warm(prefix.path);

  const node = process.execPath;
  const sw = (extra: string[], file: string): string[] => [CLI, 'scan', '--format', 'jsonl', ...extra, file];
  const rows: Row[] = [];
  if (!existsSync(join(ROOT, CLI))) notes.push(`${CLI} does not exist (not built yet?): sniffwatch rows will show its failure`);

  process.stderr.write('sniffwatch start-up (tiny capture)\n');
  const [startArp, startAll] = measureAlternating(
    [
      { tool: 'sniffwatch ARP only (start-up)', cmd: node, args: sw(['--analyzers', 'arp'], tiny.path), capture: tiny, stdoutPath: join(OUT, 'startup-arp.jsonl'), okCodes: SNIFFWATCH_OK },
      { tool: 'sniffwatch all (start-up)', cmd: node, args: sw([], tiny.path), capture: tiny, stdoutPath: join(OUT, 'startup-all.jsonl'), okCodes: SNIFFWATCH_OK },
    ],
    runs,
  ) as [Row, Row];

  process.stderr.write('sniffwatch on the full capture (the four rows alternate run by run)\n');
  const fullRows = [
    { tool: 'sniffwatch ARP only', extra: ['--analyzers', 'arp'], out: 'sniffwatch-arp.jsonl' },
    { tool: 'sniffwatch all analyzers', extra: [], out: 'sniffwatch-all.jsonl' },
    ...['credentials', 'names'].map((name) => ({ tool: `sniffwatch --analyzers ${name}`, extra: ['--analyzers', name], out: `sniffwatch-${name}.jsonl` })),
  ];
  const measured = measureAlternating(
    fullRows.map((r) => ({ tool: r.tool, cmd: node, args: sw(r.extra, full.path), capture: full, stdoutPath: join(OUT, r.out), okCodes: SNIFFWATCH_OK })),
    runs,
  );
  for (const [k, row] of measured.entries()) row.findings = summariseFindings(join(OUT, fullRows[k]!.out));
  const [arp, all, ...perAnalyzer] = measured as [Row, Row, ...Row[]];
  rows.push(arp, all, ...perAnalyzer);
  /** all / ARP only within each round, then the median: the ratio the drift of the machine touches least. */
  const pairedRatio = median(all.runs.map((r, i) => r.seconds / arp.runs[i]!.seconds));

  const skipPeers = values['skip-peers'];
  const tcpdumpVersion = skipPeers ? null : toolVersion('tcpdump', ['--version']);
  if (!skipPeers && tcpdumpVersion === null) notes.push('tcpdump not found: skipped (Debian: tcpdump)');
  else if (tcpdumpVersion !== null) {
    process.stderr.write('tcpdump\n');
    rows.push(measure('tcpdump -w /dev/null', 'tcpdump', ['-n', '-r', full.path, '-w', '/dev/null'], full, runs));
  }

  const tsharkVersion = skipPeers ? null : toolVersion('tshark', ['--version']);
  let tsharkArp: TsharkResult | undefined;
  let tsharkCred: TsharkResult | undefined;
  const tsharkCredOut = join(OUT, 'tshark-credentials.tsv');
  if (!skipPeers && tsharkVersion === null) notes.push('tshark not found: skipped (Debian: tshark)');
  else if (tsharkVersion !== null) {
    tsharkArp = measureTshark('tshark -Y arp', (file) => ['-n', '-r', file, '-Y', 'arp', '-T', 'fields', '-e', 'frame.number'], full, prefix, runs, tsharkLimit, '/dev/null', notes);
    rows.push(tsharkArp.row);
    tsharkCred = measureTshark(
      'tshark -Y <credentials>',
      (file) => ['-n', ...TSHARK_CREDENTIAL_PREFS, '-r', file, '-Y', TSHARK_CREDENTIAL_FILTER, '-T', 'fields', '-e', 'frame.number', '-e', '_ws.col.Protocol'],
      full,
      prefix,
      runs,
      tsharkLimit,
      tsharkCredOut,
      notes,
    );
    rows.push(tsharkCred.row);
  }

  const dsniffVersion = skipPeers ? null : toolVersion('dsniff', ['-h']);
  let dsniff: Row | undefined;
  const dsniffOut = join(OUT, 'dsniff.txt');
  if (!skipPeers && dsniffVersion === null) notes.push('dsniff not found: skipped (Debian: dsniff)');
  else if (dsniffVersion !== null) {
    process.stderr.write('dsniff\n');
    // -n: no name lookups; -p: read the capture file. Only the services in dsniff.services (by port) are decoded.
    dsniff = measure('dsniff -n -p', 'dsniff', ['-n', '-p', full.path], full, runs, dsniffOut);
    rows.push(dsniff);
  }

  process.stderr.write('memory check: sniffwatch on the prefix\n');
  const [smallArp, smallAll] = measureAlternating(
    [
      { tool: 'sniffwatch ARP only', cmd: node, args: sw(['--analyzers', 'arp'], prefix.path), capture: prefix, stdoutPath: join(OUT, 'sniffwatch-arp-prefix.jsonl'), okCodes: SNIFFWATCH_OK },
      { tool: 'sniffwatch all analyzers', cmd: node, args: sw([], prefix.path), capture: prefix, stdoutPath: join(OUT, 'sniffwatch-all-prefix.jsonl'), okCodes: SNIFFWATCH_OK },
    ],
    runs,
  ) as [Row, Row];
  const loadAtEnd = loadavg();

  // ---- report
  const exclStartup = (row: Row, start: Row): number | null =>
    row.ok && start.ok && row.seconds > start.seconds ? row.packets / (row.seconds - start.seconds) : null;
  const arpExcl = exclStartup(arp, startArp);
  const allExcl = exclStartup(all, startAll);

  const out: string[] = [];
  out.push(
    `capture: ${relative(ROOT, full.path)}, ${fmtInt(full.packets)} packets, ${(full.bytes / 2 ** 20).toFixed(0)} MiB, ${full.captureSeconds.toFixed(1)} s of traffic` +
      (full.generated ? `, generated in ${full.seconds.toFixed(1)} s` : ' (reused)') +
      (withAttack ? ', with arpspoof slice' : ', benign'),
  );
  out.push(`mix: ${Object.entries(full.counts).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ')}; TLS handshakes 1.2 ${fmtInt(full.tlsHandshakes?.tls12 ?? 0)}, 1.3 ${fmtInt(full.tlsHandshakes?.tls13 ?? 0)}`);
  out.push(`machine: ${cpus()[0]?.model ?? '?'} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  out.push(`load average (1, 5, 15 min): ${loadAtStart.map((x) => x.toFixed(2)).join(' ')} at start, ${loadAtEnd.map((x) => x.toFixed(2)).join(' ')} at end`);
  out.push('');
  out.push(table(rows, arp, all));
  out.push('');
  out.push(
    `seconds: median wall time of ${runs} runs, spawn to exit; CPU s: median user + system CPU time (GNU time %U + %S; Node's I/O threads count too); ` +
      `peak RSS: largest maximum resident set size over the runs (${useTime ? 'GNU time %M' : 'not measured'}).`,
  );
  out.push('exit: distinct exit codes over the runs; sniffwatch exits 1 when it reports findings at or above --fail-on, which counts as a completed run.');
  out.push(`sw-arp / sw-all: sniffwatch ARP-only / all-analyzers packets/s divided by that row's packets/s.`);
  if (arp.ok && all.ok) {
    out.push(
      `all analyzers vs ARP only: ${(all.seconds / arp.seconds).toFixed(2)}x the wall time with start-up` +
        (arpExcl !== null && allExcl !== null ? `, ${(arpExcl / allExcl).toFixed(2)}x without` : '') +
        (all.cpuSeconds !== null && arp.cpuSeconds !== null ? `; ${(all.cpuSeconds / arp.cpuSeconds).toFixed(2)}x the CPU time` : '') +
        (all.cpuSeconds !== null && arp.cpuSeconds !== null && startAll.cpuSeconds !== null && startArp.cpuSeconds !== null
          ? `, ${((all.cpuSeconds - startAll.cpuSeconds) / (arp.cpuSeconds - startArp.cpuSeconds)).toFixed(2)}x without start-up`
          : '') +
        `; median of the per-round wall-time ratios (the rows alternate run by run): ${pairedRatio.toFixed(2)}x with start-up`,
    );
  }
  out.push(
    `sniffwatch excluding Node start-up: ARP only ${arpExcl === null ? 'n/a' : fmtInt(arpExcl)} packets/s, all analyzers ${allExcl === null ? 'n/a' : fmtInt(allExcl)} packets/s ` +
      `(start-up = median wall time of the same command on a ${TINY_PACKETS}-packet capture: ${startArp.seconds.toFixed(3)} s / ${startAll.seconds.toFixed(3)} s, subtracted).`,
  );
  for (const r of [arp, all, ...perAnalyzer, startArp, startAll, smallArp, smallAll]) {
    if (!r.ok) out.push(`${r.tool} on ${r.file} FAILED: exit ${r.exitCodes.join(',')}: ${r.runs.find((x) => x.code === null || x.code > 1)?.stderrFirstLine ?? ''}`);
  }
  for (const r of rows.filter((x) => !x.tool.startsWith('sniffwatch'))) {
    if (!r.ok) out.push(`${r.tool} exited non-zero (${r.exitCodes.join(',')}): ${r.runs.find((x) => x.code !== 0)?.stderrFirstLine ?? ''}`);
  }
  for (const r of [arp, all]) {
    if (r.findings) {
      const rules = Object.entries(r.findings.byRule)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v} (${r.findings!.occurrences[k]} occurrences)`)
        .join(', ');
      out.push(`${r.tool}: ${r.findings.lines} findings${rules ? `: ${rules}` : ''}`);
    }
  }
  const unexpected = all.findings?.unexpected ?? [];
  out.push(`findings of medium severity or above other than cleartext credentials (all analyzers): ${unexpected.length === 0 ? 'none' : unexpected.length}`);
  for (const u of unexpected) out.push(`  ${u}`);

  const tsharkCounts = tsharkCred && tsharkCred.target === full && tsharkCred.row.ok ? countTsharkFrames(tsharkCredOut) : undefined;
  const dsniffCounts = dsniff?.ok ? countDsniffRecords(dsniffOut) : undefined;
  const creds = credentialCounts(full, all.findings, tsharkCounts, dsniffCounts);
  out.push('');
  out.push(`cleartext credentials in ${relative(ROOT, full.path)}: what the generator wrote, and what each tool extracted`);
  out.push(credentialTable(creds));
  out.push('sessions / password msgs / refused: ground truth from the generator (TCP connections with a login; messages carrying a password; of those, refused by the server).');
  out.push('sw findings: sniffwatch findings (one per client, server and user); sw occurrences: their counts added up (one per password message).');
  out.push(`tshark -Y frames: frames matching ${TSHARK_CREDENTIAL_FILTER} (with ${TSHARK_CREDENTIAL_PREFS.join(' ')}); dsniff records: one per connection (TCP) or request (SNMP).`);
  if (tsharkCred && tsharkCred.target !== full) out.push('tshark ran on the prefix only: its credential counts are not comparable and are left out.');

  const mem = (r: Row): string => (r.peakRssMiB === null ? 'n/a' : `${r.peakRssMiB.toFixed(1)} MiB`);
  for (const [name, small, big] of [
    ['ARP only', smallArp, arp],
    ['all analyzers', smallAll, all],
  ] as const) {
    out.push('');
    out.push(`memory flatness, sniffwatch ${name}:`);
    out.push(`  ${fmtInt(small.packets).padStart(11)} packets: peak RSS ${mem(small)}, ${small.seconds.toFixed(2)} s`);
    out.push(`  ${fmtInt(big.packets).padStart(11)} packets: peak RSS ${mem(big)}, ${big.seconds.toFixed(2)} s`);
    if (small.peakRssMiB !== null && big.peakRssMiB !== null) {
      out.push(`  ${(big.packets / small.packets).toFixed(0)}x the packets, ${(big.peakRssMiB / small.peakRssMiB).toFixed(2)}x the peak RSS`);
    }
  }
  if (notes.length) out.push('', ...notes);
  console.log(out.join('\n'));

  const results = {
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? null,
      cpus: cpus().length,
      memoryGiB: totalmem() / 2 ** 30,
      node: process.version,
      tcpdump: tcpdumpVersion,
      tshark: tsharkVersion,
      dsniff: dsniffVersion,
      loadAverage: { start: loadAtStart, end: loadAtEnd },
    },
    runs,
    capture: full,
    prefixCapture: prefix,
    rows,
    startup: { arp: startArp, all: startAll },
    excludingStartup: { arpPacketsPerSecond: arpExcl, allPacketsPerSecond: allExcl },
    allVsArp:
      arp.ok && all.ok
        ? { withStartup: all.seconds / arp.seconds, withoutStartup: arpExcl !== null && allExcl !== null ? arpExcl / allExcl : null, pairedWithStartup: pairedRatio }
        : null,
    memoryFlatness: { arp: { prefix: smallArp, full: arp }, all: { prefix: smallAll, full: all } },
    credentials: { filter: TSHARK_CREDENTIAL_FILTER, perProtocol: creds },
    tsharkProbes: { arp: tsharkArp?.probe, credentials: tsharkCred?.probe },
    notes,
  };
  writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(`\nresults written to ${relative(ROOT, join(OUT, 'results.json'))}`);
}

main();
