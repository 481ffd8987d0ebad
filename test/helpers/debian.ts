import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

// Where scripts/fetch-debian-captures.sh puts the regression captures of
// Debian's tcpdump and wireshark source packages (.ci/run fetches them).

export const DEBIAN_CAPTURES = process.env.SNIFFWATCH_DEBIAN_CAPTURES ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sniffwatch', 'debian-captures');

/** Whether a complete fetch is there. */
export function debianCapturesPresent(): boolean {
  return existsSync(join(DEBIAN_CAPTURES, '.complete'));
}

export const DEBIAN_CAPTURES_MISSING = `not found in ${DEBIAN_CAPTURES}: run scripts/fetch-debian-captures.sh (CI does)`;
