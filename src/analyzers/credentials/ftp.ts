import { PendingLogin, type ProtocolParser, type Session } from './session.js';
import { argStart, copyBytes, isCommand, LineReader, replyCode, text } from './text.js';

// FTP (RFC 959): USER then PASS in cleartext; 230/202 accept, 530 and other
// 4xx/5xx refuse. "anonymous"/"ftp" are public accounts whose password is by
// convention an e-mail address. AUTH TLS answered 234 means the control
// connection continues in TLS.

const MAX_LINE = 1024;
const ANONYMOUS = /^(anonymous|ftp)$/i;

export class FtpParser implements ProtocolParser {
  private readonly client: LineReader;
  private readonly server: LineReader;
  private readonly pending: PendingLogin;
  private user = '';
  private userSeen = false;
  private authTls = false;

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
  }

  close(): void {
    this.pending.close();
  }

  release(): void {
    this.client.release();
    this.server.release();
  }

  private clientLine(buf: Buffer, start: number, end: number): void {
    if (isCommand(buf, start, end, 'USER')) {
      this.user = text(buf, argStart(buf, start, end), end).trim();
      this.userSeen = true;
    } else if (isCommand(buf, start, end, 'PASS')) {
      // Everything after "PASS " is the password, spaces included.
      const from = Math.min(end, start + 5);
      const anonymous = ANONYMOUS.test(this.user);
      this.pending.set(
        this.session.credential({
          rule: 'cred-ftp',
          protocol: 'FTP',
          mechanism: 'USER/PASS',
          user: this.userSeen ? this.user : '(not seen)',
          secret: copyBytes(buf, from, end),
          kind: 'password',
          anonymous,
        }),
      );
    } else if (isCommand(buf, start, end, 'AUTH')) {
      const mech = text(buf, argStart(buf, start, end), end).trim().toUpperCase();
      this.authTls = mech === 'TLS' || mech === 'SSL' || mech === 'TLS-C';
    }
  }

  private serverLine(buf: Buffer, start: number, end: number): void {
    const code = replyCode(buf, start, end);
    if (code < 0) return;
    if (this.authTls) {
      this.authTls = false;
      if (code === 234) {
        this.pending.close();
        this.session.upgraded();
        return;
      }
    }
    if (!this.pending.active) return;
    if (code === 230 || code === 202) {
      this.pending.resolve('succeeded', String(code));
      this.session.stop();
    } else if (code >= 400) {
      this.pending.resolve('failed', String(code));
    }
    // 332 (account needed) and other 3xx: still waiting.
  }
}
