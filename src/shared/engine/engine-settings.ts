import type { EngineOptions } from './engine-types.ts';
import { checkLimit, Defaults } from './limits.ts';
import { checkTimeoutMs, type LivenessTimeouts } from './liveness.ts';

/** An engine's limits and liveness timeouts, as checked values. */
export interface EngineSettings extends LivenessTimeouts {
  maxAllowedIncomingFrameSize: number;
  maxAllowedIncomingMessageSize: number;
  outgoingFrameSize: number;
  maxQueuedPongBytes: number;
}

export type EngineSettingName = keyof EngineSettings;

/**
 * The settings of the engine made last. A server makes every connection with the same values,
 * so its engines hold one frozen object between them instead of seven fields each; a setter gives
 * its engine a copy of its own (`withEngineSetting`).
 */
let lastMade: Readonly<EngineSettings> | undefined;

/** The settings `options` ask for, checked; the last made object when they are the same. */
export function engineSettings(options: EngineOptions): Readonly<EngineSettings> {
  const maxAllowedIncomingFrameSize = options.maxAllowedIncomingFrameSize ?? Defaults.maxAllowedIncomingFrameSize;
  const maxAllowedIncomingMessageSize = options.maxAllowedIncomingMessageSize ?? Defaults.maxAllowedIncomingMessageSize;
  const outgoingFrameSize = options.outgoingFrameSize ?? Defaults.outgoingFrameSize;
  const maxQueuedPongBytes = options.maxQueuedPongBytes ?? Defaults.maxQueuedPongBytes;
  const idleTimeout = options.idleTimeout ?? 0;
  const pongTimeout = options.pongTimeout ?? 0;
  const frameTimeout = options.frameTimeout ?? 0;
  const last = lastMade;
  // Values equal to ones already checked are valid.
  if (last !== undefined && last.maxAllowedIncomingFrameSize === maxAllowedIncomingFrameSize
    && last.maxAllowedIncomingMessageSize === maxAllowedIncomingMessageSize && last.outgoingFrameSize === outgoingFrameSize
    && last.maxQueuedPongBytes === maxQueuedPongBytes && last.idleTimeout === idleTimeout
    && last.pongTimeout === pongTimeout && last.frameTimeout === frameTimeout) return last;
  return (lastMade = Object.freeze({
    maxAllowedIncomingFrameSize: checkLimit('maxAllowedIncomingFrameSize', maxAllowedIncomingFrameSize),
    maxAllowedIncomingMessageSize: checkLimit('maxAllowedIncomingMessageSize', maxAllowedIncomingMessageSize),
    outgoingFrameSize: checkLimit('outgoingFrameSize', outgoingFrameSize),
    maxQueuedPongBytes: checkLimit('maxQueuedPongBytes', maxQueuedPongBytes),
    idleTimeout: checkTimeoutMs('idleTimeout', idleTimeout),
    pongTimeout: checkTimeoutMs('pongTimeout', pongTimeout),
    frameTimeout: checkTimeoutMs('frameTimeout', frameTimeout),
  }));
}

/** `settings` with one value changed, checked by the rule of its kind: a new object, never shared. */
export function withEngineSetting(settings: Readonly<EngineSettings>, name: EngineSettingName, value: number): Readonly<EngineSettings> {
  const checked = name === 'idleTimeout' || name === 'pongTimeout' || name === 'frameTimeout' ? checkTimeoutMs(name, value) : checkLimit(name, value);
  return Object.freeze({ ...settings, [name]: checked });
}
