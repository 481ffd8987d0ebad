import { ip4ToString, ip6ToString, isUnicastIp4, macToString } from '../../decode/addr.js';
import { NAME_PROTO_LABELS, TYPE_A, TYPE_AAAA, TYPE_NB, NameProto, type DnsMessage } from '../../decode/dns.js';
import { isMulticast6, parseIp6 } from '../../decode/ip6-addr.js';
import type { Packet } from '../../decode/packet.js';
import type { Entity } from '../../findings/finding.js';
import { ipTextEntity, macEntities } from '../../findings/entities.js';

export { ipTextEntity, macEntities };
import type { ContestHow6, NetworkModel } from '../network-model.js';
import type { AddrBook } from './addr-book.js';

// Entity and text helpers shared by the name-resolution checks (reporting
// time only: these allocate). Addresses are AddrBook ids.

/** Names are at most 253 characters on the wire; cap anyway, they are attacker-controlled. */
const MAX_NAME_CHARS = 256;

export function ipEntity(book: AddrBook, id: number, role: string): Entity {
  return { type: 'ip', value: book.text(id), role };
}

export function nameEntity(name: string, role: string): Entity {
  return { type: 'host', value: name.slice(0, MAX_NAME_CHARS), role };
}

/** The name in `slot` for a finding, "<empty>" for the root, NetBIOS suffixes shown as <xx>. */
export function nameText(msg: DnsMessage, slot: number): string {
  const text = msg.names.len[slot] === 0 ? '<root>' : msg.names.text(slot).slice(0, MAX_NAME_CHARS);
  const suffix = msg.names.suffix[slot]!;
  return suffix >= 0 ? `${text}<${suffix.toString(16).padStart(2, '0')}>` : text;
}

/** "198.18.0.1 (02:..)" or the address alone when the link has no MACs. */
export function station(book: AddrBook, id: number, mac: number): string {
  return mac === -1 ? book.text(id) : `${book.text(id)} (${macToString(mac)})`;
}

/** The addresses in the message's A, AAAA (or NB) answers as text, at most `max`. */
export function answerAddresses(pkt: Packet, msg: DnsMessage, max = 8): string[] {
  const out: string[] = [];
  const nb = msg.proto === NameProto.Nbns;
  for (let i = 0; i < msg.answerCount && out.length < max; i++) {
    const type = msg.ansType[i];
    let text: string;
    if (type === (nb ? TYPE_NB : TYPE_A)) text = ip4ToString(msg.ansAddr4[i]!);
    else if (type === TYPE_AAAA && !nb) text = ip6ToString(pkt.buf, msg.ansDataOff[i]!);
    else continue;
    if (!out.includes(text)) out.push(text);
  }
  return out;
}

export function protoLabel(proto: NameProto): string {
  return NAME_PROTO_LABELS[proto] ?? 'DNS';
}

/** Whether the packet goes to one host (not a multicast group or a broadcast address). */
export function toUnicast(pkt: Packet): boolean {
  return pkt.ipVersion === 6 ? !isMulticast6(pkt.buf, pkt.ip6DstOff) : isUnicastIp4(pkt.ip4Dst);
}

/** An answer counts as pointing at a contest winner this long after the contest. */
export const CONTEST_WINDOW_MS = 10 * 60_000;
/** Clock slack: a contest recorded this much after the answer still counts. */
const CONTEST_SLACK_MS = 1_000;

/** Whether a contest won at `won` (undefined: never) counts for an answer at `now`. */
export function isRecentContest(won: number | undefined, now: number): won is number {
  return won !== undefined && now >= won - CONTEST_SLACK_MS && now - won <= CONTEST_WINDOW_MS;
}

/** Whether the station at IPv4 `ip` won an ARP/DHCP address contest (see NetworkModel) shortly before `now`. */
export function wonContestRecently(network: NetworkModel, ip: number, now: number): boolean {
  return isRecentContest(network.contestWonAt(ip), now);
}

/** How the station at an IPv6 address (as text: answers kept for a race) recently won a contest, if it did; IPv4 text never did. */
export function recentContest6(network: NetworkModel, text: string, now: number): ContestHow6 | undefined {
  const bytes = text.includes(':') ? parseIp6(text) : undefined;
  return bytes !== undefined && isRecentContest(network.contestWonAt6(bytes, 0), now) ? network.contestHow6(bytes, 0) : undefined;
}
