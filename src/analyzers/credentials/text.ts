// Byte-level helpers shared by the line-based credential parsers: a bounded
// line splitter over a reassembled stream, case-insensitive prefix tests on
// bytes (no string per line until a line matters) and strict base64.

export const LF = 0x0a;
export const CR = 0x0d;

/** Longest attacker-controlled text put into a finding. */
export const MAX_TEXT = 256;

/**
 * What a LineReader hands its lines to, told which direction they came from.
 * One object for both directions, not a closure per handler: a flow spray
 * creates a parser per flow, and closures were most of its weight.
 */
export interface LineSink {
  line(fromClient: boolean, buf: Buffer, start: number, end: number, truncated: boolean): void;
  /** Bytes announced by expectRaw (bodies, literals). */
  raw(fromClient: boolean, buf: Buffer, start: number, end: number): void;
  /**
   * Announced bytes beyond the chunk just read, for a sink that takes them unseen (expectRaw's
   * `passOver`): true if they will never reach the reader, false to have them read after all.
   */
  passOver?(fromClient: boolean, n: number): boolean;
}

/**
 * Bytes the parsers of one analyzer may hold at once (partial lines,
 * messages, bodies): with many flows each holding a little, the sum is what
 * must stay bounded. A parser refused more drops or truncates instead.
 */
export class BufferBudget {
  used = 0;

  constructor(readonly max: number) {}

  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used -= n;
  }
}

/**
 * Splits a byte stream into lines (LF-terminated, a trailing CR removed). A
 * line inside one chunk is handed over in place; a line split across chunks
 * is assembled in a buffer that grows (within the budget) to at most maxLine
 * bytes, beyond which the rest of the line is dropped and the line is flagged
 * truncated. `expectRaw(n)` makes the next n bytes go to the sink's raw()
 * instead (bodies, literals).
 */
export class LineReader {
  private acc: Buffer | null = null;
  private cap = 0;
  private accLen = 0;
  private overflow = false;
  private rawLeft = 0;
  private rawPassOver = false;
  /** Set by handlers to drop everything that follows. */
  stopped = false;
  // The sink's methods, bound: every protocol's sink is another class, and calling them through
  // `sink.line` made push's call sites megamorphic, a deoptimization and recompilation of push for
  // each protocol as it first appeared. Through these fields the loads stay monomorphic.
  private readonly onLine: LineSink['line'];
  private readonly onRaw: LineSink['raw'];
  private readonly onPassOver: LineSink['passOver'];

  constructor(
    private readonly maxLine: number,
    private readonly budget: BufferBudget,
    sink: LineSink,
    /** Passed back to the sink with each line. */
    private readonly fromClient: boolean,
  ) {
    this.onLine = sink.line.bind(sink);
    this.onRaw = sink.raw.bind(sink);
    this.onPassOver = sink.passOver?.bind(sink);
  }

  /** The next n bytes are passed to the sink's raw(); with `passOver`, those beyond the chunk being read are offered to its passOver() first. */
  expectRaw(n: number, passOver = false): void {
    this.rawLeft = Math.max(0, n);
    this.rawPassOver = passOver && this.onPassOver !== undefined;
  }

  /** Forgets a partial line (after a gap in the stream). */
  reset(): void {
    this.accLen = 0;
    this.overflow = false;
    this.rawLeft = 0;
  }

  /** Returns the line buffer to the budget. */
  release(): void {
    this.budget.give(this.cap);
    this.cap = 0;
    this.acc = null;
    this.accLen = 0;
  }

  push(buf: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end && !this.stopped) {
      if (this.rawLeft > 0) {
        const n = Math.min(this.rawLeft, end - i);
        this.rawLeft -= n;
        this.onRaw(this.fromClient, buf, i, i + n);
        i += n;
        // The chunk ended inside the announced bytes: the rest need not be read at all.
        if (this.rawLeft > 0 && this.rawPassOver && this.onPassOver!(this.fromClient, this.rawLeft)) this.rawLeft = 0;
        continue;
      }
      let nl = i;
      while (nl < end && buf[nl] !== LF) nl++;
      if (nl === end) {
        this.append(buf, i, end);
        return;
      }
      if (this.accLen === 0 && !this.overflow) {
        let e = nl;
        if (e > i && buf[e - 1] === CR) e--;
        const truncated = e - i > this.maxLine;
        this.onLine(this.fromClient, buf, i, truncated ? i + this.maxLine : e, truncated);
      } else {
        this.append(buf, i, nl);
        const acc = this.acc;
        let e = this.accLen;
        if (acc !== null && e > 0 && acc[e - 1] === CR) e--;
        const truncated = this.overflow;
        this.accLen = 0;
        this.overflow = false;
        this.onLine(this.fromClient, acc ?? buf, acc ? 0 : i, acc ? e : i, truncated);
      }
      i = nl + 1;
    }
  }

  private append(buf: Buffer, start: number, end: number): void {
    const want = Math.min(this.maxLine + 1, this.accLen + (end - start));
    if (want > this.cap) this.grow(want);
    const n = Math.min(this.cap - this.accLen, end - start);
    if (n > 0) {
      buf.copy(this.acc!, this.accLen, start, start + n);
      this.accLen += n;
    }
    if (end - start > n) this.overflow = true;
  }

  private grow(want: number): void {
    let cap = Math.max(256, this.cap * 2);
    while (cap < want) cap *= 2;
    cap = Math.min(cap, this.maxLine + 1);
    if (!this.budget.take(cap - this.cap)) return;
    const next = Buffer.allocUnsafe(cap);
    if (this.acc !== null) this.acc.copy(next, 0, 0, this.accLen);
    this.acc = next;
    this.cap = cap;
  }
}

/** buf[start, end) begins with `prefix` (ASCII, compared case-insensitively). */
export function startsWithCI(buf: Buffer, start: number, end: number, prefix: string): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    let c = buf[start + i]!;
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    let p = prefix.charCodeAt(i);
    if (p >= 0x61 && p <= 0x7a) p -= 0x20;
    if (c !== p) return false;
  }
  return true;
}

/** buf[start, end) is exactly `word` or begins with `word` followed by a space or tab. */
export function isCommand(buf: Buffer, start: number, end: number, word: string): boolean {
  if (!startsWithCI(buf, start, end, word)) return false;
  if (end - start === word.length) return true;
  const c = buf[start + word.length];
  return c === 0x20 || c === 0x09;
}

/** The bytes after the first space (or tab) of the line, leading blanks skipped; start of the argument. */
export function argStart(buf: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end && buf[i] !== 0x20 && buf[i] !== 0x09) i++;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
  return i;
}

/** Text for findings: decoded as UTF-8 and cut to MAX_TEXT characters. */
export function text(buf: Buffer, start: number, end: number): string {
  const s = buf.toString('utf8', start, Math.min(end, start + MAX_TEXT * 4));
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
}

/** Where the NUL-terminated string at buf[start] ends (its NUL, or `end` when it has none). */
export function nulEnd(buf: Buffer, start: number, end: number): number {
  let p = start;
  while (p < end && buf[p] !== 0) p++;
  return p;
}

export function capText(s: string): string {
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
}

/** A copy of the bytes (secrets are kept only until reported). */
export function copyBytes(buf: Buffer, start: number, end: number): Buffer {
  return Buffer.from(buf.subarray(start, end));
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict base64 (whitespace around it allowed); null when it is not base64 or longer than maxLen characters. */
export function decodeBase64(textIn: string, maxLen = 8192): Buffer | null {
  const t = textIn.trim();
  if (t.length > maxLen || t.length % 4 === 1 || !BASE64.test(t)) return null;
  return Buffer.from(t, 'base64');
}

/** Three-digit reply code at the start of a line (FTP, SMTP), or -1. */
export function replyCode(buf: Buffer, start: number, end: number): number {
  if (end - start < 3) return -1;
  const a = buf[start]! - 0x30;
  const b = buf[start + 1]! - 0x30;
  const c = buf[start + 2]! - 0x30;
  if (a < 1 || a > 5 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
  if (end - start > 3) {
    const sep = buf[start + 3];
    if (sep !== 0x20 && sep !== 0x2d && sep !== 0x09) return -1;
  }
  return a * 100 + b * 10 + c;
}

/** Reply line that ends a (possibly multi-line) FTP/SMTP reply: "NNN " or "NNN". */
export function isFinalReplyLine(buf: Buffer, start: number, end: number): boolean {
  return end - start === 3 || buf[start + 3] !== 0x2d;
}

/** Case-insensitive search of an ASCII word in buf[start, end). */
export function containsCI(buf: Buffer, start: number, end: number, word: string): boolean {
  const n = word.length;
  for (let i = start; i + n <= end; i++) if (startsWithCI(buf, i, end, word)) return true;
  return false;
}
