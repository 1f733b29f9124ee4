/**
 * Pass/fail thresholds for a bench run. Each breach has its own exit code so that a script can
 * tell them apart; when several breach, the process exits with the lowest of their codes and the
 * report lists them all.
 */
import type { ThresholdResult } from './bench-report.ts';

export const ThresholdExitCode = {
  /** --max-p99 <ms>: round-trip p99 above the limit. */
  MaxP99: 3,
  /** --max-errors <n>: more errors (of every kind) than the limit. */
  MaxErrors: 4,
  /** --min-rate <msgs/s>: fewer replies per second than the limit. */
  MinRate: 5,
} as const;

/** Not a threshold: the run measured nothing (no connection opened, or not one reply matched). */
export const NOTHING_MEASURED_EXIT_CODE = 2;

export interface Thresholds {
  maxP99Ms: number | undefined;
  maxErrors: number | undefined;
  minRate: number | undefined;
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

export function describeBreach(result: ThresholdResult): string {
  switch (result.name) {
    case 'max-p99':
      return `threshold breached: --max-p99 ${result.limit} ms, p99 was ${result.actual} ms (exit ${result.exitCode})`;
    case 'max-errors':
      return `threshold breached: --max-errors ${result.limit}, there were ${result.actual} errors (exit ${result.exitCode})`;
    case 'min-rate':
      return `threshold breached: --min-rate ${result.limit} msgs/s, the rate was ${result.actual.toFixed(1)} msgs/s (exit ${result.exitCode})`;
  }
}
