import type { DatagramLogins } from './datagrams.js';
import { digestParams, hdaaLine, readDigestResponse, type DigestResponse } from './digest.js';
import { PendingById, type LoginSink, type ProtocolParser, type Session } from './session.js';
import { capText, type BufferBudget } from './text.js';

// SIP Digest logins (RFC 3261 22): the REGISTER, INVITE and other requests a
// phone or softphone sends with an Authorization or Proxy-Authorization
// header, answering a registrar's 401 or a proxy's 407. The response is an
// MD5 of the password with the realm, nonce, method and URI beside it: it
// cracks offline (hashcat 11400, sipcrack), and a phone re-registers every
// few minutes. The final response to the same Call-ID and CSeq gives the
// outcome. Read from UDP datagrams, one message each, and from TCP streams,
// cut into messages at the blank line after the headers and the body's
// Content-Length.

export const SIP_PORT = 5060;
/** Headers looked at per message; a longer header section is malformed here. */
const MAX_HEADER_BYTES = 8192;
/** Requests with credentials waiting for their final response, per exchange. */
const MAX_PENDING = 16;
/** hashcat 11400's field limits: longer values go into the generic Digest line. */
const MAX_NAME_FIELD = 116;
const MAX_URI_FIELD = 246;
const MAX_NONCE_FIELD = 1024;

const REQUEST_LINE = /^([A-Z][A-Z0-9_-]{1,31}) (\S{1,2048}) SIP\/2\.0$/;
const STATUS_LINE = /^SIP\/2\.0 ([1-6]\d\d)(?: .*)?$/;
const HEADER = /^([A-Za-z][A-Za-z0-9.!%*_+`'~-]{0,63})[ \t]*:[ \t]*(.*)$/;
const CSEQ = /^(\d{1,10})[ \t]+([A-Za-z][A-Za-z0-9_-]{0,31})$/;
const CONTENT_LENGTH = /^(?:content-length|l)[ \t]*:[ \t]*(\d{1,9})[ \t]*\r?$/im;
/** The host of a SIP URI or of a Via's sent-by: after "scheme:" and "user@", before a port or parameters. */
const URI_HOST = /^(?:sips?:)?(?:[^@;>]*@)?(\[[0-9A-Fa-f:.]{2,45}\]|[^:;>\s]{1,253})/;
const VIA_HOST = /^SIP\/2\.0\/[A-Za-z]{2,8}[ \t]+(\[[0-9A-Fa-f:.]{2,45}\]|[^:;\s]{1,253})/i;

/** Long and compact (RFC 3261 7.3.3) header names, in lower case, of what is read here. */
const HEADER_NAMES: ReadonlyMap<string, string> = new Map([
  ['call-id', 'call-id'],
  ['i', 'call-id'],
  ['cseq', 'cseq'],
  ['via', 'via'],
  ['v', 'via'],
  ['authorization', 'authorization'],
  ['proxy-authorization', 'proxy-authorization'],
  ['www-authenticate', 'challenge'],
  ['proxy-authenticate', 'challenge'],
]);

export interface SipMessage {
  request: boolean;
  /** Request method; for a response, the method its CSeq names. */
  method: string;
  /** Request-URI (requests only). */
  uri: string;
  /** Status code (responses only). */
  status: number;
  callId: string;
  cseq: number;
  /** The credentials header (Authorization or Proxy-Authorization) and its value, if any. */
  authHeader: string;
  auth: string | null;
  /** A response's challenge (WWW- or Proxy-Authenticate), if any. */
  challenge: string | null;
  /** Top Via header. */
  via: string;
}

/** Does buf[start, end) start like a SIP message: true a request, false a response, undefined neither. */
export function sipDirection(buf: Buffer, start: number, end: number): boolean | undefined {
  if (end - start < 16) return undefined;
  if (buf.toString('latin1', start, start + 8) === 'SIP/2.0 ') return false;
  const limit = Math.min(end, start + 2100);
  for (let i = start; i < limit; i++) {
    if (buf[i] !== 0x0a) continue;
    const lineEnd = i > start && buf[i - 1] === 0x0d ? i - 1 : i;
    return lineEnd - start > 8 && buf.toString('latin1', lineEnd - 8, lineEnd) === ' SIP/2.0' ? true : undefined;
  }
  return undefined;
}

/**
 * The message in buf[start, end): null when it is not SIP, a reason (for a
 * malformed finding) when it starts like SIP but lacks what every message has.
 */
export function readSipMessage(buf: Buffer, start: number, end: number): SipMessage | string | null {
  const text = buf.toString('latin1', start, Math.min(end, start + MAX_HEADER_BYTES));
  const headerEnd = text.search(/\r?\n\r?\n/);
  if (headerEnd < 0 && end - start > MAX_HEADER_BYTES) return `SIP header section longer than ${MAX_HEADER_BYTES} bytes`;
  const lines = (headerEnd < 0 ? text : text.slice(0, headerEnd)).split(/\r?\n/);
  const first = lines[0]!;
  const req = REQUEST_LINE.exec(first);
  const status = req ? null : STATUS_LINE.exec(first);
  if (!req && !status) return null;
  const headers = new Map<string, string>();
  let last = '';
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    // A folded line continues the header before it (RFC 3261 7.3.1).
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== '') {
      headers.set(last, `${headers.get(last)!} ${line.trim()}`);
      continue;
    }
    const h = HEADER.exec(line);
    const name = h ? HEADER_NAMES.get(h[1]!.toLowerCase()) : undefined;
    last = '';
    // The first of each kind counts: the top Via, the credentials of the nearest hop.
    if (name === undefined || headers.has(name)) continue;
    headers.set(name, h![2]!.trim());
    last = name;
    if (name === 'authorization' || name === 'proxy-authorization') headers.set('auth-header', h![1]!.toLowerCase() === 'authorization' ? 'Authorization' : 'Proxy-Authorization');
  }
  const callId = headers.get('call-id');
  const cseq = CSEQ.exec(headers.get('cseq') ?? '');
  if (callId === undefined || callId === '' || !cseq) return 'SIP message without Call-ID or CSeq';
  const auth = headers.get('authorization') ?? headers.get('proxy-authorization') ?? null;
  return {
    request: req !== null,
    method: req ? req[1]! : cseq[2]!.toUpperCase(),
    uri: req ? req[2]! : '',
    status: status ? Number(status[1]) : 0,
    callId,
    cseq: Number(cseq[1]),
    authHeader: headers.get('auth-header') ?? '',
    auth,
    challenge: headers.get('challenge') ?? null,
    via: headers.get('via') ?? '',
  };
}

/**
 * The hashcat 11400 line ($sip$*server*client*user*realm*method*prefix*uri*
 * suffix*nonce*cnonce*nc*qop*MD5*response), with the whole URI as its
 * resource so that HA2 is MD5(method:uri) exactly; John's generic Digest
 * line when a field does not fit that format.
 */
export function sipDigestLine(d: DigestResponse, method: string, uri: string, via: string): string {
  const server = URI_HOST.exec(uri)?.[1] ?? '';
  const client = VIA_HOST.exec(via)?.[1] ?? '';
  const fields = [server, client, d.user, d.realm, method, '', uri, '', d.nonce, d.cnonce, d.nc, d.qop, 'MD5', d.response.toLowerCase()];
  const fits =
    d.algorithm === 'MD5' &&
    /^[0-9A-Fa-f]{32}$/.test(d.response) &&
    d.user.length <= MAX_NAME_FIELD &&
    d.realm.length <= MAX_NAME_FIELD &&
    uri.length >= 1 &&
    uri.length <= MAX_URI_FIELD &&
    d.nonce.length >= 1 &&
    d.nonce.length <= MAX_NONCE_FIELD &&
    d.cnonce.length <= MAX_NONCE_FIELD &&
    d.nc.length <= MAX_NONCE_FIELD &&
    !fields.some((f) => f.includes('*'));
  return fits ? `$sip$*${fields.join('*')}` : hdaaLine(d, method, uri);
}

/** One client's SIP requests to a server: Digest credentials waiting for their final response. */
export class SipLogins implements DatagramLogins {
  private readonly pending: PendingById<string>;

  constructor(private readonly sink: LoginSink) {
    this.pending = new PendingById<string>(sink, MAX_PENDING, 'no final response seen', 'the request was sent again with other credentials before a final response');
  }

  /** One whole message; false when it is not SIP or lacks what every message has (flagged malformed). */
  message(fromClient: boolean, buf: Buffer, start: number, end: number): boolean {
    const m = readSipMessage(buf, start, end);
    if (m === null) return false;
    if (typeof m === 'string') {
      this.sink.malformed('sip', m);
      return false;
    }
    if (fromClient && m.request) this.request(m);
    else if (!fromClient && !m.request) this.response(m);
    return true;
  }

  private request(m: SipMessage): void {
    if (m.auth === null) return;
    const d = readDigestResponse(m.auth);
    if (!d) return;
    const key = `${m.callId}|${m.cseq}`;
    // A retransmission over UDP repeats the request as it was.
    if (this.pending.has(key)) return;
    const secret = Buffer.from(sipDigestLine(d, m.method, d.uri ?? m.uri, m.via), 'utf8');
    this.pending.add(
      key,
      this.sink.credential({
        rule: 'cred-sip',
        protocol: 'SIP',
        mechanism: `${capText(m.method)} ${m.authHeader} Digest (${capText(d.algorithm)})`,
        user: capText(d.user),
        secret,
        kind: 'hash',
        proof: 'a SIP Digest response',
        context: `for ${capText(d.uri ?? m.uri)}${d.realm ? ` in realm '${capText(d.realm)}'` : ''}`,
      }),
    );
  }

  private response(m: SipMessage): void {
    // Provisional responses (100 Trying, 180 Ringing) decide nothing.
    if (m.status < 200) return;
    const c = this.pending.take(`${m.callId}|${m.cseq}`);
    if (c === undefined) return;
    const detail = `SIP ${m.status}`;
    if (m.status < 300) this.sink.report(c, 'succeeded', detail);
    else if (m.status === 401 || m.status === 407) {
      // stale=true: only the nonce had expired; the response was right, so the password is (RFC 7616 3.3).
      const stale = m.challenge !== null && digestParams(m.challenge)?.get('stale')?.toLowerCase() === 'true';
      this.sink.report(c, stale ? 'succeeded' : 'failed', stale ? `password accepted, then ${detail} with stale=true (expired nonce)` : detail);
    } else if (m.status === 403) this.sink.report(c, 'failed', detail);
    else this.sink.report(c, 'unknown', detail);
  }

  close(): void {
    this.pending.close();
  }
}

/** SipStreamDirection.push results. */
const FRAMED = 0;
const NOT_FRAMED = 1;
/** The analyzer's buffer budget refused the header bytes: the flow is dropped quietly. */
const STARVED = 2;

/** One direction of a SIP stream: headers gathered up to the blank line (in a buffer from the budget), the body passed over by its Content-Length. */
class SipStreamDirection {
  private header: Buffer | null = null;
  private len = 0;
  /** Where the search for the blank line resumes (it may straddle chunks). */
  private scanned = 0;
  private bodyLeft = 0;
  lost = false;

  constructor(
    private readonly budget: BufferBudget,
    private readonly onMessage: (buf: Buffer, start: number, end: number) => boolean,
  ) {}

  release(): void {
    if (this.header !== null) this.budget.give(this.header.length);
    this.header = null;
  }

  /** Room for `want` header bytes, grown within the budget. */
  private room(want: number): boolean {
    const cap = this.header?.length ?? 0;
    if (want <= cap) return true;
    let next = Math.max(1024, cap * 2);
    while (next < want) next *= 2;
    next = Math.min(next, MAX_HEADER_BYTES);
    if (!this.budget.take(next - cap)) return false;
    const grown = Buffer.allocUnsafe(next);
    this.header?.copy(grown, 0, 0, this.len);
    this.header = grown;
    return true;
  }

  push(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, end - i);
        this.bodyLeft -= n;
        i += n;
        continue;
      }
      const n = Math.min(MAX_HEADER_BYTES - this.len, end - i);
      if (!this.room(this.len + n)) return STARVED;
      const h = this.header!;
      buf.copy(h, this.len, i, i + n);
      this.len += n;
      let stop = -1;
      for (let k = Math.max(3, this.scanned); k < this.len; k++) {
        if (h[k] === 0x0a && h[k - 1] === 0x0d && h[k - 2] === 0x0a && h[k - 3] === 0x0d) {
          stop = k + 1;
          break;
        }
      }
      if (stop < 0) {
        if (this.len >= MAX_HEADER_BYTES) return NOT_FRAMED;
        this.scanned = this.len;
        i += n;
        continue;
      }
      // The bytes of this chunk after the headers are handled on the next turn.
      i += n - (this.len - stop);
      const cl = CONTENT_LENGTH.exec(h.toString('latin1', 0, stop));
      this.bodyLeft = cl ? Number(cl[1]) : 0;
      this.len = 0;
      this.scanned = 0;
      if (!this.onMessage(h, 0, stop)) return NOT_FRAMED;
    }
    return FRAMED;
  }
}

/** SIP over TCP: each direction cut into messages, the client's requests and the server's responses to SipLogins. */
export class SipParser implements ProtocolParser {
  private readonly logins: SipLogins;
  private readonly client: SipStreamDirection;
  private readonly server: SipStreamDirection;

  constructor(private readonly session: Session) {
    this.logins = new SipLogins(session);
    this.client = new SipStreamDirection(session.budget, (b, s, e) => this.logins.message(true, b, s, e));
    this.server = new SipStreamDirection(session.budget, (b, s, e) => this.logins.message(false, b, s, e));
  }

  data(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    const d = fromClient ? this.client : this.server;
    if (d.lost) return;
    const r = d.push(buf, start, end);
    if (r === FRAMED) return;
    if (r === NOT_FRAMED) this.session.malformed('sip', 'SIP over TCP does not frame as messages (no blank line after 8192 bytes of headers, or not SIP)');
    this.close();
    this.session.stop();
  }

  gap(fromClient: boolean): void {
    (fromClient ? this.client : this.server).lost = true;
  }

  close(): void {
    this.logins.close();
  }

  release(): void {
    this.client.release();
    this.server.release();
  }
}
