import type { WriteStream } from 'node:tty';
import { basename } from 'node:path';

// A one-line progress bar on stderr, drawn only once an input has taken more
// than a second, so quick scans stay silent.

const SHOW_AFTER_MS = 1000;
const WIDTH = 30;

export class ProgressBar {
  private readonly started = Date.now();
  private drawn = false;

  constructor(private readonly out: WriteStream) {}

  update(file: string, read: number, total: number): void {
    if (Date.now() - this.started < SHOW_AFTER_MS || total <= 0) return;
    const ratio = Math.min(1, read / total);
    const filled = Math.round(ratio * WIDTH);
    const name = basename(file).replace(/[^\x20-\x7e]/g, '?').slice(0, 40);
    this.out.write(`\r[${'#'.repeat(filled)}${' '.repeat(WIDTH - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${name}\x1b[K`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
