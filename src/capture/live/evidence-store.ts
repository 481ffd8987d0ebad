import { createHash } from 'node:crypto';
import { mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Finding } from '../../findings/finding.js';
import { PcapWriter } from '../pcap-writer.js';
import type { PacketRing } from './packet-ring.js';

// Evidence files for live findings: when a finding is created or escalated,
// the frames its evidence names (still in the interface's ring), plus the
// frames just before them for context, are written to one pcap per finding,
// and each evidence item it covers gets `pcap` naming the file. The file is
// written right after the finding line (prepare, write the finding, flush),
// so the file system is not on the detection's critical path. Bounded: one
// file per finding id (rewritten on escalation), a size cap per file and a
// cap on the total; past the total, no new files (said once on stderr).

const PCAP_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;
/** Write block of PcapWriter: must hold the largest frame (262144 bytes) plus its record header. */
const WRITE_BLOCK = 262144 + RECORD_HEADER_BYTES;

export interface EvidenceStoreOptions {
  dir: string;
  /** Cap on all evidence files written by this run together. */
  maxTotalBytes: number;
  /** Cap on one file; context frames are left out first to stay below it. */
  maxFileBytes: number;
  /** Frames before the newest evidence frame written for context. */
  contextFrames: number;
  /** One line for stderr (problems and the cap being reached). */
  note: (line: string) => void;
}

interface Pick {
  ring: PacketRing;
  index: number;
  referenced: boolean;
}

export class EvidenceStore {
  readonly dir: string;
  private readonly sizes = new Map<string, number>();
  private total = 0;
  private dirReady = false;
  private capNoted = false;
  private lastError = '';
  private pending: { path: string; picks: Pick[]; rule: string }[] = [];
  filesWritten = 0;

  constructor(private readonly opts: EvidenceStoreOptions) {
    this.dir = resolve(opts.dir);
  }

  get totalBytes(): number {
    return this.total;
  }

  /** prepare() then flush(): for callers that need the file on disk before going on (tests). */
  save(finding: Finding, rings: ReadonlyMap<string, PacketRing>): void {
    this.prepare(finding, rings);
    this.flush();
  }

  /**
   * Chooses the finding's evidence frames from the rings (keyed by evidence
   * source), reserves their place under the caps and sets `pcap` on the
   * evidence items the file will hold, so the finding can be written at once;
   * flush() then writes the file. Call flush() before the rings change (before
   * the next frame). Never throws.
   */
  prepare(finding: Finding, rings: ReadonlyMap<string, PacketRing>): void {
    try {
      const picks = this.pick(finding, rings);
      if (picks.length === 0) return;
      const path = this.fileFor(finding);
      const previous = this.sizes.get(path) ?? 0;
      const size = sizeOf(picks);
      if (this.total - previous + size > this.opts.maxTotalBytes) {
        if (!this.capNoted) this.opts.note(`evidence cap of ${this.opts.maxTotalBytes} bytes reached in ${this.dir}; no further evidence files`);
        this.capNoted = true;
        return;
      }
      this.total += size - previous;
      this.sizes.set(path, size);
      // One pending write per file: an escalation in the same frame replaces the earlier plan.
      const i = this.pending.findIndex((w) => w.path === path);
      if (i >= 0) this.pending.splice(i, 1);
      this.pending.push({ path, picks, rule: finding.rule_id });
      const ring0 = picks[0]!.ring;
      for (const ev of finding.evidence) {
        if (ev.frame === undefined) continue;
        const ring = rings.get(ev.source);
        if (ring && ring.linktype === ring0.linktype && picks.some((p) => p.ring === ring && p.referenced && p.ring.frameNoAt(p.index) === ev.frame)) ev.pcap = path;
      }
    } catch (e) {
      this.problem(finding.rule_id, e);
    }
  }

  /** Writes the files prepared since the last flush (each to a temporary name, then renamed into place). Never throws. */
  flush(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    for (const w of pending) {
      try {
        this.write(w.path, w.picks);
        this.filesWritten++;
      } catch (e) {
        this.problem(w.rule, e);
      }
    }
  }

  private problem(rule: string, e: unknown): void {
    const why = `${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message ?? String(e)}`.trim();
    if (why !== this.lastError) this.opts.note(`evidence for ${rule} not saved: ${why}`);
    this.lastError = why;
  }

  /** File name for a finding: rule id plus a hash of the whole id (keys hold attacker-controlled text). */
  fileFor(finding: Finding): string {
    const rule = finding.rule_id.replace(/[^a-z0-9-]/gi, '_').slice(0, 64);
    const hash = createHash('sha256').update(finding.id).digest('hex').slice(0, 16);
    return join(this.dir, `${rule}-${hash}.pcap`);
  }

  private write(path: string, picks: readonly Pick[]): void {
    if (!this.dirReady) {
      // Evidence holds raw traffic, credentials included: owner only.
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.dirReady = true;
    }
    const tmp = `${path}.tmp`;
    const writer = new PcapWriter(tmp, picks[0]!.ring.linktype, WRITE_BLOCK);
    try {
      for (const p of picks) writer.write(p.ring.bytesAt(p.index), p.ring.timeMicrosAt(p.index), p.ring.origlenAt(p.index));
    } finally {
      writer.close();
    }
    renameSync(tmp, path);
  }

  /** Referenced frames still held, plus context before the newest one; time order; within the file cap. */
  private pick(finding: Finding, rings: ReadonlyMap<string, PacketRing>): Pick[] {
    const referenced: Pick[] = [];
    let linktype: number | undefined;
    for (const ev of finding.evidence) {
      if (ev.frame === undefined) continue;
      const ring = rings.get(ev.source);
      if (!ring) continue;
      // One pcap holds one link type: frames from interfaces of another type are left out.
      linktype ??= ring.linktype;
      if (ring.linktype !== linktype) continue;
      const index = ring.indexOf(ev.frame);
      if (index >= 0 && !referenced.some((p) => p.ring === ring && p.index === index)) referenced.push({ ring, index, referenced: true });
    }
    if (referenced.length === 0) return [];
    const newest = referenced[referenced.length - 1]!;
    const context: Pick[] = [];
    for (let i = newest.index - 1; i >= 0 && context.length < this.opts.contextFrames; i--) {
      if (!referenced.some((p) => p.ring === newest.ring && p.index === i)) context.push({ ring: newest.ring, index: i, referenced: false });
    }
    // Drop the oldest context first, then the oldest referenced frames, to fit the file cap.
    const budget = this.opts.maxFileBytes - PCAP_HEADER_BYTES;
    let used = referenced.reduce((n, p) => n + RECORD_HEADER_BYTES + p.ring.caplenAt(p.index), 0);
    while (used > budget && referenced.length > 1) {
      const p = referenced.shift()!;
      used -= RECORD_HEADER_BYTES + p.ring.caplenAt(p.index);
    }
    const kept: Pick[] = [];
    for (const p of context) {
      const n = RECORD_HEADER_BYTES + p.ring.caplenAt(p.index);
      if (used + n > budget) break;
      used += n;
      kept.push(p);
    }
    return [...kept, ...referenced].sort((a, b) => a.ring.timeMicrosAt(a.index) - b.ring.timeMicrosAt(b.index) || a.ring.frameNoAt(a.index) - b.ring.frameNoAt(b.index));
  }
}

function sizeOf(picks: readonly Pick[]): number {
  return picks.reduce((n, p) => n + RECORD_HEADER_BYTES + p.ring.caplenAt(p.index), PCAP_HEADER_BYTES);
}
