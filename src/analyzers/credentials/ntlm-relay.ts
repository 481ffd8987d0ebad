import type { Outcome } from './session.js';

// NTLM relaying (T1557.001: ntlmrelayx, MultiRelay, Inveigh): a host in the
// middle passes a victim's NTLM exchange on to another server, so the same
// AUTHENTICATE (the same challenge-response, answering the target's
// challenge) crosses two connections: victim to relay, relay to target. An
// AUTHENTICATE is never sent twice by a real client (each answers a fresh
// challenge), so one seen on two different client/server pairs is a relay,
// or a replay. The relaying host is the one that is the server of one leg and
// the client of the other.

/** AUTHENTICATEs remembered, and for how long a second leg is looked for. */
const MAX_SEEN = 4096;
const WINDOW_MS = 120_000;

export interface NtlmLeg {
  client: string;
  serverIp: string;
  /** "ip:port" of the server. */
  server: string;
  protocol: string;
  user: string;
  timeMs: number;
  /** What the leg's server answered. */
  outcome: Outcome;
}

export interface NtlmRelay {
  /** The leg from the victim, and the one to the target (by time: the victim's comes first). */
  from: NtlmLeg;
  to: NtlmLeg;
  /** The host in the middle (server of the first leg, client of the second), or null when no address links the legs. */
  relay: string | null;
}

export class NtlmRelayWatch {
  private readonly seen = new Map<string, NtlmLeg>();

  get size(): number {
    return this.seen.size;
  }

  /**
   * An AUTHENTICATE with its key (the response proof and user): the relay it
   * completes, or null. Each key is reported once.
   */
  observe(key: string, leg: NtlmLeg): NtlmRelay | null {
    this.expire(leg.timeMs);
    const earlier = this.seen.get(key);
    if (earlier === undefined) {
      if (this.seen.size >= MAX_SEEN) this.seen.delete(this.seen.keys().next().value!);
      this.seen.set(key, leg);
      return null;
    }
    // The same server on both: one login seen twice (a NAT captured on both sides, duplicated frames), not a relay.
    if (earlier.server === leg.server) return null;
    this.seen.delete(key);
    const [from, to] = earlier.timeMs <= leg.timeMs ? [earlier, leg] : [leg, earlier];
    const relay = from.serverIp === to.client ? to.client : to.serverIp === from.client ? from.client : null;
    // When the legs run the other way round in time (a report order), the one ending at the relay comes first.
    if (relay !== null && relay === from.client) return { from: to, to: from, relay };
    return { from, to, relay };
  }

  /** End of input: nothing more can complete a relay. */
  clear(): void {
    this.seen.clear();
  }

  private expire(now: number): void {
    for (const [key, leg] of this.seen) {
      if (now - leg.timeMs < WINDOW_MS) return;
      this.seen.delete(key);
    }
  }
}
