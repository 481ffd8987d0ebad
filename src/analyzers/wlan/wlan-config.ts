import { checkKeys, ConfigError, list, mac, mapping, type ConfigSection } from '../../config/config.js';
import { pmkFromPassphrase } from '../../decode/wpa.js';

// The `wifi` config section: networks whose captures are decrypted (the
// engine's WpaDecryptor) and the access points each network really has (the
// Wi-Fi analyzer's rogue-AP check).

export interface WifiNetwork {
  /** For messages: the SSID, or "PSK n". Never the secret. */
  label: string;
  pmk: Buffer;
}

export interface WifiConfig {
  networks: WifiNetwork[];
  /** Per SSID (its bytes as a latin1 string), the BSSIDs allowed to advertise it. */
  accessPoints: Map<string, Set<number>>;
}

/** An SSID's bytes as the analyzer keys them (UTF-8 names from the config, any bytes from the air). */
export function ssidKey(ssid: string): string {
  return Buffer.from(ssid, 'utf8').toString('latin1');
}

export const WIFI_SECTION: ConfigSection<WifiConfig> = {
  key: 'wifi',
  parse(doc, where) {
    checkKeys(doc, ['networks', 'access_points'], where);
    const networks = list(doc.networks, `${where}.networks`).map((n, i): WifiNetwork => {
      const at = `${where}.networks[${i}]`;
      const net = mapping(n, at);
      checkKeys(net, ['ssid', 'passphrase', 'psk'], at);
      if (net.psk !== undefined) {
        if (typeof net.psk !== 'string' || !/^[0-9a-fA-F]{64}$/.test(net.psk)) throw new ConfigError(`${at}.psk must be 64 hexadecimal digits`);
        return { label: typeof net.ssid === 'string' ? net.ssid : `PSK ${i + 1}`, pmk: Buffer.from(net.psk, 'hex') };
      }
      const { ssid, passphrase } = net;
      if (typeof ssid !== 'string' || Buffer.byteLength(ssid) < 1 || Buffer.byteLength(ssid) > 32) throw new ConfigError(`${at}.ssid must be a string of 1 to 32 bytes`);
      // 8-63 printable ASCII characters (IEEE 802.11 M.4.1); the value itself is never echoed.
      if (typeof passphrase !== 'string' || !/^[\x20-\x7e]{8,63}$/.test(passphrase)) throw new ConfigError(`${at}.passphrase must be 8 to 63 printable ASCII characters`);
      return { label: ssid, pmk: pmkFromPassphrase(passphrase, ssid) };
    });
    const accessPoints = new Map<string, Set<number>>();
    for (const [ssid, bssids] of Object.entries(mapping(doc.access_points, `${where}.access_points`))) {
      const at = `${where}.access_points.${ssid}`;
      if (Buffer.byteLength(ssid) > 32) throw new ConfigError(`${at}: an SSID is at most 32 bytes`);
      accessPoints.set(ssidKey(ssid), new Set(list(bssids, at).map((b) => mac(b, at))));
    }
    return { networks, accessPoints };
  },
};
