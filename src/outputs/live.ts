import type { Writable } from 'node:stream';
import type { Finding } from '../findings/finding.js';
import { findingLine } from './jsonl.js';
import { renderFinding } from './pretty.js';

// Writes findings as they happen (watch, run): each new finding, and each
// escalation of an existing one, is written and flushed at once.

export type LiveFormat = 'pretty' | 'jsonl';

export function liveWriter(format: LiveFormat, out: Writable): (finding: Finding, isNew: boolean) => void {
  return (f, isNew) => {
    if (format === 'jsonl') out.write(findingLine(f));
    else out.write(`${isNew ? '' : '(escalated) '}${renderFinding(f)}\n\n`);
  };
}
