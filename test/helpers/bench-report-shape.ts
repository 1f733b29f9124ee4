/**
 * Checks a parsed `bench --json` object against the BenchReport schema (src/loadgen/bench-report.ts)
 * at run time: every field present with its type, nothing extra. Returns the problems found.
 */
import type { BenchReport } from '../../src/loadgen/bench-report.ts';

type Shape = 'number' | 'string' | 'boolean' | 'number|null' | 'stages' | { [key: string]: Shape } | [Shape] | { record: Shape };

const latency: Shape = { count: 'number', min: 'number', mean: 'number', stdDev: 'number', p50: 'number', p90: 'number', p99: 'number', p999: 'number', max: 'number' };

const histogram: Shape = { encoded: 'string', count: 'number', max: 'number', min: 'number' };

export const BENCH_REPORT_SHAPE = {
  schema: 'string',
  target: { url: 'string', embeddedServer: 'boolean' },
  options: {
    mode: 'string', stages: 'stages', oneMessage: 'boolean', pingIntervalMs: 'number|null',
    connections: 'number', connectRate: 'number|null', durationMs: 'number|null', messages: 'number|null', size: 'number',
    binary: 'boolean', payload: 'string', model: 'string', pipeline: 'number', rate: 'number|null', correction: 'boolean',
    workers: 'number', timeoutMs: 'number',
  },
  startedAt: 'string',
  durationMs: 'number',
  messages: { sent: 'number', received: 'number', unanswered: 'number', sentPerSecond: 'number', receivedPerSecond: 'number' },
  bytes: { sent: 'number', received: 'number', sentPerSecond: 'number', receivedPerSecond: 'number' },
  latencyMs: { roundTrip: latency, handshake: latency, correctedForCoordinatedOmission: 'boolean' },
  histograms: { roundTrip: histogram, handshake: histogram },
  connections: { attempted: 'number', opened: 'number', failed: 'number', openedPerSecond: 'number', peakOpen: 'number', firstFailureAtMs: 'number|null' },
  closeCodes: { record: 'number' },
  errors: {
    total: 'number',
    byKind: { mismatch: 'number', timeout: 'number', unexpectedClose: 'number', connectFailed: 'number', protocolError: 'number' },
    samples: ['string'],
  },
  timeline: [{
    second: 'number', spanMs: 'number', sent: 'number', received: 'number', bytesSent: 'number', bytesReceived: 'number',
    connections: 'number', opened: 'number', failed: 'number', errors: 'number', p50Ms: 'number', p99Ms: 'number', maxMs: 'number',
  }],
  generators: [{ thread: 'number', cpuPercent: 'number', cpuMs: 'number', peakCpuPercent: 'number', saturated: 'boolean' }],
  latencyDistribution: [{ percentile: 'number', ms: 'number' }],
  warnings: ['string'],
  thresholds: [{ name: 'string', limit: 'number', actual: 'number', passed: 'boolean', exitCode: 'number' }],
  exitCode: 'number',
} satisfies Record<keyof BenchReport, Shape>;

export function shapeProblems(value: unknown, shape: Shape = BENCH_REPORT_SHAPE, path = '$'): string[] {
  if (shape === 'stages') {
    if (value === null) return [];
    return Array.isArray(value) ? value.flatMap((item, i) => shapeProblems(item, { durationMs: 'number', target: 'number' }, `${path}[${i}]`)) : [`${path}: expected stages or null`];
  }
  if (shape === 'number|null') return value === null || typeof value === 'number' ? [] : [`${path}: expected number or null`];
  if (typeof shape === 'string') {
    if (typeof value !== shape) return [`${path}: expected ${shape}, got ${JSON.stringify(value)}`];
    return shape === 'number' && !Number.isFinite(value) ? [`${path}: not a finite number`] : [];
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return [`${path}: expected an array`];
    return value.flatMap((item, i) => shapeProblems(item, shape[0], `${path}[${i}]`));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: expected an object`];
  const record = value as Record<string, unknown>;
  if ('record' in shape && Object.keys(shape).length === 1) {
    return Object.entries(record).flatMap(([key, item]) => shapeProblems(item, (shape as { record: Shape }).record, `${path}.${key}`));
  }
  const problems: string[] = [];
  for (const [key, sub] of Object.entries(shape)) {
    if (!(key in record)) problems.push(`${path}.${key}: missing`);
    else problems.push(...shapeProblems(record[key], sub as Shape, `${path}.${key}`));
  }
  for (const key of Object.keys(record)) if (!(key in shape)) problems.push(`${path}.${key}: not in the schema`);
  return problems;
}
