import type { SniffwatchConfig } from '../config/config.js';
import type { FindingAggregator } from '../findings/aggregate.js';
import { SecretRedactor } from '../findings/redact.js';
import { reportSink } from '../analyzers/report-sink.js';
import { startHostSensors, type HostSensors } from './sensor.js';

// The host sensors as a `watch` sensor (the WatchSensor shape of
// src/cli/watch-command.ts): started with the wire capture, reporting into
// the same aggregator, stopped with it. Register with
// `WATCH_SENSORS.push(hostWatchSensor())`.

export interface HostWatchContext {
  readonly findings: FindingAggregator;
  readonly config: SniffwatchConfig;
  note(line: string): void;
}

export function hostWatchSensor(pollMs = 1000): { name: string; start(ctx: HostWatchContext): Promise<void>; stop(): Promise<void>; summary(): string | undefined } {
  let sensors: HostSensors | undefined;
  return {
    name: 'host',
    async start(ctx) {
      sensors = await startHostSensors({ config: ctx.config, report: reportSink(ctx.findings, new SecretRedactor(false, ctx.config.secretSalt)), pollMs });
      for (const n of sensors.notes) ctx.note(`host sensors: ${n}`);
    },
    async stop() {
      await sensors?.stop();
    },
    summary() {
      if (!sensors) return undefined;
      const s = sensors.stats();
      return `host sensors (${s.mode}): ${s.execs} exec(s) seen, ${s.lost} event(s) lost, ${s.vanished} exited before inspection`;
    },
  };
}
