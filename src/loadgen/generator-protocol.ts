/**
 * What crosses between the bench runner (main thread) and its generator threads. Plain data only:
 * these objects go through postMessage (structured clone).
 */
import type { EncodedHistogram } from './latency-histogram.ts';
import type { PayloadSpec } from './payload.ts';
import type { Stage } from './stage-schedule.ts';

/**
 * What the run does with its connections. Echo: messages, checked replies. Storm: open,
 * handshake, optionally one message, close, again. Hold: open and keep them, idle or pinging.
 */
export const BenchMode = { Echo: 'echo', Storm: 'storm', Hold: 'hold' } as const;
export type BenchMode = (typeof BenchMode)[keyof typeof BenchMode];

/** Errors by kind, as the report counts them. */
export const BenchErrorKind = {
  /** A reply that is not the message sent (bytes differ, wrong type, wrong sequence). */
  Mismatch: 'mismatch',
  /** No reply within --timeout. */
  Timeout: 'timeout',
  /** The server closed the connection (or the TCP connection dropped) before the run ended. */
  UnexpectedClose: 'unexpectedClose',
  /** TCP connect failed, or the opening handshake was refused or malformed. */
  ConnectFailed: 'connectFailed',
  /** The server broke the WebSocket protocol (our engine failed the connection). */
  ProtocolError: 'protocolError',
} as const;
export type BenchErrorKind = (typeof BenchErrorKind)[keyof typeof BenchErrorKind];

/** Error messages kept for the report: per thread, and for the whole run. */
export const MAX_ERROR_SAMPLES = 10;

export function emptyErrorCounts(): Record<BenchErrorKind, number> {
  return { mismatch: 0, timeout: 0, unexpectedClose: 0, connectFailed: 0, protocolError: 0 };
}

/** One generator thread's part of the run. */
export interface GeneratorShard {
  thread: number;
  /** Threads in the run: connection ids are thread + threads × index, unique across threads. */
  threads: number;
  url: string;
  mode: BenchMode;
  /** Connections this thread opens (echo, hold), or keeps in flight at once (storm), without stages. */
  connections: number;
  /** Storm and hold: the run-wide target ramps by these (each thread takes its share). */
  stages: Stage[] | undefined;
  /** Storm: each client sends one message and awaits its echo before closing. */
  oneMessage: boolean;
  /** Hold: each connection pings this often; undefined for none. */
  pingIntervalMs: number | undefined;
  /** New connections per second on this thread; all at once when undefined. */
  connectRate: number | undefined;
  durationMs: number | undefined;
  /** Messages this thread sends in all (its share of -n). */
  messages: number | undefined;
  payload: PayloadSpec;
  /** Closed model: messages in flight per connection. Ignored when `rate` is set. */
  pipeline: number;
  /** Open model: messages per second on this thread (its share of -R). */
  rate: number | undefined;
  /** Open model: measure latency from the intended send time (the coordinated-omission correction). */
  correction: boolean;
  timeoutMs: number;
  subprotocols: string[];
  origin: string | undefined;
}

/** One second of one thread's run. `second` counts from the shared run start. */
export interface GeneratorBin {
  thread: number;
  second: number;
  sent: number;
  received: number;
  bytesSent: number;
  bytesReceived: number;
  connectionsOpened: number;
  connectionsFailed: number;
  /** Most connections open at once during this second. */
  peakConnections: number;
  /** Connections open at the end of this second. */
  openConnections: number;
  errors: number;
  roundTrip: EncodedHistogram;
  handshake: EncodedHistogram;
  /** CPU time this thread used during the bin, and the bin's wall time. */
  cpuMicros: number;
  wallMs: number;
}

export interface GeneratorResult {
  thread: number;
  /** Bins posted on the port before this result; the runner waits for all of them. */
  binsPosted: number;
  /** The last (partial) bin, if anything happened in it. */
  lastBin: GeneratorBin | undefined;
  connectionsAttempted: number;
  errorsByKind: Record<BenchErrorKind, number>;
  /** A few error messages, for the report. */
  errorSamples: string[];
  /** Close codes seen, as "code" → count. */
  closeCodes: Record<string, number>;
  /** Epoch ms of the first message sent and the last reply received (0 when none). */
  firstSendEpochMs: number;
  /** Epoch ms of the first connection that failed to open (0 when none). */
  firstFailureEpochMs: number;
  lastReplyEpochMs: number;
  cpuMicros: number;
  wallMs: number;
}

/**
 * Runner → generator, on the shard's port. 'start' comes once every thread is ready, so that no
 * thread's module loading eats into the run; it carries the shared start time.
 */
export type GeneratorCommand = { type: 'start'; runStartEpochMs: number } | { type: 'stop' };
/** Generator → runner, on the shard's port. */
export type GeneratorEvent = { type: 'ready'; thread: number } | { type: 'bin'; bin: GeneratorBin };
