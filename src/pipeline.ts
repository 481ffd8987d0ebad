import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CaptureError, type CaptureSummary } from './capture/frame.js';
import { readCapture } from './capture/reader.js';
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

/** Files named, and files below directories named (sorted, symlinked directories not followed). */
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
    } else if (st.isFile() || (top && st.isSymbolicLink())) {
      files.push(p);
    } else if (top) {
      // A device, FIFO or socket named on the command line: skipping it silently would look like a clean scan.
      errors.push(new CaptureError(p, 0, 'not a regular file or directory'));
    }
  };
  for (const p of paths) walk(p, true);
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
