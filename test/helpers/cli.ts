import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Finding } from '../../src/findings/finding.js';

// Runs the built CLI as a user would and parses its JSONL output.

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  findings: Finding[];
}

/** `input` is written to the CLI's standard input (a pipe). */
export function runCli(args: readonly string[], timeoutMs = 120_000, input?: Buffer): CliRun {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 256 << 20, cwd: REPO_ROOT, input });
  const findings: Finding[] = [];
  if (args.includes('jsonl')) {
    for (const line of r.stdout.split('\n')) {
      if (!line.trim()) continue;
      try {
        findings.push(JSON.parse(line) as Finding);
      } catch {
        throw new Error(`CLI stdout line is not JSON: ${line.slice(0, 200)}`);
      }
    }
  }
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, findings };
}

/** Every finding of a capture, info included; the scan must succeed. */
export function scanAllFindings(path: string): Finding[] {
  const run = runCli(['scan', '--format', 'jsonl', '--min-severity', 'info', '--fail-on', 'none', path]);
  assert.equal(run.status, 0, `scan of ${path} exited ${run.status}\n${run.stderr}`);
  return run.findings;
}

/** What findings say, without where they were seen (frame evidence and sources differ when a capture is reframed). */
export function findingSummary(findings: readonly Finding[]): string[] {
  return findings
    .map((f) => {
      const entities = f.entities.map((e) => `${e.type}=${e.value}/${e.role ?? ''}`).sort();
      return `${f.rule_id} ${f.severity} x${f.count}: ${f.message} [${entities.join(', ')}]`;
    })
    .sort();
}
