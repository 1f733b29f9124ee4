/**
 * The one rule for durations in the load tester: a number with a unit (`500ms`, `10s`, `2m`,
 * `1h`), or a bare number in the option's default unit.
 */
import { InvalidArgumentError } from '../shared/engine/errors.ts';

const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in `value`; throws InvalidArgumentError when it is not a duration above 0. */
export function parseTimeSpan(value: string, defaultUnit: 'ms' | 's'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (match === null) throw new InvalidArgumentError(`Expected a time such as 500ms, 10s or 2m (a bare number is in ${defaultUnit}).`);
  const ms = Number(match[1]) * TIME_UNITS[match[2] ?? defaultUnit]!;
  if (!(ms > 0)) throw new InvalidArgumentError('Expected a time above 0.');
  return Math.round(ms);
}

/** Whether `value` names its unit (a bare number does not). */
export function hasTimeUnit(value: string): boolean {
  return /[a-z]\s*$/i.test(value);
}
