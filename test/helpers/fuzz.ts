import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { readCapture } from '../../src/capture/reader.js';
import { PcapWriter } from '../../src/capture/pcap-writer.js';

// Seeded mutations for the hostile-input tests.

/** xorshift32: the same seed gives the same mutations, so a failure names its reproduction. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** A copy of `buf` with `n` of its bytes at or after `from` set to random values. */
export function mutated(buf: Buffer, n: number, next: () => number, from = 0): Buffer {
  const b = Buffer.from(buf);
  for (let k = 0; k < n; k++) b[from + Math.floor(next() * (b.length - from))] = Math.floor(next() * 256);
  return b;
}

/**
 * Writes `rounds` captures of the first 400 frames of `file` (those of its
 * first link type), each frame with a few bytes of its first 160 flipped or
 * smashed and some cut short, and hands each to `check` (then deletes it).
 * Returns the number of captures written; 0 when the file has no frames.
 */
export async function withMutatedFrames(file: string, dir: string, rounds: number, seedBase: number, check: (mutant: string, seed: number) => Promise<void>): Promise<number> {
  const originals: { linktype: number; bytes: Buffer }[] = [];
  await readCapture(file, (f) => {
    if (originals.length < 400) originals.push({ linktype: f.linktype, bytes: Buffer.from(f.data.subarray(f.offset, f.offset + f.caplen)) });
  });
  if (originals.length === 0) return 0;
  const linktype = originals[0]!.linktype;
  for (let m = 0; m < rounds; m++) {
    const seed = seedBase + m;
    const r = rng(seed);
    const mutant = join(dir, `frames-${seed}.pcap`);
    const w = new PcapWriter(mutant, linktype);
    for (const [n, o] of originals.entries()) {
      if (o.linktype !== linktype) continue;
      const b = Buffer.from(o.bytes);
      const flips = 1 + Math.floor(r() * 4);
      for (let k = 0; k < flips && b.length > 0; k++) {
        const at = Math.floor(r() * Math.min(b.length, 160));
        b[at] = r() < 0.5 ? b[at]! ^ (1 << Math.floor(r() * 8)) : [0, 0xff, 0x80, 0x7f][Math.floor(r() * 4)]!;
      }
      const cut = r() < 0.2 ? Math.floor(r() * b.length) : b.length;
      w.write(b.subarray(0, cut), 1_700_000_000_000_000 + n * 1000);
    }
    w.close();
    await check(mutant, seed);
    rmSync(mutant);
  }
  return rounds;
}
