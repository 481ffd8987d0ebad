import { SaslExchange } from './sasl.js';
import { LineProtocolParser } from './line-protocol.js';
import type { Session } from './session.js';
import { argStart, capText, isCommand, startsWithCI } from './text.js';

// POP3 (RFC 1939, 5034): USER/PASS, APOP (an MD5 digest of the greeting's
// timestamp and the password: crackable offline, hashcat 20 as
// digest:timestamp), AUTH with a SASL mechanism.
// "+OK" accepts, "-ERR" refuses. CAPA listing STLS offers TLS; STLS answered
// +OK upgrades the connection.

const MAX_LINE = 16384;
/** The greeting's APOP timestamp, "<process-id.clock@hostname>" (RFC 1939 7). */
const APOP_TIMESTAMP = /<[^<>\s]{1,256}>/;

export class Pop3Parser extends LineProtocolParser {
  private readonly sasl = new SaslExchange();
  private capaListing = false;
  private stlsSent = false;
  private greeted = false;
  private timestamp = '';

  constructor(session: Session) {
    super(session, 'cred-pop3', 'POP3', MAX_LINE);
  }

  override gap(fromClient: boolean): void {
    super.gap(fromClient);
    this.capaListing = false;
  }

  protected clientLine(buf: Buffer, start: number, end: number): void {
    if (this.sasl.active) {
      this.attempt(this.sasl.respond(buf.toString('latin1', start, end)));
      return;
    }
    if (isCommand(buf, start, end, 'USER')) {
      this.userCommand(buf, start, end);
    } else if (isCommand(buf, start, end, 'PASS')) {
      this.passCommand(buf, start, end);
    } else if (isCommand(buf, start, end, 'APOP')) {
      const args = buf.toString('utf8', argStart(buf, start, end), end).trim();
      const sp = args.lastIndexOf(' ');
      if (sp <= 0) return;
      const digest = args.slice(sp + 1);
      this.attempt({
        mechanism: 'APOP',
        user: capText(args.slice(0, sp).trim()),
        secret: Buffer.from(this.timestamp ? `${digest}:${this.timestamp}` : digest, 'latin1'),
        kind: 'hash',
        proof: 'an APOP digest',
      });
    } else if (isCommand(buf, start, end, 'AUTH')) {
      const args = buf.toString('latin1', argStart(buf, start, end), end).trim().split(/\s+/);
      // "AUTH" alone lists mechanisms (RFC 1734).
      if (args[0]) this.attempt(this.sasl.begin(args[0], args[1] ?? null));
    } else if (isCommand(buf, start, end, 'CAPA')) {
      this.capaListing = true;
    } else if (isCommand(buf, start, end, 'STLS')) {
      this.stlsSent = true;
    }
  }

  protected serverLine(buf: Buffer, start: number, end: number): void {
    if (!this.greeted) {
      this.greeted = true;
      if (startsWithCI(buf, start, end, '+OK')) this.timestamp = APOP_TIMESTAMP.exec(buf.toString('latin1', start, end))?.[0] ?? '';
    }
    if (this.capaListing) {
      if (end - start === 1 && buf[start] === 0x2e) this.capaListing = false;
      else if (isCommand(buf, start, end, 'STLS')) this.session.offerStartTls();
      if (!startsWithCI(buf, start, end, '+OK') && !startsWithCI(buf, start, end, '-ERR')) return;
    }
    const ok = startsWithCI(buf, start, end, '+OK');
    const err = !ok && startsWithCI(buf, start, end, '-ERR');
    if (!ok && !err) {
      // "+ <base64>": a SASL challenge, the exchange goes on.
      if (end - start >= 2 && buf[start] === 0x2b && buf[start + 1] === 0x20) this.sasl.challenge(buf.toString('latin1', start + 2, end));
      return;
    }
    if (err) this.capaListing = false;
    if (this.stlsSent) {
      this.stlsSent = false;
      if (ok) {
        this.upgrade();
        return;
      }
    }
    this.sasl.end();
    if (!this.pending.active) return;
    this.verdict(ok, ok ? '+OK' : '-ERR');
  }
}
