import { SaslExchange, type SaslCredential } from './sasl.js';
import { PendingLogin, type ProtocolParser, type Session } from './session.js';
import { argStart, capText, copyBytes, isCommand, LineReader, startsWithCI, text } from './text.js';

// POP3 (RFC 1939, 5034): USER/PASS, APOP (an MD5 digest of the greeting's
// timestamp and the password: crackable offline), AUTH with a SASL mechanism.
// "+OK" accepts, "-ERR" refuses. CAPA listing STLS offers TLS; STLS answered
// +OK upgrades the connection.

const MAX_LINE = 16384;

export class Pop3Parser implements ProtocolParser {
  private readonly client: LineReader;
  private readonly server: LineReader;
  private readonly pending: PendingLogin;
  private readonly sasl = new SaslExchange();
  private user = '';
  private userSeen = false;
  private capaListing = false;
  private stlsSent = false;

  constructor(private readonly session: Session) {
    this.pending = new PendingLogin(session);
    this.client = new LineReader(MAX_LINE, session.budget, (b, s, e) => this.clientLine(b, s, e));
    this.server = new LineReader(MAX_LINE, session.budget, (b, s, e) => this.serverLine(b, s, e));
  }

  data(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    (fromClient ? this.client : this.server).push(buf, start, end);
  }

  gap(fromClient: boolean): void {
    (fromClient ? this.client : this.server).reset();
    this.capaListing = false;
  }

  close(): void {
    this.pending.close();
  }

  release(): void {
    this.client.release();
    this.server.release();
  }

  private clientLine(buf: Buffer, start: number, end: number): void {
    if (this.sasl.active) {
      this.saslDone(this.sasl.respond(buf.toString('latin1', start, end)));
      return;
    }
    if (isCommand(buf, start, end, 'USER')) {
      this.user = text(buf, argStart(buf, start, end), end).trim();
      this.userSeen = true;
    } else if (isCommand(buf, start, end, 'PASS')) {
      this.pending.set(
        this.session.credential({
          rule: 'cred-pop3',
          protocol: 'POP3',
          mechanism: 'USER/PASS',
          user: this.userSeen ? this.user : '(not seen)',
          secret: copyBytes(buf, Math.min(end, start + 5), end),
          kind: 'password',
        }),
      );
    } else if (isCommand(buf, start, end, 'APOP')) {
      const args = buf.toString('utf8', argStart(buf, start, end), end).trim();
      const sp = args.lastIndexOf(' ');
      if (sp <= 0) return;
      this.pending.set(
        this.session.credential({
          rule: 'cred-pop3',
          protocol: 'POP3',
          mechanism: 'APOP',
          user: capText(args.slice(0, sp).trim()),
          secret: Buffer.from(args.slice(sp + 1), 'latin1'),
          kind: 'hash',
        }),
      );
    } else if (isCommand(buf, start, end, 'AUTH')) {
      const args = buf.toString('latin1', argStart(buf, start, end), end).trim().split(/\s+/);
      // "AUTH" alone lists mechanisms (RFC 1734).
      if (args[0]) this.saslDone(this.sasl.begin(args[0], args[1] ?? null));
    } else if (isCommand(buf, start, end, 'CAPA')) {
      this.capaListing = true;
    } else if (isCommand(buf, start, end, 'STLS')) {
      this.stlsSent = true;
    }
  }

  private saslDone(c: SaslCredential | null): void {
    if (!c) return;
    this.pending.set(this.session.credential({ rule: 'cred-pop3', protocol: 'POP3', ...c }));
  }

  private serverLine(buf: Buffer, start: number, end: number): void {
    if (this.capaListing) {
      if (end - start === 1 && buf[start] === 0x2e) this.capaListing = false;
      else if (isCommand(buf, start, end, 'STLS')) this.session.offerStartTls();
      if (!startsWithCI(buf, start, end, '+OK') && !startsWithCI(buf, start, end, '-ERR')) return;
    }
    const ok = startsWithCI(buf, start, end, '+OK');
    const err = !ok && startsWithCI(buf, start, end, '-ERR');
    if (!ok && !err) return;
    if (err) this.capaListing = false;
    if (this.stlsSent) {
      this.stlsSent = false;
      if (ok) {
        this.pending.close();
        this.session.upgraded();
        return;
      }
    }
    this.sasl.end();
    if (!this.pending.active) return;
    this.pending.resolve(ok ? 'succeeded' : 'failed', ok ? '+OK' : '-ERR');
    if (ok) this.session.stop();
  }
}
