import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The public capture corpus beside the repository (../shared/corpus/pcap) and
// what its MANIFEST.tsv says each capture must yield.

export const CORPUS = new URL('../../../../shared/corpus/pcap/', import.meta.url).pathname;
export const MANIFEST = join(CORPUS, 'MANIFEST.tsv');

export interface ManifestRow {
  file: string;
  expect: string;
  note: string;
}

export function manifestRows(): ManifestRow[] {
  return readFileSync(MANIFEST, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => {
      const [file = '', expect = '', , note = ''] = l.split('\t');
      return { file, expect, note };
    });
}
