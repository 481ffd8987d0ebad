import type { BufferBudget } from './text.js';

// What a protocol parser sees of the analyzer: one Session per TCP flow, to
// report the credentials it recognised and what the server said to them.

export type Outcome = 'succeeded' | 'failed' | 'unknown';

/** What was exposed: a reusable password, a bearer token (or API key), a session identifier, or a challenge-response crackable offline. */
export type SecretKind = 'password' | 'token' | 'session' | 'hash';

export interface Credential {
  /** Rule id, e.g. cred-ftp. */
  rule: string;
  /** Protocol name for people: FTP, POP3, HTTP... */
  protocol: string;
  /** How the secret travelled: USER/PASS, AUTH PLAIN, simple bind... */
  mechanism: string;
  user: string;
  secret: Buffer;
  kind: SecretKind;
  /** What a 'hash', 'token' or 'session' secret is, for people, with its article ("an NTLM challenge-response", "an API key"). */
  proof?: string;
  /** The server sent the proof (an AS-REP), not the user. */
  proofFromServer?: boolean;
  /** The client presented the proof of another account (a service's Kerberos ticket in an AP-REQ), not of its own login. */
  proofForService?: boolean;
  /** An NTLM AUTHENTICATE's identity (user and response proof): the same one on two connections is a relay. */
  relayKey?: string;
  /** Cracking it costs a key-stretching function (Kerberos AES keys: PBKDF2, 4096 rounds): only weak passwords fall. */
  slowHash?: boolean;
  /** A challenge-response that gives up the NT hash whatever the password (NTLMv1): as bad as the password itself. */
  weakHash?: boolean;
  /** An anonymous login: a public account, the "password" is usually an e-mail address. */
  anonymous?: boolean;
  /** Where in the protocol, for people: "POST /login (Host intranet.example)". */
  context?: string;
  /** Frame that carried the secret, and its time. */
  frame: number;
  timeMs: number;
}

/** A credential before the parser stamps its rule, protocol and frame. */
export type LoginAttempt = Omit<Credential, 'rule' | 'protocol' | 'frame' | 'timeMs'>;

export interface Session {
  /** Frame number and time of the packet being parsed. */
  readonly frame: number;
  readonly timeMs: number;
  /** Shared by all parsers of the analyzer for what they buffer. */
  readonly budget: BufferBudget;
  /** Stamps a credential with the current frame. */
  credential(c: Omit<Credential, 'frame' | 'timeMs'>): Credential;
  /** Reports a credential with the server's verdict; `detail` names the reply ("230", "-ERR"). */
  report(c: Credential, outcome: Outcome, detail: string): void;
  /** The server offered STARTTLS (EHLO, CAPABILITY, CAPA) on this connection. */
  offerStartTls(): void;
  /** The connection upgraded to TLS: nothing readable follows. */
  upgraded(): void;
  /** Nothing of interest follows in this flow (login done): stop parsing it. */
  stop(): void;
  /**
   * While parsing a chunk of the flow as it arrives: the `n` bytes of the direction that follow
   * it are not needed and will not be passed to the parser. False (they will be) otherwise.
   */
  passOver(fromClient: boolean, n: number): boolean;
  /** A protocol-level problem (constant reason): recorded as decode-malformed on the current packet. */
  malformed(layer: string, reason: string): void;
}

export interface ProtocolParser {
  data(fromClient: boolean, buf: Buffer, start: number, end: number): void;
  /** Bytes of the direction were lost: resynchronise. */
  gap(fromClient: boolean): void;
  /** The flow ended: report what still waits for a verdict. */
  close(): void;
  /** Gives buffers back to the budget; the parser is not used afterwards. */
  release(): void;
}

/** What login logic needs of where it reports: a TCP flow's session, or a datagram exchange. */
export type LoginSink = Pick<Session, 'credential' | 'report' | 'malformed'>;

/** One credential waiting for the server's verdict (protocols without pipelining of logins). */
export class PendingLogin {
  private cred: Credential | null = null;

  constructor(private readonly session: Pick<Session, 'report'>) {}

  get active(): boolean {
    return this.cred !== null;
  }

  get current(): Credential | null {
    return this.cred;
  }

  set(c: Credential): void {
    if (this.cred) this.session.report(this.cred, 'unknown', 'no reply before the next attempt');
    this.cred = c;
  }

  /** Forgets the pending login unreported (a later attempt in the same exchange replaces it). */
  drop(): void {
    this.cred = null;
  }

  resolve(outcome: Outcome, detail: string): void {
    if (!this.cred) return;
    const c = this.cred;
    this.cred = null;
    this.session.report(c, outcome, detail);
  }

  close(): void {
    this.resolve('unknown', 'no server reply seen');
  }
}

/**
 * Logins waiting for their verdict by request id (LDAP messageID, SMB
 * message id, SIP Call-ID and CSeq), at most `max`: the oldest is reported
 * without one to make room.
 */
export class PendingById<K = number> {
  private readonly pending = new Map<K, Credential>();

  constructor(
    private readonly session: Pick<Session, 'report'>,
    private readonly max: number,
    /** Detail of a login that got no reply. */
    private readonly noReply: string,
    /** Detail of a login whose id a later request reused first. */
    private readonly reused: string,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  has(id: K): boolean {
    return this.pending.has(id);
  }

  add(id: K, c: Credential): void {
    const earlier = this.pending.get(id);
    if (earlier) this.session.report(earlier, 'unknown', this.reused);
    else if (this.pending.size >= this.max) {
      const [oldId, oldest] = this.pending.entries().next().value!;
      this.pending.delete(oldId);
      this.session.report(oldest, 'unknown', this.noReply);
    }
    this.pending.set(id, c);
  }

  /** The login waiting for the reply to `id`, no longer pending. */
  take(id: K): Credential | undefined {
    const c = this.pending.get(id);
    if (c) this.pending.delete(id);
    return c;
  }

  close(): void {
    for (const c of this.pending.values()) this.session.report(c, 'unknown', this.noReply);
    this.pending.clear();
  }
}
