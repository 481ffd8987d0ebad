import { join } from 'node:path';
import { PcapWriter } from '../capture/pcap-writer.js';
import { LINKTYPE_ETHERNET } from '../capture/linktypes.js';
import { arpReply, arpRequest, tcpFrame, ipv4UdpFrame, TCP_ACK, TCP_PSH, type Host } from './frames.js';

// The demo capture `npm start` scans: a small LAN (198.18.0.0/24) where a
// station poisons the victim's and the gateway's ARP caches the way
// `arpspoof -r` does, while the real gateway keeps answering.

const GATEWAY: Host = { mac: '02:53:57:00:00:01', ip: '198.18.0.1' };
const VICTIM: Host = { mac: '02:53:57:00:00:0a', ip: '198.18.0.10' };
const PRINTER: Host = { mac: '02:53:57:00:00:14', ip: '198.18.0.20' };
const ATTACKER: Host = { mac: '02:53:57:00:00:42', ip: '198.18.0.66' };
const SERVER = '198.19.0.2';

export function writeDemoCapture(dir: string): string {
  const path = join(dir, 'demo-arp-poisoning.pcap');
  const w = new PcapWriter(path, LINKTYPE_ETHERNET);
  const start = Date.UTC(2026, 10, 1, 9, 0, 0) * 1000;
  let t = start;
  const at = (frame: Buffer, stepMs: number): void => {
    t += stepMs * 1000;
    w.write(frame, t);
  };
  for (const h of [VICTIM, PRINTER, ATTACKER]) {
    at(arpRequest(h, GATEWAY.ip), 120);
    at(arpReply(GATEWAY, h), 1);
  }
  const talk = (via: string, rounds: number): void => {
    for (let i = 0; i < rounds; i++) {
      at(ipv4UdpFrame(VICTIM.mac, via, VICTIM.ip, SERVER, 40000 + i, 53, Buffer.from('demo-query')), 150);
      at(tcpFrame(VICTIM.mac, via, VICTIM.ip, SERVER, 50000, 443, 1000 + i, 1, TCP_PSH | TCP_ACK, Buffer.alloc(200)), 5);
      at(tcpFrame(GATEWAY.mac, VICTIM.mac, SERVER, VICTIM.ip, 443, 50000, 1, 1000 + i, TCP_ACK, Buffer.alloc(0)), 5);
    }
  };
  talk(GATEWAY.mac, 10);
  for (let i = 0; i < 8; i++) {
    at(arpReply(ATTACKER, VICTIM, GATEWAY.ip), 2000);
    at(arpReply(ATTACKER, GATEWAY, VICTIM.ip), 1);
    if (i % 3 === 2) at(arpRequest(GATEWAY, VICTIM.ip), 300);
    talk(ATTACKER.mac, 2);
  }
  w.close();
  return path;
}
