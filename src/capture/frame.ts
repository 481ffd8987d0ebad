// What every capture source (file reader now, live libpcap later) hands to the
// decoder. One object is reused for every frame: the bytes are only valid
// during the callback, so consumers copy what they keep.

export interface RawFrame {
  /** Backing buffer; the frame's bytes are data[offset, offset + caplen). */
  data: Buffer;
  offset: number;
  caplen: number;
  /** Length on the wire (may exceed caplen when the capture was snapped). */
  origlen: number;
  /** LINKTYPE_* value of the interface the frame was captured on. */
  linktype: number;
  tsSec: number;
  tsNsec: number;
  /** pcapng interface id; 0 for classic pcap. */
  interfaceId: number;
  /** 1-based frame number across the whole input, as tcpdump and Wireshark count. */
  frameNo: number;
  /** Byte offset of the record in the (decompressed) input. */
  fileOffset: number;
}

export function newRawFrame(): RawFrame {
  return {
    data: Buffer.alloc(0),
    offset: 0,
    caplen: 0,
    origlen: 0,
    linktype: 0,
    tsSec: 0,
    tsNsec: 0,
    interfaceId: 0,
    frameNo: 0,
    fileOffset: 0,
  };
}

/** A located problem with an input: which file and at which byte. */
export class CaptureError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${file}: byte ${offset}: ${reason}`);
    this.name = 'CaptureError';
  }
}

export type CaptureFormat = 'pcap' | 'pcapng';

export interface CaptureSummary {
  file: string;
  format: CaptureFormat | 'unknown';
  compressed: boolean;
  frames: number;
  /** Set when reading stopped early; frames before it were delivered. */
  error?: CaptureError;
}

export interface ReadOptions {
  /** Called now and then with bytes consumed from the file on disk and its size. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  /** Frame number to start counting from (so several files share one numbering if wanted). */
  firstFrameNo?: number;
}
