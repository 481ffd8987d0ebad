import { ProcessWatch, type ProcessWatchHandlers } from './process-watch.js';

// The process-events subscription, separable from the rest of the host
// sensor: `sniffwatch run` opens it, starts the command at once, and loads
// the sensor while the command runs. Events that arrive before the sensor
// attaches are kept (bounded) and handed over in order; the process table
// is kept up to date meanwhile, so scope and parent chains stay exact.

/** Events kept before the sensor attaches; beyond it they are counted as lost. */
const MAX_PENDING = 65536;

type Delivery = (h: ProcessWatchHandlers) => void;

export class ProcessSubscription {
  readonly watch: ProcessWatch;
  private opened = false;
  private why: string | undefined;
  private target: ProcessWatchHandlers | undefined;
  private pending: Delivery[] = [];
  private dropped = 0;

  constructor(readonly scopeRoot: number | undefined) {
    this.watch = new ProcessWatch(
      {
        onExec: (ev) => this.deliver((h) => h.onExec(ev)),
        onUidChange: (pid, t) => this.deliver((h) => h.onUidChange(pid, t)),
        onLost: (lost, overflows) => this.deliver((h) => h.onLost(lost, overflows)),
        onError: (m) => this.deliver((h) => h.onError(m)),
      },
      scopeRoot,
    );
  }

  /** Subscribes (once); returns why the connector cannot be used (the sensor then scans /proc), or undefined. */
  open(rcvbufBytes?: number): string | undefined {
    if (!this.opened) {
      this.opened = true;
      this.why = this.watch.start(rcvbufBytes);
    }
    return this.why;
  }

  /** Whether process events are flowing (the connector is open). */
  get live(): boolean {
    return this.watch.mode === 'process-events';
  }

  /** Hands what arrived so far, then every later event, to the sensor. */
  attach(handlers: ProcessWatchHandlers): void {
    const pending = this.pending;
    this.pending = [];
    this.target = handlers;
    for (const d of pending) d(handlers);
    if (this.dropped > 0) {
      // Counted as lost, so the sensor reports the gap like a kernel overflow.
      this.watch.stats.lost += this.dropped;
      handlers.onLost(this.dropped, 0);
      this.dropped = 0;
    }
  }

  private deliver(d: Delivery): void {
    if (this.target) d(this.target);
    else if (this.pending.length < MAX_PENDING) this.pending.push(d);
    else this.dropped++;
  }
}
