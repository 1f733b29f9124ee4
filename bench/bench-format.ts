/** How the developer benchmarks print their figures: one format for every table. */

/** `value / base` as `1.23×`, or '' without a base. */
export function ratio(value: number, base: number | undefined): string {
  return base !== undefined && base > 0 ? `${(value / base).toFixed(2)}×` : '';
}

/** A rate or count, short: 1.23M, 45.6k, 789, 1.5. */
export function format(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(value >= 100 ? 0 : 1);
}
