/**
 * Pass/fail thresholds for a bench run. Each breach has its own exit code so that a script can
 * tell them apart; when several breach, the process exits with the lowest of their codes and the
 * report lists them all.
 */
import type { BenchReport, ThresholdResult } from './bench-report.ts';
import { InvalidArgumentError } from '../shared/engine/errors.ts';
import { parseTimeSpan } from './time-span.ts';

export const ThresholdExitCode = {
  /** --max-p99 <ms>: round-trip p99 above the limit. */
  MaxP99: 3,
  /** --max-errors <n>: more errors (of every kind) than the limit. */
  MaxErrors: 4,
  /** --min-rate <msgs/s>: fewer replies per second than the limit. */
  MinRate: 5,
  /** --threshold 'metric<value': any of them. */
  Expression: 6,
} as const;

/** What --threshold may name, and how to read it from a report. Latencies are in ms. */
const METRICS: Record<string, { latency: boolean; read: (report: BenchReport) => number }> = {};
for (const [prefix, pick] of [['', 'roundTrip'], ['handshake_', 'handshake']] as const) {
  for (const stat of ['min', 'mean', 'p50', 'p90', 'p99', 'p999', 'max'] as const) {
    METRICS[prefix + stat] = { latency: true, read: (r) => r.latencyMs[pick][stat] };
  }
}
METRICS['errors'] = { latency: false, read: (r) => r.errors.total };
for (const kind of ['mismatch', 'timeout', 'unexpectedClose', 'connectFailed', 'protocolError'] as const) {
  METRICS[kind] = { latency: false, read: (r) => r.errors.byKind[kind] };
}
METRICS['rate'] = { latency: false, read: (r) => r.messages.receivedPerSecond };
METRICS['sent'] = { latency: false, read: (r) => r.messages.sent };
METRICS['received'] = { latency: false, read: (r) => r.messages.received };
METRICS['unanswered'] = { latency: false, read: (r) => r.messages.unanswered };
METRICS['opened'] = { latency: false, read: (r) => r.connections.opened };
METRICS['failed'] = { latency: false, read: (r) => r.connections.failed };
METRICS['handshakes_per_second'] = { latency: false, read: (r) => r.connections.openedPerSecond };
METRICS['peak_open'] = { latency: false, read: (r) => r.connections.peakOpen };

export const THRESHOLD_METRICS = Object.keys(METRICS);

const COMPARE = {
  '<': (a: number, b: number) => a < b,
  '<=': (a: number, b: number) => a <= b,
  '>': (a: number, b: number) => a > b,
  '>=': (a: number, b: number) => a >= b,
} as const;

/** One --threshold: `p99<5ms`, `errors<=0`, `rate>=10000`. */
export interface ThresholdExpression {
  text: string;
  metric: string;
  operator: keyof typeof COMPARE;
  /** In ms for latencies. */
  limit: number;
}

export function parseThreshold(text: string): ThresholdExpression {
  const match = /^\s*([a-zA-Z_0-9]+)\s*(<=|>=|<|>)\s*([0-9.]+\s*[a-zµ]*)\s*$/.exec(text);
  const metric = match === null ? undefined : METRICS[match[1]!];
  if (match === null || metric === undefined) {
    throw new InvalidArgumentError(`a threshold is metric<value, such as p99<5ms or errors<=0; metrics: ${THRESHOLD_METRICS.join(', ')}`);
  }
  const value = match[3]!.replace(/\s/g, '');
  let limit: number;
  if (metric.latency) limit = /(us|µs)$/.test(value) ? parseTimeSpan(value.replace(/(us|µs)$/, ''), 'ms') / 1000 : parseTimeSpan(value, 'ms');
  else if (/^\d+(\.\d+)?$/.test(value)) limit = Number(value);
  else throw new InvalidArgumentError(`${match[1]} is a count or a rate: write it without a unit, as in ${match[1]}${match[2]}${value.replace(/[a-zµ]+$/, '')}`);
  return { text: `${match[1]}${match[2]}${value}`, metric: match[1]!, operator: match[2] as keyof typeof COMPARE, limit };
}

/** Not a threshold: the run measured nothing (no connection opened, or not one reply matched). */
export const NOTHING_MEASURED_EXIT_CODE = 2;

export interface Thresholds {
  maxP99Ms: number | undefined;
  maxErrors: number | undefined;
  minRate: number | undefined;
  expressions?: ThresholdExpression[];
}

/** Whether the report measured nothing (then it exits NOTHING_MEASURED_EXIT_CODE), and why. */
export function nothingMeasured(report: BenchReport): string | undefined {
  if (report.connections.opened === 0) return 'no connection opened';
  if (report.messages.sent > 0 && report.latencyMs.roundTrip.count === 0) return `none of the ${report.messages.received} replies matched a message sent`;
  return undefined;
}

/** Checks every threshold against the report and sets its `thresholds`, `warnings` and `exitCode`. */
export function judgeReport(report: BenchReport, thresholds: Thresholds): void {
  report.thresholds = checkThresholds(thresholds, {
    p99Ms: report.latencyMs.roundTrip.p99,
    errors: report.errors.total,
    receivedPerSecond: report.messages.receivedPerSecond,
  });
  for (const expression of thresholds.expressions ?? []) {
    const actual = METRICS[expression.metric]!.read(report);
    report.thresholds.push({
      name: expression.text,
      limit: expression.limit,
      actual,
      passed: COMPARE[expression.operator](actual, expression.limit),
      exitCode: ThresholdExitCode.Expression,
    });
  }
  const nothing = nothingMeasured(report);
  if (nothing !== undefined) report.warnings.push(`nothing was measured: ${nothing}`);
  report.exitCode = nothing !== undefined ? NOTHING_MEASURED_EXIT_CODE : thresholdExitCode(report.thresholds);
}

export interface ThresholdInputs {
  p99Ms: number;
  errors: number;
  receivedPerSecond: number;
}

export function checkThresholds(thresholds: Thresholds, actual: ThresholdInputs): ThresholdResult[] {
  const results: ThresholdResult[] = [];
  if (thresholds.maxP99Ms !== undefined) {
    results.push({
      name: 'max-p99',
      limit: thresholds.maxP99Ms,
      actual: actual.p99Ms,
      passed: actual.p99Ms <= thresholds.maxP99Ms,
      exitCode: ThresholdExitCode.MaxP99,
    });
  }
  if (thresholds.maxErrors !== undefined) {
    results.push({
      name: 'max-errors',
      limit: thresholds.maxErrors,
      actual: actual.errors,
      passed: actual.errors <= thresholds.maxErrors,
      exitCode: ThresholdExitCode.MaxErrors,
    });
  }
  if (thresholds.minRate !== undefined) {
    results.push({
      name: 'min-rate',
      limit: thresholds.minRate,
      actual: actual.receivedPerSecond,
      passed: actual.receivedPerSecond >= thresholds.minRate,
      exitCode: ThresholdExitCode.MinRate,
    });
  }
  return results;
}

/** 0 when every threshold held, else the lowest exit code among the breaches. */
export function thresholdExitCode(results: ThresholdResult[]): number {
  let code = 0;
  for (const result of results) {
    if (!result.passed && (code === 0 || result.exitCode < code)) code = result.exitCode;
  }
  return code;
}

/** One line for the report: what the threshold asks and what the run did. */
export function describeThreshold(result: ThresholdResult): string {
  const flag = result.name.startsWith('max-') || result.name.startsWith('min-') ? `--${result.name} ${result.limit}` : result.name;
  const actual = Number.isInteger(result.actual) ? String(result.actual) : result.actual.toFixed(3);
  return `${flag}: ${actual}${result.passed ? '' : ` (exit ${result.exitCode})`}`;
}

export function describeBreach(result: ThresholdResult): string {
  switch (result.name) {
    case 'max-p99':
      return `threshold breached: --max-p99 ${result.limit} ms, p99 was ${result.actual} ms (exit ${result.exitCode})`;
    case 'max-errors':
      return `threshold breached: --max-errors ${result.limit}, there were ${result.actual} errors (exit ${result.exitCode})`;
    case 'min-rate':
      return `threshold breached: --min-rate ${result.limit} msgs/s, the rate was ${result.actual.toFixed(1)} msgs/s (exit ${result.exitCode})`;
    default:
      return `threshold breached: ${result.name}, the value was ${result.actual} (exit ${result.exitCode})`;
  }
}
