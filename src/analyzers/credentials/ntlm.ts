import type { NtlmAuthenticate } from '../../decode/ntlmssp.js';
import type { Credential, LoginAttempt, Session } from './session.js';

// What a sniffer keeps of an NTLM exchange ([MS-NLMP]) on any protocol that
// carries one (LDAP, SMB, HTTP): the server's 8-byte challenge from the
// CHALLENGE (type 2) message and, with the client's AUTHENTICATE (decoded by
// decode/ntlmssp.ts), the NetNTLM hash in the form offline crackers take
// (hashcat modes 5600 and 5500). The password itself never travels.

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
const MESSAGE_TYPE_CHALLENGE = 2;
/** An NtChallengeResponse of this length is NTLMv1 (DES); NTLMv2's is longer. */
const NTLMV1_RESPONSE = 24;

/** The server challenge (hex) of a CHALLENGE message inside buf[start, end), or null. */
export function findNtlmChallenge(buf: Buffer, start: number, end: number): string | null {
  const at = buf.subarray(start, end).indexOf(SIGNATURE);
  if (at < 0) return null;
  const off = start + at;
  if (end - off < 32 || buf.readUInt32LE(off + 8) !== MESSAGE_TYPE_CHALLENGE) return null;
  return buf.toString('hex', off + 24, off + 32);
}

/** "user::domain:challenge:ntproofstr:blob" (NTLMv2) or "user::domain:lmresponse:ntresponse:challenge" (NTLMv1). */
export function crackableNtlm(auth: NtlmAuthenticate, challenge: string | null): string {
  const chal = challenge ?? '(server challenge not captured)';
  const nt = auth.ntResponse;
  if (nt.length > NTLMV1_RESPONSE) return `${auth.user}::${auth.domain}:${chal}:${nt.toString('hex', 0, 16)}:${nt.toString('hex', 16)}`;
  return `${auth.user}::${auth.domain}:${auth.lmResponse.toString('hex')}:${nt.toString('hex')}:${chal}`;
}

/**
 * What an AUTHENTICATE exposes, `carrier` naming how it travelled ("SMB2
 * session setup", "AUTH NTLM"); null for an anonymous one, which proves nothing.
 */
export function ntlmAttempt(auth: NtlmAuthenticate, challenge: string | null, carrier: string): LoginAttempt | null {
  if (auth.ntResponse.length < NTLMV1_RESPONSE) return null;
  const v2 = auth.ntResponse.length > NTLMV1_RESPONSE;
  const user = auth.domain ? `${auth.domain}\\${auth.user}` : auth.user;
  return {
    mechanism: `${carrier} with NTLMv${v2 ? 2 : 1}`,
    user: user || '(anonymous NTLM)',
    secret: Buffer.from(crackableNtlm(auth, challenge), 'latin1'),
    kind: 'hash',
    proof: 'an NTLM challenge-response',
    weakHash: !v2,
    context: auth.workstation ? `workstation ${auth.workstation}` : undefined,
    relayKey: ntlmRelayKey(user, auth.ntResponse, 0, auth.ntResponse.length),
  };
}

/** What identifies one AUTHENTICATE: the user and the first bytes of its NT response (NTLMv2's NTProofStr, NTLMv1's whole response). */
export function ntlmRelayKey(user: string, nt: Buffer, start: number, end: number): string {
  return `${user}|${nt.toString('hex', start, Math.min(end, start + NTLMV1_RESPONSE))}`;
}

/** The same, stamped as a credential of `rule` and `protocol`. */
export function ntlmCredential(session: Session, auth: NtlmAuthenticate, challenge: string | null, rule: string, protocol: string, carrier: string): Credential | null {
  const attempt = ntlmAttempt(auth, challenge, carrier);
  return attempt && session.credential({ rule, protocol, ...attempt });
}
