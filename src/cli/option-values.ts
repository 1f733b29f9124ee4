/**
 * Parsers for the values of command-line options. Each throws commander's InvalidArgumentError,
 * which commander reports as "option '-c, --connections <n>' argument 'x' is invalid. <why>" and
 * exits with code 1.
 */
import { InvalidArgumentError } from 'commander';
import { parseTimeSpan } from '../loadgen/time-span.ts';

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgumentError('Expected a whole number above 0.');
  }
  return n;
}

export function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('Expected a whole number, 0 or more.');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('Expected a number above 0.');
  return n;
}

/** A time span: `500ms`, `10s`, `2m`, `1h`; a bare number is in `defaultUnit`. Returns ms. */
export function timeSpan(defaultUnit: 'ms' | 's'): (value: string) => number {
  return (value: string) => {
    try {
      return parseTimeSpan(value, defaultUnit);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 * 1024, mb: 1024 * 1024, mib: 1024 * 1024 };

/** A byte size: `64`, `4k`/`4KiB` (×1024), `1m`/`1MiB`. */
export function byteSize(value: string): number {
  const match = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = match === null ? undefined : SIZE_UNITS[match[2]!.toLowerCase()];
  if (match === null || unit === undefined) throw new InvalidArgumentError('Expected a size in bytes such as 64, 4k or 1m.');
  const n = Number(match[1]) * unit;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('Size too large.');
  return n;
}

/** For repeatable options: commander calls it with each value and the previous array. */
/** `--deflate[=mode]`: the flag alone is the default mode; the value names a mode (`dedicated:12` gives its window bits too). */
export function deflateMode(value: string): { mode: 'shared' | 'dedicated'; windowBits?: number } {
  const match = /^(shared|dedicated)(?::(9|1[0-5]))?$/.exec(value.trim());
  if (match === null || (match[1] === 'shared' && match[2] !== undefined)) {
    throw new InvalidArgumentError('Expected shared, dedicated or dedicated:BITS with BITS from 9 to 15.');
  }
  return match[2] === undefined ? { mode: match[1] as 'shared' | 'dedicated' } : { mode: 'dedicated', windowBits: Number(match[2]) };
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function portNumber(value: string): number {
  const port = nonNegativeInteger(value);
  if (port > 65535) throw new InvalidArgumentError('Expected a port from 0 to 65535.');
  return port;
}

export function positiveByteSize(value: string): number {
  const size = byteSize(value);
  if (size <= 0) throw new InvalidArgumentError('Expected a size above 0.');
  return size;
}
