import type { FindingAggregator } from '../findings/aggregate.js';
import type { Evidence } from '../findings/finding.js';
import type { SecretRedactor } from '../findings/redact.js';
import type { Report } from './analyzer.js';

// How a detector's report becomes an aggregated finding, shared by the packet
// engine and the other sensors (host sensors under `watch` and `run`): secrets
// are redacted here, before anything is kept.

export type ReportFn = (rule: string, key: string, timeMs: number, r: Report, evidence?: Evidence) => void;

export function emitReport(findings: FindingAggregator, redactor: SecretRedactor, rule: string, key: string, timeMs: number, r: Report, evidence: Evidence | undefined): void {
  findings.report({
    rule,
    key,
    timeMs,
    message: r.message,
    entities: r.entities,
    evidence,
    severity: r.severity,
    confidence: r.confidence,
    secret: r.secret === undefined ? undefined : redactor.observe(r.secret),
  });
}

/** A report function that feeds `findings`. */
export function reportSink(findings: FindingAggregator, redactor: SecretRedactor): ReportFn {
  return (rule, key, timeMs, r, evidence) => emitReport(findings, redactor, rule, key, timeMs, r, evidence);
}
