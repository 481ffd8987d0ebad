// Address formatting and classification. Addresses travel as numbers inside
// the engine (no allocation per packet) and become text only for findings.

const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

export function macToString(mac: number): string {
  const hi = Math.floor(mac / 4294967296);
  const lo = mac >>> 0;
  const h = HEX_BYTE;
  return `${h[(hi >>> 8) & 255]}:${h[hi & 255]}:${h[lo >>> 24]}:${h[(lo >>> 16) & 255]}:${h[(lo >>> 8) & 255]}:${h[lo & 255]}`;
}

export function parseMac(text: string): number | undefined {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text.trim());
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 6; i++) v = v * 256 + parseInt(m[i]!, 16);
  return v;
}

export function ip4ToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

export function parseIp4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v;
}

export function ip6ToString(buf: Buffer, off: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(buf.readUInt16BE(off + i * 2));
  // RFC 5952: compress the longest run of two or more zero words.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

const MULTICAST_BIT = 2 ** 40;

/** Group (multicast or broadcast) MAC: the I/G bit of the first octet. */
export function isGroupMac(mac: number): boolean {
  return Math.floor(mac / MULTICAST_BIT) % 2 === 1;
}

/**
 * First-hop redundancy virtual MACs, which legitimately move between routers:
 * VRRP/CARP IPv4 00:00:5e:00:01:xx, VRRP IPv6 00:00:5e:00:02:xx,
 * HSRPv1 00:00:0c:07:ac:xx, HSRPv2 00:00:0c:9f:fx:xx, GLBP 00:07:b4:xx:xx:xx.
 */
export function isVirtualRouterMac(mac: number): boolean {
  const top40 = Math.floor(mac / 256);
  if (top40 === 0x00005e0001 || top40 === 0x00005e0002) return true;
  if (top40 === 0x00000c07ac) return true;
  if (Math.floor(mac / 4096) === 0x00000c9ff) return true;
  return Math.floor(mac / 2 ** 24) === 0x0007b4;
}

/** Multicast, limited broadcast and (by the usual /24 convention) directed broadcast are not one host. */
export function isUnicastIp4(ip: number): boolean {
  return ip !== 0 && ip >>> 28 !== 0xe && ip >>> 28 !== 0xf && (ip & 0xff) !== 0xff;
}

/** IPv4 sources that no host may legitimately announce as its own address. */
export function isBogonSenderIp4(ip: number): boolean {
  const first = ip >>> 24;
  return first === 0 || first === 127 || first >= 224;
}
