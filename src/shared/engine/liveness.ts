import { InvalidArgumentError } from './errors.ts';

/**
 * When a connection is considered dead, as numbers the engine checks against a clock it is given
 * (the engine has no timers: the I/O layer calls `ProtocolEngine.checkLiveness(now)` from one
 * coarse tick per thread, see src/shared/connection/liveness-ticker.ts). 0 disables each.
 */
export interface LivenessTimeouts {
  /** Milliseconds without a byte from the peer after which a Ping is sent. */
  idleTimeout: number;
  /** Milliseconds after that automatic Ping within which the peer must send something (a Pong or anything else). */
  pongTimeout: number;
  /** Milliseconds a frame, or a fragmented message, may stop arriving before the connection closes with 1001 (Qt). */
  frameTimeout: number;
}

export type LivenessTimeoutName = keyof LivenessTimeouts;

/** What a liveness check found. */
export const LivenessVerdict = {
  Alive: 0,
  /** The peer has been silent for the idle timeout: a Ping was queued. */
  Pinged: 1,
  /** No answer to the automatic Ping: the connection failed (1001, `SocketError.IdleTimeout`). */
  IdleTimedOut: 2,
  /** A frame or fragmented message stopped arriving: the connection failed (1001, `SocketError.FrameTimeout`). */
  FrameTimedOut: 3,
} as const;
export type LivenessVerdict = (typeof LivenessVerdict)[keyof typeof LivenessVerdict];

/** The rule for every liveness timeout and its setter: a finite number of milliseconds >= 0. */
export function checkTimeoutMs(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`${name} must be a finite number of milliseconds >= 0 (0 disables it); got ${String(value)}`);
  }
  return value;
}

/**
 * What a liveness check finds, from how long the peer has been silent. Nothing is timed on the
 * hot path: `receive()` only notes that bytes arrived, and each check turns "heard since the last
 * check" into the check's own time (the engine keeps that clock), so a deadline is accurate to
 * the checking interval, which the tick keeps at a quarter of the shortest timeout.
 * @param silentFor ms since bytes last arrived (as of the check that saw them)
 * @param sincePing ms since the automatic Ping went out; -1 while none awaits an answer
 * @param midFrame a frame or a fragmented message is incomplete
 */
export function livenessVerdict(timeouts: Readonly<LivenessTimeouts>, silentFor: number, sincePing: number, midFrame: boolean): LivenessVerdict {
  if (midFrame && timeouts.frameTimeout > 0 && silentFor >= timeouts.frameTimeout) return LivenessVerdict.FrameTimedOut;
  if (timeouts.idleTimeout <= 0) return LivenessVerdict.Alive;
  if (sincePing < 0) return silentFor < timeouts.idleTimeout ? LivenessVerdict.Alive : LivenessVerdict.Pinged;
  if (timeouts.pongTimeout > 0 && sincePing >= timeouts.pongTimeout) return LivenessVerdict.IdleTimedOut;
  return LivenessVerdict.Alive;
}

/** How often a check is worth making for these timeouts (0: never). */
export function livenessCheckIntervalMs(timeouts: Readonly<LivenessTimeouts>): number {
  let shortest = Infinity;
  for (const value of [timeouts.idleTimeout, timeouts.pongTimeout, timeouts.frameTimeout]) if (value > 0 && value < shortest) shortest = value;
  return shortest === Infinity ? 0 : shortest / 4;
}
