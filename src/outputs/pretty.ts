import picocolors from 'picocolors';
import { TECHNIQUE_NAMES } from '../findings/attack.js';
import { SEVERITIES, severityRank, type Finding, type Severity } from '../findings/finding.js';
import { escapeForTerminal } from './escape.js';

// The human view: a table of findings, most severe first, then a summary per
// ATT&CK technique. Everything that came off the wire is escaped.

// Colour only on a terminal (or when FORCE_COLOR asks): picocolors alone also
// colours whenever CI is set, which garbles logs and piped output.
const colour = (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') || (process.stdout.isTTY === true && !process.env.NO_COLOR);
const pc = picocolors.createColors(colour);

const SEVERITY_COLOUR: Record<Severity, (s: string) => string> = {
  info: pc.dim,
  low: pc.cyan,
  medium: pc.yellow,
  high: pc.red,
  critical: (s) => pc.bold(pc.red(s)),
};

function timeRange(f: Finding): string {
  const a = f.first_seen.slice(11, 19);
  const b = f.last_seen.slice(11, 19);
  return a === b ? `${f.first_seen.slice(0, 10)} ${a}` : `${f.first_seen.slice(0, 10)} ${a}-${b}`;
}

export function renderFinding(f: Finding): string {
  const sev = SEVERITY_COLOUR[f.severity](f.severity.toUpperCase().padEnd(8));
  const lines = [`${sev} ${pc.bold(escapeForTerminal(f.rule_id))}  ${pc.dim(`x${f.count}  ${timeRange(f)}  ${f.attack.techniques.join(',')}`)}`];
  lines.push(`         ${escapeForTerminal(f.message)}`);
  if (f.entities.length > 0) {
    const ents = f.entities.map((e) => `${e.role ? `${e.role} ` : ''}${e.type} ${escapeForTerminal(e.value)}`).join(', ');
    lines.push(pc.dim(`         ${ents}`));
  }
  const frames = f.evidence.filter((e) => e.frame !== undefined).map((e) => e.frame);
  if (frames.length > 0) {
    const src = escapeForTerminal(f.evidence[0]!.source);
    lines.push(pc.dim(`         evidence: ${src} frame ${frames.join(', ')}${f.evidence_dropped > 0 ? ` (+${f.evidence_dropped} more)` : ''}`));
    // Live capture saves the frames behind a finding (watch --evidence-dir).
    const pcap = f.evidence.find((e) => e.pcap)?.pcap;
    if (pcap) lines.push(pc.dim(`         evidence pcap: ${escapeForTerminal(pcap)}`));
  }
  // Secrets are redacted to length and keyed hash unless --show-secrets put the value in.
  for (const x of f.secrets ?? []) {
    lines.push(pc.dim(`         secret: ${x.value !== undefined ? `'${escapeForTerminal(x.value)}' (${x.length} chars)` : `${x.length} chars, hash ${x.hash}`}`));
  }
  if (severityRank(f.severity) >= severityRank('medium')) {
    lines.push(`         ${pc.bold(`${f.profile}:`)} ${firstSentence(f.guidance.actions)}`);
  }
  return lines.join('\n');
}

function firstSentence(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const end = flat.search(/\.\s/);
  return end > 0 ? flat.slice(0, end + 1) : flat;
}

export function renderSummary(findings: readonly Finding[], hiddenBelow: Severity, hidden: number): string {
  const lines: string[] = [];
  const byTechnique = new Map<string, Map<Severity, number>>();
  for (const f of findings) {
    for (const t of f.attack.techniques.length > 0 ? f.attack.techniques : ['(no technique)']) {
      let m = byTechnique.get(t);
      if (!m) byTechnique.set(t, (m = new Map()));
      m.set(f.severity, (m.get(f.severity) ?? 0) + 1);
    }
  }
  if (byTechnique.size > 0) {
    lines.push(pc.bold('By technique:'));
    for (const [t, m] of [...byTechnique].sort()) {
      const counts = [...SEVERITIES].reverse().filter((s) => m.has(s)).map((s) => SEVERITY_COLOUR[s](`${m.get(s)} ${s}`));
      lines.push(`  ${t.padEnd(10)} ${(TECHNIQUE_NAMES[t] ?? '').padEnd(48)} ${counts.join(', ')}`);
    }
  } else {
    lines.push(pc.green('No findings.'));
  }
  if (hidden > 0) lines.push(pc.dim(`${hidden} finding(s) below ${hiddenBelow} not shown (--min-severity info shows them)`));
  return lines.join('\n');
}
