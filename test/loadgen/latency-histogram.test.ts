import test from 'ava';
import {
  HIGHEST_MICROS,
  MergedHistogram,
  createLatencyHistogram,
  encodeHistogram,
  recordMicros,
} from '../../src/loadgen/latency-histogram.ts';

test('percentiles of 1..10000 µs are within 0.1% of the exact ranks, max and min exact', (t) => {
  const h = createLatencyHistogram();
  for (let v = 1; v <= 10_000; v++) recordMicros(h, v);
  const merged = new MergedHistogram();
  merged.add(encodeHistogram(h));
  const s = merged.summary();
  t.is(s.count, 10_000);
  t.is(s.min, 1);
  t.is(s.max, 10_000);
  for (const [p, exact] of [[50, 5000], [90, 9000], [99, 9900], [99.9, 9990]] as const) {
    const value = merged.percentile(p);
    t.true(Math.abs(value - exact) <= exact * 0.001 + 1, `p${p} = ${value}, expected about ${exact}`);
  }
  t.true(Math.abs(s.mean - 5000.5) < 5);
});

test('merging per-thread histograms gives exactly the counts of one histogram of every value', (t) => {
  const all = createLatencyHistogram();
  const parts = [createLatencyHistogram(), createLatencyHistogram(), createLatencyHistogram()];
  // A skewed distribution: many fast replies and a slow tail, spread unevenly over the threads.
  let x = 12345;
  for (let i = 0; i < 30_000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const micros = i % 100 === 0 ? 50_000 + (x % 200_000) : 80 + (x % 900);
    recordMicros(all, micros);
    recordMicros(parts[x % 3]!, micros);
  }
  const merged = new MergedHistogram();
  for (const part of parts) merged.add(encodeHistogram(part));
  t.is(merged.count, all.totalCount);
  for (const p of [1, 10, 50, 75, 90, 99, 99.5, 99.9, 99.99]) {
    t.is(merged.histogram.getValueAtPercentile(p), all.getValueAtPercentile(p), `p${p}`);
  }
  t.is(merged.max, all.maxValue);
  t.is(merged.min, all.minNonZeroValue);
});

test('an empty part changes nothing and an empty merge reports zeros', (t) => {
  const merged = new MergedHistogram();
  merged.add(encodeHistogram(createLatencyHistogram()));
  t.deepEqual(merged.summary(), { count: 0, min: 0, mean: 0, stdDev: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  t.deepEqual(merged.distribution(), []);
});

test('out-of-range values are clamped, and memory does not grow with the number of values', (t) => {
  const h = createLatencyHistogram();
  const before = h.estimatedFootprintInBytes;
  recordMicros(h, 0.2);
  recordMicros(h, HIGHEST_MICROS * 10);
  for (let i = 0; i < 200_000; i++) recordMicros(h, (i * 7919) % 5_000_000);
  t.is(h.estimatedFootprintInBytes, before);
  t.true(before < 256 * 1024, `footprint ${before} bytes`);
  t.is(h.maxValue >= HIGHEST_MICROS, true);
  // 0.2 µs and 0 µs were recorded as 1 µs.
  t.is(h.getValueAtPercentile(0), 1);
});

test('the distribution runs from p0 to the exact max, percentiles rising', (t) => {
  const h = createLatencyHistogram();
  for (let v = 1; v <= 1000; v++) recordMicros(h, v * 10);
  const merged = new MergedHistogram();
  merged.add(encodeHistogram(h));
  const points = merged.distribution();
  t.is(points[0]!.percentile, 0);
  t.deepEqual(points.at(-1), { percentile: 100, micros: 10_000 });
  for (let i = 1; i < points.length; i++) {
    t.true(points[i]!.percentile > points[i - 1]!.percentile);
    t.true(points[i]!.micros >= points[i - 1]!.micros);
  }
});
