import { WIRE_ANALYZERS, CORE_RULES } from '../analyzers/index.js';
import { ruleCatalog } from '../findings/rules.js';

export function rulesListCommand(flags: { format: 'pretty' | 'jsonl' }): void {
  const catalog = ruleCatalog();
  const rows = [...catalog.values()].sort((a, b) => a.analyzer.localeCompare(b.analyzer) || a.id.localeCompare(b.id));
  if (flags.format === 'jsonl') {
    for (const r of rows) process.stdout.write(`${JSON.stringify({ rule_id: r.id, title: r.title, severity: r.severity, analyzer: r.analyzer, attack: r.attack })}\n`);
    return;
  }
  const idWidth = Math.max(...rows.map((r) => r.id.length));
  process.stdout.write(`${'RULE'.padEnd(idWidth)}  SEVERITY  ATT&CK                  TITLE\n`);
  for (const r of rows) {
    process.stdout.write(`${r.id.padEnd(idWidth)}  ${r.severity.padEnd(8)}  ${[...r.attack.techniques, ...r.attack.tactics].join(',').padEnd(22)}  ${r.title}\n`);
  }
  const emitted = new Set([...CORE_RULES, ...WIRE_ANALYZERS.flatMap((a) => a.rules)]);
  process.stdout.write(`${rows.length} rules (${emitted.size} emitted by the wire analyzers and decoders)\n`);
}
