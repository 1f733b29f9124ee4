/**
 * The bench report: the schema of `wsthreads bench --json` (one object, `schema:
 * "wsthreads-bench/1"`), and the aggregation of generator threads' bins and results into it.
 *
 * Units: latencies in milliseconds (from µs histograms, so three decimals are meaningful), rates
 * per second, byte counts are bytes on the wire (frame headers and masks included), times since
 * the run start in whole seconds.
 */
import type { EncodedHistogram, LatencySummary } from './latency-histogram.ts';
import type { BenchErrorKind } from './generator-protocol.ts';

export const BENCH_REPORT_SCHEMA = 'wsthreads-bench/1';

/** A latency distribution in milliseconds: the histogram's summary, converted from µs. */
export type LatencyMs = LatencySummary;

export interface BenchReport {
  schema: typeof BENCH_REPORT_SCHEMA;
  target: { url: string; embeddedServer: boolean };
  options: {
    mode: 'echo' | 'storm' | 'hold';
    stages: Array<{ durationMs: number; target: number }> | null;
    oneMessage: boolean;
    pingIntervalMs: number | null;
    connections: number;
    connectRate: number | null;
    durationMs: number | null;
    messages: number | null;
    size: number;
    binary: boolean;
    payload: 'generated' | 'template';
    model: 'closed' | 'open';
    pipeline: number;
    rate: number | null;
    correction: boolean;
    workers: number;
    timeoutMs: number;
  };
  /** ISO 8601 time of the run start. */
  startedAt: string;
  /** From the first message sent to the last reply received; the rates divide by it. */
  durationMs: number;
  messages: { sent: number; received: number; unanswered: number; sentPerSecond: number; receivedPerSecond: number };
  bytes: { sent: number; received: number; sentPerSecond: number; receivedPerSecond: number };
  latencyMs: {
    roundTrip: LatencyMs;
    /** TCP connect to handshake accepted. */
    handshake: LatencyMs;
    /** Open model with correction: round trips measured from the intended send time. */
    correctedForCoordinatedOmission: boolean;
  };
  /**
   * The latency histograms themselves (µs), in HdrHistogram's compressed base64 encoding with
   * their exact extremes: what `wsthreads bench merge` adds up to get the percentiles of the union.
   */
  histograms: { roundTrip: EncodedHistogram; handshake: EncodedHistogram };
  connections: {
    attempted: number;
    opened: number;
    failed: number;
    /** Connections opened per second of the run (a storm's handshake rate). */
    openedPerSecond: number;
    /** Most connections open at once (in a second: the sum of each thread's peak). */
    peakOpen: number;
    /** When the first connection failed to open, in ms since the run start (a hold: when the server started refusing). */
    firstFailureAtMs: number | null;
  };
  /** Close codes seen on the generator's connections ("1000" → count), ours included. */
  closeCodes: Record<string, number>;
  errors: { total: number; byKind: Record<BenchErrorKind, number>; samples: string[] };
  /** One entry per second of the run. */
  timeline: TimelineEntry[];
  generators: GeneratorUsage[];
  latencyDistribution: Array<{ percentile: number; ms: number }>;
  warnings: string[];
  thresholds: ThresholdResult[];
  /** The process exit code this report leads to (0: every threshold held). */
  exitCode: number;
}

export interface TimelineEntry {
  second: number;
  /**
   * How much of the second the run covered, in ms: 1000 but for the last, which ends with the
   * run's last reply (a run that ends mid-second, and the drain after the deadline).
   */
  spanMs: number;
  sent: number;
  received: number;
  bytesSent: number;
  bytesReceived: number;
  /** Connections open at the end of the second. */
  connections: number;
  /** Connections opened and failed to open during the second. */
  opened: number;
  failed: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface GeneratorUsage {
  thread: number;
  /** Average share of one core over the thread's run, in percent. */
  cpuPercent: number;
  /** CPU time the thread used over the run (ms): messages per generator CPU-second divide by it. */
  cpuMs: number;
  /** Highest share of one core over any whole second, in percent. */
  peakCpuPercent: number;
  saturated: boolean;
}

export interface ThresholdResult {
  /** 'max-p99', 'max-errors', 'min-rate' for those flags; the expression (p99<5ms) for --threshold. */
  name: string;
  limit: number;
  actual: number;
  passed: boolean;
  /** The exit code a breach of this threshold gives. */
  exitCode: number;
}

export function latencyMs(summary: LatencySummary): LatencyMs {
  const ms = (micros: number): number => Math.round(micros) / 1000;
  return {
    count: summary.count,
    min: ms(summary.min),
    mean: ms(summary.mean),
    stdDev: ms(summary.stdDev),
    p50: ms(summary.p50),
    p90: ms(summary.p90),
    p99: ms(summary.p99),
    p999: ms(summary.p999),
    max: ms(summary.max),
  };
}
