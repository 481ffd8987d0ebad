import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WIFI_SECTION } from '../../src/analyzers/wlan/wlan-config.js';
import { ConfigError } from '../../src/config/config.js';
import { ccmpDecrypt, ccmpKeyId, groupKeyFrom, parseEapolKey, pmkFromPassphrase, prfSha1, type EapolKey } from '../../src/decode/wpa.js';

// The WPA2 building blocks against IEEE 802.11's own test vectors, and
// against hostile bytes. Decryption of real captures, frame for frame against
// tshark, is in test/conformance/debian-captures.test.ts.

test('PMK from passphrase and SSID: the IEEE 802.11 test vector (Annex J.4)', () => {
  assert.equal(pmkFromPassphrase('password', 'IEEE').toString('hex'), 'f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e');
});

test('PRF-512 with HMAC-SHA1: the IEEE 802.11 test vector (Annex J.3)', () => {
  const out = prfSha1(Buffer.alloc(20, 0x0b), 'prefix', Buffer.from('Hi There'), 64);
  assert.equal(out.toString('hex'), 'bcd4c650b30b9684951829e0d75f9d54b862175ed9f00606e17d8da35402ffee75df78c3d31e0f889f012120c0862beb67753e7439ae242edb8373698356cf5a');
});

test('CCMP: the IEEE 802.11 test vector (Annex M.6.4) decrypts, its MIC verified, to its plaintext', () => {
  // A retried frame with a non-zero sequence number (both masked out of the AAD) and a packet number with six distinct bytes.
  const tk = Buffer.from('c97c1f67ce371185514a8a19f2bdd52f', 'hex');
  const mpdu = Buffer.from(
    '0848c32c0fd2e128a57c5030f1844408abaea5b8fcba8033' + '0ce70020769703b5' + 'f3d0a2fe9a3dbf2342a643e43246e80c3c04d019' + '7845ce0b16f97623',
    'hex',
  );
  const out = Buffer.alloc(64);
  assert.equal(ccmpKeyId(mpdu, 24, mpdu.length), 0);
  const n = ccmpDecrypt(tk, mpdu, 0, 24, mpdu.length, out);
  assert.equal(out.subarray(0, n).toString('hex'), 'f8ba1a55d02f85ae967bb62fb6cda8eb7e78a050');
  for (const at of [1, 22, 24 + 7, mpdu.length - 1]) {
    const bad = Buffer.from(mpdu);
    bad[at]! ^= 0x01;
    assert.equal(ccmpDecrypt(tk, bad, 0, 24, bad.length, out), -1, `byte ${at} flipped`);
  }
});

function eapolKey(keyInfo: number, keyData: Buffer): Buffer {
  const f = Buffer.alloc(99 + keyData.length);
  f[0] = 2;
  f[1] = 3;
  f.writeUInt16BE(f.length - 4, 2);
  f[4] = 2;
  f.writeUInt16BE(keyInfo, 5);
  f.fill(0x11, 17, 49);
  f.writeUInt16BE(keyData.length, 97);
  keyData.copy(f, 99);
  return f;
}

test('EAPOL-Key frames: fields read, every cut and every lying length refused', () => {
  const frame = eapolKey(0x13ca, Buffer.alloc(24, 0x22));
  const k = parseEapolKey(frame, 0, frame.length);
  assert.ok(k);
  assert.equal(k.version, 2);
  assert.ok(k.pairwise && k.ack && k.mic && k.encryptedData);
  assert.equal(k.nonce.toString('hex'), '11'.repeat(32));
  assert.equal(k.keyData.length, 24);
  for (let cut = 0; cut < frame.length; cut++) assert.equal(parseEapolKey(frame, 0, cut), null, `cut at ${cut}`);
  const lying = Buffer.from(frame);
  lying.writeUInt16BE(0xffff, 97);
  assert.equal(parseEapolKey(lying, 0, lying.length), null);
  const notKey = Buffer.from(frame);
  notKey[1] = 0;
  assert.equal(parseEapolKey(notKey, 0, notKey.length), null);
});

test('key data that does not unwrap, or holds no group key, gives no group key (no exception)', () => {
  const kek = Buffer.alloc(16, 7);
  for (const data of [Buffer.alloc(24, 0x33), Buffer.alloc(23), Buffer.alloc(0), Buffer.alloc(4096, 0xff)]) {
    const k = parseEapolKey(eapolKey(0x13ca, data), 0, 99 + data.length) as EapolKey;
    assert.equal(groupKeyFrom(k, kek), null);
  }
});

test('CCMP: a body that is not CCMP is refused; a wrong key or a flipped bit fails the MIC', () => {
  const hdr = Buffer.concat([Buffer.from([0x08, 0x42]), Buffer.alloc(22)]);
  const ccmp = Buffer.from([1, 0, 0, 0x20, 0, 0, 0, 0]);
  const frame = Buffer.concat([hdr, ccmp, Buffer.alloc(40, 0x44), Buffer.alloc(8, 0x55)]);
  assert.equal(ccmpKeyId(frame, 24, frame.length), 0);
  const wep = Buffer.from(frame);
  wep[24 + 3] = 0x00;
  assert.equal(ccmpKeyId(wep, 24, wep.length), -1);
  assert.equal(ccmpKeyId(frame, 24, 24 + 15), -1);
  const out = Buffer.alloc(2048);
  assert.equal(ccmpDecrypt(Buffer.alloc(16, 1), frame, 0, 24, frame.length, out), -1);
  assert.equal(ccmpDecrypt(Buffer.alloc(16, 1), frame, 0, 24, frame.length, Buffer.alloc(8)), -1);
});

test('wifi config: SSID and passphrase, or a PSK; a bad one is an error that never echoes the secret', () => {
  const ok = WIFI_SECTION.parse({ networks: [{ ssid: 'IEEE', passphrase: 'password' }, { psk: 'ab'.repeat(32) }] }, 'wifi');
  assert.equal(ok.networks.length, 2);
  assert.equal(ok.networks[0]!.label, 'IEEE');
  assert.equal(ok.networks[0]!.pmk.toString('hex'), 'f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e');
  assert.equal(ok.networks[1]!.pmk.toString('hex'), 'ab'.repeat(32));
  const bad = [
    { networks: [{ ssid: 'IEEE', passphrase: 'short7!' }] },
    { networks: [{ ssid: 'IEEE', passphrase: 'caf\u00e9-in-Latin-1' }] },
    { networks: [{ passphrase: 'long enough secret' }] },
    { networks: [{ ssid: 'x'.repeat(33), passphrase: 'long enough secret' }] },
    { networks: [{ psk: 'zz'.repeat(32) }] },
    { networks: [{ ssid: 'IEEE', passphrase: 'long enough secret', key: 1 }] },
    { networks: 'IEEE' },
  ];
  for (const doc of bad) {
    assert.throws(
      () => WIFI_SECTION.parse(doc as Record<string, unknown>, 'wifi'),
      (e: unknown) => e instanceof ConfigError && !e.message.includes('secret') && !e.message.includes('short7') && !e.message.includes('zzzz'),
    );
  }
});
