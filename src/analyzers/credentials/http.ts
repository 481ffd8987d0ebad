import { readNtlmAuthenticate } from '../../decode/ntlmssp.js';
import { hdaaLine, readDigestResponse } from './digest.js';
import { apReqTicketCredential } from './kerberos.js';
import { findNtlmChallenge, ntlmCredential } from './ntlm.js';
import type { Credential, Outcome, ProtocolParser, Session } from './session.js';
import { capText, decodeBase64, LineReader, startsWithCI, type BufferBudget, type LineSink } from './text.js';

// HTTP/1.x: Authorization / Proxy-Authorization "Basic" and "Digest" headers, NTLM
// exchanges in "NTLM" and "Negotiate" headers (the challenge from the
// 401/407 response, the crackable response from the next request), and
// urlencoded login forms in POST bodies. Messages are framed properly
// (Content-Length, chunked, HEAD and bodiless statuses) so pipelined requests
// pair with their responses: 401/407 refuse, 2xx/3xx accept.

const MAX_LINE = 8192;
/** Form bodies longer than this are not login forms: skipped, not parsed. */
const MAX_FORM_BODY = 8192;
const MAX_OUTSTANDING = 32;
const MAX_HEADERS = 200;
/** Headers that carry an API key as their whole value. */
const API_KEY_HEADERS: ReadonlySet<string> = new Set([
  'x-api-key',
  'api-key',
  'apikey',
  'x-apikey',
  'x-api-token',
  'x-auth-token',
  'x-access-token',
  'private-token',
  'x-vault-token',
  'x-consul-token',
  'x-nomad-token',
  'x-goog-api-key',
  'ocp-apim-subscription-key',
  'x-redmine-api-key',
  'x-jfrog-art-api',
]);
/**
 * Endings of request header names that carry a credential though no list names them
 * (X-Shopify-Access-Token, X-Algolia-API-Key, X-Amz-Security-Token, X-Plex-Token).
 */
const KEY_NAME_ENDINGS = ['token', 'apikey', 'api-key', 'api_key', 'secret', 'secret-key', 'access-key', 'auth-key', 'private-key'];
/** Every ending above ends in "en", "ey" or "et": most header names are passed over on their last two bytes. */
function endsLikeKeyName(buf: Buffer, start: number, end: number): boolean {
  if (end - start < 6 || (buf[end - 2]! | 0x20) !== 0x65) return false;
  const last = buf[end - 1]! | 0x20;
  if (last !== 0x6e && last !== 0x79 && last !== 0x74) return false;
  for (const ending of KEY_NAME_ENDINGS) if (end - start > ending.length && startsWithCI(buf, end - ending.length, end, ending)) return true;
  return false;
}
/** Such names that are no credential: anti-forgery and WebSocket nonces, request ids, paging cursors, captcha answers. */
const NOT_A_KEY_NAME = /csrf|xsrf|^sec-|idempotency|cache|correlation|trace|nonce|page|cursor|captcha|turnstile/;
/** Names by length: a header line is compared with the wanted names of its name's length only. */
type NamesByLength = readonly (readonly string[] | undefined)[];

function byLength(names: readonly string[]): NamesByLength {
  const out: string[][] = [];
  for (const n of names) (out[n.length] ??= []).push(n);
  return out;
}

/** Headers each direction reads; the others (most of them) are skipped before any string is made. */
const REQUEST_HEADERS = byLength(['host', 'content-length', 'transfer-encoding', 'content-type', 'authorization', 'proxy-authorization', 'cookie', ...API_KEY_HEADERS]);
const RESPONSE_HEADERS = byLength(['content-length', 'transfer-encoding', 'www-authenticate', 'proxy-authenticate', 'set-cookie']);
/** "NTLM <base64>" or "Negotiate <base64>" (SPNEGO, which may wrap NTLMSSP). */
const NTLM_SCHEME = /^(ntlm|negotiate)[ \t]+([A-Za-z0-9+/=]{16,16384})\s*$/i;
/** RFC 6750 2.1: "Bearer" and a b64token. */
const BEARER_SCHEME = /^bearer[ \t]+([A-Za-z0-9\-._~+/]{8,8192}=*)[ \t]*$/i;
/** A JWT's three base64url parts (RFC 7519): the middle one is the claims set. */
const JWT = /^[A-Za-z0-9_-]{2,}\.([A-Za-z0-9_-]{2,4096})\.[A-Za-z0-9_-]*$/;

/**
 * Cookies that identify a session (PHP, Java servlets, ASP and ASP.NET, Express, Django, Flask,
 * Rails and Laravel's <app>_session, CodeIgniter, ColdFusion, Drupal's SESS<hash>, GitLab,
 * Grafana, Moodle, Roundcube, Zabbix, Keycloak): whoever replays one is in that session.
 */
const SESSION_COOKIE =
  /^(phpsessid|jsessionid(\.[\w-]+)?|asp\.net_sessionid|aspsessionid[a-z]{8}|\.aspnetcore\.session|connect\.sid|express\.sid|sessionid|session|session_id|sid|cfid|cftoken|rack\.session|s?sess[0-9a-f]{32}|[\w.-]*_sess(ion|id)|moodlesession|roundcube_sessid|zbx_session(id)?|keycloak_session|auth_session_id)$/i;
/** Cookies that are the login itself (forms authentication tickets, remember-me tokens): replaying one logs in. */
const AUTH_COOKIE =
  /^(\.aspxauth|\.aspnetcore\.cookies|\.aspnetcore\.identity\.application|fedauth|keycloak_identity|wordpress_logged_in_[0-9a-f]{32}|wordpress_sec_[0-9a-f]{32}|remember_\w+_token|remember_web_[0-9a-f]{40}|seraph\.rememberme\.cookie|auth_token|access_token|id_token|jwt)$/i;
/**
 * Cookies that load balancers, CDNs and bot screens set (Cloudflare, AWS, F5, Imperva, Akamai,
 * sticky-session routes): HttpOnly and long, yet no one's session.
 */
const INFRASTRUCTURE_COOKIE = /^(__cf_bm|__cfruid|_cfuvid|cf_clearance|awsalb\w*|awselb\w*|bigipserver.*|ts01[0-9a-f]{0,16}|incap_ses_.*|visid_incap_.*|nlbi_.*|ak_bmsc|bm_sv|bm_sz|_abck|route|serverid)$/i;
/**
 * A secret recognised by its shape rather than a known name (a cookie the server marks
 * HttpOnly, a header named like a key) is at least this long.
 */
const MIN_GUESSED_SECRET = 16;
/** Query parameters that carry an access token or API key in the request's URL. */
const TOKEN_PARAM = /^(access_token|api_key|apikey|api-key|auth_token|private_token|x-api-key)$/i;
/** Session identifiers and keys shorter than this are flags ("session=1"), not secrets. */
const MIN_SECRET = 8;
/** Cookies reported from one request at most (a Cookie header may carry dozens). */
const MAX_COOKIES = 4;

const USER_KEYS = new Set(['user', 'username', 'user_name', 'login', 'login_name', 'loginname', 'email', 'mail', 'userid', 'user_id', 'uname', 'usr', 'log', 'j_username', 'account', 'userlogin']);
const PASSWORD_KEY = /(^|[_.-])(pass|password|passwd|passwort|pwd|pw|j_password|userpass|loginpass)$/;
/** A query that may hold a password field (PASSWORD_KEY, maybe percent-encoded): only those are parsed as a form. */
const MAY_NAME_PASSWORD = /pass|pw/i;

const REQUEST_LINE = /^([A-Z][A-Z-]{1,15}) (\S{1,8192}) HTTP\/1\.[01]$/;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: |$)/;

/** How a message's body is framed: its Content-Length (0: no body) or one of these. A number, not an object per message. */
type BodyFraming = number;
const CHUNKED = -1;
const UNTIL_CLOSE = -2;

const enum State {
  StartLine,
  Headers,
  BodyLength,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
}

interface Exchange {
  method: string;
  target: string;
  host: string;
  creds: Credential[];
  /** Status of the response once seen, so credentials found later in the body get it too. */
  status: number;
}

/** What the parser makes of one direction's messages; the stream only frames them. */
interface HttpMessages {
  startLine(fromClient: boolean, line: string): boolean;
  /** Headers named in the stream's list, the name in lower case. */
  header(fromClient: boolean, name: string, value: string): void;
  headersEnd(fromClient: boolean): BodyFraming;
  bodyBytes(fromClient: boolean, buf: Buffer, start: number, end: number): void;
  /** The next n body bytes need not be read (they are only counted): true if the flow will pass over them. */
  passOverBody(fromClient: boolean, n: number): boolean;
  messageEnd(fromClient: boolean): void;
}

/** One direction's message framing; the parser supplies what the lines mean. */
class HttpStream implements LineSink {
  state = State.StartLine;
  readonly reader: LineReader;
  private remaining = 0;
  private headerCount = 0;
  private readonly headers: NamesByLength;

  constructor(
    budget: BufferBudget,
    private readonly messages: HttpMessages,
    private readonly fromClient: boolean,
  ) {
    this.headers = fromClient ? REQUEST_HEADERS : RESPONSE_HEADERS;
    this.reader = new LineReader(MAX_LINE, budget, this, fromClient);
  }

  push(buf: Buffer, start: number, end: number): void {
    if (this.state === State.UntilClose) {
      this.messages.bodyBytes(this.fromClient, buf, start, end);
      return;
    }
    this.reader.push(buf, start, end);
  }

  /** After a gap: drop the partial message and look for the next start line. */
  resync(): void {
    this.reader.reset();
    if (this.state !== State.UntilClose) this.state = State.StartLine;
  }

  line(_fromClient: boolean, buf: Buffer, start: number, end: number): void {
    switch (this.state) {
      case State.StartLine:
        if (end === start) return; // stray CRLF between messages
        if (this.messages.startLine(this.fromClient, buf.toString('latin1', start, end))) {
          this.state = State.Headers;
          this.headerCount = 0;
        }
        return;
      case State.Headers: {
        if (end === start) {
          this.headersDone();
          return;
        }
        if (++this.headerCount > MAX_HEADERS) return;
        // Searched within the line: buf.indexOf would look past its end, through the rest of the
        // capture chunk, for every header line without a colon.
        let colon = start;
        while (colon < end && buf[colon] !== 0x3a) colon++;
        if (colon === end) return;
        const name = this.wantedHeader(buf, start, colon);
        if (name !== undefined) this.messages.header(this.fromClient, name, buf.toString('latin1', colon + 1, end).trim());
        return;
      }
      case State.ChunkSize: {
        const size = parseInt(buf.toString('latin1', start, Math.min(end, start + 16)), 16);
        if (!Number.isFinite(size) || size < 0) {
          this.state = State.StartLine;
          return;
        }
        if (size === 0) {
          this.state = State.Trailers;
          return;
        }
        this.remaining = size;
        this.state = State.ChunkData;
        this.reader.expectRaw(size, !this.fromClient);
        return;
      }
      case State.ChunkEnd:
        this.state = State.ChunkSize;
        return;
      case State.Trailers:
        if (end === start) this.finish();
        return;
      default:
        return;
    }
  }

  /** The header name in buf[start, end) (blanks around it ignored) if it is one of `headers`. */
  private wantedHeader(buf: Buffer, start: number, end: number): string | undefined {
    while (start < end && isBlank(buf[start]!)) start++;
    while (end > start && isBlank(buf[end - 1]!)) end--;
    const n = end - start;
    const names = this.headers[n];
    if (names !== undefined) for (const name of names) if (startsWithCI(buf, start, end, name)) return name;
    if (this.fromClient && endsLikeKeyName(buf, start, end)) return buf.toString('latin1', start, end).toLowerCase();
    return undefined;
  }

  private headersDone(): void {
    const framing = this.messages.headersEnd(this.fromClient);
    if (framing > 0) {
      this.state = State.BodyLength;
      this.remaining = framing;
      // A response's body is only counted: the flow may pass over it (a request's may be a login form).
      this.reader.expectRaw(framing, !this.fromClient);
    } else if (framing === CHUNKED) {
      this.state = State.ChunkSize;
    } else if (framing === UNTIL_CLOSE) {
      this.state = State.UntilClose;
      this.reader.stopped = true;
    } else {
      this.finish();
    }
  }

  raw(_fromClient: boolean, buf: Buffer, start: number, end: number): void {
    this.messages.bodyBytes(this.fromClient, buf, start, end);
    this.consumed(end - start);
  }

  passOver(_fromClient: boolean, n: number): boolean {
    if (!this.messages.passOverBody(this.fromClient, n)) return false;
    this.consumed(n);
    return true;
  }

  private consumed(n: number): void {
    this.remaining -= n;
    if (this.remaining > 0) return;
    if (this.state === State.BodyLength) this.finish();
    else if (this.state === State.ChunkData) this.state = State.ChunkEnd;
  }

  private finish(): void {
    this.state = State.StartLine;
    this.messages.messageEnd(this.fromClient);
  }
}

export class HttpParser implements ProtocolParser, HttpMessages {
  private readonly client: HttpStream;
  private readonly server: HttpStream;
  private readonly outstanding: Exchange[] = [];
  // The request being read.
  private method = '';
  private target = '';
  private host = '';
  private contentLength = -1;
  private chunked = false;
  private formBody = false;
  private exchange: Exchange | null = null;
  private body: Buffer | null = null;
  private bodyLen = 0;
  // The response being read.
  private status = 0;
  private respLength = -1;
  private respChunked = false;
  /** Cookies the response being read sets, reported with its status. */
  private readonly respCreds: Credential[] = [];
  /** The server challenge of the last NTLM CHALLENGE seen (hex). */
  private ntlmChallenge: string | null = null;

  constructor(private readonly session: Session) {
    this.client = new HttpStream(session.budget, this, true);
    this.server = new HttpStream(session.budget, this, false);
  }

  startLine(fromClient: boolean, line: string): boolean {
    return fromClient ? this.requestLine(line) : this.statusLine(line);
  }

  header(fromClient: boolean, name: string, value: string): void {
    if (fromClient) this.requestHeader(name, value);
    else this.responseHeader(name, value);
  }

  headersEnd(fromClient: boolean): BodyFraming {
    return fromClient ? this.requestHeadersEnd() : this.responseHeadersEnd();
  }

  bodyBytes(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    if (fromClient) this.requestBody(buf, start, end);
  }

  passOverBody(fromClient: boolean, n: number): boolean {
    // Only response bodies are offered (HttpStream.headersDone): a request's may be a login form.
    return this.session.passOver(fromClient, n);
  }

  messageEnd(fromClient: boolean): void {
    if (fromClient) this.requestEnd();
  }

  data(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    (fromClient ? this.client : this.server).push(buf, start, end);
  }

  gap(fromClient: boolean): void {
    if (fromClient) {
      this.client.resync();
      this.dropBody();
    } else {
      this.server.resync();
    }
  }

  close(): void {
    for (const x of this.outstanding) for (const c of x.creds) this.session.report(c, 'unknown', 'no response seen');
    this.outstanding.length = 0;
  }

  release(): void {
    this.client.reader.release();
    this.server.reader.release();
    this.dropBody();
  }

  private dropBody(): void {
    if (this.body !== null) this.session.budget.give(this.body.length);
    this.body = null;
  }

  // --- requests --------------------------------------------------------------

  private requestLine(line: string): boolean {
    const m = REQUEST_LINE.exec(line);
    if (!m) return false;
    this.method = m[1]!;
    this.target = m[2]!;
    this.host = '';
    this.contentLength = -1;
    this.chunked = false;
    this.formBody = false;
    this.dropBody();
    this.exchange = { method: this.method, target: this.target, host: '', creds: [], status: 0 };
    const q = this.target.indexOf('?');
    if (q >= 0) {
      const query = this.target.slice(q + 1);
      this.queryTokens(query);
      // A login form sent with GET: the password rides in the URL (and in every log and proxy on the way).
      const login = MAY_NAME_PASSWORD.test(query) ? this.formCredential(query, 'login form (GET query)') : null;
      if (login) this.exchange.creds.push(login);
    }
    return true;
  }

  /** access_token=, api_key= and the like in the URL: they travel in every log and proxy on the way too. */
  private queryTokens(query: string): void {
    for (const pair of query.split('&')) {
      const eq = pair.indexOf('=');
      if (eq <= 0 || !TOKEN_PARAM.test(pair.slice(0, eq))) continue;
      const value = formDecode(pair.slice(eq + 1));
      if (value.length >= MIN_SECRET) this.token('cred-http-token', `URL query parameter ${capText(pair.slice(0, eq))}`, value, 'an access token in the URL');
    }
  }

  /** Session and authentication cookies; the others (preferences, analytics) are no secret. */
  private cookies(header: string): void {
    if (!this.exchange) return;
    let found = 0;
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq <= 0) continue;
      const c = this.cookieCredential('Cookie', part.slice(0, eq).trim(), part.slice(eq + 1).trim(), false);
      if (!c) continue;
      this.exchange.creds.push(c);
      if (++found >= MAX_COOKIES) return;
    }
  }

  /**
   * A cookie the request sends (Cookie) or the response sets (Set-Cookie) as a credential, or
   * null: known session and authentication cookies by name; on a Set-Cookie, also any other the
   * server marks HttpOnly with a long value, unless infrastructure sets it.
   */
  private cookieCredential(header: 'Cookie' | 'Set-Cookie', name: string, value: string, httpOnly: boolean): Credential | null {
    if (value.length < MIN_SECRET) return null;
    const fromServer = header === 'Set-Cookie';
    const label = capText(name);
    const base = { rule: 'cred-http-session', protocol: 'HTTP', mechanism: `${header} ${label}`, user: '(no user)', secret: Buffer.from(value, 'latin1'), proofFromServer: fromServer };
    if (AUTH_COOKIE.test(name)) return this.session.credential({ ...base, kind: 'token', proof: 'an authentication cookie' });
    const session = SESSION_COOKIE.test(name) || (httpOnly && value.length >= MIN_GUESSED_SECRET && !INFRASTRUCTURE_COOKIE.test(name));
    return session ? this.session.credential({ ...base, kind: 'session', proof: `the session cookie ${label}` }) : null;
  }

  /** A replayable secret with no user to name: an API key, a token in the URL, an authentication cookie. */
  private token(rule: string, mechanism: string, secret: Buffer, proof: string): void {
    this.exchange?.creds.push(this.session.credential({ rule, protocol: 'HTTP', mechanism, user: '(no user)', secret, kind: 'token', proof }));
  }

  private requestHeader(name: string, value: string): void {
    if (name === 'host') {
      this.host = capText(value);
      if (this.exchange) this.exchange.host = this.host;
    } else if (name === 'content-length') this.contentLength = /^\d{1,15}$/.test(value) ? Number(value) : -1;
    else if (name === 'transfer-encoding') this.chunked = /chunked/i.test(value);
    else if (name === 'content-type') this.formBody = /^application\/x-www-form-urlencoded\b/i.test(value);
    else if (name === 'authorization' || name === 'proxy-authorization') {
      if (!this.basic(name, value) && !this.digest(name, value) && !this.bearer(name, value)) this.ntlm(name, value);
    } else if (name === 'cookie') this.cookies(value);
    else if (API_KEY_HEADERS.has(name)) {
      if (value.length >= MIN_SECRET) this.token('cred-http-token', `${headerName(name)} header`, Buffer.from(value, 'latin1'), 'an API key');
    } else if (value.length >= MIN_GUESSED_SECRET && !NOT_A_KEY_NAME.test(name)) {
      // Named like a key by its ending (wantedHeader): an API key or token by a name no list has.
      this.token('cred-http-token', `${capText(headerName(name))} header`, Buffer.from(value, 'latin1'), 'an API key or token');
    }
  }

  /**
   * A Digest response (RFC 7616): an MD5 (or SHA-256) of the password with
   * the realm, nonce, method and URI, all on the wire beside it, so it cracks
   * offline. The secret is John the Ripper's HDAA line. False for another scheme.
   */
  private digest(header: string, value: string): boolean {
    if (!this.exchange) return false;
    const d = readDigestResponse(value);
    if (d === undefined) return false;
    if (d === null) return true;
    this.exchange.creds.push(
      this.session.credential({
        rule: 'cred-http-digest',
        protocol: 'HTTP',
        mechanism: `${header === 'proxy-authorization' ? 'Proxy-Authorization' : 'Authorization'} Digest (${capText(d.algorithm)})`,
        user: capText(d.user),
        secret: Buffer.from(hdaaLine(d, this.method, d.uri ?? this.target), 'utf8'),
        kind: 'hash',
        proof: 'a Digest response',
      }),
    );
    return true;
  }

  private ntlm(header: string, value: string): void {
    const m = NTLM_SCHEME.exec(value);
    const token = m && this.exchange ? decodeBase64(m[2]!) : null;
    if (token === null) return;
    const auth = readNtlmAuthenticate(token, 0, token.length);
    const scheme = m![1]!.toUpperCase() === 'NTLM' ? 'NTLM' : 'Negotiate';
    const carrier = `${header === 'proxy-authorization' ? 'Proxy-Authorization' : 'Authorization'} ${scheme}`;
    // Negotiate carries NTLM or, in a Windows domain mostly, a Kerberos AP-REQ with its service ticket.
    const c = auth ? ntlmCredential(this.session, auth, this.ntlmChallenge, 'cred-http-ntlm', 'HTTP', carrier) : scheme === 'Negotiate' ? apReqTicketCredential(this.session, 'HTTP', carrier, token, 0, token.length) : null;
    if (c) this.exchange!.creds.push(c);
  }

  /** A Basic credential: false when the header holds another scheme. */
  private basic(header: string, value: string): boolean {
    const m = /^basic[ \t]+(.*)$/i.exec(value);
    if (!m || !this.exchange) return false;
    const token = m[1]!.replace(/[ \t]/g, '');
    const decoded = decodeBase64(token);
    let user = '(undecodable)';
    let secret = Buffer.from(token, 'latin1');
    if (decoded !== null) {
      const colon = decoded.indexOf(0x3a);
      // RFC 7617: the user-id has no colon, the password may have any number.
      user = colon < 0 ? '(no user)' : capText(decoded.toString('utf8', 0, colon));
      secret = Buffer.from(colon < 0 ? decoded : decoded.subarray(colon + 1));
    }
    this.exchange.creds.push(
      this.session.credential({
        rule: 'cred-http-basic',
        protocol: 'HTTP',
        mechanism: header === 'proxy-authorization' ? 'Proxy-Authorization Basic' : 'Authorization Basic',
        user,
        secret,
        kind: 'password',
      }),
    );
    return true;
  }

  /** An OAuth 2.0 bearer token (RFC 6750), often a JWT: whoever copies it is the user until it expires. */
  private bearer(header: string, value: string): boolean {
    const m = BEARER_SCHEME.exec(value);
    if (!m || !this.exchange) return false;
    const token = m[1]!;
    const claims = jwtClaims(token);
    const exp = typeof claims?.exp === 'number' && Number.isFinite(claims.exp) ? new Date(claims.exp * 1000) : null;
    this.exchange.creds.push(
      this.session.credential({
        rule: 'cred-http-token',
        protocol: 'HTTP',
        mechanism: `${header === 'proxy-authorization' ? 'Proxy-Authorization' : 'Authorization'} Bearer${claims ? ' (JWT)' : ''}`,
        user: capText(claimText(claims, 'preferred_username') ?? claimText(claims, 'email') ?? claimText(claims, 'sub') ?? claimText(claims, 'client_id') ?? '(bearer token)'),
        secret: Buffer.from(token, 'latin1'),
        kind: 'token',
        context: exp && !Number.isNaN(exp.getTime()) ? `the token expires ${exp.toISOString()}` : undefined,
      }),
    );
    return true;
  }

  private where(): string {
    return whereText(this.method, this.target, this.host);
  }

  private requestHeadersEnd(): BodyFraming {
    const x = this.exchange;
    if (x) {
      // Named once all headers are in: Host may follow Authorization.
      for (const c of x.creds) c.context = c.context ? `${this.where()}, ${c.context}` : this.where();
      if (this.outstanding.length >= MAX_OUTSTANDING) {
        for (const c of this.outstanding.shift()!.creds) this.session.report(c, 'unknown', 'response not matched');
      }
      this.outstanding.push(x);
    }
    if (this.formBody && this.method === 'POST' && !this.chunked && this.contentLength > 0 && this.contentLength <= MAX_FORM_BODY && this.session.budget.take(this.contentLength)) {
      this.body = Buffer.allocUnsafe(this.contentLength);
      this.bodyLen = 0;
    }
    if (this.chunked) return CHUNKED;
    return Math.max(0, this.contentLength);
  }

  private requestBody(buf: Buffer, start: number, end: number): void {
    if (this.body === null) return;
    const n = Math.min(end - start, this.body.length - this.bodyLen);
    buf.copy(this.body, this.bodyLen, start, start + n);
    this.bodyLen += n;
  }

  private requestEnd(): void {
    const x = this.exchange;
    this.exchange = null;
    if (this.body === null || x === null) return;
    const c = this.formCredential(this.body.toString('latin1', 0, this.bodyLen), 'login form (POST urlencoded)', this.where());
    this.dropBody();
    if (!c) return;
    // The response may already have come (a server answering before the body ended).
    if (x.status > 0) this.reportWithStatus(c, x.status);
    else x.creds.push(c);
  }

  /** A user and password among urlencoded fields (a POST body, a GET query), or null. */
  private formCredential(fields: string, mechanism: string, context?: string): Credential | null {
    let user: string | null = null;
    let pass: Buffer | null = null;
    for (const pair of fields.split('&')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const key = formDecode(pair.slice(0, eq)).toString('utf8').toLowerCase();
      // "session[password]" and "user.login" name their field last.
      const field = /\[([^\]]*)\]$/.exec(key)?.[1] ?? key;
      if (user === null && (USER_KEYS.has(field) || /(^|[_.-])(user|username|login|email)$/.test(field))) user = capText(formDecode(pair.slice(eq + 1)).toString('utf8'));
      else if (pass === null && PASSWORD_KEY.test(field)) pass = formDecode(pair.slice(eq + 1));
    }
    if (user === null || pass === null) return null;
    return this.session.credential({ rule: 'cred-http-form', protocol: 'HTTP', mechanism, user, secret: pass, kind: 'password', context });
  }

  // --- responses -------------------------------------------------------------

  private statusLine(line: string): boolean {
    const m = STATUS_LINE.exec(line);
    if (!m) return false;
    this.status = Number(m[1]);
    this.respLength = -1;
    this.respChunked = false;
    this.respCreds.length = 0;
    return true;
  }

  /** A session the server hands out (RFC 6265 Set-Cookie): the sniffer has it before the client sends it back. */
  private setCookie(header: string): void {
    const x = this.outstanding[0];
    if (!x || this.respCreds.length >= MAX_COOKIES) return;
    const semi = header.indexOf(';');
    const pair = semi < 0 ? header : header.slice(0, semi);
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const attributes = semi < 0 ? '' : header.slice(semi + 1);
    // Max-Age=0 deletes the cookie: what it carries is no longer a session.
    if (/(^|;)\s*max-age\s*=\s*(0|-\d+)\s*(;|$)/i.test(attributes)) return;
    const c = this.cookieCredential('Set-Cookie', pair.slice(0, eq).trim(), pair.slice(eq + 1).trim(), /(^|;)\s*httponly\s*(;|$)/i.test(attributes));
    if (!c) return;
    c.context = whereText(x.method, x.target, x.host);
    this.respCreds.push(c);
  }

  private responseHeader(name: string, value: string): void {
    if (name === 'content-length') this.respLength = /^\d{1,15}$/.test(value) ? Number(value) : -1;
    else if (name === 'transfer-encoding') this.respChunked = /chunked/i.test(value);
    else if (name === 'set-cookie') this.setCookie(value);
    else {
      // WWW-Authenticate / Proxy-Authenticate: an NTLM CHALLENGE for the request that follows.
      const m = NTLM_SCHEME.exec(value);
      const token = m ? decodeBase64(m[2]!) : null;
      if (token !== null) this.ntlmChallenge = findNtlmChallenge(token, 0, token.length) ?? this.ntlmChallenge;
    }
  }

  private responseHeadersEnd(): BodyFraming {
    const status = this.status;
    if (status >= 100 && status < 200) return 0; // interim: the final response follows
    const x = this.outstanding.shift() ?? null;
    if (x) {
      x.status = status;
      for (const c of x.creds) this.reportWithStatus(c, status);
      x.creds = [];
    }
    for (const c of this.respCreds) this.reportWithStatus(c, status);
    this.respCreds.length = 0;
    if (x?.method === 'HEAD' || status === 204 || status === 304) return 0;
    if (this.respChunked) return CHUNKED;
    if (this.respLength >= 0) return this.respLength;
    return UNTIL_CLOSE;
  }

  private reportWithStatus(c: Credential, status: number): void {
    const outcome: Outcome = status === 401 || status === 407 ? 'failed' : status >= 200 && status < 400 ? 'succeeded' : 'unknown';
    this.session.report(c, outcome, `HTTP ${status}`);
  }
}

/**
 * "POST /login (Host intranet.example)": the request a credential came with, for people. The
 * query is left out ("GET /api?…"): it may be the secret itself (access_token=, password=).
 */
function whereText(method: string, target: string, host: string): string {
  const q = target.indexOf('?');
  const path = capText(q < 0 ? target : `${target.slice(0, q)}?…`);
  return host ? `${method} ${path} (Host ${host})` : `${method} ${path}`;
}

/** A lowercased header name as usually written: "x-api-key" is X-Api-Key. */
function headerName(lower: string): string {
  return lower.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

/** What String#trim removes around a header name that matters here: space, tab (and CR, VT, FF). */
function isBlank(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** application/x-www-form-urlencoded decoding: "+" is a space, %XX a byte. */
function formDecode(s: string): Buffer {
  const out = Buffer.allocUnsafe(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) out[n++] = 0x20;
    else if (c === 0x25 && i + 2 < s.length && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out[n++] = parseInt(s.slice(i + 1, i + 3), 16);
      i += 2;
    } else out[n++] = c & 0xff;
  }
  return out.subarray(0, n);
}

/** A request line at the start of a client stream: enough to call the flow HTTP. */
export function looksLikeHttpRequest(buf: Buffer, start: number, end: number): boolean {
  let nl = start;
  const limit = Math.min(end, start + MAX_LINE);
  while (nl < limit && buf[nl] !== 0x0a) nl++;
  if (nl >= limit) return false;
  let e = nl;
  if (e > start && buf[e - 1] === 0x0d) e--;
  return REQUEST_LINE.test(buf.toString('latin1', start, e));
}

/** The claims of a JWT (its decoded middle part, when it is a JSON object), else null. */
function jwtClaims(token: string): Record<string, unknown> | null {
  const m = JWT.exec(token);
  if (!m) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8'));
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function claimText(claims: Record<string, unknown> | null, name: string): string | undefined {
  const v = claims?.[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
