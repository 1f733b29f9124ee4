import { InvalidArgumentError } from './errors.ts';

/**
 * Default limits. Qt's defaults (2 GiB frames and messages) let one peer make a server allocate
 * gigabytes; these are sized for a server exposed to the internet and each has a setter.
 */
export const Defaults = {
  /** Largest frame payload accepted; a larger declared length closes with 1009 before any payload is read. */
  maxAllowedIncomingFrameSize: 64 * 1024 * 1024,
  /** Largest reassembled message accepted; checked from each frame header, before buffering (1009). */
  maxAllowedIncomingMessageSize: 64 * 1024 * 1024,
  /** Outgoing messages are split into frames of at most this many payload bytes (Qt: 512 KiB). */
  outgoingFrameSize: 512 * 1024,
  /**
   * Wire bytes of automatic Pongs not yet handed to the kernel. Beyond it the older queued Pongs
   * are dropped and the newest kept: RFC 6455 5.5.3 allows answering only the most recent Ping.
   */
  maxQueuedPongBytes: 16 * 1024,
  /** Largest opening-handshake header block, request or response (431 on the server). */
  maxHandshakeHeaderSize: 16 * 1024,
} as const;

/**
 * What each frame of a fragmented message after its first counts against
 * `maxAllowedIncomingMessageSize`, on top of its payload: the work a frame costs is bounded with
 * the message rather than by a fixed count of frames (ws: 16,384), so a 4 MiB message in 64-byte
 * frames passes (65,536 frames, 12 MiB counted) while a flood of empty frames closes with 1009
 * after at most `maxAllowedIncomingMessageSize / 128` of them (524,288 at the default).
 */
export const FragmentChargeBytes = 128;

/** Qt's upper bound for frame and message sizes (`QWebSocket::maxIncomingFrameSize()`). */
export const MaxFrameSize = 2_147_483_646;

/** The rule for every size limit and its setter: an integer from 1 to `max`, or InvalidArgumentError. */
export function checkLimit(name: string, value: number, max: number = MaxFrameSize): number {
  if (!Number.isInteger(value) || value <= 0 || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}; got ${String(value)}`);
  }
  return value;
}
