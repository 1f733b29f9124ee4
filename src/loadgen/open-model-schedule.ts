/**
 * The open model (-R/--rate): messages are due at fixed times whatever the server does, the way
 * independent users arrive. Message k of a generator thread is due at
 *
 *     start + k / rate
 *
 * and its latency is measured from that intended time, not from when the generator got round to
 * sending it. This is the correction for coordinated omission (Gil Tene's term; wrk2 does the
 * same): a closed-loop tester that waits for a slow reply before sending the next message stops
 * sending exactly when the server is slow, and so never records the delay the missing messages
 * would have seen. Measuring from the intended time charges every stall (server, network, or the
 * generator itself) to each message it delayed. `--no-correction` measures from the actual send
 * time instead, which shows how much the correction adds.
 */

/**
 * When a message's latency is measured from (same clock as the arguments). Corrected: from its
 * intended time when it went out late, charging the wait to the server; from the moment it was
 * sent when the generator sent it early (its lookahead absorbs timer granularity), so that a
 * latency is never measured from before its message existed. Uncorrected: from the send.
 */
export function latencyOrigin(intended: number, sentAt: number, correction: boolean): number {
  return correction && intended < sentAt ? intended : sentAt;
}

/** How many messages are due by `nowMs`, past the `sent` already sent (never negative). */
export function dueCount(startMs: number, ratePerSecond: number, sent: number, nowMs: number): number {
  if (nowMs < startMs) return 0;
  const due = Math.floor(((nowMs - startMs) * ratePerSecond) / 1000) + 1;
  return due > sent ? due - sent : 0;
}

/** The intended send time in ms of message `k` (0-based). */
export function intendedTime(startMs: number, ratePerSecond: number, k: number): number {
  return startMs + (k * 1000) / ratePerSecond;
}

/** How many of the messages due before `endMs` there are in all: the quota of a run of that length. */
export function messagesBefore(startMs: number, ratePerSecond: number, endMs: number): number {
  if (endMs <= startMs) return 0;
  return Math.ceil(((endMs - startMs) * ratePerSecond) / 1000);
}

/**
 * Shares a total (messages, connections, a rate) among `parts` as evenly as integers allow; the
 * first `total % parts` parts get one more.
 */
export function shareOf(total: number, parts: number, index: number): number {
  const base = Math.floor(total / parts);
  return base + (index < total % parts ? 1 : 0);
}
