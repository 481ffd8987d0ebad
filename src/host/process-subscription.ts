import { openConnector, REC_WIDTH, type BatchCallback, type Connector } from './procconn.js';
import { EXEC_ENV_KEYS } from './tool-table.js';

// The process-events subscription, separable from the rest of the host
// sensor: `sniffwatch run` opens it, starts the command at once, and loads
// the sensor while the command runs. Only the connector is needed for that
// (the addon's thread reads each exec's /proc details at the event), so the
// batches that arrive before the sensor attaches are kept as they came
// (bounded) and handed over in order; the process table is built from them
// then, which keeps scope and parent chains exact.

/** Events kept before the sensor attaches; beyond it they are counted as lost. */
const MAX_PENDING_EVENTS = 65536;

export interface BatchSink {
  onBatch: BatchCallback;
}

export class ProcessSubscription {
  private connector: Connector | undefined;
  private opened = false;
  private why: string | undefined;
  private sink: BatchSink | undefined;
  private pending: Parameters<BatchCallback>[] = [];
  private pendingEvents = 0;
  private dropped = 0;

  constructor(readonly scopeRoot: number | undefined) {}

  /**
   * Subscribes (once), or with `launcherFd` takes the events the `run` launcher read; returns
   * why the connector cannot be used (the sensor then scans /proc), or undefined.
   */
  open(rcvbufBytes?: number, launcherFd?: number): string | undefined {
    if (!this.opened) {
      this.opened = true;
      const c = openConnector((...batch) => this.deliver(batch), rcvbufBytes, [...EXEC_ENV_KEYS], launcherFd);
      if (typeof c === 'string') this.why = c;
      else this.connector = c;
    }
    return this.why;
  }

  /** Whether process events are flowing (the connector is open). */
  get live(): boolean {
    return this.connector !== undefined;
  }

  /** Hands what arrived so far, then every later batch, to the sensor's process watch. */
  attach(sink: BatchSink): void {
    const pending = this.pending;
    this.pending = [];
    this.sink = sink;
    for (const batch of pending) sink.onBatch(...batch);
    if (this.dropped > 0) {
      // Reported like a kernel overflow, so the sensor says what it could not see.
      sink.onBatch(null, null, this.dropped, 0, undefined, undefined);
      this.dropped = 0;
    }
  }

  close(): void {
    this.connector?.close();
    this.connector = undefined;
  }

  private deliver(batch: Parameters<BatchCallback>): void {
    // A connector error ends the events: the watch falls back to scanning /proc.
    if (batch[4] !== undefined) this.connector = undefined;
    if (this.sink) {
      this.sink.onBatch(...batch);
      return;
    }
    const events = batch[0] ? batch[0].length / REC_WIDTH : 0;
    if (this.pendingEvents + events > MAX_PENDING_EVENTS) {
      this.dropped += events + batch[2];
      return;
    }
    this.pendingEvents += events;
    this.pending.push(batch);
  }
}
