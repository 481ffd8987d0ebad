// SMB messages as clients and servers put them on the wire ([MS-SMB2] 2.2,
// [MS-CIFS] 2.2), each inside its NetBIOS session-service record.

export const STATUS_SUCCESS = 0;
export const STATUS_MORE_PROCESSING_REQUIRED = 0xc0000016;
export const STATUS_LOGON_FAILURE = 0xc000006d;
export const STATUS_PASSWORD_MUST_CHANGE = 0xc0000224;

/** A NetBIOS session message (type 0, 24-bit length) around an SMB message. */
export function nbss(smb: Buffer, type = 0): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUIntBE(smb.length, 1, 3);
  return Buffer.concat([h, smb]);
}

/** A NetBIOS session request (port 139) naming two 32-byte encoded names. */
export function nbssSessionRequest(): Buffer {
  const name = Buffer.concat([Buffer.from([0x20]), Buffer.from('CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'latin1'), Buffer.from([0])]);
  return nbss(Buffer.concat([name, name]), 0x81);
}

export interface Smb2Fields {
  command: number;
  response?: boolean;
  status?: number;
  messageId: number;
  sessionId?: bigint;
  nextCommand?: number;
}

export function smb2Header(f: Smb2Fields): Buffer {
  const h = Buffer.alloc(64);
  h.writeUInt32BE(0xfe534d42, 0);
  h.writeUInt16LE(64, 4);
  h.writeUInt32LE(f.status ?? 0, 8);
  h.writeUInt16LE(f.command, 12);
  h.writeUInt16LE(1, 14);
  h.writeUInt32LE(f.response ? 1 : 0, 16);
  h.writeUInt32LE(f.nextCommand ?? 0, 20);
  h.writeBigUInt64LE(BigInt(f.messageId), 24);
  h.writeBigUInt64LE(f.sessionId ?? 0n, 40);
  return h;
}

/** A SPNEGO-like wrapper: the GSS-API and NegTokenResp bytes before the NTLMSSP token. */
export function spnego(token: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xa1, 0x82, (token.length + 12) >> 8, (token.length + 12) & 0xff, 0x30, 0x82, 0, 0, 0xa2, 0x82, 0, 0, 0x04, 0x82]), Buffer.from([token.length >> 8, token.length & 0xff]), token]);
}

export function smb2NegotiateResponse(messageId: number, dialect: number): Buffer {
  const body = Buffer.alloc(65);
  body.writeUInt16LE(65, 0);
  body.writeUInt16LE(1, 2);
  body.writeUInt16LE(dialect, 4);
  return nbss(Buffer.concat([smb2Header({ command: 0, response: true, messageId }), body]));
}

export function smb2SessionSetupRequest(messageId: number, blob: Buffer, sessionId = 0n): Buffer {
  const body = Buffer.alloc(24);
  body.writeUInt16LE(25, 0);
  body.writeUInt16LE(64 + 24, 12);
  body.writeUInt16LE(blob.length, 14);
  return nbss(Buffer.concat([smb2Header({ command: 1, messageId, sessionId }), body, blob]));
}

export function smb2SessionSetupResponse(messageId: number, status: number, blob: Buffer = Buffer.alloc(0), sessionFlags = 0, sessionId = 0x1234n): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16LE(9, 0);
  body.writeUInt16LE(sessionFlags, 2);
  body.writeUInt16LE(blob.length > 0 ? 64 + 8 : 0, 4);
  body.writeUInt16LE(blob.length, 6);
  return nbss(Buffer.concat([smb2Header({ command: 1, response: true, status, messageId, sessionId }), body, blob]));
}

export interface Smb1Fields {
  command: number;
  reply?: boolean;
  status?: number;
  flags2: number;
  mid: number;
  words: Buffer;
  bytes: Buffer;
}

export const SMB1_FLAGS2_EXTENDED_SECURITY = 0x0800;
export const SMB1_FLAGS2_NT_STATUS = 0x4000;
export const SMB1_FLAGS2_UNICODE = 0x8000;

export function smb1Message(f: Smb1Fields): Buffer {
  const h = Buffer.alloc(32);
  h.writeUInt32BE(0xff534d42, 0);
  h[4] = f.command;
  h.writeUInt32LE(f.status ?? 0, 5);
  h[9] = f.reply ? 0x80 : 0x18;
  h.writeUInt16LE(f.flags2, 10);
  h.writeUInt16LE(f.mid, 30);
  const count = Buffer.alloc(2);
  count.writeUInt16LE(f.bytes.length);
  return nbss(Buffer.concat([h, Buffer.from([f.words.length / 2]), f.words, count, f.bytes]));
}

/** NT LM 0.12 NEGOTIATE response without extended security: SecurityMode and the 8-byte challenge. */
export function smb1NegotiateResponse(mid: number, challenge: Buffer, encryptPasswords: boolean): Buffer {
  const words = Buffer.alloc(34);
  words[2] = encryptPasswords ? 0x03 : 0x01;
  words.writeUInt32LE(0x0000f3fd, 19); // no CAP_EXTENDED_SECURITY
  words[33] = challenge.length;
  return smb1Message({ command: 0x72, reply: true, flags2: SMB1_FLAGS2_NT_STATUS | SMB1_FLAGS2_UNICODE, mid, words, bytes: Buffer.concat([challenge, Buffer.from('WORKGROUP\0', 'utf16le')]) });
}

/** SESSION_SETUP_ANDX with 13 words: OEM and Unicode passwords (or responses), then account and domain. */
export function smb1SessionSetupPlain(mid: number, oem: Buffer, unicodePw: Buffer, account: string, domain: string): Buffer {
  const words = Buffer.alloc(26);
  words[0] = 0xff;
  words.writeUInt16LE(oem.length, 14);
  words.writeUInt16LE(unicodePw.length, 16);
  // Unicode strings are aligned on two bytes from the SMB header (32 + 1 + 26 + 2 = 61 bytes before the data).
  const pad = (61 + oem.length + unicodePw.length) % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0);
  const bytes = Buffer.concat([oem, unicodePw, pad, Buffer.from(`${account}\0${domain}\0Unix\0Samba\0`, 'utf16le')]);
  return smb1Message({ command: 0x73, flags2: SMB1_FLAGS2_NT_STATUS | SMB1_FLAGS2_UNICODE, mid, words, bytes });
}

/** SESSION_SETUP_ANDX with 12 words (extended security): a security blob. */
export function smb1SessionSetupBlob(mid: number, blob: Buffer): Buffer {
  const words = Buffer.alloc(24);
  words[0] = 0xff;
  words.writeUInt16LE(blob.length, 14);
  return smb1Message({ command: 0x73, flags2: SMB1_FLAGS2_NT_STATUS | SMB1_FLAGS2_UNICODE | SMB1_FLAGS2_EXTENDED_SECURITY, mid, words, bytes: blob });
}

export function smb1SessionSetupResponse(mid: number, status: number, blob: Buffer = Buffer.alloc(0), guest = false): Buffer {
  const words = Buffer.alloc(blob.length > 0 ? 8 : 6);
  words[0] = 0xff;
  words.writeUInt16LE(guest ? 1 : 0, 4);
  if (blob.length > 0) words.writeUInt16LE(blob.length, 6);
  return smb1Message({ command: 0x73, reply: true, status, flags2: SMB1_FLAGS2_NT_STATUS | SMB1_FLAGS2_UNICODE | SMB1_FLAGS2_EXTENDED_SECURITY, mid, words, bytes: blob });
}
