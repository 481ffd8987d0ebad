import type { RawFrame } from '../frame.js';

// The last packets seen on one interface, so a finding raised live can still
// show the frames that caused it. Bounded twice: a number of frames and a
// byte arena; the oldest frames are overwritten first. Pushing copies bytes
// into preallocated storage (no allocation per packet).

export class PacketRing {
  private readonly arena: Buffer;
  private readonly frameNos: Float64Array;
  private readonly tsSecs: Float64Array;
  private readonly tsNsecs: Uint32Array;
  private readonly offsets: Uint32Array;
  private readonly caplens: Uint32Array;
  private readonly origlens: Uint32Array;
  /** Slot of the oldest frame. */
  private head = 0;
  private count = 0;
  /** Where the next frame's bytes go in the arena. */
  private writePos = 0;

  constructor(
    readonly maxFrames: number,
    readonly maxBytes: number,
    /** LINKTYPE_* of the frames held (evidence files need one). */
    public linktype: number,
  ) {
    if (!Number.isInteger(maxFrames) || maxFrames < 1) throw new RangeError('ring needs at least one frame');
    if (!Number.isInteger(maxBytes) || maxBytes < 65536) throw new RangeError('ring needs at least 64 KiB');
    this.arena = Buffer.allocUnsafe(maxBytes);
    this.frameNos = new Float64Array(maxFrames);
    this.tsSecs = new Float64Array(maxFrames);
    this.tsNsecs = new Uint32Array(maxFrames);
    this.offsets = new Uint32Array(maxFrames);
    this.caplens = new Uint32Array(maxFrames);
    this.origlens = new Uint32Array(maxFrames);
  }

  get size(): number {
    return this.count;
  }

  /** Forgets everything (the interface came back with another link type). */
  reset(linktype: number): void {
    this.linktype = linktype;
    this.head = 0;
    this.count = 0;
    this.writePos = 0;
  }

  /** Copies the frame in; frame numbers must increase. Frames larger than the arena are not kept. */
  push(frame: RawFrame): void {
    const len = frame.caplen;
    if (len > this.maxBytes) return;
    let pos = this.writePos;
    if (pos + len > this.maxBytes) {
      // Wrap to the start: the oldest frames, those between writePos and the end, go first.
      while (this.count > 0 && this.offsets[this.head]! >= this.writePos) this.dropOldest();
      pos = 0;
    }
    // Make room: the frame count, and the oldest frames whose bytes the new one overwrites.
    while (this.count > 0 && (this.count >= this.maxFrames || this.oldestOverlaps(pos, len))) this.dropOldest();
    const slot = (this.head + this.count) % this.maxFrames;
    frame.data.copy(this.arena, pos, frame.offset, frame.offset + len);
    this.frameNos[slot] = frame.frameNo;
    this.tsSecs[slot] = frame.tsSec;
    this.tsNsecs[slot] = frame.tsNsec;
    this.offsets[slot] = pos;
    this.caplens[slot] = len;
    this.origlens[slot] = frame.origlen;
    this.count++;
    this.writePos = pos + len;
  }

  private oldestOverlaps(pos: number, len: number): boolean {
    const off = this.offsets[this.head]!;
    return off < pos + len && off + this.caplens[this.head]! > pos;
  }

  private dropOldest(): void {
    this.head = (this.head + 1) % this.maxFrames;
    this.count--;
  }

  /** Position (0 = oldest) of the frame with this number, or -1 when it is no longer held. */
  indexOf(frameNo: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const n = this.frameNos[(this.head + mid) % this.maxFrames]!;
      if (n === frameNo) return mid;
      if (n < frameNo) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  frameNoAt(index: number): number {
    return this.frameNos[this.slot(index)]!;
  }

  /** Microseconds since the epoch, as pcap records want. */
  timeMicrosAt(index: number): number {
    const s = this.slot(index);
    return this.tsSecs[s]! * 1e6 + Math.floor(this.tsNsecs[s]! / 1000);
  }

  origlenAt(index: number): number {
    return this.origlens[this.slot(index)]!;
  }

  caplenAt(index: number): number {
    return this.caplens[this.slot(index)]!;
  }

  /** The frame's bytes (a view into the ring: copy or write them before the next push). */
  bytesAt(index: number): Buffer {
    const s = this.slot(index);
    return this.arena.subarray(this.offsets[s]!, this.offsets[s]! + this.caplens[s]!);
  }

  private slot(index: number): number {
    if (index < 0 || index >= this.count) throw new RangeError(`ring index ${index} out of range`);
    return (this.head + index) % this.maxFrames;
  }
}
