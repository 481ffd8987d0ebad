// Detection latency of live findings: from the packet's capture timestamp
// (kernel, CLOCK_REALTIME) to the finding being written. Keeps a bounded
// window of the most recent samples for percentiles.

export class LatencyRecorder {
  private readonly samples: Float64Array;
  private next = 0;
  count = 0;
  max = 0;

  constructor(window = 8192) {
    this.samples = new Float64Array(window);
  }

  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  /** The p-th percentile (0-100) of the samples in the window, nearest rank; NaN without samples. */
  percentile(p: number): number {
    const n = Math.min(this.count, this.samples.length);
    if (n === 0) return Number.NaN;
    const sorted = this.samples.slice(0, n).sort();
    const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
    return sorted[rank]!;
  }

  /** "n=12 p50=0.41 ms p99=1.9 ms max=2.3 ms", or undefined without samples. */
  summary(): string | undefined {
    if (this.count === 0) return undefined;
    const f = (ms: number): string => `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`;
    return `n=${this.count} p50=${f(this.percentile(50))} p99=${f(this.percentile(99))} max=${f(this.max)}`;
  }
}
