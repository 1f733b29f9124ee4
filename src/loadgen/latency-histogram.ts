/**
 * Latency recording for the load tester: HdrHistogram in microseconds, with a fixed range so that
 * memory stays bounded (about 100 KB per histogram) however long the run, and an exact merge of
 * histograms recorded on different generator threads.
 */
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

/** 1 µs resolution up to one hour; 3 significant digits keep every value within 0.1%. */
export const LOWEST_MICROS = 1;
export const HIGHEST_MICROS = 3_600_000_000;
export const SIGNIFICANT_DIGITS = 3;

export type { Histogram };

export function createLatencyHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: LOWEST_MICROS,
    highestTrackableValue: HIGHEST_MICROS,
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
    bitBucketSize: 32,
    // A fixed range is what bounds memory; values beyond it are clamped by recordMicros.
    autoResize: false,
  });
}

/** Records one latency; sub-microsecond values count as 1 µs and values past an hour as an hour. */
export function recordMicros(histogram: Histogram, micros: number): void {
  const value = micros < LOWEST_MICROS ? LOWEST_MICROS : micros > HIGHEST_MICROS ? HIGHEST_MICROS : Math.round(micros);
  histogram.recordValue(value);
}

/**
 * A histogram as it crosses threads: HdrHistogram's compressed V2 encoding, plus the exact
 * extremes, because decoding reports a bucket's highest equivalent value as the max.
 */
export interface EncodedHistogram {
  encoded: string;
  count: number;
  /** Largest recorded value in µs, exact (0 when empty). */
  max: number;
  /** Smallest recorded value in µs, exact (0 when empty). */
  min: number;
}

export function encodeHistogram(histogram: Histogram): EncodedHistogram {
  const count = histogram.totalCount;
  return {
    encoded: encodeIntoCompressedBase64(histogram),
    count,
    max: count === 0 ? 0 : histogram.maxValue,
    min: count === 0 ? 0 : histogram.minNonZeroValue,
  };
}

/**
 * Sums histograms bucket by bucket. The result's counts are exactly the counts of recording
 * every value into one histogram; `max`/`min` stay exact because they travel beside the buckets.
 */
export class MergedHistogram {
  readonly histogram: Histogram = createLatencyHistogram();
  max = 0;
  min = 0;

  add(part: EncodedHistogram): void {
    if (part.count === 0) return;
    const decoded = decodeFromCompressedBase64(part.encoded);
    this.histogram.add(decoded);
    decoded.destroy();
    this.max = Math.max(this.max, part.max);
    this.min = this.min === 0 ? part.min : Math.min(this.min, part.min);
  }

  /** This histogram encoded as it crosses threads and files, extremes exact. */
  encode(): EncodedHistogram {
    return { ...encodeHistogram(this.histogram), max: this.max, min: this.min };
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /** Value at a percentile in µs; the 100th percentile is the exact max. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    if (p >= 100) return this.max;
    return Math.min(this.histogram.getValueAtPercentile(p), this.max);
  }

  summary(): LatencySummary {
    const h = this.histogram;
    const count = h.totalCount;
    return {
      count,
      min: this.min,
      mean: count === 0 ? 0 : h.mean,
      stdDev: count === 0 ? 0 : h.stdDeviation,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.max,
    };
  }

  /** Points of the latency distribution for charts: (percentile, µs), denser towards the tail. */
  distribution(): Array<{ percentile: number; micros: number }> {
    const points: Array<{ percentile: number; micros: number }> = [];
    if (this.count === 0) return points;
    // Each step halves the remaining distance to 100%, as HdrHistogram's percentile plots do.
    for (let i = 0; i <= 40; i++) {
      const remaining = 100 / Math.pow(2, i / 4);
      const p = 100 - remaining;
      points.push({ percentile: p, micros: this.percentile(p) });
      if (remaining * this.count < 100) break;
    }
    points.push({ percentile: 100, micros: this.max });
    return points;
  }
}

/** Latency figures in microseconds. */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  stdDev: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}
