import type { Finding } from '../findings/finding.js';
import { escapeJsonForTerminal } from './escape.js';

// One finding per line. JSON.stringify escapes C0 control characters, so
// attacker-controlled strings cannot break the line framing; the rest of what
// could drive a terminal reading the lines (C1 controls, bidi overrides, line
// separators) is escaped too.
export function findingLine(f: Finding): string {
  return `${escapeJsonForTerminal(JSON.stringify(f))}\n`;
}
