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

export function secretNoun(c: Credential): string {
  if (c.kind === 'token') return 'bearer token';
  if (c.kind === 'hash') return (c.proof ?? 'a challenge-response').replace(/^an? /, '');
  return 'password';
}

function credentialSeverity(c: Credential, outcome: Outcome): Severity {
  if (c.anonymous) return 'low';
  if (c.kind === 'hash') return outcome === 'failed' || c.slowHash ? 'low' : c.weakHash ? 'high' : 'medium';
  if (c.secret.length === 0 || outcome === 'failed') return 'medium';
  return 'high';
}

function credentialMessage(c: Credential, client: string, server: string, outcome: Outcome, detail: string): string {
  const verdict = outcome === 'succeeded' ? 'login succeeded' : outcome === 'failed' ? 'login failed' : 'outcome unknown';
  const where = c.context ? `, ${c.context}` : '';
  const secret = `${c.secret.length} chars, frame ${c.frame}`;
  let what: string;
  if (c.anonymous) what = `anonymous login as '${c.user}' (a public account; the password, ${secret}, is usually an e-mail address)`;
  else if (c.kind === 'token') what = `user '${c.user}' sent an OAuth bearer token (${secret}) that can be replayed until it expires`;
  else if (c.kind === 'hash') {
    const sent = `${c.proofFromServer ? `the server sent user '${c.user}'` : `user '${c.user}' sent`} ${c.proof ?? 'a challenge-response'} (${secret})`;
    what = c.weakHash
      ? `${sent} made with broken cryptography (NTLMv1, DES): the user's key is recovered from it whatever the password's strength, and the key alone logs in as the user`
      : `${sent} that can be cracked offline; the password itself did not travel`;
  }
  else if (c.secret.length === 0) what = `user '${c.user}' logged in with an empty password (frame ${c.frame})`;
  else what = `user '${c.user}' sent a password in cleartext (${secret})`;
  return `${c.protocol} ${c.mechanism} from ${client} to ${server}${where}: ${what}; ${verdict} (${detail})`;
}
