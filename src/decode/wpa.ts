import { createDecipheriv, createHmac, pbkdf2Sync } from 'node:crypto';
import { u16be } from './bytes.js';

// WPA2-Personal (RSN, AES-CCMP) as IEEE 802.11-2016 defines it, for reading
// captures of networks whose passphrase the operator has: the PMK from the
// passphrase and SSID, EAPOL-Key frames of the 4-way and group handshakes,
// the pairwise keys they derive (checked against the handshake's MIC), the
// group key carried in message 3, and CCMP decryption of data frames.
// Stateless: which keys belong to which stations is kept by the engine's
// WpaDecryptor. Node's crypto does the AES-CCM, AES key wrap, HMAC and PBKDF2.

export const ETHERTYPE_EAPOL = 0x888e;

const EAPOL_TYPE_KEY = 3;
const KEY_DESCRIPTOR_RSN = 2;
const KEY_DESCRIPTOR_WPA = 254;
/** EAPOL header (4) + descriptor up to and including the key data length (95). */
const EAPOL_KEY_MIN = 99;
const MIC_OFFSET = 81;
const NONCE_OFFSET = 17;

const KI_VERSION = 0x0007;
const KI_PAIRWISE = 0x0008;
const KI_ACK = 0x0080;
const KI_MIC = 0x0100;
const KI_ENCRYPTED_DATA = 0x1000;
/** HMAC-SHA1 MIC, AES key wrap: the descriptor version of WPA2 with CCMP. */
export const KEY_VERSION_AES_HMAC_SHA1 = 2;

const CCMP_HEADER = 8;
const CCMP_MIC = 8;
const CCMP_EXT_IV = 0x20;
const KEY_WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

/** One EAPOL-Key frame, copied out of the packet (handshake frames are few). */
export interface EapolKey {
  version: number;
  pairwise: boolean;
  ack: boolean;
  mic: boolean;
  encryptedData: boolean;
  nonce: Buffer;
  keyData: Buffer;
  /** The whole EAPOL frame; its MIC field is at MIC_OFFSET. */
  frame: Buffer;
}

/** The EAPOL-Key frame at buf[off, end), or null if it is some other EAPOL frame or cut short. */
export function parseEapolKey(buf: Buffer, off: number, end: number): EapolKey | null {
  if (end - off < EAPOL_KEY_MIN || buf[off + 1] !== EAPOL_TYPE_KEY) return null;
  const total = 4 + u16be(buf, off + 2);
  const descriptor = buf[off + 4];
  if (total < EAPOL_KEY_MIN || total > end - off || (descriptor !== KEY_DESCRIPTOR_RSN && descriptor !== KEY_DESCRIPTOR_WPA)) return null;
  const dataLen = u16be(buf, off + 97);
  if (EAPOL_KEY_MIN + dataLen > total) return null;
  const frame = Buffer.from(buf.subarray(off, off + total));
  const info = u16be(frame, 5);
  return {
    version: info & KI_VERSION,
    pairwise: (info & KI_PAIRWISE) !== 0,
    ack: (info & KI_ACK) !== 0,
    mic: (info & KI_MIC) !== 0,
    encryptedData: (info & KI_ENCRYPTED_DATA) !== 0,
    nonce: frame.subarray(NONCE_OFFSET, NONCE_OFFSET + 32),
    keyData: frame.subarray(EAPOL_KEY_MIN, EAPOL_KEY_MIN + dataLen),
    frame,
  };
}

/** The PMK of WPA2-Personal: PBKDF2-HMAC-SHA1(passphrase, SSID, 4096 rounds, 256 bits). */
export function pmkFromPassphrase(passphrase: string, ssid: string): Buffer {
  return pbkdf2Sync(Buffer.from(passphrase, 'utf8'), Buffer.from(ssid, 'utf8'), 4096, 32, 'sha1');
}

/** The PRF of IEEE 802.11 (12.7.1.2): HMAC-SHA1 over label, 0, data, counter, to `bytes` bytes. */
export function prfSha1(key: Buffer, label: string, data: Buffer, bytes: number): Buffer {
  const blocks: Buffer[] = [];
  const prefix = Buffer.concat([Buffer.from(label, 'latin1'), Buffer.alloc(1)]);
  for (let i = 0; blocks.length * 20 < bytes; i++) {
    blocks.push(createHmac('sha1', key).update(prefix).update(data).update(Buffer.from([i])).digest());
  }
  return Buffer.concat(blocks).subarray(0, bytes);
}

export interface PairwiseKeys {
  /** Key confirmation key: the handshake's MIC. */
  kck: Buffer;
  /** Key encryption key: wraps the group key in message 3. */
  kek: Buffer;
  /** Temporal key: CCMP of unicast data. */
  tk: Buffer;
}

/** PTK = PRF-384(PMK, "Pairwise key expansion", min/max of the two addresses, min/max of the two nonces). */
export function pairwiseKeys(pmk: Buffer, aa: Buffer, spa: Buffer, anonce: Buffer, snonce: Buffer): PairwiseKeys {
  const addrs = Buffer.compare(aa, spa) < 0 ? [aa, spa] : [spa, aa];
  const nonces = Buffer.compare(anonce, snonce) < 0 ? [anonce, snonce] : [snonce, anonce];
  const ptk = prfSha1(pmk, 'Pairwise key expansion', Buffer.concat([...addrs, ...nonces]), 48);
  return { kck: ptk.subarray(0, 16), kek: ptk.subarray(16, 32), tk: ptk.subarray(32, 48) };
}

/** Whether the frame's MIC is the HMAC-SHA1 of the frame (MIC field zeroed) under `kck`: the keys are right. */
export function micMatches(key: EapolKey, kck: Buffer): boolean {
  if (key.version !== KEY_VERSION_AES_HMAC_SHA1 || !key.mic) return false;
  const zeroed = Buffer.from(key.frame);
  zeroed.fill(0, MIC_OFFSET, MIC_OFFSET + 16);
  const mic = createHmac('sha1', kck).update(zeroed).digest().subarray(0, 16);
  return mic.equals(key.frame.subarray(MIC_OFFSET, MIC_OFFSET + 16));
}

/** The group key (GTK KDE) in encrypted key data, unwrapped with `kek` (RFC 3394); null when absent or not unwrappable. */
export function groupKeyFrom(key: EapolKey, kek: Buffer): { keyId: number; gtk: Buffer } | null {
  if (!key.encryptedData || key.version !== KEY_VERSION_AES_HMAC_SHA1 || key.keyData.length < 24 || key.keyData.length % 8 !== 0) return null;
  let data: Buffer;
  try {
    const d = createDecipheriv('id-aes128-wrap', kek, KEY_WRAP_IV);
    data = Buffer.concat([d.update(key.keyData), d.final()]);
  } catch {
    return null;
  }
  // Key data elements: RSN IE (0x30) and KDEs (0xdd, OUI 00-0f-ac, type); 0xdd with length 0 starts the padding.
  for (let p = 0; p + 2 <= data.length; ) {
    const type = data[p]!;
    const len = data[p + 1]!;
    if (p + 2 + len > data.length) break;
    if (type === 0xdd && len >= 6 + 16 && data[p + 2] === 0x00 && data[p + 3] === 0x0f && data[p + 4] === 0xac && data[p + 5] === 0x01) {
      return { keyId: data[p + 6]! & 0x3, gtk: Buffer.from(data.subarray(p + 8, p + 2 + len)) };
    }
    if (type === 0xdd && len === 0) break;
    p += 2 + len;
  }
  return null;
}

/** The key index a CCMP-protected body names, or -1 when the body is not CCMP (WEP, TKIP without ExtIV) or too short. */
export function ccmpKeyId(buf: Buffer, body: number, end: number): number {
  if (end - body < CCMP_HEADER + CCMP_MIC || (buf[body + 3]! & CCMP_EXT_IV) === 0) return -1;
  return buf[body + 3]! >> 6;
}

/**
 * Decrypts the CCMP-protected data frame whose MAC header is buf[hdr, body)
 * and whose CCMP header, ciphertext and MIC are buf[body, end). Writes the
 * plaintext (LLC/SNAP onwards) to `out` and returns its length, or -1 when
 * the MIC does not verify (wrong key, corrupted frame).
 */
export function ccmpDecrypt(tk: Buffer, buf: Buffer, hdr: number, body: number, end: number, out: Buffer): number {
  const fc0 = buf[hdr]!;
  const fc1 = buf[hdr + 1]!;
  const qos = (fc0 & 0x80) !== 0;
  const fourAddress = (fc1 & 0x03) === 0x03;
  // AAD (12.5.3.3.3): frame control with subtype bits 4-6, Retry, PwrMgt, MoreData (and Order in QoS
  // frames) masked, Protected set; A1-A3; sequence control with the sequence number masked; A4; the TID.
  const aadLen = 22 + (fourAddress ? 6 : 0) + (qos ? 2 : 0);
  const aad = Buffer.alloc(aadLen);
  aad[0] = fc0 & 0x8f;
  aad[1] = (fc1 & (qos ? 0x47 : 0xc7)) | 0x40;
  buf.copy(aad, 2, hdr + 4, hdr + 22);
  aad[20] = buf[hdr + 22]! & 0x0f;
  aad[21] = 0;
  let p = 22;
  if (fourAddress) {
    buf.copy(aad, p, hdr + 24, hdr + 30);
    p += 6;
  }
  const tid = qos ? buf[hdr + 24 + (fourAddress ? 6 : 0)]! & 0x0f : 0;
  if (qos) aad[p] = tid;
  // Nonce: priority, transmitter (A2), packet number PN5..PN0.
  const nonce = Buffer.alloc(13);
  nonce[0] = tid;
  buf.copy(nonce, 1, hdr + 10, hdr + 16);
  nonce[7] = buf[body + 7]!;
  nonce[8] = buf[body + 6]!;
  nonce[9] = buf[body + 5]!;
  nonce[10] = buf[body + 4]!;
  nonce[11] = buf[body + 1]!;
  nonce[12] = buf[body]!;
  const ctStart = body + CCMP_HEADER;
  const ctEnd = end - CCMP_MIC;
  const len = ctEnd - ctStart;
  if (len < 0 || len > out.length) return -1;
  try {
    const d = createDecipheriv('aes-128-ccm', tk, nonce, { authTagLength: CCMP_MIC });
    d.setAuthTag(buf.subarray(ctEnd, end));
    d.setAAD(aad, { plaintextLength: len });
    const n = d.update(buf.subarray(ctStart, ctEnd)).copy(out, 0);
    d.final();
    return n;
  } catch {
    return -1;
  }
}
