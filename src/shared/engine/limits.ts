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
  /** Most frames one message may be split into (as ws, after CVE-2026-48779); more closes with 1009. */
  maxFragmentsPerMessage: 16_384,
  /** Automatic pongs queued and not yet drained to the socket; further pings go unanswered until it drains. */
  maxQueuedPongs: 32,
  /** Largest opening-handshake header block, request or response (431 on the server). */
  maxHandshakeHeaderSize: 16 * 1024,
} as const;

/** Qt's upper bound for frame and message sizes (`QWebSocket::maxIncomingFrameSize()`). */
export const MaxFrameSize = 2_147_483_646;

/** The rule for every size limit and its setter: an integer from 1 to `max`, or InvalidArgumentError. */
export function checkLimit(name: string, value: number, max: number = MaxFrameSize): number {
  if (!Number.isInteger(value) || value <= 0 || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}; got ${String(value)}`);
  }
  return value;
}
