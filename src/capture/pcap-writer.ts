import { openSync, writeSync, closeSync } from 'node:fs';

// Classic pcap (microsecond, little-endian) writer. Used for evidence files,
// the demo and benchmark generators, and tests.

const FILE_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;

export function pcapFileHeader(linktype: number, snaplen = 262144): Buffer {
  const h = Buffer.alloc(FILE_HEADER_LEN);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeInt32LE(0, 8);
  h.writeUInt32LE(0, 12);
  h.writeUInt32LE(snaplen, 16);
  h.writeUInt32LE(linktype, 20);
  return h;
}

/** Writes records into a reusable buffer and flushes it to a file descriptor in large blocks. */
export class PcapWriter {
  private readonly fd: number;
  private readonly block: Buffer;
  private used = 0;
  private closed = false;
  packets = 0;

  constructor(path: string, linktype: number, blockSize = 1 << 20) {
    this.fd = openSync(path, 'w');
    this.block = Buffer.allocUnsafe(Math.max(blockSize, 65536 + RECORD_HEADER_LEN));
    const header = pcapFileHeader(linktype);
    header.copy(this.block, 0);
    this.used = header.length;
  }

  /** Appends one frame; `timeMicros` is microseconds since the epoch. */
  write(frame: Uint8Array, timeMicros: number, origlen = frame.length, start = 0, end = frame.length): void {
    const caplen = end - start;
    if (this.used + RECORD_HEADER_LEN + caplen > this.block.length) this.flush();
    if (RECORD_HEADER_LEN + caplen > this.block.length) throw new RangeError(`frame of ${caplen} bytes is larger than the write block`);
    const b = this.block;
    const sec = Math.floor(timeMicros / 1e6);
    b.writeUInt32LE(sec >>> 0, this.used);
    b.writeUInt32LE(Math.round(timeMicros - sec * 1e6) >>> 0, this.used + 4);
    b.writeUInt32LE(caplen, this.used + 8);
    b.writeUInt32LE(origlen, this.used + 12);
    b.set(frame.subarray(start, end), this.used + RECORD_HEADER_LEN);
    this.used += RECORD_HEADER_LEN + caplen;
    this.packets++;
  }

  flush(): void {
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.block, off, this.used - off);
    this.used = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    closeSync(this.fd);
    this.closed = true;
  }
}
