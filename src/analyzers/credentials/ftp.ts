import { LineProtocolParser } from './line-protocol.js';
import type { Session } from './session.js';
import { argStart, isCommand, replyCode, text } from './text.js';

// FTP (RFC 959): USER then PASS in cleartext; 230/202 accept, 530 and other
// 4xx/5xx refuse. "anonymous"/"ftp" are public accounts whose password is by
// convention an e-mail address. AUTH TLS answered 234 means the control
// connection continues in TLS.

const MAX_LINE = 1024;
const ANONYMOUS = /^(anonymous|ftp)$/i;

export class FtpParser extends LineProtocolParser {
  private authTls = false;

  constructor(session: Session) {
    super(session, 'cred-ftp', 'FTP', MAX_LINE);
  }

  protected clientLine(buf: Buffer, start: number, end: number): void {
    if (isCommand(buf, start, end, 'USER')) {
      this.userCommand(buf, start, end);
    } else if (isCommand(buf, start, end, 'PASS')) {
      this.passCommand(buf, start, end, ANONYMOUS.test(this.user));
    } else if (isCommand(buf, start, end, 'AUTH')) {
      const mech = text(buf, argStart(buf, start, end), end).trim().toUpperCase();
      this.authTls = mech === 'TLS' || mech === 'SSL' || mech === 'TLS-C';
    }
  }

  protected serverLine(buf: Buffer, start: number, end: number): void {
    const code = replyCode(buf, start, end);
    if (code < 0) return;
    if (this.authTls) {
      this.authTls = false;
      if (code === 234) {
        this.upgrade();
        return;
      }
    }
    if (!this.pending.active) return;
    if (code === 230 || code === 202) this.verdict(true, String(code));
    else if (code >= 400) this.verdict(false, String(code));
    // 332 (account needed) and other 3xx: still waiting.
  }
}
