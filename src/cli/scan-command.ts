import { setFlagsFromString } from 'node:v8';
import { parseSeverity, severityRank, type Profile, type Severity } from '../findings/finding.js';
import { findingLine } from '../outputs/jsonl.js';
import { renderFinding, renderSummary } from '../outputs/pretty.js';
import { escapeForTerminal } from '../outputs/escape.js';
import { scanCaptures } from '../pipeline.js';
import { loadConfigFlag } from './config-flag.js';
import { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, fail } from './exit.js';
import { ProgressBar } from './progress.js';

interface ScanFlags {
  format?: 'pretty' | 'jsonl';
  profile: Profile;
  failOn: Severity | 'none';
  minSeverity: Severity;
  config?: string;
  analyzers?: string;
  progress: boolean;
  showSecrets?: boolean;
}

export async function scanCommand(paths: string[], flags: ScanFlags): Promise<void> {
  const config = loadConfigFlag(flags.config);
  if (flags.showSecrets) process.stderr.write('sniffwatch: warning: --show-secrets: credentials seen on the wire are printed in clear\n');
  const format = flags.format ?? (process.stdout.isTTY ? 'pretty' : 'jsonl');
  const analyzers = flags.analyzers?.split(',').map((s) => s.trim()).filter(Boolean);
  const bar = flags.progress && format === 'pretty' && process.stderr.isTTY ? new ProgressBar(process.stderr) : undefined;
  // Much of the analyzers' code runs only thousands of times in a scan (per flow, per DNS message):
  // too few for the optimizing compiler to reach it early, enough to be slow in the interpreter.
  // Compiling each function to baseline code at its first call pays off from here on; before the
  // CLI had loaded it only added start-up time (docs/PERFORMANCE.md).
  setFlagsFromString('--always-sparkplug');
  let result;
  try {
    result = await scanCaptures(paths, {
      config,
      profile: flags.profile,
      analyzers,
      showSecrets: flags.showSecrets,
      onFileProgress: bar ? (file, read, total) => bar.update(file, read, total) : undefined,
    });
  } catch (e) {
    bar?.clear();
    if (e instanceof Error && e.message.startsWith('unknown analyzer')) fail(e);
    throw e;
  }
  bar?.clear();

  for (const err of result.errors) process.stderr.write(`sniffwatch: error: ${escapeForTerminal(err.message)}\n`);
  const minRank = severityRank(parseSeverity(flags.minSeverity) ?? 'low');
  const shown = result.findings.filter((f) => severityRank(f.severity) >= minRank);
  if (format === 'jsonl') {
    for (const f of shown) process.stdout.write(findingLine(f));
  } else {
    for (const f of shown) process.stdout.write(`${renderFinding(f)}\n\n`);
    process.stdout.write(`${renderSummary(shown, flags.minSeverity, result.findings.length - shown.length)}\n`);
    const frames = result.files.reduce((n, s) => n + s.frames, 0);
    process.stdout.write(`${result.files.length} file(s), ${frames} frame(s) read, profile ${flags.profile}\n`);
  }
  for (const [rule, n] of result.suppressed) {
    process.stderr.write(`sniffwatch: note: ${n} further occurrence(s) of ${rule} not kept (per-rule cap reached)\n`);
  }
  if (result.errors.length > 0) {
    process.exitCode = EXIT_USAGE;
    return;
  }
  const failRank = flags.failOn === 'none' ? Infinity : severityRank(flags.failOn);
  process.exitCode = result.findings.some((f) => severityRank(f.severity) >= failRank) ? EXIT_FINDINGS : EXIT_OK;
}
