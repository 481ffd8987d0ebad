import type { Entity, Severity } from '../../findings/finding.js';
import type { Report } from '../analyzer.js';
import type { Credential, Outcome } from './session.js';

// How a harvested login reads in a finding, whichever analyzer saw it (the
// credentials analyzer's protocols, SNMPv3 in the SNMP analyzer): entities
// for the client, the server and the user with the outcome, the message,
// and the severity from what the secret is worth.

export function credentialReport(c: Credential, outcome: Outcome, detail: string, client: string, serverIp: string, server: string): Report & { entities: Entity[] } {
  const entities: Entity[] = [
    { type: 'ip', value: client, role: 'client' },
    { type: 'ip', value: serverIp, role: 'server' },
    { type: 'host', value: server, role: 'server' },
    { type: 'user', value: c.user, role: `login-${outcome}` },
  ];
  return { message: credentialMessage(c, client, server, outcome, detail), entities, severity: credentialSeverity(c, outcome), secret: c.secret };
}

/** What a secret is when the parser did not say, with its article. */
const DEFAULT_PROOF: Record<Exclude<Credential['kind'], 'password'>, string> = { token: 'an OAuth bearer token', session: 'a session cookie', hash: 'a challenge-response' };
const LOGIN_VERDICTS: Record<Outcome, string> = { succeeded: 'login succeeded', failed: 'login failed', unknown: 'outcome unknown' };
/** A session cookie rides on requests that are no logins. */
const REQUEST_VERDICTS: Record<Outcome, string> = { succeeded: 'the server accepted the request', failed: 'the server refused the request', unknown: 'outcome unknown' };

export function secretNoun(c: Credential): string {
  if (c.kind === 'password') return 'password';
  return (c.proof ?? DEFAULT_PROOF[c.kind]).replace(/^an? /, '');
}

function credentialSeverity(c: Credential, outcome: Outcome): Severity {
  if (c.anonymous) return 'low';
  // Anonymous visitors get session cookies too: a session is not known to be a logged-in one.
  if (c.kind === 'session') return outcome === 'failed' ? 'low' : 'medium';
  if (c.kind === 'hash') return outcome === 'failed' || c.slowHash ? 'low' : c.weakHash ? 'high' : 'medium';
  if (c.secret.length === 0 || outcome === 'failed') return 'medium';
  return 'high';
}

function credentialMessage(c: Credential, client: string, server: string, outcome: Outcome, detail: string): string {
  const verdict = (c.kind === 'session' ? REQUEST_VERDICTS : LOGIN_VERDICTS)[outcome];
  const where = c.context ? `, ${c.context}` : '';
  const secret = `${c.secret.length} chars, frame ${c.frame}`;
  let what: string;
  if (c.anonymous) what = `anonymous login as '${c.user}' (a public account; the password, ${secret}, is usually an e-mail address)`;
  else if (c.kind === 'token') what = `${c.proofFromServer ? 'the server set' : `user '${c.user}' sent`} ${c.proof ?? DEFAULT_PROOF.token} (${secret}) that can be replayed until it expires`;
  else if (c.kind === 'session') what = `${c.proofFromServer ? 'the server set' : 'the client sent'} ${c.proof ?? DEFAULT_PROOF.session} (${secret}) that takes over the session while it lasts`;
  else if (c.kind === 'hash') {
    const who = c.proofFromServer ? `the server sent user '${c.user}'` : c.proofForService ? `the client presented, for '${c.user}',` : `user '${c.user}' sent`;
    const sent = `${who} ${c.proof ?? DEFAULT_PROOF.hash} (${secret})`;
    what = c.weakHash
      ? `${sent} made with broken cryptography (NTLMv1, DES): the user's key is recovered from it whatever the password's strength, and the key alone logs in as the user`
      : `${sent} that can be cracked offline; the password itself did not travel`;
  }
  else if (c.secret.length === 0) what = `user '${c.user}' logged in with an empty password (frame ${c.frame})`;
  else what = `user '${c.user}' sent a password in cleartext (${secret})`;
  return `${c.protocol} ${c.mechanism} from ${client} to ${server}${where}: ${what}; ${verdict} (${detail})`;
}
