import { ip4ToString, macToString } from '../decode/addr.js';
import type { Entity } from './finding.js';

// Entity builders the analyzers share (reporting time only: they allocate).

export function macEntity(mac: number, role: string): Entity {
  return { type: 'mac', value: macToString(mac), role };
}

/** The MAC as an entity, none when it is unknown (-1: links without MACs). */
export function macEntities(mac: number, role: string): Entity[] {
  return mac === -1 ? [] : [macEntity(mac, role)];
}

export function ip4Entity(ip: number, role: string): Entity {
  return { type: 'ip', value: ip4ToString(ip), role };
}

/** An address already in text (IPv6, or from a message), as an entity. */
export function ipTextEntity(text: string, role: string): Entity {
  return { type: 'ip', value: text, role };
}
