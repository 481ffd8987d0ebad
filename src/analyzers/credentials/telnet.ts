import { PendingLogin, type ProtocolParser, type Session } from './session.js';
import { capText } from './text.js';

// Telnet (RFC 854): option negotiation (IAC WILL/WONT/DO/DONT, IAC SB ... IAC
// SE) is stripped from both directions. The server's prompts say what the
// client types next: the line typed after "login:" is the user name, the line
// after "Password:" the password. Lines are rebuilt from the client's
// keystrokes (line mode or one character per segment, with backspace and ^U
// editing); the server's echo is ignored. The user name may also come from the
// NEW-ENVIRON USER variable (telnet -l). What the server prints after the
// password tells success ("Last login", a shell prompt) from failure ("Login
// incorrect", a new login prompt); anything else stays unknown.

const IAC = 255;
const SB = 250;
const SE = 240;
const WILL = 251;
const DONT = 254;
const OPT_NEW_ENVIRON = 39;
const OPT_OLD_ENVIRON = 36;

const MAX_INPUT_LINE = 256;
const MAX_SB = 512;
const TAIL = 160;
/** A prompt is a short line; longer text ending in "login:" is output, not a prompt. */
const MAX_PROMPT = 100;
/** Client lines read without a login happening: the session is past its login. */
const MAX_LINES = 64;

const enum Expect {
  Nothing,
  User,
  Password,
}

const USER_PROMPT = /(?:login|username|user name|user)\s*:\s*$/i;
const PASSWORD_PROMPT = /(?:password|passcode|passwd)\s*:\s*$/i;
const FAILURE = /login incorrect|incorrect password|authentication fail|access denied|permission denied|login failed|invalid (?:login|password|user)|bad password|not authori[sz]ed/i;
const SUCCESS = /last login|welcome|[$#>%]\s*$/i;

/** Strips telnet commands from one direction; data bytes go to `onByte`, subnegotiations to `onSb`. */
class TelnetDecoder {
  private state = 0; // 0 data, 1 after IAC, 2 option byte, 3 in SB, 4 IAC in SB
  private sb = Buffer.alloc(MAX_SB);
  private sbLen = 0;

  constructor(
    private readonly onByte: (b: number) => void,
    private readonly onSb: (sb: Buffer, len: number) => void,
  ) {}

  reset(): void {
    this.state = 0;
    this.sbLen = 0;
  }

  push(buf: Buffer, start: number, end: number): void {
    for (let i = start; i < end; i++) {
      const b = buf[i]!;
      switch (this.state) {
        case 0:
          if (b === IAC) this.state = 1;
          else this.onByte(b);
          break;
        case 1:
          if (b === IAC) {
            this.onByte(IAC);
            this.state = 0;
          } else if (b === SB) {
            this.state = 3;
            this.sbLen = 0;
          } else if (b >= WILL && b <= DONT) {
            this.state = 2;
          } else {
            this.state = 0; // two-byte command (NOP, GA, IP, AYT...)
          }
          break;
        case 2:
          this.state = 0;
          break;
        case 3:
          if (b === IAC) this.state = 4;
          else if (this.sbLen < MAX_SB) this.sb[this.sbLen++] = b;
          break;
        default:
          if (b === SE) {
            this.state = 0;
            this.onSb(this.sb, this.sbLen);
          } else {
            if (b === IAC && this.sbLen < MAX_SB) this.sb[this.sbLen++] = IAC;
            this.state = 3;
          }
      }
    }
  }
}

export class TelnetParser implements ProtocolParser {
  private readonly client: TelnetDecoder;
  private readonly server: TelnetDecoder;
  private readonly pending: PendingLogin;
  private expect = Expect.Nothing;
  private readonly line = Buffer.alloc(MAX_INPUT_LINE);
  private lineLen = 0;
  private afterCr = false;
  private lines = 0;
  /** The server's output since its last line break (prompts), and since the password (verdict). */
  private tail = '';
  private afterPassword = '';
  private user = '';
  private envUser = '';

  constructor(private readonly session: Session) {
    this.pending = new PendingLogin(session);
    this.client = new TelnetDecoder(
      (b) => this.clientByte(b),
      (sb, len) => this.clientSb(sb, len),
    );
    this.server = new TelnetDecoder(
      (b) => this.serverByte(b),
      () => undefined,
    );
  }

  data(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    if (fromClient) {
      this.client.push(buf, start, end);
      return;
    }
    this.server.push(buf, start, end);
    if (this.pending.active) {
      if (FAILURE.test(this.afterPassword)) this.verdict('failed', 'server refused the login');
      else if (SUCCESS.test(this.afterPassword)) this.verdict('succeeded', 'server greeted the session');
    }
    // A prompt is the last thing the server sends before waiting for input.
    if (this.tail.length > MAX_PROMPT) return;
    if (PASSWORD_PROMPT.test(this.tail)) {
      this.expect = Expect.Password;
    } else if (USER_PROMPT.test(this.tail)) {
      if (this.pending.active) this.verdict('failed', 'login prompt again');
      this.expect = Expect.User;
    }
  }

  gap(fromClient: boolean): void {
    if (fromClient) {
      this.client.reset();
      this.lineLen = 0;
    } else {
      this.server.reset();
      this.tail = '';
    }
  }

  close(): void {
    this.pending.close();
  }

  release(): void {
    // Fixed buffers of a few hundred bytes, allocated with the parser: nothing to give back.
  }

  private verdict(outcome: 'succeeded' | 'failed', detail: string): void {
    this.pending.resolve(outcome, detail);
    this.afterPassword = '';
    if (outcome === 'succeeded') this.session.stop();
  }

  private serverByte(b: number): void {
    if (b === 0x0a || b === 0x0d) {
      if (this.tail !== '') this.tail = '';
      if (this.pending.active) this.afterPassword = keepTail(`${this.afterPassword}\n`);
      return;
    }
    if (b < 0x20 && b !== 0x09) return;
    const ch = String.fromCharCode(b);
    this.tail = keepTail(this.tail + ch);
    if (this.pending.active) this.afterPassword = keepTail(this.afterPassword + ch);
  }

  private clientByte(b: number): void {
    if (this.afterCr) {
      this.afterCr = false;
      if (b === 0x0a || b === 0x00) return; // CR LF and CR NUL end one line
    }
    if (b === 0x0d || b === 0x0a) {
      this.afterCr = b === 0x0d;
      this.lineDone();
      return;
    }
    if (b === 0x08 || b === 0x7f) {
      if (this.lineLen > 0) this.lineLen--;
      return;
    }
    if (b === 0x15) {
      this.lineLen = 0;
      return;
    }
    if (b < 0x20 && b !== 0x09) return;
    if (this.lineLen < MAX_INPUT_LINE) this.line[this.lineLen++] = b;
  }

  private lineDone(): void {
    const len = this.lineLen;
    this.lineLen = 0;
    if (this.expect === Expect.User) {
      this.user = capText(this.line.toString('utf8', 0, len).trim());
      this.expect = Expect.Nothing;
    } else if (this.expect === Expect.Password) {
      this.expect = Expect.Nothing;
      this.afterPassword = '';
      this.pending.set(
        this.session.credential({
          rule: 'cred-telnet',
          protocol: 'Telnet',
          mechanism: 'login prompt',
          user: this.user || this.envUser || '(not seen)',
          secret: Buffer.from(this.line.subarray(0, len)),
          kind: 'password',
        }),
      );
      this.user = '';
    } else if (++this.lines > MAX_LINES && !this.pending.active) {
      this.session.stop();
    }
  }

  /** NEW-ENVIRON/OLD-ENVIRON IS|INFO: VAR "USER" VALUE "alice" (RFC 1572). */
  private clientSb(sb: Buffer, len: number): void {
    if (len < 2 || (sb[0] !== OPT_NEW_ENVIRON && sb[0] !== OPT_OLD_ENVIRON) || (sb[1] !== 0 && sb[1] !== 2)) return;
    let i = 2;
    while (i < len) {
      const type = sb[i++];
      if (type !== 0 && type !== 3) continue;
      const nameStart = i;
      while (i < len && sb[i]! > 3) i++;
      const name = sb.toString('latin1', nameStart, i);
      if (i < len && sb[i] === 1) {
        const valueStart = ++i;
        while (i < len && sb[i]! > 3) i++;
        if (name === 'USER') this.envUser = capText(sb.toString('utf8', valueStart, i));
      }
    }
  }
}

function keepTail(s: string): string {
  return s.length > TAIL ? s.slice(s.length - TAIL) : s;
}
