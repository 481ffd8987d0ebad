import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
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

const LINKTYPE_ETHERNET = 1;

/** Classic-pcap Ethernet captures of the corpus without 802.1Q/802.1ad tags, not malformed on purpose. */
export function untaggedEthernetRows(): ManifestRow[] {
  return manifestRows().filter((r) => r.file.endsWith('.pcap') && r.expect !== 'malformed' && untaggedEthernet(join(CORPUS, r.file)));
}

/** A classic pcap of Ethernet frames none of which is VLAN-tagged. */
function untaggedEthernet(path: string): boolean {
  const data = readFileSync(path);
  if (data.length < 24) return false;
  const magic = data.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && magic !== 0xd4c3b2a1 && magic !== 0x4d3cb2a1) return false;
  const u32 = (off: number): number => (le ? data.readUInt32LE(off) : data.readUInt32BE(off));
  if ((u32(20) & 0xffff) !== LINKTYPE_ETHERNET) return false;
  for (let p = 24; p + 16 <= data.length; ) {
    const caplen = u32(p + 8);
    const type = p + 16 + 14 <= data.length ? data.readUInt16BE(p + 16 + 12) : 0;
    if (type === 0x8100 || type === 0x88a8 || type === 0x9100) return false;
    p += 16 + caplen;
  }
  return true;
}

/** Frames in a capture, as tcpdump counts them (MAX_SAFE_INTEGER when tcpdump cannot read it). */
export function frameCount(path: string): number {
  const r = spawnSync('tcpdump', ['-nr', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean).length : Number.MAX_SAFE_INTEGER;
}
