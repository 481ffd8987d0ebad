import { createHmac, randomBytes } from 'node:crypto';

// Secrets seen on the wire are never printed by default. A finding keeps the
// secret's length and a short keyed hash, so the same password seen twice (or
// by two sensors sharing a salt) correlates without being disclosed.

export interface SecretObservation {
  length: number;
  /** First 12 hex digits of HMAC-SHA256(salt, secret). */
  hash: string;
  /** The secret itself, only when the operator asked with --show-secrets. */
  value?: string;
}

export class SecretRedactor {
  private readonly salt: Buffer;

  constructor(
    readonly showSecrets: boolean,
    salt?: string,
  ) {
    this.salt = salt !== undefined ? Buffer.from(salt, 'utf8') : randomBytes(16);
  }

  observe(secret: string | Buffer): SecretObservation {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
    const obs: SecretObservation = { length: bytes.length, hash: createHmac('sha256', this.salt).update(bytes).digest('hex').slice(0, 12) };
    if (this.showSecrets) obs.value = bytes.toString('utf8');
    return obs;
  }
}
