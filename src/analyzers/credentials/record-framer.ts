import { PendingLogin, type ProtocolParser, type Session } from './session.js';
import type { BufferBudget } from './text.js';

// Frames one direction of a binary protocol (LDAP's BER messages, SMB's
// NetBIOS session records) into whole records. Records up to maxRecord bytes
// are handed over in place when a chunk holds them whole, assembled otherwise;
// longer ones (search results, file data) are skipped by length without
// buffering. FramedParser is a protocol parser over one framer per direction.

/** frameLength results besides a record's total length. */
export const FRAME_NEED_MORE = 0;
export const FRAME_BROKEN = -1;

export interface RecordFormat {
  /** Most bytes frameLength needs to decide; more than that undecided is broken. */
  readonly maxHeader: number;
  /** Total length of the record starting at buf[start], FRAME_NEED_MORE or FRAME_BROKEN. */
  frameLength(buf: Buffer, start: number, end: number): number;
}

export interface RecordSink {
  record(fromClient: boolean, buf: Buffer, start: number, end: number): void;
}

export class RecordFramer {
  private readonly header: Buffer;
  private headerLen = 0;
  private msg: Buffer | null = null;
  private msgLen = 0;
  private skipLeft = 0;
  /** The stream does not frame as this format's records. */
  broken = false;
  /** Bytes were lost: framing cannot be trusted any more. */
  lost = false;
  /** The parser needs no more records (it stopped the flow): the rest of the chunk is not framed either. */
  done = false;

  constructor(
    private readonly format: RecordFormat,
    private readonly maxRecord: number,
    private readonly budget: BufferBudget,
    private readonly sink: RecordSink,
    private readonly fromClient: boolean,
  ) {
    this.header = Buffer.alloc(format.maxHeader);
  }

  /** Gives the record being assembled back to the budget. */
  release(): void {
    if (this.msg !== null) this.budget.give(this.msg.length);
    this.msg = null;
  }

  private complete(): void {
    const m = this.msg!;
    this.msg = null;
    this.sink.record(this.fromClient, m, 0, m.length);
    this.budget.give(m.length);
  }

  push(buf: Buffer, start: number, end: number): void {
    if (this.lost || this.done) return;
    const format = this.format;
    let i = start;
    while (i < end && !this.broken && !this.done) {
      if (this.skipLeft > 0) {
        const n = Math.min(this.skipLeft, end - i);
        this.skipLeft -= n;
        i += n;
        continue;
      }
      if (this.msg !== null) {
        const n = Math.min(this.msg.length - this.msgLen, end - i);
        buf.copy(this.msg, this.msgLen, i, i + n);
        this.msgLen += n;
        i += n;
        if (this.msgLen === this.msg.length) this.complete();
        continue;
      }
      // A whole record inside this chunk, no header pending: read in place.
      if (this.headerLen === 0) {
        const total = format.frameLength(buf, i, end);
        if (total > 0 && total <= end - i) {
          this.sink.record(this.fromClient, buf, i, i + total);
          i += total;
          continue;
        }
      }
      this.header[this.headerLen++] = buf[i++]!;
      const total = format.frameLength(this.header, 0, this.headerLen);
      if (total === FRAME_NEED_MORE && this.headerLen < this.header.length) continue;
      if (total <= 0 || total < this.headerLen) {
        this.broken = true;
        return;
      }
      const h = this.headerLen;
      this.headerLen = 0;
      if (total > this.maxRecord || !this.budget.take(total)) {
        this.skipLeft = total - h;
        continue;
      }
      this.msg = Buffer.allocUnsafe(total);
      this.header.copy(this.msg, 0, 0, h);
      this.msgLen = h;
      if (this.msgLen === total) this.complete();
    }
  }
}

/**
 * A parser of a record-framed protocol: each direction framed by its format
 * (`format`, or `serverFormat` for the server's when it differs), records
 * handed to record(). A stream that stops framing is flagged malformed
 * (`layer`, `brokenReason`) and no longer followed; a gap loses the framing
 * of its direction for good.
 */
export abstract class FramedParser implements ProtocolParser, RecordSink {
  private readonly client: RecordFramer;
  private readonly server: RecordFramer;

  constructor(
    protected readonly session: Session,
    format: RecordFormat,
    maxRecord: number,
    protected readonly layer: string,
    private readonly brokenReason: string,
    serverFormat: RecordFormat = format,
  ) {
    this.client = new RecordFramer(format, maxRecord, session.budget, this, true);
    this.server = new RecordFramer(serverFormat, maxRecord, session.budget, this, false);
  }

  abstract record(fromClient: boolean, buf: Buffer, start: number, end: number): void;

  abstract close(): void;

  data(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    const f = fromClient ? this.client : this.server;
    f.push(buf, start, end);
    if (f.broken) {
      this.session.malformed(this.layer, this.brokenReason);
      this.close();
      this.session.stop();
    }
  }

  gap(fromClient: boolean): void {
    (fromClient ? this.client : this.server).lost = true;
  }

  /** No more records are wanted from either direction, not even the rest of the chunk being framed. */
  protected stopFraming(): void {
    this.client.done = true;
    this.server.done = true;
  }

  release(): void {
    this.client.release();
    this.server.release();
  }
}

/**
 * A record-framed protocol with one login per connection waiting for the
 * server's verdict (SOCKS5, PostgreSQL, MySQL, MQTT, VNC, TDS): the flow ends
 * by reporting it, without a verdict if none came.
 */
export abstract class FramedLoginParser extends FramedParser {
  protected readonly pending: PendingLogin;

  constructor(session: Session, format: RecordFormat, maxRecord: number, layer: string, brokenReason: string, serverFormat: RecordFormat = format) {
    super(session, format, maxRecord, layer, brokenReason, serverFormat);
    this.pending = new PendingLogin(session);
  }

  close(): void {
    this.pending.close();
  }

  /** Nothing more of the flow is wanted: framing stops, a login still waiting is reported without a verdict. */
  protected finish(): void {
    this.stopFraming();
    this.pending.close();
    this.session.stop();
  }

  /** A message that breaks the protocol (a constant reason): flagged malformed, and the flow is no longer followed. */
  protected broken(reason: string): void {
    this.session.malformed(this.layer, reason);
    this.finish();
  }
}
