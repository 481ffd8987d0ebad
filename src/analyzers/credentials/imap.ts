import { SaslExchange, type SaslCredential } from './sasl.js';
import { LineProtocolParser } from './line-protocol.js';
import type { Session } from './session.js';
import { capText, containsCI, startsWithCI } from './text.js';

// IMAP (RFC 9051): "tag LOGIN user pass" with atoms, quoted strings or
// literals ({n} then n raw bytes), "tag AUTHENTICATE mech [ir]" with a SASL
// exchange; the tagged OK/NO/BAD answers. A CAPABILITY listing STARTTLS
// offers TLS; a tagged OK to STARTTLS upgrades the connection. Server
// literals (message bodies) are skipped by length, not parsed.

const MAX_LINE = 16384;
/** Client literals longer than this are no login arguments: skipped. */
const MAX_LITERAL = 4096;
const MAX_TOKENS = 6;

export class ImapParser extends LineProtocolParser {
  private readonly sasl = new SaslExchange();
  private pendingTag = '';
  private saslTag = '';
  private startTlsTag = '';
  /** The command being assembled: tokens so far; a literal continues it on the next line. */
  private tokens: Buffer[] = [];
  private assembling = false;
  private literal: Buffer | null = null;
  private literalLen = 0;
  /** A literal too long to be a login argument was skipped: drop the rest of that command. */
  private dropCommand = false;

  constructor(session: Session) {
    super(session, 'cred-imap', 'IMAP', MAX_LINE);
  }

  override gap(fromClient: boolean): void {
    super.gap(fromClient);
    if (fromClient) {
      this.assembling = false;
      this.tokens = [];
      this.dropLiteral();
    }
  }

  override release(): void {
    super.release();
    this.dropLiteral();
  }

  private dropLiteral(): void {
    if (this.literal !== null) this.session.budget.give(this.literal.length);
    this.literal = null;
  }

  protected clientLine(buf: Buffer, start: number, end: number): void {
    if (this.dropCommand) {
      this.dropCommand = this.endsWithLiteral(buf, start, end) >= 0;
      return;
    }
    if (this.sasl.active && !this.assembling) {
      this.saslDone(this.sasl.respond(buf.toString('latin1', start, end)));
      return;
    }
    if (!this.assembling) this.tokens = [];
    const literal = this.tokenize(buf, start, end);
    if (literal >= 0) {
      this.assembling = true;
      if (literal > MAX_LITERAL || !this.session.budget.take(literal)) {
        this.client.expectRaw(literal);
        this.assembling = false;
        this.dropCommand = true;
        return;
      }
      this.literal = Buffer.allocUnsafe(literal);
      this.literalLen = 0;
      this.client.expectRaw(literal);
      if (literal === 0) this.literalDone();
      return;
    }
    this.assembling = false;
    this.execute();
  }

  /** Bytes of a client literal (client.expectRaw). */
  protected override clientRaw(buf: Buffer, start: number, end: number): void {
    if (this.literal === null) return;
    buf.copy(this.literal, this.literalLen, start, end);
    this.literalLen += end - start;
    if (this.literalLen >= this.literal.length) this.literalDone();
  }

  private literalDone(): void {
    // The token keeps a copy; the literal buffer goes back to the budget.
    if (this.literal !== null && this.tokens.length < MAX_TOKENS) this.tokens.push(Buffer.from(this.literal));
    this.dropLiteral();
  }

  /** The n of a line ending in "{n}" or "{n+}", else -1. */
  private endsWithLiteral(buf: Buffer, start: number, end: number): number {
    if (end - start < 3 || buf[end - 1] !== 0x7d) return -1;
    let i = end - 2;
    if (buf[i] === 0x2b) i--;
    let n = 0;
    let digits = 0;
    let mul = 1;
    while (i > start && buf[i]! >= 0x30 && buf[i]! <= 0x39 && digits < 10) {
      n += (buf[i]! - 0x30) * mul;
      mul *= 10;
      digits++;
      i--;
    }
    return digits > 0 && buf[i] === 0x7b ? n : -1;
  }

  /** Splits the line into atoms and quoted strings; returns the length of a trailing literal, or -1. */
  private tokenize(buf: Buffer, start: number, end: number): number {
    const literal = this.endsWithLiteral(buf, start, end);
    let stop = end;
    if (literal >= 0) stop = buf.lastIndexOf(0x7b, end - 1);
    let i = start;
    while (i < stop && this.tokens.length < MAX_TOKENS) {
      while (i < stop && buf[i] === 0x20) i++;
      if (i >= stop) break;
      if (buf[i] === 0x22) {
        const out: number[] = [];
        i++;
        while (i < stop && buf[i] !== 0x22) {
          if (buf[i] === 0x5c && i + 1 < stop) i++;
          if (out.length < MAX_LINE) out.push(buf[i]!);
          i++;
        }
        i++;
        this.tokens.push(Buffer.from(out));
      } else {
        const s = i;
        while (i < stop && buf[i] !== 0x20) i++;
        this.tokens.push(Buffer.from(buf.subarray(s, i)));
      }
    }
    return literal;
  }

  private execute(): void {
    const t = this.tokens;
    this.tokens = [];
    if (t.length < 2) return;
    const tag = t[0]!.toString('latin1');
    const command = t[1]!.toString('latin1').toUpperCase();
    if (command === 'LOGIN' && t.length >= 4) {
      this.pendingTag = tag;
      this.attempt({ mechanism: 'LOGIN', user: capText(t[2]!.toString('utf8')), secret: t[3]!, kind: 'password' });
    } else if (command === 'AUTHENTICATE' && t.length >= 3) {
      this.saslTag = tag;
      this.saslDone(this.sasl.begin(t[2]!.toString('latin1'), t.length >= 4 ? t[3]!.toString('latin1') : null));
    } else if (command === 'STARTTLS') {
      this.startTlsTag = tag;
    }
  }

  private saslDone(c: SaslCredential | null): void {
    if (!c) return;
    this.pendingTag = this.saslTag;
    this.attempt({ ...c, mechanism: c.mechanism.replace(/^AUTH /, 'AUTHENTICATE ') });
  }

  protected serverLine(buf: Buffer, start: number, end: number): void {
    // A literal in a response (message data) is skipped by its length.
    const literal = this.endsWithLiteral(buf, start, end);
    if (literal >= 0) this.server.expectRaw(literal);
    if (end - start < 2) return;
    if (buf[start] === 0x2a || containsCI(buf, start, Math.min(end, start + 64), '[CAPABILITY')) {
      if (containsCI(buf, start, Math.min(end, start + 512), 'CAPABILITY') && containsCI(buf, start, end, 'STARTTLS')) this.session.offerStartTls();
      if (buf[start] === 0x2a) return;
    }
    if (buf[start] === 0x2b) {
      // A continuation request: an AUTHENTICATE challenge, or a literal's go-ahead.
      this.sasl.challenge(buf.toString('latin1', start + 1, end));
      return;
    }
    let sp = start;
    while (sp < end && buf[sp] !== 0x20) sp++;
    if (sp >= end) return;
    const status = sp + 1;
    const ok = startsWithCI(buf, status, end, 'OK');
    const no = !ok && (startsWithCI(buf, status, end, 'NO') || startsWithCI(buf, status, end, 'BAD'));
    if (!ok && !no) return;
    const tag = buf.toString('latin1', start, sp);
    if (this.startTlsTag !== '' && tag === this.startTlsTag) {
      this.startTlsTag = '';
      if (ok) this.upgrade();
      return;
    }
    if (this.saslTag !== '' && tag === this.saslTag) {
      this.saslTag = '';
      this.sasl.end();
    }
    if (this.pending.active && tag === this.pendingTag) {
      this.pendingTag = '';
      this.verdict(ok, buf.toString('latin1', status, Math.min(end, status + 3)).trim().toUpperCase());
    }
  }
}
