import test from 'ava';
import fc from 'fast-check';
import { defaultBenchOptions } from '../../src/loadgen/bench-options.ts';
import type { BenchReport } from '../../src/loadgen/bench-report.ts';
import { buildReport } from '../../src/loadgen/build-report.ts';
import { emptyErrorCounts } from '../../src/loadgen/generator-protocol.ts';
import { createLatencyHistogram, encodeHistogram, recordMicros } from '../../src/loadgen/latency-histogram.ts';
import { asMergeableReport, mergeReports } from '../../src/loadgen/merge-reports.ts';
import { RunAggregator } from '../../src/loadgen/run-aggregator.ts';
import { parseThreshold } from '../../src/loadgen/thresholds.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';

/** A one-thread, one-second run that recorded these round trips (µs), through JSON as a file would. */
function runOf(samples: number[], handshakes: number[]): BenchReport {
  const run = new RunAggregator(1);
  const rtt = createLatencyHistogram();
  for (const micros of samples) recordMicros(rtt, micros);
  const handshake = createLatencyHistogram();
  for (const micros of handshakes) recordMicros(handshake, micros);
  run.addBin({
    thread: 0, second: 0, sent: samples.length, received: samples.length, bytesSent: samples.length * 70, bytesReceived: samples.length * 66,
    connectionsOpened: handshakes.length, connectionsFailed: 0, peakConnections: handshakes.length, openConnections: handshakes.length, errors: 0,
    roundTrip: encodeHistogram(rtt), handshake: encodeHistogram(handshake), cpuMicros: 100_000, wallMs: 1000,
  });
  run.addResult({
    thread: 0, binsPosted: 1, lastBin: undefined, connectionsAttempted: handshakes.length, errorsByKind: emptyErrorCounts(), errorSamples: [],
    closeCodes: { '1000': handshakes.length }, firstSendEpochMs: 1000, lastReplyEpochMs: 2000, firstFailureEpochMs: 0, cpuMicros: 100_000, wallMs: 1000,
  });
  const report = buildReport(run, {
    options: { ...defaultBenchOptions(), durationMs: 1000 },
    url: 'ws://127.0.0.1:9/',
    embeddedServer: false,
    startedAtEpochMs: 1000,
    wallMs: 1000,
    thresholds: { maxP99Ms: undefined, maxErrors: undefined, minRate: undefined },
  });
  return asMergeableReport(JSON.parse(JSON.stringify(report)), 'test');
}

const noThresholds = { maxP99Ms: undefined, maxErrors: undefined, minRate: undefined };
const latencies = fc.array(fc.integer({ min: 1, max: 5_000_000 }), { minLength: 1, maxLength: 300 });

test('merging two runs gives the latencies of one run over the union of their samples, exactly', (t) => {
  fc.assert(
    fc.property(latencies, latencies, fc.array(fc.integer({ min: 100, max: 90_000 }), { minLength: 1, maxLength: 5 }), (a, b, handshakes) => {
      const merged = mergeReports([runOf(a, handshakes), runOf(b, handshakes)], noThresholds);
      const one = runOf([...a, ...b], [...handshakes, ...handshakes]);
      t.deepEqual(merged.latencyMs, one.latencyMs);
      t.deepEqual(merged.latencyDistribution, one.latencyDistribution);
      t.is(merged.histograms.roundTrip.count, a.length + b.length);
      t.is(merged.messages.received, a.length + b.length);
      t.is(merged.connections.opened, 2 * handshakes.length);
      t.deepEqual(merged.closeCodes, { '1000': 2 * handshakes.length });
    }),
    { numRuns: 40 },
  );
});

test('thresholds apply to the merge: each held or breached, exit 6 for a breached --threshold', (t) => {
  const merged = mergeReports([runOf([1000, 2000], [500]), runOf([9000], [500])], {
    ...noThresholds,
    maxErrors: 0,
    expressions: [parseThreshold('p99<5ms'), parseThreshold('max<=9.1ms'), parseThreshold('opened>=2')],
  });
  t.deepEqual(merged.thresholds.map((r) => [r.name, r.passed]), [['max-errors', true], ['p99<5ms', false], ['max<=9.1ms', true], ['opened>=2', true]]);
  t.is(merged.exitCode, 6);
  t.throws(() => parseThreshold('p99 5ms'), { instanceOf: InvalidArgumentError });
  t.throws(() => parseThreshold('errors<3ms'), { instanceOf: InvalidArgumentError });
  t.is(parseThreshold('p99<500us').limit, 0.5);
  t.throws(() => asMergeableReport({ schema: 'something-else' }, 'x.json'), { instanceOf: InvalidArgumentError, message: /x\.json/ });
});
