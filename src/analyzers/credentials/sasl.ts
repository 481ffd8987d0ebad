import { readNtlmAuthenticate } from '../../decode/ntlmssp.js';
import { findNtlmChallenge, ntlmAttempt } from './ntlm.js';
import { saslDigestMd5 } from './digest.js';
import type { LoginAttempt } from './session.js';
import { capText, decodeBase64 } from './text.js';

// The client side of the SASL mechanisms that put a reusable secret on the
// wire in base64 (RFC 4616 PLAIN, the LOGIN draft, Google's XOAUTH2 and
// RFC 7628 OAUTHBEARER), and those whose response cracks offline with the
// challenge the server sent (NTLM; RFC 2195 CRAM-MD5, an HMAC-MD5 of the
// challenge keyed by the password: hashcat 16400; RFC 2831 DIGEST-MD5, whose
// response repeats the nonce it answers: John's dmd5); shared by POP3 AUTH,
// IMAP AUTHENTICATE and SMTP AUTH, and LDAP binds use cramMd5Attempt and
// digestMd5Attempt. Other mechanisms (SCRAM, GSSAPI) are followed only so
// their responses are not mistaken for commands.

export type SaslCredential = LoginAttempt;

const MAX_RESPONSE = 16384;

export class SaslExchange {
  /** An exchange is under way: client lines are SASL responses, not commands. */
  active = false;
  private mech = '';
  private user = '';
  private haveUser = false;
  /** NTLM: the server challenge of the exchange (hex). */
  private ntlmChallenge: string | null = null;
  /** CRAM-MD5: the server's challenge as sent (base64). */
  private cramChallenge = '';

  /** AUTH <mech> [initial-response]; returns the credential when the initial response completes it. */
  begin(mechanism: string, initial: string | null): SaslCredential | null {
    this.active = true;
    this.mech = mechanism.toUpperCase();
    this.user = '';
    this.haveUser = false;
    this.ntlmChallenge = null;
    this.cramChallenge = '';
    // "=" is an empty initial response (RFC 4954), a missing one waits for a challenge.
    if (initial === null || initial === '') return null;
    return this.respond(initial === '=' ? '' : initial);
  }

  /** A client line during the exchange. */
  respond(line: string): SaslCredential | null {
    if (!this.active) return null;
    const t = line.trim();
    if (t === '*') {
      this.active = false;
      return null;
    }
    if (t.length > MAX_RESPONSE) return null;
    const bytes = decodeBase64(t, MAX_RESPONSE);
    if (bytes === null) return null;
    switch (this.mech) {
      case 'PLAIN':
        return this.plain(bytes);
      case 'LOGIN':
        return this.login(bytes);
      case 'XOAUTH2':
      case 'OAUTHBEARER':
        return this.bearer(bytes);
      case 'NTLM':
        return this.ntlm(bytes);
      case 'CRAM-MD5':
        return this.cramMd5(t, bytes);
      case 'DIGEST-MD5':
        // The exchange goes on (the server's rspauth, an empty answer): only the digest-response is a credential.
        return digestMd5Attempt(bytes, 'AUTH DIGEST-MD5');
      default:
        return null;
    }
  }

  /** A server challenge (the base64 of "334 ..." or "+ ..."). */
  challenge(text: string): void {
    if (!this.active) return;
    if (this.mech === 'CRAM-MD5') {
      const t = text.trim();
      if (t.length <= MAX_RESPONSE && decodeBase64(t, MAX_RESPONSE) !== null) this.cramChallenge = t;
      return;
    }
    if (this.mech !== 'NTLM') return;
    const bytes = decodeBase64(text, MAX_RESPONSE);
    if (bytes !== null) this.ntlmChallenge = findNtlmChallenge(bytes, 0, bytes.length) ?? this.ntlmChallenge;
  }

  /** The server ended the exchange (final reply). */
  end(): void {
    this.active = false;
  }

  get mechanism(): string {
    return this.mech;
  }

  private plain(bytes: Buffer): SaslCredential | null {
    const first = bytes.indexOf(0);
    const second = first < 0 ? -1 : bytes.indexOf(0, first + 1);
    if (second < 0) return null;
    const authzid = bytes.toString('utf8', 0, first);
    const authcid = bytes.toString('utf8', first + 1, second);
    this.active = false;
    return { mechanism: 'AUTH PLAIN', user: capText(authcid || authzid), secret: Buffer.from(bytes.subarray(second + 1)), kind: 'password' };
  }

  private login(bytes: Buffer): SaslCredential | null {
    if (!this.haveUser) {
      this.user = capText(bytes.toString('utf8'));
      this.haveUser = true;
      return null;
    }
    this.active = false;
    return { mechanism: 'AUTH LOGIN', user: this.user, secret: Buffer.from(bytes), kind: 'password' };
  }

  private ntlm(bytes: Buffer): SaslCredential | null {
    const auth = readNtlmAuthenticate(bytes, 0, bytes.length);
    if (!auth) return null;
    this.active = false;
    return ntlmAttempt(auth, this.ntlmChallenge, 'AUTH NTLM');
  }

  private cramMd5(response: string, bytes: Buffer): SaslCredential | null {
    const c = cramMd5Attempt(this.cramChallenge, response, bytes, 'AUTH CRAM-MD5');
    if (c) this.active = false;
    return c;
  }

  /** "user=alice\x01auth=Bearer tok\x01\x01" (XOAUTH2) or "n,a=alice,\x01auth=Bearer tok\x01\x01" (OAUTHBEARER). */
  private bearer(bytes: Buffer): SaslCredential | null {
    const s = bytes.toString('latin1');
    let user = '';
    let token = '';
    for (const part of s.split('\x01')) {
      if (part.startsWith('user=')) user = part.slice(5);
      else if (part.startsWith('n,') || part.startsWith('y,') || part.startsWith('p=')) {
        const m = /(?:^|,)a=([^,]*)/.exec(part);
        if (m) user = m[1]!;
      } else if (/^auth=/i.test(part)) token = part.slice(5).replace(/^Bearer\s+/i, '');
    }
    if (token === '') return null;
    this.active = false;
    return { mechanism: `AUTH ${this.mech}`, user: capText(Buffer.from(user, 'latin1').toString('utf8')), secret: Buffer.from(token, 'latin1'), kind: 'token' };
  }
}

/**
 * A CRAM-MD5 response ("user <32 hex digits>", `bytes`; `response` the same
 * in base64) to the challenge `challenge` (base64): the hashcat 16400 line is
 * both as base64. Null for anything else.
 */
export function cramMd5Attempt(challenge: string, response: string, bytes: Buffer, mechanism: string): SaslCredential | null {
  const text = bytes.toString('latin1');
  const sp = text.lastIndexOf(' ');
  if (sp <= 0 || !/^[0-9a-f]{32}$/i.test(text.slice(sp + 1))) return null;
  return {
    mechanism,
    user: capText(Buffer.from(text.slice(0, sp), 'latin1').toString('utf8')),
    secret: Buffer.from(`$cram_md5$${challenge}$${response}`, 'latin1'),
    kind: 'hash',
    proof: 'a CRAM-MD5 response',
  };
}

/** A DIGEST-MD5 digest-response (`bytes`): John's dmd5 line. Null for anything else (the empty answer to rspauth). */
export function digestMd5Attempt(bytes: Buffer, mechanism: string): SaslCredential | null {
  const d = bytes.length > 0 && bytes.length <= MAX_RESPONSE ? saslDigestMd5(bytes.toString('utf8')) : null;
  return d && { mechanism, user: capText(d.user), secret: Buffer.from(d.line, 'utf8'), kind: 'hash', proof: 'a DIGEST-MD5 response' };
}
