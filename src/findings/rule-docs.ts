import { TACTIC_NAMES, TECHNIQUE_NAMES } from './attack.js';
import { PROFILES } from './finding.js';
import type { RuleDefinition } from './rules.js';

// docs/detections/<rule_id>.md is generated from detections/<rule_id>.yml, so
// the runbook and what the CLI prints never disagree.

export function renderRuleMarkdown(r: RuleDefinition): string {
  const techniques = r.attack.techniques.map((t) => `${t} (${TECHNIQUE_NAMES[t] ?? 'unnamed'})`).join(', ') || 'none (inventory/coverage notice)';
  const tactics = r.attack.tactics.map((t) => `${t} (${TACTIC_NAMES[t] ?? 'unnamed'})`).join(', ') || 'none';
  const lines = [
    `<!-- generated from detections/${r.id}.yml by \`npm run docs:detections\`; edit the YAML -->`,
    `# ${r.id}: ${r.title}`,
    '',
    `- Severity: **${r.severity}** (default; the analyzer may raise or lower it per occurrence, as described below)`,
    `- Confidence: ${r.confidence}`,
    `- ATT&CK techniques: ${techniques}`,
    `- ATT&CK tactics: ${tactics}`,
    `- Analyzer: \`${r.analyzer}\``,
    '',
    '## What it detects',
    '',
    r.description,
    '',
    '## What it means',
    '',
    r.guidance.summary,
    '',
    r.guidance.implications,
    '',
    '## What to do',
    '',
    ...PROFILES.flatMap((p) => [`- **${p}**: ${r.guidance.actions[p]}`]),
    '',
    '## Known false positives',
    '',
    ...r.guidance.false_positives.map((f) => `- ${f}`),
    '',
  ];
  return lines.join('\n');
}
