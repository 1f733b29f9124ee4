/** Turns a finished run's aggregate into the BenchReport (the --json object). */
import type { BenchOptions } from './bench-options.ts';
import { runDurationMs } from './bench-options.ts';
import { BENCH_REPORT_SCHEMA, latencyMs } from './bench-report.ts';
import type { BenchReport, TimelineEntry } from './bench-report.ts';
import type { RunAggregator } from './run-aggregator.ts';
import { judgeReport } from './thresholds.ts';
import type { Thresholds } from './thresholds.ts';

export interface RunFacts {
  options: BenchOptions;
  url: string;
  embeddedServer: boolean;
  startedAtEpochMs: number;
  /** Wall time of the whole run, used for rates when no reply arrived at all. */
  wallMs: number;
  thresholds: Thresholds;
}

/**
 * The timeline without the seconds after the run in which nothing happened but closing
 * handshakes, and with the last second's span cut where the run ended (`endMs` after its start).
 */
function finalTimeline(timeline: TimelineEntry[], runMs: number, endMs: number): TimelineEntry[] {
  let end = timeline.length;
  const idle = (e: TimelineEntry): boolean => e.sent === 0 && e.received === 0 && e.opened === 0 && e.failed === 0;
  while (end > 0 && timeline[end - 1]!.second * 1000 >= runMs && idle(timeline[end - 1]!)) end--;
  return timeline.slice(0, end).map((e) => ({ ...e, spanMs: Math.round(Math.min(1000, Math.max(1, endMs - e.second * 1000))) }));
}

export function buildReport(run: RunAggregator, facts: RunFacts): BenchReport {
  const { options } = facts;
  const span = run.firstSendEpochMs > 0 && run.lastReplyEpochMs > run.firstSendEpochMs
    ? run.lastReplyEpochMs - run.firstSendEpochMs
    : facts.wallMs;
  const seconds = span / 1000;
  const perSecond = (count: number): number => (seconds > 0 ? Math.round((count / seconds) * 10) / 10 : 0);
  const roundTrip = latencyMs(run.roundTrip.summary());
  const errorsTotal = Object.values(run.errorsByKind).reduce((a, b) => a + b, 0);
  const receivedPerSecond = perSecond(run.received);
  const runSeconds = Math.min(facts.wallMs, runDurationMs(options) ?? facts.wallMs) / 1000;
  const generators = run.generators();
  const warnings: string[] = [];
  for (const generator of generators) {
    if (generator.saturated) {
      warnings.push(
        `generator thread ${generator.thread} was saturated (${generator.peakCpuPercent}% of a core over a second): ` +
          'the figures may measure the generator rather than the server; add --workers',
      );
    }
  }
  if (run.received < run.sent) warnings.push(`${run.sent - run.received} messages got no reply`);
  const openModel = options.rate !== undefined;
  const report: BenchReport = {
    schema: BENCH_REPORT_SCHEMA,
    target: { url: facts.url, embeddedServer: facts.embeddedServer },
    options: {
      mode: options.mode,
      stages: options.stages ?? null,
      oneMessage: options.oneMessage,
      pingIntervalMs: options.pingIntervalMs ?? null,
      connections: options.connections,
      connectRate: options.connectRate ?? null,
      durationMs: options.durationMs ?? null,
      messages: options.messages ?? null,
      size: options.template === undefined ? options.size : options.template.byteLength,
      binary: options.binary,
      payload: options.template === undefined ? 'generated' : 'template',
      model: openModel ? 'open' : 'closed',
      pipeline: options.pipeline,
      rate: options.rate ?? null,
      correction: openModel && options.correction,
      workers: options.workers,
      timeoutMs: options.timeoutMs,
    },
    startedAt: new Date(facts.startedAtEpochMs).toISOString(),
    durationMs: Math.round(span * 10) / 10,
    messages: {
      sent: run.sent,
      received: run.received,
      unanswered: Math.max(0, run.sent - run.received),
      sentPerSecond: perSecond(run.sent),
      receivedPerSecond,
    },
    bytes: {
      sent: run.bytesSent,
      received: run.bytesReceived,
      sentPerSecond: perSecond(run.bytesSent),
      receivedPerSecond: perSecond(run.bytesReceived),
    },
    latencyMs: {
      roundTrip,
      handshake: latencyMs(run.handshake.summary()),
      correctedForCoordinatedOmission: openModel && options.correction,
    },
    histograms: { roundTrip: run.roundTrip.encode(), handshake: run.handshake.encode() },
    connections: {
      attempted: run.attempted,
      opened: run.opened,
      failed: run.failed,
      openedPerSecond: runSeconds > 0 ? Math.round((run.opened / runSeconds) * 10) / 10 : 0,
      peakOpen: run.peakOpen,
      firstFailureAtMs: run.firstFailureEpochMs === 0 ? null : Math.max(0, Math.round(run.firstFailureEpochMs - facts.startedAtEpochMs)),
    },
    closeCodes: { ...run.closeCodes },
    errors: { total: errorsTotal, byKind: { ...run.errorsByKind }, samples: [...run.errorSamples] },
    timeline: finalTimeline(
      run.timeline,
      runDurationMs(options) ?? facts.wallMs,
      Math.max(runDurationMs(options) ?? 0, run.lastReplyEpochMs - facts.startedAtEpochMs),
    ),
    generators,
    latencyDistribution: run.roundTrip.distribution().map((point) => ({ percentile: point.percentile, ms: point.micros / 1000 })),
    warnings,
    thresholds: [],
    exitCode: 0,
  };
  judgeReport(report, facts.thresholds);
  return report;
}
