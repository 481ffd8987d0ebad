import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDemoCapture } from '../craft/demo.js';
import { scanCommand } from './scan-command.js';

/** Writes the demo capture and scans it, as `npm start` does until the live sensor lands. */
export async function demoCommand(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-demo-'));
  const capture = writeDemoCapture(dir);
  process.stderr.write(`sniffwatch demo: scanning ${capture} (a LAN where 198.18.0.66 poisons ARP caches)\n`);
  await scanCommand([capture], { profile: 'production', failOn: 'none', minSeverity: 'low', progress: true, format: process.stdout.isTTY ? 'pretty' : undefined });
}
