import type { BenchMode } from './generator-protocol.ts';
import type { Stage } from './stage-schedule.ts';
import { stagesDurationMs } from './stage-schedule.ts';

/** A bench run, as the command line resolved it. */
export interface BenchOptions {
  mode: BenchMode;
  /** Storm and hold: ramp the target (clients, connections) in stages; the run lasts their sum. */
  stages: Stage[] | undefined;
  /** Storm: one message per connection, echo awaited before the close. */
  oneMessage: boolean;
  /** Hold: ping every connection this often. */
  pingIntervalMs: number | undefined;
  /** When the threads start (epoch ms, --start-at); undefined: as soon as they are ready. */
  startAtEpochMs: number | undefined;
  /** Target URL; undefined starts an embedded wsthreads echo server on a free port. */
  url: string | undefined;
  connections: number;
  /** New connections per second in total (ramp-up); undefined opens them all at once. */
  connectRate: number | undefined;
  /** Run length; when neither this nor `messages` is set the runner uses 10 s. */
  durationMs: number | undefined;
  /** Messages to send in total, over every connection. */
  messages: number | undefined;
  /** Generated payload size in bytes (ignored with a template). */
  size: number;
  binary: boolean;
  /** --message / --message-file bytes. */
  template: Uint8Array | undefined;
  /** Closed model: messages in flight per connection. */
  pipeline: number;
  /** Open model: messages per second in total. */
  rate: number | undefined;
  /** Open model: measure from the intended send time (false with --no-correction). */
  correction: boolean;
  /** Generator threads. */
  workers: number;
  /** A reply (or a handshake) not received within this is a timeout error. */
  timeoutMs: number;
  subprotocols: string[];
  origin: string | undefined;
  /** Worker threads of the embedded server (when `url` is undefined). */
  serverWorkers: number;
}

export const DEFAULT_DURATION_MS = 10_000;

/** How long the run lasts: --duration, else 10 s unless -n bounds it; undefined for a count-bounded run. */
export function runDurationMs(options: Pick<BenchOptions, 'durationMs' | 'messages' | 'stages'>): number | undefined {
  if (options.stages !== undefined) return stagesDurationMs(options.stages);
  return options.durationMs ?? (options.messages === undefined ? DEFAULT_DURATION_MS : undefined);
}

export function defaultBenchOptions(): BenchOptions {
  return {
    mode: 'echo',
    stages: undefined,
    oneMessage: false,
    pingIntervalMs: undefined,
    startAtEpochMs: undefined,
    url: undefined,
    connections: 100,
    connectRate: undefined,
    durationMs: undefined,
    messages: undefined,
    size: 64,
    binary: false,
    template: undefined,
    pipeline: 1,
    rate: undefined,
    correction: true,
    workers: 1,
    timeoutMs: 5000,
    subprotocols: [],
    origin: undefined,
    serverWorkers: 1,
  };
}
