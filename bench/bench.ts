// Throughput and memory benchmark: sniffwatch against tcpdump and tshark on
// one generated capture. Run with `npm run bench`; see --help for options.
// Results go to stdout (a table) and bench/out/results.json.

import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_PACKETS, DEFAULT_SEED, generateCapture, GENERATOR_VERSION, type GenerateResult } from './generate.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'bench', 'out');
const CLI = 'dist/src/cli/main.js';
const GNU_TIME = '/usr/bin/time';
const TINY_PACKETS = 100;

const HELP = `usage: node dist/bench/bench.js [options]
  --packets N        packets in the main capture (default ${DEFAULT_PACKETS})
  --prefix N         packets in the small capture used for the memory check and tshark's prefix (default 200000)
  --runs N           runs per measurement; the median wall time is reported (default 3)
  --with-attack      bench on the capture with the arpspoof slice instead of the benign one
  --tshark-limit S   bench tshark on the prefix and scale if one full run would exceed S seconds (default 600)`;

interface Run {
  seconds: number;
  rssKiB: number | null;
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
  exitCodes: (number | null)[];
  ok: boolean;
  /** Set when measured on a prefix: the time a full run would take at the prefix's rate. */
  scaledFromPackets?: number;
  findings?: FindingSummary;
}

interface FindingSummary {
  lines: number;
  byRule: Record<string, number>;
}

interface Capture extends GenerateResult {
  generated: boolean;
}

// ---------------------------------------------------------------- captures

/** Reuses bench/out/<name> when its sidecar says it was made with the same settings. */
function ensureCapture(name: string, packets: number, withAttack: boolean): Capture {
  const path = join(OUT, name);
  const metaPath = `${path}.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    try {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as GenerateResult;
      if (
        meta.packets === packets &&
        meta.withAttack === withAttack &&
        meta.seed === DEFAULT_SEED &&
        meta.generatorVersion === GENERATOR_VERSION &&
        meta.bytes === statSync(path).size
      ) {
        return { ...meta, path, generated: false };
      }
    } catch {
      // unreadable sidecar: regenerate
    }
  }
  process.stderr.write(`generating ${relative(ROOT, path)} (${packets.toLocaleString('en-US')} packets${withAttack ? ', with attack slice' : ''})... `);
  const res = generateCapture({ path, packets, withAttack });
  writeFileSync(metaPath, JSON.stringify(res, null, 2) + '\n');
  process.stderr.write(`${res.seconds.toFixed(1)} s, ${(res.bytes / 2 ** 20).toFixed(0)} MiB\n`);
  return { ...res, generated: true };
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
  const r = spawnSync(GNU_TIME, ['-f', '%e %M', 'true'], { encoding: 'utf8' });
  return r.status === 0 && /^[\d.]+ \d+\s*$/m.test(r.stderr);
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
  const [file, argv] = useTime ? [GNU_TIME, ['-f', '%e %M', '-o', timeFile, cmd, ...args]] : [cmd, args];
  if (useTime) writeFileSync(timeFile, '');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { cwd: ROOT, stdio: ['ignore', outFd, errFd] });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  closeSync(outFd);
  closeSync(errFd);
  let rssKiB: number | null = null;
  if (useTime) {
    // GNU time may put "Command exited with non-zero status N" before the format line.
    const m = /^[\d.]+ (\d+)\s*$/m.exec(readFileSync(timeFile, 'utf8'));
    if (m) rssKiB = Number(m[1]);
  }
  return {
    seconds,
    rssKiB,
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

function measure(tool: string, cmd: string, args: string[], capture: Capture, runs: number, stdoutPath = '/dev/null', okCodes = [0]): Row {
  const results: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const r = runOnce(cmd, args, stdoutPath);
    results.push(r);
    const failed = r.code === null || !okCodes.includes(r.code);
    process.stderr.write(`  ${tool} run ${i + 1}/${runs}: ${r.seconds.toFixed(2)} s${r.rssKiB !== null ? `, ${(r.rssKiB / 1024).toFixed(0)} MiB` : ''}${failed ? `, exit ${r.code ?? r.signal}: ${r.stderrFirstLine}` : ''}\n`);
  }
  const seconds = median(results.map((r) => r.seconds));
  const rss = results.map((r) => r.rssKiB).filter((x): x is number => x !== null);
  const shownArgs = args.map((a) => (a.startsWith(ROOT) ? relative(ROOT, a) : a));
  return {
    tool,
    command: [cmd === process.execPath ? 'node' : cmd, ...shownArgs].join(' ') + (stdoutPath === '/dev/null' ? ' > /dev/null' : ` > ${relative(ROOT, stdoutPath)}`),
    file: relative(ROOT, capture.path),
    packets: capture.packets,
    runs: results,
    seconds,
    packetsPerSecond: capture.packets / seconds,
    peakRssMiB: rss.length ? Math.max(...rss) / 1024 : null,
    exitCodes: results.map((r) => r.code),
    ok: results.every((r) => r.code !== null && okCodes.includes(r.code)),
  };
}

function summariseFindings(path: string): FindingSummary | undefined {
  if (!existsSync(path) || statSync(path).size > 256 * 2 ** 20) return undefined;
  const byRule: Record<string, number> = {};
  let lines = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    lines++;
    let rule = '(not JSON)';
    try {
      const v = JSON.parse(line) as { rule_id?: unknown };
      rule = typeof v.rule_id === 'string' ? v.rule_id : '(no rule_id)';
    } catch {
      // counted as not JSON
    }
    byRule[rule] = (byRule[rule] ?? 0) + 1;
  }
  return { lines, byRule };
}

// ---------------------------------------------------------------- report

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');

function table(rows: Row[], arp: Row | undefined, all: Row | undefined): string {
  const ratio = (sw: Row | undefined, r: Row): string => (sw?.ok && r.ok ? (sw.packetsPerSecond / r.packetsPerSecond).toFixed(2) + 'x' : '-');
  const head = ['tool', 'packets', 'seconds', 'packets/s', 'peak RSS MiB', 'exit', 'sw-arp / this', 'sw-all / this'];
  const body = rows.map((r) => [
    r.tool + (r.scaledFromPackets ? ' *' : ''),
    fmtInt(r.packets),
    r.seconds.toFixed(2),
    fmtInt(r.packetsPerSecond),
    r.peakRssMiB === null ? 'n/a' : r.peakRssMiB.toFixed(1),
    [...new Set(r.exitCodes.map((c) => (c === null ? 'err' : String(c))))].join(','),
    ratio(arp, r),
    ratio(all, r),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------- main

function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${text}`);
  return n;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      packets: { type: 'string', default: String(DEFAULT_PACKETS) },
      prefix: { type: 'string', default: '200000' },
      runs: { type: 'string', default: '3' },
      'with-attack': { type: 'boolean', default: false },
      'tshark-limit': { type: 'string', default: '600' },
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

  useTime = haveGnuTime();
  if (!useTime) notes.push(`${GNU_TIME} (GNU time) is missing or not GNU: wall time only, no peak RSS (Debian: apt-get install time)`);

  // The benign capture of `prefix` packets is byte for byte the start of the benign full one.
  const full = ensureCapture(withAttack ? 'capture-attack.pcap' : 'capture.pcap', packets, withAttack);
  const prefix = ensureCapture('prefix.pcap', prefixPackets, false);
  const tiny = ensureCapture('tiny.pcap', TINY_PACKETS, false);
  warm(full.path);
  warm(prefix.path);

  const node = process.execPath;
  const sw = (extra: string[], file: string): string[] => [CLI, 'scan', '--format', 'jsonl', ...extra, file];
  const rows: Row[] = [];
  if (!existsSync(join(ROOT, CLI))) notes.push(`${CLI} does not exist (not built yet?): sniffwatch rows will show its failure`);

  process.stderr.write('sniffwatch start-up (tiny capture)\n');
  const startArp = measure('sniffwatch ARP only (start-up)', node, sw(['--analyzers', 'arp'], tiny.path), tiny, runs, join(OUT, 'startup-arp.jsonl'), SNIFFWATCH_OK);
  const startAll = measure('sniffwatch all (start-up)', node, sw([], tiny.path), tiny, runs, join(OUT, 'startup-all.jsonl'), SNIFFWATCH_OK);

  process.stderr.write('sniffwatch on the full capture\n');
  const arpOut = join(OUT, 'sniffwatch-arp.jsonl');
  const arp = measure('sniffwatch ARP only', node, sw(['--analyzers', 'arp'], full.path), full, runs, arpOut, SNIFFWATCH_OK);
  arp.findings = summariseFindings(arpOut);
  rows.push(arp);
  const allOut = join(OUT, 'sniffwatch-all.jsonl');
  const all = measure('sniffwatch all analyzers', node, sw([], full.path), full, runs, allOut, SNIFFWATCH_OK);
  all.findings = summariseFindings(allOut);
  rows.push(all);

  const tcpdumpVersion = toolVersion('tcpdump', ['--version']);
  if (tcpdumpVersion === null) notes.push('tcpdump not found: skipped');
  else {
    process.stderr.write('tcpdump\n');
    rows.push(measure('tcpdump -w /dev/null', 'tcpdump', ['-n', '-r', full.path, '-w', '/dev/null'], full, runs));
  }

  const tsharkVersion = toolVersion('tshark', ['--version']);
  let tsharkProbe: { packets: number; seconds: number; estimatedFullSeconds: number } | undefined;
  if (tsharkVersion === null) notes.push('tshark not found: skipped');
  else {
    const tsharkArgs = (file: string): string[] => ['-n', '-r', file, '-Y', 'arp', '-T', 'fields', '-e', 'frame.number'];
    let target = full;
    if (prefix.packets < full.packets) {
      // One timed run on the prefix decides whether a full run fits in the limit.
      const probe = runOnce('tshark', tsharkArgs(prefix.path), '/dev/null');
      const estimate = (probe.seconds * full.packets) / prefix.packets;
      tsharkProbe = { packets: prefix.packets, seconds: probe.seconds, estimatedFullSeconds: estimate };
      process.stderr.write(`tshark probe on ${fmtInt(prefix.packets)} packets: ${probe.seconds.toFixed(1)} s, full run estimated at ${estimate.toFixed(0)} s\n`);
      if (estimate > tsharkLimit) target = prefix;
    }
    process.stderr.write('tshark\n');
    const row = measure('tshark -Y arp', 'tshark', tsharkArgs(target.path), target, runs);
    if (target !== full) {
      row.scaledFromPackets = target.packets;
      row.packets = full.packets;
      row.seconds = full.packets / row.packetsPerSecond;
      notes.push(`* tshark measured on the ${fmtInt(target.packets)}-packet prefix (a full run was estimated above ${tsharkLimit} s); seconds scaled to ${fmtInt(full.packets)} packets at the prefix's rate, peak RSS is the prefix's`);
    }
    rows.push(row);
  }

  process.stderr.write('memory check: sniffwatch ARP only on the prefix\n');
  const small = measure('sniffwatch ARP only', node, sw(['--analyzers', 'arp'], prefix.path), prefix, runs, join(OUT, 'sniffwatch-arp-prefix.jsonl'), SNIFFWATCH_OK);

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
  out.push(`machine: ${cpus()[0]?.model ?? '?'} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  out.push('');
  out.push(table(rows, arp, all));
  out.push('');
  out.push(`seconds: median wall time of ${runs} runs, spawn to exit; peak RSS: largest maximum resident set size over the runs (${useTime ? 'GNU time %M' : 'not measured'}).`);
  out.push('exit: distinct exit codes over the runs; sniffwatch exits 1 when it reports findings at or above --fail-on, which counts as a completed run.');
  out.push(`sw-arp / sw-all: sniffwatch ARP-only / all-analyzers packets/s divided by that row's packets/s.`);
  out.push(
    `sniffwatch excluding Node start-up: ARP only ${arpExcl === null ? 'n/a' : fmtInt(arpExcl)} packets/s, all analyzers ${allExcl === null ? 'n/a' : fmtInt(allExcl)} packets/s ` +
      `(start-up = median wall time of the same command on a ${TINY_PACKETS}-packet capture: ${startArp.seconds.toFixed(3)} s / ${startAll.seconds.toFixed(3)} s, subtracted).`,
  );
  for (const r of [arp, all, startArp, startAll, small]) {
    if (!r.ok) out.push(`${r.tool} on ${r.file} FAILED: exit ${r.exitCodes.join(',')}: ${r.runs.find((x) => x.code === null || x.code > 1)?.stderrFirstLine ?? ''}`);
  }
  for (const r of rows.slice(2)) {
    if (!r.ok) out.push(`${r.tool} exited non-zero (${r.exitCodes.join(',')}): ${r.runs.find((x) => x.code !== 0)?.stderrFirstLine ?? ''}`);
  }
  for (const r of [arp, all]) {
    if (r.findings) {
      const rules = Object.entries(r.findings.byRule)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      out.push(`${r.tool}: ${r.findings.lines} output lines${rules ? ` (${rules})` : ''}`);
    }
  }
  out.push('');
  out.push('memory flatness, sniffwatch ARP only:');
  const mem = (r: Row): string => (r.peakRssMiB === null ? 'n/a' : `${r.peakRssMiB.toFixed(1)} MiB`);
  out.push(`  ${fmtInt(small.packets).padStart(11)} packets: peak RSS ${mem(small)}, ${small.seconds.toFixed(2)} s`);
  out.push(`  ${fmtInt(arp.packets).padStart(11)} packets: peak RSS ${mem(arp)}, ${arp.seconds.toFixed(2)} s`);
  if (small.peakRssMiB !== null && arp.peakRssMiB !== null) {
    out.push(`  ${(arp.packets / small.packets).toFixed(0)}x the packets, ${(arp.peakRssMiB / small.peakRssMiB).toFixed(2)}x the peak RSS`);
  }
  if (notes.length) out.push('', ...notes);
  console.log(out.join('\n'));

  const results = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? null, cpus: cpus().length, memoryGiB: totalmem() / 2 ** 30, node: process.version, tcpdump: tcpdumpVersion, tshark: tsharkVersion },
    runs,
    capture: full,
    prefixCapture: prefix,
    rows,
    startup: { arp: startArp, all: startAll },
    excludingStartup: { arpPacketsPerSecond: arpExcl, allPacketsPerSecond: allExcl },
    memoryFlatness: { prefix: small, full: arp },
    tsharkProbe,
    notes,
  };
  writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(`\nresults written to ${relative(ROOT, join(OUT, 'results.json'))}`);
}

main();
