// `sniffwatch watch` run by the end-to-end tests inside a network namespace,
// its JSONL findings and stderr followed as they arrive.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { ADDON_PATH } from '../../src/capture/live/pcap-live.js';
import type { Finding } from '../../src/findings/finding.js';
import { CLI } from './cli.js';
import { findTool } from './netns-lan.js';

/** `sniffwatch watch` inside a namespace, stdout (JSONL findings) and stderr kept apart. */
export class WatchRun {
  readonly findings: Finding[] = [];
  private stdout = '';
  private stderrText = '';
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();
  private done = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** `env`: extra environment variables for sniffwatch (the test's own environment is passed on). */
  constructor(ns: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    const ip = findTool('ip');
    assert.ok(ip, 'ip not found');
    assert.ok(existsSync(CLI), `CLI not built: ${CLI}`);
    // `ip netns exec` execs node, so signals reach sniffwatch itself.
    // Wire-only unless a test asks for host sensors (they would also report the test's own tools).
    const argv = args.includes('--host') ? args.filter((a) => a !== '--host') : ['--no-host', ...args];
    this.child = spawn(ip, ['netns', 'exec', ns, process.execPath, CLI, 'watch', ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString('utf8');
      let nl: number;
      while ((nl = this.stdout.indexOf('\n')) >= 0) {
        const line = this.stdout.slice(0, nl);
        this.stdout = this.stdout.slice(nl + 1);
        if (!line.trim()) continue;
        try {
          this.findings.push(JSON.parse(line) as Finding);
        } catch {
          assert.fail(`watch stdout line is not JSON: ${line.slice(0, 200)}`);
        }
      }
      this.wake();
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrText += chunk.toString('utf8');
      this.wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.done = true;
        this.wake();
        resolve({ code, signal });
      });
    });
  }

  get stderr(): string {
    return this.stderrText;
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  /** Resolves when `ready()` holds; rejects on timeout or exit, showing stderr. */
  waitUntil<T>(ready: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const v = ready();
        if (v !== undefined) finish(undefined, v);
        else if (this.done) finish(new Error(`watch exited before ${what}; stderr:\n${this.stderrText.slice(-3000)}`));
      };
      const timer = setTimeout(() => finish(new Error(`no ${what} within ${timeoutMs} ms; stderr:\n${this.stderrText.slice(-3000)}`)), timeoutMs);
      const finish = (err?: Error, v?: T): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve(v as T);
      };
      this.waiters.add(check);
      check();
    });
  }

  waitStderr(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return this.waitUntil(() => re.exec(this.stderrText) ?? undefined, `stderr matching ${re}`, timeoutMs);
  }

  waitFinding(pred: (f: Finding) => boolean, what: string, timeoutMs: number): Promise<Finding> {
    return this.waitUntil(() => this.findings.find(pred), what, timeoutMs);
  }

  /** Sends the signal and waits for the exit; SIGKILL after graceMs. */
  async stop(signal: NodeJS.Signals, graceMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.done) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.done) this.child.kill(sig);
  }

  kill(): void {
    if (!this.done) this.child.kill('SIGKILL');
  }
}

/** Skips the test when the native pcap addon live capture needs is not built. */
export function skipUnlessPcapAddon(t: TestContext): boolean {
  if (existsSync(ADDON_PATH)) return true;
  t.skip('native pcap addon not built (needs build-essential libpcap-dev; npm run build:native)');
  return false;
}

/** `sniffwatch watch args` in namespace `ns`, killed when the test ends. */
export function startWatchIn(t: TestContext, ns: string, args: string[], env: NodeJS.ProcessEnv = {}): WatchRun {
  const w = new WatchRun(ns, args, env);
  t.after(() => w.kill());
  return w;
}
