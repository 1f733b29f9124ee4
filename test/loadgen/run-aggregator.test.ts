import test from 'ava';
import { defaultBenchOptions } from '../../src/loadgen/bench-options.ts';
import { BENCH_REPORT_SCHEMA } from '../../src/loadgen/bench-report.ts';
import { buildReport } from '../../src/loadgen/build-report.ts';
import { emptyErrorCounts } from '../../src/loadgen/generator-protocol.ts';
import type { GeneratorBin, GeneratorResult } from '../../src/loadgen/generator-protocol.ts';
import { createLatencyHistogram, encodeHistogram, recordMicros } from '../../src/loadgen/latency-histogram.ts';
import { RunAggregator } from '../../src/loadgen/run-aggregator.ts';
import { ThresholdExitCode, checkThresholds, thresholdExitCode } from '../../src/loadgen/thresholds.ts';

function bin(thread: number, second: number, received: number, latencyMicros: number, cpuMicros = 300_000): GeneratorBin {
  const rtt = createLatencyHistogram();
  for (let i = 0; i < received; i++) recordMicros(rtt, latencyMicros);
  const handshake = createLatencyHistogram();
  if (second === 0) recordMicros(handshake, 2000);
  return {
    thread,
    second,
    sent: received,
    received,
    bytesSent: received * 70,
    bytesReceived: received * 66,
    connectionsOpened: second === 0 ? 5 : 0,
    connectionsFailed: 0,
    peakConnections: 5,
    openConnections: 5,
    errors: 0,
    roundTrip: encodeHistogram(rtt),
    handshake: encodeHistogram(handshake),
    cpuMicros,
    wallMs: 1000,
  };
}

function result(thread: number, binsPosted: number, overrides: Partial<GeneratorResult> = {}): GeneratorResult {
  return {
    thread,
    binsPosted,
    lastBin: undefined,
    connectionsAttempted: 5,
    firstFailureEpochMs: 0,
    errorsByKind: emptyErrorCounts(),
    errorSamples: [],
    closeCodes: { '1000': 5 },
    firstSendEpochMs: 1_000_000,
    lastReplyEpochMs: 1_002_000,
    cpuMicros: 600_000,
    wallMs: 2000,
    ...overrides,
  };
}

test('a second is settled only once every thread has reported it, with merged counts and percentiles', (t) => {
  const run = new RunAggregator(2);
  const seconds: number[] = [];
  run.onSecond = (entry) => seconds.push(entry.second);
  run.addBin(bin(0, 0, 1000, 100));
  run.addBin(bin(0, 1, 1000, 100));
  t.deepEqual(seconds, []);
  run.addBin(bin(1, 0, 3000, 400));
  t.deepEqual(seconds, [0]);
  const first = run.timeline[0]!;
  t.is(first.received, 4000);
  t.is(first.connections, 10);
  // 1000 replies at 100 µs and 3000 at 400 µs: the median is 0.4 ms, p99 too.
  t.is(first.p50Ms, 0.4);
  t.true(Math.abs(first.p99Ms - 0.4) < 0.001);
  run.addResult(result(0, 2));
  run.addResult(result(1, 1, { lastBin: bin(1, 1, 10, 5000) }));
  t.deepEqual(seconds, [0, 1]);
  t.is(run.timeline[1]!.received, 1010);
  t.is(run.received, 5010);
  t.is(run.opened, 10);
  t.deepEqual(run.closeCodes, { '1000': 10 });
});

test('the report divides by the span from first send to last reply and applies thresholds', (t) => {
  const run = new RunAggregator(1);
  run.addBin(bin(0, 0, 6000, 250));
  run.addBin(bin(0, 1, 4000, 250));
  run.addResult(result(0, 2, {
    errorsByKind: { ...emptyErrorCounts(), timeout: 2, mismatch: 1 },
    errorSamples: ['timeout: x'],
  }));
  const options = { ...defaultBenchOptions(), durationMs: 2000, connections: 5 };
  const report = buildReport(run, {
    options,
    url: 'ws://127.0.0.1:1/',
    embeddedServer: false,
    startedAtEpochMs: 1_000_000,
    wallMs: 2100,
    thresholds: { maxP99Ms: 0.2, maxErrors: 2, minRate: 4000 },
  });
  t.is(report.schema, BENCH_REPORT_SCHEMA);
  t.is(report.durationMs, 2000);
  t.is(report.messages.sent, 10_000);
  t.is(report.messages.receivedPerSecond, 5000);
  t.is(report.bytes.receivedPerSecond, 330_000);
  t.is(report.latencyMs.roundTrip.p50, 0.25);
  t.is(report.latencyMs.roundTrip.count, 10_000);
  t.is(report.latencyMs.handshake.count, 1);
  t.is(report.errors.total, 3);
  t.deepEqual(report.thresholds.map((r) => [r.name, r.passed]), [['max-p99', false], ['max-errors', false], ['min-rate', true]]);
  t.is(report.exitCode, ThresholdExitCode.MaxP99);
  t.is(report.options.model, 'closed');
  t.is(report.latencyMs.correctedForCoordinatedOmission, false);
  t.is(report.generators[0]!.cpuPercent, 30);
  t.false(report.generators[0]!.saturated);
  t.deepEqual(report.timeline.map((e) => e.received), [6000, 4000]);
});

test('each threshold breach has its own exit code, and the lowest wins when several breach', (t) => {
  const none = { maxP99Ms: undefined, maxErrors: undefined, minRate: undefined };
  const ok = { p99Ms: 1, errors: 0, receivedPerSecond: 1000 };
  t.is(thresholdExitCode(checkThresholds(none, ok)), 0);
  t.is(thresholdExitCode(checkThresholds({ ...none, maxP99Ms: 0.5 }, ok)), 3);
  t.is(thresholdExitCode(checkThresholds({ ...none, maxErrors: 0 }, { ...ok, errors: 1 })), 4);
  t.is(thresholdExitCode(checkThresholds({ ...none, maxErrors: 1 }, { ...ok, errors: 1 })), 0);
  t.is(thresholdExitCode(checkThresholds({ ...none, minRate: 1001 }, ok)), 5);
  t.is(thresholdExitCode(checkThresholds({ ...none, minRate: 1000 }, ok)), 0);
  t.is(thresholdExitCode(checkThresholds({ maxP99Ms: 10, maxErrors: 0, minRate: 2000 }, { ...ok, errors: 3 })), 4);
});

test('a thread at 95% of a core for a whole second is reported saturated, once', (t) => {
  const run = new RunAggregator(1);
  const warnings: Array<[number, number]> = [];
  run.onSaturated = (thread, percent) => warnings.push([thread, percent]);
  run.addBin(bin(0, 0, 10, 100, 500_000));
  run.addBin(bin(0, 1, 10, 100, 950_000));
  run.addBin(bin(0, 2, 10, 100, 990_000));
  t.deepEqual(warnings, [[0, 95]]);
  run.addResult(result(0, 3, { cpuMicros: 2_440_000, wallMs: 3000 }));
  t.deepEqual(run.generators(), [{ thread: 0, cpuPercent: 81.3, cpuMs: 2440, peakCpuPercent: 99, saturated: true }]);
});
