import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isatty } from 'node:tty';
import { CaptureError, type CaptureSummary } from './capture/frame.js';
import { readCapture, STDIN_NAME } from './capture/reader.js';
import type { SniffwatchConfig } from './config/config.js';
import { PacketEngine, type EngineStats } from './analyzers/engine.js';
import { selectAnalyzers } from './analyzers/index.js';
import { FindingAggregator } from './findings/aggregate.js';
import type { Finding, Profile } from './findings/finding.js';

// Files in, findings out: capture reader -> engine (decoders, analyzers) ->
// aggregator. One engine serves all inputs so state carries across rotated
// capture files.

export interface ScanOptions {
  config: SniffwatchConfig;
  profile: Profile;
  analyzers?: readonly string[];
  /** Print secrets seen on the wire instead of redacting them. */
  showSecrets?: boolean;
  onFileProgress?: (file: string, bytesRead: number, totalBytes: number) => void;
}

export interface ScanResult {
  findings: Finding[];
  files: CaptureSummary[];
  errors: CaptureError[];
  suppressed: Map<string, number>;
  stats: EngineStats;
}

/** Files named, and files below directories named (sorted, symlinked directories not followed); `-` is standard input. */
export function expandInputs(paths: readonly string[]): { files: string[]; errors: CaptureError[] } {
  const files: string[] = [];
  const errors: CaptureError[] = [];
  const walk = (p: string, top: boolean): void => {
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      errors.push(new CaptureError(p, 0, `cannot open: ${(e as NodeJS.ErrnoException).code ?? 'error'}`));
      return;
    }
    if (st.isDirectory() || (top && st.isSymbolicLink() && isDirectoryTarget(p))) {
      let names: string[];
      try {
        names = readdirSync(p).sort();
      } catch (e) {
        errors.push(new CaptureError(p, 0, `cannot list directory: ${(e as NodeJS.ErrnoException).code ?? 'error'}`));
        return;
      }
      for (const n of names) walk(join(p, n), false);
    } else if (st.isFile() || (top && (st.isSymbolicLink() || st.isFIFO()))) {
      // A pipe named on the command line (`<(tcpdump -w - ...)`, a FIFO) is read as a stream.
      files.push(p);
    } else if (top) {
      // A device or socket named on the command line: skipping it silently would look like a clean scan.
      errors.push(new CaptureError(p, 0, 'not a regular file, pipe or directory'));
    }
  };
  for (const p of paths) {
    if (p !== STDIN_NAME) walk(p, true);
    // isatty, not process.stdin: creating that stream would make descriptor 0 non-blocking under our reads.
    else if (isatty(0)) errors.push(new CaptureError(p, 0, 'standard input is a terminal: pipe a capture into it (tcpdump -w - | sniffwatch scan -)'));
    else files.push(STDIN_NAME);
  }
  return { files, errors };
}

function isDirectoryTarget(p: string): boolean {
  try {
    return readdirSync(p) !== undefined;
  } catch {
    return false;
  }
}

export async function scanCaptures(paths: readonly string[], opts: ScanOptions): Promise<ScanResult> {
  const aggregator = new FindingAggregator({ profile: opts.profile });
  const engine = new PacketEngine(selectAnalyzers(opts.analyzers), opts.config, aggregator, {
    showSecrets: opts.showSecrets,
    secretSalt: opts.config.secretSalt,
  });
  const { files, errors } = expandInputs(paths);
  const summaries: CaptureSummary[] = [];
  const onFrame = engine.handleFrame.bind(engine);
  for (const file of files) {
    engine.setSource(file);
    const progress = opts.onFileProgress;
    const summary = await readCapture(file, onFrame, progress ? { onProgress: (read, total) => progress(file, read, total) } : {});
    summaries.push(summary);
    if (summary.error) errors.push(summary.error);
  }
  engine.finish();
  return { findings: aggregator.findings(), files: summaries, errors, suppressed: aggregator.suppressed(), stats: engine.stats };
}
