import type { Command } from 'commander';
import { PacketEngine } from '../analyzers/engine.js';
import { selectAnalyzers } from '../analyzers/index.js';
import type { RawFrame } from '../capture/frame.js';
import { EvidenceStore } from '../capture/live/evidence-store.js';
import { isCapturePseudoDevice, isDefaultCaptureInterface, isValidInterfaceName, listInterfaces, readInterface } from '../capture/live/interfaces.js';
import { LatencyRecorder } from '../capture/live/latency.js';
import { PacketRing } from '../capture/live/packet-ring.js';
import { LiveCapture, LiveCaptureError, loadPcapAddon, PERMISSION_MESSAGE, type LiveCaptureTotals, type PcapAddon } from '../capture/live/pcap-live.js';
import type { SniffwatchConfig } from '../config/config.js';
import { FindingAggregator } from '../findings/aggregate.js';
import { severityRank, type Finding, type Profile, type Severity } from '../findings/finding.js';
import { ruleCatalog } from '../findings/rules.js';
import { escapeForTerminal } from '../outputs/escape.js';
import { liveWriter } from '../outputs/live.js';
import { addAnalysisOptions } from './analysis-options.js';
import { loadConfigFlag } from './config-flag.js';
import { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, fail } from './exit.js';
import { hostWatchSensor } from '../host/watch-sensor.js';

// `sniffwatch watch`: live capture on network interfaces, one engine per
// interface, findings written the moment they appear or escalate. Interfaces
// are re-checked every couple of seconds, so one going down, coming back or
// appearing is handled (and said on stderr) without a restart.
//
// One engine per interface, not one shared: each interface is its own L2
// segment, and the analyzers' state (who owns which IP, which DHCP servers
// exist) is per segment; sharing it would make two LANs that reuse the same
// private addresses look like spoofing. Findings go to one shared aggregator
// and one output stream.

const CHECK_INTERVAL_MS = 2000;
/** Drops are reported at most this often per interface (every check counts them). */
const DROP_REPORT_INTERVAL_MS = 10_000;
/** Interfaces found automatically are capped (hosts with many containers create veths all the time). */
const MAX_AUTO_INTERFACES = 64;
const MIB = 1 << 20;

// ---- host sensors plug in here ----

/** What a sensor running beside the wire capture gets from `watch`. */
export interface WatchSensorContext {
  /** Report findings here; they are written live like wire findings. */
  readonly findings: FindingAggregator;
  readonly config: SniffwatchConfig;
  readonly profile: Profile;
  /** One line on stderr, prefixed with "sniffwatch: ". */
  note(line: string): void;
}

/** A finding source that runs during `watch` beside the wire capture (host sensors from src/host). */
export interface WatchSensor {
  readonly name: string;
  start(ctx: WatchSensorContext): void | Promise<void>;
  /** Called once on shutdown, before the summary; flush what is pending. */
  stop(): void | Promise<void>;
  /** One line for the exit summary on stderr. */
  summary?(): string | undefined;
}

export interface WatchOptions {
  /** Extra sensors started with the wire capture and stopped with it. */
  sensors?: readonly WatchSensor[];
}


// ---- command ----

export interface WatchFlags {
  iface?: string[];
  format?: 'pretty' | 'jsonl';
  profile: Profile;
  failOn: Severity | 'none';
  minSeverity: Severity;
  config?: string;
  analyzers?: string;
  evidenceDir: string;
  promisc: boolean;
  duration?: string;
  ringFrames: string;
  ringMib: string;
  evidenceMaxMib: string;
  bufferMib: string;
  immediate?: boolean;
  showSecrets?: boolean;
  /** Host sensors on (commander sets false for --no-host). */
  host: boolean;
}

export function addWatchCommand(program: Command): void {
  const watch = program
    .command('watch')
    .description('capture live on network interfaces and write findings as they happen (needs CAP_NET_RAW)')
    .option('--iface <names...>', 'interfaces to capture on, repeatable or comma-separated (default: every up, non-loopback interface; bridge and bond ports left out)');
  addAnalysisOptions(watch, { failOn: 'exit 1 at the end when a finding reached this severity', minSeverity: 'write findings of this severity and above' })
    .option('--evidence-dir <dir>', 'where the evidence pcap of each finding is written (raw traffic: keep it private)', './sniffwatch-evidence')
    .option('--no-promisc', 'do not put the interfaces into promiscuous mode')
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--ring-frames <n>', 'recent frames kept per interface for evidence', '4096')
    .option('--ring-mib <n>', 'bytes of recent frames kept per interface for evidence, in MiB', '8')
    .option('--evidence-max-mib <n>', 'cap on all evidence files of a run, in MiB', '256')
    .option('--buffer-mib <n>', 'kernel capture buffer per interface, in MiB (raise it when packets are dropped)', '32')
    .option('--immediate', 'hand over each packet at once (lowest latency, but far fewer packets fit the kernel buffer); default: blocks handed over within 1 ms')
    .option('--no-host', 'do not run the host sensors (sniffer executions, packet sockets, promiscuous interfaces, mirroring rules)')
    .action((flags: WatchFlags) => runWatch(flags, { sensors: flags.host ? [hostWatchSensor()] : [] }));
}

interface Watched {
  name: string;
  source: string;
  capture: LiveCapture;
  engine: PacketEngine;
  ring: PacketRing;
  /** ifindex the open capture is bound to; another one means the interface was re-created. */
  ifindex: number;
  /** Last problem said on stderr, so a persisting one is said once. */
  problem: string;
  reported: { dropped: number; ifdropped: number; atMs: number };
}

function positive(text: string | undefined, what: string, max: number): number {
  const n = Number(text);
  if (text === undefined || !Number.isFinite(n) || n <= 0 || n > max) fail(new Error(`${what} must be a number from 1 to ${max}, not '${text}'`));
  return n;
}

function note(line: string): void {
  process.stderr.write(`sniffwatch: ${escapeForTerminal(line)}\n`);
}

function statsLine(name: string, t: LiveCaptureTotals): string {
  return `${name}: ${t.received} packet(s) received, ${t.dropped} dropped by the kernel, ${t.ifdropped} dropped by the interface, ${t.delivered} analysed (opened ${t.opens} time(s))`;
}

export async function runWatch(flags: WatchFlags, options: WatchOptions = {}): Promise<void> {
  const config = loadConfigFlag(flags.config);
  const ringFrames = Math.floor(positive(flags.ringFrames, '--ring-frames', 1 << 20));
  const ringBytes = Math.max(65536, Math.floor(positive(flags.ringMib, '--ring-mib', 4096) * MIB));
  const evidenceMax = positive(flags.evidenceMaxMib, '--evidence-max-mib', 1 << 20) * MIB;
  const bufferBytes = Math.floor(positive(flags.bufferMib, '--buffer-mib', 1024) * MIB);
  const durationMs = flags.duration === undefined ? undefined : positive(flags.duration, '--duration', 1e9) * 1000;
  const requested = (flags.iface ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const name of requested) if (!isValidInterfaceName(name) && !isCapturePseudoDevice(name)) fail(new Error(`'${name}' is not an interface name`));
  let analyzers;
  try {
    analyzers = selectAnalyzers(flags.analyzers?.split(',').map((s) => s.trim()).filter(Boolean));
  } catch (e) {
    fail(e);
  }

  const sensors = options.sensors ?? [];
  // Without the addon or the capability the wire part cannot run; the host sensors still can.
  let addon: PcapAddon | undefined;
  try {
    addon = loadPcapAddon();
  } catch (e) {
    process.stderr.write(`sniffwatch: error: ${(e as Error).message}\n`);
    if (sensors.length === 0) {
      process.exitCode = EXIT_USAGE;
      return;
    }
    note('continuing with the host sensors only');
  }
  if (flags.showSecrets) note('warning: --show-secrets: credentials seen on the wire are printed in clear');
  // Load the rule catalogue now: lazily, the first finding would wait ~60 ms for the YAML, and a broken rule file fails here.
  try {
    ruleCatalog();
  } catch (e) {
    fail(e);
  }

  const format = flags.format ?? (process.stdout.isTTY ? 'pretty' : 'jsonl');
  const write = liveWriter(format, process.stdout);
  const minRank = severityRank(flags.minSeverity);
  const latency = new LatencyRecorder();
  const rings = new Map<string, PacketRing>();
  const evidence = new EvidenceStore({ dir: flags.evidenceDir, maxTotalBytes: evidenceMax, maxFileBytes: Math.min(8 * MIB, evidenceMax), contextFrames: 64, note });
  /** Capture time (ms) of the frame being analysed, -1 between frames. */
  let arrivalMs = -1;
  let shown = 0;

  const onChange = (f: Finding, isNew: boolean): void => {
    if (severityRank(f.severity) < minRank) return;
    evidence.prepare(f, rings);
    write(f, isNew);
    if (arrivalMs >= 0 && addon) latency.record(addon.clockRealtime() - arrivalMs);
    evidence.flush();
    if (isNew) shown++;
  };
  const findings = new FindingAggregator({ profile: flags.profile, onChange });

  const watched = new Map<string, Watched>();
  const retired: LiveCaptureTotals = { received: 0, dropped: 0, ifdropped: 0, delivered: 0, opens: 0 };
  let retiredCount = 0;
  let frameErrors = 0;
  let stopping = false;
  let capNoted = false;
  let permissionDenied: LiveCaptureError | undefined;
  let starting = true;

  const add = (name: string): Watched => {
    const source = `live:${name}`;
    const engine = new PacketEngine(analyzers, config, findings, { showSecrets: flags.showSecrets, secretSalt: config.secretSalt });
    engine.setSource(source);
    const ring = new PacketRing(ringFrames, ringBytes, 1);
    rings.set(source, ring);
    const onFrame = (frame: RawFrame): void => {
      ring.push(frame);
      arrivalMs = frame.tsSec * 1000 + frame.tsNsec / 1e6;
      try {
        engine.handleFrame(frame);
      } finally {
        arrivalMs = -1;
      }
    };
    const w: Watched = {
      name,
      source,
      engine,
      ring,
      ifindex: -1,
      problem: '',
      reported: { dropped: 0, ifdropped: 0, atMs: Date.now() },
      capture: new LiveCapture(
        name,
        { promisc: flags.promisc, bufferBytes, immediate: flags.immediate === true },
        onFrame,
        (err) => {
          w.problem = err.message;
          note(`${name}: capture stopped: ${err.message}; capturing again when the interface is back`);
        },
        (err) => {
          frameErrors++;
          if (frameErrors === 1 || process.env.SNIFFWATCH_DEBUG) note(`error while analysing a frame from ${name}: ${(err as Error)?.stack ?? String(err)}`);
        },
      ),
    };
    watched.set(name, w);
    return w;
  };

  const problem = (w: Watched, text: string): void => {
    // pcap's messages already start with the device name.
    if (text !== w.problem) note(text.startsWith(`${w.name}:`) ? text : `${w.name}: ${text}`);
    w.problem = text;
  };

  const tryOpen = (w: Watched): void => {
    const again = w.capture.totals.opens > 0;
    try {
      w.capture.open();
    } catch (e) {
      const err = e as LiveCaptureError;
      // Without the capability at start nothing can be captured: the caller exits with the advice.
      if (err.kind === 'permission' && starting) permissionDenied ??= err;
      else problem(w, err.kind === 'permission' ? `${err.message}; ${PERMISSION_MESSAGE}` : err.message);
      return;
    }
    w.ifindex = readInterface(w.name)?.ifindex ?? -1;
    // Frame numbers continue across re-opens, so the ring's older frames stay valid evidence unless the link type changed.
    if (w.ring.linktype !== w.capture.linktype) w.ring.reset(w.capture.linktype);
    const info = w.capture.info;
    const filter = w.capture.unfiltered ? 'no kernel filter: libpcap cannot filter this link type' : `kernel filter of ${w.capture.filterInstructions} BPF instructions`;
    const how = `${info?.datalinkName ?? `link type ${w.capture.linktype}`}, ${flags.promisc ? 'promiscuous' : 'not promiscuous'}, ${flags.immediate ? 'immediate' : 'buffered'}, ${filter}`;
    note(again ? `capturing on ${w.name} again (${how})` : `watching ${w.name} (${how})`);
    if (info?.warning) note(`warning: ${info.warning}`);
    w.problem = '';
  };

  const retire = (w: Watched, why: string): void => {
    w.capture.close();
    w.engine.finish();
    note(`${why}; ${statsLine(w.name, w.capture.totals)}`);
    for (const k of ['received', 'dropped', 'ifdropped', 'delivered', 'opens'] as const) retired[k] += w.capture.totals[k];
    retiredCount++;
    rings.delete(w.source);
    watched.delete(w.name);
  };

  const check = (): void => {
    if (stopping) return;
    if (requested.length === 0) {
      for (const s of listInterfaces()) {
        if (!isDefaultCaptureInterface(s) || watched.has(s.name)) continue;
        if (watched.size >= MAX_AUTO_INTERFACES) {
          if (!capNoted) note(`more than ${MAX_AUTO_INTERFACES} interfaces: ${s.name} and later ones are not captured (name them with --iface)`);
          capNoted = true;
          continue;
        }
        note(`interface ${s.name} is up`);
        tryOpen(add(s.name));
      }
    }
    for (const w of [...watched.values()]) {
      const s = readInterface(w.name);
      if (w.capture.isOpen) {
        if (!s) w.capture.close();
        else if (s.ifindex !== w.ifindex) {
          w.capture.close();
          note(`${w.name}: interface was re-created`);
        } else if (!s.up) {
          w.capture.close();
          problem(w, 'interface went down; capturing again when it comes up');
        }
      }
      if (w.capture.isOpen) continue;
      if (!s) {
        // Named interfaces are waited for; found ones are forgotten (they come back as new).
        if (requested.length === 0) retire(w, `${w.name}: interface is gone`);
        else problem(w, 'no such interface; capturing as soon as it appears');
      } else if (!s.up) {
        problem(w, 'interface is down; capturing as soon as it comes up');
      } else {
        tryOpen(w);
      }
    }
  };

  const reportDrops = (force: boolean): void => {
    const now = Date.now();
    for (const w of watched.values()) {
      w.capture.refreshStats();
      if (!force && now - w.reported.atMs < DROP_REPORT_INTERVAL_MS) continue;
      const t = w.capture.totals;
      const dKernel = t.dropped - w.reported.dropped;
      const dIface = t.ifdropped - w.reported.ifdropped;
      if (dKernel + dIface > 0) {
        const secs = Math.max(1, Math.round((now - w.reported.atMs) / 1000));
        note(
          `warning: ${w.name}: ${dKernel} packet(s) dropped by the kernel (capture buffer full: raise --buffer-mib) and ${dIface} by the interface in the last ${secs} s; ` +
            `totals ${t.dropped} and ${t.ifdropped} of ${t.received} received`,
        );
      }
      w.reported = { dropped: t.dropped, ifdropped: t.ifdropped, atMs: now };
    }
  };

  // Start: open what was asked for (or every default interface).
  const initial = !addon ? [] : requested.length > 0 ? requested : listInterfaces().filter(isDefaultCaptureInterface).map((s) => s.name).slice(0, MAX_AUTO_INTERFACES);
  if (initial.length === 0 && addon) note('no interface is up apart from loopback; waiting for one (or name one with --iface)');
  for (const name of initial) {
    if (watched.has(name)) continue;
    const w = add(name);
    const s = readInterface(name);
    if (!s) problem(w, 'no such interface; capturing as soon as it appears');
    else if (!s.up) problem(w, 'interface is down; capturing as soon as it comes up');
    else tryOpen(w);
    if (permissionDenied) break;
  }
  starting = false;
  if (permissionDenied) {
    for (const w of watched.values()) w.capture.close();
    watched.clear();
    process.stderr.write(`sniffwatch: error: ${escapeForTerminal(permissionDenied.message)}\nsniffwatch: ${PERMISSION_MESSAGE}\n`);
    if (sensors.length === 0) {
      process.exitCode = EXIT_USAGE;
      return;
    }
    note('continuing with the host sensors only');
  }
  const wire = addon !== undefined && !permissionDenied;

  const sensorCtx: WatchSensorContext = { findings, config, profile: flags.profile, note };
  for (const s of sensors) {
    try {
      await s.start(sensorCtx);
    } catch (e) {
      note(`${s.name} sensor could not start: ${(e as Error).message}`);
    }
  }

  await new Promise<void>((resolve) => {
    const ticker = setInterval(() => {
      if (!wire) return;
      check();
      reportDrops(false);
    }, CHECK_INTERVAL_MS);
    const timer = durationMs === undefined ? undefined : setTimeout(() => void stop('duration reached'), durationMs);
    const onSignal = (sig: NodeJS.Signals): void => void stop(sig);
    // A second signal while stopping means: now.
    const onSecondSignal = (): void => process.exit(process.exitCode ?? EXIT_OK);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);

    async function stop(why: string): Promise<void> {
      if (stopping) return;
      stopping = true;
      process.on('SIGINT', onSecondSignal);
      process.on('SIGTERM', onSecondSignal);
      clearInterval(ticker);
      if (timer) clearTimeout(timer);
      note(`stopping (${why})`);
      for (const w of watched.values()) w.capture.close();
      for (const w of watched.values()) w.engine.finish();
      for (const s of sensors) {
        try {
          await s.stop();
        } catch (e) {
          note(`sensor ${s.name} did not stop cleanly: ${(e as Error).message}`);
        }
      }
      reportDrops(true);
      for (const w of watched.values()) note(statsLine(w.name, w.capture.totals));
      if (retiredCount > 0) note(statsLine(`${retiredCount} interface(s) gone meanwhile`, retired));
      if (frameErrors > 0) note(`${frameErrors} frame(s) raised an error while being analysed (SNIFFWATCH_DEBUG=1 shows each)`);
      for (const s of sensors) {
        const line = s.summary?.();
        if (line) note(line);
      }
      const lat = latency.summary();
      note(lat ? `detection latency (capture timestamp to finding written): ${lat}` : 'detection latency: no finding was raised by a captured packet');
      if (evidence.filesWritten > 0) note(`evidence: ${evidence.filesWritten} pcap write(s), ${evidence.totalBytes} bytes in ${evidence.dir}`);
      for (const [rule, n] of findings.suppressed()) note(`note: ${n} further occurrence(s) of ${rule} not kept (per-rule cap reached)`);
      const all = findings.findings();
      note(`${shown} finding(s) written, ${all.length} in total`);
      const failRank = flags.failOn === 'none' ? Infinity : severityRank(flags.failOn);
      process.exitCode = all.some((f) => severityRank(f.severity) >= failRank) ? EXIT_FINDINGS : EXIT_OK;
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      resolve();
    }
  });
}
