import type { CloseCode } from './close-code.ts';
import type { WebSocketError } from './errors.ts';
import type { Extension } from './extension.ts';
import type { MaskGenerator } from './mask-generator.ts';
import type { Role } from './state.ts';

export interface EngineOptions {
  role: Role;
  maxAllowedIncomingFrameSize?: number;
  maxAllowedIncomingMessageSize?: number;
  outgoingFrameSize?: number;
  maxQueuedPongBytes?: number;
  /** Client role: where masking keys come from (default: cryptographically random, batched). */
  maskGenerator?: MaskGenerator;
  /** Extensions negotiated in the opening handshake, in the order they were negotiated. */
  extensions?: readonly Extension[];
  /** A monotonic clock in milliseconds, for `pong`'s elapsed time (default `performance.now`). */
  now?: () => number;
  /** See `LivenessTimeouts`; 0 (the default) disables each. */
  idleTimeout?: number;
  pongTimeout?: number;
  frameTimeout?: number;
}

/**
 * What the engine reports. The engine calls these synchronously from `receive()` (and from
 * `connectionLost()`); the I/O layer turns them into signals. Frame callbacks are optional
 * because decoding each frame on its own costs time nobody may want, and are called while the
 * engine's frame signals are on (`setFrameSignals`; on from the start when the handler has them).
 */
export interface EngineHandler {
  textMessage(text: string): void;
  binaryMessage(data: Uint8Array): void;
  textFrame?(text: string, isLastFrame: boolean): void;
  binaryFrame?(data: Uint8Array, isLastFrame: boolean): void;
  /** A Ping arrived; the engine has already queued the automatic Pong (unless the pong cap is reached). */
  pingReceived?(payload: Uint8Array): void;
  /** A Pong arrived; `elapsedMs` is measured from our own last `ping()` (from engine creation if none). */
  pong(elapsedMs: number, payload: Uint8Array): void;
  /** A protocol violation: the engine has queued a Close with `error.closeCode` and stops reading. */
  error(error: WebSocketError): void;
  /**
   * The WebSocket connection is over: both Close frames were exchanged (`clean`), or the engine
   * failed the connection, or the transport was lost (1006). The I/O layer flushes what is queued
   * and ends the transport. Called exactly once.
   */
  closed(code: CloseCode | number, reason: string, clean: boolean): void;
}

/** The engine's view of the closing handshake (RFC 6455 section 7). */
export const EngineState = {
  Open: 'Open',
  /** We sent a Close and wait for the peer's. */
  CloseSent: 'CloseSent',
  Closed: 'Closed',
} as const;
export type EngineState = (typeof EngineState)[keyof typeof EngineState];
