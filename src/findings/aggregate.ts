import { isoTime, severityRank, type Entity, type Evidence, type Finding, type Profile, type Severity } from './finding.js';
import { getRule, guidanceFor } from './rules.js';
import type { SecretObservation } from './redact.js';

// Repeated evidence becomes one finding: detections with the same rule and key
// update a single Finding (count, last_seen, severity escalation) instead of
// producing one per packet. Everything kept here is capped.

/** One occurrence, as an analyzer reports it. */
export interface Detection {
  rule: string;
  /** Aggregation key within the rule, e.g. the impersonated IP and the claiming MAC. */
  key: string;
  timeMs: number;
  message: string;
  entities: Entity[];
  evidence?: Evidence;
  /** Overrides the rule's default severity for this occurrence (escalation or downgrade). */
  severity?: Severity;
  confidence?: number;
  secret?: SecretObservation;
}

export interface AggregatorOptions {
  profile: Profile;
  maxEvidence?: number;
  maxEntities?: number;
  /** Distinct findings kept per rule; beyond it occurrences are counted as suppressed. */
  maxFindingsPerRule?: number;
  /** Called when a finding is created or its severity rises (live outputs). */
  onChange?: (finding: Finding, isNew: boolean) => void;
}

interface RuleCounters {
  findings: number;
  suppressed: number;
}

export class FindingAggregator {
  private readonly byId = new Map<string, Finding>();
  private readonly perRule = new Map<string, RuleCounters>();
  private readonly maxEvidence: number;
  private readonly maxEntities: number;
  private readonly maxFindingsPerRule: number;

  constructor(private readonly opts: AggregatorOptions) {
    this.maxEvidence = opts.maxEvidence ?? 10;
    this.maxEntities = opts.maxEntities ?? 32;
    this.maxFindingsPerRule = opts.maxFindingsPerRule ?? 1000;
  }

  report(d: Detection): void {
    const id = `${d.rule}:${d.key}`;
    const existing = this.byId.get(id);
    if (existing) {
      this.update(existing, d);
      return;
    }
    let counters = this.perRule.get(d.rule);
    if (!counters) {
      counters = { findings: 0, suppressed: 0 };
      this.perRule.set(d.rule, counters);
    }
    if (counters.findings >= this.maxFindingsPerRule) {
      counters.suppressed++;
      return;
    }
    counters.findings++;
    const rule = getRule(d.rule);
    const time = isoTime(d.timeMs);
    const finding: Finding = {
      id,
      rule_id: rule.id,
      title: rule.title,
      severity: d.severity ?? rule.severity,
      confidence: d.confidence ?? rule.confidence,
      attack: rule.attack,
      message: d.message,
      first_seen: time,
      last_seen: time,
      count: 1,
      entities: d.entities.slice(0, this.maxEntities),
      evidence: d.evidence ? [d.evidence] : [],
      evidence_dropped: 0,
      profile: this.opts.profile,
      guidance: guidanceFor(rule, this.opts.profile),
    };
    if (d.secret) finding.secrets = [d.secret];
    this.byId.set(id, finding);
    this.opts.onChange?.(finding, true);
  }

  private update(f: Finding, d: Detection): void {
    f.count++;
    const time = isoTime(d.timeMs);
    if (time > f.last_seen) f.last_seen = time;
    if (time < f.first_seen) f.first_seen = time;
    for (const e of d.entities) {
      if (f.entities.length >= this.maxEntities) break;
      if (!f.entities.some((x) => x.type === e.type && x.value === e.value && x.role === e.role)) f.entities.push(e);
    }
    if (d.evidence) {
      if (f.evidence.length < this.maxEvidence) f.evidence.push(d.evidence);
      else f.evidence_dropped++;
    }
    if (d.secret) {
      f.secrets ??= [];
      if (f.secrets.length < this.maxEvidence && !f.secrets.some((x) => x.hash === d.secret!.hash)) f.secrets.push(d.secret);
    }
    if (d.confidence !== undefined && d.confidence > f.confidence) f.confidence = d.confidence;
    if (d.severity && severityRank(d.severity) > severityRank(f.severity)) {
      f.severity = d.severity;
      f.message = d.message;
      this.opts.onChange?.(f, false);
    }
  }

  /** Findings so far, most severe first, then by first appearance. */
  findings(): Finding[] {
    return [...this.byId.values()].sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || (a.first_seen < b.first_seen ? -1 : a.first_seen > b.first_seen ? 1 : 0));
  }

  /** Occurrences dropped per rule because the rule hit its cap of distinct findings. */
  suppressed(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [rule, c] of this.perRule) if (c.suppressed > 0) out.set(rule, c.suppressed);
    return out;
  }
}
