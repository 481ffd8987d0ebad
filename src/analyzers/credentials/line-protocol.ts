import { PendingLogin, type LoginAttempt, type ProtocolParser, type Session } from './session.js';
import { argStart, copyBytes, LineReader, text, type LineSink } from './text.js';

// What the line-based login protocols (FTP, SMTP, POP3, IMAP) share: a line
// reader per direction, one login waiting for the server's verdict, and the
// three ways a login ends (accepted: nothing of interest follows; refused;
// the connection upgraded to TLS). A protocol parser extends this with its
// own commands and replies.

/** A credential as a protocol parser knows it; rule, protocol and frame are added here. */

export abstract class LineProtocolParser implements ProtocolParser, LineSink {
  protected readonly client: LineReader;
  protected readonly server: LineReader;
  protected readonly pending: PendingLogin;
  /** USER's argument (FTP, POP3), for the PASS that follows. */
  protected user = '';
  private userSeen = false;

  constructor(
    protected readonly session: Session,
    /** Rule id and protocol name of the credentials reported. */
    private readonly rule: string,
    private readonly protocol: string,
    maxLine: number,
  ) {
    this.pending = new PendingLogin(session);
    this.client = new LineReader(maxLine, session.budget, this, true);
    this.server = new LineReader(maxLine, session.budget, this, false);
  }

  line(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    if (fromClient) this.clientLine(buf, start, end);
    else this.serverLine(buf, start, end);
  }

  raw(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    if (fromClient) this.clientRaw(buf, start, end);
  }

  protected abstract clientLine(buf: Buffer, start: number, end: number): void;
  protected abstract serverLine(buf: Buffer, start: number, end: number): void;

  /** Bytes the client reader was told to pass raw (client.expectRaw); dropped unless a protocol wants them (the server's are dropped). */
  protected clientRaw(_buf: Buffer, _start: number, _end: number): void {}

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

  /** A login attempt that waits for the server's verdict (null: none yet, e.g. a SASL exchange going on). */
  protected attempt(c: LoginAttempt | null): void {
    if (c) this.pending.set(this.session.credential({ rule: this.rule, protocol: this.protocol, ...c }));
  }

  /** The server's verdict on the pending login; once accepted, nothing of interest follows in the flow. */
  protected verdict(accepted: boolean, detail: string): void {
    this.pending.resolve(accepted ? 'succeeded' : 'failed', detail);
    if (accepted) this.session.stop();
  }

  /** The server agreed to TLS: a pending login gets no readable verdict, and nothing readable follows. */
  protected upgrade(): void {
    this.pending.close();
    this.session.upgraded();
  }

  /** "USER name" (FTP, POP3): remembered for the PASS that follows. */
  protected userCommand(buf: Buffer, start: number, end: number): void {
    this.user = text(buf, argStart(buf, start, end), end).trim();
    this.userSeen = true;
  }

  /** "PASS password" after USER: everything after "PASS " is the password, spaces included. */
  protected passCommand(buf: Buffer, start: number, end: number, anonymous?: boolean): void {
    this.attempt({
      mechanism: 'USER/PASS',
      user: this.userSeen ? this.user : '(not seen)',
      secret: copyBytes(buf, Math.min(end, start + 5), end),
      kind: 'password',
      anonymous,
    });
  }
}
