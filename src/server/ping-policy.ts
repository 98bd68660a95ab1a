// Policing the PINGs a client sends [PING-7]: a client may ping no more
// often than the minimum interval the server declared; three PINGs in a row
// each less than half that interval after the one before are too many. The
// rule is here; the two numbers it keeps live in the connection, which has
// one such pair for its whole life.

/** The PINGs of a connection so far: when the last came, and how many came in a row too soon. */
export interface PingRecord {
  lastPingAt: number;
  pingStrikes: number;
}

/** Records a PING received at `t`; true at the third in a row less than half of `minIntervalMs` after the one before [PING-6] [PING-7]. */
export function pingTooSoon(record: PingRecord, t: number, minIntervalMs: number): boolean {
  const gap = t - record.lastPingAt;
  record.lastPingAt = t;
  record.pingStrikes = gap < minIntervalMs / 2 ? record.pingStrikes + 1 : 0;
  return record.pingStrikes >= 3;
}
