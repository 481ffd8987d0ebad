import { berElement, berInteger } from '../../src/craft/frames.js';

// LDAP messages (RFC 4511) as clients and servers send them: binds and their responses.

export function ldapMessage(id: number, op: Buffer): Buffer {
  return berElement(0x30, Buffer.concat([berInteger(id), op]));
}

export function simpleBind(id: number, dn: string, password: string): Buffer {
  return ldapMessage(id, berElement(0x60, Buffer.concat([berInteger(3), berElement(0x04, Buffer.from(dn)), berElement(0x80, Buffer.from(password))])));
}

export function saslBind(id: number, mechanism: string, credentials?: Buffer): Buffer {
  const sasl = Buffer.concat([berElement(0x04, Buffer.from(mechanism)), ...(credentials ? [berElement(0x04, credentials)] : [])]);
  return ldapMessage(id, berElement(0x60, Buffer.concat([berInteger(3), berElement(0x04, Buffer.alloc(0)), berElement(0xa3, sasl)])));
}

export function bindResponse(id: number, code: number, serverSaslCreds?: Buffer): Buffer {
  const parts = [berElement(0x0a, Buffer.from([code])), berElement(0x04, Buffer.alloc(0)), berElement(0x04, Buffer.alloc(0))];
  if (serverSaslCreds) parts.push(berElement(0x87, serverSaslCreds));
  return ldapMessage(id, berElement(0x61, Buffer.concat(parts)));
}
