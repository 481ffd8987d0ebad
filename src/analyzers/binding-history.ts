// The MACs an address was bound to before its current one (oldest first) and
// when each last held it: flip-flop detection for ARP and IPv6 Neighbor
// Discovery.

export interface BindingHistory {
  history: number[];
  historyUntil: number[];
}

/**
 * Records that the binding moved from `previous` to `mac` at time t, keeping
 * at most `max` earlier MACs. Returns when `mac` last held the address, or
 * undefined when it is not among the earlier ones.
 */
export function recordBindingChange(h: BindingHistory, previous: number, mac: number, t: number, max: number): number | undefined {
  const earlier = h.history.lastIndexOf(mac);
  const until = earlier >= 0 ? h.historyUntil[earlier] : undefined;
  if (earlier >= 0) {
    h.history.splice(earlier, 1);
    h.historyUntil.splice(earlier, 1);
  }
  h.history.push(previous);
  h.historyUntil.push(t);
  if (h.history.length > max) {
    h.history.shift();
    h.historyUntil.shift();
  }
  return until;
}
