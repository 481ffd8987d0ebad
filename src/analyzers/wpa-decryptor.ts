import { readMac } from '../decode/bytes.js';
import type { Packet } from '../decode/packet.js';
import {
  ccmpDecrypt,
  ccmpKeyId,
  groupKeyFrom,
  micMatches,
  pairwiseKeys,
  parseEapolKey,
  type EapolKey,
  type PairwiseKeys,
} from '../decode/wpa.js';
import { BoundedMap } from '../util/bounded-map.js';
import type { WifiNetwork } from './wlan/wlan-config.js';

// Reads WPA2-Personal Wi-Fi captures of networks the operator names in the
// config (`wifi.networks`: SSID and passphrase, or the PSK): it follows each
// station's 4-way handshake, keeps the pairwise keys whose MIC proves them
// right and the group keys the access point hands out, and decrypts the data
// frames, which the engine then analyses like any other. Like Wireshark, it
// needs the handshake in the capture; frames it cannot decrypt stay counted
// in the decode-wlan-skipped notice.

/** Stations whose handshakes are followed at once, and access points whose group keys are kept. */
const MAX_PAIRS = 4096;
const MAX_GROUP_KEYS = 1024;
/** Largest plaintext of one data frame (an A-MSDU of 7935 bytes, with room). */
const MAX_PLAINTEXT = 8192;

interface PairState {
  /** Authenticator (access point) and supplicant (station) addresses, 6 bytes each. */
  aa: Buffer;
  spa: Buffer;
  anonce: Buffer | null;
  /** Message 2 while its ANonce is not known yet (message 1 not captured). */
  message2: EapolKey | null;
  /** Keys of the newest handshake, and of the one before: a rekey's own message 3 still travels under the old ones. */
  keys: PairwiseKeys | null;
  previous: PairwiseKeys | null;
}

function macBuffer(mac: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(mac, 0, 6);
  return b;
}

/** One key for both directions of a station's traffic with its access point. */
function pairKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

export class WpaDecryptor {
  private readonly pairs = new BoundedMap<string, PairState>(MAX_PAIRS);
  /** Group keys by access point and key index. */
  private readonly groups = new BoundedMap<string, Buffer>(MAX_GROUP_KEYS);
  /** One plaintext buffer per encapsulation depth, so a decrypted frame inside another is safe. */
  private readonly scratch: Buffer[] = [];

  constructor(private readonly networks: readonly WifiNetwork[]) {}

  /** An EAPOL frame between an access point and a station (an unprotected 802.11 data frame). */
  onEapol(pkt: Packet): void {
    if (pkt.ethSrc === -1 || pkt.ethDst === -1) return;
    const key = parseEapolKey(pkt.buf, pkt.l3Start, pkt.end);
    if (key === null) return;
    const fromAp = key.ack;
    const ap = fromAp ? pkt.ethSrc : pkt.ethDst;
    const station = fromAp ? pkt.ethDst : pkt.ethSrc;
    const id = pairKey(ap, station);
    let pair = this.pairs.get(id);
    if (!pair) {
      pair = { aa: macBuffer(ap), spa: macBuffer(station), anonce: null, message2: null, keys: null, previous: null };
      this.pairs.set(id, pair);
    }
    if (key.pairwise && fromAp) {
      // Message 1 or 3: the ANonce (a new one starts a new handshake: a rekey or a reassociation).
      if (pair.anonce === null || !pair.anonce.equals(key.nonce)) pair.anonce = Buffer.from(key.nonce);
      if (pair.message2 !== null) this.derive(pair, pair.message2);
    } else if (key.pairwise && key.mic && !key.nonce.every((b) => b === 0)) {
      // Message 2 (message 4 carries no nonce).
      if (pair.anonce === null) pair.message2 = key;
      else this.derive(pair, key);
    }
    // Message 3 and group-key message 1 carry the group key, wrapped with the KEK.
    if (fromAp && key.encryptedData) {
      for (const keys of [pair.keys, pair.previous]) {
        const g = keys === null ? null : groupKeyFrom(key, keys.kek);
        if (g) {
          this.groups.set(`${ap}|${g.keyId}`, g.gtk);
          break;
        }
      }
    }
  }

  private derive(pair: PairState, message2: EapolKey): void {
    for (const net of this.networks) {
      const keys = pairwiseKeys(net.pmk, pair.aa, pair.spa, pair.anonce!, message2.nonce);
      if (micMatches(message2, keys.kck)) {
        if (pair.keys !== null && !pair.keys.tk.equals(keys.tk)) pair.previous = pair.keys;
        pair.keys = keys;
        pair.message2 = null;
        return;
      }
    }
  }

  /**
   * Decrypts the protected data frame `pkt` (linkSkip Protected) into a
   * buffer of its own; returns the plaintext and its length, or null when no
   * key fits (the handshake was not captured, another network, not CCMP).
   */
  decrypt(pkt: Packet): { plaintext: Buffer; len: number } | null {
    const buf = pkt.buf;
    const h = pkt.wlanHeader;
    const body = pkt.wlanBody;
    if (h < 0 || body < 0) return null;
    const keyId = ccmpKeyId(buf, body, pkt.end);
    if (keyId < 0) return null;
    const receiver = readMac(buf, h + 4);
    const transmitter = readMac(buf, h + 10);
    let out = this.scratch[pkt.depth];
    if (out === undefined) {
      out = Buffer.alloc(MAX_PLAINTEXT);
      this.scratch[pkt.depth] = out;
    }
    if ((buf[h + 4]! & 0x01) !== 0) {
      const gtk = this.groups.get(`${transmitter}|${keyId}`);
      const len = gtk === undefined ? -1 : ccmpDecrypt(gtk, buf, h, body, pkt.end, out);
      return len < 0 ? null : { plaintext: out, len };
    }
    const pair = this.pairs.get(pairKey(receiver, transmitter));
    if (!pair) return null;
    for (const keys of [pair.keys, pair.previous]) {
      const len = keys === null ? -1 : ccmpDecrypt(keys.tk, buf, h, body, pkt.end, out);
      if (len >= 0) return { plaintext: out, len };
    }
    return null;
  }

  stateSize(): number {
    return this.pairs.size + this.groups.size;
  }
}
