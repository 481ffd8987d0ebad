import { SaslExchange } from './sasl.js';
import { LineProtocolParser } from './line-protocol.js';
import type { Session } from './session.js';
import { argStart, isCommand, isFinalReplyLine, replyCode, startsWithCI } from './text.js';

// SMTP submission (RFC 4954): AUTH PLAIN/LOGIN (and XOAUTH2) as a SASL
// exchange over 334 challenges; 235 accepts, 5xx/4xx refuse. EHLO answered
// with a STARTTLS line offers TLS; STARTTLS answered 220 upgrades. Message
// bodies after DATA are not commands and are skipped.

const MAX_LINE = 16384;

export class SmtpParser extends LineProtocolParser {
  private readonly sasl = new SaslExchange();
  /** After DATA the client sends the message, up to a "." line: not commands. */
  private inData = false;
  private startTlsSent = false;
  private authSent = false;

  constructor(session: Session) {
    super(session, 'cred-smtp', 'SMTP', MAX_LINE);
  }

  protected clientLine(buf: Buffer, start: number, end: number): void {
    if (this.inData) {
      if (end - start === 1 && buf[start] === 0x2e) this.inData = false;
      return;
    }
    if (this.sasl.active) {
      this.attempt(this.sasl.respond(buf.toString('latin1', start, end)));
      return;
    }
    if (isCommand(buf, start, end, 'AUTH')) {
      const args = buf.toString('latin1', argStart(buf, start, end), end).trim().split(/\s+/);
      if (args[0]) {
        this.authSent = true;
        this.attempt(this.sasl.begin(args[0], args[1] ?? null));
      }
    } else if (isCommand(buf, start, end, 'STARTTLS')) {
      this.startTlsSent = true;
    } else if (isCommand(buf, start, end, 'DATA')) {
      // Entered at once: with PIPELINING the 354 comes after replies to earlier commands.
      this.inData = true;
    } else if (isCommand(buf, start, end, 'BDAT')) {
      // Binary chunks are not line-framed: nothing after them is parsed.
      this.pending.close();
      this.session.stop();
    }
  }

  protected serverLine(buf: Buffer, start: number, end: number): void {
    const code = replyCode(buf, start, end);
    if (code < 0) return;
    if (code === 250 && end - start > 4 && startsWithCI(buf, start + 4, end, 'STARTTLS')) this.session.offerStartTls();
    if (!isFinalReplyLine(buf, start, end)) return;
    if (this.startTlsSent) {
      this.startTlsSent = false;
      if (code === 220) {
        this.upgrade();
        return;
      }
    }
    if (code === 334) {
      // SASL challenge: the exchange goes on.
      this.sasl.challenge(buf.toString('latin1', Math.min(end, start + 4), end));
      return;
    }
    if (this.authSent) {
      this.authSent = false;
      this.sasl.end();
    }
    if (!this.pending.active) return;
    if (code === 235) this.verdict(true, '235');
    else if (code >= 400) this.verdict(false, String(code));
  }
}
