// Builds well-formed frames for the demo capture, the benchmark generator and
// tests. Addresses are given as text ("02:00:00:00:00:01", "198.18.0.1").

export function macBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6) throw new RangeError(`not a MAC address: ${mac}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function ipv4Bytes(ip: string): Buffer {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${ip}`);
  return Buffer.from(parts.map((p) => Number(p)));
}

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
export const ZERO_MAC = '00:00:00:00:00:00';

export function ethernet(dst: string, src: string, etherType: number, payload: Buffer, vlans: number[] = []): Buffer {
  const tags = Buffer.alloc(vlans.length * 4);
  vlans.forEach((vid, i) => {
    tags.writeUInt16BE(i === 0 && vlans.length > 1 ? 0x88a8 : 0x8100, i * 4);
    tags.writeUInt16BE(vid & 0x0fff, i * 4 + 2);
  });
  const head = Buffer.alloc(14);
  macBytes(dst).copy(head, 0);
  macBytes(src).copy(head, 6);
  // With tags, the first tag's TPID takes the ethertype slot and the real type follows the tags.
  if (vlans.length > 0) {
    head.writeUInt16BE(tags.readUInt16BE(0), 12);
    const rest = Buffer.concat([tags.subarray(2), Buffer.from([etherType >> 8, etherType & 0xff])]);
    return Buffer.concat([head, rest, payload]);
  }
  head.writeUInt16BE(etherType, 12);
  return Buffer.concat([head, payload]);
}

export interface ArpFields {
  op: 1 | 2;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export function arpPayload(a: ArpFields): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0);
  b.writeUInt16BE(0x0800, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(a.op, 6);
  macBytes(a.senderMac).copy(b, 8);
  ipv4Bytes(a.senderIp).copy(b, 14);
  macBytes(a.targetMac).copy(b, 18);
  ipv4Bytes(a.targetIp).copy(b, 24);
  return b;
}

/** An ARP frame; the Ethernet source defaults to the ARP sender and the destination to broadcast for requests. */
export function arpFrame(a: ArpFields, ethSrc = a.senderMac, ethDst = a.op === 1 ? BROADCAST_MAC : a.targetMac): Buffer {
  return ethernet(ethDst, ethSrc, 0x0806, arpPayload(a));
}

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ipv4Packet(src: string, dst: string, protocol: number, payload: Buffer, ttl = 64): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = ttl;
  h[9] = protocol;
  ipv4Bytes(src).copy(h, 12);
  ipv4Bytes(dst).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, payload]);
}

export function udpDatagram(srcPort: number, dstPort: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(srcPort, 0);
  h.writeUInt16BE(dstPort, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

export function tcpSegment(srcPort: number, dstPort: number, seq: number, ack: number, flags: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(srcPort, 0);
  h.writeUInt16BE(dstPort, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h.writeUInt32BE(ack >>> 0, 8);
  h[12] = 5 << 4;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, payload]);
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export function ipv4UdpFrame(ethSrc: string, ethDst: string, src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  return ethernet(ethDst, ethSrc, 0x0800, ipv4Packet(src, dst, 17, udpDatagram(sport, dport, payload)));
}

export function ipv4TcpFrame(
  ethSrc: string,
  ethDst: string,
  src: string,
  dst: string,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  payload: Buffer,
): Buffer {
  return ethernet(ethDst, ethSrc, 0x0800, ipv4Packet(src, dst, 6, tcpSegment(sport, dport, seq, ack, flags, payload)));
}

export interface Host {
  mac: string;
  ip: string;
}

export function arpRequest(from: Host, forIp: string): Buffer {
  return arpFrame({ op: 1, senderMac: from.mac, senderIp: from.ip, targetMac: ZERO_MAC, targetIp: forIp });
}

/** A reply from `from` to `to`; a poisoner claims `claimedIp` (and may forge the ARP sender MAC). */
export function arpReply(from: Host, to: Host, claimedIp = from.ip, senderMac = from.mac): Buffer {
  return arpFrame({ op: 2, senderMac, senderIp: claimedIp, targetMac: to.mac, targetIp: to.ip }, from.mac);
}
