import type { Finding } from '../findings/finding.js';

// One finding per line. JSON.stringify escapes control characters, so
// attacker-controlled strings cannot break the line framing.
export function findingLine(f: Finding): string {
  return `${JSON.stringify(f)}\n`;
}
