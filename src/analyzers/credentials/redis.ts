import { PendingById, type ProtocolParser, type Session } from './session.js';
import { capText, LineReader, type LineSink } from './text.js';

// Redis logins (RESP2/RESP3): AUTH password, AUTH username password (ACL
// users, Redis 6 and later) and HELLO protover AUTH username password, sent
// as RESP arrays or as inline commands, and the password travels in the
// clear unless the deployment turned TLS on. Replies are counted in order
// (commands may be pipelined) to find the one that answers each AUTH: +OK or
// a HELLO map accepted, -WRONGPASS / -ERR refused. Bulk strings are read by
// their length, so values with line breaks do not desynchronise the count.

export const REDIS_PORT = 6379;
const MAX_LINE = 1024;
/** Bytes kept of a bulk argument of AUTH or HELLO; the others are only counted. */
const MAX_ARG = 512;
/** Arguments kept per command (HELLO 3 AUTH user pass SETNAME name). */
const MAX_ARGS = 8;
/** Elements of one array command, and nesting depth of a reply, believed. */
const MAX_ELEMENTS = 1_048_576;
const MAX_DEPTH = 32;
/** Commands followed before giving up on a connection that never authenticates. */
const MAX_COMMANDS = 64;
const RESP_COMMAND = /^\*[1-9]\d{0,6}\r\n\$[1-9]\d{0,8}\r\n[A-Za-z]/;

/** Does a client stream begin with a RESP array of bulk strings (a Redis command)? */
export function looksLikeRespCommand(buf: Buffer, start: number, end: number): boolean {
  return end - start >= 9 && buf[start] === 0x2a && RESP_COMMAND.test(buf.toString('latin1', start, Math.min(end, start + 24)));
}

export class RedisParser implements ProtocolParser, LineSink {
  private readonly client: LineReader;
  private readonly server: LineReader;
  /** Logins by the index of their command, waiting for the reply with the same index. */
  private readonly pending: PendingById<number>;
  private commands = 0;
  private replies = 0;
  // The client's command being read: bulk arguments left, the arguments kept, the bulk being read.
  private argsLeft = 0;
  private args: Buffer[] = [];
  private bulkLeft = 0;
  private bulk: Buffer | null = null;
  private bulkLen = 0;
  /** The command being read is AUTH or HELLO: its arguments are kept. */
  private keeping = false;
  /** Elements still to come in each open aggregate of the server's reply. */
  private readonly open: number[] = [];
  /** The current top-level reply: its first byte, and whether it is out of band (a RESP3 push). */
  private replyType = 0;
  private replyLine = '';

  constructor(private readonly session: Session) {
    this.client = new LineReader(MAX_LINE, session.budget, this, true);
    this.server = new LineReader(MAX_LINE, session.budget, this, false);
    this.pending = new PendingById<number>(session, 16, 'no reply seen', 'the command slot was reused');
  }

  data(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    (fromClient ? this.client : this.server).push(buf, start, end);
  }

  gap(): void {
    // Lost bytes break the pairing of replies with commands for good.
    this.pending.close();
    this.session.stop();
  }

  close(): void {
    this.pending.close();
  }

  release(): void {
    this.client.release();
    this.server.release();
  }

  line(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    if (fromClient) this.clientLine(buf, start, end);
    else this.serverLine(buf, start, end);
  }

  raw(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    if (!fromClient) return;
    // The bulk's bytes and its CRLF; only the bytes of a kept argument are copied.
    if (this.bulk !== null) {
      const want = Math.min(end, start + Math.max(0, this.bulk.length - this.bulkLen));
      if (want > start) this.bulkLen += buf.copy(this.bulk, this.bulkLen, start, want);
    }
    this.bulkLeft -= end - start;
    if (this.bulkLeft > 0) return;
    if (this.bulk !== null && this.args.length < MAX_ARGS) {
      this.args.push(this.bulk.subarray(0, this.bulkLen));
      if (this.args.length === 1) this.keeping = isLoginCommand(this.args[0]!);
    }
    this.bulk = null;
    if (--this.argsLeft === 0) this.command(this.args);
  }

  private clientLine(buf: Buffer, start: number, end: number): void {
    if (this.argsLeft > 0) {
      // "$<length>" of the next bulk argument.
      const len = buf[start] === 0x24 ? parseLength(buf, start + 1, end) : -1;
      if (len < 0) return this.broken('Redis command argument is not a bulk string');
      // The command's name, and every argument of AUTH and HELLO, are kept; other arguments only counted.
      const cap = this.args.length === 0 ? 32 : this.keeping ? MAX_ARG : 0;
      this.bulk = cap > 0 ? Buffer.allocUnsafe(Math.min(len, cap)) : null;
      this.bulkLen = 0;
      this.bulkLeft = len + 2;
      this.client.expectRaw(len + 2);
      return;
    }
    if (buf[start] === 0x2a) {
      const n = parseLength(buf, start + 1, end);
      if (n < 1 || n > MAX_ELEMENTS) return this.broken('Redis command array length out of range');
      this.argsLeft = n;
      this.args = [];
      this.keeping = false;
      return;
    }
    // An inline command: words separated by spaces.
    if (end > start) this.command(buf.toString('latin1', start, end).trim().split(/ +/, MAX_ARGS).map((w) => Buffer.from(w, 'latin1')));
  }

  private command(args: Buffer[]): void {
    const index = this.commands++;
    if (args.length === 0) return;
    const name = args[0]!.toString('latin1').toUpperCase();
    let user: Buffer | undefined;
    let pass: Buffer | undefined;
    if (name === 'AUTH') {
      if (args.length === 2) pass = args[1];
      else if (args.length >= 3) [user, pass] = [args[1], args[2]];
    } else if (name === 'HELLO') {
      const at = args.findIndex((a, i) => i >= 2 && a.toString('latin1').toUpperCase() === 'AUTH');
      if (at > 0 && args.length > at + 2) [user, pass] = [args[at + 1], args[at + 2]];
    }
    if (pass !== undefined) {
      this.pending.add(
        index,
        this.session.credential({
          rule: 'cred-redis',
          protocol: 'Redis',
          mechanism: name === 'AUTH' ? (user ? 'AUTH username password' : 'AUTH password') : 'HELLO AUTH',
          user: user ? capText(user.toString('utf8')) : 'default',
          secret: Buffer.from(pass),
          kind: 'password',
        }),
      );
    } else if (this.commands >= MAX_COMMANDS && this.pending.size === 0) {
      // A connection this far in without a login has nothing more to give.
      this.session.stop();
    }
  }

  private serverLine(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    const type = buf[start]!;
    if (this.open.length === 0) {
      this.replyType = type;
      this.replyLine = type === 0x2d || type === 0x2b ? capText(buf.toString('latin1', start, Math.min(end, start + 80))) : '';
    }
    let children = 0;
    switch (type) {
      case 0x24: // $ bulk string
      case 0x3d: // = verbatim string
      case 0x21: {
        // ! bulk error
        const len = parseLength(buf, start + 1, end);
        if (len >= 0) this.server.expectRaw(len + 2);
        break;
      }
      case 0x2a: // * array
      case 0x7e: // ~ set
      case 0x3e: // > push
        children = parseLength(buf, start + 1, end);
        break;
      case 0x25: // % map
      case 0x7c: // | attribute
        children = 2 * parseLength(buf, start + 1, end);
        break;
      default:
        break;
    }
    if (children > 0 && children <= MAX_ELEMENTS && this.open.length < MAX_DEPTH) {
      this.open.push(children);
      return;
    }
    // This element is complete: close every aggregate it completes.
    while (this.open.length > 0) {
      const top = this.open.length - 1;
      if (--this.open[top]! > 0) return;
      this.open.pop();
    }
    this.reply();
  }

  /** A whole top-level reply: the answer to the oldest command not yet answered. */
  private reply(): void {
    const type = this.replyType;
    // RESP3 pushes are out of band; an attribute precedes the reply it annotates.
    if (type === 0x3e || type === 0x7c) return;
    const c = this.pending.take(this.replies++);
    if (c === undefined) return;
    if (type === 0x2d || type === 0x21) this.session.report(c, 'failed', this.replyLine || 'error reply');
    else {
      this.session.report(c, 'succeeded', type === 0x2b ? this.replyLine : 'HELLO reply');
      if (this.pending.size === 0) this.session.stop();
    }
  }

  private broken(reason: string): void {
    this.session.malformed('redis', reason);
    this.pending.close();
    this.session.stop();
  }
}

/** A decimal length after a RESP type byte: -1 when absent or not a number (also RESP's null, "-1"). */
function parseLength(buf: Buffer, start: number, end: number): number {
  if (end <= start || end - start > 10) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** AUTH and HELLO carry credentials: their arguments are kept. */
function isLoginCommand(name: Buffer): boolean {
  const n = name.toString('latin1').toUpperCase();
  return n === 'AUTH' || n === 'HELLO';
}
